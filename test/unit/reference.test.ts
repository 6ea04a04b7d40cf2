import { describe, expect, it } from 'vitest';
import { InitError } from '../../src/exit-codes';
import { looksLikeReference, parseReference } from '../../src/secrets/reference';

describe('parseReference', () => {
  it.each([
    ['vault:secret/app#password', { scheme: 'vault', path: 'secret/app', key: 'password', version: undefined }],
    ['vault:secret/data/app#password#3', { scheme: 'vault', path: 'secret/data/app', key: 'password', version: 3 }],
    ['vault:/kv/team/db/#user', { scheme: 'vault', path: 'kv/team/db', key: 'user' }],
    ['vault:secret/my app#key with space', { scheme: 'vault', path: 'secret/my app', key: 'key with space' }],
    ['keywhiz:Nobody_PgPass', { scheme: 'keywhiz', name: 'Nobody_PgPass' }],
    ['file:/run/secrets/db_password', { scheme: 'file', path: '/run/secrets/db_password' }],
  ])('%s', (text, expected) => {
    expect(parseReference(text, 'X')).toMatchObject({ ...expected, text });
  });

  it.each([
    ['vault:secret/app', 'X: missing #key (e.g. vault:secret/app#password) in secret reference "vault:secret/app"'],
    ['vault:secret/app#', 'X: missing #key'],
    ['vault:#key', 'X: empty path'],
    ['vault:app#key', 'X: path needs a mount and a secret name'],
    ['vault:secret//app#key', 'X: empty, "." or ".." path segment'],
    ['vault:secret/../sys#key', 'X: empty, "." or ".." path segment'],
    ['vault:secret/app#k#0', 'X: version "0" is not a positive whole number'],
    ['vault:secret/app#k#latest', 'X: version "latest" is not a positive whole number'],
    ['vault:secret/app#k#1#2', 'X: too many "#"'],
    ['keywhiz:', 'X: empty secret name'],
    ['keywhiz:a/b', 'X: a Keywhiz secret name has no "/"'],
    ['file:', 'X: empty path'],
    ['file:relative/path', 'X: the path must be absolute'],
    ['aws:secret', 'X: unknown scheme "aws" (expected vault:, keywhiz:, file:)'],
  ])('rejects %s as a configuration error naming the variable', (text, message) => {
    try {
      parseReference(text, 'X');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InitError);
      expect((error as InitError).exitCode).toBe(78);
      expect((error as InitError).message.startsWith(message)).toBe(true);
    }
  });

  it('recognises only the three schemes as references', () => {
    expect(looksLikeReference('vault:x')).toBe(true);
    expect(looksLikeReference('file:/x')).toBe(true);
    expect(looksLikeReference('keywhiz:x')).toBe(true);
    expect(looksLikeReference('https://vault:8200')).toBe(false);
    expect(looksLikeReference('VAULT:x')).toBe(false);
    expect(looksLikeReference('file:///etc/hosts')).toBe(false); // a URL, the application's
  });
});
