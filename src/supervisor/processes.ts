// Starting children and learning how they ended. Two implementations of one interface:
// - NativeProcessTable: the addon forks every child, so init owns all of them and may call
//   waitpid(-1): each exit status goes to the child it belongs to, and every orphan that
//   was re-parented to init is reaped on the same SIGCHLD.
// - LibuvProcessTable: node's child_process, when the addon could not be loaded. libuv
//   reaps its own children; orphans stay zombies (Node has no wait call), and the child gets
//   a session of its own because libuv offers setsid but not setpgid or tcsetpgrp.
// Never mix them: waitpid(-1) would steal libuv's statuses.
import { closeSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { constants } from 'node:os';
import { encodeText, hasRawBytes } from '../bytes';
import { describeErrno, EXIT, InitError } from '../exit-codes';
import type { Log } from '../log';
import type { Native } from '../native/binding';
import type { ResolvedUser } from './user';

export interface ExitStatus {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  /** Number of the signal that ended it, or null. */
  signal: number | null;
}

/** The shell's convention: the code itself, or 128+N for death by signal N. */
export function exitCodeOf(status: ExitStatus): number {
  return status.signal ? 128 + status.signal : (status.code ?? 0);
}

export interface ChildSpec {
  /** argv[0] is looked up in the child's PATH unless it contains a slash. */
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
  user?: ResolvedUser;
  noNewPrivs: boolean;
  /**
   * inherit (default): init's 0, 1 and 2, and the terminal's foreground. capture: stdin
   * /dev/null, stdout and stderr through pipes that init reads (Child.output), no terminal.
   */
  stdio?: 'inherit' | 'capture';
}

export interface Child {
  pid: number;
  /** The child's own process group (its pid), or null if it shares init's. */
  processGroup: number | null;
  /** Resolves once the child has been reaped. */
  exited: Promise<ExitStatus>;
  /** With stdio: capture, the read ends of its stdout and stderr. */
  output?: { stdout: Readable; stderr: Readable };
}

/** Forwarding done inside the signal handler (the native helper's), where available. */
export type HandlerForwarding = Pick<Native, 'interceptSignal' | 'setForwardTarget' | 'takeForwarded'>;

export interface ProcessTable {
  spawn(spec: ChildSpec): Promise<Child>;
  /** Present when signals can be forwarded from the handler, without the event loop. */
  readonly handlerForwarding?: HandlerForwarding;
  /** Collect whatever has exited by now (a last pass before init exits). */
  reapNow(): void;
  /** Does the process group still have a member that has not exited? */
  groupAlive(group: number): boolean;
  /** Last resort before init exits on its own failure: SIGKILL every child's process group. */
  killAll(): void;
}

/** glibc's execvp default is "/bin:/usr/bin"; images expect Docker's default PATH. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What execvp would try, in order: the name itself if it has a slash, else each PATH entry. */
export function commandCandidates(file: string, path = DEFAULT_PATH): string[] {
  if (file.includes('/')) return [file];
  return path.split(':').map((dir) => (dir === '' ? file : `${dir.replace(/\/+$/, '')}/${file}`));
}

/** Turn a failed spawn into the one line and the exit code the user sees. */
export function spawnFailure(error: NodeJS.ErrnoException, spec: ChildSpec): InitError {
  const cmd = spec.argv[0];
  const why = error.message;
  switch (error.syscall) {
    case 'exec':
      if (error.code === 'ENOENT') {
        return new InitError(cmd.includes('/') ? `${cmd}: no such file` : `${cmd}: command not found`, EXIT.NOT_FOUND);
      }
      if (error.code === 'EACCES') return new InitError(`${cmd}: permission denied (not executable, or on a noexec mount)`, EXIT.NOT_EXECUTABLE);
      return new InitError(`${cmd}: cannot execute: ${why}`, EXIT.NOT_EXECUTABLE);
    case 'chdir':
      return new InitError(`working directory ${spec.cwd}: ${why}`, EXIT.CONFIG);
    case 'setgroups':
    case 'setgid':
    case 'setuid':
      return new InitError(`--user ${spec.user?.spec}: ${error.syscall} failed: ${why}${error.code === 'EPERM' ? ` (${whyNotPermitted()})` : ''}`, EXIT.NO_PERMISSION);
    default:
      // fork's EAGAIN (ulimit -u, pids.max), ENOMEM, a pipe's EMFILE: the system's limits.
      return new InitError(`starting ${cmd}: ${error.syscall ?? 'spawn'} failed: ${describeErrno(error.code, why)}`, EXIT.OS_ERROR);
  }
}

const CAP_SETGID = 6;
const CAP_SETUID = 7;

/**
 * Why init may not change user: not root, or root without CAP_SETUID/CAP_SETGID (Docker's
 * `--cap-drop ALL`, Kubernetes' `capabilities: drop: [ALL]`), read from CapEff.
 */
export function whyNotPermitted(status = readStatus()): string {
  if (process.getuid?.() !== 0) return 'init is not root';
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (capEff === undefined) return 'init lacks CAP_SETUID or CAP_SETGID';
  const caps = BigInt(`0x${capEff}`);
  const missing = [[CAP_SETUID, 'CAP_SETUID'], [CAP_SETGID, 'CAP_SETGID']]
    .filter(([bit]) => !(caps & (1n << BigInt(bit)))).map(([, name]) => name);
  if (!missing.length) return 'init is root with CAP_SETUID and CAP_SETGID; a security module refused';
  const add = missing.map((name) => `--cap-add ${String(name).slice(4)}`).join(' ');
  return `init is root but lacks ${missing.join(' and ')}: the container's capabilities were dropped (e.g. --cap-drop ALL); add ${add}, or start the container as the user (docker run --user)`;
}

function readStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}

/**
 * SIGCONT to `target` (a pid, or -pgid) only when a process there is stopped (^Z, SIGSTOP):
 * a stopped process keeps every signal but SIGKILL pending until it is continued, so a stop
 * signal would wait out the grace period. A running one must not see a SIGCONT it never
 * asked for (a program may handle it). When /proc cannot tell (it shows another PID
 * namespace, or none), it is sent: a stopped child that ignores the stop signal is worse.
 */
export function continueIfStopped(target: number): void {
  if (stoppedAt(target) !== false) deliver(target, constants.signals.SIGCONT);
}

/** true: a process at `target` is stopped; false: none is; null: /proc does not show it. */
export function stoppedAt(target: number): boolean | null {
  const stopped = (state: string) => state === 'T' || state === 't';
  if (target > 0) {
    try {
      const stat = readFileSync(`/proc/${target}/stat`, 'latin1');
      return stopped(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]);
    } catch {
      return null;
    }
  }
  const members = groupStates(-target);
  if (!members?.length) return null;
  return members.some((m) => stopped(m.state));
}

/**
 * The members of process group `group` with their states (R, S, T, Z, ...), from /proc;
 * null when /proc cannot be listed. The one scan behind stoppedAt, groupMembers and
 * LibuvProcessTable.groupAlive.
 */
export function groupStates(group: number): Array<{ pid: number; state: string }> | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const out: Array<{ pid: number; state: string }> = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    // Fields 3 and 5: state and process group; the command name (field 2) may hold spaces and ")".
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group) out.push({ pid: Number(entry), state });
  }
  return out;
}

/** After SIGKILL, how long to wait for the dead to be reaped before giving up on them. */
export const AFTER_KILL_MS = 1000;

/**
 * Wait until no member of `group` is left (true), or until the time `until()` returns has
 * come (false). A function, so that a shutdown starting meanwhile can bring the end forward.
 */
export async function groupGone(table: ProcessTable, group: number, until: () => number): Promise<boolean> {
  while (table.groupAlive(group)) {
    if (Date.now() >= until()) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/**
 * The pids in process group `group`, from /proc (for messages only: "left 2 processes").
 * Empty when /proc cannot be read.
 */
export function groupMembers(group: number): number[] {
  return (groupStates(group) ?? []).filter((m) => m.state !== 'Z').map((m) => m.pid);
}

/** "1 process (pid 42)", "3 processes (pids 42, 43, 44)", or "processes" when /proc says nothing. */
export function describeMembers(pids: number[]): string {
  if (!pids.length) return 'processes';
  const shown = pids.slice(0, 5).join(', ') + (pids.length > 5 ? ', ...' : '');
  return pids.length === 1 ? `1 process (pid ${shown})` : `${pids.length} processes (pids ${shown})`;
}

export const themOrIt = (pids: number[]): string => (pids.length === 1 ? 'it' : 'them');

/** kill(2), where "already gone" is not an error. Refuses -1 and 0 (see below). */
export function deliver(target: number, signal: number): boolean {
  // -1 would signal every process init can see, 0 init's own group.
  if (target === 0 || target === -1) return false;
  try {
    process.kill(target, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** stdin (/dev/null) and two pipes for a captured child; on EMFILE none is left open. */
function captureDescriptors(native: Native, spec: ChildSpec): number[] {
  const fds: number[] = [];
  try {
    fds.push(openSync('/dev/null', 'r'));
    fds.push(...native.pipe());
    fds.push(...native.pipe());
    return fds;
  } catch (error) {
    for (const fd of fds) closeSync(fd);
    const e = error as NodeJS.ErrnoException;
    throw spawnFailure(Object.assign(e, { syscall: e.syscall ?? 'open', message: e.message }), spec);
  }
}

/** `NAME=value` entries; one that stands for bytes that are not UTF-8 goes as those bytes. */
function envArray(env: Record<string, string>): (string | Buffer)[] {
  const entries: (string | Buffer)[] = [];
  for (const name in env) {
    const entry = `${name}=${env[name]}`;
    entries.push(hasRawBytes(entry) ? encodeText(entry) : entry);
  }
  return entries;
}

/** A pipe's read end as a stream (libuv makes it non-blocking; the child's end stays blocking). */
function readEnd(fd: number): Readable {
  const { Socket } = require('node:net') as typeof import('node:net');
  const socket = new Socket({ fd, readable: true, writable: false });
  // Never what keeps init alive: a grandchild may hold the write end open for good.
  socket.unref();
  return socket;
}

export class NativeProcessTable implements ProcessTable {
  /** Children init started, by pid, with what to call when they are reaped. */
  private readonly owned = new Map<number, (status: ExitStatus) => void>();
  /**
   * Signal listeners do not keep Node's event loop alive: without a referenced handle init
   * would exit while its children run. An interval that never fires holds the loop open at
   * no cost while any child is owned.
   */
  private keepAlive: NodeJS.Timeout | null = null;

  readonly handlerForwarding: HandlerForwarding;

  constructor(
    private readonly native: Native,
    private readonly log: Log,
  ) {
    this.handlerForwarding = native;
    // Signals coalesce: one SIGCHLD may stand for many exits, so reap until none is left.
    process.on('SIGCHLD', () => this.reapNow());
  }

  async spawn(spec: ChildSpec): Promise<Child> {
    let pid: number;
    const capture = spec.stdio === 'capture';
    // Opened here, closed in the finally below: the child has its own copies by then.
    const fds = capture ? captureDescriptors(this.native, spec) : [];
    try {
      pid = this.native.spawn({
        stdio: capture ? [fds[0], fds[2], fds[4]] : undefined,
        candidates: commandCandidates(spec.argv[0], spec.env.PATH),
        argv: spec.argv,
        env: envArray(spec.env),
        cwd: spec.cwd,
        uid: spec.user?.uid,
        gid: spec.user?.gid,
        groups: spec.user?.groups,
        newProcessGroup: true,
        // Hand the terminal to the child's group, as tini does (if there is one).
        foreground: !capture,
        noNewPrivs: spec.noNewPrivs,
      });
    } catch (error) {
      for (const fd of [fds[1], fds[3]]) if (fd !== undefined) closeSync(fd);
      throw spawnFailure(error as NodeJS.ErrnoException, spec);
    } finally {
      for (const fd of [fds[0], fds[2], fds[4]]) if (fd !== undefined) closeSync(fd);
    }
    // Registered before the event loop runs again, so its SIGCHLD cannot be handled first.
    const exited = new Promise<ExitStatus>((resolve) => this.owned.set(pid, resolve));
    // One interval for init's whole life, referenced while children are owned: clearing
    // and creating it again on every exit cost more than the reaping itself (1,000 oneshots).
    this.keepAlive ??= setInterval(() => {}, 2 ** 31 - 1);
    this.keepAlive.ref();
    return { pid, processGroup: pid, exited, output: capture ? { stdout: readEnd(fds[1]), stderr: readEnd(fds[3]) } : undefined };
  }

  reapNow(): void {
    const reaped = this.native.reap();
    for (let i = 0; i < reaped.length; i += 3) {
      const [pid, code, signal] = [reaped[i], reaped[i + 1], reaped[i + 2]];
      const owner = this.owned.get(pid);
      if (owner) {
        this.owned.delete(pid);
        owner({ code: code < 0 ? null : code, signal: signal || null });
      } else {
        this.log.debug(`reaped orphan pid ${pid}`);
      }
    }
    if (this.owned.size === 0) this.keepAlive?.unref();
  }

  killAll(): void {
    for (const pid of this.owned.keys()) {
      deliver(-pid, constants.signals.SIGKILL);
      deliver(pid, constants.signals.SIGKILL);
    }
  }

  /** Zombies count as members for kill(2), but init reaps its own as they appear. */
  groupAlive(group: number): boolean {
    return deliver(-group, 0);
  }
}

export class LibuvProcessTable implements ProcessTable {
  /** Children still running, for killAll. */
  private readonly running = new Set<number>();

  constructor(private readonly log: Log) {}

  killAll(): void {
    for (const pid of this.running) {
      deliver(-pid, constants.signals.SIGKILL);
      deliver(pid, constants.signals.SIGKILL);
    }
  }

  async spawn(spec: ChildSpec): Promise<Child> {
    if (spec.noNewPrivs) {
      throw new InitError('--no-new-privs needs the native helper, which could not be loaded (see the warning above)', EXIT.OS_ERROR);
    }
    const extraGroups = spec.user?.groups.filter((g) => g !== spec.user?.gid) ?? [];
    if (extraGroups.length) {
      this.log.warn(`--user ${spec.user?.spec}: supplementary groups ${extraGroups.join(',')} not applied without the native helper`);
    }
    if (spec.cwd) {
      // libuv reports a bad cwd as the same ENOENT as a missing command: tell them apart.
      try {
        if (!statSync(spec.cwd).isDirectory()) throw Object.assign(new Error('Not a directory'), { syscall: 'chdir', code: 'ENOTDIR' });
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        throw spawnFailure(Object.assign(e, { syscall: 'chdir', message: e.code === 'ENOENT' ? 'No such file or directory' : e.message }), spec);
      }
    }
    // Loaded only on this path: child_process pulls in net and streams (~3 ms of start-up).
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    const child = spawn(spec.argv[0], spec.argv.slice(1), {
      env: spec.env,
      cwd: spec.cwd,
      stdio: spec.stdio === 'capture' ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      detached: true, // setsid: a group of its own, so group signals and cleanup still work
      uid: spec.user?.uid,
      gid: spec.user?.gid,
    });
    if (child.pid) this.running.add(child.pid);
    const exited = new Promise<ExitStatus>((resolve) => {
      child.on('exit', (code, signal) => {
        this.running.delete(child.pid as number);
        resolve({ code, signal: signal ? constants.signals[signal] : null });
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error: NodeJS.ErrnoException) => {
        const syscall = /^spawn/.test(error.syscall ?? '') ? 'exec' : error.syscall;
        reject(spawnFailure(Object.assign(error, { syscall, message: error.code === 'EACCES' ? 'Permission denied' : error.message }), spec));
      });
    });
    const output = child.stdout && child.stderr ? { stdout: child.stdout, stderr: child.stderr } : undefined;
    return { pid: child.pid as number, processGroup: child.pid as number, exited, output };
  }

  reapNow(): void {
    // libuv reaps its own children; nothing else can be reaped from JavaScript.
  }

  /**
   * Here orphans stay zombies for good, and kill(2) counts zombies as members: a group of
   * zombies only would hold every exit for the whole grace period. So look in /proc for a
   * member that is not a zombie; when /proc shows no member at all (it belongs to another
   * PID namespace), trust kill(2).
   */
  groupAlive(group: number): boolean {
    if (!deliver(-group, 0)) return false;
    const members = groupStates(group);
    if (!members) return true;
    return members.some((m) => m.state !== 'Z' && m.state !== 'X') || members.length === 0;
  }
}
