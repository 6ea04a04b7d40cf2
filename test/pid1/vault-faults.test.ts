// A fault run against init as PID 1: Vault answers that are wrong, hostile or broken. Each
// ends in a documented way (the child starts with the right value, or it never starts and
// init exits 69 or 78 with one line), with no secret in what init prints, also at debug level.
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/exit-codes';
import { runAsPid1, type Finished } from '../support/pid1';
import { startVault, type VaultServer } from '../support/vault-server';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const TOKEN = `s.${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`.slice(0, 26);
const DB = 'vault:secret/app#password';
const line = (text: string) => `sesame: error: DB: ${DB}: ${text}\n`;
const WAITING = /^sesame: warning: waiting for Vault at http:\/\/127\.0\.0\.1:\d+ \([^\n]+\); retrying for up to \d+ s \(--secrets-timeout\)\n/;

let vault: VaultServer | undefined;
let elsewhere: VaultServer | undefined;
afterEach(async () => {
  await vault?.stop();
  await elsewhere?.stop();
  vault = elsewhere = undefined;
});

async function server(): Promise<VaultServer> {
  vault = await startVault();
  vault.kvPut('secret', 'app', { password: 'hunter2' });
  vault.createToken({ id: TOKEN, policies: ['root'] });
  return vault;
}

function run(timeout: string, extra: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return runAsPid1(['--secrets-timeout', timeout, '--', 'sh', '-c', 'printf "%s" "$DB"'], {
    env: { PATH, VAULT_ADDR: (vault as VaultServer).url, VAULT_TOKEN: TOKEN, DB, ...extra },
  });
}

/** Nothing secret in what init printed. */
function clean(r: Finished): void {
  expect(r.stderr).not.toContain(TOKEN);
  expect(r.stderr).not.toContain('hunter2');
}

describe('vault fault run (init as PID 1)', () => {
  it('a connection closed in the middle of the body, once: retried, the child gets the right value', async () => {
    await server();
    vault?.faults.push({ path: 'secret/data/app', closeMidBody: true, times: 1 });
    const r = await run('20s');
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toMatch(WAITING);
    expect(r.code).toBe(0);
    clean(r);
  });

  it('connections always closed mid-body: exit 69 at the time limit, saying so; nothing started', async () => {
    await server();
    vault?.faults.push({ path: 'secret/data/app', closeMidBody: true });
    const r = await run('2s', { SESAME_LOG_LEVEL: 'debug' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/sesame: error: DB: vault:secret\/app#password: Vault did not answer in time \(\d+ attempts; last: ECONNRESET \(the connection closed in the middle of the answer \(\d+ bytes received\)\)\)\n$/);
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    clean(r);
  });

  it('an answer at 1 byte a second: ended by the time limit (not an idle timeout), exit 69', async () => {
    await server();
    vault?.faults.push({ path: 'secret/data/app', bytesPerSecond: 1 });
    const r = await run('3s');
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sesame: error: DB: vault:secret\/app#password: Vault did not answer in time \(1 attempts; last: ETIMEDOUT \(the answer was incomplete at the time limit \(\d+ bytes received\)\)\)\n$/);
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    clean(r);
  });

  it('a 100 MB answer: refused past 32 MiB, not retried, exit 69', async () => {
    await server();
    vault?.faults.push({ path: 'secret/data/app', bodyBytes: 100e6 });
    const r = await run('30s');
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(line("Vault's answer to GET /v1/secret/data/app was refused: the answer is larger than 32 MiB"));
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(vault?.requestCount({ path: 'secret/data/app' })).toBe(1);
  });

  it('a 307 to another host: not followed, so the token never reaches it; exit 69 naming only the origin', async () => {
    await server();
    elsewhere = await startVault();
    vault?.faults.push({ path: 'secret/data/app', redirect: `${elsewhere.url}/steal?x=1` });
    const r = await run('30s');
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(line(`Vault answered 307, a redirect to ${elsewhere.url} for GET /v1/secret/data/app: init follows no redirects (they would carry the token elsewhere); set VAULT_ADDR to the server that answers`));
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(elsewhere.requests).toEqual([]);
    clean(r);
  });

  it('a token in an error body: redacted in the error line and in debug lines', async () => {
    await server();
    const other = 's.AAAAAAAAAAAAAAAAAAAAAAAA';
    vault?.faults.push({ path: 'secret/data/app', status: 500, body: { errors: [`token ${TOKEN} is broken; try ${other}`], auth: { client_token: other } } });
    const r = await run('1s', { SESAME_LOG_LEVEL: 'debug' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/sesame: error: DB: vault:secret\/app#password: Vault answered 500 to GET \/v1\/secret\/data\/app until the time limit \(\d+ attempts\): token <redacted> is broken; try <redacted>\n$/);
    expect(r.stderr).not.toContain(other);
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    clean(r);
  });

  it('a login credential in a login error: redacted', async () => {
    await server();
    const web = vault?.addAppRole('web', { policies: ['root'] });
    vault?.faults.push({ path: 'auth/approle/login', status: 400, errors: [`invalid secret id ${web?.secretId}`] });
    const r = await run('5s', { VAULT_TOKEN: undefined, SESAME_VAULT_AUTH: 'approle', SESAME_VAULT_ROLE_ID: web?.roleId, SESAME_VAULT_SECRET_ID: web?.secretId });
    expect(r.stderr).toBe(line('Vault approle login at auth/approle failed: invalid secret id <redacted>'));
    expect(r.stderr).not.toContain(web?.secretId as string);
    expect(r.code).toBe(EXIT.NO_PERMISSION);
  });

  it('a 200 that is not JSON (a sign-in page): a wrong VAULT_ADDR, exit 78 at once, one request', async () => {
    await server();
    vault?.faults.push({ notJson: true });
    const r = await run('30s');
    expect(r.stderr).toBe(line(`GET /v1/sys/internal/ui/mounts/secret/app: the answer is not JSON (text/html): is VAULT_ADDR=${vault?.url} the address of Vault?`));
    expect(r.code).toBe(EXIT.CONFIG);
    expect(vault?.requests).toHaveLength(1);
  });

  it('repeated 500s: said as what Vault answered, not "did not answer in time"', async () => {
    await server();
    vault?.faults.push({ path: 'secret/data/app', status: 500 });
    // Long enough for a retry even on a busy machine (the waiting line comes with the first one).
    const r = await run('4s');
    expect(r.stderr).toMatch(WAITING);
    expect(r.stderr).toMatch(/sesame: error: DB: vault:secret\/app#password: Vault answered 500 to GET \/v1\/secret\/data\/app until the time limit \(\d+ attempts\): 500 error injected by the test\n$/);
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('Vault unreachable: one line at the default level saying what init waits for, then the result', async () => {
    await server();
    await vault?.stop();
    const r = await run('2s');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(`${lines[0]}\n`).toMatch(WAITING);
    expect(lines[0]).toContain('(ECONNREFUSED)');
    expect(lines[1]).toMatch(/^sesame: error: DB: vault:secret\/app#password: Vault did not answer in time \(\d+ attempts; last: ECONNREFUSED\)$/);
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    vault = undefined;
  });
});
