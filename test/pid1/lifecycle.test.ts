// Secrets over time, with the built init as PID 1 against the Vault test server: tokens
// renewed and replaced, leases renewed or read again, static secrets refreshed, changes
// acted on (restart, signal, command, none, exit), failures ridden out, expiry, and
// revocation at the end. TTLs are a few seconds; assertions are about counts (requests seen
// by the server, lines the child wrote), never about how long anything took.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startAsPid1, type Running } from '../support/pid1';
import { startVault, type VaultServer } from '../support/vault-server';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Short waits so that a change is acted on soon after it is seen. */
const FAST = ['--wait', '100ms:300ms'];

const dirs: string[] = [];
const servers: VaultServer[] = [];
const inits: Running[] = [];
afterEach(async () => {
  for (const init of inits.splice(0)) if (init.process.exitCode === null && init.process.signalCode === null) init.process.kill('SIGKILL');
  for (const server of servers.splice(0)) await server.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-life-'));
  dirs.push(dir);
  return dir;
}

async function server(): Promise<VaultServer> {
  const vault = await startVault();
  servers.push(vault);
  return vault;
}

function start(args: string[], env: NodeJS.ProcessEnv): Running {
  const init = startAsPid1(args, { env: { PATH, ...env } });
  inits.push(init);
  return init;
}

/** The lines the child appended to `file` so far. */
function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function until(ready: () => boolean, what: string, init?: Running, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}; stderr: ${init?.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A command that records each start with the value of `name`, then waits for ever. */
const recorder = (events: string, name: string) => ['/bin/sh', '-c', `echo "start $${name}" >> ${events}; trap 'exit 0' TERM; sleep 1000 & wait`];

describe('static secrets: read again every refresh interval', () => {
  it('an unchanged value gives no restart over many refreshes; a changed one restarts the command exactly once', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'hunter2' });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', '200ms', ...FAST, '--log-level', 'debug', '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_PASSWORD: 'vault:secret/app#password',
    });
    const reads = () => vault.requestCount({ method: 'GET', path: 'secret/data/app' });
    await until(() => reads() >= 8, 'eight reads', init);
    expect(lines(events)).toEqual(['start hunter2']);
    vault.kvPut('secret', 'app', { password: 'swordfish' });
    await until(() => lines(events).length === 2, 'the restart', init);
    const after = reads();
    await until(() => reads() >= after + 6, 'six more reads', init);
    expect(lines(events)).toEqual(['start hunter2', 'start swordfish']);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(0);
    expect(done.stderr).toMatch(/^sesame: secret changed: DB_PASSWORD$/m);
    expect(done.stderr).toMatch(/^sesame: changed \(DB_PASSWORD\): restarting the command$/m);
    // Debug level, many refreshes: no value in any line.
    expect(done.stderr).not.toMatch(/hunter2|swordfish/);
  });

  it('refresh never: no read after start, and the token init logged in with is revoked at once', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'hunter2' });
    vault.addPolicy('app', ['secret/data/app']);
    const role = vault.addAppRole('web', { policies: ['app'], tokenTtl: '1h' });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', 'never', '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, SESAME_VAULT_AUTH: 'approle', SESAME_VAULT_ROLE_ID: role.roleId, SESAME_VAULT_SECRET_ID: role.secretId,
      DB_PASSWORD: 'vault:secret/app#password',
    });
    await until(() => lines(events).length === 1, 'the start', init);
    const revoked = vault.requests.filter((r) => r.path === '/v1/auth/token/revoke-self');
    expect(revoked.map((r) => r.status)).toEqual([204]);
    expect(vault.tokenLive(revoked[0].headers['x-vault-token'] as string)).toBe(false);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
    expect(vault.requestCount({ path: 'secret/data/app' })).toBe(1);
  });
});

describe('leases', () => {
  it('a renewable lease is renewed, the command is not restarted, and the lease is revoked at the end', async () => {
    const vault = await server();
    vault.enableDatabase();
    vault.addDatabaseRole('app', { ttl: '2s', maxTtl: '1h' });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start([...FAST, '--', '/bin/sh', '-c', `echo "start $DB_USER $DB_PASS" >> ${events}; trap 'exit 0' TERM; sleep 1000 & wait`], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_USER: 'vault:database/creds/app#username', DB_PASS: 'vault:database/creds/app#password',
    });
    await until(() => (vault.leases()[0]?.renewals.length ?? 0) >= 3, 'three renewals', init);
    // One read gave both keys: one lease, one username with its password.
    expect(vault.leases()).toHaveLength(1);
    const lease = vault.leases()[0];
    expect(lines(events)).toEqual([`start ${lease.data.username} ${lease.data.password}`]);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(0);
    // A token given from outside: the lease is revoked, the token never.
    expect(vault.requestCount({ method: 'POST', path: 'sys/leases/revoke' })).toBe(1);
    expect(vault.leases()[0].revoked).toBe(true);
    expect(vault.requestCount({ path: 'auth/token/revoke-self' })).toBe(0);
    expect(vault.tokenLive(vault.rootToken)).toBe(true);
  });

  it('a non-renewable lease is read again before it ends; each new credential restarts the command once', async () => {
    const vault = await server();
    vault.enableDatabase();
    vault.addDatabaseRole('app', { ttl: '2s', renewable: false });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start([...FAST, '--', ...recorder(events, 'DB_USER')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_USER: 'vault:database/creds/app#username',
    });
    const reads = () => vault.requestCount({ method: 'GET', path: 'database/creds/app' });
    await until(() => reads() >= 3, 'three reads', init);
    await until(() => lines(events).length >= 3, 'three starts', init);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
    const users = vault.leases().map((l) => `start ${l.data.username}`);
    // Every start had the credential of one read, in order; none was restarted twice.
    expect(lines(events)).toEqual(users.slice(0, lines(events).length));
    expect(vault.requestCount({ method: 'POST', path: 'sys/leases/renew' })).toBe(0);
    // Each lease was replaced before it ended: the one in use was always live.
    expect(vault.leases().slice(0, -1).every((l) => !l.revoked)).toBe(true);
  });
});

describe('tokens', () => {
  it('an AppRole token is renewed, then replaced by a new login at its max TTL; the command is never restarted', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'hunter2' });
    vault.addPolicy('app', ['secret/data/app']);
    const role = vault.addAppRole('web', { policies: ['app'], tokenTtl: '2s', tokenMaxTtl: '4s' });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', '1h', ...FAST, '--log-level', 'debug', '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, SESAME_VAULT_AUTH: 'approle', SESAME_VAULT_ROLE_ID: role.roleId, SESAME_VAULT_SECRET_ID: role.secretId,
      DB_PASSWORD: 'vault:secret/app#password',
    });
    const logins = () => vault.requestCount({ method: 'POST', path: 'auth/approle/login' });
    await until(() => logins() >= 3, 'two new logins', init);
    expect(vault.requestCount({ method: 'POST', path: 'auth/token/renew-self' })).toBeGreaterThanOrEqual(2);
    expect(lines(events)).toEqual(['start hunter2']);
    // Nothing was read again because of a new token (vault #11030).
    expect(vault.requestCount({ path: 'secret/data/app' })).toBe(1);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(0);
    expect(done.stderr).toMatch(/^sesame: Vault token replaced by a new approle login at auth\/approle$/m);
    expect(done.stderr).not.toContain(role.secretId);
    // The token it logged in with last is revoked at the end.
    expect(vault.requests.filter((r) => r.path === '/v1/auth/token/revoke-self').map((r) => r.status)).toEqual([204]);
  });
});
