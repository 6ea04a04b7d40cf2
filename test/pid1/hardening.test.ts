// Nothing in the container's environment or signals can run code inside PID 1.
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp';
import { INIT, program } from '../support/paths';
import { runAsPid1, startAsPid1 } from '../support/pid1';

/** Socket inodes listening on TCP port 9229 (the inspector's) in this network namespace. */
function inspectorSockets(): Set<string> {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const rows = existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(1) : [];
    // local_address is HEX_IP:HEX_PORT, st 0A is LISTEN, inode is the 10th column; 9229 = 0x240D
    for (const row of rows) {
      const cols = row.trim().split(/\s+/);
      if (cols[1]?.endsWith(':240D') && cols[3] === '0A') inodes.add(cols[9]);
    }
  }
  return inodes;
}

/** Does process `pid` hold a socket listening on 9229? */
function holdsInspector(pid: number): boolean {
  const listening = inspectorSockets();
  return readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      const m = readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
      return !!m && listening.has(m[1]);
    } catch {
      return false;
    }
  });
}

describe('hardening', () => {
  it('never opens the inspector on SIGUSR1, even when it arrives during startup', async () => {
    // -r USR1:0: init drops them instead of forwarding, so that none can kill the recorder
    // between its exec and its sigprocmask (it would then die of SIGUSR1, correctly).
    const init = startAsPid1(['-r', 'USR1:0', '--', program('sigrecord')]);
    const pid = await init.initPid();
    try {
      // Flood SIGUSR1 from the moment unshare's child has become init until the child is up.
      let sent = 0;
      const until = Date.now() + 3000;
      while (!/ready/.test(init.stdout()) && Date.now() < until) {
        try {
          // Only once unshare's child has exec'd init: before that, SIGUSR1 would kill unshare.
          if (readlinkSync(`/proc/${pid}/exe`) === INIT) { process.kill(pid, 'SIGUSR1'); sent++; }
        } catch { break; }
        await new Promise((r) => setTimeout(r, 1));
      }
      expect(sent).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 200));
      expect(holdsInspector(pid)).toBe(false);
    } finally {
      await init.signal('SIGTERM').catch(() => {});
    }
    const r = await init.done;
    expect(r.stderr).not.toMatch(/Debugger/);
    expect(r.code).toBe(0);
  });

  it('ignores NODE_OPTIONS, so --require cannot run code as PID 1', async () => {
    const dir = tempDir('sesame-');
    const marker = join(dir, 'injected');
    const payload = join(dir, 'payload.js');
    writeFileSync(payload, `require('fs').writeFileSync(${JSON.stringify(marker)}, 'pwned')`);
    const r = await runAsPid1(['--', 'true'], { env: { ...process.env, NODE_OPTIONS: `--require ${payload} --inspect=127.0.0.1:9339` } });
    expect(r.code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(r.stderr).toBe('');
  });

  it('ignores NODE_OPTIONS-like flags placed before the command on its command line', async () => {
    const r = await runAsPid1(['--inspect', 'true']);
    expect(r.code).toBe(64);
    expect(r.stderr).toBe("sesame: error: unknown option '--inspect' (see init --help)\n");
  });
});
