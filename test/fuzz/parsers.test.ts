// The parsers a user feeds, on random input (fast-check; test/support/fuzz.ts): each returns
// a value or fails with the error its caller turns into one line and an exit code (an Error
// with a message, or an InitError with its code), never a TypeError, a RangeError or a hang;
// and on generated valid input each gives what the input says.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/file';
import { parseBoolean, parseDuration, parseRewrites, parseSignal } from '../../src/config/values';
import { InitError } from '../../src/exit-codes';
import { parseReference } from '../../src/secrets/reference';
import { FORWARDED_SIGNALS } from '../../src/supervisor/early-signals';
import { resolveUser } from '../../src/supervisor/user';
import { parseSize } from '../../src/template/limits';
import { runProperty } from '../support/fuzz';

/** The failure a parser may have: a plain Error with a message of its own (not a JS engine's). */
function isOwnError(error: unknown): boolean {
  return error instanceof Error && !(error instanceof TypeError) && !(error instanceof RangeError) && !(error instanceof SyntaxError)
    && !(error instanceof ReferenceError) && error.message.length > 0;
}

/** `parse(text)` returns, or fails with isOwnError (and, for an InitError, one of `codes`). */
function total<T>(parse: (text: string) => T, codes?: number[]): (text: string) => void {
  return (text) => {
    try {
      parse(text);
    } catch (error) {
      if (!isOwnError(error)) throw error;
      if (codes) {
        expect(error).toBeInstanceOf(InitError);
        expect(codes).toContain((error as InitError).exitCode);
      }
    }
  };
}

/** Text near what users type: printable and control characters, digits, unit letters, separators. */
const texty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.stringMatching(/^[0-9a-zA-Z.:,#/_ \t-]{0,30}$/),
);

describe('secret references', () => {
  it('any text: a reference or a 78', () => {
    runProperty(fc.property(fc.oneof(texty, fc.constantFrom('vault:', 'keywhiz:', 'file:').chain((s) => texty.map((t) => s + t))), total((t) => parseReference(t, 'X'), [78])));
  });

  const segment = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
  it('generated vault:path#key[#version] parse to their parts', () => {
    runProperty(fc.property(fc.array(segment, { minLength: 2, maxLength: 5 }), fc.stringMatching(/^[^#]{1,16}$/), fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: undefined }), (path, key, version) => {
      const text = `vault:${path.join('/')}#${key}${version === undefined ? '' : `#${version}`}`;
      expect(parseReference(text, 'X')).toEqual({ scheme: 'vault', path: path.join('/'), key, version, text });
    }));
  });
});

describe('durations, sizes, booleans, signals and rewrite rules', () => {
  it('durations: any text gives a finite whole number of ms, or an error', () => {
    runProperty(fc.property(texty, (text) => {
      try {
        const ms = parseDuration(text);
        expect(Number.isSafeInteger(ms) && ms >= 0, `${JSON.stringify(text)} -> ${ms}`).toBe(true);
      } catch (error) {
        if (!isOwnError(error)) throw error;
      }
    }));
  });

  it('durations: generated 1h2m3s4ms forms add up', () => {
    runProperty(fc.property(fc.nat(100), fc.nat(100), fc.nat(100), fc.nat(1000), (h, m, s, ms) => {
      expect(parseDuration(`${h}h${m}m${s}s${ms}ms`)).toBe(h * 3_600_000 + m * 60_000 + s * 1000 + ms);
    }));
  });

  it('sizes: any text gives a positive safe integer, or an error', () => {
    runProperty(fc.property(texty, (text) => {
      try {
        const n = parseSize(text);
        expect(Number.isSafeInteger(n) && n >= 1).toBe(true);
      } catch (error) {
        if (!isOwnError(error)) throw error;
      }
    }));
  });

  it('booleans and signals: a value or an error', () => {
    runProperty(fc.property(texty, (text) => {
      total(parseBoolean)(text);
      total(parseSignal)(text);
    }));
  });

  it('rewrite rules: any text gives a map of forwarded signals to 0..64, or an error', () => {
    const forwarded = new Set(FORWARDED_SIGNALS.map((name) => parseSignal(name)));
    runProperty(fc.property(fc.oneof(texty, fc.array(fc.tuple(fc.integer({ min: -2, max: 70 }), fc.integer({ min: -2, max: 70 }))).map((pairs) => pairs.map(([a, b]) => `${a}:${b}`).join(','))), (text) => {
      try {
        for (const [from, to] of parseRewrites(text)) {
          expect(forwarded.has(from)).toBe(true);
          expect(to >= 0 && to <= 64).toBe(true);
        }
      } catch (error) {
        if (!isOwnError(error)) throw error;
      }
    }));
  });
});

describe('--user', () => {
  const etc = mkdtempSync(join(tmpdir(), 'sesame-fuzz-etc-'));
  afterAll(() => rmSync(etc, { recursive: true, force: true }));
  writeFileSync(join(etc, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nbroken:x:\n::::::\n');
  writeFileSync(join(etc, 'group'), 'root:x:0:\napp:x:1000:\nstaff:x:50:app,,\nodd\n');
  it('any spec: a user with ids in range, or 64/67', () => {
    runProperty(fc.property(fc.oneof(texty, fc.tuple(fc.oneof(fc.constantFrom('app', 'root', 'broken', ''), fc.stringMatching(/^\d{1,12}$/)), fc.option(fc.oneof(fc.constantFrom('app', 'staff', 'odd', ''), fc.stringMatching(/^\d{1,12}$/)))).map(([u, g]) => (g === null ? u : `${u}:${g}`))), (spec) => {
      try {
        const user = resolveUser(spec, etc);
        for (const id of [user.uid, user.gid, ...user.groups]) expect(Number.isInteger(id) && id >= 0 && id <= 2 ** 32 - 2, `${spec}: ${id}`).toBe(true);
        expect(typeof user.home).toBe('string');
      } catch (error) {
        if (!(error instanceof InitError)) throw error;
        expect([64, 67]).toContain(error.exitCode);
      }
    }));
  });
});

describe('the YAML config file', () => {
  const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.double({ noNaN: false }), fc.constantFrom('0400', '10s', 'on-failure:2', 'TERM', 'service_healthy', '/bin/true', 'CMD', 'NONE'));
  const value = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.constantFrom('command', 'env', 'ref', 'file', 'name', 'src', 'dest', 'mode', 'test', 'x', 'depends_on', 'condition', 'environment', 'healthcheck', 'restart', 'ready', 'tcp', 'http', 'user', 'oneshot', 'secrets', 'interval'), tie('node'), { maxKeys: 4 })),
  })).node;
  const configLike = fc.record({
    secrets: fc.option(fc.array(value, { maxLength: 3 })),
    templates: fc.option(fc.array(value, { maxLength: 3 })),
    services: fc.option(fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), value, { maxKeys: 3 })),
    main: fc.option(scalar),
    signals: fc.option(scalar),
    prefix: fc.option(scalar),
  }, { requiredKeys: [] });

  it('random documents near the schema: a config or one 78 line naming the file', async () => {
    const YAML = await import('yaml');
    runProperty(fc.property(configLike, (doc) => {
      const text = YAML.stringify(doc, { version: '1.1' });
      try {
        parseConfig(text, '/c.yaml');
      } catch (error) {
        if (!(error instanceof InitError)) throw new Error(`${JSON.stringify(text)}: ${(error as Error)?.stack ?? error}`);
        expect(error.exitCode).toBe(78);
        expect(error.message.startsWith('/c.yaml')).toBe(true);
      }
    }));
  });

  it('random text: a config or one 78 line naming the file', () => {
    runProperty(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fc.constantFrom('services:', '  a:', '    command: ', '[', ']', '{', '}', '&x', '*x', '<<: *x', '- ', '!!binary', '!!str', '"\\0"', 'yes', '0o7', '~', '\t', ':', '#', '\n', '? ', '|', '>')).map((parts) => parts.join(''))), (text) => {
      try {
        parseConfig(text, '/c.yaml');
      } catch (error) {
        if (!(error instanceof InitError)) throw new Error(`${JSON.stringify(text)}: ${(error as Error)?.stack ?? error}`);
        expect(error.exitCode).toBe(78);
      }
    }));
  });
});
