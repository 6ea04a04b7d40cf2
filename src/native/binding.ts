// Loading the C addon (sesame.c). The one-file /init carries it, and its entry stub hands
// it over in a memory file (no directory needed: read-only roots with noexec tmpfs mounts
// work). init.cjs under a system Node loads the init.node beside it. Without the addon
// init still runs; the caller says once what is lost.
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { closeStubFiles, stubFiles } from './onefile';

/** Must equal SESAME_NATIVE_ABI in sesame.c. */
const ABI = 9;
export const ASSET_NAME = 'init.node';

export interface SpawnRequest {
  /** Paths to execve in order (PATH already expanded), as execvp would try them. */
  candidates: string[];
  argv: string[];
  /** `NAME=value` entries; a Buffer for one that is not UTF-8 (passed as its bytes). */
  env: (string | Buffer)[];
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
  /** The environment entries as bytes, in order. */
  environ(): Buffer[];
  /** pipe2(O_CLOEXEC): [read end, write end]. */
  pipe(): [number, number];
  /** 0 when init was made undumpable at load (no core dump, no /proc/1/mem), else the errno. */
  readonly undumpableErrno: number;
  /** /proc/self/mem opened read-write before that (-1 if it could not be), for scrubOwnEnvironment. */
  readonly selfMemFd: number;
  /** prctl(PR_SET_NAME): what ps, docker top and /proc/PID/comm show (15 bytes at most). */
  setName(name: string): void;
  /**
   * Pack what is left of the environment block (/proc/PID/environ) after unsetenv, NULs
   * after it, and point environ at the new places; returns the number of NULs at the end.
   */
  compactEnvironment(): number;
  /** _exit(code) after restoring the terminal modes saved at load; skips Node's teardown. */
  exit(code: number): never;
  /** One send(MSG_DONTWAIT) on socket `fd`: bytes taken, or -errno (-EAGAIN: full; -ENOTSOCK). */
  sendNoWait(fd: number, bytes: Buffer): number;
  /** V8's flags, as node:v8's setFlagsFromString (false: V8's call was not found; nothing set). */
  setV8Flags(flags: string): boolean;
  /**
   * Memory given back (sesame.c says how): thorough, V8's low-memory collection; else one
   * full collection that reduces the heap. Then malloc_trim. False: V8's call was not found
   * (only the trim ran).
   */
  releaseMemory(thorough: boolean): boolean;
  /**
   * A string over the buffer's bytes (Latin-1), not a copy: for text that lives as long as
   * the process (the one-file /init's bundles). Undefined on a Node without the call.
   */
  externalLatin1(buffer: ArrayBuffer): string | undefined;
  /**
   * A TCP connection on Node's event loop (socket.c), TLS over it with `tlsContext`: its id.
   * `onEvent(kind, value, syscall)`: 0 connected, 4 through the TLS handshake, 1 data (a
   * Buffer), 2 closed by the server, 3 failed (an errno, a getaddrinfo code name, or for
   * TLS { code, message, reason }). Absent when the Node binary does not export libuv.
   */
  tcpConnect?(host: string, port: number, onEvent: (kind: number, value: unknown, syscall?: string) => void, tlsContext?: unknown, servername?: string, identity?: string): number;
  /** An OpenSSL context for tcpConnect (socket.c): CAs, client certificate and key (PEM); throws if OpenSSL refuses them. */
  tlsContext?(ca: Buffer[], cert: Buffer | undefined, key: Buffer | undefined): unknown;
  tcpWrite?(id: number, data: Buffer): void;
  tcpRef?(id: number, ref: boolean): void;
  /** No event comes after it. */
  tcpClose?(id: number): void;
}

export type NativeLoad = { native: Native; from: string } | { native: null; reason: string };

// The first name of each number wins: EAGAIN, not its alias EWOULDBLOCK (fork's limit).
const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(osConstants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

/** ENOENT for 2, as Node names errno values. */
export const errnoName = (errno: number): string => ERRNO_NAMES.get(errno) ?? `E${errno}`;

/** The addon with spawn's and pipe's errors given their errno names; every other call as it is. */
function withErrnoNames(raw: Native): Native {
  // Inherit the rest: the addon's properties are neither enumerable (no spread) nor
  // writable (so spawn is defined on the new object, not assigned).
  const named = <A extends unknown[], R>(call: (...args: A) => R) => (...args: A): R => {
    try {
      return call.apply(raw, args);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      if (typeof e.errno === 'number') e.code = errnoName(e.errno);
      throw e;
    }
  };
  return Object.create(raw, { spawn: { value: named(raw.spawn) }, pipe: { value: named(raw.pipe) } }) as Native;
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

// The one-file /init loads the addon before its bundle runs, to run that bundle from its
// assets without a copy (sea-loader.ts); main then takes that same load.
const LOADED = Symbol.for('sesame.native');

/** loadNative, once per process: the first call loads, every later one gets that result. */
export function loadNativeOnce(env: NodeJS.ProcessEnv, isSea: boolean): NativeLoad {
  const slot = globalThis as { [LOADED]?: NativeLoad };
  return (slot[LOADED] ??= loadNative(env, isSea));
}

/** The addon if loadNativeOnce loaded it already, else null (nothing is loaded here). */
export function loadedNative(): Native | null {
  return (globalThis as { [LOADED]?: NativeLoad })[LOADED]?.native ?? null;
}

/** `init.node` beside init.cjs. */
export function sidecarPath(): string {
  return join(__dirname, ASSET_NAME);
}
