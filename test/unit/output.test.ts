// Services' output (src/supervisor/output.ts): whole lines, one write each, every line behind
// the service's prefix and no prefix inside a line; a partial line is held until its newline,
// 100 ms, or 1 MiB (MAX_LINE), then shown unfinished and continued without a prefix.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LineWriter, MAX_LINE, prefixes } from '../../src/supervisor/output';

const KIB = 1024;

let dir: string;
let file: string;
let fd: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-output-'));
  file = join(dir, 'out');
  fd = openSync(file, 'w');
});

/** Every writer a test made: ended after it, so that no line is left open on a reused fd number. */
let writers: LineWriter[] = [];

afterEach(() => {
  vi.useRealTimers();
  for (const w of writers.splice(0)) w.flush();
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

const written = () => readFileSync(file, 'utf8');
const writer = (prefix = 'web | ') => {
  const w = new LineWriter(fd, prefix);
  writers.push(w);
  return w;
};
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

    it('shows a partial line after 100 ms, unfinished, and continues it without a prefix (issue 13)', () => {
      const w = writer();
      w.write(b('loading'));
      vi.advanceTimersByTime(99);
      expect(written()).toBe('');
      vi.advanceTimersByTime(1);
      expect(written()).toBe('web | loading');
      w.write(b('... done\nnext\n'));
      expect(written()).toBe('web | loading... done\nweb | next\n');
    });

    it('ends an open partial line with a newline when another service writes, and at the end of the stream', () => {
      const w = writer();
      const db = writer('db  | ');
      w.write(b('Password: '));
      vi.advanceTimersByTime(100);
      db.write(b('ready\n'));
      w.write(b('ok\n'));
      w.write(b('tail'));
      vi.advanceTimersByTime(100);
      w.flush();
      expect(written()).toBe('web | Password: \ndb  | ready\nweb | ok\nweb | tail\n');
    });

    it('starts the 100 ms again with each chunk that leaves a partial line', () => {
      const w = writer();
      w.write(b('.'));
      vi.advanceTimersByTime(80);
      w.write(b('.'));
      vi.advanceTimersByTime(80);
      expect(written()).toBe('');
      vi.advanceTimersByTime(20);
      expect(written()).toBe('web | ..');
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

  describe('long lines: whole up to 1 MiB, never a prefix inside (issue 13)', () => {
    const letters = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');

    it('MAX_LINE is 1 MiB', () => {
      expect(MAX_LINE).toBe(1024 * KIB);
    });

    it('writes a 1 MiB - 1 line that arrives in 16 KiB chunks in one piece, one prefix', () => {
      const w = writer();
      const line = letters(MAX_LINE - 1);
      for (let i = 0; i < line.length; i += 16 * KIB) w.write(b(line.slice(i, i + 16 * KIB)));
      expect(written()).toBe('');
      w.write(b('\n'));
      expect(written()).toBe(`web | ${line}\n`);
    });

    it('a JSON line of 200 KiB in 16 KiB chunks stays one line with one prefix', () => {
      const w = writer();
      const line = JSON.stringify({ level: 'info', data: letters(200 * KIB) });
      for (let i = 0; i < line.length; i += 16 * KIB) w.write(b(line.slice(i, i + 16 * KIB)));
      w.write(b('\n'));
      const out = written();
      expect(out).toBe(`web | ${line}\n`);
      expect(JSON.parse(out.slice('web | '.length))).toMatchObject({ level: 'info' });
    });

    it('past 1 MiB: written as it comes, still one line, one prefix, nothing lost', () => {
      const w = writer();
      const line = letters(3 * MAX_LINE + 5);
      for (let i = 0; i < line.length; i += 64 * KIB) w.write(b(line.slice(i, i + 64 * KIB)));
      // Held no more than MAX_LINE: the first 3 MiB are out before the newline arrives.
      expect(written().length).toBeGreaterThanOrEqual('web | '.length + 3 * MAX_LINE);
      w.write(b('\nafter\n'));
      expect(written()).toBe(`web | ${line}\nweb | after\n`);
    });

    it('past 1 MiB without a newline at all: ended with one at the end of the stream', () => {
      const w = writer('');
      const line = letters(MAX_LINE + 10);
      w.write(b(line));
      w.flush();
      expect(written()).toBe(`${line}\n`);
    });

    it('writes the whole lines before a long tail, then the tail, continued without a prefix', () => {
      const w = writer();
      const tail = 'y'.repeat(MAX_LINE + 1);
      w.write(b(`short\n${tail}`));
      expect(written()).toBe(`web | short\nweb | ${tail}`);
      w.write(b('z\n'));
      expect(written()).toBe(`web | short\nweb | ${tail}z\n`);
    });

    it('writes a long line that ends in its chunk in one piece', () => {
      const w = writer();
      const long = 'z'.repeat(MAX_LINE + KIB);
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
    const web = writer(p.get('web') as string);
    const db = writer(p.get('postgres') as string);
    web.write(b('GET /\n'));
    db.write(b('ready\n'));
    web.write(b('200\n'));
    expect(written()).toBe('web      | GET /\npostgres | ready\nweb      | 200\n');
  });
});
