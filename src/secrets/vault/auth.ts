// Logging in: every method ends with a client token (Vault's auth API: every login returns an `auth` object). Login URLs
// are built here, with the mount always explicit (node-vault posts to /v1/auth//login
// without one, and HTML-escapes user names).
import { readFileSync, unlinkSync } from 'node:fs';
import type { Log } from '../../log';
import { denied, invalid, SecretError, unavailable } from '../errors';
import { encodePath, VaultClient, VaultHttpError } from './client';
import type { VaultAuth } from './settings';

function readFileOrFail(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/[\r\n]+$/, '');
  } catch (error) {
    throw invalid(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function loginFailed(method: string, mount: string, error: unknown): never {
  if (error instanceof VaultHttpError) {
    // Vault answers bad credentials with 400 (invalid role or secret ID) or 403.
    throw denied(`Vault ${method} login at auth/${mount} failed: ${error.message}`);
  }
  if (error instanceof SecretError) throw new SecretError(error.kind, `Vault ${method} login at auth/${mount}: ${error.message}`);
  throw error;
}

/** A response-wrapped secret_id: check where it was made, then unwrap it (single use). */
async function unwrapSecretId(client: VaultClient, wrapToken: string, expectedPath: string, memory: LoginMemory): Promise<string> {
  client.sensitive(wrapToken);
  let creationPath: string;
  try {
    // Unauthenticated lookup: the token goes in the body and only there (sending it as a
    // header too would count as a use).
    const lookup = (await client.call('POST', 'sys/wrapping/lookup', { body: { token: wrapToken }, withToken: false })) as { data?: { creation_path?: string } };
    creationPath = lookup?.data?.creation_path ?? '';
  } catch (error) {
    if (error instanceof VaultHttpError) throw denied(`the wrapped secret_id is not a valid wrapping token (${error.message}): it may have expired or been used already`);
    throw error;
  }
  if (creationPath.replace(/\/+$/, '') !== expectedPath.replace(/\/+$/, '')) {
    // Someone else's wrapped response (or a tampered one): refusing it is the point of
    // checking, so the message says what was expected.
    throw denied(`the wrapped secret_id was created at "${creationPath}", not at "${expectedPath}": refusing it`);
  }
  try {
    const unwrapped = (await client.call('POST', 'sys/wrapping/unwrap', { withToken: false, headers: { 'X-Vault-Token': wrapToken } })) as { data?: { secret_id?: string; secret_id_num_uses?: number } };
    const secretId = unwrapped?.data?.secret_id;
    if (!secretId) throw invalid('the unwrapped response has no secret_id');
    client.sensitive(secretId);
    // The wrapping token is spent; the secret_id it held is kept in memory for a later
    // login, unless it is good for one login only.
    if (unwrapped.data?.secret_id_num_uses === 1) memory.singleUse = true;
    return secretId;
  } catch (error) {
    if (error instanceof VaultHttpError) throw denied(`unwrapping the secret_id failed (${error.message}): it was probably used already`);
    throw error;
  }
}

async function approleSecretId(client: VaultClient, auth: Extract<VaultAuth, { method: 'approle' }>, log: Log, memory: LoginMemory): Promise<string | undefined> {
  // A later login (the token reached its max TTL) uses the secret_id read the first time:
  // kept in memory only, since its file may be gone and a wrapping token is single-use.
  if (memory.secretId !== undefined) return memory.secretId || undefined;
  let value = auth.secretId;
  if (auth.secretIdFile) {
    value = readFileOrFail(auth.secretIdFile, 'the AppRole secret_id file');
    if (auth.removeSecretIdFile) {
      try {
        unlinkSync(auth.secretIdFile);
      } catch (error) {
        log.warn(`could not remove ${auth.secretIdFile} after reading it: ${(error as NodeJS.ErrnoException).code}`);
      }
    }
  }
  if (value && auth.wrappedPath) value = await unwrapSecretId(client, value, auth.wrappedPath, memory);
  memory.secretId = value ?? '';
  return value || undefined;
}

/** What a login leaves behind for the next one (the AppRole secret_id, once read). */
export interface LoginMemory {
  secretId?: string;
  /** The secret_id allows one login (secret_id_num_uses 1): no second login is possible. */
  singleUse?: boolean;
}

/** The token a login gave (or the one given), as far as the login's answer tells. */
export interface LoginResult {
  /** For the debug log: "approle login at auth/approle", "token from VAULT_TOKEN". */
  how: string;
  /** Init logged in and so owns the token (may renew, revoke, replace it). */
  created: boolean;
  /** From a login's auth object; unknown for a token given from outside (lookup-self tells). */
  ttlS?: number;
  renewable?: boolean;
}

/**
 * Log in as configured and give the client its token. `memory` carries what a first login
 * read (the secret_id) to the next one; `deadline` bounds a login after start.
 */
export async function login(client: VaultClient, auth: VaultAuth, log: Log, memory: LoginMemory = {}, deadline?: number): Promise<LoginResult> {
  if (auth.method === 'token') {
    client.setToken(auth.token);
    return { how: `token from ${auth.source}`, created: false };
  }
  let path: string;
  let body: Record<string, string>;
  switch (auth.method) {
    case 'approle': {
      const secretId = await approleSecretId(client, auth, log, memory);
      path = `auth/${encodePath(auth.mount)}/login`;
      body = secretId ? { role_id: auth.roleId, secret_id: secretId } : { role_id: auth.roleId };
      break;
    }
    case 'kubernetes':
      // Re-read on every login: projected service-account tokens rotate.
      path = `auth/${encodePath(auth.mount)}/login`;
      body = { role: auth.role, jwt: readFileOrFail(auth.jwtFile, 'the service-account token') };
      break;
    case 'jwt':
      path = `auth/${encodePath(auth.mount)}/login`;
      body = { jwt: readFileOrFail(auth.jwtFile, 'the JWT file') };
      if (auth.role) body.role = auth.role; // optional: Vault falls back to default_role
      break;
    case 'userpass':
      path = `auth/${encodePath(auth.mount)}/login/${encodeURIComponent(auth.username)}`;
      body = { password: auth.password };
      break;
    case 'cert':
      path = `auth/${encodePath(auth.mount)}/login`;
      body = auth.name ? { name: auth.name } : {};
      break;
  }
  // The credentials, not the names (a role name in Vault's answer is worth reading).
  for (const field of ['secret_id', 'jwt', 'password', 'role_id']) client.sensitive(body[field]);
  let response: { auth?: { client_token?: string; lease_duration?: number; renewable?: boolean } };
  try {
    response = (await client.call('POST', path, { body, withToken: false, deadline })) as typeof response;
  } catch (error) {
    loginFailed(auth.method, auth.mount, error);
  }
  const token = response?.auth?.client_token;
  if (!token) throw unavailable(`Vault ${auth.method} login at auth/${auth.mount} returned no client token`);
  client.setToken(token);
  return {
    how: `${auth.method} login at auth/${auth.mount}`,
    created: true,
    ttlS: typeof response.auth?.lease_duration === 'number' ? response.auth.lease_duration : undefined,
    renewable: response.auth?.renewable === true,
  };
}

/** Why logging in again later is impossible with this method, if it is. */
export function reloginImpossible(auth: VaultAuth, memory: LoginMemory): string | undefined {
  if (auth.method === 'token') return 'the token was given from outside';
  if (memory.singleUse) return 'the wrapped AppRole secret_id allows one login only (secret_id_num_uses 1)';
  return undefined;
}
