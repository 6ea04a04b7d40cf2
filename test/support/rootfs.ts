// A minimal root filesystem for running the built init the way `docker run --read-only
// --tmpfs ...` does: /init, a shell and a few programs with exactly the shared libraries
// `ldd` lists for them (dynamic loader included, same paths), empty /proc, /dev, /tmp, /run
// and /dev/shm. Built in a temp dir in well under a second: init is hard-linked when the
// temp dir is on the same filesystem as dist/, copied otherwise.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ADDON, INIT } from './paths';

export interface RootfsOptions {
  /** Copy dist/init.node to /init.node, the sidecar init looks for beside /init. */
  sidecar?: boolean;
  /** Host executables to install, by their path inside the root (e.g. '/bin/sh': '/bin/dash'). */
  programs?: Record<string, string>;
}

export interface Rootfs {
  dir: string;
  remove(): void;
}

/** Every file `ldd` names for these executables: libraries and the dynamic loader. */
function sharedLibraries(executables: string[]): string[] {
  const out = execFileSync('ldd', executables, { encoding: 'utf8' });
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    // "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "\t/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = line.match(/^\s+(?:\S+ => )?(\/\S+) \(0x[0-9a-f]+\)$/);
    if (m) libs.add(m[1]);
  }
  if (![...libs].some((l) => /\/ld-linux[^/]*\.so/.test(l))) throw new Error(`ldd named no dynamic loader:\n${out}`);
  return [...libs];
}

/** Copy (following symlinks) to the same path under root. */
function install(root: string, inside: string, from: string, mode?: number): void {
  const to = join(root, inside);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  if (mode !== undefined) chmodSync(to, mode);
}

export function buildRootfs(options: RootfsOptions = {}): Rootfs {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-rootfs-'));
  chmodSync(dir, 0o755);
  const programs = { '/bin/sh': '/bin/dash', ...options.programs };
  try {
    linkSync(INIT, join(dir, 'init'));
  } catch {
    copyFileSync(INIT, join(dir, 'init')); // another filesystem (EXDEV)
  }
  if (options.sidecar) install(dir, '/init.node', ADDON, 0o755);
  for (const [inside, from] of Object.entries(programs)) install(dir, inside, from, 0o755);
  for (const lib of sharedLibraries([INIT, ...new Set(Object.values(programs))])) install(dir, lib, lib);
  for (const d of ['proc', 'dev/shm', 'tmp', 'run']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'dev/null'), ''); // a mount point for the host's /dev/null
  for (const inside of Object.keys(programs)) {
    if (!existsSync(join(dir, inside))) throw new Error(`${inside} missing from ${dir}`);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Run in `unshare --mount --pid --fork` (the shell is PID 1 of the new namespace until it
 * execs chroot, which execs /init): bind the root onto itself read-only, tmpfs on /tmp,
 * /run and /dev/shm (noexec unless named in `execTmpfs`), proc, /dev/null.
 */
const READ_ONLY_ROOT_SCRIPT = `set -e
R=$1; EXEC=" $2 "; RUNMODE=$3; SETUP=$4; USERSPEC=$5; shift 5
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
for d in tmp run dev/shm; do
  case "$EXEC" in *" $d "*) o=nosuid,nodev ;; *) o=noexec,nosuid,nodev ;; esac
  m=1777; [ "$d" = run ] && m=$RUNMODE
  mount -t tmpfs -o "$o,mode=$m" tmpfs "$R/$d"
done
mount -t proc proc "$R/proc"
mount --bind /dev/null "$R/dev/null"
eval "$SETUP"
exec chroot \${USERSPEC:+--userspec=$USERSPEC} "$R" "$@"`;

export interface ReadOnlyRootOptions {
  /** The mode of the /run tmpfs: 1777 by default; Docker's --tmpfs /run makes it 0755 root. */
  runMode?: string;
  /** Shell commands run after the mounts, before init ($R is the root), e.g. mkdir + chown. */
  setup?: string;
  /** chroot --userspec: init runs as this uid:gid. */
  userspec?: string;
}

/** A `wrap` for startAsPid1/runAsPid1 (with init: '/init') that runs init in `root`, read-only. */
export function readOnlyRoot(root: string, execTmpfs: Array<'tmp' | 'run' | 'dev/shm'> = [], options: ReadOnlyRootOptions = {}): (initArgv: string[]) => string[] {
  return (initArgv) => ['unshare', '--mount', '--pid', '--fork', 'sh', '-c', READ_ONLY_ROOT_SCRIPT, 'sh', root, execTmpfs.join(' '),
    options.runMode ?? '1777', options.setup ?? ':', options.userspec ?? '', ...initArgv];
}
