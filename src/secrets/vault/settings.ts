// Vault settings from the environment, read the way the `vault` and `bao` CLIs read them
// (their api/client.go ReadEnvironment), plus init's own SESAME_VAULT_* variables for the
// auth methods the CLI configures with flags. Both families count, as in the `bao` CLI
// (OpenBao api/env.go ReadBaoVariable): for each setting, BAO_X wins whenever it is set at
// all (even empty), else VAULT_X. Files named here are read now, so that a missing CA or key
// is a configuration error before any request.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseBoolean } from '../../config/values';
import { EXIT, InitError } from '../../exit-codes';
import { readSettingFile } from '../settings-file';
import { PEM, pemFilesOf, systemTrust } from '../trust';

export type VaultAuth =
  | { method: 'token'; token: string; source: string }
  | { method: 'approle'; mount: string; roleId: string; secretId?: string; secretIdFile?: string; removeSecretIdFile: boolean; wrappedPath?: string }
  | { method: 'kubernetes'; mount: string; role: string; jwtFile: string }
  | { method: 'jwt'; mount: string; role?: string; jwtFile: string }
  | { method: 'userpass'; mount: string; username: string; password: string }
  | { method: 'cert'; mount: string; name?: string };

export interface VaultTls {
  /** The CAs to trust: VAULT_CACERT, VAULT_CAPATH, else the system's store. */
  ca?: Buffer[];
  /** Where `ca` came from, for messages: "VAULT_CACERT=/etc/ca.pem", "the system store (...)". */
  caSource: string;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized: boolean;
}

export interface VaultSettings {
  address: string;
  /** The variable the address came from (VAULT_ADDR, BAO_ADDR), or the default's name. */
  addressVariable: string;
  /** Which family a setting was read from, for messages: 'VAULT' or 'BAO'. */
  family: Family;
  namespace?: string;
  tls: VaultTls;
  auth: VaultAuth;
}

export const AUTH_METHODS = ['token', 'approle', 'kubernetes', 'jwt', 'userpass', 'cert'] as const;
/** Where Kubernetes mounts the pod's service-account token. */
export const K8S_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** The CLI's default: note https, while `vault server -dev` listens on http. */
export const DEFAULT_ADDR = 'https://127.0.0.1:8200';

const configError = (message: string) => new InitError(message, EXIT.CONFIG);

const readFile = readSettingFile;

export type Family = 'VAULT' | 'BAO';

/**
 * One CLI setting by its name without prefix ('ADDR', 'TOKEN'): BAO_<name> when it is in the
 * environment at all (an empty BAO_TOKEN hides VAULT_TOKEN, as in the `bao` CLI), else
 * VAULT_<name>. Returns the variable it came from, for messages.
 */
export function cliSetting(env: NodeJS.ProcessEnv, name: string): { variable: string; value: string | undefined } {
  const bao = `BAO_${name}`;
  if (Object.hasOwn(env, bao)) return { variable: bao, value: env[bao] };
  return { variable: `VAULT_${name}`, value: env[`VAULT_${name}`] };
}

/** A secret-bearing file: its content without the trailing newline(s) `echo` leaves. */
function readSecretFile(variable: string, file: string): string {
  return readFile(variable, file).toString('utf8').replace(/[\r\n]+$/, '');
}

function caFrom(env: NodeJS.ProcessEnv): { ca?: Buffer[]; source: string } {
  // VAULT_CACERT wins over VAULT_CACERT_BYTES and VAULT_CAPATH, as in the Go client
  // (hashicorp/go-rootcerts); each may come from BAO_*.
  const file = cliSetting(env, 'CACERT');
  if (file.value) return { ca: [readFile(file.variable, file.value)], source: `${file.variable}=${file.value}` };
  const bytes = cliSetting(env, 'CACERT_BYTES');
  if (bytes.value) {
    if (!bytes.value.includes(PEM)) throw configError(`${bytes.variable}: not a PEM certificate`);
    return { ca: [Buffer.from(bytes.value)], source: bytes.variable };
  }
  const capath = cliSetting(env, 'CAPATH');
  if (!capath.value) return { source: 'the system\'s CAs' };
  const dir = capath.value;
  let pems: Buffer[];
  try {
    pems = statSync(dir).isDirectory() ? pemFilesOf(dir, capath.variable) : [readFile(capath.variable, dir)].filter((b) => b.includes(PEM));
  } catch (error) {
    if (error instanceof InitError) throw error;
    throw configError(`${capath.variable}=${dir}: ${(error as Error).message}`);
  }
  if (!pems.length) throw configError(`${capath.variable}=${dir}: no PEM certificate found`);
  return { ca: pems, source: `${capath.variable}=${dir}` };
}

function bool(env: NodeJS.ProcessEnv, name: string): boolean {
  const v = env[name];
  if (v === undefined || v === '') return false;
  try {
    return parseBoolean(v);
  } catch (error) {
    throw new InitError(`${name}: ${(error as Error).message}`, EXIT.USAGE);
  }
}

function tokenFrom(env: NodeJS.ProcessEnv): { token: string; source: string } | undefined {
  const token = cliSetting(env, 'TOKEN');
  if (token.value) return { token: token.value, source: token.variable };
  // The CLI's token helper file, where `vault login` and `vault server -dev` put it.
  const file = join(env.HOME || homedir(), '.vault-token');
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (token) return { token, source: file };
  } catch {
    /* no token file */
  }
  return undefined;
}

function authFrom(env: NodeJS.ProcessEnv, tls: VaultTls): VaultAuth {
  const method = (env.SESAME_VAULT_AUTH || 'token').toLowerCase();
  if (!(AUTH_METHODS as readonly string[]).includes(method)) {
    throw new InitError(`SESAME_VAULT_AUTH: "${env.SESAME_VAULT_AUTH}" is not one of ${AUTH_METHODS.join(', ')}`, EXIT.USAGE);
  }
  const mount = (env.SESAME_VAULT_AUTH_MOUNT || method).replace(/^\/+|\/+$/g, '');
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw configError(`${name} is required with SESAME_VAULT_AUTH=${method}`);
    return v;
  };
  switch (method) {
    case 'approle': {
      const roleId = env.SESAME_VAULT_ROLE_ID || (env.SESAME_VAULT_ROLE_ID_FILE ? readSecretFile('SESAME_VAULT_ROLE_ID_FILE', env.SESAME_VAULT_ROLE_ID_FILE) : '');
      if (!roleId) throw configError('SESAME_VAULT_ROLE_ID or SESAME_VAULT_ROLE_ID_FILE is required with SESAME_VAULT_AUTH=approle');
      const wrapped = bool(env, 'SESAME_VAULT_SECRET_ID_WRAPPED');
      let wrappedPath: string | undefined;
      if (wrapped) {
        // Vault Agent's secret_id_response_wrapping_path: a wrapping token is only trusted
        // if Vault says it wraps the secret-id endpoint of this role (response-wrapping.mdx).
        wrappedPath = env.SESAME_VAULT_SECRET_ID_WRAP_PATH
          || (env.SESAME_VAULT_ROLE ? `auth/${mount}/role/${env.SESAME_VAULT_ROLE}/secret-id` : undefined);
        if (!wrappedPath) throw configError('SESAME_VAULT_SECRET_ID_WRAPPED needs SESAME_VAULT_ROLE (the role name) or SESAME_VAULT_SECRET_ID_WRAP_PATH to check the wrapping token against');
      }
      return {
        method, mount, roleId, wrappedPath,
        secretId: env.SESAME_VAULT_SECRET_ID || undefined,
        secretIdFile: env.SESAME_VAULT_SECRET_ID_FILE || undefined,
        removeSecretIdFile: bool(env, 'SESAME_VAULT_SECRET_ID_REMOVE'),
      };
    }
    case 'kubernetes':
      return { method, mount, role: need('SESAME_VAULT_ROLE'), jwtFile: env.SESAME_VAULT_JWT_FILE || K8S_TOKEN };
    case 'jwt':
      return { method, mount, role: env.SESAME_VAULT_ROLE || undefined, jwtFile: need('SESAME_VAULT_JWT_FILE') };
    case 'userpass': {
      const password = env.SESAME_VAULT_PASSWORD || (env.SESAME_VAULT_PASSWORD_FILE ? readSecretFile('SESAME_VAULT_PASSWORD_FILE', env.SESAME_VAULT_PASSWORD_FILE) : '');
      if (!password) throw configError('SESAME_VAULT_PASSWORD or SESAME_VAULT_PASSWORD_FILE is required with SESAME_VAULT_AUTH=userpass');
      return { method, mount, username: need('SESAME_VAULT_USERNAME'), password };
    }
    case 'cert':
      if (!tls.cert) throw configError('SESAME_VAULT_AUTH=cert needs VAULT_CLIENT_CERT and VAULT_CLIENT_KEY (or BAO_CLIENT_CERT and BAO_CLIENT_KEY)');
      return { method, mount, name: env.SESAME_VAULT_ROLE || undefined };
    default: {
      const found = tokenFrom(env);
      if (!found && env.BAO_TOKEN === '' && env.VAULT_TOKEN) {
        throw configError('BAO_TOKEN is set but empty, and it wins over VAULT_TOKEN (as in the bao CLI): unset it, or set the token in it');
      }
      if (!found) throw configError('no Vault token: set VAULT_TOKEN (or BAO_TOKEN), run `vault login` or `bao login` (~/.vault-token), or choose SESAME_VAULT_AUTH');
      return { method: 'token', ...found };
    }
  }
}

export function vaultSettings(env: NodeJS.ProcessEnv): VaultSettings {
  const addr = cliSetting(env, 'ADDR');
  const addressVariable = addr.variable;
  const address = (addr.value || DEFAULT_ADDR).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw configError(`${addressVariable}: "${address}" is not a URL (e.g. http://127.0.0.1:8200)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw configError(`${addressVariable}: "${address}" must start with http:// or https://`);
  const cert = cliSetting(env, 'CLIENT_CERT');
  const key = cliSetting(env, 'CLIENT_KEY');
  if (!cert.value !== !key.value) {
    throw configError(`${cert.value ? cert.variable : key.variable.replace('KEY', 'CERT')} and ${cert.value ? cert.variable.replace('CERT', 'KEY') : key.variable} go together: set both or neither`);
  }
  const skip = cliSetting(env, 'SKIP_VERIFY');
  const https = url.protocol === 'https:';
  const trust = caFrom(env);
  // No CA given: the system's store, read only when TLS will be used.
  const system = https && !trust.ca ? systemTrust(env) : undefined;
  const tls: VaultTls = {
    ca: trust.ca ?? system?.ca,
    caSource: system?.source ?? trust.source,
    cert: cert.value ? readFile(cert.variable, cert.value) : undefined,
    key: key.value ? readFile(key.variable, key.value) : undefined,
    servername: cliSetting(env, 'TLS_SERVER_NAME').value || undefined,
    // Parsed as a boolean like the Go client's strconv.ParseBool: "false" means verify
    // (node-vault would treat any non-empty value as "skip").
    rejectUnauthorized: !bool(env, skip.variable),
  };
  return {
    address,
    addressVariable,
    family: addressVariable.startsWith('BAO_') ? 'BAO' : 'VAULT',
    namespace: cliSetting(env, 'NAMESPACE').value || undefined,
    tls,
    auth: authFrom(env, tls),
  };
}
