// Secrets over time, with the built init as PID 1 against the Vault test server: tokens
// renewed and replaced, leases renewed or read again, static secrets refreshed, changes
// acted on (restart, signal, command, none, exit), failures ridden out, expiry, and
// revocation at the end. TTLs are a few seconds; assertions are about counts (requests seen
// by the server, lines the child wrote), never about how long anything took.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makePki } from '../support/certs';
import { startKeywhiz } from '../support/keywhiz-server';
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

  it('Keywhiz (mutual TLS): refreshed every interval, nothing done while unchanged; a rotated secret restarts the command once', async () => {
    const pki = makePki();
    const app = pki.client('app');
    const kw = await startKeywhiz({ pki, clients: { app: { secrets: ['db-password'] } }, secrets: { 'db-password': { content: 'hunter2' } } });
    try {
      const dir = scratch();
      const events = join(dir, 'events');
      const init = start(['--refresh', '300ms', ...FAST, '--log-level', 'debug', '--', ...recorder(events, 'DB_PASSWORD')], {
        SESAME_KEYWHIZ_SERVER: kw.url, SESAME_KEYWHIZ_CERT: app.certPath, SESAME_KEYWHIZ_KEY: app.keyPath, SESAME_KEYWHIZ_CA: pki.ca.certPath,
        DB_PASSWORD: 'keywhiz:db-password',
      });
      const fetches = () => kw.requests.filter((r) => r.status === 200 && /secret/.test(r.path)).length;
      await until(() => fetches() >= 6, 'six fetches', init);
      expect(lines(events)).toEqual(['start hunter2']);
      kw.setSecret('db-password', { content: 'swordfish' });
      await until(() => lines(events).length === 2, 'the restart', init);
      const after = fetches();
      await until(() => fetches() >= after + 4, 'four more fetches', init);
      expect(lines(events)).toEqual(['start hunter2', 'start swordfish']);
      await init.signal('SIGTERM');
      const done = await init.done;
      expect(done.code).toBe(0);
      expect(done.stderr).toMatch(/^sesame: secret changed: DB_PASSWORD$/m);
      expect(done.stderr).not.toMatch(/hunter2|swordfish/);
    } finally {
      await kw.stop();
    }
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

function writeConfig(dir: string, config: object): string {
  const file = join(dir, 'sesame.yaml');
  writeFileSync(file, stringify(config, { version: '1.1', lineWidth: 0 }));
  return file;
}

/** A service that records its start and each SIGHUP in `events`, and stops on SIGTERM. */
const service = (events: string, name: string, show = '') =>
  `trap 'echo ${name} hup >> ${events}' HUP; trap 'exit 0' TERM; echo "${name} start${show}" >> ${events}; while :; do sleep 1 & wait; done`;

describe('on change: templates and services', () => {
  it('a template is rendered again and its service gets SIGHUP once per change; identical output is not written', async () => {
    const vault = await server();
    vault.kvPut('secret', 'web', { password: 'one', other: 'x' });
    const dir = scratch();
    const events = join(dir, 'events');
    const src = join(dir, 'app.conf.liquid');
    const dest = join(dir, 'out', 'app.conf');
    writeFileSync(src, 'password={{ secrets.pw }}\n');
    const config = writeConfig(dir, {
      secrets: [{ ref: 'vault:secret/web#password', name: 'pw', refresh: '200ms' }, { ref: 'vault:secret/web#other', env: 'OTHER', refresh: '200ms' }],
      templates: [{ src, dest, mode: '0640', service: 'web', on_change: { signal: 'SIGHUP' } }],
      services: { web: { command: service(events, 'web') }, side: { command: service(events, 'side'), on_change: 'none', secrets: ['OTHER'] } },
    });
    const init = start(['-c', config, ...FAST], { VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken });
    await until(() => lines(events).length === 2, 'both services up', init);
    const reads = () => vault.requestCount({ method: 'GET', path: 'secret/data/web' });
    await until(() => reads() >= 6, 'six reads', init);
    const firstWrite = statSync(dest);
    expect(readFileSync(dest, 'utf8')).toBe('password=one\n');
    vault.kvPut('secret', 'web', { password: 'two', other: 'x' });
    await until(() => lines(events).includes('web hup'), 'the SIGHUP', init);
    expect(readFileSync(dest, 'utf8')).toBe('password=two\n');
    expect(statSync(dest).mode & 0o7777).toBe(0o640);
    expect(statSync(dest).ino).not.toBe(firstWrite.ino); // written anew, atomically
    const written = statSync(dest);
    // OTHER changes, but side says none, and the template does not read it.
    vault.kvPut('secret', 'web', { password: 'two', other: 'y' });
    const after = reads();
    await until(() => reads() >= after + 6, 'six more reads', init);
    expect(statSync(dest).ino).toBe(written.ino); // identical output: not written
    expect(lines(events).sort()).toEqual(['side start', 'web hup', 'web start']);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(0);
    expect(done.stderr).toMatch(/^sesame: changed \(\/.*app\.conf\): sent SIGHUP to web$/m);
  });

  it('with a single command (no services): a template that says signal sends it to the command, once per change, with no restart', async () => {
    const vault = await server();
    vault.kvPut('secret', 'web', { password: 'one' });
    const dir = scratch();
    const events = join(dir, 'events');
    const src = join(dir, 'app.conf.liquid');
    const dest = join(dir, 'app.conf');
    writeFileSync(src, 'password={{ secrets.pw }}\n');
    const config = writeConfig(dir, {
      secrets: [{ ref: 'vault:secret/web#password', name: 'pw', refresh: '200ms' }],
      templates: [{ src, dest, on_change: { signal: 'SIGHUP' } }],
    });
    const init = start(['-c', config, ...FAST, '--', '/bin/sh', '-c', service(events, 'cmd')], { VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken });
    await until(() => lines(events).length === 1, 'the command up', init);
    vault.kvPut('secret', 'web', { password: 'two' });
    await until(() => lines(events).includes('cmd hup'), 'the SIGHUP', init);
    expect(readFileSync(dest, 'utf8')).toBe('password=two\n');
    const reads = vault.requestCount({ path: 'secret/data/web' });
    await until(() => vault.requestCount({ path: 'secret/data/web' }) >= reads + 5, 'five more reads', init);
    expect(lines(events)).toEqual(['cmd start', 'cmd hup']);
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(0);
  });

  it('a service whose environment holds the changed secret restarts once; its dependant keeps running; a command runs once', async () => {
    const vault = await server();
    vault.kvPut('secret', 'db', { password: 'one' });
    const dir = scratch();
    const events = join(dir, 'events');
    const src = join(dir, 'db.txt.liquid');
    writeFileSync(src, '{{ env.DB_PASSWORD }}');
    const config = writeConfig(dir, {
      secrets: [{ ref: 'vault:secret/db#password', env: 'DB_PASSWORD', refresh: '200ms' }],
      templates: [{ src, dest: join(dir, 'db.txt'), on_change: { command: ['/bin/sh', '-c', `echo command ran >> ${events}`], timeout: '5s' } }],
      services: {
        db: { command: service(events, 'db', ' $DB_PASSWORD'), secrets: ['DB_PASSWORD'] },
        app: { command: service(events, 'app'), depends_on: ['db'] },
      },
    });
    const init = start(['-c', config, ...FAST], { VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken });
    await until(() => lines(events).length === 2, 'both services up', init);
    vault.kvPut('secret', 'db', { password: 'two' });
    await until(() => lines(events).includes('db start two') && lines(events).includes('command ran'), 'the restart and the command', init);
    const reads = vault.requestCount({ path: 'secret/data/db' });
    await until(() => vault.requestCount({ path: 'secret/data/db' }) >= reads + 5, 'five more reads', init);
    expect(lines(events).sort()).toEqual(['app start', 'command ran', 'db start one', 'db start two']);
    expect(readFileSync(join(dir, 'db.txt'), 'utf8')).toBe('two');
    await init.signal('SIGTERM');
    const done = await init.done;
    expect(done.code).toBe(0);
    expect(done.stderr).toMatch(/^sesame: db: started \(pid \d+\)$/m);
    expect(done.stderr.match(/^sesame: app: started/gm)).toHaveLength(1);
  });

  it('none leaves the command alone (it reads its files itself)', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'one' });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', '200ms', '--on-change', 'none', ...FAST, '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_PASSWORD: 'vault:secret/app#password',
    });
    await until(() => lines(events).length === 1, 'the start', init);
    vault.kvPut('secret', 'app', { password: 'two' });
    await until(() => /secret changed: DB_PASSWORD/.test(init.stderr()), 'the change seen', init);
    const reads = vault.requestCount({ path: 'secret/data/app' });
    await until(() => vault.requestCount({ path: 'secret/data/app' }) >= reads + 3, 'three more reads', init);
    expect(lines(events)).toEqual(['start one']);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  });
});

describe('failures after start', () => {
  it('Vault sealed during refreshes: the last value stays, each failure is a warning, and it recovers', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'one' });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', '200ms', ...FAST, '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_PASSWORD: 'vault:secret/app#password',
    });
    await until(() => vault.requestCount({ path: 'secret/data/app' }) >= 2, 'a refresh', init);
    vault.sealed = true;
    await until(() => /warning: vault:secret\/app: .*Vault is sealed.*; keeping the last value, retrying in \d/.test(init.stderr()), 'the warning', init);
    // The backoff starts at about 10 s: while sealed, only the first attempt's own quick retries went out.
    const whileSealed = vault.requests.filter((r) => r.status === 503).length;
    expect(whileSealed).toBeGreaterThan(0);
    expect(whileSealed).toBeLessThan(20);
    expect(lines(events)).toEqual(['start one']);
    vault.sealed = false;
    vault.kvPut('secret', 'app', { password: 'two' });
    // The next retry (10-20 s later) reads the new value.
    await until(() => lines(events).length === 2, 'the recovery', init, 40_000);
    expect(lines(events)).toEqual(['start one', 'start two']);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  }, 60_000);

  it('renewals that time out or fail for a while but recover before the lease ends: renewed, never read again, no restart', async () => {
    // A 20 s lease, renewed first between 1/20 and 4/5 of it. Its first renewal gets no answer
    // for 8 s (more than any try's budget: a third of what is left, at least 2 s), then three
    // 503s. Each is retried while the lease has time; none gives new credentials.
    const vault = await server();
    vault.addDatabaseRole('app', { ttl: '20s', maxTtl: '1h' });
    vault.faults.push({ path: 'sys/leases/renew', delayMs: 8000, times: 1 }, { path: 'sys/leases/renew', status: 503, times: 3 });
    const dir = scratch();
    const events = join(dir, 'events');
    const began = Date.now();
    const init = start(['--log-level', 'debug', ...FAST, '--', ...recorder(events, 'DB_PASS')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_PASS: 'vault:database/creds/app#password',
    });
    await until(() => /warning: vault:database\/creds\/app: Vault did not answer in time .*; keeping the last value, retrying in /.test(init.stderr()), 'the timed-out renewal', init, 30_000);
    await until(() => /debug: vault:database\/creds\/app: lease renewed for 20s/.test(init.stderr()), 'a renewal through', init, 30_000);
    expect(vault.faults.every((f) => f.times === 0)).toBe(true);
    // Past the end of the lease as first read: the renewed one holds.
    await until(() => Date.now() > began + 21_000, 'the end of the first lease', init, 30_000);
    expect(vault.requestCount({ method: 'GET', path: 'database/creds/app' })).toBe(1);
    expect(vault.leases()).toHaveLength(1);
    expect(lines(events)).toEqual([`start ${vault.leases()[0].data.password}`]);
    expect(init.stderr()).not.toMatch(/reading it again|the lease ended/);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  }, 60_000);

  it('40 leases read together, every renewal answered after 1 s: the renewals spread out, none is read again', async () => {
    // 8 connections at 1 s an answer carry 8 renewals a second. The first renewals of leases
    // read together are spread from 1/20 to 4/5 of the lease (about 4 a second here), and a
    // try waiting for a connection counts that wait in its own budget.
    const vault = await server();
    const names = Array.from({ length: 40 }, (_, i) => `r${i}`);
    for (const name of names) vault.addDatabaseRole(name, { ttl: '15s', maxTtl: '1h' });
    vault.faults.push({ path: 'sys/leases/renew', delayMs: 1000 });
    const dir = scratch();
    const events = join(dir, 'events');
    const began = Date.now();
    const init = start([...FAST, '--', ...recorder(events, 'S0')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, ...Object.fromEntries(names.map((name, i) => [`S${i}`, `vault:database/creds/${name}#password`])),
    });
    await until(() => lines(events).length === 1, 'the start', init);
    await until(() => Date.now() > began + 17_000, 'the end of the first leases', init, 30_000);
    expect(vault.leases()).toHaveLength(40);
    expect(vault.leases().every((l) => l.renewals.length >= 1)).toBe(true);
    expect(vault.requests.filter((r) => r.path.startsWith('/v1/database/creds/')).length).toBe(40);
    expect(lines(events)).toHaveLength(1);
    expect(init.stderr()).not.toMatch(/reading it again|the lease ended/);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  }, 60_000);

  it('a lease that ends with no replacement: exit stops the container with 69; keep runs on', async () => {
    for (const policy of ['exit', 'keep']) {
      const vault = await server();
      vault.addDatabaseRole('app', { ttl: '2s', renewable: false });
      const dir = scratch();
      const events = join(dir, 'events');
      const init = start(['--on-expiry', policy, ...FAST, '--', ...recorder(events, 'DB_USER')], {
        VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_USER: 'vault:database/creds/app#username',
      });
      await until(() => lines(events).length === 1, 'the start', init);
      vault.faults.push({ path: 'database/creds/app', status: 500 });
      if (policy === 'exit') {
        const done = await init.done;
        expect(done.code).toBe(69);
        expect(done.stderr).toMatch(/^sesame: error: vault:database\/creds\/app: the lease ended with no new value .*; stopping the container \(on expiry: exit\)$/m);
      } else {
        await until(() => /running on with the last value \(on expiry: keep\)/.test(init.stderr()), 'the expiry warning', init);
        expect(init.process.exitCode).toBeNull();
        vault.faults.splice(0);
        await init.signal('SIGTERM');
        expect((await init.done).code).toBe(0);
      }
    }
  }, 60_000);
});

describe('a token given from outside', () => {
  it('not renewable: a warning well before it expires, then exit 69; it is never revoked', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'one' });
    vault.addPolicy('app', ['secret/data/app']);
    // 8 s: the warning comes at about 2/3 of it, well before the end, even on a busy machine.
    const token = vault.createToken({ policies: ['app'], ttl: '8s', renewable: false });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', '1h', ...FAST, '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: token, DB_PASSWORD: 'vault:secret/app#password',
    });
    await until(() => /Vault token: it is not renewable/.test(init.stderr()), 'the warning', init);
    expect(init.process.exitCode).toBeNull();
    const done = await init.done;
    expect(done.code).toBe(69);
    expect(done.stderr).toMatch(/^sesame: warning: Vault token: it is not renewable and init cannot log in again \(the token was given from outside\): it expires in \d/m);
    expect(done.stderr).toMatch(/^sesame: error: Vault token: expired, with no way to renew it or log in again; stopping the container \(on expiry: exit\)$/m);
    expect(vault.requestCount({ path: 'auth/token/lookup-self' })).toBe(1);
    expect(vault.requestCount({ path: 'auth/token/renew-self' })).toBe(0);
    expect(vault.requestCount({ path: 'auth/token/revoke-self' })).toBe(0);
    expect(lines(events)).toEqual(['start one']);
  });
  it('is looked up (lookup-self) after the child has started: nothing before the child waits for it', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'one' });
    const token = vault.createToken({ policies: ['root'], ttl: '1h', renewable: true });
    // The lookup takes 3 s to answer: a start that waited for it would start the child late.
    vault.faults.push({ path: 'auth/token/lookup-self', delayMs: 3000 });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', '1h', ...FAST, '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: token, DB_PASSWORD: 'vault:secret/app#password',
    });
    await until(() => vault.requestCount({ path: 'auth/token/lookup-self' }) === 1, 'the lookup', init);
    const asked = Date.now();
    await until(() => lines(events).length === 1, 'the child', init);
    expect(Date.now() - asked).toBeLessThan(2500);
    expect(lines(events)).toEqual(['start one']);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  });
});

describe('memory', () => {
  it("init's memory does not grow over many refresh cycles", async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'one' });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', '10ms', ...FAST, '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_PASSWORD: 'vault:secret/app#password',
    });
    const pid = await init.initPid();
    const rss = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
    const reads = () => vault.requestCount({ path: 'secret/data/app' });
    const samples: number[] = [];
    for (const n of [300, 1000, 2000, 3000]) {
      await until(() => reads() >= n, `${n} refreshes`, init, 120_000);
      samples.push(rss());
    }
    // After warming up (the first 2000 reads: code compiled, V8's spaces sized), 1000 more
    // reads leave init's RSS within 4 MiB (V8 grows its heap in steps of about 1 MiB).
    expect(samples[3] - samples[2], `RSS in MiB: ${samples.map((b) => (b / 1048576).toFixed(1)).join(', ')}`).toBeLessThan(4 * 1024 * 1024);
    expect(lines(events)).toEqual(['start one']);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  }, 180_000);
});

describe('the single command with --on-change exit', () => {
  it('a changed secret stops the container gracefully with 69', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'one' });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', '200ms', '--on-change', 'exit', ...FAST, '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_PASSWORD: 'vault:secret/app#password',
    });
    await until(() => lines(events).length === 1, 'the start', init);
    vault.kvPut('secret', 'app', { password: 'two' });
    const done = await init.done;
    expect(done.code).toBe(69);
    expect(done.stderr).toMatch(/^sesame: changed \(DB_PASSWORD\): stopping the container \(on change: exit\)$/m);
    expect(lines(events)).toEqual(['start one']);
  });
});

describe('a new login re-issues only the leases of the old token', () => {
  it('the database lease is read again under the new token, before the old one ends; the KV secret is not', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'kv' });
    vault.addDatabaseRole('app', { ttl: '1h', maxTtl: '2h' });
    vault.addPolicy('app', ['secret/data/app', 'database/creds/app']);
    // 4 s and 6 s: the new login and the lease's new read have ~2 s to spare before the old
    // token ends, even on a loaded machine (with 2 s and 3 s, ~1 s: it missed once in a run).
    const role = vault.addAppRole('web', { policies: ['app'], tokenTtl: '4s', tokenMaxTtl: '6s' });
    const dir = scratch();
    const events = join(dir, 'events');
    const init = start(['--refresh', '1h', ...FAST, '--', '/bin/sh', '-c', `echo "start $DB_USER $KV" >> ${events}; trap 'exit 0' TERM; sleep 1000 & wait`], {
      VAULT_ADDR: vault.url, SESAME_VAULT_AUTH: 'approle', SESAME_VAULT_ROLE_ID: role.roleId, SESAME_VAULT_SECRET_ID: role.secretId,
      DB_USER: 'vault:database/creds/app#username', KV: 'vault:secret/app#password',
    });
    // When the second lease is asked for, is the token of the first still valid?
    const firstTokenLive: boolean[] = [];
    const push = vault.requests.push.bind(vault.requests);
    vault.requests.push = (...items) => {
      for (const item of items) {
        const reads = vault.requests.filter((r) => r.path === '/v1/database/creds/app');
        if (item.path === '/v1/database/creds/app' && reads.length === 1) firstTokenLive.push(vault.tokenLive(reads[0].headers['x-vault-token'] as string));
      }
      return push(...items);
    };
    const logins = () => vault.requests.filter((r) => r.path === '/v1/auth/approle/login');
    await until(() => logins().length >= 2 && vault.leases().length >= 2, 'a new login and a new lease', init);
    const leases = vault.leases();
    // The new lease was read with the new token, while the old token was still valid.
    const newToken = vault.requests.filter((r) => r.path === '/v1/database/creds/app')[1].headers['x-vault-token'];
    expect(newToken).not.toBe(vault.requests.filter((r) => r.path === '/v1/database/creds/app')[0].headers['x-vault-token']);
    expect(firstTokenLive).toEqual([true]);
    await until(() => lines(events).length === 2, 'the restart for the new credentials', init);
    expect(lines(events)).toEqual([`start ${leases[0].data.username} kv`, `start ${leases[1].data.username} kv`]);
    expect(vault.requestCount({ path: 'secret/data/app' })).toBe(1);
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  });
});

describe('nothing with a lifetime', () => {
  it('arms no timer but the one release after the start: init does not wake up while the command runs', async () => {
    const vault = await server();
    vault.kvPut('secret', 'app', { password: 'one' });
    const dir = scratch();
    const events = join(dir, 'events');
    // The dev root token has no TTL and --refresh never: nothing to renew or read again.
    const init = start(['--refresh', 'never', '--', ...recorder(events, 'DB_PASSWORD')], {
      VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_PASSWORD: 'vault:secret/app#password',
    });
    await until(() => lines(events).length === 1, 'the start', init);
    const pid = await init.initPid();
    const switches = () => Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    // Past the one timer a start arms (main.ts settle: memory given back 0.5 s after the
    // children start), with room to spare on a loaded machine.
    await new Promise((r) => setTimeout(r, 1500));
    const before = switches();
    await new Promise((r) => setTimeout(r, 3000));
    expect(switches() - before).toBe(0);
    expect(vault.requests).toHaveLength(2); // the preflight and the read, nothing after
    await init.signal('SIGTERM');
    expect((await init.done).code).toBe(0);
  });
});
