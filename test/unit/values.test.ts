import { describe, expect, it } from 'vitest';
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
  it('adds to an existing map, later pairs winning', () => {
    const m = parseRewrites('TERM:QUIT');
    parseRewrites('TERM:INT', m);
    expect(m.get(15)).toBe(2);
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
