// The config's and the command line's words for what happens while the container runs:
// `on_change:` (restart | none | exit | {signal: SIGHUP} | {command: [...], timeout: 30s}),
// --on-change (restart | none | exit | signal:SIGHUP), and --wait MIN[:MAX].
import { DEFAULT_COMMAND_TIMEOUT_MS, type Action } from '../react/wiring';
import { checkKeys, type Fail, isMap } from './keys';
import { parseDuration, parseSignal } from './values';

/** `on_change:` of a service or a template; `exit` only where it makes sense (allowExit). */
export function parseAction(value: unknown, at: string, fail: Fail, allowExit = false): Action {
  if (value === 'restart' || value === 'none') return { kind: value };
  if (value === 'exit' && allowExit) return { kind: 'exit' };
  if (!isMap(value)) {
    return fail(at, `"${value}" is not one of restart, none${allowExit ? ', exit' : ''}, {signal: NAME} or {command: [program, args...]}`);
  }
  checkKeys(value, ['signal', 'command', 'timeout'], at, fail);
  if ((value.signal === undefined) === (value.command === undefined)) fail(at, 'needs exactly one of signal or command');
  if (value.signal !== undefined) {
    if (value.timeout !== undefined) fail(`${at}.timeout`, 'only goes with command');
    try {
      return { kind: 'signal', signal: parseSignal(String(value.signal)) };
    } catch (error) {
      return fail(`${at}.signal`, (error as Error).message);
    }
  }
  const argv = value.command;
  if (!Array.isArray(argv) || !argv.length || argv.some((a) => typeof a !== 'string' && typeof a !== 'number') || !argv[0]) {
    fail(`${at}.command`, 'must be a non-empty list: [program, args...]');
  }
  let timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS;
  if (value.timeout !== undefined) {
    try {
      timeoutMs = parseDuration(String(value.timeout));
    } catch (error) {
      fail(`${at}.timeout`, (error as Error).message);
    }
    if (timeoutMs <= 0) fail(`${at}.timeout`, 'must be more than 0');
  }
  return { kind: 'command', argv: (argv as unknown[]).map(String), timeoutMs };
}

export const ON_CHANGE_WORDS = ['restart', 'exit', 'none', 'signal:NAME'] as const;

/** --on-change / SESAME_ON_CHANGE for the single command: restart, exit, none, signal:HUP. */
export function parseOnChangeFlag(text: string): Action {
  const t = text.trim();
  if (t === 'restart' || t === 'exit' || t === 'none') return { kind: t };
  const m = /^signal:(.+)$/i.exec(t);
  if (m) return { kind: 'signal', signal: parseSignal(m[1]) };
  throw new Error(`"${text}" is not one of restart, exit, none, signal:NAME (e.g. signal:HUP)`);
}

/** --wait MIN[:MAX]: the quiet period, and the longest wait (default 4 x MIN). */
export function parseWait(text: string): { quietMs: number; maxWaitMs: number } {
  const [min, max, ...rest] = text.split(':');
  if (rest.length) throw new Error(`"${text}" is not MIN or MIN:MAX (e.g. 2s or 2s:10s)`);
  const quietMs = parseDuration(min);
  const maxWaitMs = max === undefined ? 4 * quietMs : parseDuration(max);
  if (maxWaitMs < quietMs) throw new Error(`"${text}": MAX must not be less than MIN`);
  return { quietMs, maxWaitMs };
}

/** --lease-threshold: a share of a lease, between 0.5 and 0.95. */
export function parseThreshold(text: string): number {
  const n = Number(text.trim());
  if (!Number.isFinite(n) || n < 0.5 || n > 0.95) throw new Error(`"${text}" is not a share between 0.5 and 0.95 (e.g. 0.9)`);
  return n;
}
