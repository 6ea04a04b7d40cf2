// init as PID 1 against a real OpenBao: opt-in, never in CI. SESAME_TEST_BAO names a `bao`
// binary (OpenBao 2.5.x); the test starts two dev servers on loopback (plain HTTP with a file
// audit device, and -dev-tls), sets them up through the HTTP API, runs init against them and
// stops them. What it checks is what the test server (test/support/vault-server.ts) claims
// to reproduce: BAO_* variables, wrong schemes, trust, the three refusals, non-KV reads and
// the audit log's request sequences.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/exit-codes';
import { runAsPid1, type Finished } from '../support/pid1';

const BAO = process.env.SESAME_TEST_BAO;
if (!BAO) console.log('openbao.test.ts: skipped: set SESAME_TEST_BAO to a bao binary (OpenBao 2.5) to run init against a real OpenBao');

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitUp(url: string, ca?: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const r = ca
        ? await new Promise<number>((resolve, reject) => {
            const https = require('node:https') as typeof import('node:https');
            https.get(`${url}/v1/sys/health`, { ca: readFileSync(ca) }, (res) => resolve(res.statusCode ?? 0)).on('error', reject);
          })
        : (await fetch(`${url}/v1/sys/health`)).status;
      if (r === 200) return;
    } catch {
      /* not yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`bao at ${url} did not come up`);
}

describe.skipIf(!BAO)('init against a real OpenBao', () => {
  let dir: string;
  let plain: string;
  let tls: string;
  let ca: string;
  let audit: string;
  const servers: ChildProcess[] = [];

  async function api(method: string, path: string, body?: unknown, ns?: string): Promise<Record<string, any>> {
    const headers: Record<string, string> = { 'X-Vault-Token': 'root' };
    if (ns) headers['X-Vault-Namespace'] = ns;
    const r = await fetch(`${plain}/v1/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-openbao-'));
    audit = join(dir, 'audit.log');
    writeFileSync(join(dir, 'audit.hcl'), `audit "file" "to-file" {\n  options {\n    file_path = "${audit}"\n  }\n}\n`);
    const [p1, p2] = [await freePort(), await freePort()];
    plain = `http://127.0.0.1:${p1}`;
    tls = `https://127.0.0.1:${p2}`;
    ca = join(dir, 'tls', 'vault-ca.pem');
    mkdirSync(join(dir, 'tls'));
    const env = { PATH, HOME: dir };
    servers.push(spawn(BAO as string, ['server', '-dev', `-config=${join(dir, 'audit.hcl')}`, '-dev-root-token-id=root', `-dev-listen-address=127.0.0.1:${p1}`, '-dev-no-store-token'], { env, stdio: 'ignore' }));
    servers.push(spawn(BAO as string, ['server', '-dev', '-dev-tls', `-dev-tls-cert-dir=${join(dir, 'tls')}`, '-dev-root-token-id=root', `-dev-listen-address=127.0.0.1:${p2}`, '-dev-no-store-token'], { env, stdio: 'ignore' }));
    await waitUp(plain);
    await waitUp(tls, ca);
    await api('POST', 'secret/data/app', { data: { password: 'hunter2' } });
    await api('PUT', 'sys/policies/acl/app', { policy: 'path "secret/data/app" { capabilities = ["read"] }' });
    await api('POST', 'sys/namespaces/team1', {});
    await api('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } }, 'team1');
    await api('POST', 'secret/data/app', { data: { password: 'team1-pw' } }, 'team1');
    await api('POST', 'sys/mounts/totp', { type: 'totp' });
    await api('POST', 'totp/keys/app', { generate: true, issuer: 'sesame', account_name: 'app' });
    await api('POST', 'sys/mounts/pki', { type: 'pki' });
    await api('POST', 'pki/root/generate/internal', { common_name: 'example.com', ttl: '24h' });
    await api('POST', 'sys/auth/approle', { type: 'approle' });
    await api('POST', 'auth/approle/role/web', { token_policies: ['app'] });
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) s.kill('SIGTERM');
    await Promise.all(servers.map((s) => new Promise((resolve) => (s.exitCode !== null ? resolve(null) : s.once('exit', resolve)))));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Start-up only, as vault-cli.test.ts against the test server: with lifetimes, a token from
  // outside is looked up after the child started, and a login's token revoked at the end
  // (test/pid1/openbao.test.ts has those against the real server).
  const run = (env: NodeJS.ProcessEnv, script = 'printf "%s" "$DB"'): Promise<Finished> =>
    runAsPid1(['--secrets-timeout', '10s', '--', 'sh', '-c', script], { env: { PATH, HOME: dir, SESAME_REFRESH: 'never', ...env } });

  /** The request entries the audit device wrote while `fn` ran, as "operation path". */
  async function audited(fn: () => Promise<unknown>): Promise<string[]> {
    writeFileSync(audit, '');
    await fn();
    return readFileSync(audit, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === 'request').map((e) => `${e.request.operation} ${e.request.path}`);
  }

  it('BAO_ADDR + BAO_TOKEN + BAO_NAMESPACE, and the audit sequence of a token start', async () => {
    let r: Finished | undefined;
    const seq = await audited(async () => {
      r = await run({ BAO_ADDR: plain, BAO_TOKEN: 'root', DB: 'vault:secret/app#password' });
    });
    expect(r?.stdout).toBe('hunter2');
    expect(seq).toEqual(['read sys/internal/ui/mounts/secret/app', 'read secret/data/app']);
    const team = await run({ BAO_ADDR: plain, BAO_TOKEN: 'root', BAO_NAMESPACE: 'team1', DB: 'vault:secret/app#password' });
    expect(team.stdout).toBe('team1-pw');
  });

  it('AppRole and a wrapped secret_id: the audit sequences the test server pins', async () => {
    const roleId = (await api('GET', 'auth/approle/role/web/role-id')).data.role_id as string;
    const secretId = (await api('POST', 'auth/approle/role/web/secret-id', {})).data.secret_id as string;
    const approle = await audited(() => run({ VAULT_ADDR: plain, SESAME_VAULT_AUTH: 'approle', SESAME_VAULT_ROLE_ID: roleId, SESAME_VAULT_SECRET_ID: secretId, SESAME_REVOKE: 'false', DB: 'vault:secret/app#password' }));
    expect(approle).toEqual(['update auth/approle/login', 'read sys/internal/ui/mounts/secret/app', 'read secret/data/app']);
    const wrapped = await fetch(`${plain}/v1/auth/approle/role/web/secret-id`, { method: 'POST', headers: { 'X-Vault-Token': 'root', 'X-Vault-Wrap-TTL': '60s' } }).then((x) => x.json() as Promise<{ wrap_info: { token: string } }>);
    let r: Finished | undefined;
    const seq = await audited(async () => {
      r = await run({ VAULT_ADDR: plain, SESAME_VAULT_AUTH: 'approle', SESAME_VAULT_ROLE: 'web', SESAME_VAULT_ROLE_ID: roleId, SESAME_VAULT_SECRET_ID: wrapped.wrap_info.token, SESAME_VAULT_SECRET_ID_WRAPPED: 'true', SESAME_REVOKE: 'false', DB: 'vault:secret/app#password' });
    });
    expect(r?.stdout).toBe('hunter2');
    expect(seq).toEqual(['update sys/wrapping/lookup', 'update sys/wrapping/unwrap', 'update auth/approle/login', 'read sys/internal/ui/mounts/secret/app', 'read secret/data/app']);
  });

  it('wrong schemes fail at once with 78', async () => {
    const a = await run({ VAULT_ADDR: tls.replace('https:', 'http:'), VAULT_TOKEN: 'root', DB: 'vault:secret/app#password' });
    expect(a.stderr).toContain('but the server there speaks HTTPS (the server answered "Client sent an HTTP request to an HTTPS server")');
    expect(a.code).toBe(EXIT.CONFIG);
    const b = await run({ VAULT_ADDR: plain.replace('http:', 'https:'), VAULT_TOKEN: 'root', DB: 'vault:secret/app#password' });
    expect(b.stderr).toContain('but the server there speaks plain HTTP, not TLS');
    expect(b.code).toBe(EXIT.CONFIG);
  });

  it('trust: untrusted is 78 naming VAULT_CACERT; BAO_CACERT and SSL_CERT_FILE are trusted', async () => {
    const no = await run({ VAULT_ADDR: tls, VAULT_TOKEN: 'root', SSL_CERT_FILE: '/nonexistent', SSL_CERT_DIR: '/nonexistent', DB: 'vault:secret/app#password' });
    expect(no.stderr).toContain('set VAULT_CACERT to the CA that signed it');
    expect(no.stderr).not.toContain('use-system-ca');
    expect(no.code).toBe(EXIT.CONFIG);
    // Trusted: the handshake passes and the (empty) TLS dev server answers that there is no such secret.
    for (const env of [{ BAO_CACERT: ca }, { SSL_CERT_FILE: ca }]) {
      const r = await run({ BAO_ADDR: tls, BAO_TOKEN: 'root', DB: 'vault:secret/app#password', ...env });
      expect(r.stderr).toBe('sesame: error: DB: vault:secret/app#password: no secret at secret/app\n');
    }
  });

  it('a bad token, a denial and a missing mount read differently', async () => {
    const limited = (await api('POST', 'auth/token/create', { policies: ['app'] })).auth.client_token as string;
    const bad = await run({ VAULT_ADDR: plain, VAULT_TOKEN: 's.unknownunknownunknown1', DB: 'vault:secret/app#password' });
    expect(bad.stderr).toContain('Vault refused the token (from VAULT_TOKEN): it is unknown, expired or revoked');
    expect(bad.code).toBe(EXIT.NO_PERMISSION);
    const denied = await run({ VAULT_ADDR: plain, VAULT_TOKEN: limited, DB: 'vault:secret/other#password' });
    expect(denied.stderr).toContain('permission denied by Vault (GET /v1/secret/data/other: 1 error occurred: * permission denied)');
    const missing = await run({ VAULT_ADDR: plain, VAULT_TOKEN: 'root', DB: 'vault:secrte/app#password' });
    expect(missing.stderr).toContain('nothing is mounted at "secrte/app" or above it');
    expect(missing.code).toBe(EXIT.UNAVAILABLE);
  });

  it('totp/code and pki/cert/ca read; pki/ca/pem is said to be raw', async () => {
    const code = await run({ VAULT_ADDR: plain, VAULT_TOKEN: 'root', DB: 'vault:totp/code/app#code' });
    expect(code.stdout).toMatch(/^\d{6}$/);
    const cert = await run({ VAULT_ADDR: plain, VAULT_TOKEN: 'root', DB: 'vault:pki/cert/ca#certificate' });
    expect(cert.stdout).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const raw = await run({ VAULT_ADDR: plain, VAULT_TOKEN: 'root', DB: 'vault:pki/ca/pem#certificate' });
    expect(raw.stderr).toContain('the answer is not JSON (application/pem-certificate-chain)');
    expect(raw.code).toBe(EXIT.CONFIG);
  });
});
