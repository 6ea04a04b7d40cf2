// Driving a command on a pseudo-terminal, as `docker run -it` runs the container's entrypoint:
// test/.build/ptyrun (programs/ptyrun.c) makes the pty slave the controlling terminal of a
// new session and relays keystrokes and screen output; this is its TypeScript side, with
// pexpect-style expectations (each match consumes the screen up to its end, so the same
// text printed twice is seen twice, in order).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { INIT, program } from './paths';
import { childrenOf } from './pid1';

/** What ptyrun reports on its last stderr line once the command has exited. */
export interface PtyReport {
  exit: number;
  signal: number;
  timeout: boolean;
  /** Every process let go of the terminal (the master read EIO). */
  slave_closed: boolean;
  /** "ok" when a fresh session could take the terminal as its controlling tty afterwards. */
  probe: string;
  termios_restored: boolean;
  canonical: boolean;
  echo: boolean;
  isig: boolean;
}

export interface PtyFinished {
  code: number | null;
  signal: NodeJS.Signals | null;
  report: PtyReport | null;
  screen: string;
  stderr: string;
}

export interface PtyOptions {
  env?: NodeJS.ProcessEnv;
  /** ptyrun's own limit, after which it SIGKILLs the session (seconds). */
  timeoutS?: number;
  /** false: a tty on 0-2 that is not the controlling terminal (ptyrun -n). */
  ctty?: boolean;
  /** Window size; wide by default, so that readline never scrolls a command line. */
  rows?: number;
  cols?: number;
}

export interface PtySession {
  process: ChildProcess;
  /** Everything the terminal showed so far. */
  screen(): string;
  /** The screen from the last expectation's match on. */
  unread(): string;
  /** Type: the bytes go to the master as keystrokes ("\r" is Enter, "\x03" is ^C). */
  send(keys: string): void;
  /** Wait for `pattern` after the previous match; consumes up to the end of this one. */
  expect(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  done: Promise<PtyFinished>;
  /** Stop everything still running (ptyrun kills the session); resolves when it has. */
  kill(): Promise<PtyFinished>;
}

/** A quiet, predictable interactive shell environment: no rc files, history, or escapes. */
export const PROMPT = 'SESAME$ ';
export const SHELL_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  TERM: 'dumb',
  PS1: PROMPT,
  PS2: '> ',
  HISTFILE: '/dev/null',
  INPUTRC: '/dev/null',
  LANG: 'C',
  HOME: '/tmp',
};

export function startOnPty(argv: string[], options: PtyOptions = {}): PtySession {
  const flags = ['-t', String(options.timeoutS ?? 20), '-R', String(options.rows ?? 50), '-C', String(options.cols ?? 200)];
  if (options.ctty === false) flags.push('-n');
  const child = spawn(program('ptyrun'), [...flags, '--', ...argv], {
    env: options.env ?? SHELL_ENV,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  let stderr = '';
  let cursor = 0;
  let closed = false;
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding('latin1');
  child.stdout?.on('data', (d: string) => { screen += d; listeners.forEach((l) => l()); });
  child.stderr?.on('data', (d) => { stderr += d; });
  child.stdin?.on('error', () => {}); // EPIPE when typing into a finished session
  const done = new Promise<PtyFinished>((resolve) => {
    child.on('close', (code, signal) => {
      closed = true;
      listeners.forEach((l) => l());
      const line = stderr.split('\n').reverse().find((l) => l.startsWith('ptyrun: {'));
      resolve({ code, signal, report: line ? JSON.parse(line.slice('ptyrun: '.length)) : null, screen, stderr });
    });
  });

  const expect = (pattern: RegExp, ms = 5000) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const check = () => {
      const m = screen.slice(cursor).match(pattern);
      if (m) {
        cursor += (m.index ?? 0) + m[0].length;
        cleanup();
        resolve(m);
      } else if (closed) {
        cleanup();
        reject(new Error(`session ended before ${pattern}; unread screen: ${JSON.stringify(screen.slice(cursor))}; stderr: ${stderr}`));
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${pattern}; unread screen: ${JSON.stringify(screen.slice(cursor))}`));
    }, ms);
    const cleanup = () => { clearTimeout(timer); listeners.delete(check); };
    listeners.add(check);
    check();
  });

  const kill = async () => {
    if (!closed) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    const finished = await done;
    clearTimeout(timer);
    return finished;
  };

  return {
    process: child,
    screen: () => screen,
    unread: () => screen.slice(cursor),
    send: (keys) => { child.stdin?.write(keys, 'latin1'); },
    expect,
    done,
    kill,
  };
}

/** `unshare --pid --fork --mount-proc dist/init <initArgs>` on a fresh controlling terminal. */
export function initOnPty(initArgs: string[], options: PtyOptions = {}): PtySession {
  return startOnPty(['unshare', '--pid', '--fork', '--mount-proc', INIT, ...initArgs], options);
}

/** Every process below `pid` on the host, depth first. */
export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (const c of childrenOf(pid)) out.push(c, ...descendantsOf(c));
  return out;
}

/** Fields of /proc/PID/stat (host view): state, pgrp, session, tpgid (terminal's foreground group). */
export function procStat(pid: number): { comm: string; state: string; ppid: number; pgrp: number; session: number; tpgid: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { comm, state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), tpgid: Number(f[5]) };
}
