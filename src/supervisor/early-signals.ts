// Imported first by main.ts, so that these listeners are the first thing the program does
// (measured: see docs/development.md):
// - PID 1 with no listener ignores every signal, SIGTERM included, so `docker stop` would
//   wait for its SIGKILL;
// - SIGUSR1 with no listener opens Node's inspector on 127.0.0.1:9229, which is code
//   execution as PID 1 for anything in the container that can signal it.
// Signals that arrive before there is a child to forward them to wait here in order.
declare const SESAME_SEA: boolean;
import { constants } from 'node:os';
import { FORWARDED_SIGNALS } from './signals';

export { FORWARDED_SIGNALS };

type SignalHandler = (signal: NodeJS.Signals) => void;

let handler: SignalHandler | null = null;
const pending: NodeJS.Signals[] = [];

let onTermination: ((signal: NodeJS.Signals) => void) | null = null;

/**
 * The signals that stop the container (--stop-signals). Until the options are read: the
 * default, so that a `docker stop` during start-up is seen whatever the image's STOPSIGNAL.
 */
let stopSignals = new Set<string>(['SIGTERM', 'SIGINT', 'SIGQUIT']);

/** Take the stop signals from the options (numbers, as parsed). */
export function setStopSignals(signals: Iterable<number>): void {
  const names = Object.entries(constants.signals);
  stopSignals = new Set([...signals].map((n) => names.find(([, v]) => v === n)?.[0] ?? String(n)));
}

export function isStopSignal(signal: NodeJS.Signals): boolean {
  return stopSignals.has(signal);
}

function onSignal(signal: NodeJS.Signals): void {
  if (handler) return handler(signal);
  pending.push(signal);
  if (onTermination && isStopSignal(signal)) onTermination(signal);
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

/** A stop signal (SIGTERM, SIGINT, SIGQUIT by default) received while nothing was routing them. */
export function pendingTermination(): NodeJS.Signals | undefined {
  return pending.find(isStopSignal);
}

/**
 * Resolves with a stop signal if one arrives before signals are routed to a child:
 * startup (fetching secrets) races against it, so `docker stop` during a slow start does
 * not wait for the time limit.
 */
export function termination(): Promise<NodeJS.Signals> {
  const already = pendingTermination();
  if (already) return Promise.resolve(already);
  return new Promise((resolve) => { onTermination = resolve; });
}
