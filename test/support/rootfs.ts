// A minimal root filesystem for running the built init the way `docker run --read-only
// --tmpfs ...` does: /init (one file: it needs no library from the image), a shell and a
// few programs with exactly the shared libraries `ldd` lists for them (dynamic loader
// included, same paths), empty /proc, /dev, /tmp, /run and /dev/shm. Built in a temp dir in
// well under a second: init is hard-linked when the temp dir is on the same filesystem as
// dist/, copied otherwise. `programs: {}` and `shell: false` give a root holding only /init.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BUILD_DIR, INIT } from './paths';

export interface RootfsOptions {
  /** Host executables to install, by their path inside the root (e.g. '/bin/sh': '/bin/dash'). */
  programs?: Record<string, string>;
  /** Install /bin/sh (the host's dash, with its libraries); default true. */
  shell?: boolean;
  /** Static executables to install as they are (no libraries), by their path inside the root. */
  staticPrograms?: Record<string, string>;
  /** Files to write, by their path inside the root (e.g. '/etc/passwd': '...'). */
  files?: Record<string, string>;
  /** Directories of unpacked Debian packages (debianPackages below) to copy in, in order. */
  trees?: string[];
  /** Empty directories to create besides proc, dev/shm, tmp, run. */
  dirs?: string[];
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
  const programs: Record<string, string> = { ...(options.shell === false ? {} : { '/bin/sh': '/bin/dash' }), ...options.programs };
  for (const tree of options.trees ?? []) cpSync(tree, dir, { recursive: true, verbatimSymlinks: true });
  try {
    linkSync(INIT, join(dir, 'init'));
  } catch {
    copyFileSync(INIT, join(dir, 'init')); // another filesystem (EXDEV)
  }
  for (const [inside, from] of Object.entries(programs)) install(dir, inside, from, 0o755);
  for (const [inside, from] of Object.entries(options.staticPrograms ?? {})) install(dir, inside, from, 0o755);
  if (Object.keys(programs).length) for (const lib of sharedLibraries([...new Set(Object.values(programs))])) install(dir, lib, lib);
  for (const d of ['proc', 'dev/shm', 'tmp', 'run', ...(options.dirs ?? [])]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'dev/null'), ''); // a mount point for the host's /dev/null
  for (const [inside, text] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, inside)), { recursive: true });
    writeFileSync(join(dir, inside), text);
  }
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
R=$1; EXEC=" $2 "; shift 2
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
for d in tmp run dev/shm; do
  case "$EXEC" in *" $d "*) o=nosuid,nodev ;; *) o=noexec,nosuid,nodev ;; esac
  mount -t tmpfs -o "$o,mode=1777" tmpfs "$R/$d"
done
mount -t proc proc "$R/proc"
mount --bind /dev/null "$R/dev/null"
exec chroot "$R" "$@"`;

/** A `wrap` for startAsPid1/runAsPid1 (with init: '/init') that runs init in `root`, read-only. */
export function readOnlyRoot(root: string, execTmpfs: Array<'tmp' | 'run' | 'dev/shm'> = []): (initArgv: string[]) => string[] {
  return (initArgv) => ['unshare', '--mount', '--pid', '--fork', 'sh', '-c', READ_ONLY_ROOT_SCRIPT, 'sh', root, execTmpfs.join(' '), ...initArgv];
}

/**
 * Debian packages unpacked (dpkg-deb -x) into test/.build/debs/NAME, fetched once with
 * `apt-get download` (.ci/run runs `apt-get update`): the pieces of the other image kinds,
 * e.g. `musl` + `busybox-static` (Alpine-like), `ca-certificates`. Returns the directories.
 */
export function debianPackages(names: string[]): string[] {
  const root = join(BUILD_DIR, 'debs');
  mkdirSync(root, { recursive: true });
  return names.map((name) => {
    const dir = join(root, name);
    if (existsSync(dir)) return dir;
    const dl = mkdtempSync(join(root, `.${name}-`));
    try {
      execFileSync('apt-get', ['download', name], { cwd: dl, stdio: ['ignore', 'ignore', 'pipe'] });
      const deb = execFileSync('sh', ['-c', 'ls *.deb'], { cwd: dl, encoding: 'utf8' }).trim();
      execFileSync('dpkg-deb', ['-x', join(dl, deb), `${dir}.tmp`]);
      execFileSync('mv', [`${dir}.tmp`, dir]);
    } finally {
      rmSync(dl, { recursive: true, force: true });
    }
    return dir;
  });
}

/**
 * A `wrap` for startAsPid1/runAsPid1 (with init: '/init') that runs init in `root` as
 * PID 1 of new PID and mount namespaces, /proc mounted (unless `proc: false`) and the
 * host's /dev/null bound in: the way a container runtime starts it. chroot is looked up in
 * the sbin directories too, so the environment given to init may have the image's PATH.
 */
export interface InRootOptions {
  /** Mount proc on /proc (default true). */
  proc?: boolean;
  /** Shell commands run (as root, $R is the root) just before chroot. */
  setup?: string;
  /** Make the root read-only with tmpfs on /tmp, /run and /dev/shm, all noexec (`docker run --read-only`). */
  readOnly?: boolean;
  /** Start init as this user: chroot's --userspec (e.g. '1000:1000'). */
  userspec?: string;
}

export function inRoot(root: string, options: InRootOptions = {}): (initArgv: string[]) => string[] {
  const proc = options.proc === false ? ':' : 'mount -t proc proc "$R/proc"';
  const ro = options.readOnly
    ? 'mount --bind "$R" "$R"; mount -o remount,bind,ro "$R"; for d in tmp run dev/shm; do mount -t tmpfs -o noexec,nosuid,nodev,mode=1777 tmpfs "$R/$d"; done'
    : ':';
  const user = options.userspec ? `--userspec=${options.userspec}` : '';
  return (initArgv) => ['unshare', '--mount', '--pid', '--fork', 'sh', '-c',
    `set -e; R=$1; shift; ${ro}; ${proc}; mount --bind /dev/null "$R/dev/null"; ${options.setup ?? ':'}; exec "$(PATH=/usr/sbin:/sbin:$PATH command -v chroot)" ${user} "$R" "$@"`,
    'sh', root, ...initArgv];
}
