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
import { EXIT, InitError } from '../exit-codes';
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
}

/** glibc's execvp default is "/bin:/usr/bin"; images expect Docker's default PATH. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

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
      return new InitError(`--user ${spec.user?.spec}: ${error.syscall} failed: ${why}${error.code === 'EPERM' ? ' (init is not root)' : ''}`, EXIT.NO_PERMISSION);
    default:
      return new InitError(`starting ${cmd}: ${error.syscall ?? 'spawn'} failed: ${why}`, EXIT.OS_ERROR);
  }
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
  const { readdirSync, readFileSync } = require('node:fs') as typeof import('node:fs');
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 5 is the process group; the command name (field 2) may hold spaces and ")".
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === group && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
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

function envArray(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
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
    const fds = capture ? [openSync('/dev/null', 'r'), ...this.native.pipe(), ...this.native.pipe()] : [];
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
    this.keepAlive ??= setInterval(() => {}, 2 ** 31 - 1);
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
    if (this.owned.size === 0 && this.keepAlive) {
      clearInterval(this.keepAlive);
      this.keepAlive = null;
    }
  }

  /** Zombies count as members for kill(2), but init reaps its own as they appear. */
  groupAlive(group: number): boolean {
    return deliver(-group, 0);
  }
}

export class LibuvProcessTable implements ProcessTable {
  constructor(private readonly log: Log) {}

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
    const exited = new Promise<ExitStatus>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal: signal ? constants.signals[signal] : null }));
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
    let seen = false;
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return true;
    }
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== group) continue;
      if (state !== 'Z' && state !== 'X') return true;
      seen = true;
    }
    return !seen;
  }
}
