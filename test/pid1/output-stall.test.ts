// A reader that stops reading init's stdout (a stalled log collector, a terminal stopped
// with ^S) must not stop PID 1: with services, init relays their output, and a blocking
// write would leave it deaf to SIGTERM, reaping nothing, until the reader came back. The
// built init as PID 1, its stdout a socket (Node's pipes are socketpairs) or a FIFO (what
// containerd and Docker give a container) that nobody reads.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAsPid1, type Running } from '../support/pid1';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const dirs: string[] = [];
const inits: Running[] = [];
afterEach(() => {
  for (const init of inits.splice(0)) if (init.process.exitCode === null && init.process.signalCode === null) init.process.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-stall-'));
  dirs.push(dir);
  return dir;
}

/** A config with one service that writes `bytes` of numbered lines, then waits. */
function noisy(dir: string, bytes: number): string {
  const config = join(dir, 'sesame.yaml');
  const script = `seq 1 10000000 | head -c ${bytes}; echo; echo done-writing >&2; exec sleep 1000`;
  writeFileSync(config, `services:\n  noisy:\n    command: ["/bin/sh", "-c", "${script}"]\n`);
  return config;
}

const until = async (ready: () => boolean, what: string, init: Running, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}; stderr: ${init.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('a stdout nobody reads', () => {
  it('a socket: SIGTERM still stops the service and init exits, with the reader still stalled', { timeout: 60_000 }, async () => {
    const dir = scratch();
    const init = startAsPid1(['-c', noisy(dir, 2_000_000)], { env: { PATH } });
    inits.push(init);
    init.process.stdout?.pause();
    await until(() => /done-writing/.test(init.stderr()), 'the service has written everything', init);
    await init.signal('SIGTERM');
    // The reader never resumes: init has to end on its own (output still held is given up
    // after a short flush), not when someone reads again.
    const done = await init.done;
    expect(done.code).toBe(143);
    expect(done.stderr).toMatch(/^sesame: noisy: killed by SIGTERM/m);
  });

  it('a FIFO, as a container runtime gives: the same, and the output that was read arrives whole and in order', { timeout: 60_000 }, async () => {
    const dir = scratch();
    const fifo = join(dir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const init = startAsPid1(['-c', noisy(dir, 2_000_000)], {
        env: { PATH },
        wrap: (argv) => ['/bin/sh', '-c', `exec "$@" > ${fifo}`, 'sh', 'unshare', '--pid', '--fork', '--mount-proc', ...argv],
      });
      inits.push(init);
      await until(() => /done-writing/.test(init.stderr()), 'the service has written everything', init);
      // Nothing read yet: the pipe holds 64 KiB, init the rest. Read some, then stop again.
      const chunks: Buffer[] = [];
      /** Reads until `max` bytes came, or nothing came for `idleMs`. */
      const readSome = async (max: number, idleMs: number) => {
        let got = 0;
        let last = Date.now();
        const buf = Buffer.alloc(65536);
        while (got < max && Date.now() - last < idleMs) {
          let n = 0;
          try {
            n = readSync(reader, buf, 0, buf.length, null);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
          }
          if (n > 0) {
            chunks.push(Buffer.from(buf.subarray(0, n)));
            got += n;
            last = Date.now();
          } else {
            await new Promise((r) => setTimeout(r, 10));
          }
        }
        return got;
      };
      expect(await readSome(500_000, 5000)).toBeGreaterThanOrEqual(500_000);
      await init.signal('SIGTERM');
      const done = await init.done;
      expect(done.code).toBe(143);
      // What init could still write before it gave up, then what it held: in order, no line cut.
      await readSome(Infinity, 300);
      const lines = Buffer.concat(chunks).toString().split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(50_000);
      lines.slice(0, -1).forEach((line, i) => { if (line !== String(i + 1)) throw new Error(`line ${i + 1} is ${line}`); });
    } finally {
      closeSync(reader);
    }
  });

  it('past what init holds for a stalled reader, output is dropped and counted in one line once it reads again', { timeout: 60_000 }, async () => {
    const dir = scratch();
    const init = startAsPid1(['-c', noisy(dir, 9_000_000)], { env: { PATH } });
    inits.push(init);
    init.process.stdout?.pause();
    await until(() => /done-writing/.test(init.stderr()), 'the service has written everything', init);
    init.process.stdout?.resume();
    await until(() => /bytes of output were dropped/.test(init.stdout()), 'the note', init);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(143);
    const note = /^sesame: warning: (\d+) bytes of output were dropped: stdout was not being read$/m.exec(done.stdout);
    expect(Number(note?.[1])).toBeGreaterThan(3_000_000);
    // Before the note, the start of the output, in order; after it, the rest of it, in order:
    // one gap, where the note is.
    const [before, after] = done.stdout.split(note?.[0] ?? '');
    const kept = before.split('\n').filter(Boolean);
    kept.slice(0, -1).forEach((line, i) => { if (line !== String(i + 1)) throw new Error(`line ${i + 1} is ${line}`); });
    const rest = after.split('\n').filter(Boolean).map(Number);
    rest.slice(1, -1).forEach((n, i) => { if (n !== rest[1] + i) throw new Error(`after the gap, ${rest[1] + i} is ${n}`); });
  });

  it('a slow reader gets everything, in order, once it reads again', { timeout: 60_000 }, async () => {
    const dir = scratch();
    const init = startAsPid1(['-c', noisy(dir, 3_000_000)], { env: { PATH } });
    inits.push(init);
    init.process.stdout?.pause();
    await until(() => /done-writing/.test(init.stderr()), 'the service has written everything', init);
    init.process.stdout?.resume();
    await until(() => init.stdout().length >= 3_000_000, 'all of it read', init);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(143);
    const lines = done.stdout.split('\n').filter(Boolean);
    // The service's lines (one service: no prefix), none lost, none out of order.
    expect(lines.length).toBeGreaterThan(400_000);
    lines.slice(0, -1).forEach((line, i) => { if (line !== String(i + 1)) throw new Error(`line ${i + 1} is ${line}`); });
  });
});
