// From what the providers left (secrets/resolve.ts Sources) to the lifetimes that keep the
// secrets valid: one per Vault read that has a clock, one for the Vault token when
// something still needs it, one per Keywhiz refresh. Nothing that has no lifetime gets an
// object, a timer or a watch: with none, the stage is empty and PID 1 never wakes up for it.
import type { Log } from '../log';
import { SecretError } from '../secrets/errors';
import { resolveKeywhiz } from '../secrets/keywhiz';
import { secretName, type SecretPlan, type SecretRequest } from '../secrets/plan';
import type { Resolution, Sources } from '../secrets/resolve';
import type { Lifetime, SecretName } from './lifetime';
import { RefreshLifetime } from './refresh';
import { VaultReadLifetime } from './vault-read';
import { type TokenInfo, VaultTokenLifetime } from './vault-token';
import { FileWatchLifetime } from './file-watch';

/**
 * One watch per file that a resolved file: reference or NAME_FILE read, reporting under
 * every name that reads it; `refresh: never` on a config secret leaves its file unwatched.
 */
function fileWatches(plan: SecretPlan, resolution: Resolution): Lifetime[] {
  const byPath = new Map<string, { names: SecretName[]; value: Buffer }>();
  for (const request of plan.requests) {
    const resolved = resolution.get(request);
    if (request.ref.scheme !== 'file' || !resolved || request.refresh === 'never') continue;
    const entry = byPath.get(request.ref.path) ?? { names: [], value: resolved.value };
    entry.names.push(secretName(request));
    byPath.set(request.ref.path, entry);
  }
  return [...byPath].map(([path, { names, value }]) => new FileWatchLifetime(path, names, value));
}

export interface LifetimeSettings {
  /** Static secrets: how often they are read again (ms); 'never': not at all. */
  refresh: number | 'never';
  /** Non-renewable leases are read again at this share of their duration (0.9). */
  threshold: number;
  /** Revoke the leases and the token init created, at shutdown (or at once if unneeded). */
  revoke: boolean;
  /** init's original environment, for sources that read their settings from it (Keywhiz). */
  env: NodeJS.ProcessEnv;
  log: Log;
  /** Something besides the reads needs the Vault token kept alive (issued certificates). */
  tokenNeeded?: boolean;
}

const refreshOf = (request: SecretRequest, settings: LifetimeSettings): number | undefined => {
  const r = request.refresh ?? settings.refresh;
  return r === 'never' ? undefined : r;
};

/** The shortest refresh any of these requests asks for (undefined: never). */
function shortest(requests: SecretRequest[], settings: LifetimeSettings): number | undefined {
  const all = requests.map((r) => refreshOf(r, settings)).filter((ms): ms is number => ms !== undefined);
  return all.length ? Math.min(...all) : undefined;
}

export async function lifetimesFor(plan: SecretPlan, resolution: Resolution, sources: Sources, settings: LifetimeSettings): Promise<Lifetime[]> {
  const lifetimes: Lifetime[] = [];
  const { log } = settings;
  const vault = sources.vault;
  if (vault) {
    const reads = vault.reads
      // A token init created is revoked with revoke-self, which takes its leases with it.
      .map((read) => new VaultReadLifetime(vault, read, { refreshMs: shortest(read.requests, settings), threshold: settings.threshold, revoke: settings.revoke && !vault.token.created }))
      .filter((lifetime) => lifetime.hasClock);
    const token = vault.token;
    if (!reads.length && !settings.tokenNeeded) {
      // Issue 15: nothing will need the token again, so it is given back now; never one
      // init did not create.
      if (token.created && settings.revoke) {
        try {
          await vault.call('POST', 'auth/token/revoke-self');
          log.debug('revoked the Vault token init logged in with: no secret needs it any more');
        } catch (error) {
          log.warn(`could not revoke the Vault token init logged in with: ${(error as Error).message}`);
        }
      }
    } else {
      // A token given from outside: only lookup-self tells its TTL. It is asked once the
      // children run (a round trip less before them); the token was good a moment ago.
      const lookup = async (): Promise<TokenInfo> => {
        try {
          const answer = (await vault.call('GET', 'auth/token/lookup-self')) as { data?: { ttl?: number; renewable?: boolean } };
          return { ttlS: answer?.data?.ttl ?? 0, renewable: answer?.data?.renewable === true };
        } catch (error) {
          log.warn(`Vault token: lookup-self failed (${(error as Error).message}): its expiry is unknown, so it is not renewed`);
          return { ttlS: 0, renewable: false };
        }
      };
      const info = token.ttlS === undefined ? lookup : { ttlS: token.ttlS, renewable: token.renewable ?? false };
      lifetimes.push(new VaultTokenLifetime(vault, info, settings.revoke), ...reads);
    }
  }
  lifetimes.push(...fileWatches(plan, resolution));
  const keywhiz = plan.requests.filter((r) => r.ref.scheme === 'keywhiz' && resolution.has(r));
  const keywhizEvery = shortest(keywhiz, settings);
  if (keywhiz.length && keywhizEvery !== undefined) {
    lifetimes.push(new RefreshLifetime('Keywhiz secrets', async () => {
      const got = await resolveKeywhiz(keywhiz, settings.env, Date.now() + 30_000, log);
      const values = new Map<SecretName, Buffer>();
      for (const [request, result] of got) {
        if (result instanceof SecretError) throw new Error(`${request.ref.text}: ${result.message}`);
        values.set(secretName(request), result.value);
      }
      return values;
    }, keywhizEvery));
  }
  return lifetimes;
}
