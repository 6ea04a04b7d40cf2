// Running the built init as a real PID 1: `unshare --pid --fork --mount-proc` gives it a
// fresh PID namespace (it is pid 1 there, with its own /proc) as root.
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { INIT } from './paths';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Text for init's stdin; by default stdin is /dev/null. */
  input?: string;
  /** Wrap the command differently (e.g. more unshare flags); gets init's argv. */
  wrap?: (initArgv: string[]) => string[];
  init?: string;
  /** Extra unshare flags (before --fork). */
  unshareFlags?: string[];
}

export interface Running {
  process: ChildProcess;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout matches; rejects if init ends first or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** The host pid of init (pid 1 inside the namespace). */
  initPid(): Promise<number>;
  /** Send a signal to init from outside its namespace, as `docker kill` does. */
  signal(sig: NodeJS.Signals | number): Promise<void>;
  done: Promise<Finished>;
}

export function startAsPid1(args: string[], options: RunOptions = {}): Running {
  const initArgv = [options.init ?? INIT, ...args];
  const argv = options.wrap ? options.wrap(initArgv) : ['unshare', ...(options.unshareFlags ?? []), '--pid', '--fork', '--mount-proc', ...initArgv];
  const child = spawn(argv[0], argv.slice(1), {
    env: options.env ?? process.env,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (d) => { out += d; listeners.forEach((l) => l()); });
  child.stderr?.on('data', (d) => { err += d; });
  const done = new Promise<Finished>((resolve) => {
    child.on('close', (code, signal) => {
      listeners.forEach((l) => l());
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  let exited = false;
  void done.then(() => { exited = true; });

  const waitFor = (pattern: RegExp, ms = 10_000) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const check = () => {
      const m = out.match(pattern);
      if (m) { cleanup(); resolve(m); } else if (exited) { cleanup(); reject(new Error(`init exited before ${pattern}; stdout: ${out}; stderr: ${err}`)); }
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out waiting for ${pattern}; stdout: ${out}; stderr: ${err}`)); }, ms);
    const cleanup = () => { clearTimeout(timer); listeners.delete(check); };
    listeners.add(check);
    check();
  });

  const initPid = async () => hostChildOf(child.pid as number);
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    waitFor,
    initPid,
    signal: async (sig) => { process.kill(await initPid(), sig); },
    done,
  };
}

export function runAsPid1(args: string[], options: RunOptions = {}): Promise<Finished> {
  return startAsPid1(args, options).done;
}

/** The pid of `parent`'s child on the host (unshare --fork has exactly one). */
export async function hostChildOf(parent: number, ms = 5000): Promise<number> {
  const until = Date.now() + ms;
  for (;;) {
    const found = childrenOf(parent);
    if (found.length) return found[0];
    if (Date.now() > until) throw new Error(`no child of pid ${parent} appeared`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parent) pids.push(Number(entry));
    } catch { /* gone */ }
  }
  return pids;
}

/** Parsed /proc/PID/status: the signal masks as bigints, the rest as strings. */
export function procStatus(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').filter(Boolean).map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  }));
}

export interface EtcOptions {
  /** Shell commands run in the private mount namespace before init (e.g. more mounts). */
  setup?: string;
  /** init's working directory. */
  cwd?: string;
  /** A command that runs init (e.g. setpriv ...). */
  before?: string[];
}

/**
 * A `wrap` for runAsPid1: a private mount namespace with test-made `passwd` and `group`
 * bind-mounted over /etc's (so --user and owners resolve against them), then init as PID 1.
 */
export function withEtcFiles(passwd: string, group: string, options: EtcOptions = {}): (initArgv: string[]) => string[] {
  const cd = options.cwd ? 'cd "$3"; unset OLDPWD; ' : '';
  return (initArgv) => ['unshare', '--mount', '--pid', '--fork', '--mount-proc', 'sh', '-c',
    `set -e; mount --bind "$1" /etc/passwd; mount --bind "$2" /etc/group; ${options.setup ?? ':'}; ${cd}shift 3; exec "$@"`,
    'sh', passwd, group, options.cwd ?? '/', ...(options.before ?? []), ...initArgv];
}

/** Mode bits, owner and group of a file (not following a link), e.g. "0400 0:0". */
export function modeAndOwner(path: string): string {
  const s = lstatSync(path);
  return `${(s.mode & 0o7777).toString(8).padStart(4, '0')} ${s.uid}:${s.gid}`;
}
