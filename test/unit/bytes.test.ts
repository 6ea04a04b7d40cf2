import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBytes, encodeText, hasRawBytes } from '../../src/bytes';

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
