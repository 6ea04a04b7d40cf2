// Loading the C addon (sesame.c). The one-file /init carries it, and its entry stub hands
// it over in a memory file (no directory needed: read-only roots with noexec tmpfs mounts
// work). init.cjs under a system Node loads the init.node beside it. Without the addon
// init still runs; the caller says once what is lost.
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { closeStubFiles, stubFiles } from './onefile';

/** Must equal SESAME_NATIVE_ABI in sesame.c. */
const ABI = 4;
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
  /** Forward `signal` as `sendAs` (0: not at all) from the handler, then SIGCONT if `cont`. */
  interceptSignal(signal: number, sendAs: number, cont: boolean): void;
  /** Where the handler sends: a pid, -pgid, or 0 (nowhere: JavaScript delivers). */
  setForwardTarget(target: number): void;
  /** True if the handler already sent one occurrence of `signal` (and counts it as taken). */
  takeForwarded(signal: number): boolean;
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
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

function reasonOf(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}` : String(e.message).split('\n')[0];
}

/**
 * $SESAME_NATIVE if set; then, in the one-file /init, the copy its entry stub put in a
 * memory file (stub.c), whose descriptors are closed once it is loaded; under a system
 * Node (init.cjs), `init.node` beside init.cjs.
 */
export function loadNative(env: NodeJS.ProcessEnv, isSea: boolean): NativeLoad {
  const files = isSea ? stubFiles() : null;
  try {
    const file = env.SESAME_NATIVE ?? (files ? files.addon : sidecarPath());
    if (!file) return { native: null, reason: 'the entry stub left no addon (was /init built by build.mjs?)' };
    if (!existsSync(file)) return { native: null, reason: `${file}: ENOENT` };
    try {
      return { native: dlopen(file), from: file === files?.addon ? 'inside /init' : file };
    } catch (error) {
      return { native: null, reason: `${file}: ${reasonOf(error)}` };
    }
  } finally {
    if (files) closeStubFiles(files);
  }
}

/** `init.node` beside init.cjs. */
export function sidecarPath(): string {
  return join(__dirname, ASSET_NAME);
}
