// vault: references end to end: the built init as PID 1 (under unshare) reads KV secrets from
// the test Vault server (test/support/vault-server.ts) with the `vault` CLI's variables and
// init's SESAME_VAULT_* logins, starts its child with them, or fails closed with one line per
// failed reference and the exit code of its kind (69 unavailable or not found, 77 denied, 78
// configuration). Assertions are on the child's output, the exit code, the exact stderr, and
// the server's request log.
//
// After every test, from the server's request log: each request carried
// `X-Vault-Request: true` and no `Authorization` header; a Vault token (root, created, or
// issued by a login) travelled only in `X-Vault-Token`, never in a path, query, body or other
// header (a wrapping token also in sys/wrapping/lookup's body, where Vault wants it); and a
// login credential (secret_id, JWT, password) only in the body of its login request.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/exit-codes';
import { makePki, type Credential } from '../support/certs';
import { runAsPid1, startAsPid1, type Finished } from '../support/pid1';
import { startVault, type VaultOptions, type VaultRequest, type VaultServer } from '../support/vault-server';

const pki = makePki();
const app = pki.client('app');
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PRINT = (name: string) => `printf '%s' "\${${name}-unset}"`;
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-vault-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file in this run's temp dir, with `content`; mode 0600. */
let files = 0;
function file(content: string, name = `f${++files}`): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

// ---------------------------------------------------------------------------------------------
// The server, and what every test checks about its request log.

let vault: VaultServer | undefined;
/** Tokens that may only ever travel in X-Vault-Token (a wrapping token also in lookup's body). */
let tokens: string[] = [];
/** Login credentials: only in the body of a login request. */
let credentials: string[] = [];

async function server(options: VaultOptions = {}): Promise<VaultServer> {
  vault = await startVault(options);
  vault.kvPut('secret', 'app', { password: 'hunter2', user: 'app-user' });
  vault.addPolicy('app', ['secret/data/app']);
  tokens = [vault.rootToken];
  credentials = [];
  return vault;
}

afterEach(async () => {
  const v = vault;
  vault = undefined;
  if (!v) return;
  try {
    // Every token init sent (a login's included) counts, besides the ones the test made.
    const sent = v.requests.map((r) => r.headers['x-vault-token']).filter((t): t is string => typeof t === 'string');
    tokens = [...new Set([...tokens, ...sent])];
    for (const r of v.requests) {
      const what = `${r.method} ${r.path}`;
      expect(r.headers['x-vault-request'], what).toBe('true');
      expect(r.headers.authorization, what).toBeUndefined();
      const { 'x-vault-token': _token, ...otherHeaders } = r.headers;
      const isLogin = r.method === 'POST' && /^\/v1\/auth\/.+\/login(\/[^/]+)?$/.test(r.path);
      for (const secret of [...tokens, ...credentials]) {
        expect(`${r.path}?${r.query}`, what).not.toContain(secret);
        expect(JSON.stringify(otherHeaders), what).not.toContain(secret);
      }
      for (const token of tokens) if (!r.path.endsWith('/sys/wrapping/lookup')) expect(r.body, what).not.toContain(token);
      if (!isLogin) for (const credential of credentials) expect(r.body, what).not.toContain(credential);
      // Logins are unauthenticated: no token goes with them.
      if (isLogin) expect(r.headers['x-vault-token'], what).toBeUndefined();
    }
  } finally {
    await v.stop();
  }
});

/**
 * init as PID 1 with PATH, VAULT_ADDR (the test server) and VAULT_TOKEN=root, then `extra`;
 * an `undefined` in extra removes the variable.
 */
async function run(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return runAsPid1(args, { env: envFor(extra) });
}

function envFor(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  // These tests are about reading at start; what happens after (refresh, renewal, revocation)
  // is test/pid1/lifecycle.test.ts's. With no refresh, nothing keeps the token: a token init
  // logged in with is revoked right after the reads (its revoke-self shows in the logs).
  const env: NodeJS.ProcessEnv = { PATH, VAULT_ADDR: (vault as VaultServer).url, VAULT_TOKEN: (vault as VaultServer).rootToken, SESAME_REFRESH: 'never', ...extra };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

/** The request log as "METHOD /v1/path[?query] status", in arrival order. */
function log(): string[] {
  return (vault as VaultServer).requests.map((r) => `${r.method} ${r.path}${r.query ? `?${r.query}` : ''} ${r.status}`);
}

const PREFLIGHT = (path: string) => `GET /v1/sys/internal/ui/mounts/${path}`;
/** The sorted log: for requests init sends concurrently. */
const sortedLog = () => [...log()].sort();

/**
 * Calls `hook` with each request as it arrives (before the server answers it), with the
 * requests that had arrived before it and were still unanswered at that moment.
 */
function onArrival(hook: (request: VaultRequest, inFlight: VaultRequest[]) => void): void {
  const requests = (vault as VaultServer).requests;
  const push = requests.push.bind(requests);
  requests.push = (...items: VaultRequest[]) => {
    for (const item of items) hook(item, requests.filter((r) => r.status === undefined));
    return push(...items);
  };
}

/** Resolves once `n` requests have arrived. */
function requestsArrived(n: number): Promise<void> {
  return new Promise((resolve) => {
    if ((vault as VaultServer).requests.length >= n) return resolve();
    onArrival(() => {
      if ((vault as VaultServer).requests.length + 1 >= n) resolve();
    });
  });
}

// =============================================================================================

describe('vault: KV reads from a dev-style server (VAULT_ADDR=http://..., VAULT_TOKEN=root)', () => {
  it('reads what `vault kv put secret/app` wrote: secret/app#password, one preflight and one GET', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(log()).toEqual([`${PREFLIGHT('secret/app')} 200`, 'GET /v1/secret/data/app 200']);
    expect(vault?.requests[0].headers['x-vault-token']).toBe('root');
  });

  it('takes the API form secret/data/app too (Bank-Vaults style), reading the same secret', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { DB: 'vault:secret/data/app#password' });
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(log()).toEqual([`${PREFLIGHT('secret/data/app')} 200`, 'GET /v1/secret/data/app 200']);
  });

  it('reads a version with #key#N, and the latest without it', async () => {
    await server();
    vault?.kvPut('secret', 'app', { password: 'second' });
    vault?.kvPut('secret', 'app', { password: 'third' });
    const r = await run(['--', 'sh', '-c', `${PRINT('V1')}; echo; ${PRINT('V2')}; echo; ${PRINT('LATEST')}`], {
      V1: 'vault:secret/app#password#1',
      V2: 'vault:secret/app#password#2',
      LATEST: 'vault:secret/app#password',
    });
    expect(r.stdout).toBe('hunter2\nsecond\nthird');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // One preflight, one read per version.
    expect(sortedLog()).toEqual([
      `${PREFLIGHT('secret/app')} 200`,
      'GET /v1/secret/data/app 200',
      'GET /v1/secret/data/app?version=1 200',
      'GET /v1/secret/data/app?version=2 200',
    ].sort());
  });

  it('a soft-deleted version: its own line saying when it was deleted, exit 69, nothing started', async () => {
    await server();
    vault?.kvPut('secret', 'app', { password: 'second' });
    vault?.kvDelete('secret', 'app', [1]);
    const r = await run(['--', 'sh', '-c', 'echo started'], { DB: 'vault:secret/app#password#1' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^sesame: error: DB: vault:secret/app#password#1: version 1 of secret/app was deleted at ${ISO}\\n$`));
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(log()).toEqual([`${PREFLIGHT('secret/app')} 200`, 'GET /v1/secret/data/app?version=1 404']);
  });

  it('the latest version soft-deleted (`vault kv delete`): the line names that version', async () => {
    await server();
    vault?.kvPut('secret', 'app', { password: 'second' });
    vault?.kvDelete('secret', 'app');
    const r = await run(['--', 'sh', '-c', 'echo started'], { DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^sesame: error: DB: vault:secret/app#password: version 2 of secret/app was deleted at ${ISO}\\n$`));
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('a destroyed version: its own line, exit 69', async () => {
    await server();
    vault?.kvPut('secret', 'app', { password: 'second' });
    vault?.kvDestroy('secret', 'app', [2]);
    const r = await run(['--', 'sh', '-c', 'echo started'], { DB: 'vault:secret/app#password#2' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password#2: version 2 of secret/app was destroyed\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('a version that never existed: "no secret at ... (version N)", exit 69', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { DB: 'vault:secret/app#password#7' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password#7: no secret at secret/app (version 7)\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('a missing key: the line lists the keys the secret has, never their values; exit 69', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { DB: 'vault:secret/app#passwd' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#passwd: no key "passwd" in secret/app (it has: password, user)\n');
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toContain('app-user');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('a missing secret: exit 69, naming the path', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { DB: 'vault:secret/nothing#password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/nothing#password: no secret at secret/nothing\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(log()).toEqual([`${PREFLIGHT('secret/nothing')} 200`, 'GET /v1/secret/data/nothing 404']);
  });

  it('a KV v1 mount: detected by the preflight, read at its plain path', async () => {
    await server();
    vault?.enableKv('kv1', 1);
    vault?.kvPut('kv1', 'app', { password: 'from-v1' });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { DB: 'vault:kv1/app#password' });
    expect(r.stdout).toBe('from-v1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(log()).toEqual([`${PREFLIGHT('kv1/app')} 200`, 'GET /v1/kv1/app 200']);
  });

  it('a missing secret on a KV v1 mount: exit 69', async () => {
    await server();
    vault?.enableKv('kv1', 1);
    const r = await run(['--', 'sh', '-c', 'echo started'], { DB: 'vault:kv1/nothing#password' });
    expect(r.stderr).toBe('sesame: error: DB: vault:kv1/nothing#password: no secret at kv1/nothing\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('a version on a KV v1 mount is a configuration error: 78, and no read is sent', async () => {
    await server();
    vault?.enableKv('kv1', 1);
    vault?.kvPut('kv1', 'app', { password: 'from-v1' });
    const r = await run(['--', 'sh', '-c', 'echo started'], { DB: 'vault:kv1/app#password#2' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DB: vault:kv1/app#password#2: a version was asked for, but kv1/ is a KV version 1 mount\n');
    expect(r.code).toBe(EXIT.CONFIG);
    expect(log()).toEqual([`${PREFLIGHT('kv1/app')} 200`]);
  });

  it('values that are not strings reach the child as JSON text (numbers, booleans, null, objects, arrays)', async () => {
    await server();
    vault?.kvPut('secret', 'typed', { port: 5432, ratio: 0.5, on: true, nothing: null, tls: { verify: true, ciphers: ['A', 'B'] }, list: [1, 'two'], text: 'plain' });
    const names = ['PORT', 'RATIO', 'ON', 'NOTHING', 'TLS', 'LIST', 'TEXT'];
    const r = await run(['--', 'sh', '-c', names.map((n) => `${PRINT(n)}; echo`).join('; ')], Object.fromEntries(names.map((n) => [n, `vault:secret/typed#${n.toLowerCase()}`])));
    expect(r.stdout).toBe('5432\n0.5\ntrue\nnull\n{"ciphers":["A","B"],"verify":true}\n[1,"two"]\nplain\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('a path and key with characters URLs treat specially: each segment is encoded', async () => {
    await server();
    vault?.kvPut('secret', 'my app/a?b', { 'key with space': 'odd but fine' });
    const r = await run(['--', 'sh', '-c', PRINT('ODD')], { ODD: 'vault:secret/my app/a?b#key with space' });
    expect(r.stdout).toBe('odd but fine');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(log()).toEqual([`${PREFLIGHT('secret/my%20app/a%3Fb')} 200`, 'GET /v1/secret/data/my%20app/a%3Fb 200']);
  });
});

describe('vault: grouping and concurrency of reads', () => {
  it('three variables from one path: one preflight and one GET of the data path', async () => {
    await server();
    vault?.kvPut('secret', 'app', { password: 'hunter2', user: 'app-user', host: 'db.internal' });
    const r = await run(['--', 'sh', '-c', `${PRINT('A')}; echo; ${PRINT('B')}; echo; ${PRINT('C')}`], {
      A: 'vault:secret/app#password',
      B: 'vault:secret/app#user',
      C: 'vault:secret/app#host',
    });
    expect(r.stdout).toBe('hunter2\napp-user\ndb.internal');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(log()).toEqual([`${PREFLIGHT('secret/app')} 200`, 'GET /v1/secret/data/app 200']);
    expect(vault?.requestCount({ method: 'GET', path: 'secret/data/app' })).toBe(1);
  });

  it('reads different paths concurrently: the second slow read starts before the first has been answered', async () => {
    await server();
    vault?.kvPut('secret', 'one', { v: '1' });
    vault?.kvPut('secret', 'two', { v: '2' });
    // Both reads are held back; were they sequential, the second would arrive only after the
    // first was answered. (The delay only gives the second request room to arrive.)
    vault?.faults.push({ method: 'GET', path: 'secret/data/one', delayMs: 800 }, { method: 'GET', path: 'secret/data/two', delayMs: 800 });
    const seen: { path: string; inFlight: string[] }[] = [];
    onArrival((request, inFlight) => seen.push({ path: request.path, inFlight: inFlight.map((r) => r.path) }));
    const r = await run(['--', 'sh', '-c', `${PRINT('ONE')}; ${PRINT('TWO')}`], { ONE: 'vault:secret/one#v', TWO: 'vault:secret/two#v' });
    expect(r.stdout).toBe('12');
    expect(r.code).toBe(0);
    const reads = seen.filter((s) => s.path.startsWith('/v1/secret/data/'));
    expect(reads.map((s) => s.path).sort()).toEqual(['/v1/secret/data/one', '/v1/secret/data/two']);
    expect(reads[1].inFlight).toContain(reads[0].path);
    // One mount preflight for both: mounts do not nest, so secret/ is known after the first.
    expect(vault?.requestCount({ path: 'sys/internal/ui/mounts/*' })).toBe(1);
  });
});

describe('vault: where the token and namespace come from', () => {
  it('~/.vault-token (as `vault login` leaves it) when VAULT_TOKEN is unset', async () => {
    await server();
    const home = join(dir, 'home-token');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, '.vault-token'), `${vault?.rootToken}\n`, { mode: 0o600 });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_TOKEN: undefined, HOME: home, DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(vault?.requests.map((q) => q.headers['x-vault-token'])).toEqual(['root', 'root']);
  });

  it('VAULT_TOKEN wins over ~/.vault-token', async () => {
    await server();
    const home = join(dir, 'home-both');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, '.vault-token'), 'stale-token\n');
    const token = vault?.createToken({ policies: ['app'] }) as string;
    tokens.push(token);
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_TOKEN: token, HOME: home, DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('hunter2');
    expect(r.code).toBe(0);
    expect(vault?.requests.map((q) => q.headers['x-vault-token'])).toEqual([token, token]);
  });

  it('no token anywhere: exit 78 before any request, saying where a token may come from', async () => {
    await server();
    const home = join(dir, 'home-empty');
    mkdirSync(home, { recursive: true });
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_TOKEN: undefined, HOME: home, DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: no Vault token: set VAULT_TOKEN (or BAO_TOKEN), run `vault login` or `bao login` (~/.vault-token), or choose SESAME_VAULT_AUTH\n');
    expect(r.code).toBe(EXIT.CONFIG);
    expect(log()).toEqual([]);
  });

  it('VAULT_NAMESPACE: every request carries X-Vault-Namespace and reads that namespace\'s data', async () => {
    await server();
    const team = vault?.namespace('team-a');
    team?.enableKv('secret', 2);
    team?.kvPut('secret', 'app', { password: 'team-a-password' });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_NAMESPACE: 'team-a', DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('team-a-password');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(log()).toEqual([`${PREFLIGHT('secret/app')} 200`, 'GET /v1/secret/data/app 200']);
    expect(vault?.requests.map((q) => q.namespace)).toEqual(['team-a', 'team-a']);
  });

  it('an unknown namespace: exit 69, and the line passes on Vault\'s "namespace not found"', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_NAMESPACE: 'nope', DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('');
    // Not a bare "no secret at secret/app", which sends one looking for the secret, not the namespace.
    expect(r.stderr).toMatch(/^sesame: error: DB: vault:secret\/app#password: [^\n]*namespace not found[^\n]*\n$/);
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(vault?.requests.map((q) => [q.namespace, q.status])).not.toContainEqual(['nope', 200]);
  });
});

describe('vault: logins', () => {
  it('token: a bad token is refused: exit 77 with a permission denied line, no retry', async () => {
    await server();
    tokens.push('not-a-token');
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_TOKEN: 'not-a-token', DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault refused the token (from VAULT_TOKEN): it is unknown, expired or revoked (GET /v1/sys/internal/ui/mounts/secret/app: permission denied)\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
    expect(log()).toEqual([`${PREFLIGHT('secret/app')} 403`]);
  });

  it('token: a valid token whose policies do not cover the path: exit 77', async () => {
    await server();
    vault?.kvPut('secret', 'other', { password: 'x' });
    const token = vault?.createToken({ policies: ['app'] }) as string;
    tokens.push(token);
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_TOKEN: token, DB: 'vault:secret/other#password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/other#password: permission denied by Vault (GET /v1/secret/data/other: 1 error occurred: * permission denied)\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
    expect(log()).toEqual([`${PREFLIGHT('secret/other')} 200`, 'GET /v1/secret/data/other 403']);
  });

  describe('AppRole', () => {
    it('role_id and secret_id from files; the login token reads the secret; the secret_id file stays', async () => {
      await server();
      const web = vault?.addAppRole('web', { policies: ['app'] });
      credentials.push(web?.secretId as string);
      const secretIdFile = file(`${web?.secretId}\n`);
      const r = await run(['--', 'sh', '-c', PRINT('DB')], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'approle',
        SESAME_VAULT_ROLE_ID_FILE: file(`${web?.roleId}\n`),
        SESAME_VAULT_SECRET_ID_FILE: secretIdFile,
        DB: 'vault:secret/app#password',
      });
      expect(r.stdout).toBe('hunter2');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // Nothing needs the token after the reads (SESAME_REFRESH=never): revoked at once.
      expect(log()).toEqual(['POST /v1/auth/approle/login 200', `${PREFLIGHT('secret/app')} 200`, 'GET /v1/secret/data/app 200', 'POST /v1/auth/token/revoke-self 204']);
      const [login, ...reads] = (vault?.requests as VaultRequest[]).slice(0, 3);
      expect(JSON.parse(login.body)).toEqual({ role_id: web?.roleId, secret_id: web?.secretId });
      expect(login.headers['x-vault-token']).toBeUndefined();
      // The token the login gave, and only in the header.
      expect(reads.map((q) => q.headers['x-vault-token'])).toEqual([expect.stringMatching(/^hvs\./), reads[0].headers['x-vault-token']]);
      expect(existsSync(secretIdFile)).toBe(true);
    });

    it('SESAME_VAULT_SECRET_ID_REMOVE=true deletes the secret_id file after reading it', async () => {
      await server();
      const web = vault?.addAppRole('web', { policies: ['app'] });
      credentials.push(web?.secretId as string);
      const secretIdFile = file(web?.secretId as string);
      const r = await run(['--', 'sh', '-c', `${PRINT('DB')}; if test -e ${secretIdFile}; then echo " still there"; fi`], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'approle',
        SESAME_VAULT_ROLE_ID: web?.roleId,
        SESAME_VAULT_SECRET_ID_FILE: secretIdFile,
        SESAME_VAULT_SECRET_ID_REMOVE: 'true',
        DB: 'vault:secret/app#password',
      });
      expect(r.stdout).toBe('hunter2');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(existsSync(secretIdFile)).toBe(false);
    });

    it('a bad secret_id: exit 77 with Vault\'s "invalid role or secret ID", no retry, nothing read', async () => {
      await server();
      const web = vault?.addAppRole('web', { policies: ['app'] });
      const r = await run(['--', 'sh', '-c', 'echo started'], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'approle',
        SESAME_VAULT_ROLE_ID: web?.roleId,
        SESAME_VAULT_SECRET_ID_FILE: file('not-the-secret-id'),
        DB: 'vault:secret/app#password',
      });
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault approle login at auth/approle failed: invalid role or secret ID\n');
      expect(r.code).toBe(EXIT.NO_PERMISSION);
      expect(log()).toEqual(['POST /v1/auth/approle/login 400']);
    });

    it('a custom mount (SESAME_VAULT_AUTH_MOUNT)', async () => {
      await server();
      const web = vault?.addAppRole('web', { policies: ['app'], mount: 'ci/approle' });
      credentials.push(web?.secretId as string);
      const r = await run(['--', 'sh', '-c', PRINT('DB')], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'approle',
        SESAME_VAULT_AUTH_MOUNT: 'ci/approle',
        SESAME_VAULT_ROLE_ID: web?.roleId,
        SESAME_VAULT_SECRET_ID: web?.secretId,
        DB: 'vault:secret/app#password',
      });
      expect(r.stdout).toBe('hunter2');
      expect(r.code).toBe(0);
      expect(log()[0]).toBe('POST /v1/auth/ci/approle/login 200');
    });
  });

  describe('AppRole with a response-wrapped secret_id', () => {
    const wrappedEnv = (roleId: string, wrapFile: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
      VAULT_TOKEN: undefined,
      SESAME_VAULT_AUTH: 'approle',
      SESAME_VAULT_ROLE_ID: roleId,
      SESAME_VAULT_SECRET_ID_FILE: wrapFile,
      SESAME_VAULT_SECRET_ID_WRAPPED: 'true',
      SESAME_VAULT_ROLE: 'web',
      DB: 'vault:secret/app#password',
      ...extra,
    });

    it('looks the wrapping token up, checks where it was made, unwraps it once and logs in; a second start with it fails clearly', async () => {
      await server();
      const web = vault?.addAppRole('web', { policies: ['app'] });
      const wrapped = web?.wrapSecretId(60);
      tokens.push(wrapped?.token as string);
      const wrapFile = file(`${wrapped?.token}\n`);
      const r = await run(['--', 'sh', '-c', PRINT('DB')], wrappedEnv(web?.roleId as string, wrapFile));
      expect(r.stdout).toBe('hunter2');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(log()).toEqual([
        'POST /v1/sys/wrapping/lookup 200',
        'POST /v1/sys/wrapping/unwrap 200',
        'POST /v1/auth/approle/login 200',
        `${PREFLIGHT('secret/app')} 200`,
        'GET /v1/secret/data/app 200',
        'POST /v1/auth/token/revoke-self 204',
      ]);
      const [lookup, unwrap, login] = vault?.requests as VaultRequest[];
      // lookup: token in the body only (a header too would use it up); unwrap: header only.
      expect(JSON.parse(lookup.body)).toEqual({ token: wrapped?.token });
      expect(lookup.headers['x-vault-token']).toBeUndefined();
      expect(unwrap.headers['x-vault-token']).toBe(wrapped?.token);
      expect(unwrap.body).toBe('');
      expect(JSON.parse(login.body)).toEqual({ role_id: web?.roleId, secret_id: expect.any(String) });
      expect(login.headers['x-vault-token']).toBeUndefined();

      // The same wrapping token again: it is spent.
      const before = log().length;
      const again = await run(['--', 'sh', '-c', 'echo started'], wrappedEnv(web?.roleId as string, wrapFile));
      expect(again.stdout).toBe('');
      expect(again.stderr).toBe('sesame: error: DB: vault:secret/app#password: the wrapped secret_id is not a valid wrapping token (wrapping token is not valid or does not exist): it may have expired or been used already\n');
      expect(again.code).toBe(EXIT.NO_PERMISSION);
      expect(log().slice(before)).toEqual(['POST /v1/sys/wrapping/lookup 400']);
    });

    it('a wrapping token made for another path is refused before it is unwrapped (no unwrap request)', async () => {
      await server();
      const web = vault?.addAppRole('web', { policies: ['app'] });
      vault?.addAppRole('other', { policies: ['app'] });
      const foreign = vault?.wrapSecretId('other');
      tokens.push(foreign?.token as string);
      const r = await run(['--', 'sh', '-c', 'echo started'], wrappedEnv(web?.roleId as string, file(foreign?.token as string)));
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: the wrapped secret_id was created at "auth/approle/role/other/secret-id", not at "auth/approle/role/web/secret-id": refusing it\n');
      expect(r.code).toBe(EXIT.NO_PERMISSION);
      expect(log()).toEqual(['POST /v1/sys/wrapping/lookup 200']);
      expect(vault?.requestCount({ path: 'sys/wrapping/unwrap' })).toBe(0);
    });

    it('a wrapped KV read (not a secret_id at all) is refused likewise', async () => {
      await server();
      const web = vault?.addAppRole('web', { policies: ['app'] });
      // `vault kv get -wrap-ttl=60 secret/app`, handed over as if it were the secret_id.
      const res = await fetch(`${vault?.url}/v1/secret/data/app`, { headers: { 'X-Vault-Token': 'root', 'X-Vault-Wrap-TTL': '60' } });
      const wrapToken = ((await res.json()) as { wrap_info: { token: string } }).wrap_info.token;
      tokens.push(wrapToken);
      vault?.requests.splice(0); // the test's own request, not init's
      const r = await run(['--', 'sh', '-c', 'echo started'], wrappedEnv(web?.roleId as string, file(wrapToken)));
      expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: the wrapped secret_id was created at "secret/data/app", not at "auth/approle/role/web/secret-id": refusing it\n');
      expect(r.code).toBe(EXIT.NO_PERMISSION);
      expect(vault?.requestCount({ path: 'sys/wrapping/unwrap' })).toBe(0);
    });

    it('SESAME_VAULT_SECRET_ID_WRAPPED without SESAME_VAULT_ROLE: exit 78 before any request', async () => {
      await server();
      const r = await run(['--', 'sh', '-c', 'echo started'], wrappedEnv('some-role-id', file('x'), { SESAME_VAULT_ROLE: undefined }));
      expect(r.stderr).toBe('sesame: error: SESAME_VAULT_SECRET_ID_WRAPPED needs SESAME_VAULT_ROLE (the role name) or SESAME_VAULT_SECRET_ID_WRAP_PATH to check the wrapping token against\n');
      expect(r.code).toBe(EXIT.CONFIG);
      expect(log()).toEqual([]);
    });
  });

  describe('Kubernetes', () => {
    it('logs in with the service-account token from SESAME_VAULT_JWT_FILE and SESAME_VAULT_ROLE', async () => {
      await server();
      vault?.addKubernetesRole('web', { serviceAccountNames: ['app'], namespaces: ['prod'], policies: ['app'] });
      const jwt = vault?.kubernetesJwt({ namespace: 'prod', name: 'app' }) as string;
      credentials.push(jwt);
      const r = await run(['--', 'sh', '-c', PRINT('DB')], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'kubernetes',
        SESAME_VAULT_ROLE: 'web',
        SESAME_VAULT_JWT_FILE: file(`${jwt}\n`),
        DB: 'vault:secret/app#password',
      });
      expect(r.stdout).toBe('hunter2');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(log()).toEqual(['POST /v1/auth/kubernetes/login 200', `${PREFLIGHT('secret/app')} 200`, 'GET /v1/secret/data/app 200', 'POST /v1/auth/token/revoke-self 204']);
      expect(JSON.parse((vault?.requests[0] as VaultRequest).body)).toEqual({ role: 'web', jwt });
    });

    it('a custom mount (SESAME_VAULT_AUTH_MOUNT=k8s/prod)', async () => {
      await server();
      vault?.addKubernetesRole('web', { serviceAccountNames: ['app'], namespaces: ['prod'], policies: ['app'], mount: 'k8s/prod' });
      const jwt = vault?.kubernetesJwt({ namespace: 'prod', name: 'app' }) as string;
      credentials.push(jwt);
      const r = await run(['--', 'sh', '-c', PRINT('DB')], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'kubernetes',
        SESAME_VAULT_AUTH_MOUNT: '/k8s/prod/',
        SESAME_VAULT_ROLE: 'web',
        SESAME_VAULT_JWT_FILE: file(jwt),
        DB: 'vault:secret/app#password',
      });
      expect(r.stdout).toBe('hunter2');
      expect(r.code).toBe(0);
      expect(log()[0]).toBe('POST /v1/auth/k8s/prod/login 200');
    });

    it('a service account the role does not bind: exit 77 with Vault\'s reason', async () => {
      await server();
      vault?.addKubernetesRole('web', { serviceAccountNames: ['app'], namespaces: ['prod'], policies: ['app'] });
      const jwt = vault?.kubernetesJwt({ namespace: 'dev', name: 'app' }) as string;
      credentials.push(jwt);
      const r = await run(['--', 'sh', '-c', 'echo started'], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'kubernetes',
        SESAME_VAULT_ROLE: 'web',
        SESAME_VAULT_JWT_FILE: file(jwt),
        DB: 'vault:secret/app#password',
      });
      expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault kubernetes login at auth/kubernetes: permission denied by Vault (POST /v1/auth/kubernetes/login: namespace not authorized)\n');
      expect(r.code).toBe(EXIT.NO_PERMISSION);
      expect(log()).toEqual(['POST /v1/auth/kubernetes/login 403']);
    });
  });

  describe('JWT', () => {
    it('with SESAME_VAULT_ROLE: the role is sent', async () => {
      await server();
      vault?.addJwtRole('ci', { boundAudiences: ['sesame'], policies: ['app'] });
      const jwt = vault?.signJwt({ sub: 'pipeline', aud: 'sesame' }) as string;
      credentials.push(jwt);
      const r = await run(['--', 'sh', '-c', PRINT('DB')], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'jwt',
        SESAME_VAULT_ROLE: 'ci',
        SESAME_VAULT_JWT_FILE: file(jwt),
        DB: 'vault:secret/app#password',
      });
      expect(r.stdout).toBe('hunter2');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(log()[0]).toBe('POST /v1/auth/jwt/login 200');
      expect(JSON.parse((vault?.requests[0] as VaultRequest).body)).toEqual({ jwt, role: 'ci' });
    });

    it('without SESAME_VAULT_ROLE: no role is sent, and Vault uses the mount\'s default role', async () => {
      await server();
      vault?.addJwtRole('ci', { boundAudiences: ['sesame'], policies: ['app'], defaultRole: true });
      const jwt = vault?.signJwt({ sub: 'pipeline', aud: 'sesame' }) as string;
      credentials.push(jwt);
      const r = await run(['--', 'sh', '-c', PRINT('DB')], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'jwt',
        SESAME_VAULT_JWT_FILE: file(jwt),
        DB: 'vault:secret/app#password',
      });
      expect(r.stdout).toBe('hunter2');
      expect(r.code).toBe(0);
      expect(JSON.parse((vault?.requests[0] as VaultRequest).body)).toEqual({ jwt });
    });

    it('an expired JWT: exit 77 with Vault\'s reason', async () => {
      await server();
      vault?.addJwtRole('ci', { boundAudiences: ['sesame'], policies: ['app'], defaultRole: true });
      const jwt = vault?.signJwt({ sub: 'pipeline', aud: 'sesame' }, { expired: true }) as string;
      credentials.push(jwt);
      const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_TOKEN: undefined, SESAME_VAULT_AUTH: 'jwt', SESAME_VAULT_JWT_FILE: file(jwt), DB: 'vault:secret/app#password' });
      expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault jwt login at auth/jwt failed: error validating token: invalid expiration time (exp) claim: token is expired\n');
      expect(r.code).toBe(EXIT.NO_PERMISSION);
    });
  });

  describe('userpass', () => {
    it('password from a file; the user name in the URL (Vault lowercases it)', async () => {
      await server();
      vault?.addUserpass('deploy.bot', 'correct horse', { policies: ['app'] });
      credentials.push('correct horse');
      const r = await run(['--', 'sh', '-c', PRINT('DB')], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'userpass',
        SESAME_VAULT_USERNAME: 'Deploy.Bot',
        SESAME_VAULT_PASSWORD_FILE: file('correct horse\n'),
        DB: 'vault:secret/app#password',
      });
      expect(r.stdout).toBe('hunter2');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(log()[0]).toBe('POST /v1/auth/userpass/login/Deploy.Bot 200');
      expect(JSON.parse((vault?.requests[0] as VaultRequest).body)).toEqual({ password: 'correct horse' });
    });

    it('a user name with "@", "#" and "?" is URL-encoded, not cut at "#" nor turned into a query', async () => {
      await server();
      vault?.addUserpass('svc', 'pw', { policies: ['app'] });
      const r = await run(['--', 'sh', '-c', 'echo started'], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'userpass',
        SESAME_VAULT_USERNAME: 'svc@corp#1?x=y',
        SESAME_VAULT_PASSWORD: 'pw',
        DB: 'vault:secret/app#password',
      });
      expect(vault?.requests.map((q) => [q.path, q.query])).toEqual([['/v1/auth/userpass/login/svc%40corp%231%3Fx%3Dy', '']]);
      // Vault's user names are [\w.-] only: any other name is not a route there.
      expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault userpass login at auth/userpass failed: unsupported path\n');
      expect(r.code).toBe(EXIT.NO_PERMISSION);
    });

    it('a wrong password: exit 77 with Vault\'s reason', async () => {
      await server();
      vault?.addUserpass('alice', 'right', { policies: ['app'] });
      credentials.push('wrong');
      const r = await run(['--', 'sh', '-c', 'echo started'], {
        VAULT_TOKEN: undefined,
        SESAME_VAULT_AUTH: 'userpass',
        SESAME_VAULT_USERNAME: 'alice',
        SESAME_VAULT_PASSWORD_FILE: file('wrong'),
        DB: 'vault:secret/app#password',
      });
      expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault userpass login at auth/userpass failed: invalid username or password\n');
      expect(r.code).toBe(EXIT.NO_PERMISSION);
      expect(log()).toEqual(['POST /v1/auth/userpass/login/alice 400']);
    });
  });

  describe('TLS certificate', () => {
    const tlsVault = () => server({ tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert } });
    const certEnv = (client: Credential, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
      VAULT_TOKEN: undefined,
      VAULT_CACERT: pki.ca.certPath,
      VAULT_CLIENT_CERT: client.certPath,
      VAULT_CLIENT_KEY: client.keyPath,
      SESAME_VAULT_AUTH: 'cert',
      DB: 'vault:secret/app#password',
      ...extra,
    });

    it('logs in with the client certificate of the connection (mutual TLS), then reads', async () => {
      await tlsVault();
      vault?.addCertRole('web', { certificate: pki.ca.cert, policies: ['app'] });
      const r = await run(['--', 'sh', '-c', PRINT('DB')], certEnv(app));
      expect(r.stdout).toBe('hunter2');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(log()).toEqual(['POST /v1/auth/cert/login 200', `${PREFLIGHT('secret/app')} 200`, 'GET /v1/secret/data/app 200', 'POST /v1/auth/token/revoke-self 204']);
      expect(vault?.requests.map((q) => q.cn)).toEqual(['app', 'app', 'app', 'app']);
      expect(JSON.parse((vault?.requests[0] as VaultRequest).body)).toEqual({});
    });

    it('SESAME_VAULT_ROLE names the certificate role', async () => {
      await tlsVault();
      vault?.addCertRole('web', { certificate: pki.ca.cert, policies: ['app'] });
      const r = await run(['--', 'sh', '-c', PRINT('DB')], certEnv(app, { SESAME_VAULT_ROLE: 'web' }));
      expect(r.stdout).toBe('hunter2');
      expect(r.code).toBe(0);
      expect(JSON.parse((vault?.requests[0] as VaultRequest).body)).toEqual({ name: 'web' });
    });

    it('a certificate no role trusts: exit 77 with Vault\'s reason', async () => {
      await tlsVault();
      vault?.addCertRole('web', { certificate: pki.client('only-this-one').cert, policies: ['app'] });
      const r = await run(['--', 'sh', '-c', 'echo started'], certEnv(app));
      expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault cert login at auth/cert failed: invalid certificate or no client certificate supplied\n');
      expect(r.code).toBe(EXIT.NO_PERMISSION);
    });

    it('SESAME_VAULT_AUTH=cert without VAULT_CLIENT_CERT: exit 78 before any request', async () => {
      await tlsVault();
      const r = await run(['--', 'sh', '-c', 'echo started'], certEnv(app, { VAULT_CLIENT_CERT: undefined, VAULT_CLIENT_KEY: undefined }));
      expect(r.stderr).toBe('sesame: error: SESAME_VAULT_AUTH=cert needs VAULT_CLIENT_CERT and VAULT_CLIENT_KEY (or BAO_CLIENT_CERT and BAO_CLIENT_KEY)\n');
      expect(r.code).toBe(EXIT.CONFIG);
      expect(log()).toEqual([]);
    });
  });
});

describe('vault: TLS to the server', () => {
  // A certificate no trusted CA signed is a configuration error (78), said in the CLI's terms.
  const SIGNED_BY_OTHER = /^sesame: error: DB: vault:secret\/app#password: Vault's certificate is not signed by the CA in VAULT_CACERT=\S+other-ca\.crt \(SELF_SIGNED_CERT_IN_CHAIN \(self-signed certificate in certificate chain\)\)\n$/;
  const UNTRUSTED = /^sesame: error: DB: vault:secret\/app#password: Vault's certificate is not signed by a CA init trusts \(the system's CAs \([^)]+\)\): set VAULT_CACERT to the CA that signed it \(SELF_SIGNED_CERT_IN_CHAIN \(self-signed certificate in certificate chain\)\)\n$/;
  const tlsVault = (extra: Partial<NonNullable<VaultOptions['tls']>> = {}, which = pki) =>
    server({ tls: { key: which.server.key, cert: which.server.cert, ca: which.ca.cert, ...extra } });

  it('VAULT_CACERT: the server is verified against that CA', async () => {
    await tlsVault();
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_CACERT: pki.ca.certPath, DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('VAULT_CAPATH: a directory of CA files (other files in it ignored)', async () => {
    await tlsVault();
    const capath = join(dir, 'capath');
    mkdirSync(capath, { recursive: true });
    copyFileSync(pki.otherCa.certPath, join(capath, 'a-other.pem'));
    copyFileSync(pki.ca.certPath, join(capath, 'b-ours.pem'));
    writeFileSync(join(capath, 'README'), 'not a certificate\n');
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_CAPATH: capath, DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('an untrusted server certificate: a TLS error at once, exit 78 naming VAULT_CACERT, not retried until the time limit', async () => {
    await tlsVault();
    const r = await run(['--secrets-timeout', '4s', '--', 'sh', '-c', 'echo started'], { VAULT_CACERT: pki.otherCa.certPath, DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(SIGNED_BY_OTHER);
    expect(r.code).toBe(EXIT.CONFIG);
    expect(log()).toEqual([]); // never past the handshake
  });

  it('no CA given: the system CAs do not trust a private CA either', async () => {
    await tlsVault();
    const r = await run(['--secrets-timeout', '4s', '--', 'sh', '-c', 'echo started'], { DB: 'vault:secret/app#password' });
    expect(r.stderr).toMatch(UNTRUSTED);
    expect(r.code).toBe(EXIT.CONFIG);
  });

  it('VAULT_SKIP_VERIFY=true accepts the untrusted certificate', async () => {
    await tlsVault();
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_SKIP_VERIFY: 'true', DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it.each(['false', '0', 'no'])('VAULT_SKIP_VERIFY=%s still verifies (node-vault would skip on any non-empty value)', async (value) => {
    await tlsVault();
    const r = await run(['--secrets-timeout', '4s', '--', 'sh', '-c', 'echo started'], { VAULT_SKIP_VERIFY: value, DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(UNTRUSTED);
    expect(r.code).toBe(EXIT.CONFIG);
  });

  it('NODE_TLS_REJECT_UNAUTHORIZED=0, meant for the application, does not turn off init\'s check of Vault', async () => {
    await tlsVault();
    const r = await run(['--secrets-timeout', '4s', '--', 'sh', '-c', 'echo started'], { NODE_TLS_REJECT_UNAUTHORIZED: '0', DB: 'vault:secret/app#password' });
    expect(r.stderr).toMatch(UNTRUSTED);
    expect(r.code).toBe(EXIT.CONFIG);
  });

  it('VAULT_TLS_SERVER_NAME: the certificate is checked against that name, not the address\'s host', async () => {
    const named = makePki({ dir: join(dir, 'pki-named'), serverHosts: ['vault.internal'] });
    await tlsVault({}, named);
    const env = { VAULT_CACERT: named.ca.certPath, DB: 'vault:secret/app#password' };
    const wrongName = await run(['--secrets-timeout', '4s', '--', 'sh', '-c', 'echo started'], env);
    expect(wrongName.stderr).toMatch(/^sesame: error: DB: vault:secret\/app#password: Vault's certificate does not name the host of VAULT_ADDR=https:\/\/127\.0\.0\.1:\d+ \(ERR_TLS_CERT_ALTNAME_INVALID \(.*127\.0\.0\.1.*\)\): use a name it has in the address, or set VAULT_TLS_SERVER_NAME\n$/);
    expect(wrongName.code).toBe(EXIT.CONFIG);
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { ...env, VAULT_TLS_SERVER_NAME: 'vault.internal' });
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('a server that requires a client certificate (tls_require_and_verify_client_cert): VAULT_CLIENT_CERT/KEY are presented', async () => {
    await tlsVault({ requireClientCert: true });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], {
      VAULT_CACERT: pki.ca.certPath,
      VAULT_CLIENT_CERT: app.certPath,
      VAULT_CLIENT_KEY: app.keyPath,
      DB: 'vault:secret/app#password',
    });
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(vault?.requests.map((q) => q.cn)).toEqual(['app', 'app']);
  });

  // A listener with tls_require_and_verify_client_cert refuses a handshake without a client
  // certificate with a TLS alert (OpenSSL here, Go's crypto/tls in Vault: certificate_required).
  // That is no network failure to retry until the time limit; and OpenSSL's text for it spans
  // lines and names its own source files, where init promises one line per failure.
  // (A certificate from another CA or an expired one is not covered: Node's TLS server cannot
  // send Vault's bad_certificate alert: it closes the connection, which a client cannot tell
  // from a network failure.)
  it('a server that requires a client certificate, and none is given: one line naming the TLS alert, at once, exit 69', async () => {
    await tlsVault({ requireClientCert: true });
    const r = await run(['--secrets-timeout', '4s', '--', 'sh', '-c', 'echo started'], { VAULT_CACERT: pki.ca.certPath, DB: 'vault:secret/app#password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sesame: error: DB: vault:secret\/app#password: cannot reach Vault: ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED \([^\n]*certificate required[^\n]*\)\n$/);
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(log()).toEqual([]);
  });

  it('VAULT_CLIENT_CERT without VAULT_CLIENT_KEY, or a missing VAULT_CACERT: exit 78 before any request', async () => {
    await tlsVault();
    const half = await run(['--', 'sh', '-c', 'echo started'], { VAULT_CACERT: pki.ca.certPath, VAULT_CLIENT_CERT: app.certPath, DB: 'vault:secret/app#password' });
    expect(half.stderr).toBe('sesame: error: VAULT_CLIENT_CERT and VAULT_CLIENT_KEY go together: set both or neither\n');
    expect(half.code).toBe(EXIT.CONFIG);
    const missing = await run(['--', 'sh', '-c', 'echo started'], { VAULT_CACERT: '/nonexistent/ca.pem', DB: 'vault:secret/app#password' });
    expect(missing.stderr).toBe('sesame: error: VAULT_CACERT=/nonexistent/ca.pem: no such file\n');
    expect(missing.code).toBe(EXIT.CONFIG);
    expect(log()).toEqual([]);
  });
});

describe('vault: faults and retries', () => {
  const DB = { DB: 'vault:secret/app#password' };
  // At the default log level a retry is said once, and so is the answer that ended it.
  const WAITING = '^sesame: warning: waiting for Vault at http://127\\.0\\.0\\.1:\\d+ \\([^\\n]+\\); retrying for up to \\d+ s \\(--secrets-timeout\\)\\n';
  const WAITED = new RegExp(`${WAITING}sesame: warning: Vault at http://127\\.0\\.0\\.1:\\d+ answered after \\d+\\.\\d s\\n$`);
  const waitedThen = (line: string) => new RegExp(`${WAITING}${line}\\n$`);
  const statuses = (path: string) => (vault as VaultServer).requests.filter((q) => q.path === path).map((q) => q.status);

  it('sealed, then unsealed within the time limit: retried, and the child starts', async () => {
    await server();
    (vault as VaultServer).sealed = true;
    // Unsealed as the third request arrives (before it is answered).
    onArrival(() => {
      if ((vault as VaultServer).requests.length + 1 >= 3) (vault as VaultServer).sealed = false;
    });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], DB);
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toMatch(WAITED);
    expect(r.code).toBe(0);
    expect(log()).toEqual([`${PREFLIGHT('secret/app')} 503`, `${PREFLIGHT('secret/app')} 503`, `${PREFLIGHT('secret/app')} 200`, 'GET /v1/secret/data/app 200']);
  });

  it('sealed for longer than the time limit: exit 69, saying what Vault kept answering', async () => {
    await server();
    (vault as VaultServer).sealed = true;
    const r = await run(['--secrets-timeout', '4s', '--', 'sh', '-c', 'echo started'], DB);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(waitedThen('sesame: error: DB: vault:secret/app#password: Vault answered 503 to GET /v1/sys/internal/ui/mounts/secret/app until the time limit \\(\\d+ attempts\\): Vault is sealed'));
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it.each([429, 412, 500, 502, 503])('%i is retried', async (status) => {
    await server();
    vault?.faults.push({ method: 'GET', path: 'secret/data/app', status, times: 1 });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], DB);
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toMatch(WAITED);
    expect(r.code).toBe(0);
    expect(statuses('/v1/secret/data/app')).toEqual([status, 200]);
  });

  it('501 is not retried: exit 69 after one request', async () => {
    await server();
    vault?.faults.push({ method: 'GET', path: 'secret/data/app', status: 501 });
    const r = await run(['--', 'sh', '-c', 'echo started'], DB);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault answered 501 to GET /v1/secret/data/app: 501 error injected by the test\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(statuses('/v1/secret/data/app')).toEqual([501]);
  });

  it.each([
    [400, 'Vault answered 400: 400 error injected by the test', EXIT.UNAVAILABLE],
    [403, 'Vault refused the token (from VAULT_TOKEN): it is unknown, expired or revoked (GET /v1/secret/data/app: permission denied)', EXIT.NO_PERMISSION],
    [404, 'no secret at secret/app', EXIT.UNAVAILABLE],
  ])('%i is not retried: one request, then its line', async (status, line, code) => {
    await server();
    vault?.faults.push({ method: 'GET', path: 'secret/data/app', status });
    const r = await run(['--', 'sh', '-c', 'echo started'], DB);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sesame: error: DB: vault:secret/app#password: ${line}\n`);
    expect(r.code).toBe(code);
    expect(statuses('/v1/secret/data/app')).toEqual([status]);
  });

  it('a 403 on the login is not retried either', async () => {
    await server();
    vault?.addKubernetesRole('web', { serviceAccountNames: ['app'], namespaces: ['prod'], policies: ['app'] });
    const jwt = vault?.kubernetesJwt({ namespace: 'prod', name: 'app', revoked: true }) as string;
    credentials.push(jwt);
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_TOKEN: undefined, SESAME_VAULT_AUTH: 'kubernetes', SESAME_VAULT_ROLE: 'web', SESAME_VAULT_JWT_FILE: file(jwt), ...DB });
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault kubernetes login at auth/kubernetes: permission denied by Vault (POST /v1/auth/kubernetes/login: permission denied)\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
    expect(log()).toEqual(['POST /v1/auth/kubernetes/login 403']);
  });

  it('a 5xx on the login is retried', async () => {
    await server();
    const web = vault?.addAppRole('web', { policies: ['app'] });
    credentials.push(web?.secretId as string);
    vault?.faults.push({ path: 'auth/approle/login', status: 500, times: 1 });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_TOKEN: undefined, SESAME_VAULT_AUTH: 'approle', SESAME_VAULT_ROLE_ID: web?.roleId, SESAME_VAULT_SECRET_ID_FILE: file(web?.secretId as string), ...DB });
    expect(r.stdout).toBe('hunter2');
    expect(r.code).toBe(0);
    expect(statuses('/v1/auth/approle/login')).toEqual([500, 200]);
  });

  it('a connection reset, then success: retried', async () => {
    await server();
    vault?.faults.push({ method: 'GET', path: 'secret/data/app', reset: true, times: 1 });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], DB);
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toMatch(WAITED);
    expect(r.code).toBe(0);
    expect(statuses('/v1/secret/data/app')).toEqual(['reset', 200]);
  });

  it('a truncated JSON body on the read, then a good one: retried, and the value is right', async () => {
    await server();
    vault?.faults.push({ method: 'GET', path: 'secret/data/app', badJson: true, times: 1 });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], DB);
    expect(r.stderr).toMatch(WAITED);
    expect(r.stdout).toBe('hunter2');
    expect(r.code).toBe(0);
    expect(statuses('/v1/secret/data/app')).toEqual([200, 200]);
  });

  it('a truncated JSON body on the mount preflight, then a good one: retried, still read as KV v2', async () => {
    await server();
    vault?.faults.push({ method: 'GET', path: 'sys/internal/ui/mounts/*', badJson: true, times: 1 });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], DB);
    expect(r.stderr).toMatch(WAITED);
    expect(r.stdout).toBe('hunter2');
    expect(r.code).toBe(0);
    expect(log()).toEqual([`${PREFLIGHT('secret/app')} 200`, `${PREFLIGHT('secret/app')} 200`, 'GET /v1/secret/data/app 200']);
  });

  it('truncated JSON bodies until the time limit: exit 69 saying so, never a wrong "no key" or "no secret"', async () => {
    await server();
    vault?.faults.push({ method: 'GET', path: 'secret/data/app', badJson: true });
    const r = await run(['--secrets-timeout', '4s', '--', 'sh', '-c', 'echo started'], DB);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(waitedThen('sesame: error: DB: vault:secret/app#password: Vault did not answer in time \\(\\d+ attempts; last: BAD_JSON \\(the answer is JSON cut short\\)\\)'));
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('nothing listening at VAULT_ADDR: exit 69 within --secrets-timeout, naming the reference', async () => {
    await server();
    await vault?.stop(); // its port is free now
    const r = await run(['--secrets-timeout', '2s', '--', 'sh', '-c', 'echo started'], DB);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(waitedThen('sesame: error: DB: vault:secret/app#password: Vault did not answer in time \\(\\d+ attempts; last: ECONNREFUSED\\)'));
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('an answer slower than the time limit: exit 69, "did not answer in time"', async () => {
    await server();
    vault?.faults.push({ method: 'GET', path: 'secret/data/app', delayMs: 20_000 });
    const r = await run(['--secrets-timeout', '1s', '--', 'sh', '-c', 'echo started'], DB);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault did not answer in time (1 attempts; last: ETIMEDOUT (no answer within the time limit))\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(statuses('/v1/secret/data/app')).toEqual([undefined]); // never answered
  });

  it('SIGTERM while init is still retrying: exit 143 at once, the child never started', async () => {
    await server();
    vault?.faults.push({ status: 503 });
    const arrived = requestsArrived(2); // at least one retry under way
    const running = startAsPid1(['--secrets-timeout', '60s', '--', 'sh', '-c', 'echo started'], { env: envFor(DB) });
    await arrived;
    await running.signal('SIGTERM');
    const r = await running.done;
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`${WAITING}$`));
    expect(r.code).toBe(143);
  });
});

describe('vault: leave no trace', () => {
  const CANARY = `canary-vault-token-${Math.random().toString(36).slice(2, 10)}`;
  const script = [
    'echo "--- pid1-environ"; tr "\\0" "\\n" < /proc/1/environ',
    'echo "--- child-env"; env',
    'echo "--- cmdlines"; for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < $f; echo; done',
  ].join('; ');

  it('the token is in no environment, argument list or log line, and the child has no VAULT_*', async () => {
    await server();
    vault?.createToken({ id: CANARY, policies: ['app'] });
    tokens.push(CANARY);
    const r = await run(['--log-level', 'debug', '--', 'sh', '-c', script], {
      VAULT_TOKEN: CANARY,
      VAULT_NAMESPACE: '',
      VAULT_SKIP_VERIFY: 'false',
      DB: 'vault:secret/app#password',
      PLAIN: 'visible',
    });
    expect(r.code).toBe(0);
    const section = (name: string) => r.stdout.split(`--- ${name}\n`)[1].split('\n--- ')[0];
    expect(section('pid1-environ')).not.toContain(CANARY);
    expect(section('pid1-environ')).not.toContain('VAULT_');
    expect(section('pid1-environ')).toContain('PLAIN=visible');
    expect(section('child-env')).not.toContain(CANARY);
    expect(section('child-env')).toContain('DB=hunter2\n');
    expect(section('child-env').split('\n').filter((l) => /^(VAULT|SESAME)_/.test(l))).toEqual([]);
    expect(section('cmdlines')).not.toContain(CANARY);
    expect(r.stderr).toContain('sesame: debug: vault:');
    expect(r.stderr).not.toContain(CANARY);
    expect(r.stderr).not.toContain('hunter2');
    // The token went to Vault in the header only.
    expect(vault?.requests.map((q) => q.headers['x-vault-token'])).toEqual([CANARY, CANARY]);
  });

  it('at debug level, retries and failures log no token and no value either', async () => {
    await server();
    vault?.createToken({ id: CANARY, policies: ['app'] });
    tokens.push(CANARY);
    vault?.faults.push({ method: 'GET', path: 'secret/data/app', status: 500, times: 1 });
    const r = await run(['--log-level', 'debug', '--', 'sh', '-c', 'echo started'], { VAULT_TOKEN: CANARY, DB: 'vault:secret/app#password', NOPE: 'vault:secret/app#nope' });
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(r.stderr).toContain('sesame: debug: vault: GET /v1/secret/data/app: 500 500 error injected by the test; retrying\n');
    expect(r.stderr).toContain('sesame: error: NOPE: vault:secret/app#nope: no key "nope" in secret/app (it has: password, user)\n');
    expect(r.stderr).not.toContain(CANARY);
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toContain('app-user');
  });

  it('SESAME_PASSTHROUGH=VAULT_ADDR gives the child that variable back, and only that one', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'env | grep -E "^(VAULT|SESAME)_" | sort; tr "\\0" "\\n" < /proc/1/environ | grep -c "^VAULT_" || true'], {
      SESAME_PASSTHROUGH: 'VAULT_ADDR',
      DB: 'vault:secret/app#password',
    });
    expect(r.stdout).toBe(`VAULT_ADDR=${vault?.url}\n0\n`);
    expect(r.code).toBe(0);
  });

  it('AppRole credentials from the environment are cleared from PID 1 and kept from the child too', async () => {
    await server();
    const web = vault?.addAppRole('web', { policies: ['app'] });
    credentials.push(web?.secretId as string);
    const r = await run(['--log-level', 'debug', '--', 'sh', '-c', script], {
      VAULT_TOKEN: undefined,
      SESAME_VAULT_AUTH: 'approle',
      SESAME_VAULT_ROLE_ID: web?.roleId,
      SESAME_VAULT_SECRET_ID: web?.secretId,
      DB: 'vault:secret/app#password',
    });
    expect(r.code).toBe(0);
    for (const value of [web?.secretId as string, web?.roleId as string]) {
      expect(r.stdout).not.toContain(value);
      expect(r.stderr).not.toContain(value);
    }
    expect(r.stdout).toContain('DB=hunter2\n');
  });
});
