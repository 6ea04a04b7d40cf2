// The exit code of init is the child's: its code, 128+N for death by signal N, and the
// shell's 127/126 when the command cannot be run; init's own failures have their own codes.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAsPid1 } from '../support/pid1';

describe('exit code as PID 1', () => {
  it.each([0, 3, 255])('passes exit code %i through', async (code) => {
    const r = await runAsPid1(['--', 'sh', '-c', `exit ${code}`]);
    expect(r.code).toBe(code);
    expect(r.stderr).toBe('');
  });

  it.each([['TERM', 15], ['KILL', 9], ['SEGV', 11]])('returns 128+N when the child dies of SIG%s', async (name, n) => {
    const r = await runAsPid1(['--', 'sh', '-c', `kill -${name} $$`]);
    expect(r.code).toBe(128 + n);
  });

  it('returns 127 with one line when the command is not found', async () => {
    const r = await runAsPid1(['--', 'no-such-command-xyz', 'arg']);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('sesame: error: no-such-command-xyz: command not found\n');
  });

  it('returns 127 for a missing path', async () => {
    const r = await runAsPid1(['/nonexistent/bin/app']);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('sesame: error: /nonexistent/bin/app: no such file\n');
  });

  it('returns 126 when the command is not executable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-'));
    const file = join(dir, 'script');
    writeFileSync(file, '#!/bin/sh\necho hi\n');
    chmodSync(file, 0o644);
    const r = await runAsPid1([file]);
    expect(r.code).toBe(126);
    expect(r.stderr).toBe(`sesame: error: ${file}: permission denied (not executable, or on a noexec mount)\n`);
  });

  it('finds a command that is only in a later PATH entry, past a non-executable one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-'));
    const [a, b] = [join(dir, 'a'), join(dir, 'b')];
    for (const d of [a, b]) mkdirSync(d);
    writeFileSync(join(a, 'tool'), '#!/bin/sh\necho wrong\n', { mode: 0o644 });
    writeFileSync(join(b, 'tool'), '#!/bin/sh\necho right\n', { mode: 0o755 });
    const r = await runAsPid1(['tool'], { env: { ...process.env, PATH: `${a}:${b}:/usr/bin:/bin` } });
    expect(r.stdout).toBe('right\n');
    expect(r.code).toBe(0);
  });

  it('runs a script without #! through /bin/sh, as execvp does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-'));
    const file = join(dir, 'plain');
    writeFileSync(file, 'echo "plain script $1"\nexit 9\n', { mode: 0o755 });
    const r = await runAsPid1([file, 'arg1']);
    expect(r.stdout).toBe('plain script arg1\n');
    expect(r.code).toBe(9);
  });

  it('returns 78 with one line when the working directory does not exist', async () => {
    const r = await runAsPid1(['--workdir', '/nonexistent-dir', 'true']);
    expect(r.code).toBe(78);
    expect(r.stderr).toBe('sesame: error: working directory /nonexistent-dir: No such file or directory\n');
  });
});

describe('command line', () => {
  it('passes arguments that look like options through verbatim after the command', async () => {
    const r = await runAsPid1(['sh', '-c', 'printf "[%s]" "$@"', 'sh', '--help', '-g', '--', '-t', '']);
    expect(r.stdout).toBe('[--help][-g][--][-t][]');
    expect(r.code).toBe(0);
  });

  it('accepts -- before the command', async () => {
    const r = await runAsPid1(['-t', '2s', '--', 'printf', '%s|', '--version', '-t']);
    expect(r.stdout).toBe('--version|-t|');
  });

  it.each([
    [['--bogus', 'true'], "sesame: error: unknown option '--bogus' (see init --help)\n"],
    [[], 'sesame: error: no command given (usage: init [options] [--] command [args...], or services in a --config file)\n'],
    [['-t', 'soon', 'true'], 'sesame: error: --grace-period: "soon" is not a duration (e.g. 10s, 500ms, 1m30s, or a number of seconds)\n'],
    [['-r', 'TERM', 'true'], 'sesame: error: --rewrite: "TERM" is not FROM:TO (e.g. TERM:QUIT or 15:3)\n'],
    [['-r', 'TERM:BOGUS', 'true'], 'sesame: error: --rewrite: unknown signal "BOGUS" (expected a name like TERM or a number like 15)\n'],
    [['--user', '', 'true'], 'sesame: error: --user: must not be empty\n'],
  ])('rejects %j with exit 64 and one line', async (args, line) => {
    const r = await runAsPid1(args);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe(line);
    expect(r.stdout).toBe('');
  });

  it('names the environment variable whose value is wrong', async () => {
    const r = await runAsPid1(['true'], { env: { ...process.env, SESAME_GRACE_PERIOD: 'ten' } });
    expect(r.code).toBe(64);
    expect(r.stderr).toBe('sesame: error: SESAME_GRACE_PERIOD: "ten" is not a duration (e.g. 10s, 500ms, 1m30s, or a number of seconds)\n');
  });

  it('prints --version and --help on stdout and exits 0', async () => {
    const v = await runAsPid1(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^sesame \d+\.\d+\.\d+\nnode 24\.\d+\.\d+\n(\S+ \S+ \(Debian package; its libraries are inside this file\)\n){3}$/);
    const h = await runAsPid1(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('Usage: init [options] [--] command [args...]');
    expect(h.stdout).toContain('SESAME_GRACE_PERIOD');
  });
});

describe('output to a closed pipe', () => {
  it('prints --help into a pipe nobody reads without an error (init --help | true)', async () => {
    // `true` exits at once, so init's write meets EPIPE: that is not an internal error.
    const r = await runAsPid1([], { wrap: (argv) => ['sh', '-c', '"$@" --help | true', 'sh', argv[0]] });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
