// Bytes that are not UTF-8, carried through JavaScript strings unchanged. Environment
// values and names, binary `file:` secrets and what a template makes of them are bytes to
// the kernel; tini passes them through as they are, and so does init. Inside init they are
// strings (every stage works on text), decoded the way Python's "surrogateescape" does it:
// valid UTF-8 is read as usual, and each byte that is not part of valid UTF-8 becomes the
// lone surrogate U+DC80..U+DCFF, which no valid UTF-8 can produce. Encoding turns those
// back into the very bytes, so decode then encode is the identity on any byte string.
import { isUtf8 } from 'node:buffer';

const ESCAPED = /[\u{DC80}-\u{DCFF}]/u;

/** Bytes -> string, invalid UTF-8 bytes kept as U+DC80+byte. */
export function decodeBytes(bytes: Uint8Array): string {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString('utf8');
  let out = '';
  let i = 0;
  while (i < buffer.length) {
    const length = sequenceLength(buffer, i);
    if (length > 0) {
      out += buffer.toString('utf8', i, i + length);
      i += length;
    } else {
      out += String.fromCharCode(0xdc00 + buffer[i]);
      i += 1;
    }
  }
  return out;
}

/** String -> bytes: UTF-8, with each U+DC80..U+DCFF written as the byte it stands for. */
export function encodeText(text: string): Buffer {
  if (!ESCAPED.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) { i++; continue; } // a pair: ordinary text
    }
    if (unit < 0xdc80 || unit > 0xdcff) continue;
    parts.push(Buffer.from(text.slice(start, i), 'utf8'), Buffer.of(unit - 0xdc00));
    start = i + 1;
  }
  parts.push(Buffer.from(text.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** Does `text` stand for bytes that are not UTF-8? */
export const hasRawBytes = (text: string): boolean => ESCAPED.test(text);

/** Length of the valid UTF-8 sequence at `i` (RFC 3629: no overlongs, surrogates, > U+10FFFF), or 0. */
function sequenceLength(b: Buffer, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number) => i + k < b.length && (b[i + k] & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1];
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1];
    if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0;
    return 4;
  }
  return 0;
}

/**
 * The environment as init received it, byte for byte, in one linear pass. `process.env`
 * decodes lossily (an invalid byte becomes U+FFFD, a name that is not UTF-8 is dropped) and
 * each read of it is a getenv(3), a scan of the whole block: copying it with 100,000
 * variables took seconds. Entries come from `raw` (the native helper's copy of environ), or
 * from /proc/self/environ (the block init was started with), or, failing both, process.env.
 */
export function readEnvironment(raw?: Buffer[]): Record<string, string> {
  let entries = raw;
  if (!entries) {
    try {
      const { readFileSync } = require('node:fs') as typeof import('node:fs');
      const block = readFileSync('/proc/self/environ');
      entries = [];
      for (let start = 0; start < block.length;) {
        let end = block.indexOf(0, start);
        if (end < 0) end = block.length;
        if (end > start) entries.push(block.subarray(start, end));
        start = end + 1;
      }
    } catch {
      return copyEnvironment(process.env);
    }
  }
  const env = copyEnvironment();
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    // Decoded whole, then split: "=" is one byte that no UTF-8 sequence contains and that
    // decodeBytes never escapes, so the first "=" of the text is the first of the bytes.
    const text = decodeBytes(entry);
    const eq = text.indexOf('=');
    // An entry without "=" is no variable (getenv ignores it); "=x" has no name.
    if (eq <= 0) continue;
    const name = text.slice(0, eq);
    // The first of duplicates wins, as getenv(3) finds it.
    if (!(name in env)) env[name] = text.slice(eq + 1);
  }
  return env;
}

/**
 * A new environment object, empty or a copy of `from` (its unset entries left out). It has
 * no prototype, so that every name is a variable like any other (`__proto__`,
 * `constructor`), and it is filled by assignment, never spread: V8 gives an object literal
 * spread from 200 variables a hidden class for each of them, ~0.2 ms a copy, where
 * assignment makes it a dictionary.
 */
export function copyEnvironment(from?: Readonly<Record<string, string | undefined>>, into: Record<string, string> = Object.create(null)): Record<string, string> {
  if (from) for (const name in from) {
    const value = from[name];
    if (value !== undefined) into[name] = value;
  }
  return into;
}
