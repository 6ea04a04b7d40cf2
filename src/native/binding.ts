// Loading the C addon (sesame.c). A single executable cannot require() a .node file, and
// Node has no in-memory dlopen, so the addon travels as an asset of the executable and is
// written to a file, dlopen'ed and unlinked (~1 ms). Read-only roots whose writable mounts
// are all noexec (Docker's --read-only with its default tmpfs) defeat that, so a sidecar
// file next to the executable is tried first: it loads from the image itself.
// Without the addon init still runs; the caller says once what is lost.
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';

/** Must equal SESAME_NATIVE_ABI in sesame.c. */
const ABI = 5;
export const ASSET_NAME = 'init.node';

export interface SpawnRequest {
  /** Paths to execve in order (PATH already expanded), as execvp would try them. */
  candidates: string[];
  argv: string[];
  env: string[];
  cwd?: string;
  /** Descriptors that become the child's 0, 1, 2; -1 keeps init's. */
  stdio?: [number, number, number];
  uid?: number;
  gid?: number;
  groups?: number[];
  newProcessGroup: boolean;
  foreground: boolean;
  noNewPrivs: boolean;
}

export interface Native {
  /** fork/exec; throws an Error with errno, code and syscall (the stage that failed). */
  spawn(request: SpawnRequest): number;
  /** Every exited child as flat [pid, code, signal] triples; code -1 for a signal death. */
  reap(): number[];
  setSubreaper(): void;
  ignoreSignal(signal: number): void;
  unblockSignal(signal: number): void;
  /** Forward `signal` as `sendAs` (0: not at all) from the handler. */
  interceptSignal(signal: number, sendAs: number): void;
  /** Where the handler sends: a pid, -pgid, or 0 (nowhere: JavaScript delivers). */
  setForwardTarget(target: number): void;
  /** True if the handler already sent one occurrence of `signal` (and counts it as taken). */
  takeForwarded(signal: number): boolean;
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
  /** prctl(PR_SET_NAME): what ps, docker top and /proc/PID/comm show (15 bytes at most). */
  setName(name: string): void;
  /**
   * Pack what is left of the environment block (/proc/PID/environ) after unsetenv, NULs
   * after it, and point environ at the new places; returns the number of NULs at the end.
   */
  compactEnvironment(): number;
  /** _exit(code) after restoring the terminal modes saved at load; skips Node's teardown. */
  exit(code: number): never;
}

export type NativeLoad = { native: Native; from: string } | { native: null; reason: string };

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/** The addon with spawn's errors given their errno names; every other call as it is. */
function withErrnoNames(raw: Native): Native {
  // Inherit the rest: the addon's properties are neither enumerable (no spread) nor
  // writable (so spawn is defined on the new object, not assigned).
  const spawn = (request: SpawnRequest) => {
    try {
      return raw.spawn(request);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      if (typeof e.errno === 'number') e.code = ERRNO_NAMES.get(e.errno) ?? `E${e.errno}`;
      throw e;
    }
  };
  return Object.create(raw, { spawn: { value: spawn } }) as Native;
}

function dlopen(file: string): Native {
  const module = { exports: {} as Native & { abi?: number } };
  process.dlopen(module, file, osConstants.dlopen.RTLD_NOW);
  if (module.exports.abi !== ABI) throw new Error(`${file} is a different version (abi ${module.exports.abi}, want ${ABI})`);
  return withErrnoNames(module.exports);
}

function embeddedAddon(): Uint8Array | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sea = require('node:sea') as typeof import('node:sea');
    return sea.isSea() ? new Uint8Array(sea.getAsset(ASSET_NAME)) : null;
  } catch {
    return null; // not a single executable (init.cjs under plain node)
  }
}

function reasonOf(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}` : String(e.message).split('\n')[0];
}

/**
 * Order: $SESAME_NATIVE, the sidecar (`init.node` next to the executable or to init.cjs),
 * then the embedded copy extracted to the first directory that takes it.
 */
export function loadNative(env: NodeJS.ProcessEnv, isSea: boolean): NativeLoad {
  const tried: string[] = [];
  const explicit = env.SESAME_NATIVE;
  const sidecar = sidecarPath(isSea);
  for (const file of explicit ? [explicit] : [sidecar]) {
    if (!explicit && !existsSync(file)) continue;
    try {
      return { native: dlopen(file), from: file };
    } catch (error) {
      tried.push(`${file}: ${reasonOf(error)}`);
    }
  }
  const bytes = isSea ? embeddedAddon() : null;
  if (bytes) {
    // Root can write /run (Docker's --tmpfs /run:exec); a non-root user cannot (that tmpfs
    // is 0755 root) but can write /tmp (--tmpfs /tmp:exec), its own /run/user/UID and $HOME.
    const uid = process.getuid?.();
    const dirs = [env.SESAME_NATIVE_DIR, '/dev/shm', env.TMPDIR, '/run', '/tmp', uid ? `/run/user/${uid}` : undefined, env.HOME]
      .filter((d): d is string => !!d);
    for (const dir of [...new Set(dirs)]) {
      // Not crypto: loading node:crypto costs ~4 ms of start-up (OpenSSL). The name only has
      // to be unlikely; 'wx' below is what makes a planted file or symlink harmless.
      const file = join(dir, `.sesame-${process.pid}-${Math.random().toString(36).slice(2, 10)}.node`);
      try {
        // 'wx' refuses an existing file or symlink planted at that name.
        writeFileSync(file, bytes, { mode: 0o500, flag: 'wx' });
      } catch (error) {
        tried.push(`${dir}: ${reasonOf(error)}`);
        continue;
      }
      try {
        return { native: dlopen(file), from: `embedded, via ${dir}` };
      } catch (error) {
        tried.push(`${dir}: ${/failed to map segment/.test(String(error)) ? 'noexec' : reasonOf(error)}`);
      } finally {
        try { unlinkSync(file); } catch { /* already gone */ }
      }
    }
  }
  return { native: null, reason: tried.length ? tried.join('; ') : 'no addon found' };
}

/** `/init.node` beside `/init`, or `init.node` beside init.cjs. */
export function sidecarPath(isSea: boolean): string {
  return isSea ? `${process.execPath}.node` : join(__dirname, ASSET_NAME);
}
