// A SIGTERM that arrives while init is still starting (here: blocked reading a template
// from a FIFO) means the container is being stopped: the child is never started.
import { execFileSync } from 'node:child_process';
import { existsSync, openSync, readdirSync, readlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp';
import { startAsPid1 } from '../support/pid1';

describe('SIGTERM during the start', () => {
  it('stops init before the child starts, with 128+15', async () => {
    const dir = tempDir('sesame-start-');
    const fifo = join(dir, 'slow.liquid');
    execFileSync('mkfifo', [fifo]);
    const marker = join(dir, 'child-ran');
    const init = startAsPid1(['--log-level', 'debug', '--template', `${fifo}:${dir}/out.conf`, '--', 'sh', '-c', `touch ${marker}`]);
    const pid = await init.initPid();
    // Wait until init has the FIFO open: it is then blocked in the start, before the child.
    for (let i = 0; i < 500; i++) {
      const fds = (() => { try { return readdirSync(`/proc/${pid}/fd`); } catch { return []; } })();
      if (fds.some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`) === fifo; } catch { return false; } })) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    process.kill(pid, 'SIGTERM');
    // Now let the read finish: init renders, then sees the SIGTERM before starting anything.
    const w = openSync(fifo, 'w');
    writeSync(w, 'plain text\n');
    closeSync(w);
    const r = await init.done;
    expect(r.code).toBe(143);
    expect(r.stderr).toContain('sesame: SIGTERM received while starting; not starting sh');
    expect(r.stderr).not.toMatch(/started sh as pid/); // init's own word that it never spawned
    expect(existsSync(marker)).toBe(false);
  });
});
