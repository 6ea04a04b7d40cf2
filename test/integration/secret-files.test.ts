// Secrets that go to files (config file targets) and file: sources, through the built init
// as PID 1, as root: the mode (0400 unless the config or Keywhiz's metadata says otherwise),
// the owner and group (names from a test-made /etc/passwd and /etc/group bind-mounted in a
// private mount namespace, or numbers), directory targets named by Keywhiz's filename, the
// atomic write, file: references with their trailing newline dropped, the NAME_FILE
// convention of Docker secrets, and values such as DATABASE_URL=file:/data/app.db that only
// look like references.
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/exit-codes';
import { makePki } from '../support/certs';
import { startKeywhiz, type KeywhizServer } from '../support/keywhiz-server';
import { modeAndOwner, runAsPid1, startAsPid1, withEtcFiles, type Finished } from '../support/pid1';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:4321:4321:App:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
].join('\n');
const GROUP = ['root:x:0:', 'app:x:4321:', 'audio2:x:5001:app', 'nogroup:x:65534:'].join('\n');

const pki = makePki();
const app = pki.client('app');

let dir: string;
let kw: KeywhizServer;
let passwd: string;
let group: string;
let counter = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-files-'));
  chmodSync(dir, 0o755); // a child running as app must reach its files
  passwd = join(dir, 'passwd');
  group = join(dir, 'group');
  writeFileSync(passwd, `${PASSWD}\n`, { mode: 0o644 });
  writeFileSync(group, `${GROUP}\n`, { mode: 0o644 });
  kw = await startKeywhiz({
    pki,
    clients: { app: { secrets: ['plain', 'moded', 'wide', 'owned', 'named'] } },
    secrets: {
      plain: { content: 'plain secret' },
      moded: { content: 'moded secret', mode: '0640' },
      wide: { content: 'wide secret', mode: '0777' },
      owned: { content: 'owned secret', owner: 'app', group: 'audio2' },
      named: { content: 'named secret', filename: 'server.key', mode: '0444' },
    },
  });
});
afterAll(async () => {
  await kw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the test's own for one test's files. */
function scratch(): string {
  const d = join(dir, `t${++counter}`);
  mkdirSync(d, { mode: 0o755 });
  return d;
}

/** Write `yaml` as a config file in `d`; returns its path. */
function config(d: string, yaml: string): string {
  const path = join(d, 'sesame.yaml');
  writeFileSync(path, yaml);
  return path;
}

/** A source file for file: references. */
function source(d: string, name: string, content: string | Buffer, mode = 0o600): string {
  const path = join(d, name);
  writeFileSync(path, content, { mode });
  return path;
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Shell commands run inside the private mount namespace before init (e.g. mounts). */
  setup?: string;
}

/**
 * init as PID 1 with our passwd/group bind-mounted over /etc's in a private mount namespace,
 * only PATH, the Keywhiz settings and `env` in its environment.
 */
function run(args: string[], options: RunOptions = {}): Promise<Finished> {
  return runAsPid1(args, {
    env: {
      PATH,
      SESAME_KEYWHIZ_SERVER: kw.url,
      SESAME_KEYWHIZ_CERT: app.certPath,
      SESAME_KEYWHIZ_KEY: app.keyPath,
      SESAME_KEYWHIZ_CA: pki.ca.certPath,
      ...options.env,
    },
    wrap: withEtcFiles(passwd, group, { setup: options.setup }),
  });
}

const owner = modeAndOwner;

describe('config file targets', () => {
  it('writes a secret with mode 0400, owned by root, by default', async () => {
    const d = scratch();
    const cfg = config(d, `secrets:\n  - ref: keywhiz:plain\n    file: ${d}/out/plain\n`);
    const r = await run(['--config', cfg, '--', 'cat', `${d}/out/plain`]);
    expect(r.stdout).toBe('plain secret');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(owner(`${d}/out/plain`)).toBe('0400 0:0');
    // The missing directory was made, 0755.
    expect(statSync(`${d}/out`).mode & 0o7777).toBe(0o755);
  });

  it('uses the config\'s mode: 0440 (YAML 1.1 octal) and "0600" (a string)', async () => {
    const d = scratch();
    const cfg = config(d, [
      'secrets:',
      `  - { ref: keywhiz:plain, file: ${d}/a, mode: 0440 }`,
      `  - { ref: keywhiz:plain, file: ${d}/b, mode: "0600" }`,
      '',
    ].join('\n'));
    const r = await run(['--config', cfg, '--', 'true']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(owner(`${d}/a`)).toBe('0440 0:0');
    expect(owner(`${d}/b`)).toBe('0600 0:0');
  });

  it('uses Keywhiz\'s mode metadata masked to read bits (0640 -> 0440, 0777 -> 0444); the config\'s mode wins', async () => {
    const d = scratch();
    const cfg = config(d, [
      'secrets:',
      `  - { ref: keywhiz:moded, file: ${d}/moded }`,
      `  - { ref: keywhiz:wide, file: ${d}/wide }`,
      `  - { ref: keywhiz:moded, file: ${d}/configured, mode: 0400 }`,
      '',
    ].join('\n'));
    const r = await run(['--config', cfg, '--', 'true']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(owner(`${d}/moded`)).toBe('0440 0:0');
    expect(owner(`${d}/wide`)).toBe('0444 0:0');
    expect(owner(`${d}/configured`)).toBe('0400 0:0');
    expect(readFileSync(`${d}/moded`, 'utf8')).toBe('moded secret');
  });

  it('sets owner and group by name from /etc/passwd and /etc/group; the child running as that user reads it', async () => {
    const d = scratch();
    const cfg = config(d, `secrets:\n  - { ref: keywhiz:plain, file: ${d}/app-secret, owner: app, group: audio2 }\n`);
    const r = await run(['--config', cfg, '--user', 'app', '--', 'sh', '-c', `cat ${d}/app-secret; echo " as $(id -u)"`]);
    expect(r.stdout).toBe('plain secret as 4321\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(owner(`${d}/app-secret`)).toBe('0400 4321:5001');
  });

  it('sets owner and group by number (YAML numbers), without needing them in /etc', async () => {
    const d = scratch();
    const cfg = config(d, `secrets:\n  - { ref: keywhiz:plain, file: ${d}/numeric, owner: 7001, group: 7002, mode: 0440 }\n`);
    const r = await run(['--config', cfg, '--', 'true']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(owner(`${d}/numeric`)).toBe('0440 7001:7002');
  });

  it('takes owner and group from Keywhiz\'s metadata unless the config sets them', async () => {
    const d = scratch();
    const cfg = config(d, [
      'secrets:',
      `  - { ref: keywhiz:owned, file: ${d}/from-metadata }`,
      `  - { ref: keywhiz:owned, file: ${d}/from-config, owner: nobody }`,
      '',
    ].join('\n'));
    const r = await run(['--config', cfg, '--', 'true']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(owner(`${d}/from-metadata`)).toBe('0400 4321:5001');
    expect(owner(`${d}/from-config`)).toBe('0400 65534:5001');
  });

  it('an owner the image does not know: exit 67 naming it; the previous file is untouched and no temp file is left', async () => {
    const d = scratch();
    const previous = source(d, 'secret', 'previous content', 0o400);
    const cfg = config(d, `secrets:\n  - { ref: keywhiz:plain, file: ${previous}, owner: nosuch }\n`);
    const r = await run(['--config', cfg, '--', 'sh', '-c', 'echo started']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sesame: error: ${cfg}: secrets[0]: owner "nosuch" is not in /etc/passwd\n`);
    expect(r.code).toBe(EXIT.NO_USER);
    expect(readFileSync(previous, 'utf8')).toBe('previous content');
    expect(owner(previous)).toBe('0400 0:0');
    expect(readdirSync(d).sort()).toEqual(['secret', 'sesame.yaml']);
  });

  it('a group the image does not know: exit 67 naming it', async () => {
    const d = scratch();
    const cfg = config(d, `secrets:\n  - { ref: keywhiz:plain, file: ${d}/x, group: nosuch }\n`);
    const r = await run(['--config', cfg, '--', 'sh', '-c', 'echo started']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sesame: error: ${cfg}: secrets[0]: group "nosuch" is not in /etc/group\n`);
    expect(r.code).toBe(EXIT.NO_USER);
    expect(readdirSync(d)).toEqual(['sesame.yaml']);
  });

  it('an owner id out of range is a config error that names the owner, not --user', async () => {
    const d = scratch();
    const cfg = config(d, `secrets:\n  - { ref: keywhiz:plain, file: ${d}/x, owner: "4294967295" }\n`);
    const r = await run(['--config', cfg, '--', 'sh', '-c', 'echo started']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sesame: error: ${cfg}: secrets[0]: owner 4294967295 is out of range\n`);
    expect(r.code).toBe(EXIT.CONFIG);
  });

  it('a write that fails half way (disk full) leaves the previous file whole and removes the temp file', async () => {
    const d = scratch();
    const mnt = join(d, 'mnt');
    mkdirSync(mnt);
    const big = source(d, 'big', 'x'.repeat(64 * 1024));
    const cfg = config(d, `secrets:\n  - { ref: "file:${big}", file: ${mnt}/secret }\n`);
    // A 16 KiB tmpfs in an outer mount namespace, so that the shell can look at it after init.
    const r = await runAsPid1(['--config', cfg, '--', 'sh', '-c', 'echo started'], {
      env: { PATH },
      wrap: (initArgv) => ['unshare', '--mount', 'sh', '-c', [
        'mount -t tmpfs -o size=16k,mode=755 tmpfs "$1" || exit 99',
        'printf "previous content" >"$1/secret"; chmod 400 "$1/secret"',
        'm=$1; shift',
        'unshare --pid --fork --mount-proc "$@"; rc=$?',
        'echo "left: $(ls -A "$m")"; echo "content: $(cat "$m/secret")"; exit $rc',
      ].join('\n'), 'sh', mnt, ...initArgv],
    });
    // A full disk is the system's, not the configuration's: 71, with what ENOSPC means.
    expect(r.stderr).toBe(`sesame: error: ${cfg}: secrets[0]: cannot write ${mnt}/secret: ENOSPC: no space left on device\n`);
    expect(r.stdout).toBe('left: secret\ncontent: previous content\n');
    expect(r.code).toBe(EXIT.OS_ERROR);
  });

  it('replaces an existing file atomically: new content, new mode, same path', async () => {
    const d = scratch();
    const previous = source(d, 'secret', 'previous content', 0o644);
    const cfg = config(d, `secrets:\n  - { ref: keywhiz:plain, file: ${previous} }\n`);
    const before = statSync(previous).ino;
    const r = await run(['--config', cfg, '--', 'true']);
    expect(r.code).toBe(0);
    expect(readFileSync(previous, 'utf8')).toBe('plain secret');
    expect(owner(previous)).toBe('0400 0:0');
    expect(statSync(previous).ino).not.toBe(before); // a new file renamed over the old one
    expect(readdirSync(d).sort()).toEqual(['secret', 'sesame.yaml']);
  });
});

describe('a symlink at the target', () => {
  it('is replaced by the file, not followed: what it pointed to is untouched', async () => {
    const d = scratch();
    const victim = source(d, 'victim', 'not to be overwritten', 0o644);
    symlinkSync(victim, join(d, 'target'));
    const cfg = config(d, `secrets:\n  - { ref: keywhiz:plain, file: ${d}/target }\n`);
    const r = await run(['--config', cfg, '--', 'true']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('not to be overwritten');
    expect(lstatSync(`${d}/target`).isFile()).toBe(true);
    expect(readFileSync(`${d}/target`, 'utf8')).toBe('plain secret');
    expect(owner(`${d}/target`)).toBe('0400 0:0');
  });
});

describe('directory targets (file ending in "/")', () => {
  it('names the file by Keywhiz\'s filename metadata, else by the secret\'s name; file: sources by their base name', async () => {
    const d = scratch();
    const src = source(d, 'token.txt', 'file token\n');
    const cfg = config(d, [
      'secrets:',
      `  - { ref: keywhiz:named, file: ${d}/secrets/ }`,
      `  - { ref: keywhiz:plain, file: ${d}/secrets/ }`,
      `  - { ref: "file:${src}", file: ${d}/secrets/ }`,
      '',
    ].join('\n'));
    const r = await run(['--config', cfg, '--', 'true']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(`${d}/secrets`).sort()).toEqual(['plain', 'server.key', 'token.txt']);
    expect(readFileSync(`${d}/secrets/server.key`, 'utf8')).toBe('named secret');
    expect(owner(`${d}/secrets/server.key`)).toBe('0444 0:0');
    expect(readFileSync(`${d}/secrets/plain`, 'utf8')).toBe('plain secret');
    expect(readFileSync(`${d}/secrets/token.txt`, 'utf8')).toBe('file token');
    expect(owner(`${d}/secrets/token.txt`)).toBe('0400 0:0');
  });
});

describe('file: references', () => {
  it('into variables, from the environment and from the config: trailing newlines (and CRs) dropped, inner ones kept', async () => {
    const d = scratch();
    const a = source(d, 'a', 's3cret\r\n\n');
    const b = source(d, 'b', 'line 1\nline 2\n');
    const cfg = config(d, `secrets:\n  - { ref: "file:${b}", env: TOKEN }\n`);
    const r = await run(['--config', cfg, '--', 'sh', '-c', 'printf "[%s] [%s]" "$PASSWORD" "$TOKEN"'], { env: { PASSWORD: `file:${a}` } });
    expect(r.stdout).toBe('[s3cret] [line 1\nline 2]');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('into files: the trailing newline dropped there too; other bytes exact', async () => {
    const d = scratch();
    const text = source(d, 'text', 'from a file\n');
    const bytes = Buffer.from([0x00, 0xff, 0x0a, 0x80, 0x0d, 0x0a]);
    const binary = source(d, 'binary', bytes);
    const cfg = config(d, [
      'secrets:',
      `  - { ref: "file:${text}", file: ${d}/out/text }`,
      `  - { ref: "file:${binary}", file: ${d}/out/binary, mode: 0440 }`,
      '',
    ].join('\n'));
    const r = await run(['--config', cfg, '--', 'true']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readFileSync(`${d}/out/text`, 'utf8')).toBe('from a file');
    expect(readFileSync(`${d}/out/binary`)).toEqual(bytes.subarray(0, 4));
    expect(owner(`${d}/out/binary`)).toBe('0440 0:0');
  });

  it('a missing source file: exit 69 naming it; a directory: 78', async () => {
    const d = scratch();
    const missing = await run(['--', 'sh', '-c', 'echo started'], { env: { TOKEN: `file:${d}/nope` } });
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe(`sesame: error: TOKEN: file:${d}/nope: no such file ${d}/nope (if TOKEN is not a secret reference, list it in SESAME_LITERAL)\n`);
    expect(missing.code).toBe(EXIT.UNAVAILABLE);
    const cfg = config(d, `secrets:\n  - { ref: "file:${d}", env: TOKEN }\n`);
    const directory = await run(['--config', cfg, '--', 'sh', '-c', 'echo started']);
    expect(directory.stdout).toBe('');
    expect(directory.stderr).toBe(`sesame: error: ${cfg}: secrets[0]: file:${d}: ${d} is a directory\n`);
    expect(directory.code).toBe(EXIT.CONFIG);
  });

  it('a source larger than 1 MiB is not a secret file: 78', async () => {
    const d = scratch();
    const big = source(d, 'big', Buffer.alloc(1024 * 1024 + 1, 'x'));
    const cfg = config(d, `secrets:\n  - { ref: "file:${big}", env: BIG }\n`);
    const r = await run(['--config', cfg, '--', 'sh', '-c', 'echo started']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sesame: error: ${cfg}: secrets[0]: file:${big}: ${big} is larger than 1 MiB: not a secret file\n`);
    expect(r.code).toBe(EXIT.CONFIG);
  });

  // A FIFO blocks the open until a writer comes, and /dev/zero never ends (reading it whole
  // grew init to 9 GB in 20 s): the 1 MiB limit must hold while reading, for any file.
  it('a source that is not a regular file (a FIFO) is refused at once: 78', async () => {
    const d = scratch();
    const fifo = join(d, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const running = startAsPid1(['--', 'sh', '-c', 'echo started'], { env: { PATH, TOKEN: `file:${fifo}` } });
    // A guard, not a synchronisation: init that is stuck is stopped so the test can fail.
    let guard: NodeJS.Timeout | undefined;
    const stuck = new Promise<'stuck'>((resolve) => { guard = setTimeout(() => resolve('stuck'), 3000); });
    const first = await Promise.race([running.done, stuck]);
    clearTimeout(guard);
    if (first === 'stuck') await running.signal('SIGKILL');
    const r = await running.done;
    expect(first).not.toBe('stuck');
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sesame: error: TOKEN: file:${fifo}: ${fifo} is not a regular file (if TOKEN is not a secret reference, list it in SESAME_LITERAL)\n`);
    expect(r.code).toBe(EXIT.CONFIG);
  });
});

describe('NAME_FILE', () => {
  // A tmpfs over /run in the private mount namespace, holding /run/secrets as Docker mounts it.
  const secretsMount = 'mount -t tmpfs -o mode=755 tmpfs /run; mkdir /run/secrets; printf "pg s3cret\\n" >/run/secrets/db_password';

  it('NAME_FILE=/run/secrets/x fills NAME from the file; the child sees NAME only; other *_FILE variables pass', async () => {
    const r = await run(['--', 'sh', '-c', 'printf "%s|%s|%s" "$DB_PASSWORD" "${DB_PASSWORD_FILE-unset}" "$LOG_FILE"'], {
      env: { DB_PASSWORD_FILE: '/run/secrets/db_password', LOG_FILE: '/var/log/app.log' },
      setup: secretsMount,
    });
    expect(r.stdout).toBe('pg s3cret|unset|/var/log/app.log');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('NAME_FILE naming a missing secret file: exit 69, without the SESAME_LITERAL hint', async () => {
    const r = await run(['--', 'sh', '-c', 'echo started'], { env: { API_KEY_FILE: '/run/secrets/api_key' }, setup: secretsMount });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: API_KEY_FILE: file:/run/secrets/api_key: no such file /run/secrets/api_key\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('NAME and NAME_FILE both set: exit 78', async () => {
    const r = await run(['--', 'sh', '-c', 'echo started'], {
      env: { DB_PASSWORD: 'inline', DB_PASSWORD_FILE: '/run/secrets/db_password' },
      setup: secretsMount,
    });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: both DB_PASSWORD and DB_PASSWORD_FILE are set: keep one\n');
    expect(r.code).toBe(EXIT.CONFIG);
  });
});

describe('values that only look like file: references', () => {
  it('DATABASE_URL=file:/data/app.db (no such file): exit 69 with a hint about SESAME_LITERAL', async () => {
    const r = await run(['--', 'sh', '-c', 'echo started'], { env: { DATABASE_URL: 'file:/data/app.db' } });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DATABASE_URL: file:/data/app.db: no such file /data/app.db (if DATABASE_URL is not a secret reference, list it in SESAME_LITERAL)\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('an existing binary file there (a real SQLite database) cannot be a value: 78, with the same hint', async () => {
    const d = scratch();
    const db = source(d, 'app.db', Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(64)]), 0o644);
    const r = await run(['--', 'sh', '-c', 'echo started'], { env: { DATABASE_URL: `file:${db}` } });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sesame: error: DATABASE_URL: file:${db}: the value contains a NUL byte, which an environment variable cannot hold (if DATABASE_URL is not a secret reference, list it in SESAME_LITERAL)\n`);
    expect(r.code).toBe(EXIT.CONFIG);
  });

  it('SESAME_LITERAL=DATABASE_URL passes it through unchanged', async () => {
    const r = await run(['--', 'sh', '-c', 'printf "%s|%s" "$DATABASE_URL" "${SESAME_LITERAL-unset}"'], {
      env: { DATABASE_URL: 'file:/data/app.db', SESAME_LITERAL: 'OTHER, DATABASE_URL' },
    });
    expect(r.stdout).toBe('file:/data/app.db|unset');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('a relative SQLite URI (file:app.db) gets the SESAME_LITERAL hint too', async () => {
    const r = await run(['--', 'sh', '-c', 'echo started'], { env: { DATABASE_URL: 'file:app.db?mode=ro' } });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DATABASE_URL: the path must be absolute (e.g. file:/run/secrets/db_password) in secret reference "file:app.db?mode=ro" (if DATABASE_URL is not a secret reference, list it in SESAME_LITERAL)\n');
    expect(r.code).toBe(EXIT.CONFIG);
  });
});
