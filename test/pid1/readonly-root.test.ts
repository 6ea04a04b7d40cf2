// A read-only root whose writable mounts are all noexec tmpfs (`docker run --read-only
// --tmpfs /tmp --tmpfs /run`): the embedded addon cannot be dlopen'ed from any of them.
// Without the sidecar /init.node init says so once and degrades (orphans stay zombies);
// with it, or with one exec-capable tmpfs, it reaps as usual.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { program } from '../support/paths';
import { runAsPid1 } from '../support/pid1';
import { buildRootfs, readOnlyRoot, type Rootfs } from '../support/rootfs';

const ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
const PROGRAMS = {
  '/bin/lonely': '/bin/dash', // a shell under a name to find its zombie by in /proc
  '/bin/setsid': '/usr/bin/setsid',
  '/bin/sleep': '/bin/sleep',
  '/bin/orphans': program('orphans'),
};

const WARNING = 'sesame: warning: native helper not loaded (/dev/shm: noexec; /run: noexec; /tmp: noexec): '
  + 'orphans will not be reaped, the child gets no terminal job control, --user sets no supplementary groups, '
  + 'SIGUSR1 is not forwarded; ship /init.node or mount an exec-capable tmpfs, e.g. --tmpfs /run:exec (see docs/images.md)\n';

/**
 * Starts an orphan: `sh -c "exit 0"` under another name, whose parent (a command
 * substitution's subshell) is gone at once, so it is re-parented to PID 1. With `setsid`
 * it runs in a session of its own, outside the child's process group. Then waits (bounded)
 * until it has exited, and 0.2 s later prints "orphan: gone" if it was reaped, or
 * "orphan: Z ppid 1" if it is still a zombie of PID 1.
 */
const orphanScript = (setsid: boolean) => [
  // The orphan outlives the subshell that starts it by a moment, so it is always re-parented
  // to init before it exits (exiting at once, the subshell could sometimes reap it itself).
  `p=$(${setsid ? '/bin/setsid ' : ''}/bin/lonely -c "/bin/sleep 0.1" </dev/null >/dev/null 2>&1 & echo $!)`,
  'state() { { read -r l < "/proc/$p/stat"; } 2>/dev/null || { s=gone; return; }; set -- ${l##*) }; s="$1 ppid $2"; }',
  'i=0; while state; case "$s" in gone|Z*) false ;; *) true ;; esac; do i=$((i+1)); [ $i -lt 100000 ] || break; done',
  '/bin/sleep 0.2',
  'state; echo "orphan: $s"',
].join('\n');

/** Prints any addon copy init left behind in the tmpfs mounts. */
const LEFTOVERS = 'for f in /dev/shm/.sesame-* /run/.sesame-* /tmp/.sesame-*; do [ -e "$f" ] && echo "left behind: $f"; done';

/** The child: output on both streams, proof the root is read-only, an orphan, exit 4. */
const ORPHAN_ZOMBIE_SCRIPT = [
  'echo out; echo err >&2',
  'if (: > /probe) 2>/dev/null; then echo "root writable"; else echo "root read-only"; fi',
  orphanScript(true),
  LEFTOVERS,
  'exit 4',
].join('\n');

describe('read-only root with noexec tmpfs mounts', () => {
  let bare: Rootfs;
  let withSidecar: Rootfs;

  beforeAll(() => {
    bare = buildRootfs({ programs: PROGRAMS });
    withSidecar = buildRootfs({ programs: PROGRAMS, sidecar: true });
  });
  afterAll(() => {
    bare?.remove();
    withSidecar?.remove();
  });

  it('without the sidecar: one warning, output and exit code pass through, orphans stay zombies', async () => {
    const r = await runAsPid1(['--', '/bin/sh', '-c', ORPHAN_ZOMBIE_SCRIPT], { init: '/init', wrap: readOnlyRoot(bare.dir), env: ENV });
    expect(r.stderr).toBe(`${WARNING}err\n`);
    expect(r.stdout).toBe('out\nroot read-only\norphan: Z ppid 1\n');
    expect(r.code).toBe(4);
  });

  it('with the sidecar /init.node: no warning, and the same orphan is reaped', async () => {
    const r = await runAsPid1(['--', '/bin/sh', '-c', ORPHAN_ZOMBIE_SCRIPT], { init: '/init', wrap: readOnlyRoot(withSidecar.dir), env: ENV });
    expect(r.stderr).toBe('err\n');
    expect(r.stdout).toBe('out\nroot read-only\norphan: gone\n');
    expect(r.code).toBe(4);
  });

  it('with the sidecar /init.node: loads it from the image and reaps every orphan', async () => {
    // The orphans program must be init's own child: it waits for its parent to reap them.
    const r = await runAsPid1(['-l', 'debug', '--', '/bin/orphans', '5', '5'], { init: '/init', wrap: readOnlyRoot(withSidecar.dir), env: ENV });
    expect(r.stdout).toMatch(/^orphans 5 reaped in \d+ us\n$/);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toContain('sesame: debug: native helper loaded from /init.node');
    // Nothing but init's debug lines: no warning, no error.
    expect(lines.filter((l) => !l.startsWith('sesame: debug: '))).toEqual([]);
    expect(r.code).toBe(5);
  });

  it('with an exec-capable /run and no sidecar: extracts the embedded addon there and reaps every orphan', async () => {
    const r = await runAsPid1(['-l', 'debug', '--', '/bin/orphans', '5', '6'], { init: '/init', wrap: readOnlyRoot(bare.dir, ['run']), env: ENV });
    expect(r.stdout).toMatch(/^orphans 5 reaped in \d+ us\n$/);
    const lines = r.stderr.split('\n').filter(Boolean);
    // /dev/shm is tried first and refused (noexec); /run is next since TMPDIR is unset.
    expect(lines).toContain('sesame: debug: native helper loaded from embedded, via /run');
    expect(lines.filter((l) => !l.startsWith('sesame: debug: '))).toEqual([]);
    expect(r.code).toBe(6);
  });

  it('with an exec-capable /run and no sidecar: no warning, the orphan is reaped, no addon copy is left behind', async () => {
    const r = await runAsPid1(['--', '/bin/sh', '-c', ORPHAN_ZOMBIE_SCRIPT], { init: '/init', wrap: readOnlyRoot(bare.dir, ['run']), env: ENV });
    expect(r.stderr).toBe('err\n');
    expect(r.stdout).toBe('out\nroot read-only\norphan: gone\n');
    expect(r.code).toBe(4);
  });

  it('--no-new-privs without the addon: one clear error, exit 71, the child never starts', async () => {
    const r = await runAsPid1(['--no-new-privs', '--', '/bin/sh', '-c', 'echo started; exit 0'], { init: '/init', wrap: readOnlyRoot(bare.dir), env: ENV });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${WARNING}sesame: error: --no-new-privs needs the native helper, which could not be loaded (see the warning above)\n`);
    expect(r.code).toBe(71);
  });

  it('--no-new-privs with the sidecar: the child runs with NoNewPrivs set', async () => {
    const script = 'while read -r k v; do [ "$k" = NoNewPrivs: ] && echo "$k $v"; done < /proc/self/status; exit 0';
    const r = await runAsPid1(['--no-new-privs', '--', '/bin/sh', '-c', script], { init: '/init', wrap: readOnlyRoot(withSidecar.dir), env: ENV });
    expect(r.stdout).toBe('NoNewPrivs: 1\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('without the addon, an unreapable zombie left in the child\'s process group does not hold up init\'s exit', async () => {
    // The same orphan, but still in the child's process group when the child exits. It can
    // never be reaped, so it must not count as "the rest of the group still running".
    const script = `echo out\n${orphanScript(false)}\nexit 4`;
    const r = await runAsPid1(['-t', '2s', '--', '/bin/sh', '-c', script], { init: '/init', wrap: readOnlyRoot(bare.dir), env: ENV });
    expect(r.stdout).toBe('out\norphan: Z ppid 1\n');
    // Only the warning: had the zombie counted as running, init would have waited out the
    // grace period and said so ("still running ... sending SIGKILL").
    expect(r.stderr).toBe(WARNING);
    expect(r.code).toBe(4);
  });

  describe('a non-root init with Docker\'s --tmpfs /run:exec (0755 root)', () => {
    const asUser = (setup: string) => readOnlyRoot(bare.dir, ['run'], { runMode: '0755', setup, userspec: '1000:1000' });

    it('cannot use /run, and the warning names the remedies that work for a non-root user', async () => {
      const r = await runAsPid1(['--', '/bin/sh', '-c', 'exit 3'], { init: '/init', wrap: asUser(':'), env: ENV });
      expect(r.stderr).toBe('sesame: warning: native helper not loaded (/dev/shm: noexec; /run: EACCES; /tmp: noexec; /run/user/1000: ENOENT): '
        + 'orphans will not be reaped, the child gets no terminal job control, --user sets no supplementary groups, '
        + 'SIGUSR1 is not forwarded; ship /init.node or mount an exec-capable tmpfs, e.g. --tmpfs /tmp:exec (or --tmpfs /run:exec,mode=1777) (see docs/images.md)\n');
      expect(r.code).toBe(3);
    });

    it('uses /run/user/UID when there is one', async () => {
      const r = await runAsPid1(['-l', 'debug', '--', '/bin/orphans', '5', '6'], {
        init: '/init', wrap: asUser('mkdir -p "$R/run/user/1000"; chown 1000:1000 "$R/run/user/1000"'), env: ENV,
      });
      expect(r.stderr).toContain('sesame: debug: native helper loaded from embedded, via /run/user/1000\n');
      expect(r.stdout).toMatch(/^orphans 5 reaped in \d+ us\n$/);
      expect(r.code).toBe(6);
    });

    it('uses $HOME when it is writable and exec-capable', async () => {
      const r = await runAsPid1(['-l', 'debug', '--', '/bin/orphans', '5', '6'], {
        init: '/init', wrap: asUser('mkdir -p "$R/run/home"; chown 1000:1000 "$R/run/home"'), env: { ...ENV, HOME: '/run/home' },
      });
      expect(r.stderr).toContain('sesame: debug: native helper loaded from embedded, via /run/home\n');
      expect(r.stdout).toMatch(/^orphans 5 reaped in \d+ us\n$/);
      expect(r.code).toBe(6);
    });
  });
});
