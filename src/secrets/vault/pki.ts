// pki/issue/ROLE through the adapter: the one call a certificate's lifetime makes. It goes
// through the Vault session, so that after a new login the new token is used.
import type { IssuedCertificate, Issue } from '../../lifetime/certificate';
import type { Log } from '../../log';
import { invalid, notFound, SecretError, unavailable } from '../errors';
import { login, type LoginMemory } from './auth';
import { encodePath, VaultClient, VaultHttpError } from './client';
import { KvReader } from './kv';
import { VaultSession } from './session';
import type { VaultSettings } from './settings';

export type VaultCall = (method: 'POST', path: string, body: object) => Promise<unknown>;

export function vaultIssue(call: VaultCall): Issue {
  return async (path, body) => {
    let answer: { data?: IssuedCertificate; warnings?: string[] | null };
    try {
      answer = (await call('POST', encodePath(path), body)) as typeof answer;
    } catch (error) {
      // 400: an unknown role or a name the role does not allow; 404: no such mount.
      if (error instanceof VaultHttpError) throw (error.status === 404 ? notFound : invalid)(`Vault answered ${error.status} to POST /v1/${path}: ${error.message}`);
      throw error; // a SecretError already: denied or unavailable
    }
    if (!answer?.data?.certificate || !answer.data.private_key) throw invalid(`Vault's answer to POST /v1/${path} has no certificate and private_key`);
    return answer.data;
  };
}

/** A session for a config that has certificates but no vault: reference (so no login yet). */
export async function certificateSession(settings: VaultSettings, deadline: number, log: Log): Promise<VaultSession> {
  const client = new VaultClient(settings, deadline, log);
  const memory: LoginMemory = {};
  try {
    const logged = await login(client, settings.auth, log, memory);
    log.debug(`vault: ${settings.address}: ${logged.how}`);
    return new VaultSession(client, new KvReader(client), settings, memory, logged, log);
  } catch (error) {
    throw error instanceof SecretError ? error : unavailable(String((error as Error).message));
  }
}
