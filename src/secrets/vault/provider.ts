// vault: references: log in once, then read every distinct path concurrently.
import type { Log } from '../../log';
import { notFound, SecretError, unavailable } from '../errors';
import type { SecretRequest } from '../plan';
import type { Resolved } from '../resolve';
import { login } from './auth';
import { VaultClient, VaultHttpError } from './client';
import { KvReader } from './kv';
import type { VaultSettings } from './settings';

/** A KV value as the child sees it: strings as they are, anything else as JSON. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export async function resolveVault(
  requests: SecretRequest[],
  settings: VaultSettings,
  deadline: number,
  log: Log,
): Promise<Map<SecretRequest, Resolved | SecretError>> {
  const out = new Map<SecretRequest, Resolved | SecretError>();
  const client = new VaultClient(settings, deadline, log);
  try {
    try {
      log.debug(`vault: ${settings.address}: ${await login(client, settings.auth, log)}`);
    } catch (error) {
      // Without a token nothing can be read: every reference fails with the login's cause.
      const failure = error instanceof SecretError ? error : unavailable(String((error as Error).message));
      for (const request of requests) out.set(request, failure);
      return out;
    }
    await readAll(requests, new KvReader(client), out);
    return out;
  } finally {
    // Nothing is read after start: no connection stays open, nothing keeps the client alive.
    client.close();
  }
}

async function readAll(requests: SecretRequest[], kv: KvReader, out: Map<SecretRequest, Resolved | SecretError>): Promise<void> {
  await Promise.all(requests.map(async (request) => {
    if (request.ref.scheme !== 'vault') return;
    const { path, key, version } = request.ref;
    try {
      const secret = await kv.read(path, version);
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
}

