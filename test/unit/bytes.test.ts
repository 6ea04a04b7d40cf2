import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { copyEnvironment, decodeBytes, encodeText, hasRawBytes } from '../../src/bytes';
import { childEnvironment } from '../../src/env';

describe('bytes through strings (surrogateescape)', () => {
  it('valid UTF-8 decodes as usual and has no raw bytes', () => {
    for (const text of ['', 'plain', 'é ü 中文 😀', '\u{1F080}']) {
      expect(decodeBytes(Buffer.from(text))).toBe(text);
      expect(hasRawBytes(text)).toBe(false);
      expect(encodeText(text).equals(Buffer.from(text))).toBe(true);
    }
  });

  it('each invalid byte becomes U+DC80+byte, and encodes back to itself', () => {
    expect(decodeBytes(Buffer.from([0x61, 0xff, 0x62]))).toBe('a\udcffb');
    expect(decodeBytes(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\udced\udca0\udc80'); // an encoded surrogate is not UTF-8
    expect(decodeBytes(Buffer.from([0xc0, 0xaf]))).toBe('\udcc0\udcaf'); // an overlong form neither
    expect(encodeText('a\udcffb').equals(Buffer.from([0x61, 0xff, 0x62]))).toBe(true);
  });

  it('decode then encode is the identity on 2,000 random byte strings', () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(i % 64);
      expect(encodeText(decodeBytes(bytes)).equals(bytes)).toBe(true);
    }
  });
});

describe('environment objects', () => {
  // Names that an object literal treats specially are variables like any other.
  const odd: Array<[string, string]> = [['__proto__', 'a'], ['constructor', 'b'], ['toString', 'c'], ['hasOwnProperty', 'd']];
  const env = (): Record<string, string> => {
    const e = copyEnvironment();
    for (const [k, v] of odd) e[k] = v;
    e.PATH = '/bin';
    return e;
  };

  it('copyEnvironment keeps every name as its own variable, and leaves unset ones out', () => {
    const from: Record<string, string | undefined> = env();
    from.GONE = undefined;
    const copy = copyEnvironment(from);
    expect(Object.getPrototypeOf(copy)).toBe(null);
    expect(Object.entries(copy)).toEqual([...odd, ['PATH', '/bin']]);
  });

  it('the child gets __proto__, constructor and the like as it got every other variable', () => {
    const child = childEnvironment(env(), { requests: [], consumed: [] }, new Map());
    expect(Object.keys(child)).toEqual([...odd.map(([k]) => k), 'PATH']);
    expect(Object.getOwnPropertyDescriptor(child, '__proto__')?.value).toBe('a');
  });
});
