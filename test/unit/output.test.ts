// Services' output (src/supervisor/output.ts): whole lines, one write each, every line behind
// the service's prefix; a partial line is held until its newline, 100 ms, or 64 KiB.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LineWriter, prefixes } from '../../src/supervisor/output';

const KIB = 1024;

let dir: string;
let file: string;
let fd: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-output-'));
  file = join(dir, 'out');
  fd = openSync(file, 'w');
});

afterEach(() => {
  vi.useRealTimers();
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

const written = () => readFileSync(file, 'utf8');
const writer = (prefix = 'web | ') => new LineWriter(fd, prefix);
const b = (text: string) => Buffer.from(text);

describe('LineWriter', () => {
  it('writes whole lines with the prefix on every line', () => {
    const w = writer();
    w.write(b('one\ntwo\nthree\n'));
    expect(written()).toBe('web | one\nweb | two\nweb | three\n');
  });

  it('prefixes empty lines too', () => {
    const w = writer();
    w.write(b('\n\nx\n'));
    expect(written()).toBe('web | \nweb | \nweb | x\n');
  });

  it('writes nothing but the bytes without a prefix', () => {
    const w = writer('');
    w.write(b('a\nb\n'));
    w.write(b('c\n'));
    expect(written()).toBe('a\nb\nc\n');
  });

  it('holds a partial line until its newline arrives', () => {
    const w = writer();
    w.write(b('hel'));
    expect(written()).toBe('');
    w.write(b('lo wor'));
    expect(written()).toBe('');
    w.write(b('ld\nnext'));
    expect(written()).toBe('web | hello world\n');
    w.write(b(' line\n'));
    expect(written()).toBe('web | hello world\nweb | next line\n');
  });

  it('writes the whole lines of a chunk and holds its tail', () => {
    const w = writer();
    w.write(b('a\nb\npartial'));
    expect(written()).toBe('web | a\nweb | b\n');
    w.flush();
    expect(written()).toBe('web | a\nweb | b\nweb | partial\n');
  });

  it('flush() writes a held partial line with a newline after it, once', () => {
    const w = writer();
    w.write(b('Password: '));
    w.flush();
    expect(written()).toBe('web | Password: \n');
    w.flush();
    expect(written()).toBe('web | Password: \n');
  });

  it('flush() with nothing held writes nothing', () => {
    const w = writer();
    w.flush();
    w.write(b('done\n'));
    w.flush();
    expect(written()).toBe('web | done\n');
  });

  it('flush() without a prefix adds the newline', () => {
    const w = writer('');
    w.write(b('...'));
    w.flush();
    expect(written()).toBe('...\n');
  });

  it('keeps multi-byte characters split across chunks whole', () => {
    const w = writer();
    const text = b('grüße ✓\n');
    w.write(text.subarray(0, 3)); // "gr" and the first byte of "ü"
    w.write(text.subarray(3, 9));
    w.write(text.subarray(9));
    expect(written()).toBe('web | grüße ✓\n');
  });

  it('keeps binary bytes as they are', () => {
    const w = writer('');
    const bytes = Buffer.from([0x00, 0xff, 0x1b, 0x5b, 0x6d, 0x0a]);
    w.write(bytes);
    expect(readFileSync(file)).toEqual(bytes);
  });

  describe('the 100 ms timer for a partial line', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });

    it('shows a partial line after 100 ms without a newline', () => {
      const w = writer();
      w.write(b('loading'));
      vi.advanceTimersByTime(99);
      expect(written()).toBe('');
      vi.advanceTimersByTime(1);
      expect(written()).toBe('web | loading\n');
    });

    it('starts the 100 ms again with each chunk that leaves a partial line', () => {
      const w = writer();
      w.write(b('.'));
      vi.advanceTimersByTime(80);
      w.write(b('.'));
      vi.advanceTimersByTime(80);
      expect(written()).toBe('');
      vi.advanceTimersByTime(20);
      expect(written()).toBe('web | ..\n');
    });

    it('does not fire once the line has ended', () => {
      const w = writer();
      w.write(b('abc'));
      w.write(b('\n'));
      vi.advanceTimersByTime(1000);
      expect(written()).toBe('web | abc\n');
      expect(vi.getTimerCount()).toBe(0);
    });

    it('is cancelled by flush()', () => {
      const w = writer();
      w.write(b('abc'));
      w.flush();
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(1000);
      expect(written()).toBe('web | abc\n');
    });

    it('holds no timer for whole lines', () => {
      const w = writer();
      w.write(b('a\nb\n'));
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('lines over 64 KiB', () => {
    it('writes a line of 64 KiB or more without waiting for its newline', () => {
      const w = writer();
      const long = 'x'.repeat(64 * KIB);
      w.write(b(long));
      expect(written()).toBe(`web | ${long}\n`);
    });

    it('holds a partial line just under 64 KiB', () => {
      const w = writer();
      w.write(b('x'.repeat(64 * KIB - 1)));
      expect(written()).toBe('');
      w.write(b('\n'));
      expect(written()).toBe(`web | ${'x'.repeat(64 * KIB - 1)}\n`);
    });

    it('writes a 200 KiB line that arrives in 16 KiB chunks in pieces, each prefixed, none over 64 KiB + a chunk', () => {
      const w = writer();
      const line = Array.from({ length: 200 * KIB }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
      for (let i = 0; i < line.length; i += 16 * KIB) w.write(b(line.slice(i, i + 16 * KIB)));
      w.write(b('\n'));
      const out = written();
      const pieces = out.split('\n').slice(0, -1);
      expect(out.endsWith('\n')).toBe(true);
      expect(pieces.length).toBeGreaterThan(1);
      for (const piece of pieces) {
        expect(piece.startsWith('web | ')).toBe(true);
        expect(piece.length - 'web | '.length).toBeLessThanOrEqual(64 * KIB);
      }
      // Nothing lost or reordered: the pieces put together are the line.
      expect(pieces.map((p) => p.slice('web | '.length)).join('')).toBe(line);
      // 16 KiB chunks reach 64 KiB exactly at every fourth: 64 + 64 + 64 + 8.
      expect(pieces.map((p) => p.length - 'web | '.length)).toEqual([64 * KIB, 64 * KIB, 64 * KIB, 8 * KIB]);
    });

    it('writes the whole lines before a long tail, then the tail as its own piece', () => {
      const w = writer();
      const tail = 'y'.repeat(70 * KIB);
      w.write(b(`short\n${tail}`));
      expect(written()).toBe(`web | short\nweb | ${tail}\n`);
    });

    it('writes a long line that ends in its chunk in one piece', () => {
      const w = writer();
      const long = 'z'.repeat(100 * KIB);
      w.write(b(`${long}\n`));
      expect(written()).toBe(`web | ${long}\n`);
    });
  });
});

describe('prefixes', () => {
  it('pads every name to the longest, as Compose does', () => {
    expect(prefixes(['web', 'db', 'worker'], true)).toEqual(new Map([
      ['web', 'web    | '],
      ['db', 'db     | '],
      ['worker', 'worker | '],
    ]));
  });

  it('gives one name no padding', () => {
    expect(prefixes(['app'], true)).toEqual(new Map([['app', 'app | ']]));
  });

  it('gives every service an empty prefix when disabled', () => {
    expect(prefixes(['web', 'worker'], false)).toEqual(new Map([['web', ''], ['worker', '']]));
  });

  it('is empty for no services', () => {
    expect(prefixes([], true)).toEqual(new Map());
  });

  it('lines up output from several writers', () => {
    const p = prefixes(['web', 'postgres'], true);
    const web = new LineWriter(fd, p.get('web') as string);
    const db = new LineWriter(fd, p.get('postgres') as string);
    web.write(b('GET /\n'));
    db.write(b('ready\n'));
    web.write(b('200\n'));
    expect(written()).toBe('web      | GET /\npostgres | ready\nweb      | 200\n');
  });
});
