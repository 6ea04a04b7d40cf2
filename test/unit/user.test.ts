import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InitError } from '../../src/exit-codes';
import { lookupId, resolveUser } from '../../src/supervisor/user';

let etc: string;
afterAll(() => rmSync(etc, { recursive: true, force: true }));
beforeAll(() => {
  etc = mkdtempSync(join(tmpdir(), 'sesame-etc-'));
  writeFileSync(join(etc, 'passwd'), [
    'root:x:0:0:root:/root:/bin/bash',
    '# a comment',
    'app:x:1000:1000:App:/home/app:/bin/sh',
    'www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin',
    'broken:x:',
    'half:x:77',
  ].join('\n'));
  writeFileSync(join(etc, 'group'), [
    'root:x:0:',
    'app:x:1000:',
    'audio:x:29:app,www-data',
    'video:x:44:www-data,app',
    'staff:x:50:',
    'odd',
  ].join('\n'));
});

describe('resolveUser', () => {
  it('skips a passwd or group line whose ids are not numbers, as glibc does: never uid 0 by accident (found by fuzzing)', () => {
    expect(() => resolveUser('broken', etc)).toThrow(`--user broken: no user "broken" in ${etc}/passwd`);
    expect(() => resolveUser('half', etc)).toThrow(`--user half: no user "half" in ${etc}/passwd`);
    expect(() => resolveUser('app:odd', etc)).toThrow(`--user app:odd: no group "odd" in ${etc}/group`);
    expect(() => lookupId('owner', 'broken', etc)).toThrow('owner "broken" is not in');
    expect(() => lookupId('group', 'odd', etc)).toThrow('group "odd" is not in');
  });

  it('resolves a name with its primary and member groups and home', () => {
    expect(resolveUser('app', etc)).toEqual({ uid: 1000, gid: 1000, groups: [1000, 29, 44], home: '/home/app', spec: 'app' });
  });
  it('resolves a uid that has a passwd entry like its name', () => {
    expect(resolveUser('33', etc)).toMatchObject({ uid: 33, gid: 33, groups: [33, 29, 44], home: '/var/www' });
  });
  it('takes a uid with no entry, with gid 0 and home /, as docker does', () => {
    expect(resolveUser('4242', etc)).toEqual({ uid: 4242, gid: 0, groups: [0], home: '/', spec: '4242', unknownUid: true });
  });
  it('uses only the given group when one is named', () => {
    expect(resolveUser('app:staff', etc)).toMatchObject({ uid: 1000, gid: 50, groups: [50] });
    expect(resolveUser('app:7', etc)).toMatchObject({ uid: 1000, gid: 7, groups: [7] });
    expect(resolveUser('4242:4242', etc)).toMatchObject({ uid: 4242, gid: 4242, groups: [4242] });
  });
  it.each([
    ['nosuch', 67, /no user "nosuch" in .*passwd/],
    ['app:nosuch', 67, /no group "nosuch" in .*group/],
    ['app:', 64, /expected USER, UID, USER:GROUP or UID:GID/],
    [':1', 64, /expected/],
    ['a:b:c', 64, /expected/],
    ['4294967295', 64, /uid 4294967295 is out of range/],
  ])('rejects %j with exit %i', (spec, code, message) => {
    try {
      resolveUser(spec, etc);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InitError);
      expect((error as InitError).exitCode).toBe(code);
      expect((error as InitError).message).toMatch(message);
    }
  });
  it('works with numeric ids when the image has no /etc/passwd', () => {
    expect(resolveUser('1000:1000', join(etc, 'missing'))).toMatchObject({ uid: 1000, gid: 1000, groups: [1000] });
  });
});
