// Vault settings from the environment, read the way the `vault` CLI reads them
// (hashicorp/vault api/client.go ReadEnvironment), plus init's
// own SESAME_VAULT_* variables for the auth methods the CLI configures with flags.
// Files named here are read now, so that a missing CA or key is a configuration error
// before any request.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseBoolean } from '../../config/values';
import { EXIT, InitError } from '../../exit-codes';
import { readSettingFile } from '../settings-file';

export type VaultAuth =
  | { method: 'token'; token: string; source: string }
  | { method: 'approle'; mount: string; roleId: string; secretId?: string; secretIdFile?: string; removeSecretIdFile: boolean; wrappedPath?: string }
  | { method: 'kubernetes'; mount: string; role: string; jwtFile: string }
  | { method: 'jwt'; mount: string; role?: string; jwtFile: string }
  | { method: 'userpass'; mount: string; username: string; password: string }
  | { method: 'cert'; mount: string; name?: string };

export interface VaultTls {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized: boolean;
}

export interface VaultSettings {
  address: string;
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

/** A secret-bearing file: its content without the trailing newline(s) `echo` leaves. */
function readSecretFile(variable: string, file: string): string {
  return readFile(variable, file).toString('utf8').replace(/[\r\n]+$/, '');
}

function caFrom(env: NodeJS.ProcessEnv): Buffer[] | undefined {
  // VAULT_CACERT wins over VAULT_CAPATH, as in the Go client.
  if (env.VAULT_CACERT) return [readFile('VAULT_CACERT', env.VAULT_CACERT)];
  if (!env.VAULT_CAPATH) return undefined;
  const dir = env.VAULT_CAPATH;
  let names: string[];
  try {
    names = statSync(dir).isDirectory() ? readdirSync(dir).sort() : [''];
  } catch (error) {
    throw configError(`VAULT_CAPATH=${dir}: ${(error as Error).message}`);
  }
  const pems = names.map((n) => (n ? join(dir, n) : dir)).filter((f) => statSync(f).isFile()).map((f) => readFile('VAULT_CAPATH', f)).filter((b) => b.includes('-----BEGIN CERTIFICATE-----'));
  if (!pems.length) throw configError(`VAULT_CAPATH=${dir}: no PEM certificate found`);
  return pems;
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
  if (env.VAULT_TOKEN) return { token: env.VAULT_TOKEN, source: 'VAULT_TOKEN' };
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
      if (!tls.cert) throw configError('SESAME_VAULT_AUTH=cert needs VAULT_CLIENT_CERT and VAULT_CLIENT_KEY');
      return { method, mount, name: env.SESAME_VAULT_ROLE || undefined };
    default: {
      const found = tokenFrom(env);
      if (!found) throw configError('no Vault token: set VAULT_TOKEN, run `vault login` (~/.vault-token), or choose SESAME_VAULT_AUTH');
      return { method: 'token', ...found };
    }
  }
}

export function vaultSettings(env: NodeJS.ProcessEnv): VaultSettings {
  const address = (env.VAULT_ADDR || DEFAULT_ADDR).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw configError(`VAULT_ADDR: "${address}" is not a URL (e.g. http://127.0.0.1:8200)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw configError(`VAULT_ADDR: "${address}" must start with http:// or https://`);
  if ((env.VAULT_CLIENT_CERT && !env.VAULT_CLIENT_KEY) || (!env.VAULT_CLIENT_CERT && env.VAULT_CLIENT_KEY)) {
    throw configError('VAULT_CLIENT_CERT and VAULT_CLIENT_KEY go together: set both or neither');
  }
  const tls: VaultTls = {
    ca: caFrom(env),
    cert: env.VAULT_CLIENT_CERT ? readFile('VAULT_CLIENT_CERT', env.VAULT_CLIENT_CERT) : undefined,
    key: env.VAULT_CLIENT_KEY ? readFile('VAULT_CLIENT_KEY', env.VAULT_CLIENT_KEY) : undefined,
    servername: env.VAULT_TLS_SERVER_NAME || undefined,
    // Parsed as a boolean like the Go client's strconv.ParseBool: "false" means verify
    // (node-vault would treat any non-empty value as "skip").
    rejectUnauthorized: !bool(env, 'VAULT_SKIP_VERIFY'),
  };
  return { address, namespace: env.VAULT_NAMESPACE || undefined, tls, auth: authFrom(env, tls) };
}
