// The Vault adapter honours Retry-After on 429 and 503 (Vault's rate-limit quotas send it):
// the retry comes no sooner than the server asked, and the wait is known to the caller.
import { afterEach, expect, it } from 'vitest';
import { createLog } from '../../src/log';
import { VaultClient } from '../../src/secrets/vault/client';
import { vaultSettings } from '../../src/secrets/vault/settings';
import { startVault, type VaultRequest, type VaultServer } from '../support/vault-server';

let vault: VaultServer | undefined;
afterEach(async () => {
  await vault?.stop();
  vault = undefined;
});

function client(server: VaultServer, deadlineMs: number): VaultClient {
  const c = new VaultClient(vaultSettings({ VAULT_ADDR: server.url, VAULT_TOKEN: server.rootToken }), Date.now() + deadlineMs, createLog('error'));
  c.setToken(server.rootToken);
  return c;
}

/** Arrival times of the requests, in order. */
function arrivals(server: VaultServer): number[] {
  const times: number[] = [];
  const push = server.requests.push.bind(server.requests);
  server.requests.push = (...items: VaultRequest[]) => {
    for (const _ of items) times.push(Date.now());
    return push(...items);
  };
  return times;
}

it('waits at least Retry-After before retrying a 429, then succeeds', async () => {
  vault = await startVault();
  vault.kvPut('secret', 'app', { password: 'x' });
  vault.faults.push({ path: 'secret/data/app', status: 429, times: 1, headers: { 'Retry-After': '1' } });
  const times = arrivals(vault);
  const answer = (await client(vault, 10_000).call('GET', 'secret/data/app')) as { data: { data: { password: string } } };
  expect(answer.data.data.password).toBe('x');
  expect(vault.requests.map((r) => r.status)).toEqual([429, 200]);
  expect(times[1] - times[0]).toBeGreaterThanOrEqual(1000);
});

it('gives up inside its deadline with the 503 and the wait the server asked for', async () => {
  vault = await startVault();
  vault.faults.push({ path: 'secret/data/app', status: 503, headers: { 'Retry-After': '30' } });
  const error = await client(vault, 2000).call('GET', 'secret/data/app').catch((e: unknown) => e);
  // One attempt: the next would come after the deadline.
  expect(vault.requests.map((r) => r.status)).toEqual([503]);
  expect((error as Error).message).toMatch(/^Vault answered 503 to GET \/v1\/secret\/data\/app until the time limit \(1 attempts\)/);
});
