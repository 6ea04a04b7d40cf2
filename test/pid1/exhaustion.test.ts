// Running out of descriptors (ulimit -n) or processes (ulimit -u) while starting services:
// one line naming the limit, exit 71 (EX_OSERR), and the services already started are
// stopped in order, whether init is PID 1 or not. Never Node's stack trace and exit 1.
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { INIT as BUILT } from '../support/paths';
import { type Finished, runAsPid1 } from '../support/pid1';

// A copy of /init that the limited uid can execute: a checkout may sit in a directory only
// root can enter (a fresh clone under mktemp -d, mode 0700).
const shared = mkdtempSync(join(tmpdir(), 'sesame-exhaustion-init-'));
chmodSync(shared, 0o755);
const INIT = join(shared, 'init');
copyFileSync(BUILT, INIT);
chmodSync(INIT, 0o755);
process.on('exit', () => rmSync(shared, { recursive: true, force: true }));

// A uid no other test runs as: RLIMIT_NPROC (ulimit -u) counts every process of the uid on
// the machine, and other test files run processes as nobody (65534) at the same time, which
// could use up the 30 before init had started its own threads.
const LIMITED_USER = ['setpriv', '--reuid=64123', '--regid=64123', '--clear-groups'];

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A config of `n` services that each sleep with a token no other process has in its argv. */
function manyServices(n: number, token: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-exhaustion-'));
  dirs.push(dir);
  chmodSync(dir, 0o755); // readable by the non-root init below
  const file = join(dir, 'sesame.yaml');
  const lines = ['services:'];
  // A list command is exec'd as is: no shell, so the token is the sleeper's own argv.
  for (let i = 0; i < n; i++) lines.push(`  s${i}:`, `    command: [sleep, "${token}"]`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  chmodSync(file, 0o644);
  return file;
}

/** Processes whose argv has `token`: what a failed start left behind. */
function survivors(token: string): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes(token);
    } catch {
      return false;
    }
  }).map(Number);
}

/** Init (not PID 1) under a shell that set a limit first; resolves when init has exited. */
function runNotPid1(limit: string, config: string, wrap: string[] = []): Promise<Finished> {
  const child = spawn(wrap[0] ?? 'bash', [...wrap.slice(1), ...(wrap.length ? ['bash'] : []), '-c', `${limit}; exec "$0" -c "$1"`, INIT, config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

function expectOrderlyStop(r: Finished, pattern: RegExp): void {
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('sesame: error:'));
  expect(errors, `stderr:\n${r.stderr}\nexit: ${r.code} ${r.signal}`).toHaveLength(1);
  expect(errors[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at |Node\.js v|internal error/m);
  // The ones that had started were stopped by init, not left to die with it.
  expect(r.stderr).toMatch(/^sesame: s0: stopping \(SIGTERM/m);
  expect(r.stderr).toMatch(/^sesame: s0: killed by SIGTERM/m);
  expect(r.code).toBe(71);
}

const EMFILE = /^sesame: error: s\d+: starting sleep: (pipe|open) failed: EMFILE: too many open files, init's limit \(ulimit -n\) is reached$/;
const EAGAIN = /^sesame: error: s\d+: starting sleep: fork failed: EAGAIN: no more processes, init's limit \(ulimit -u\) or the container's pids limit is reached$/;

describe('exhaustion while starting services', () => {
  it('300 services at ulimit -n 256, as PID 1: one line, 71, the started ones stopped', async () => {
    const token = `9871.${process.pid}1`;
    const r = await runAsPid1(['-c', manyServices(300, token)], { init: INIT, wrap: (argv) => ['unshare', '--pid', '--fork', '--mount-proc', 'bash', '-c', 'ulimit -n 256; exec "$@"', 'bash', ...argv] });
    expectOrderlyStop(r, EMFILE);
  });

  it('300 services at ulimit -n 256, not PID 1: nothing is left running', async () => {
    const token = `9871.${process.pid}2`;
    const r = await runNotPid1('ulimit -n 256', manyServices(300, token));
    expectOrderlyStop(r, EMFILE);
    expect(survivors(token)).toEqual([]);
  });

  it('fork failing (ulimit -u, as a non-root user), as PID 1: one line, 71, the started ones stopped', async () => {
    const token = `9871.${process.pid}3`;
    const r = await runAsPid1(['-c', manyServices(60, token)], { init: INIT,
      wrap: (argv) => ['unshare', '--pid', '--fork', '--mount-proc', ...LIMITED_USER, 'bash', '-c', 'ulimit -u 30; exec "$@"', 'bash', ...argv],
    });
    expectOrderlyStop(r, EAGAIN);
  });

  it('fork failing (ulimit -u, as a non-root user), not PID 1: nothing is left running', async () => {
    const token = `9871.${process.pid}4`;
    const r = await runNotPid1('ulimit -u 30', manyServices(60, token), LIMITED_USER);
    expectOrderlyStop(r, EAGAIN);
    expect(survivors(token)).toEqual([]);
  });
});
