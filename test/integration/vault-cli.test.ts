// The `vault` and `bao` CLIs' habits, end to end: the built init as PID 1 against the test
// server playing OpenBao (flavor 'openbao'): BAO_* variables and their precedence, trust
// like the Go CLI (VAULT_CACERT, else the system store), a wrong scheme said at once, a bad
// token, a denial and a missing mount told apart, plain reads on non-KV engines, and the
// exact requests of each kind of start, from the server's audit log.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/exit-codes';
import { makePki } from '../support/certs';
import { runAsPid1, type Finished } from '../support/pid1';
import { startVault, type VaultOptions, type VaultServer } from '../support/vault-server';

const pki = makePki();
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PRINT = (name: string) => `printf '%s' "\${${name}-unset}"`;
const DB = { DB: 'vault:secret/app#password' };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-vault-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let vault: VaultServer | undefined;
const others: VaultServer[] = [];
afterEach(async () => {
  for (const v of [vault, ...others.splice(0)]) await v?.stop();
  vault = undefined;
});

async function server(options: VaultOptions = {}): Promise<VaultServer> {
  vault = await startVault({ flavor: 'openbao', ...options });
  vault.kvPut('secret', 'app', { password: 'hunter2' });
  vault.addPolicy('app', ['secret/data/app']);
  return vault;
}

const tlsServer = (extra: Partial<NonNullable<VaultOptions['tls']>> = {}) =>
  server({ tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, ...extra } });

/** init as PID 1 with PATH and exactly `env` (undefined values dropped): no VAULT_* unless given. */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  const clean: NodeJS.ProcessEnv = { PATH, HOME: dir };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return runAsPid1(args, { env: clean });
}

const url = () => (vault as VaultServer).url;

describe('BAO_* variables, read as the bao CLI reads them', () => {
  it('BAO_ADDR and BAO_TOKEN alone are enough', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { BAO_ADDR: url(), BAO_TOKEN: 'root', ...DB });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hunter2');
    expect(r.code).toBe(0);
  });

  it('BAO_NAMESPACE alone selects the namespace (not the root namespace\'s secret)', async () => {
    await server();
    const team = vault?.namespace('team1');
    team?.enableKv('secret', 2);
    team?.kvPut('secret', 'app', { password: 'team1-pw' });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { BAO_ADDR: url(), BAO_TOKEN: 'root', BAO_NAMESPACE: 'team1', ...DB });
    expect(r.stdout).toBe('team1-pw');
    expect(r.code).toBe(0);
    expect(vault?.requests.map((q) => q.namespace)).toEqual(['team1', 'team1']);
  });

  it('BAO_X wins over VAULT_X, setting by setting', async () => {
    await server();
    const token = vault?.createToken({ policies: ['app'] }) as string;
    const r = await run(['--', 'sh', '-c', PRINT('DB')], {
      BAO_ADDR: url(),
      VAULT_ADDR: 'http://127.0.0.1:1', // nothing there
      BAO_TOKEN: token,
      VAULT_TOKEN: 's.nottherightoneatallnottherightone',
      VAULT_NAMESPACE: 'nosuch',
      BAO_NAMESPACE: '',
      ...DB,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hunter2');
    expect(vault?.requests.map((q) => [q.headers['x-vault-token'], q.namespace])).toEqual([[token, undefined], [token, undefined]]);
  });

  it('an empty BAO_TOKEN still wins (as in the bao CLI): no token, exit 78 before any request', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { BAO_ADDR: url(), BAO_TOKEN: '', VAULT_TOKEN: 'root', ...DB });
    expect(r.stderr).toBe('sesame: error: BAO_TOKEN is set but empty, and it wins over VAULT_TOKEN (as in the bao CLI): unset it, or set the token in it\n');
    expect(r.code).toBe(EXIT.CONFIG);
    expect(vault?.requests).toEqual([]);
  });

  it('BAO_* are in neither the child\'s environment nor /proc/1/environ', async () => {
    await server();
    const canary = `s.${'c'.repeat(10)}${Math.random().toString(36).slice(2, 14)}`;
    vault?.createToken({ id: canary, policies: ['app'] });
    const r = await run(['--', 'sh', '-c', 'echo "--- env"; env; echo "--- pid1"; tr "\\0" "\\n" < /proc/1/environ'], {
      BAO_ADDR: url(),
      BAO_TOKEN: canary,
      BAO_SKIP_VERIFY: 'false',
      BAO_NAMESPACE: '',
      PLAIN: 'visible',
      ...DB,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(canary);
    expect(r.stdout).not.toMatch(/^(BAO|VAULT)_/m);
    expect(r.stdout).toContain('DB=hunter2\n');
    expect(r.stdout.split('--- pid1\n')[1]).toContain('PLAIN=visible');
    expect(r.stderr).not.toContain(canary);
  });

  it('BAO_CACERT, BAO_CLIENT_CERT/KEY and BAO_TLS_SERVER_NAME configure TLS', async () => {
    const named = makePki({ dir: join(dir, 'pki-named'), serverHosts: ['bao.internal'] });
    vault = await startVault({ flavor: 'openbao', tls: { key: named.server.key, cert: named.server.cert, ca: named.ca.cert, requireClientCert: true } });
    vault.kvPut('secret', 'app', { password: 'hunter2' });
    const client = named.client('app');
    const r = await run(['--', 'sh', '-c', PRINT('DB')], {
      BAO_ADDR: url(),
      BAO_TOKEN: 'root',
      BAO_CACERT: named.ca.certPath,
      BAO_CLIENT_CERT: client.certPath,
      BAO_CLIENT_KEY: client.keyPath,
      BAO_TLS_SERVER_NAME: 'bao.internal',
      ...DB,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hunter2');
    expect(vault.requests.map((q) => q.cn)).toEqual(['app', 'app']);
  });

  it('BAO_CAPATH, and BAO_SKIP_VERIFY=true', async () => {
    await tlsServer();
    const capath = join(dir, 'bao-capath');
    mkdirSync(capath, { recursive: true });
    copyFileSync(pki.ca.certPath, join(capath, 'ca.pem'));
    const a = await run(['--', 'sh', '-c', PRINT('DB')], { BAO_ADDR: url(), BAO_TOKEN: 'root', BAO_CAPATH: capath, ...DB });
    expect(a.stdout).toBe('hunter2');
    const b = await run(['--', 'sh', '-c', PRINT('DB')], { BAO_ADDR: url(), BAO_TOKEN: 'root', BAO_SKIP_VERIFY: 'true', ...DB });
    expect(b.stdout).toBe('hunter2');
    expect(b.code).toBe(0);
  });
});

describe('trust like the CLI', () => {
  const untrusted = (ca: string) => `sesame: error: DB: vault:secret/app#password: Vault's certificate is not signed by a CA init trusts (${ca}): set VAULT_CACERT to the CA that signed it (SELF_SIGNED_CERT_IN_CHAIN (self-signed certificate in certificate chain))\n`;

  it('SSL_CERT_FILE is the system store when no CA is given', async () => {
    await tlsServer();
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', SSL_CERT_FILE: pki.ca.certPath, SSL_CERT_DIR: join(dir, 'empty'), ...DB });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hunter2');
  });

  it('SSL_CERT_DIR (colon-separated) adds its certificates', async () => {
    await tlsServer();
    const certs = join(dir, 'ssl-certs');
    mkdirSync(certs, { recursive: true });
    copyFileSync(pki.ca.certPath, join(certs, 'corporate-ca.pem'));
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', SSL_CERT_FILE: join(dir, 'none.pem'), SSL_CERT_DIR: `${join(dir, 'none')}:${certs}`, ...DB });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hunter2');
  });

  it('a certificate the store does not trust: exit 78 at once, naming VAULT_CACERT and the store, no Node advice', async () => {
    await tlsServer();
    const r = await run(['--secrets-timeout', '20s', '--', 'sh', '-c', 'echo started'], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', SSL_CERT_FILE: pki.otherCa.certPath, SSL_CERT_DIR: join(dir, 'none'), ...DB });
    expect(r.stderr).toBe(untrusted(`the system's CAs (SSL_CERT_FILE=${pki.otherCa.certPath})`));
    expect(r.stderr).not.toContain('use-system-ca');
    expect(r.code).toBe(EXIT.CONFIG);
    expect(vault?.requests).toEqual([]);
  });

  it('NODE_EXTRA_CA_CERTS, the application\'s, does not change whom init trusts', async () => {
    await tlsServer();
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', NODE_EXTRA_CA_CERTS: pki.ca.certPath, SSL_CERT_FILE: pki.otherCa.certPath, SSL_CERT_DIR: join(dir, 'none'), ...DB });
    expect(r.stderr).toBe(untrusted(`the system's CAs (SSL_CERT_FILE=${pki.otherCa.certPath})`));
    expect(r.code).toBe(EXIT.CONFIG);
  });

  it('VAULT_CACERT wins over the system store', async () => {
    await tlsServer();
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', VAULT_CACERT: pki.otherCa.certPath, SSL_CERT_FILE: pki.ca.certPath, ...DB });
    expect(r.stderr).toMatch(/^sesame: error: DB: vault:secret\/app#password: Vault's certificate is not signed by the CA in VAULT_CACERT=\S+ \(SELF_SIGNED_CERT_IN_CHAIN/);
    expect(r.code).toBe(EXIT.CONFIG);
  });
});

describe('a wrong scheme fails at once, saying which one the server speaks', () => {
  it('http:// to a TLS listener: Go\'s "Client sent an HTTP request to an HTTPS server" recognised, exit 78', async () => {
    await tlsServer();
    const plain = url().replace('https:', 'http:');
    const r = await run(['--secrets-timeout', '30s', '--', 'sh', '-c', 'echo started'], { VAULT_ADDR: plain, VAULT_TOKEN: 'root', ...DB });
    expect(r.stderr).toBe(`sesame: error: DB: vault:secret/app#password: VAULT_ADDR=${plain}, but the server there speaks HTTPS (the server answered "Client sent an HTTP request to an HTTPS server"): use ${url()}\n`);
    expect(r.code).toBe(EXIT.CONFIG);
  });

  it('https:// to a plain listener: exit 78, "speaks plain HTTP"', async () => {
    await server();
    const tls = url().replace('http:', 'https:');
    const r = await run(['--secrets-timeout', '30s', '--', 'sh', '-c', 'echo started'], { BAO_ADDR: tls, BAO_TOKEN: 'root', ...DB });
    expect(r.stderr).toBe(`sesame: error: DB: vault:secret/app#password: BAO_ADDR=${tls}, but the server there speaks plain HTTP, not TLS: use ${url()}\n`);
    expect(r.code).toBe(EXIT.CONFIG);
    expect(vault?.requests).toEqual([]);
  });
});

describe('a bad token, a denial and a missing mount are told apart', () => {
  it('an unknown token: "Vault refused the token", naming where it came from; exit 77, one request', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { BAO_ADDR: url(), BAO_TOKEN: 's.unknownunknownunknown1', ...DB });
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: Vault refused the token (from BAO_TOKEN): it is unknown, expired or revoked (GET /v1/sys/internal/ui/mounts/secret/app: permission denied)\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
    expect(vault?.auditSequence()).toEqual(['read sys/internal/ui/mounts/secret/app']);
  });

  it('a revoked token reads the same', async () => {
    await server();
    const token = vault?.createToken({ policies: ['app'] }) as string;
    vault?.revokeToken(token);
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_ADDR: url(), VAULT_TOKEN: token, ...DB });
    expect(r.stderr).toMatch(/: Vault refused the token \(from VAULT_TOKEN\): it is unknown, expired or revoked/);
    expect(r.code).toBe(EXIT.NO_PERMISSION);
  });

  it('a valid token without the policy: "permission denied by Vault" with Vault\'s text; exit 77', async () => {
    await server();
    vault?.kvPut('secret', 'other', { password: 'x' });
    const token = vault?.createToken({ policies: ['app'] }) as string;
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_ADDR: url(), VAULT_TOKEN: token, DB: 'vault:secret/other#password' });
    expect(r.stderr).toBe('sesame: error: DB: vault:secret/other#password: permission denied by Vault (GET /v1/secret/data/other: 1 error occurred: * permission denied)\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
  });

  it('a mount that does not exist, with a token that may know: "nothing is mounted", exit 69', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', DB: 'vault:secrte/app#password' });
    expect(r.stderr).toBe('sesame: error: DB: vault:secrte/app#password: nothing is mounted at "secrte/app" or above it (Vault: no handler for route "secrte/app". route entry not found.)\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(vault?.auditSequence()).toEqual(['read sys/internal/ui/mounts/secrte/app', 'read secrte/app']);
  });

  it('a mount that does not exist, with a token that may not know: denied, saying both are possible', async () => {
    await server();
    const token = vault?.createToken({ policies: ['app'] }) as string;
    const r = await run(['--', 'sh', '-c', 'echo started'], { VAULT_ADDR: url(), VAULT_TOKEN: token, DB: 'vault:secrte/app#password' });
    expect(r.stderr).toBe('sesame: error: DB: vault:secrte/app#password: permission denied: the token\'s policies do not let it read "secrte/app", or nothing is mounted there (Vault does not tell a token without access which)\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
  });
});

describe('other engines: plain GETs', () => {
  it('totp/code/<key>: the current code', async () => {
    await server();
    const key = vault?.addTotpKey('app');
    const r = await run(['--', 'sh', '-c', PRINT('CODE')], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', CODE: 'vault:totp/code/app#code' });
    expect(r.stderr).toBe('');
    const now = Date.now();
    // The code of the 30 s step the read fell in (this one, or the one before it).
    expect([key?.code(now), key?.code(now - 30_000)]).toContain(r.stdout);
    expect(r.stdout).toMatch(/^\d{6}$/);
    expect(vault?.auditSequence()).toEqual(['read sys/internal/ui/mounts/totp/code/app', 'read totp/code/app']);
  });

  it('pki/cert/ca: the CA certificate as JSON; pki/ca/pem (raw PEM) fails at once, saying it is not JSON', async () => {
    await server();
    vault?.addPkiCa(pki.ca.cert.toString());
    const ok = await run(['--', 'sh', '-c', PRINT('CA')], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', CA: 'vault:pki/cert/ca#certificate' });
    expect(ok.stdout).toBe(pki.ca.cert.toString().trim());
    expect(ok.code).toBe(0);
    const raw = await run(['--', 'sh', '-c', 'echo started'], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', CA: 'vault:pki/ca/pem#certificate' });
    expect(raw.stderr).toBe(`sesame: error: CA: vault:pki/ca/pem#certificate: GET /v1/pki/ca/pem: the answer is not JSON (application/pem-certificate-chain): if VAULT_ADDR=${url()} is Vault, this path answers raw data, which init does not read\n`);
    expect(raw.code).toBe(EXIT.CONFIG);
  });

  it('database/creds/<role>: username and password from one read (one lease)', async () => {
    await server();
    const role = vault?.addDatabaseRole('app', { ttl: '1h' });
    const r = await run(['--', 'sh', '-c', 'printf "%s %s" "$DB_USER" "$DB_PASS"'], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', DB_USER: 'vault:database/creds/app#username', DB_PASS: 'vault:database/creds/app#password' });
    expect(r.stderr).toBe('');
    expect(role?.issued).toHaveLength(1);
    expect(r.stdout).toBe(`${role?.issued[0].username} ${role?.issued[0].password}`);
    expect(vault?.auditSequence()).toEqual(['read sys/internal/ui/mounts/database/creds/app', 'read database/creds/app']);
  });
});

// The exact requests of each kind of start, as OpenBao's audit device would log them (the
// same sequences were seen in a real OpenBao 2.5.5's file audit log). A change that adds a
// request (a lookup-self, a revoke-self) shows here: update the sequence it changes.
const SEQUENCES = {
  token: ['read sys/internal/ui/mounts/secret/app', 'read secret/data/app'],
  approle: ['update auth/approle/login', 'read sys/internal/ui/mounts/secret/app', 'read secret/data/app'],
  wrapped: ['update sys/wrapping/lookup', 'update sys/wrapping/unwrap', 'update auth/approle/login', 'read sys/internal/ui/mounts/secret/app', 'read secret/data/app'],
  /** Two keys of one secret, a second secret on the same mount, one on another mount (sorted: they run concurrently). */
  several: ['read secret/data/app', 'read secret/data/other', 'read sys/internal/ui/mounts/secret/app', 'read sys/internal/ui/mounts/totp/code/app', 'read totp/code/app'],
};

describe('audit: the exact requests of a start', () => {
  it('token, one secret: mount lookup + read', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_ADDR: url(), VAULT_TOKEN: 'root', ...DB });
    expect(r.code).toBe(0);
    expect(vault?.auditSequence()).toEqual(SEQUENCES.token);
    // Shaped like the file audit device: the token HMAC'd, never in clear.
    const entry = vault?.audit.find((e) => e.type === 'response' && e.request.path === 'secret/data/app');
    expect(entry?.request).toMatchObject({ operation: 'read', mount_point: 'secret/', mount_type: 'kv', namespace: { id: 'root' }, remote_address: '127.0.0.1' });
    expect(entry?.request.client_token).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(vault?.audit)).not.toContain('"client_token":"root"');
  });

  it('AppRole: login + mount lookup + read', async () => {
    await server();
    const web = vault?.addAppRole('web', { policies: ['app'] });
    const r = await run(['--', 'sh', '-c', PRINT('DB')], { VAULT_ADDR: url(), SESAME_VAULT_AUTH: 'approle', SESAME_VAULT_ROLE_ID: web?.roleId, SESAME_VAULT_SECRET_ID: web?.secretId, ...DB });
    expect(r.code).toBe(0);
    expect(vault?.auditSequence()).toEqual(SEQUENCES.approle);
  });

  it('AppRole with a wrapped secret_id: wrapping lookup + unwrap + login + mount lookup + read', async () => {
    await server();
    const web = vault?.addAppRole('web', { policies: ['app'] });
    const wrapped = web?.wrapSecretId();
    const r = await run(['--', 'sh', '-c', PRINT('DB')], {
      VAULT_ADDR: url(),
      SESAME_VAULT_AUTH: 'approle',
      SESAME_VAULT_ROLE: 'web',
      SESAME_VAULT_ROLE_ID: web?.roleId,
      SESAME_VAULT_SECRET_ID: wrapped?.token,
      SESAME_VAULT_SECRET_ID_WRAPPED: 'true',
      ...DB,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(vault?.auditSequence()).toEqual(SEQUENCES.wrapped);
  });

  it('several secrets: one lookup per mount, one read per path', async () => {
    await server();
    vault?.kvPut('secret', 'other', { password: 'x' });
    vault?.addTotpKey('app');
    const r = await run(['--', 'sh', '-c', 'echo started'], {
      VAULT_ADDR: url(),
      VAULT_TOKEN: 'root',
      A: 'vault:secret/app#password',
      B: 'vault:secret/app#password',
      C: 'vault:secret/other#password',
      D: 'vault:totp/code/app#code',
    });
    expect(r.code).toBe(0);
    expect(vault?.auditSequence().sort()).toEqual(SEQUENCES.several);
  });
});
