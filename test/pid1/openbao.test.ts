// The whole lifecycle once against a real OpenBao server (`bao server -dev` on loopback,
// started here) with the built init as PID 1: PKI certificates issued and rotated, a Vault
// token renewed and replaced by a new AppRole login at its max TTL, dynamic PostgreSQL
// credentials from the database engine renewed, read again at their max TTL and revoked at
// the end. The server's file audit log counts the requests. Never run in CI: skipped unless
//   SESAME_BAO=/path/to/bao                          an OpenBao binary
//   SESAME_POSTGRES_BIN=/usr/lib/postgresql/15/bin   (optional) initdb and pg_ctl, for the database part
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAsPid1, type Running } from '../support/pid1';

const BAO = process.env.SESAME_BAO;
const PG_BIN = process.env.SESAME_POSTGRES_BIN;
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const FAST = ['--wait', '100ms:300ms'];

if (!BAO) console.log('openbao.test.ts: skipped (set SESAME_BAO=/path/to/bao to run the lifecycle against a real OpenBao)');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(ready: () => boolean, what: string, init?: Running, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}; stderr: ${init?.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe.skipIf(!BAO)('against a real OpenBao', () => {
  let dir: string;
  let bao: ChildProcess;
  let addr: string;
  let pgPort = 0;
  let pgData = '';
  const inits: Running[] = [];
  const cli = (...args: string[]) => execFileSync(BAO as string, args, { env: { PATH, BAO_ADDR: addr, BAO_TOKEN: 'root' }, encoding: 'utf8' });
  /** Requests in the audit log whose path matches. */
  const audited = (path: RegExp) => lines(join(dir, 'audit.log')).map((l) => JSON.parse(l)).filter((e) => e.type === 'request' && path.test(e.request?.path ?? '')).length;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-openbao-'));
    const port = await freePort();
    addr = `http://127.0.0.1:${port}`;
    // OpenBao 2.5 enables audit devices only from its config file, not over the API.
    writeFileSync(join(dir, 'audit.hcl'), `audit "file" "to-file" {\n  options {\n    file_path = "${join(dir, 'audit.log')}"\n  }\n}\n`);
    bao = spawn(BAO as string, ['server', '-dev', '-dev-root-token-id=root', `-dev-listen-address=127.0.0.1:${port}`, `-config=${join(dir, 'audit.hcl')}`], { stdio: 'ignore' });
    await until(() => { try { cli('status'); return true; } catch { return false; } }, 'OpenBao answers');
    cli('secrets', 'enable', 'pki');
    cli('secrets', 'tune', '-max-lease-ttl=87600h', 'pki');
    cli('write', '-field=certificate', 'pki/root/generate/internal', 'common_name=example.test', 'ttl=8760h');
    // not_before_duration 1s: with the default 30 s of backdating, a 9 s certificate is 30/39
    // spent by its NotBefore, so a restart could never reuse it (real ones last days).
    cli('write', 'pki/roles/web', 'allowed_domains=example.test', 'allow_subdomains=true', 'max_ttl=1h', 'key_type=ec', 'not_before_duration=1s');
    if (PG_BIN) {
      pgPort = await freePort();
      pgData = join(dir, 'pg');
      execFileSync('mkdir', ['-p', pgData]);
      chmodSync(dir, 0o755); // postgres must reach its data directory
      execFileSync('chown', ['postgres', pgData]);
      const asPg = (cmd: string) => execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', cmd], { stdio: 'ignore' });
      asPg(`${PG_BIN}/initdb -D ${pgData}/data -A scram-sha-256 -U postgres --pwfile=/dev/stdin <<'EOF'\npgroot\nEOF`);
      asPg(`${PG_BIN}/pg_ctl -D ${pgData}/data -o '-c listen_addresses=127.0.0.1 -p ${pgPort} -k ${pgData}' -l ${pgData}/log -w start`);
      cli('secrets', 'enable', 'database');
      cli('write', 'database/config/pg', 'plugin_name=postgresql-database-plugin', 'allowed_roles=*', `connection_url=postgresql://{{username}}:{{password}}@127.0.0.1:${pgPort}/postgres?sslmode=disable`, 'username=postgres', 'password=pgroot');
      cli('write', 'database/roles/app', 'db_name=pg', `creation_statements=CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`, 'default_ttl=6s', 'max_ttl=20s');
    } else {
      console.log('openbao.test.ts: database part skipped (set SESAME_POSTGRES_BIN to the directory of initdb and pg_ctl)');
    }
  }, 120_000);

  afterAll(async () => {
    for (const init of inits) if (init.process.exitCode === null && init.process.signalCode === null) init.process.kill('SIGKILL');
    if (pgData) {
      try { execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', `${PG_BIN}/pg_ctl -D ${pgData}/data -m immediate stop`], { stdio: 'ignore' }); } catch { /* not running */ }
    }
    bao?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = (args: string[], env: NodeJS.ProcessEnv) => {
    const init = startAsPid1(args, { env: { PATH, VAULT_ADDR: addr, ...env } });
    inits.push(init);
    return init;
  };

  it('issues a certificate, rotates it at 2/3 with one SIGHUP each, reuses it after a restart', { timeout: 120_000 }, async () => {
    const events = join(dir, 'cert.events');
    const cert = join(dir, 'tls', 'web.crt');
    const serial = `openssl x509 -noout -serial -in ${cert} | cut -d= -f2`;
    const web = `trap 'exit 0' TERM; trap 'echo "hup $(${serial})" >> ${events}' HUP; echo "start $(${serial})" >> ${events}; while :; do sleep 1 & wait; done`;
    const config = join(dir, 'cert.yaml');
    writeFileSync(config, ['certificates:', '  - path: pki/issue/web', '    common_name: www.example.test', '    alt_names: [api.example.test]', '    ttl: 15s',
      `    cert: ${cert}`, `    key: ${join(dir, 'tls', 'web.key')}`, `    ca: ${join(dir, 'tls', 'ca.crt')}`, '    on_change: {signal: SIGHUP}', '    service: web',
      'services:', '  web:', `    command: ["/bin/sh", "-c", ${JSON.stringify(web)}]`, ''].join('\n'));
    const first = start(['--config', config, '--log-level', 'debug', ...FAST], { VAULT_TOKEN: 'root' });
    await until(() => lines(events).filter((l) => l.startsWith('hup')).length >= 2, 'two rotations', first);
    await first.signal('SIGTERM');
    const done = await first.done;
    expect(done.code).toBe(0);
    const hups = lines(events).filter((l) => l.startsWith('hup'));
    expect(new Set(hups).size).toBe(hups.length); // each SIGHUP found a new certificate
    expect(audited(/^pki\/issue\/web$/)).toBe(1 + hups.length);
    expect(done.stderr).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    const onDisk = new X509Certificate(readFileSync(cert)).serialNumber;
    const issued = audited(/^pki\/issue\/web$/);
    const second = start(['--config', config, '--log-level', 'debug', ...FAST], { VAULT_TOKEN: 'root' });
    await until(() => lines(events).filter((l) => l.startsWith('start')).length === 2, 'the second start', second);
    await second.signal('SIGTERM');
    const again = await second.done;
    expect(again.stderr).toMatch(/reusing/);
    expect(lines(events).filter((l) => l.startsWith('start')).at(-1)).toBe(`start ${onDisk}`);
    expect(audited(/^pki\/issue\/web$/)).toBe(issued);
  });

  it('renews an AppRole token, logs in again at its max TTL, and never restarts the command for it', { timeout: 120_000 }, async () => {
    cli('secrets', 'enable', '-path=kv', '-version=2', 'kv');
    cli('kv', 'put', 'kv/app', 'password=hunter2');
    writeFileSync(join(dir, 'policy.hcl'), 'path "kv/data/app" { capabilities = ["read"] }\n');
    cli('policy', 'write', 'app', join(dir, 'policy.hcl'));
    cli('auth', 'enable', 'approle');
    cli('write', 'auth/approle/role/app', 'token_policies=app', 'token_ttl=4s', 'token_max_ttl=12s');
    const roleId = cli('read', '-field=role_id', 'auth/approle/role/app/role-id').trim();
    const secretId = cli('write', '-f', '-field=secret_id', 'auth/approle/role/app/secret-id').trim();
    const events = join(dir, 'token.events');
    // A refresh keeps the token needed (with nothing to read again, init gives it back at once).
    const init = start(['--refresh', '3s', '--log-level', 'debug', ...FAST, '--', '/bin/sh', '-c', `echo "start $DB_PASSWORD" >> ${events}; trap 'exit 0' TERM; sleep 1000 & wait`], {
      SESAME_VAULT_AUTH: 'approle', SESAME_VAULT_ROLE_ID: roleId, SESAME_VAULT_SECRET_ID: secretId, DB_PASSWORD: 'vault:kv/app#password',
    });
    await until(() => audited(/^auth\/approle\/login$/) >= 2, `a second login (audited: ${[...new Set(lines(join(dir, 'audit.log')).map((l) => JSON.parse(l).request?.path))].join(' ')})`, init);
    await until(() => audited(/^auth\/token\/renew-self$/) >= 2, 'two renewals', init);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(0);
    expect(lines(events)).toEqual(['start hunter2']);
    expect(done.stderr).not.toContain('hunter2');
    expect(done.stderr).not.toContain(secretId);
  });

  it.skipIf(!PG_BIN)('renews PostgreSQL credentials, reads new ones at their max TTL (one restart), revokes them at the end', { timeout: 120_000 }, async () => {
    const events = join(dir, 'db.events');
    const psql = `PGPASSWORD="$DB_PASSWORD" psql -h 127.0.0.1 -p ${pgPort} -U "$DB_USER" -d postgres -tAc 'select current_user'`;
    const init = start([...FAST, '--', '/bin/sh', '-c', `echo "start $(${psql})" >> ${events}; trap 'exit 0' TERM; sleep 1000 & wait`], {
      VAULT_TOKEN: 'root', DB_USER: 'vault:database/creds/app#username', DB_PASSWORD: 'vault:database/creds/app#password',
    });
    await until(() => lines(events).length >= 2, 'new credentials after the max TTL', init, 90_000);
    const users = lines(events).map((l) => l.slice('start '.length));
    expect(users.every((u) => /^v-/.test(u))).toBe(true); // each start logged in to PostgreSQL as its own user
    expect(users[0]).not.toBe(users[1]);
    expect(audited(/^sys\/leases\/renew$/)).toBeGreaterThanOrEqual(1);
    expect(audited(/^database\/creds\/app$/)).toBe(lines(events).length);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(0);
    expect(audited(/^sys\/leases\/revoke$/)).toBeGreaterThanOrEqual(1);
    const roles = () => execFileSync('psql', ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres', '-d', 'postgres', '-tAc', "select count(*) from pg_roles where rolname like 'v-%'"], { env: { PATH, PGPASSWORD: 'pgroot' }, encoding: 'utf8' }).trim();
    await until(() => roles() === '0', 'the revoked users gone from PostgreSQL');
  });
});
