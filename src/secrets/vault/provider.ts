// vault: references: log in once, then read every distinct path concurrently.
import type { Log } from '../../log';
import { notFound, SecretError, unavailable } from '../errors';
import type { SecretRequest } from '../plan';
import type { Resolved } from '../resolve';
import { login, type LoginMemory, type LoginResult } from './auth';
import { VaultClient, VaultHttpError } from './client';
import { type KvSecret, KvReader } from './kv';
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
    client.close();
    return out;
  }
  const kv = new KvReader(client);
  const session = keep ? new VaultSession(client, kv, settings, memory, logged, log) : undefined;
  // One read per distinct path and version, however many keys come from it, and one wait
  // for it: its keys are then taken in a plain loop (200 keys of one path: one resumption,
  // not 200).
  const groups = new Map<string, { path: string; version?: number; requests: SecretRequest[] }>();
  for (let i = 0; i < requests.length; i++) {
    const request = requests[i];
    if (request.ref.scheme !== 'vault') continue;
    const { path, version } = request.ref;
    const id = `${path}#${version ?? ''}`;
    const group = groups.get(id);
    if (group) group.requests.push(request);
    else groups.set(id, { path, version, requests: [request] });
  }
  const reads: VaultRead[] = [];
  await Promise.all([...groups.values()].map(async ({ path, version, requests: group }) => {
    let secret: KvSecret;
    try {
      secret = await kv.read(path, version);
    } catch (error) {
      const failure = error instanceof SecretError ? error
        : error instanceof VaultHttpError ? unavailable(`Vault answered ${error.status}: ${error.message}`)
          : unavailable((error as Error).message);
      for (const request of group) out.set(request, failure);
      return;
    }
    if (session) reads.push({ path, version, requests: group, secret, token: session.tokenId });
    for (let i = 0; i < group.length; i++) {
      const request = group[i];
      const key = request.ref.scheme === 'vault' ? request.ref.key : '';
      if (!Object.hasOwn(secret.data, key)) {
        const keys = Object.keys(secret.data);
        out.set(request, notFound(`no key "${key}" in ${path}${keys.length ? ` (it has: ${keys.join(', ')})` : ''}`));
        continue;
      }
      out.set(request, { value: Buffer.from(asText(secret.data[key])) });
    }
  }));
  if (session && keep) {
    session.reads.push(...reads);
    keep(session);
  } else {
    // Nothing is read after start: no connection stays open, nothing keeps the client alive.
    client.close();
  }
  return out;
}

