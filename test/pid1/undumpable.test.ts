// Init holds every secret in clear: it is made undumpable (PR_SET_DUMPABLE 0) when the
// native helper loads, so that a crash writes no core file, and no process of the same user
// can read /proc/1/mem or /proc/1/environ. Its own environ overwrite still works, also when
// init is not root.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { INIT } from '../support/paths';
import { childrenOf, hostChildOf, runAsPid1, startAsPid1 } from '../support/pid1';

const CANARY = 's.canary-undumpable-4f1c';
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// A core file is written where core_pattern says; this test reads the plain-file form only.
const corePattern = existsSync('/proc/sys/kernel/core_pattern') ? readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim() : '|';
const coresInCwd = !corePattern.startsWith('|') && !corePattern.includes('/');

describe('init is undumpable', () => {
  it('a process of the same (non-root) user cannot read /proc/1/mem or /proc/1/environ', async () => {
    const r = await runAsPid1(['--', 'sh', '-c', 'id -u; head -c 1 /proc/1/mem >/dev/null && echo mem readable; cat /proc/1/environ >/dev/null && echo environ readable; true'], {
      env: { ...process.env, VAULT_TOKEN: CANARY },
      wrap: (argv) => ['unshare', '--pid', '--fork', '--mount-proc', ...NOBODY, ...argv],
    });
    expect(r.stdout).toBe('65534\n');
    expect(r.stderr).toMatch(/\/proc\/1\/mem.*Permission denied/);
    expect(r.stderr).toMatch(/\/proc\/1\/environ.*Permission denied/);
    expect(r.stderr).not.toMatch(/could not clear credentials/);
    expect(r.code).toBe(0);
  });

  it('a non-root init still clears its credentials from /proc/1/environ', async () => {
    const init = startAsPid1(['--', 'sh', '-c', 'echo up; exec sleep 100'], {
      env: { ...process.env, VAULT_TOKEN: CANARY },
      wrap: (argv) => ['unshare', '--pid', '--fork', '--mount-proc', ...NOBODY, ...argv],
    });
    try {
      await init.waitFor(/up/);
      // Root (this test) may read it; what it shows is the overwritten block.
      const environ = readFileSync(`/proc/${await init.initPid()}/environ`, 'latin1');
      expect(environ).toMatch(/PATH=/);
      expect(environ).not.toContain(CANARY);
      expect(environ).not.toContain('VAULT_TOKEN');
    } finally {
      await init.signal('SIGTERM');
    }
    const r = await init.done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(143);
  });

  it.skipIf(!coresInCwd)(`SIGABRT writes no core file (core_pattern "${corePattern}" names a file in the working directory)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-core-'));
    dirs.push(dir);
    // Not PID 1: a PID 1 ignores SIGABRT without a handler. 20 MB of core would show it.
    const shell = spawn('sh', ['-c', 'ulimit -c 20000; cd "$1"; exec "$2" -- sleep 100', 'sh', dir, INIT], {
      env: { ...process.env, VAULT_TOKEN: CANARY }, stdio: 'ignore',
    });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => shell.on('exit', (_code, signal) => resolve(signal)));
    const pid = shell.pid as number;
    let sleeper: number | undefined;
    try {
      sleeper = await hostChildOf(pid);
      process.kill(pid, 'SIGABRT');
      expect(await ended).toBe('SIGABRT');
    } finally {
      for (const child of sleeper ? [sleeper, ...childrenOf(pid)] : []) { try { process.kill(child, 'SIGKILL'); } catch { /* gone */ } }
    }
    const cores = readdirSync(dir).filter((f) => f.startsWith(corePattern.replace(/%.*/, '')));
    expect(cores.map((f) => `${f}: ${statSync(join(dir, f)).size} bytes`)).toEqual([]);
  });
});
