// --check looks up every owner before saying "passed", for secret files as for templates,
// and writes nothing either way.
import { existsSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsPid1 } from '../support/pid1';

describe('init --check and secret files', () => {
  it('fails on an owner /etc/passwd lacks, as a real start would, and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-check-'));
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
    const dir = mkdtempSync(join(tmpdir(), 'sesame-check-'));
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
