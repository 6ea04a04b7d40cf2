import { describe, expect, it } from 'vitest';
// early-signals installs its listeners in this worker too (its import's side effect), harmlessly.
import { FORWARDED_SIGNALS } from '../../src/supervisor/early-signals';
import { parseBoolean, parseDuration, parseRewrites, parseSignal, signalName } from '../../src/config/values';

describe('parseSignal', () => {
  it.each([['TERM', 15], ['SIGTERM', 15], ['sigquit', 3], ['15', 15], [' hup ', 1], ['64', 64], ['WINCH', 28]])('%s -> %i', (text, n) => {
    expect(parseSignal(text)).toBe(n);
  });
  it.each(['0', '65', 'TERMINATE', 'SIG', '', '-1'])('rejects %j', (text) => {
    expect(() => parseSignal(text)).toThrow(/signal/);
  });
  it('names signals back', () => {
    expect(signalName(15)).toBe('SIGTERM');
    expect(signalName(40)).toBe('signal 40');
  });
});

describe('parseRewrites', () => {
  it('reads comma-separated pairs, names or numbers, 0 drops', () => {
    expect([...parseRewrites('TERM:QUIT, 10:1,WINCH:0')]).toEqual([[15, 3], [10, 1], [28, 0]]);
  });
  it('adds to an existing map; the same pair twice is one rule, the same FROM with another TO a conflict (issue 13)', () => {
    const m = parseRewrites('TERM:QUIT');
    parseRewrites('TERM:QUIT,15:3', m);
    expect([...m]).toEqual([[15, 3]]);
    expect(() => parseRewrites('TERM:INT', m)).toThrow('"TERM:INT" conflicts with SIGTERM:SIGQUIT given before: one rule per signal');
    expect(() => parseRewrites('HUP:0,1:TERM')).toThrow('"1:TERM" conflicts with SIGHUP:0 given before: one rule per signal');
  });
  it.each([
    ['KILL:TERM', 'SIGKILL cannot be caught: a rewrite from it would never apply'],
    ['STOP:0', 'SIGSTOP cannot be caught: a rewrite from it would never apply'],
    ['SEGV:TERM', 'SIGSEGV is a synchronous fault: it concerns init itself and is never forwarded: a rewrite from it would never apply'],
    ['11:15', 'SIGSEGV is a synchronous fault'],
    ['BUS:TERM', 'SIGBUS is a synchronous fault'],
    ['CHLD:TERM', "SIGCHLD is init's own"],
    ['PIPE:TERM', 'SIGPIPE is kept ignored'],
    ['40:TERM', 'signal 40 is a real-time or reserved signal, which init cannot receive'],
  ])('refuses %s: init never forwards it (issue 13)', (text, message) => {
    expect(() => parseRewrites(text)).toThrow(message);
  });
  it('accepts every forwarded signal as FROM, and refuses every other one (kept in step with early-signals.ts)', () => {
    for (let n = 1; n <= 64; n++) {
      const forwarded = (FORWARDED_SIGNALS as string[]).includes(signalName(n));
      if (forwarded) expect(parseRewrites(`${n}:TERM`).get(n), signalName(n)).toBe(15);
      else expect(() => parseRewrites(`${n}:TERM`), signalName(n)).toThrow(/would never apply/);
    }
    // Any signal may be what is sent instead, KILL and STOP included.
    expect([...parseRewrites('TERM:KILL,INT:STOP,HUP:SEGV')]).toEqual([[15, 9], [2, 19], [1, 11]]);
  });
  it.each(['TERM', 'TERM:', ':QUIT', 'A:B:C'])('rejects %j', (text) => {
    expect(() => parseRewrites(text)).toThrow(/FROM:TO/);
  });
});

describe('parseDuration', () => {
  it.each([['10', 10_000], ['1.5', 1500], ['10s', 10_000], ['500ms', 500], ['1m30s', 90_000], ['2h', 7_200_000], ['1.5s', 1500], ['0', 0]])('%s -> %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', 'soon', '10 s', '-1s', '1x', 's', '10s5'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/not a duration/);
  });
  it('accepts up to 8760h, past 2^31 ms (the clock chains long timers)', () => {
    expect(parseDuration('3000000s')).toBe(3_000_000_000);
    expect(parseDuration('8760h')).toBe(8760 * 3_600_000);
  });
  it.each(['8760h1ms', '31536001', '9'.repeat(400), `${'9'.repeat(400)}ms`])('rejects %s as past the maximum', (text) => {
    expect(() => parseDuration(text)).toThrow(/longer than the maximum duration, 8760h/);
  });
});

describe('parseBoolean', () => {
  it.each(['1', 'true', 'TRUE', 'yes', 'on'])('%s is true', (t) => expect(parseBoolean(t)).toBe(true));
  it.each(['0', 'false', 'no', 'off', ''])('%j is false', (t) => expect(parseBoolean(t)).toBe(false));
  it('rejects anything else', () => expect(() => parseBoolean('maybe')).toThrow('"maybe" is not a boolean'));
});
