// vault: references: log in once, then read every distinct path concurrently.
import type { Log } from '../../log';
import { notFound, SecretError, unavailable } from '../errors';
import type { SecretRequest } from '../plan';
import type { Resolved } from '../resolve';
import { login, type LoginMemory, type LoginResult } from './auth';
import { VaultClient, VaultHttpError } from './client';
import { KvReader } from './kv';
import { type VaultRead, VaultSession } from './session';
import type { VaultSettings } from './settings';

/** A KV value as the child sees it: strings as they are, anything else as JSON. */
export function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export async function resolveVault(
  requests: SecretRequest[],
  settings: VaultSettings,
  deadline: number,
  log: Log,
  /** Given the session when the secrets will be kept alive after start (the lifetime stage). */
  keep?: (session: VaultSession) => void,
): Promise<Map<SecretRequest, Resolved | SecretError>> {
  const out = new Map<SecretRequest, Resolved | SecretError>();
  const client = new VaultClient(settings, deadline, log);
  const memory: LoginMemory = {};
  let logged: LoginResult;
  try {
    logged = await login(client, settings.auth, log, memory);
    log.debug(`vault: ${settings.address}: ${logged.how}`);
  } catch (error) {
    // Without a token nothing can be read: every reference fails with the login's cause.
    const failure = error instanceof SecretError ? error : unavailable(String((error as Error).message));
    for (const request of requests) out.set(request, failure);
    return out;
  }
  const kv = new KvReader(client);
  const session = keep ? new VaultSession(client, kv, settings, memory, logged, log) : undefined;
  const reads = new Map<string, VaultRead>();
  await Promise.all(requests.map(async (request) => {
    if (request.ref.scheme !== 'vault') return;
    const { path, key, version } = request.ref;
    try {
      const secret = await kv.read(path, version);
      if (session) {
        const id = `${path}#${version ?? ''}`;
        const read = reads.get(id) ?? { path, version, requests: [], secret, token: session.tokenId };
        read.requests.push(request);
        reads.set(id, read);
      }
      if (!Object.hasOwn(secret.data, key)) {
        const keys = Object.keys(secret.data);
        out.set(request, notFound(`no key "${key}" in ${path}${keys.length ? ` (it has: ${keys.join(', ')})` : ''}`));
        return;
      }
      out.set(request, { value: Buffer.from(asText(secret.data[key])) });
    } catch (error) {
      out.set(request, error instanceof SecretError ? error
        : error instanceof VaultHttpError ? unavailable(`Vault answered ${error.status}: ${error.message}`)
          : unavailable((error as Error).message));
    }
  }));
  if (session && keep) {
    session.reads.push(...reads.values());
    keep(session);
  }
  return out;
}

