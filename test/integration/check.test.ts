// --check looks up every owner before saying "passed", for secret files as for templates,
// and writes nothing either way.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp';
import { runAsPid1 } from '../support/pid1';

describe('init --check and secret files', () => {
  it('fails on an owner /etc/passwd lacks, as a real start would, and writes nothing', async () => {
    const dir = tempDir('sesame-check-');
    writeFileSync(join(dir, 'pw'), 'hunter2\n');
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `secrets:\n  - ref: file:${dir}/pw\n    file: ${dir}/out/pw\n    owner: no-such-user-zz\n`);
    const check = await runAsPid1(['--check', '--config', config], { env: { PATH: process.env.PATH } });
    expect(check.code).toBe(67);
    expect(check.stderr).toBe(`sesame: error: ${config}: secrets[0]: owner "no-such-user-zz" is not in /etc/passwd\n`);
    expect(check.stdout).toBe('');
    const start = await runAsPid1(['--config', config, '--', 'true'], { env: { PATH: process.env.PATH } });
    expect(start.code).toBe(67);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('passes and writes nothing when everything resolves', async () => {
    const dir = tempDir('sesame-check-');
    writeFileSync(join(dir, 'pw'), 'hunter2\n');
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `secrets:\n  - ref: file:${dir}/pw\n    file: ${dir}/out/pw\n    owner: root\n`);
    const r = await runAsPid1(['--check', '--config', config], { env: { PATH: process.env.PATH } });
    expect(r.stdout).toBe('sesame: check passed: 1 secret reference(s) resolved, 0 template(s) rendered\n');
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('counts an optional secret that is missing apart from the resolved ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-check-'));
    try {
      writeFileSync(join(dir, 'pw'), 'hunter2\n');
      const env = { PATH: process.env.PATH, A: `file:${dir}/pw`, B: `file:${dir}/absent`, SESAME_OPTIONAL_SECRETS: 'B' };
      const r = await runAsPid1(['--check'], { env });
      expect(r.stdout).toBe('sesame: check passed: 1 secret reference(s) resolved, 1 optional one(s) missing, 0 template(s) rendered\n');
      expect(r.stderr).toContain('(optional: B left unset)');
      expect(r.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('init --check and commands (issue 13): looked up as the child would, 127 or 126 as the start would end', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-check-cmd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  mkdirSync(join(dir, 'bin'), { mode: 0o755 });
  mkdirSync(join(dir, 'app'), { mode: 0o755 });
  writeFileSync(join(dir, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'app', 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(dir, 'bin', 'rootonly'), '#!/bin/sh\n', { mode: 0o700 });
  writeFileSync(join(dir, 'bin', 'plain'), 'text\n', { mode: 0o644 });
  chmodSync(join(dir, 'bin', 'rootonly'), 0o700);
  chmodSync(join(dir, 'bin', 'plain'), 0o644);
  let n = 0;
  const config = (yaml: string) => {
    const path = join(dir, `c${++n}.yaml`);
    writeFileSync(path, yaml);
    return path;
  };
  const check = (args: string[], env: NodeJS.ProcessEnv = {}) => runAsPid1(['--check', ...args], { env: { PATH, ...env } });

  it('the command: nosuchprog and /nonexistent/x are 127, a file that is not executable 126', async () => {
    const missing = await check(['--', 'nosuchprog', 'arg']);
    expect(missing.stderr).toBe(`sesame: error: nosuchprog: command not found in PATH ${PATH}\n`);
    expect(missing.stdout).toBe('');
    expect(missing.code).toBe(127);
    const absolute = await check(['--', '/nonexistent/x']);
    expect(absolute.stderr).toBe('sesame: error: /nonexistent/x: no such file\n');
    expect(absolute.code).toBe(127);
    const plain = await check(['--', join(dir, 'bin', 'plain')]);
    expect(plain.stderr).toBe(`sesame: error: ${join(dir, 'bin', 'plain')}: permission denied: ${join(dir, 'bin', 'plain')} is not executable by uid 0\n`);
    expect(plain.code).toBe(126);
    const found = await check(['--', 'tool'], { PATH: `${join(dir, 'bin')}:${PATH}` });
    expect(found.stderr).toBe('');
    expect(found.code).toBe(0);
  });

  it('services: each with its own PATH, working_dir and user; the key path named', async () => {
    const ok = config([
      'services:',
      `  a: { command: [tool], environment: { PATH: "${join(dir, 'bin')}" } }`,
      `  b: { command: [./run.sh], working_dir: ${join(dir, 'app')} }`,
      `  c: { command: "exec tool", oneshot: true }`,
      `  d: { command: [${join(dir, 'bin', 'rootonly')}], healthcheck: { test: [CMD, true] } }`,
      '',
    ].join('\n'));
    const passed = await check(['--config', ok]);
    expect(passed.stderr).toBe('');
    expect(passed.stdout).toBe('sesame: check passed: 0 secret reference(s) resolved, 0 template(s) rendered, 4 service(s) checked\n');
    expect(passed.code).toBe(0);

    const notInItsPath = config(`services:\n  a: { command: [tool], environment: { PATH: /usr/bin } }\n  b: { command: [nosuchprog] }\n`);
    const r1 = await check(['--config', notInItsPath], { PATH: `${join(dir, 'bin')}:${PATH}` });
    expect(r1.stderr).toBe(`sesame: error: ${notInItsPath}: services.a.command: tool: command not found in PATH /usr/bin\n`);
    expect(r1.code).toBe(127);

    const elsewhere = config(`services:\n  b: { command: [./run.sh], working_dir: ${join(dir, 'bin')} }\n`);
    const r2 = await check(['--config', elsewhere]);
    expect(r2.stderr).toBe(`sesame: error: ${elsewhere}: services.b.command: ./run.sh: no such file (from ${join(dir, 'bin')})\n`);
    expect(r2.code).toBe(127);

    const asNobody = config(`services:\n  d: { command: [${join(dir, 'bin', 'rootonly')}], user: "65534" }\n`);
    const r3 = await check(['--config', asNobody]);
    expect(r3.stderr).toBe(`sesame: error: ${asNobody}: services.d.command: ${join(dir, 'bin', 'rootonly')}: permission denied: ${join(dir, 'bin', 'rootonly')} is not executable by uid 65534\n`);
    expect(r3.code).toBe(126);

    const probe = config(`services:\n  e: { command: [true], healthcheck: { test: [CMD, nosuchprobe] } }\n`);
    const r4 = await check(['--config', probe]);
    expect(r4.stderr).toBe(`sesame: error: ${probe}: services.e.healthcheck.test: nosuchprobe: command not found in PATH ${PATH}\n`);
    expect(r4.code).toBe(127);

    const withCommand = config(`services:\n  side: { command: [true] }\n`);
    const r5 = await check(['--config', withCommand, '--', 'nosuchprog']);
    expect(r5.stderr).toBe(`sesame: error: nosuchprog: command not found in PATH ${PATH}\n`);
    expect(r5.code).toBe(127);
  });

  it('a working directory the child could not enter: the line and the 78 the start gives, for --workdir and working_dir', async () => {
    const missing = join(dir, 'no-such-dir');
    const r1 = await check(['--workdir', missing, '--', 'true']);
    expect(r1.stderr).toBe(`sesame: error: working directory ${missing}: No such file or directory\n`);
    expect(r1.code).toBe(78);
    const start = await runAsPid1(['--workdir', missing, '--', 'true'], { env: { PATH } });
    expect(start.stderr).toBe(r1.stderr);
    expect(start.code).toBe(78);

    const file = join(dir, 'bin', 'rootonly');
    const r2 = await check(['--workdir', file, '--', 'true']);
    expect(r2.stderr).toBe(`sesame: error: working directory ${file}: Not a directory\n`);
    expect(r2.code).toBe(78);

    const closed = join(dir, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    const svc = config(`services:\n  a: { command: [true], working_dir: ${closed}, user: "65534" }\n  b: { command: [true], working_dir: ${missing} }\n`);
    const r3 = await check(['--config', svc]);
    expect(r3.stderr).toBe(`sesame: error: ${svc}: services.a.working_dir: working directory ${closed}: Permission denied (${closed} cannot be searched by uid 65534)\n`);
    expect(r3.code).toBe(78);
  });
});
