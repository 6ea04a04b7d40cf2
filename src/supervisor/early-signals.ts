// Imported first by main.ts, so that these listeners are the first thing the program does
// (measured: see docs/development.md):
// - PID 1 with no listener ignores every signal, SIGTERM included, so `docker stop` would
//   wait for its SIGKILL;
// - SIGUSR1 with no listener opens Node's inspector on 127.0.0.1:9229, which is code
//   execution as PID 1 for anything in the container that can signal it.
// Signals that arrive before there is a child to forward them to wait here in order.
declare const SESAME_SEA: boolean;

/**
 * Every catchable signal init forwards. Left out on purpose: SIGCHLD (init's own), SIGPIPE
 * and SIGXFSZ (Node keeps them ignored; a listener would replace that), SIGTTIN and SIGTTOU
 * (ignored, as tini does, so that init writing to or handing over the terminal never stops
 * it), the synchronous fault signals (SEGV, BUS, FPE, ILL, TRAP, SYS, ABRT: they are about
 * init itself), and SIGKILL/SIGSTOP (uncatchable). Real-time signals have no name in Node
 * and cannot be listened for.
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT',
  'SIGCONT', 'SIGTSTP', 'SIGURG', 'SIGXCPU', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO',
  'SIGPWR',
];

type SignalHandler = (signal: NodeJS.Signals) => void;

let handler: SignalHandler | null = null;
const pending: NodeJS.Signals[] = [];

let onTermination: ((signal: NodeJS.Signals) => void) | null = null;

function onSignal(signal: NodeJS.Signals): void {
  if (handler) return handler(signal);
  pending.push(signal);
  if (onTermination && (signal === 'SIGTERM' || signal === 'SIGINT')) onTermination(signal);
}

for (const signal of FORWARDED_SIGNALS) process.on(signal, onSignal);
// The single executable runs with --disable-sigusr1, so the inspector cannot have opened
// (build.mjs). init.cjs under a plain node can't pass that flag: there a SIGUSR1 that
// landed before the listener above opened the inspector, so close it again.
if (!(typeof SESAME_SEA === 'boolean' && SESAME_SEA)) {
  const inspector = require('node:inspector') as typeof import('node:inspector');
  if (inspector.url()) inspector.close();
}

/** Route signals to `next`, first replaying those that arrived before, in order. */
export function routeSignals(next: SignalHandler): void {
  handler = next;
  for (const signal of pending.splice(0)) next(signal);
}

/** A terminating signal (SIGTERM, SIGINT) received while nothing was routing them. */
export function pendingTermination(): NodeJS.Signals | undefined {
  return pending.find((s) => s === 'SIGTERM' || s === 'SIGINT');
}

/**
 * Resolves with SIGTERM or SIGINT if one arrives before signals are routed to a child:
 * startup (fetching secrets) races against it, so `docker stop` during a slow start does
 * not wait for the time limit.
 */
export function termination(): Promise<NodeJS.Signals> {
  const already = pendingTermination();
  if (already) return Promise.resolve(already);
  return new Promise((resolve) => { onTermination = resolve; });
}
