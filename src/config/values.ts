// Parsers for the values a user types, shared by flags, environment variables and (later)
// the config file. Each throws a message that says what was expected; the caller adds
// where the value came from.
import { constants } from 'node:os';

const SIGNAL_NUMBERS = constants.signals as Record<string, number>;
const MAX_SIGNAL = 64;

/** "TERM", "SIGTERM", "sigterm" or "15" -> 15. */
export function parseSignal(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    if (n >= 1 && n <= MAX_SIGNAL) return n;
    throw new Error(`signal number ${trimmed} is out of range 1-${MAX_SIGNAL}`);
  }
  const upper = trimmed.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const n = SIGNAL_NUMBERS[name];
  if (n === undefined) throw new Error(`unknown signal "${text}" (expected a name like TERM or a number like 15)`);
  return n;
}

/** 15 -> "SIGTERM" (or "signal 40" for one without a name). */
export function signalName(n: number): string {
  for (const [name, value] of Object.entries(SIGNAL_NUMBERS)) if (value === n) return name;
  return `signal ${n}`;
}

/** "TERM,QUIT" or "15, 3" -> {15, 3}. */
export function parseSignalList(text: string): Set<number> {
  return new Set(text.split(',').map((s) => s.trim()).filter(Boolean).map(parseSignal));
}

/**
 * Why a signal cannot be the FROM of a rewrite: init never receives it as something to
 * forward (the list of what it forwards is FORWARDED_SIGNALS in supervisor/early-signals.ts;
 * a unit test keeps the two in step). A rule for one of these would never apply.
 */
const NOT_FORWARDED: Record<string, string> = {
  SIGKILL: 'cannot be caught',
  SIGSTOP: 'cannot be caught',
  SIGSEGV: 'is a synchronous fault: it concerns init itself and is never forwarded',
  SIGBUS: 'is a synchronous fault: it concerns init itself and is never forwarded',
  SIGFPE: 'is a synchronous fault: it concerns init itself and is never forwarded',
  SIGILL: 'is a synchronous fault: it concerns init itself and is never forwarded',
  SIGTRAP: 'is a synchronous fault: it concerns init itself and is never forwarded',
  SIGSYS: 'is a synchronous fault: it concerns init itself and is never forwarded',
  SIGABRT: 'concerns init itself and is never forwarded',
  SIGCHLD: "is init's own (a child ended) and is never forwarded",
  SIGPIPE: 'is kept ignored by init and never forwarded',
  SIGXFSZ: 'is kept ignored by init and never forwarded',
  SIGTTIN: 'is ignored by init (terminal job control) and never forwarded',
  SIGTTOU: 'is ignored by init (terminal job control) and never forwarded',
};

/** Signals above this (glibc's reserved 32, 33 and the real-time ones) have no name in Node: init cannot listen for them. */
const LAST_FORWARDABLE = 31;

/** The FROM of a rewrite: a signal init forwards, or an error saying why it cannot be. */
function rewriteFrom(text: string): number {
  const n = parseSignal(text);
  const name = signalName(n);
  const why = NOT_FORWARDED[name] ?? (n > LAST_FORWARDABLE ? 'is a real-time or reserved signal, which init cannot receive' : undefined);
  if (why) throw new Error(`${name} ${why}: a rewrite from it would never apply`);
  return n;
}

/**
 * "FROM:TO" pairs such as "TERM:QUIT" or "15:3", separated by commas; TO may be 0 to drop
 * the signal (dumb-init's --rewrite semantics). FROM must be a signal init forwards; the
 * same FROM twice with different TOs is a conflict (also against the pairs already `into`),
 * the same pair twice is allowed.
 */
export function parseRewrites(text: string, into = new Map<number, number>()): Map<number, number> {
  for (const pair of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const parts = pair.split(':');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`"${pair}" is not FROM:TO (e.g. TERM:QUIT or 15:3)`);
    const to = parts[1].trim() === '0' ? 0 : parseSignal(parts[1]);
    const from = rewriteFrom(parts[0]);
    const before = into.get(from);
    if (before !== undefined && before !== to) {
      throw new Error(`"${pair}" conflicts with ${signalName(from)}:${before === 0 ? '0' : signalName(before)} given before: one rule per signal`);
    }
    into.set(from, to);
  }
  return into;
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/**
 * The longest duration accepted: a year (8760h). Longer timers are chained (the one clock
 * does it past Node's 2^31 ms), so the limit only keeps a typo such as 3000000000s from
 * becoming an infinity that fires at once.
 */
export const MAX_DURATION_MS = 8760 * 3_600_000;

function withinMaximum(ms: number, text: string): number {
  if (!(ms <= MAX_DURATION_MS)) throw new Error(`"${text}" is longer than the maximum duration, 8760h (a year)`);
  return ms;
}

/** "10" (seconds), "10s", "500ms", "1m30s", "1.5s" (Docker Compose's duration form) -> ms. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return withinMaximum(Math.round(Number(trimmed) * 1000), text);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let end = 0;
  for (let match = re.exec(trimmed); match; match = re.exec(trimmed)) {
    total += Number(match[1]) * UNITS_MS[match[2]];
    end = re.lastIndex;
  }
  if (trimmed === '' || end !== trimmed.length) {
    throw new Error(`"${text}" is not a duration (e.g. 10s, 500ms, 1m30s, or a number of seconds)`);
  }
  return withinMaximum(Math.round(total), text);
}

/** Boolean environment values, as the Vault CLI and most tools read them. */
export function parseBoolean(text: string): boolean {
  const lower = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on', 't', 'y'].includes(lower)) return true;
  if (['0', 'false', 'no', 'off', 'f', 'n', ''].includes(lower)) return false;
  throw new Error(`"${text}" is not a boolean (use true or false)`);
}
