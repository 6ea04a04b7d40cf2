// A read-only root whose writable mounts are all noexec tmpfs (`docker run --read-only
// --tmpfs /tmp --tmpfs /run`), and no /init.node: the one-file /init loads its addon from
// inside itself (a memory file), so it reaps as usual. Without the addon (SESAME_NATIVE
// naming a missing file) init says so once and degrades: orphans stay zombies.
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

const NO_ADDON = { ...ENV, SESAME_NATIVE: '/no-such-addon.node' };
const WARNING = 'sesame: warning: native helper not loaded (/no-such-addon.node: ENOENT): '
  + 'orphans will not be reaped, the child gets no terminal job control, --user sets no supplementary groups, '
  + 'SIGUSR1 is not forwarded\n';

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

describe('read-only root with noexec tmpfs mounts, no /init.node', () => {
  let bare: Rootfs;

  beforeAll(() => {
    bare = buildRootfs({ programs: PROGRAMS });
  });
  afterAll(() => {
    bare?.remove();
  });

  it('no warning, output and exit code pass through, the orphan is reaped, nothing is left in the tmpfs mounts', async () => {
    const r = await runAsPid1(['--', '/bin/sh', '-c', ORPHAN_ZOMBIE_SCRIPT], { init: '/init', wrap: readOnlyRoot(bare.dir), env: ENV });
    expect(r.stderr).toBe('err\n');
    expect(r.stdout).toBe('out\nroot read-only\norphan: gone\n');
    expect(r.code).toBe(4);
  });

  it('loads the addon from inside /init and reaps every orphan', async () => {
    // The orphans program must be init's own child: it waits for its parent to reap them.
    const r = await runAsPid1(['-l', 'debug', '--', '/bin/orphans', '5', '5'], { init: '/init', wrap: readOnlyRoot(bare.dir), env: ENV });
    expect(r.stdout).toMatch(/^orphans 5 reaped in \d+ us\n$/);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toContain('sesame: debug: native helper loaded from inside /init');
    // Nothing but init's debug lines: no warning, no error.
    expect(lines.filter((l) => !l.startsWith('sesame: debug: '))).toEqual([]);
    expect(r.code).toBe(5);
  });

  it('--no-new-privs: the child runs with NoNewPrivs set', async () => {
    const script = 'while read -r k v; do [ "$k" = NoNewPrivs: ] && echo "$k $v"; done < /proc/self/status; exit 0';
    const r = await runAsPid1(['--no-new-privs', '--', '/bin/sh', '-c', script], { init: '/init', wrap: readOnlyRoot(bare.dir), env: ENV });
    expect(r.stdout).toBe('NoNewPrivs: 1\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('without the addon: one warning, output and exit code pass through, orphans stay zombies', async () => {
    const r = await runAsPid1(['--', '/bin/sh', '-c', ORPHAN_ZOMBIE_SCRIPT], { init: '/init', wrap: readOnlyRoot(bare.dir), env: NO_ADDON });
    expect(r.stderr).toBe(`${WARNING}err\n`);
    expect(r.stdout).toBe('out\nroot read-only\norphan: Z ppid 1\n');
    expect(r.code).toBe(4);
  });

  it('--no-new-privs without the addon: one clear error, exit 71, the child never starts', async () => {
    const r = await runAsPid1(['--no-new-privs', '--', '/bin/sh', '-c', 'echo started; exit 0'], { init: '/init', wrap: readOnlyRoot(bare.dir), env: NO_ADDON });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${WARNING}sesame: error: --no-new-privs needs the native helper, which could not be loaded (see the warning above)\n`);
    expect(r.code).toBe(71);
  });

  it('without the addon, an unreapable zombie left in the child\'s process group does not hold up init\'s exit', async () => {
    // The same orphan, but still in the child's process group when the child exits. It can
    // never be reaped, so it must not count as "the rest of the group still running".
    const script = `echo out\n${orphanScript(false)}\nexit 4`;
    const r = await runAsPid1(['-t', '2s', '--', '/bin/sh', '-c', script], { init: '/init', wrap: readOnlyRoot(bare.dir), env: NO_ADDON });
    expect(r.stdout).toBe('out\norphan: Z ppid 1\n');
    // Only the warning: had the zombie counted as running, init would have waited out the
    // grace period and said so ("still running ... sending SIGKILL").
    expect(r.stderr).toBe(WARNING);
    expect(r.code).toBe(4);
  });
});
