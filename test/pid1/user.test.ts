// --user resolves names, uids and groups from the image's own /etc/passwd and /etc/group
// (here test-made files bind-mounted over them in a private mount namespace) and the child
// really runs with those credentials: uid, gid and supplementary groups as the kernel sees
// them in /proc/self/status, and file access that depends on a supplementary group.
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAsPid1, withEtcFiles } from '../support/pid1';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:4321:4321:App:/home/app:/bin/sh',
  'other:x:4400:4400:Other:/home/other:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
].join('\n');
const GROUP = [
  'root:x:0:',
  'app:x:4321:',
  'other:x:4400:',
  'audio2:x:5001:app',
  'video2:x:5002:someone,app',
  // Near misses: neither app nor other is a member of this one.
  'staff2:x:5003:apps,other2,xapp',
  'nogroup:x:65534:',
].join('\n');

const ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
/** What the child reports: HOME, then the kernel's view of its credentials. */
const SHOW = 'echo "HOME=$HOME"; exec grep -E "^(Uid|Gid|Groups|NoNewPrivs):" /proc/self/status';
const ids = (uid: number, gid: number, groups: number[]) => [
  `Uid:\t${uid}\t${uid}\t${uid}\t${uid}`,
  `Gid:\t${gid}\t${gid}\t${gid}\t${gid}`,
  `Groups:\t${groups.map((g) => `${g} `).join('')}`, // the kernel ends each group with a space
];

describe('--user', () => {
  let dir: string;
  let passwd: string;
  let group: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-user-'));
    chmodSync(dir, 0o755); // the dropped child must reach the files below
    passwd = join(dir, 'passwd');
    group = join(dir, 'group');
    writeFileSync(passwd, `${PASSWD}\n`, { mode: 0o644 });
    writeFileSync(group, `${GROUP}\n`, { mode: 0o644 });
    writeFileSync(join(dir, 'secret'), 'root only\n', { mode: 0o600 });
    writeFileSync(join(dir, 'shared'), 'audio2 may read\n', { mode: 0o640 });
    chownSync(join(dir, 'shared'), 0, 5001);
    chmodSync(join(dir, 'shared'), 0o640);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** init as PID 1 with our passwd/group over /etc's; `before` runs init (e.g. setpriv ...). */
  const run = (args: string[], options: { env?: NodeJS.ProcessEnv; before?: string[] } = {}) => runAsPid1(args, {
    env: { ...ENV, ...options.env },
    wrap: withEtcFiles(passwd, group, { before: options.before }),
  });

  it('--user app: its uid, primary gid, every group that lists it, and HOME from /etc/passwd', async () => {
    const r = await run(['--user', 'app', '--', 'sh', '-c', SHOW]);
    expect(r.stdout).toBe(['HOME=/home/app', ...ids(4321, 4321, [4321, 5001, 5002]), 'NoNewPrivs:\t0', ''].join('\n'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('--user other: a user listed in no group gets its primary group only', async () => {
    const r = await run(['--user', 'other', '--', 'sh', '-c', SHOW]);
    expect(r.stdout).toBe(['HOME=/home/other', ...ids(4400, 4400, [4400]), 'NoNewPrivs:\t0', ''].join('\n'));
    expect(r.code).toBe(0);
  });

  it('--user app:5002 and app:video2: only that group', async () => {
    for (const spec of ['app:5002', 'app:video2']) {
      const r = await run(['--user', spec, '--', 'sh', '-c', SHOW]);
      expect(r.stdout).toBe(['HOME=/home/app', ...ids(4321, 5002, [5002]), 'NoNewPrivs:\t0', ''].join('\n'));
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });

  it('--user 7777 (not in /etc/passwd): gid 0, HOME=/, and no other group, not even those init had', async () => {
    // init itself starts with supplementary groups 9998,9999: none may reach the child.
    const r = await run(['--user', '7777', '--', 'sh', '-c', 'echo "HOME=$HOME"; exec grep -E "^(Uid|Gid|Groups):" /proc/self/status'],
      { before: ['setpriv', '--groups', '9998,9999', '--'] });
    expect(r.stdout).toBe(['HOME=/', ...ids(7777, 0, [0]), ''].join('\n'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('--user 7777 (not in /etc/passwd) says so at info level: gid 0 and HOME=/, as Docker does', async () => {
    const r = await run(['--log-level', 'info', '--user', '7777', '--', 'true']);
    expect(r.stderr).toBe('sesame: --user 7777: uid 7777 is not in /etc/passwd; running it with gid 0 and HOME=/, as Docker does (give a group, --user 7777:GID, for another)\n');
    expect(r.code).toBe(0);
  });

  it('an unreadable /etc/passwd is an error (77), not an empty one that would run a uid with gid 0', async () => {
    // Init is not root here, so mode 0000 keeps it out; --user 65534 is its own uid.
    const unreadable = join(dir, 'passwd-unreadable');
    writeFileSync(unreadable, `${PASSWD}\n`, { mode: 0o000 });
    chmodSync(unreadable, 0o000);
    const r = await runAsPid1(['--user', '65534', '--', 'sh', '-c', 'echo ran'], {
      env: ENV,
      wrap: withEtcFiles(unreadable, group, { before: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] }),
    });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: cannot read /etc/passwd: EACCES\n');
    expect(r.code).toBe(77);
  });

  it('--user 3000000000:3000000001: ids past 2^31 are set, not read as negative "unchanged" (root)', async () => {
    const r = await run(['--user', '3000000000:3000000001', '--', 'sh', '-c', 'exec grep -E "^(Uid|Gid|Groups):" /proc/self/status']);
    expect(r.stdout).toBe([...ids(3000000000, 3000000001, [3000000001]), ''].join('\n'));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('SESAME_USER=app works like --user app and does not reach the child', async () => {
    const r = await run(['--', 'sh', '-c', `echo "SESAME_USER=\${SESAME_USER-unset}"; ${SHOW}`], { env: { SESAME_USER: 'app' } });
    expect(r.stdout).toBe(['SESAME_USER=unset', 'HOME=/home/app', ...ids(4321, 4321, [4321, 5001, 5002]), 'NoNewPrivs:\t0', ''].join('\n'));
    expect(r.code).toBe(0);
  });

  it('--user nosuch: exit 67 with one line naming the user; the command never runs', async () => {
    const r = await run(['--user', 'nosuch', '--', 'sh', '-c', 'echo ran']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: --user nosuch: no user "nosuch" in /etc/passwd\n');
    expect(r.code).toBe(67);
  });

  it('--user app:nosuchgroup: exit 67 with one line naming the group', async () => {
    const r = await run(['--user', 'app:nosuchgroup', '--', 'sh', '-c', 'echo ran']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: --user app:nosuchgroup: no group "nosuchgroup" in /etc/group\n');
    expect(r.code).toBe(67);
  });

  it('--no-new-privs sets NoNewPrivs in the child (and SESAME_NO_NEW_PRIVS=1 too)', async () => {
    const expected = ['HOME=/home/app', ...ids(4321, 4321, [4321, 5001, 5002]), 'NoNewPrivs:\t1', ''].join('\n');
    const flag = await run(['--no-new-privs', '--user', 'app', '--', 'sh', '-c', SHOW]);
    expect(flag.stdout).toBe(expected);
    expect(flag.stderr).toBe('');
    expect(flag.code).toBe(0);
    const variable = await run(['--user', 'app', '--', 'sh', '-c', SHOW], { env: { SESAME_NO_NEW_PRIVS: '1' } });
    expect(variable.stdout).toBe(expected);
    expect(variable.code).toBe(0);
  });

  it('exits 77 with a clear message when init is not root', async () => {
    const r = await run(['--user', 'app', '--', 'sh', '-c', 'echo ran'],
      { before: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: --user app: setgroups failed: Operation not permitted (init is not root)\n');
    expect(r.code).toBe(77);
  });

  it('exits 77 naming CAP_SETUID and CAP_SETGID when init is root without them (docker run --cap-drop ALL)', async () => {
    const r = await run(['--user', 'app', '--', 'sh', '-c', 'echo ran'],
      { before: ['setpriv', '--bounding-set=-setuid,-setgid', '--inh-caps=-setuid,-setgid', '--'] });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: --user app: setgroups failed: Operation not permitted (init is root but lacks CAP_SETUID and CAP_SETGID: '
      + 'the container\'s capabilities were dropped (e.g. --cap-drop ALL); add --cap-add SETUID --cap-add SETGID, or start the container as the user (docker run --user))\n');
    expect(r.code).toBe(77);
  });

  it('names only the one that is missing (CAP_SETUID here: setgroups and setgid pass)', async () => {
    const r = await run(['--user', 'app', '--', 'sh', '-c', 'echo ran'], { before: ['setpriv', '--bounding-set=-setuid', '--'] });
    expect(r.stderr).toMatch(/^sesame: error: --user app: setuid failed: Operation not permitted \(init is root but lacks CAP_SETUID: .*add --cap-add SETUID, or/);
    expect(r.code).toBe(77);
  });

  it('supplementary groups really apply: app reads a root:audio2 0640 file, not a root 0600 one', async () => {
    const script = `cat ${dir}/secret; echo "secret $?"; cat ${dir}/shared; echo "shared $?"; exit 5`;
    const member = await run(['--user', 'app', '--', 'sh', '-c', script]);
    expect(member.stdout).toBe('secret 1\naudio2 may read\nshared 0\n');
    expect(member.stderr).toBe(`cat: ${dir}/secret: Permission denied\n`);
    expect(member.code).toBe(5);
    // The same user with only its primary group is refused both.
    const primaryOnly = await run(['--user', 'app:app', '--', 'sh', '-c', script]);
    expect(primaryOnly.stdout).toBe('secret 1\nshared 1\n');
    expect(primaryOnly.stderr).toBe(`cat: ${dir}/secret: Permission denied\ncat: ${dir}/shared: Permission denied\n`);
    expect(primaryOnly.code).toBe(5);
  });
});
