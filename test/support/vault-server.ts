// An in-process HashiCorp Vault for integration tests: the HTTP API a secrets client uses (KV v1
// and v2, mount preflight, token self-management, AppRole / userpass / Kubernetes / JWT / TLS
// certificate logins, response wrapping, namespaces, health), over HTTP or HTTPS with client
// certificates, on 127.0.0.1, answering with the status codes, JSON bodies and headers the real
// server produces. Fault rules make it slow, sealed, rate-limited, broken or rude on demand.
//
//   const vault = await startVault();                  // like `vault server -dev -dev-root-token-id=root`
//   vault.kvPut('secret', 'app', { password: 'hunter2' });          // KV v2 at secret/, version 1
//   vault.enableKv('kv1', 1);
//   vault.addPolicy('app', ['secret/data/app']);       // Vault glob syntax; strings grant all but sudo
//   const token = vault.createToken({ policies: ['app'], ttl: '1h' });
//   const web = vault.addAppRole('web', { policies: ['app'] });     // web.roleId, web.secretId
//   const wrapped = web.wrapSecretId(60);              // wrap_info of `vault write -wrap-ttl=60s -f ...`
//   vault.addUserpass('alice', 'pw', { policies: ['app'] });
//   vault.addKubernetesRole('k8s', { serviceAccountNames: ['app'], namespaces: ['prod'] });
//   const saJwt = vault.kubernetesJwt({ namespace: 'prod', name: 'app' });
//   vault.addJwtRole('ci', { boundAudiences: ['sesame'], defaultRole: true });
//   const jwt = vault.signJwt({ sub: 'ci', aud: 'sesame' });
//   vault.addCertRole('web', { certificate: pki.ca.cert });        // needs tls (below)
//   const team = vault.namespace('team-a');            // same helpers, scoped; created on first use
//   vault.faults.push({ path: 'secret/data/app', status: 503, times: 2 });  // then it recovers
//   vault.faults.push({ delayMs: 2000 }, { path: 'auth/*', reset: true }, { badJson: true });
//   vault.faults.push({ closeMidBody: true }, { bytesPerSecond: 1 }, { bodyBytes: 100e6 }, { redirect: 'http://elsewhere:8200' }, { notJson: true });
//   vault.sealed = true;                                // 503 "Vault is sealed" everywhere but health
//   vault.addTotpKey('app'); vault.addPkiCa(pem); vault.addDatabaseRole('app', { ttl: '1h' });  // other engines
//   vault.requests        // [{ method, path, query, headers, body, namespace, status }], in order
//   vault.audit           // entries shaped like OpenBao's file audit device (type request/response)
//   vault.auditSequence() // ['update auth/approle/login', 'read sys/internal/ui/mounts/secret/app', ...]
//   vault.requestCount({ method: 'GET', path: 'secret/data/app' });
//   await vault.stop();
//   // HTTPS with client certificates (Vault's listener asks for one, requires none):
//   await startVault({ tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert } });
//
// Fidelity: every behaviour marked "checked against OpenBao" was compared request by request with
// an OpenBao v2.6.2 dev server (tag v2.6.2, commit dd9c19c3, `bao server -dev`); see
// VAULT-SERVER.md for the list and for the differences that were kept. flavor 'openbao' answers
// byte for byte like that server where it is modelled; flavor 'vault' (the default) differs only
// where HashiCorp Vault's own source says it does (FLAVORS below).
//
// PKI: pki/issue/ROLE with real X.509 made by openssl (enablePki, at the end of the file).
// Leases: the database engine's credentials are leases owned by the token that read them;
// sys/leases/renew (capped at the role's max TTL, with Vault's warning), sys/leases/revoke,
// and revoke-self revoking the token's leases.
//
// What it is not: no storage, no HCL policies (rules are given as data), no standby or
// replication, no Enterprise features beyond namespaces.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHmac, createPrivateKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';

// =============================================================================================
// Public API

export type Flavor = 'vault' | 'openbao';
export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';
/**
 * A policy: path patterns in Vault's glob syntax ('secret/data/app', 'secret/data/team/*',
 * 'secret/+/app'). A list grants every capability but sudo on each pattern; a record names them.
 */
export type PolicyRules = string[] | Record<string, Capability[]>;
/** Seconds, or a Go duration string ('90s', '1h30m'). */
export type Duration = number | string;

export interface VaultTls {
  key: string | Buffer;
  cert: string | Buffer;
  /** CA(s) for client certificates; only consulted when requireClientCert is set. */
  ca?: string | Buffer;
  /**
   * Vault's listener option tls_require_and_verify_client_cert: refuse the handshake without a
   * certificate signed by `ca`. Default false: ask for a certificate, accept any (or none), and
   * let cert auth judge it, as Vault's listener does.
   */
  requireClientCert?: boolean;
}

export interface VaultOptions {
  /** Whose error texts and extras to reproduce (see FLAVORS). Default 'vault'. */
  flavor?: Flavor;
  /** The root token (`-dev-root-token-id`). Default 'root'. */
  rootToken?: string;
  /** Mount KV v2 at secret/ like a dev server. Default true. */
  devMounts?: boolean;
  tls?: VaultTls;
  /** Initial fault rules (the same array becomes `faults`). */
  faults?: VaultFault[];
  /** Version reported by sys/health and sys/seal-status. */
  version?: string;
}

/**
 * One fault rule. The first live rule matching a request applies, then its `times` drops by
 * one (a rule with times 0 is spent). A rule may combine a delay with one of the outcomes.
 */
export interface VaultFault {
  method?: string;
  /**
   * The request path after /v1/ as sent (namespace prefix included, no query): exact, or a glob
   * with '*' ('secret/data/*'); a RegExp is tested against the same string. Any when omitted.
   */
  path?: string | RegExp;
  times?: number;
  /** Wait this long before answering (or before the outcome below). */
  delayMs?: number;
  /** Answer this status with Vault's error body for it (see faultErrors), or `errors`. */
  status?: number;
  errors?: string[];
  headers?: Record<string, string>;
  /** Drop the connection (TCP RST) instead of answering. */
  reset?: boolean;
  /** Answer 200 with a truncated JSON body. */
  badJson?: boolean;
  /** Answer 200 with an HTML page (what a wrong address, a proxy or a login portal sends). */
  notJson?: boolean;
  /** Send the headers and half of the real answer, then drop the connection. */
  closeMidBody?: boolean;
  /** Send the real answer at this many bytes per second (1: a slowloris answer). */
  bytesPerSecond?: number;
  /** Answer 200 with a JSON body of about this many bytes (sent in chunks, as it is made). */
  bodyBytes?: number;
  /** Answer 307 with this Location (Vault standbys redirect so, when not forwarding). */
  redirect?: string;
  /** Answer `status` with exactly this JSON body instead of Vault's error body. */
  body?: unknown;
}

/**
 * One entry of OpenBao's file audit device, as far as it is modelled (checked against OpenBao
 * 2.5.5's `audit "file"` output): a "request" entry before the handler runs and a "response"
 * entry after; tokens are HMAC'd ("hmac-sha256:..."), `error` holds the error text.
 */
export interface AuditEntry {
  time: string;
  type: 'request' | 'response';
  auth?: { client_token: string; accessor?: string; display_name?: string; policies?: string[]; token_policies?: string[]; token_type?: string };
  request: {
    id: string;
    operation: string;
    mount_point?: string;
    mount_type?: string;
    client_token?: string;
    namespace: { id: string };
    path: string;
    remote_address: string;
    remote_port?: number;
  };
  response?: { mount_point?: string; mount_type?: string; status: number };
  error?: string;
}

export interface VaultRequest {
  method: string;
  /** URL path as sent, e.g. '/v1/secret/data/app'. */
  path: string;
  /** Query string without '?', '' when none. */
  query: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The X-Vault-Namespace header, if sent. */
  namespace?: string;
  /** Subject CN of the client certificate, if one was presented. */
  cn?: string;
  /** Status answered, or 'reset' for a dropped connection. */
  status?: number | 'reset';
  /** When its head arrived, ms since the epoch (Date.now()): request rates over time. */
  at: number;
}

export interface TokenOptions {
  policies?: string[];
  /** Default 768h (Vault's system default TTL). */
  ttl?: Duration;
  explicitMaxTtl?: Duration;
  renewable?: boolean;
  /** Uses before the token is revoked; 0 = unlimited. */
  numUses?: number;
  meta?: Record<string, string>;
  /** Use this token string instead of a generated one. */
  id?: string;
  noDefaultPolicy?: boolean;
}

/** What a wrapped response carries instead of data (`vault write -wrap-ttl=...`). */
export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}

interface LoginRoleOptions {
  /** Auth mount path; the method's default ('approle', 'userpass', ...) when omitted. */
  mount?: string;
  policies?: string[];
  tokenTtl?: Duration;
  /** token_explicit_max_ttl of the tokens it issues: renewals stop there; 0 (default) = none. */
  tokenMaxTtl?: Duration;
}

export interface AppRoleOptions extends LoginRoleOptions {
  roleId?: string;
  /** Default true: login needs a secret_id. */
  bindSecretId?: boolean;
  /** Lifetime of issued secret IDs; 0 (default) = no expiry. */
  secretIdTtl?: Duration;
  /** Logins per secret ID; 0 (default) = unlimited. */
  secretIdNumUses?: number;
}

export interface AppRole {
  name: string;
  mount: string;
  roleId: string;
  /** A secret ID issued when the role was added. */
  secretId: string;
  secretIdAccessor: string;
  /** Issue another secret ID (`vault write -f auth/approle/role/<r>/secret-id`). */
  newSecretId(): { secretId: string; accessor: string };
  /** Issue one, response-wrapped (`vault write -wrap-ttl=<ttl> -f ...`); default 60 s. */
  wrapSecretId(ttl?: Duration): WrapInfo;
}

export interface KubernetesRoleOptions extends LoginRoleOptions {
  /** bound_service_account_names ('*' = any). */
  serviceAccountNames: string[];
  /** bound_service_account_namespaces ('*' = any). */
  namespaces: string[];
}

export interface ServiceAccount {
  namespace: string;
  name: string;
  uid?: string;
  /** Already expired. */
  expired?: boolean;
  /** The cluster no longer accepts it (TokenReview says unauthenticated). */
  revoked?: boolean;
  /** Signed by some other key. */
  badSignature?: boolean;
  /** Legacy secret-based token claims instead of the projected `kubernetes.io` claim. */
  legacy?: boolean;
}

/** Vault refuses a JWT role without at least one bound constraint: give audiences or a subject. */
export interface JwtRoleOptions extends LoginRoleOptions {
  boundAudiences?: string[];
  boundSubject?: string;
  /** Claim that names the user (user_claim). Default 'sub'. */
  userClaim?: string;
  /** Make this the mount's default_role, used when a login names no role. */
  defaultRole?: boolean;
}

export interface JwtSignOptions {
  expired?: boolean;
  badSignature?: boolean;
}

export interface CertRoleOptions extends LoginRoleOptions {
  /** PEM: a CA whose leaves may log in, or one leaf certificate that may. */
  certificate: string;
  allowedCommonNames?: string[];
}

/** Setup helpers for one namespace (the root one on the server object itself). */
export interface VaultScope {
  /** '' for the root namespace, else e.g. 'team-a/' or 'team-a/sub/'. */
  readonly namespacePath: string;
  /** `vault secrets enable -path=<mount> -version=<v> kv`. */
  enableKv(mount: string, version?: 1 | 2): void;
  /** `vault kv put`: a new version on v2 (returned), a replacement on v1 (returns 0). */
  kvPut(mount: string, path: string, data: Record<string, unknown>, options?: { customMetadata?: Record<string, string> }): number;
  /** `vault kv delete` (v2: soft, latest or the given versions; v1: gone). */
  kvDelete(mount: string, path: string, versions?: number[]): void;
  kvUndelete(mount: string, path: string, versions: number[]): void;
  kvDestroy(mount: string, path: string, versions: number[]): void;
  /** `vault kv metadata delete`: every version and the metadata. */
  kvDeleteMetadata(mount: string, path: string): void;
  addPolicy(name: string, rules: PolicyRules): void;
  createToken(options?: TokenOptions): string;
  revokeToken(token: string): void;
  addAppRole(name: string, options?: AppRoleOptions): AppRole;
  /** A new secret ID for an existing role, response-wrapped (default ttl 60 s, mount 'approle'). */
  wrapSecretId(role: string, options?: { ttl?: Duration; mount?: string }): WrapInfo;
  addUserpass(username: string, password: string, options?: LoginRoleOptions): void;
  addKubernetesRole(role: string, options: KubernetesRoleOptions): void;
  addJwtRole(role: string, options: JwtRoleOptions): void;
  addCertRole(name: string, options: CertRoleOptions): void;
  /**
   * `vault secrets enable totp` (once) + `vault write totp/keys/<name> generate=true`: GET
   * totp/code/<name> answers the current RFC 6238 code (SHA1, 6 digits, 30 s) of `key`.
   */
  addTotpKey(name: string, options?: { mount?: string }): { key: Buffer; code(atMs?: number): string };
  /** `vault secrets enable pki` with this CA: GET pki/cert/ca and pki/cert/ca_chain answer it (JSON); pki/ca/pem answers raw PEM. */
  addPkiCa(certificatePem: string, options?: { mount?: string }): void;
  /**
   * `vault secrets enable database` + a role: every GET database/creds/<name> issues new
   * credentials with a lease (`ttl`, default 1h; renewable up to `maxTtl` from issue, default
   * 24h, unless `renewable: false`) owned by the reading token; `issued` lists them.
   */
  addDatabaseRole(name: string, options?: { mount?: string; ttl?: Duration; maxTtl?: Duration; renewable?: boolean }): { issued: Array<{ username: string; password: string; leaseId: string }> };
}

/** A lease the server issued (a dynamic secret), as the server sees it. */
export interface VaultLease {
  id: string;
  path: string;
  /** Live: not revoked, not expired, and its token is still valid. */
  live: boolean;
  revoked: boolean;
  /** How it was renewed, in order: the TTL granted each time, in seconds. */
  renewals: number[];
  data: Record<string, string>;
}

export interface VaultServer extends VaultScope {
  url: string;
  port: number;
  rootToken: string;
  flavor: Flavor;
  /** Every request, in arrival order. */
  requests: VaultRequest[];
  /** What an OpenBao file audit device would have written, in order (not health, not faults). */
  audit: AuditEntry[];
  /** The audit log's request entries as "operation path" ("read secret/data/app"). */
  auditSequence(): string[];
  /** Live fault rules; push to add, splice to remove. */
  faults: VaultFault[];
  /** Sealed: 503 "Vault is sealed" for everything but sys/health and sys/seal-status. */
  sealed: boolean;
  /** The namespace at this path (nested with '/'), created with its parents on first use. */
  namespace(path: string): VaultScope;
  /** A service account token this server's "cluster" accepts for Kubernetes logins. */
  kubernetesJwt(account: ServiceAccount): string;
  /** A JWT signed with the key every JWT auth mount trusts (RS256). */
  signJwt(claims: Record<string, unknown>, options?: JwtSignOptions): string;
  /** That key's public half (PEM), e.g. for a real server's jwt_validation_pubkeys. */
  readonly jwtPublicKey: string;
  /** How many recorded requests match (path: as in faults, without /v1/). */
  requestCount(filter?: { method?: string; path?: string | RegExp }): number;
  /** Every lease issued, in order. */
  leases(): VaultLease[];
  /** Whether the token exists and is valid now (not expired, not revoked). */
  tokenLive(token: string): boolean;
  stop(): Promise<void>;
}

// =============================================================================================
// The two servers' differences, each from its own source.

interface FlavorTraits {
  tokenPrefix: string;
  /** Text of kv backend.go pathInvalid (OpenBao rebranded it). */
  invalidPathWarning: string;
  /** GET sys/mounts-all/<path>: the Vault CLI's newer preflight (command/kv_helpers.go). */
  mountsAll: boolean;
  /** HTTPResponse.MountType (Vault sdk/logical/translate_response.go); OpenBao has none. */
  mountType: boolean;
  /** KV v2 metadata fields OpenBao added (current_metadata_version, metadata_cas_required). */
  kvMetadataExtras: boolean;
  /** sys/health performance_standby (Vault api-docs/system/health.mdx; OpenBao omits it). */
  performanceStandby: boolean;
  version: string;
  builtinSuffix: string;
}

const INVALID_PATH = (cli: string, command: string) =>
  `Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the ${cli} CLI, use '${command} kv get' for this operation.`;

/** The build date a released OpenBao binary reports (sys/seal-status). */
const RELEASE_DATE = '2026-06-17T13:03:31Z';

const FLAVORS: Record<Flavor, FlavorTraits> = {
  vault: {
    // Vault >= 1.10 service tokens start "hvs." (docs/concepts/tokens.mdx "Token prefixes").
    tokenPrefix: 'hvs.',
    invalidPathWarning: INVALID_PATH('Vault', 'vault'),
    mountsAll: true,
    mountType: true,
    kvMetadataExtras: false,
    performanceStandby: true,
    version: '1.21.0',
    builtinSuffix: '+builtin.vault',
  },
  openbao: {
    tokenPrefix: 's.',
    invalidPathWarning: INVALID_PATH('OpenBao', 'bao'),
    mountsAll: false,
    mountType: false,
    kvMetadataExtras: true,
    performanceStandby: false,
    version: '2.6.2',
    builtinSuffix: '+builtin.bao',
  },
};

// =============================================================================================
// Texts the clients meet (checked against OpenBao unless noted).

/** No token, or an unknown/expired/revoked one (the plain form). */
const PERMISSION_DENIED = 'permission denied';
/** A valid token whose policies refuse the path: the ACL check's multierror form. */
const ACL_DENIED = multiError('permission denied');
const SEALED = 'Vault is sealed';
const WRAP_INVALID = 'wrapping token is not valid or does not exist';
const WRAP_EMPTY = 'error validating wrapping token: token is empty';
const WRAP_DOUBLE_USE = multiError("error decrementing wrapping token's use-count: invalid token entry provided for use count decrementing");
const KV_ROOT_WARNING = 'Non-listing operations on the root of a K/V v2 mount are not supported.';
/** Vault's default system max TTL (768h): default token TTL and renewal cap. */
const SYSTEM_MAX_TTL = 2_764_800;

/** hashicorp/go-multierror's format, which Vault's request handler wraps some errors in. */
function multiError(message: string): string {
  return `1 error occurred:\n\t* ${message}\n\n`;
}

/** Error bodies for fault statuses: what Vault says when it answers that code itself. */
function faultErrors(status: number, path: string): string[] {
  switch (status) {
    case 403:
      return [PERMISSION_DENIED];
    case 404:
      return [];
    case 412: // sdk/logical/error.go ErrMissingRequiredState (Enterprise eventual consistency)
      return ['required index state not present'];
    case 429: // http/util.go rateLimitQuotaWrapping (checked against OpenBao with a quota)
      return [`request path ${JSON.stringify(path)}: rate limit quota exceeded`];
    case 503:
      return [SEALED];
    default:
      return [`${status} error injected by the test`];
  }
}

// =============================================================================================
// Small helpers: ids, time, durations, Go-compatible JSON.

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function base62(length: number): string {
  let out = '';
  while (out.length < length) {
    // Bytes >= 248 are dropped so that every character is equally likely.
    for (const byte of randomBytes(length)) if (byte < 248 && out.length < length) out += BASE62[byte % 62];
  }
  return out;
}

/** go-uuid GenerateUUID: 16 random bytes in 8-4-4-4-12 hex (not an RFC 4122 v4). */
/** RFC 6238 TOTP: SHA1, 6 digits, 30 s steps (OpenBao's totp defaults). */
function totp(key: Buffer, atMs: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

function uuid(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const rfc3339 = (ms: number) => new Date(ms).toISOString();
const unixSeconds = (ms: number) => Math.floor(ms / 1000);

const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };

/** parseutil.ParseDurationSecond: a number (or digits) is seconds, else a Go duration. */
function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.floor(value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+$/.test(text)) return undefined;
  let seconds = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) seconds += Number(m[1]) * DURATION_UNITS[m[2]];
  return Math.floor(seconds);
}

function durationOption(value: Duration | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const seconds = parseDuration(value);
  if (seconds === undefined) throw new Error(`vault-server: bad ${what} ${JSON.stringify(value)}`);
  return seconds;
}

/** Durations as Vault's warnings print them: "1h30m", "3h", "45s" (zero units left out). */
function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const out = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return out || '0s';
}

/** Go marshals maps with sorted keys; secret data is a map all the way down. */
function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortDeep((value as Record<string, unknown>)[key]);
  return out;
}

/** encoding/json escapes <, >, & (and U+2028/9) inside strings; clients should not care, but do. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function normalizeMount(mount: string): string {
  const trimmed = mount.replace(/^\/+|\/+$/g, '');
  if (!trimmed) throw new Error('vault-server: empty mount path');
  return `${trimmed}/`;
}

function normalizePolicies(policies: string[] | undefined, noDefault = false): string[] {
  const set = new Set((policies ?? []).map((p) => p.trim().toLowerCase()).filter(Boolean));
  if (!set.has('root') && !noDefault) set.add('default');
  return [...set].sort();
}

// =============================================================================================
// The data model.

interface Token {
  id: string;
  accessor: string;
  ns: Namespace;
  policies: string[];
  issueMs: number;
  creationTtl: number;
  /** Last granted TTL in seconds (0 = never expires: root). */
  ttl: number;
  expireMs: number | null;
  explicitMaxTtl: number;
  renewable: boolean;
  /** Uses left; 0 = unlimited; -1 = this request is the last one (as lookup-self shows it). */
  numUses: number;
  meta: Record<string, string> | null;
  path: string;
  displayName: string;
  orphan: boolean;
  entityId: string;
  lastRenewalMs?: number;
}

interface WrapEntry {
  token: string;
  accessor: string;
  /** The wrapped response exactly as unwrap returns it. */
  body: string;
  creationPath: string;
  creationMs: number;
  ttl: number;
}

interface KvVersion {
  data: Record<string, unknown>;
  createdMs: number;
  deletionMs: number | null;
  destroyed: boolean;
}

interface KvEntry {
  versions: Map<number, KvVersion>;
  currentVersion: number;
  oldestVersion: number;
  createdMs: number;
  updatedMs: number;
  customMetadata: Record<string, string> | null;
}

interface MountBase {
  /** 'secret/', or for auth mounts the part after auth/: 'approle/'. */
  path: string;
  accessor: string;
  uuid: string;
  description: string;
}

interface KvMount extends MountBase {
  type: 'kv';
  version: 1 | 2;
  v1: Map<string, Record<string, unknown>>;
  v2: Map<string, KvEntry>;
}

/** A read on a non-KV engine: the data, and a lease for dynamic secrets. */
type EngineRead = (token: Token) => { data: Record<string, unknown>; lease?: { id: string; ttl: number; renewable: boolean } } | Reply;

interface EngineMount extends MountBase {
  type: 'totp' | 'pki' | 'database';
  /** Path inside the mount ('code/app') -> its answer. */
  reads: Map<string, EngineRead>;
  /** For 400/404 texts of paths the engine has but this setup does not: e.g. 'code/' for totp. */
  unknown: (rest: string) => Reply;
}

interface AppRoleRecord {
  name: string;
  roleId: string;
  bindSecretId: boolean;
  secretIdTtl: number;
  secretIdNumUses: number;
  policies: string[];
  tokenTtl: number; tokenMaxTtl: number;
  secretIds: Map<string, { accessor: string; expiresMs: number | null; usesLeft: number }>;
}

interface AppRoleMount extends MountBase {
  type: 'approle';
  roles: Map<string, AppRoleRecord>;
}

interface UserpassMount extends MountBase {
  type: 'userpass';
  users: Map<string, { password: string; policies: string[]; tokenTtl: number; tokenMaxTtl: number }>;
}

interface KubernetesMount extends MountBase {
  type: 'kubernetes';
  roles: Map<string, { names: string[]; namespaces: string[]; policies: string[]; tokenTtl: number; tokenMaxTtl: number }>;
}

interface JwtMount extends MountBase {
  type: 'jwt';
  defaultRole: string;
  roles: Map<string, { boundAudiences: string[]; boundSubject: string; userClaim: string; policies: string[]; tokenTtl: number; tokenMaxTtl: number }>;
}

interface CertMount extends MountBase {
  type: 'cert';
  roles: Map<string, { certificate: X509Certificate; allowedCommonNames: string[]; policies: string[]; tokenTtl: number; tokenMaxTtl: number }>;
}

type AuthMount = AppRoleMount | UserpassMount | KubernetesMount | JwtMount | CertMount;

interface Lease {
  id: string;
  path: string;
  token: string;
  issueMs: number;
  expireMs: number;
  maxExpireMs: number;
  renewable: boolean;
  revoked: boolean;
  renewals: number[];
  data: Record<string, string>;
  /** The TTL the role grants (a renewal without an increment asks for this). */
  ttl: number;
}

type AuthType = AuthMount['type'];

interface Rule {
  pattern: RegExp;
  glob: boolean;
  /** Literal part before any glob character: for mount visibility and specificity. */
  prefix: string;
  capabilities: Set<Capability>;
}

class Namespace {
  readonly id: string;
  readonly children = new Map<string, Namespace>();
  readonly mounts = new Map<string, KvMount>();
  /** Non-KV secrets engines (totp, pki, database): plain GETs. */
  readonly engines = new Map<string, EngineMount>();
  readonly auth = new Map<string, AuthMount>();
  readonly policies = new Map<string, Rule[]>();

  constructor(
    /** '' for root, 'team-a/' for a child: always ends in '/'. */
    readonly path: string,
  ) {
    this.id = path ? base62(6) : 'root';
    this.policies.set('default', compileRules(DEFAULT_POLICY));
  }

  /** This namespace or one below it. */
  contains(other: Namespace): boolean {
    return other.path.startsWith(this.path);
  }
}

/** The parts of Vault's built-in default policy a client relies on. */
const DEFAULT_POLICY: Record<string, Capability[]> = {
  'auth/token/lookup-self': ['read'],
  'auth/token/renew-self': ['update'],
  'auth/token/revoke-self': ['update'],
  'sys/capabilities-self': ['update'],
  'sys/leases/renew': ['update'],
  'sys/renew': ['update'],
  'sys/leases/lookup': ['update'],
  'sys/wrapping/wrap': ['update'],
  'sys/wrapping/lookup': ['update'],
  'sys/wrapping/unwrap': ['update'],
  'cubbyhole/*': ['create', 'read', 'update', 'delete', 'list'],
};

const ALL_BUT_SUDO: Capability[] = ['create', 'read', 'update', 'patch', 'delete', 'list'];

function compileRules(rules: PolicyRules): Rule[] {
  const entries: [string, Capability[]][] = Array.isArray(rules) ? rules.map((p) => [p, ALL_BUT_SUDO]) : Object.entries(rules);
  return entries.map(([path, capabilities]) => {
    const glob = path.endsWith('*') || path.includes('+');
    const body = path.endsWith('*') ? path.slice(0, -1) : path;
    const source = body
      .split('+')
      .map((part) => part.replace(/[.*?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]+');
    const prefixEnd = body.search(/\+/);
    return {
      pattern: new RegExp(`^${source}${path.endsWith('*') ? '.*' : ''}$`),
      glob,
      prefix: prefixEnd < 0 ? body : body.slice(0, prefixEnd),
      capabilities: new Set(capabilities),
    };
  });
}

// =============================================================================================
// Replies.

type Reply =
  /** A JSON body, written with encoding/json's trailing newline. */
  | { status: number; json: unknown; headers?: Record<string, string> }
  /** A body Vault writes raw, without a newline (404 with data, unwrap). */
  | { status: number; raw: string; headers?: Record<string, string> }
  | { status: 204 };

const noContent = (): Reply => ({ status: 204 });
const errorReply = (status: number, ...errors: string[]): Reply => ({ status, json: { errors } });

/** Fields of every non-error response, in the order Vault's HTTPResponse struct declares them. */
interface Envelope {
  request_id: string;
  lease_id: string;
  renewable: boolean;
  lease_duration: number;
  data: unknown;
  wrap_info: WrapInfo | null;
  warnings: string[] | null;
  auth: AuthObject | null;
  mount_type?: string;
}

interface AuthObject {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  entity_id: string;
  token_type: 'service';
  orphan: boolean;
  mfa_requirement: null;
  num_uses: number;
}

/** A successful answer before it is written: wrapping needs the envelope, not the bytes. */
interface Answer {
  status: number;
  envelope: Envelope;
  /** 404 answers with data are written raw (no newline): respondErrorAndData-style. */
  raw?: boolean;
  /** What wrap_info.wrapped_accessor names if this answer is wrapped. */
  wrappedAccessor?: string;
}

type HandlerResult = Reply | Answer;
const isAnswer = (r: HandlerResult): r is Answer => 'envelope' in r;

// =============================================================================================
// Requests as the handlers see them.

type Operation = 'read' | 'list' | 'update' | 'delete' | 'patch';

interface Ctx {
  req: IncomingMessage;
  op: Operation;
  /** Namespace the request addresses (header + path prefix). */
  ns: Namespace;
  /** Path inside that namespace, no leading slash. */
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown> | undefined;
  /** X-Vault-Token, else the Authorization: Bearer token; '' when neither. */
  rawToken: string;
}

/** How a route is authorised before its handler runs. */
type Access =
  /** Unauthenticated endpoint (login, health, wrapping lookup...): the handler decides. */
  | 'none'
  /** Valid token and an ACL allowing the operation on the path. */
  | 'acl'
  /** auth/token/*-self: as 'acl', but in the token's own namespace (the token names it). */
  | 'self';

interface Route {
  access: Access;
  /** Responses on this route may be wrapped (not wrapping's own endpoints). */
  wrappable?: boolean;
  run(ctx: Ctx, token: Token | undefined): HandlerResult;
}

// =============================================================================================
// The server.

class FakeVault {
  readonly traits: FlavorTraits;
  readonly root = new Namespace('');
  readonly tokens = new Map<string, Token>();
  readonly leases = new Map<string, Lease>();
  readonly wraps = new Map<string, WrapEntry>();
  /** Entity ids by (mount accessor, alias): the same user gets the same entity every login. */
  readonly entities = new Map<string, string>();
  readonly revokedServiceAccounts = new Set<string>();
  sealed = false;
  private signingKey?: { privateKey: KeyObject; publicKey: KeyObject };
  private readonly clusterName = `vault-cluster-${randomBytes(4).toString('hex')}`;
  private readonly clusterId = uuid();

  constructor(
    readonly flavor: Flavor,
    readonly version: string,
  ) {
    // OpenBao 2.5 still wrote performance_standby in sys/health (checked against OpenBao 2.5.5);
    // 2.6 dropped it.
    this.traits = flavor === 'openbao' && /^2\.[0-5]\./.test(version) ? { ...FLAVORS[flavor], performanceStandby: true } : FLAVORS[flavor];
  }

  // --- namespaces --------------------------------------------------------------------------

  namespaceAt(path: string, create: boolean): Namespace | undefined {
    let ns = this.root;
    for (const part of path.split('/').filter(Boolean)) {
      let child = ns.children.get(part);
      if (!child) {
        if (!create) return undefined;
        child = new Namespace(`${ns.path}${part}/`);
        ns.children.set(part, child);
      }
      ns = child;
    }
    return ns;
  }

  /** Leading path segments that name child namespaces move from the path into the namespace. */
  splitNamespace(ns: Namespace, path: string): { ns: Namespace; path: string } {
    const parts = path.split('/');
    let i = 0;
    for (; i < parts.length - 1 && ns.children.has(parts[i]); i++) ns = ns.children.get(parts[i]) as Namespace;
    return { ns, path: parts.slice(i).join('/') };
  }

  // --- tokens ------------------------------------------------------------------------------

  issueToken(ns: Namespace, spec: TokenOptions & { path: string; displayName: string; orphan: boolean; entityId?: string }): Token {
    const suffix = ns === this.root ? '' : `.${ns.id}`;
    const policies = normalizePolicies(spec.policies, spec.noDefaultPolicy);
    const isRoot = policies.includes('root');
    const now = Date.now();
    const ttl = isRoot && spec.ttl === undefined ? 0 : durationOption(spec.ttl, SYSTEM_MAX_TTL, 'ttl') || SYSTEM_MAX_TTL;
    const token: Token = {
      id: spec.id ?? `${this.traits.tokenPrefix}${base62(24)}${suffix}`,
      accessor: `${base62(24)}${suffix}`,
      ns,
      policies,
      issueMs: now,
      creationTtl: ttl,
      ttl,
      expireMs: ttl ? now + ttl * 1000 : null,
      explicitMaxTtl: durationOption(spec.explicitMaxTtl, 0, 'explicitMaxTtl'),
      renewable: spec.renewable ?? ttl !== 0,
      numUses: spec.numUses ?? 0,
      meta: spec.meta ?? null,
      path: spec.path,
      displayName: spec.displayName,
      orphan: spec.orphan,
      entityId: spec.entityId ?? '',
    };
    this.tokens.set(token.id, token);
    return token;
  }

  /** A live token, or undefined (unknown, revoked, expired: all the same to a client). */
  lookupToken(id: string): Token | undefined {
    const token = this.tokens.get(id);
    if (token && token.expireMs !== null && token.expireMs <= Date.now()) {
      this.tokens.delete(id);
      return undefined;
    }
    return token;
  }

  /** A lease that can still be used: not revoked, not expired, its token still valid. */
  liveLease(id: string): Lease | undefined {
    const lease = this.leases.get(id);
    if (!lease || lease.revoked || lease.expireMs <= Date.now() || !this.lookupToken(lease.token)) return undefined;
    return lease;
  }

  /** num_uses: every authenticated request spends one, allowed or not (checked against OpenBao). */
  spendUse(token: Token): void {
    if (token.numUses === 0) return;
    if (token.numUses === 1 || token.numUses === -1) {
      token.numUses = -1;
      this.tokens.delete(token.id); // gone after this request
    } else token.numUses--;
  }

  entityFor(mount: MountBase, alias: string, ns: Namespace): string {
    const key = `${mount.accessor}\0${alias}`;
    let id = this.entities.get(key);
    if (!id) {
      id = `${uuid()}${ns === this.root ? '' : `.${ns.id}`}`;
      this.entities.set(key, id);
    }
    return id;
  }

  // --- policies ----------------------------------------------------------------------------

  /** Capabilities the token has on path, a path in namespace ns (which the token must contain). */
  capabilities(token: Token, ns: Namespace, path: string): Set<Capability> {
    if (!token.ns.contains(ns)) return new Set();
    const relative = ns.path.slice(token.ns.path.length) + path;
    const granted = new Set<Capability>();
    for (const name of token.policies) {
      if (name === 'root') return new Set([...ALL_BUT_SUDO, 'sudo']);
      const rules = token.ns.policies.get(name);
      const best = rules && mostSpecific(rules, relative);
      if (best) for (const c of best.capabilities) granted.add(c);
    }
    return granted.has('deny') ? new Set() : granted;
  }

  allows(token: Token, ns: Namespace, path: string, op: Operation): boolean {
    const caps = this.capabilities(token, ns, path);
    return op === 'update' ? caps.has('update') || caps.has('create') : caps.has(op);
  }

  /** vault/logical_system.go hasMountAccess: any capability anywhere under the mount. */
  seesMount(token: Token, ns: Namespace, mountPath: string): boolean {
    if (!token.ns.contains(ns)) return false;
    if (token.policies.includes('root')) return true;
    const full = ns.path.slice(token.ns.path.length) + mountPath;
    for (const name of token.policies) {
      for (const rule of token.ns.policies.get(name) ?? []) {
        if (rule.capabilities.has('deny') || rule.capabilities.size === 0) continue;
        if (rule.prefix.startsWith(full) || (rule.glob && full.startsWith(rule.prefix))) return true;
      }
    }
    return false;
  }

  // --- envelopes ---------------------------------------------------------------------------

  envelope(parts: Partial<Envelope>, mountType: string): Envelope {
    const envelope: Envelope = {
      request_id: uuid(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: null,
      wrap_info: null,
      warnings: null,
      auth: null,
      ...parts,
    };
    if (this.traits.mountType) envelope.mount_type = parts.mount_type ?? mountType;
    else delete envelope.mount_type;
    return envelope;
  }

  ok(data: unknown, mountType: string, extra: Partial<Envelope> = {}): Answer {
    return { status: 200, envelope: this.envelope({ data, ...extra }, mountType) };
  }

  authAnswer(token: Token, metadata: Record<string, string> | null, mountType: string): Answer {
    return { status: 200, envelope: this.envelope({ auth: authObject(token, metadata) }, mountType), wrappedAccessor: token.accessor };
  }

  // --- response wrapping -------------------------------------------------------------------

  wrap(answer: Answer, ttl: number, creationPath: string, ns: Namespace): Answer {
    const suffix = ns === this.root ? '' : `.${ns.id}`;
    const entry: WrapEntry = {
      token: `${this.traits.tokenPrefix}${base62(24)}${suffix}`,
      accessor: `${base62(24)}${suffix}`,
      body: goJson(answer.envelope),
      creationPath,
      creationMs: Date.now(),
      ttl,
    };
    this.wraps.set(entry.token, entry);
    const wrapInfo: WrapInfo = {
      token: entry.token,
      accessor: entry.accessor,
      ttl,
      creation_time: rfc3339(entry.creationMs),
      creation_path: creationPath,
    };
    // HTTPWrapInfo.WrappedAccessor is omitempty.
    if (answer.wrappedAccessor) wrapInfo.wrapped_accessor = answer.wrappedAccessor;
    // The wrapping response carries no request_id (checked against OpenBao).
    return { status: 200, envelope: this.envelope({ request_id: '', wrap_info: wrapInfo }, '') };
  }

  liveWrap(token: string): WrapEntry | undefined {
    const entry = this.wraps.get(token);
    if (entry && entry.creationMs + entry.ttl * 1000 <= Date.now()) {
      this.wraps.delete(token);
      return undefined;
    }
    return entry;
  }

  // --- JWT signing (the "cluster" and the OIDC issuer share one key) ------------------------

  key(): { privateKey: KeyObject; publicKey: KeyObject } {
    this.signingKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
    return this.signingKey;
  }

  signJwt(claims: Record<string, unknown>, options: JwtSignOptions = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const body = { iat: now, nbf: now - 1, exp: options.expired ? now - 3600 : now + 3600, ...claims };
    const input = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }))}.${b64url(JSON.stringify(body))}`;
    const signature = sign('sha256', Buffer.from(input), this.key().privateKey);
    if (options.badSignature) signature[0] ^= 0xff;
    return `${input}.${signature.toString('base64url')}`;
  }

  /** Signature check; the claims if it holds. Errors are go-jose's texts. */
  verifyJwt(jwt: string): { claims: Record<string, unknown> } | { error: string } {
    const parts = jwt.split('.');
    if (parts.length !== 3) return { error: 'go-jose/go-jose: compact JWS format must have three parts' };
    let claims: unknown;
    try {
      const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), this.key().publicKey, Buffer.from(parts[2], 'base64url'));
      if (!ok) return { error: 'no known key successfully validated the token signature' };
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return { error: 'no known key successfully validated the token signature' };
    }
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) return { error: 'go-jose/go-jose: invalid payload' };
    return { claims: claims as Record<string, unknown> };
  }

  health(query: URLSearchParams): Reply {
    const now = unixSeconds(Date.now());
    const code = (name: string, fallback: number) => {
      const n = Number(query.get(name));
      return query.has(name) && Number.isInteger(n) ? n : fallback;
    };
    if (this.sealed) {
      // A sealed node does not know its cluster (checked against OpenBao).
      return {
        status: code('sealedcode', 503),
        json: { initialized: true, sealed: true, standby: true, ...(this.traits.performanceStandby ? { performance_standby: false } : {}), replication_performance_mode: 'unknown', replication_dr_mode: 'unknown', server_time_utc: now, version: this.version },
      };
    }
    return {
      status: code('activecode', 200),
      json: {
        initialized: true,
        sealed: false,
        standby: false,
        ...(this.traits.performanceStandby ? { performance_standby: false } : {}),
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: now,
        version: this.version,
        cluster_name: this.clusterName,
        cluster_id: this.clusterId,
      },
    };
  }

  /** Field order as OpenBao writes it (checked against OpenBao). */
  sealStatus(): Reply {
    // OpenBao 2.5 wrote build_date and recovery_seal after the cluster fields (checked against
    // OpenBao 2.5.5); 2.6 renamed it commit_date and moved recovery_seal up.
    const old = this.flavor === 'openbao' && /^2\.[0-5]\./.test(this.version);
    const body: Record<string, unknown> = {
      type: 'shamir',
      initialized: true,
      sealed: this.sealed,
      t: 1,
      n: 1,
      progress: 0,
      nonce: '',
      ...(old ? {} : { recovery_seal: false }),
      version: this.version,
      // A release's: goreleaser stamps the tag's commit date (goreleaser.linux.yaml's
      // version.BuildDate; OpenBao 2.5.5's is this one); a plain `go build` leaves it empty.
      ...(old ? { build_date: RELEASE_DATE } : { commit_date: RELEASE_DATE }),
      migration: false,
      ...(this.sealed ? {} : { cluster_name: this.clusterName, cluster_id: this.clusterId }),
      ...(old ? { recovery_seal: false } : {}),
      storage_type: 'inmem',
    };
    return { status: 200, json: body };
  }
}

const b64url = (text: string) => Buffer.from(text).toString('base64url');

function mostSpecific(rules: Rule[], path: string): Rule | undefined {
  let best: Rule | undefined;
  for (const rule of rules) {
    if (!rule.pattern.test(path)) continue;
    // Vault: an exact rule beats any glob; among globs the longer literal prefix wins.
    if (!best || (best.glob && !rule.glob) || (best.glob === rule.glob && rule.prefix.length > best.prefix.length)) best = rule;
  }
  return best;
}

function authObject(token: Token, metadata: Record<string, string> | null): AuthObject {
  return {
    client_token: token.id,
    accessor: token.accessor,
    policies: token.policies,
    token_policies: token.policies,
    metadata,
    lease_duration: token.ttl,
    renewable: token.renewable,
    entity_id: token.entityId,
    token_type: 'service',
    orphan: token.orphan,
    mfa_requirement: null,
    num_uses: token.numUses,
  };
}

// =============================================================================================
// Routing: what a (namespace, path) is, and who may call it.

function route(vault: FakeVault, ns: Namespace, path: string): Route | undefined {
  if (path === 'sys/health') return { access: 'none', run: (ctx) => vault.health(ctx.query) };
  if (path === 'sys/seal-status') return { access: 'none', run: () => vault.sealStatus() };
  const preflight = /^sys\/internal\/ui\/mounts\/(.+)$/.exec(path) ?? (vault.traits.mountsAll ? /^sys\/mounts-all\/(.+)$/.exec(path) : null);
  if (preflight) return { access: 'none', run: (ctx) => mountPreflight(vault, ctx, preflight[1]) };
  if (path === 'sys/wrapping/lookup') return { access: 'none', run: (ctx) => wrappingLookup(vault, ctx) };
  if (path === 'sys/wrapping/unwrap') return { access: 'none', run: (ctx) => wrappingUnwrap(vault, ctx) };
  const enable = /^sys\/mounts\/(.+)$/.exec(path);
  if (enable) return { access: 'acl', run: (ctx) => enableMountOverHttp(ctx, enable[1]) };
  const tokenSelf = /^auth\/token\/(lookup-self|renew-self|revoke-self)$/.exec(path);
  if (tokenSelf) return { access: 'self', wrappable: true, run: (ctx, token) => tokenSelfEndpoint(vault, ctx, tokenSelf[1], token as Token) };
  if (path === 'auth/token/create') return { access: 'acl', wrappable: true, run: (ctx, token) => tokenCreate(vault, ctx, token as Token) };
  if (path === 'sys/leases/renew' || path === 'sys/renew') return { access: 'acl', run: (ctx) => leaseRenew(vault, ctx) };
  if (path === 'sys/leases/revoke' || path === 'sys/revoke') return { access: 'acl', run: (ctx) => leaseRevoke(vault, ctx) };
  const auth = /^auth\/(.+)$/.exec(path);
  if (auth) {
    for (const mount of ns.auth.values()) {
      if (auth[1].startsWith(mount.path)) return authRoute(vault, mount, auth[1].slice(mount.path.length));
    }
    return undefined;
  }
  const pki = pkiRoute(vault, ns, path);
  if (pki) return pki;
  const mount = findMount(ns, path);
  if (mount) return { access: 'acl', wrappable: true, run: (ctx) => kvRequest(vault, ctx, mount, path.slice(mount.path.length)) };
  const engine = findEngine(ns, path);
  if (engine) return { access: 'acl', wrappable: true, run: (ctx, token) => engineRequest(vault, ctx, engine, path.slice(engine.path.length), token as Token) };
  return undefined;
}

function findEngine(ns: Namespace, path: string): EngineMount | undefined {
  for (const engine of ns.engines.values()) if (path.startsWith(engine.path) || path === engine.path.slice(0, -1)) return engine;
  return undefined;
}

/** GET on totp/pki/database paths (checked against OpenBao for totp and pki; database from its API docs). */
function engineRequest(vault: FakeVault, ctx: Ctx, engine: EngineMount, rest: string, token: Token): HandlerResult {
  const read = engine.reads.get(rest);
  if (ctx.op !== 'read' || !read) return engine.unknown(rest);
  const answer = read(token);
  if ('status' in answer) return answer;
  const lease = answer.lease;
  return vault.ok(answer.data, engine.type, lease ? { lease_id: lease.id, lease_duration: lease.ttl, renewable: lease.renewable } : {});
}

/** Under a mount this server knows (built-in or added), though not on one of its routes. */
function isMounted(ns: Namespace, path: string): boolean {
  if (/^(sys|cubbyhole|identity|auth\/token)\//.test(path)) return true;
  return [...ns.auth.values()].some((m) => path.startsWith(`auth/${m.path}`));
}

function findMount(ns: Namespace, path: string): KvMount | undefined {
  let best: KvMount | undefined;
  for (const mount of ns.mounts.values()) {
    if ((path.startsWith(mount.path) || path === mount.path.slice(0, -1)) && (!best || mount.path.length > best.path.length)) best = mount;
  }
  return best;
}

// =============================================================================================
// sys/: preflight, wrapping, mounts.

/**
 * GET sys/internal/ui/mounts/<path> (and Vault's sys/mounts-all/<path>): the mount holding
 * <path>, for KV version detection. Unauthenticated in the router, but the handler itself needs a
 * token that can see the mount; an unknown mount answers the same 403 so that it cannot be used
 * to probe for mounts (vault/logical_system.go pathInternalUIMountRead; checked against OpenBao).
 */
function mountPreflight(vault: FakeVault, ctx: Ctx, rawPath: string): HandlerResult {
  const token = vault.lookupToken(ctx.rawToken);
  if (!token) return errorReply(403, PERMISSION_DENIED);
  vault.spendUse(token);
  const sanitized = rawPath.replace(/^\/+/, '').replace(/\/?$/, '/');
  const denied = errorReply(403, `preflight capability check returned 403, please ensure client's policies grant access to path ${JSON.stringify(sanitized)}`);
  const target = vault.splitNamespace(ctx.ns, sanitized);
  const mount = findMount(target.ns, target.path) ?? findEngine(target.ns, target.path);
  if (!mount || !vault.seesMount(token, target.ns, mount.path)) return denied;
  const info = mountInfo(vault, mount);
  info.path = target.ns.path.slice(ctx.ns.path.length) + mount.path;
  return vault.ok(sortDeep(info), 'system');
}

function mountInfo(vault: FakeVault, mount: KvMount | EngineMount): Record<string, unknown> {
  return {
    accessor: mount.accessor,
    config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
    deprecation_status: 'supported',
    description: mount.description,
    external_entropy_access: false,
    local: false,
    // A non-KV engine has no options at all (checked against OpenBao: totp).
    options: mount.type === 'kv' ? { version: String(mount.version) } : null,
    path: mount.path,
    plugin_version: '',
    running_plugin_version: `v${vault.version}${vault.traits.builtinSuffix}`,
    running_sha256: '',
    seal_wrap: false,
    type: mount.type,
    uuid: mount.uuid,
  };
}

/** The wrapping token a lookup/unwrap is about: body "token", else the request's own token. */
function wrappingTokenOf(ctx: Ctx): { token: string; fromBody: boolean } {
  const fromBody = typeof ctx.body?.token === 'string' && ctx.body.token !== '';
  return { token: fromBody ? (ctx.body?.token as string) : ctx.rawToken, fromBody };
}

/** POST sys/wrapping/lookup: unauthenticated; does not use the token up (checked against OpenBao). */
function wrappingLookup(vault: FakeVault, ctx: Ctx): HandlerResult {
  const { token } = wrappingTokenOf(ctx);
  if (!token) return errorReply(403, WRAP_EMPTY);
  const entry = vault.liveWrap(token);
  if (!entry) return errorReply(400, WRAP_INVALID);
  return vault.ok({ creation_path: entry.creationPath, creation_time: rfc3339(entry.creationMs), creation_ttl: entry.ttl }, 'system');
}

/**
 * POST sys/wrapping/unwrap, single use (checked against OpenBao):
 *   header = wrapping token, no body       -> the wrapped response, raw; the token is gone
 *   body token + another valid token        -> same, for the body's token
 *   body token + no/invalid header token    -> 403 permission denied
 *   body token = header token               -> 500 (use count), and the token is gone
 *   unknown, used or expired wrapping token -> 400 "wrapping token is not valid or does not exist"
 */
function wrappingUnwrap(vault: FakeVault, ctx: Ctx): HandlerResult {
  const { token, fromBody } = wrappingTokenOf(ctx);
  if (!token) return errorReply(403, WRAP_EMPTY);
  if (fromBody) {
    if (ctx.rawToken === token) {
      vault.wraps.delete(token);
      return errorReply(500, WRAP_DOUBLE_USE);
    }
    const caller = vault.lookupToken(ctx.rawToken);
    if (!caller) return errorReply(403, PERMISSION_DENIED);
    vault.spendUse(caller);
  }
  const entry = vault.liveWrap(token);
  if (!entry) return errorReply(400, WRAP_INVALID);
  vault.wraps.delete(token);
  return { status: 200, raw: entry.body };
}

/** POST sys/mounts/<path> {"type":"kv","options":{"version":"2"}}: seeding over HTTP. */
function enableMountOverHttp(ctx: Ctx, mountPath: string): HandlerResult {
  if (ctx.op !== 'update') return errorReply(405, multiError('unsupported operation'));
  const options = ctx.body?.options as Record<string, unknown> | undefined;
  const type = ctx.body?.type;
  if (type !== 'kv' && type !== 'kv-v2') return errorReply(400, `plugin not found in the catalog: ${String(type)}`);
  const version = type === 'kv-v2' || String(options?.version ?? '1') === '2' ? 2 : 1;
  const path = normalizeMount(mountPath);
  if (ctx.ns.mounts.has(path)) return errorReply(400, `path is already in use at ${path}`);
  addKvMount(ctx.ns, path, version, String(ctx.body?.description ?? ''));
  return noContent();
}

function addKvMount(ns: Namespace, path: string, version: 1 | 2, description: string): KvMount {
  const mount: KvMount = { type: 'kv', version, path, accessor: `kv_${randomBytes(4).toString('hex')}`, uuid: uuid(), description, v1: new Map(), v2: new Map() };
  ns.mounts.set(path, mount);
  return mount;
}

// =============================================================================================
// auth/token/: self-management and create.

function tokenSelfEndpoint(vault: FakeVault, ctx: Ctx, action: string, token: Token): HandlerResult {
  if (action === 'lookup-self') return vault.ok(lookupData(vault, token), 'token');
  if (ctx.op !== 'update') return errorReply(405, multiError('unsupported operation'));
  if (action === 'revoke-self') {
    // The token, and every lease created with it (api-docs/auth/token.mdx).
    vault.tokens.delete(token.id);
    for (const lease of vault.leases.values()) if (lease.token === token.id) lease.revoked = true;
    return noContent();
  }
  return renewSelf(vault, ctx, token);
}

/** GET auth/token/lookup-self: data fields in Go's map order (sorted). */
function lookupData(vault: FakeVault, token: Token): Record<string, unknown> {
  const now = Date.now();
  const data: Record<string, unknown> = {
    accessor: token.accessor,
    creation_time: unixSeconds(token.issueMs),
    creation_ttl: token.creationTtl,
    display_name: token.displayName,
    entity_id: token.entityId,
    expire_time: token.expireMs === null ? null : rfc3339(token.expireMs),
    explicit_max_ttl: token.explicitMaxTtl,
    id: token.id,
    issue_time: rfc3339(token.issueMs),
    meta: token.meta,
    num_uses: token.numUses,
    orphan: token.orphan,
    path: token.path,
    policies: token.policies,
    renewable: token.renewable,
    ttl: token.expireMs === null ? 0 : Math.max(0, Math.round((token.expireMs - now) / 1000)),
    type: 'service',
  };
  if (token.lastRenewalMs !== undefined) {
    data.last_renewal = rfc3339(token.lastRenewalMs);
    data.last_renewal_time = unixSeconds(token.lastRenewalMs);
  }
  if (token.ns !== vault.root) data.namespace_path = token.ns.path;
  return sortDeep(data) as Record<string, unknown>;
}

/**
 * POST auth/token/renew-self {"increment": "1h" | 3600}: the new TTL counts from now, capped by
 * explicit_max_ttl (and the system max) from issue time, with Vault's warning when capped;
 * without an increment the last granted TTL is used again. Root tokens are not renewable
 * (checked against OpenBao).
 */

/**
 * Whole seconds from `nowMs` to `endMs`, as OpenBao's CalculateTTL counts them
 * (sdk/framework/lease.go): it truncates both now and the start to the second first, so a
 * renewal in the same second as the issue gets all of the max TTL (5400 of 5400 s) and one
 * a second boundary later one second less, wherever in the second either fell.
 */
function wholeSecondsLeft(endMs: number, nowMs: number): number {
  return Math.floor(endMs / 1000) - Math.floor(nowMs / 1000);
}

function renewSelf(vault: FakeVault, ctx: Ctx, token: Token): HandlerResult {
  if (!token.renewable) return errorReply(400, 'lease is not renewable');
  const requested = ctx.body?.increment === undefined ? token.ttl : parseDuration(ctx.body.increment);
  if (requested === undefined) return errorReply(400, `invalid increment ${JSON.stringify(ctx.body?.increment)}`);
  const now = Date.now();
  const maxTtl = token.explicitMaxTtl || SYSTEM_MAX_TTL;
  const remaining = wholeSecondsLeft(token.issueMs + maxTtl * 1000, now);
  const ttl = Math.max(0, Math.min(requested || token.ttl, remaining));
  // The warning names what is left of the max TTL (CalculateTTL's maxValidTTL), as for leases.
  const warnings = requested > remaining ? [`TTL of ${JSON.stringify(formatDuration(requested))} exceeded the effective max_ttl of ${JSON.stringify(formatDuration(remaining))}; TTL value is capped accordingly`] : null;
  token.ttl = ttl;
  token.expireMs = now + ttl * 1000;
  token.lastRenewalMs = now;
  return { status: 200, envelope: vault.envelope({ warnings, auth: authObject(token, token.meta) }, 'token') };
}

// =============================================================================================
// Leases: sys/leases/renew and revoke (api-docs/system/leases.mdx).

/**
 * PUT/POST sys/leases/renew {"lease_id", "increment"}: the new TTL counts from now, capped by
 * the lease's max TTL with Vault's warning; past it, or not renewable: 400. An unknown, expired
 * or revoked lease is 400 "lease not found" (vault/expiration.go RenewLease).
 */
function leaseRenew(vault: FakeVault, ctx: Ctx): HandlerResult {
  if (ctx.op !== 'update') return errorReply(405, multiError('unsupported operation'));
  const id = typeof ctx.body?.lease_id === 'string' ? ctx.body.lease_id : '';
  if (!id) return errorReply(400, 'lease_id must be specified');
  const lease = vault.liveLease(id);
  if (!lease) return errorReply(400, 'lease not found');
  if (!lease.renewable) return errorReply(400, 'lease is not renewable');
  const now = Date.now();
  const requested = ctx.body?.increment === undefined ? lease.ttl : parseDuration(ctx.body.increment);
  if (requested === undefined) return errorReply(400, `invalid increment ${JSON.stringify(ctx.body?.increment)}`);
  const remaining = wholeSecondsLeft(lease.maxExpireMs, now);
  if (remaining <= 0) return errorReply(400, 'past the max TTL, cannot renew');
  const want = requested || lease.ttl;
  const ttl = Math.min(want, remaining);
  // The "effective max_ttl" is what is left of it, not the role's max_ttl: renewing a
  // database lease (max_ttl 30s) twice gave "29s", then "21s" (observed against OpenBao 2.5.5).
  const warnings = want > remaining ? [`TTL of ${JSON.stringify(formatDuration(want))} exceeded the effective max_ttl of ${JSON.stringify(formatDuration(remaining))}; TTL value is capped accordingly`] : null;
  lease.expireMs = now + ttl * 1000;
  lease.renewals.push(ttl);
  return { status: 200, envelope: vault.envelope({ lease_id: lease.id, renewable: true, lease_duration: ttl, warnings }, 'system') };
}

/** PUT/POST sys/leases/revoke {"lease_id"}: 204, also for a lease already gone. */
function leaseRevoke(vault: FakeVault, ctx: Ctx): HandlerResult {
  if (ctx.op !== 'update') return errorReply(405, multiError('unsupported operation'));
  const id = typeof ctx.body?.lease_id === 'string' ? ctx.body.lease_id : '';
  if (!id) return errorReply(400, 'lease_id must be specified');
  const lease = vault.leases.get(id);
  if (lease) lease.revoked = true;
  return noContent();
}

/** POST auth/token/create: children of the caller (orphan false), for seeding over HTTP. */
function tokenCreate(vault: FakeVault, ctx: Ctx, parent: Token): HandlerResult {
  if (ctx.op !== 'update') return errorReply(405, multiError('unsupported operation'));
  const body = ctx.body ?? {};
  const policies = Array.isArray(body.policies) ? body.policies.map(String) : parent.policies;
  const token = vault.issueToken(ctx.ns, {
    policies,
    ttl: parseDuration(body.ttl),
    explicitMaxTtl: parseDuration(body.explicit_max_ttl),
    renewable: typeof body.renewable === 'boolean' ? body.renewable : undefined,
    numUses: typeof body.num_uses === 'number' ? body.num_uses : undefined,
    meta: (body.meta as Record<string, string> | undefined) ?? undefined,
    noDefaultPolicy: body.no_default_policy === true,
    path: 'auth/token/create',
    displayName: 'token',
    orphan: false,
  });
  return vault.authAnswer(token, token.meta, 'token');
}

// =============================================================================================
// KV v1 and v2.

function kvRequest(vault: FakeVault, ctx: Ctx, mount: KvMount, rest: string): HandlerResult {
  return mount.version === 1 ? kvV1(vault, ctx, mount, rest) : kvV2(vault, ctx, mount, rest);
}

function listKeys(keys: Iterable<string>, prefix: string): string[] {
  const out = new Set<string>();
  for (const key of keys) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    out.add(slash < 0 ? rest : rest.slice(0, slash + 1));
  }
  return [...out].filter(Boolean).sort();
}

function listPrefix(path: string): string {
  return path === '' || path.endsWith('/') ? path : `${path}/`;
}

/**
 * KV v1 (api-docs/secret/kv/kv-v1.mdx; checked against OpenBao): GET -> data as written, with
 * lease_duration from a "ttl" key or else the mount's default TTL (768h, not 0); LIST -> keys;
 * POST/PUT -> 204 (an empty object is "missing data fields"); DELETE -> 204; missing -> 404 [].
 */
function kvV1(vault: FakeVault, ctx: Ctx, mount: KvMount, rest: string): HandlerResult {
  switch (ctx.op) {
    case 'read': {
      const data = mount.v1.get(rest);
      if (!data) return errorReply(404);
      return vault.ok(sortDeep(data), 'kv', { lease_duration: parseDuration(data.ttl) ?? SYSTEM_MAX_TTL });
    }
    case 'list': {
      const keys = listKeys(mount.v1.keys(), listPrefix(rest));
      return keys.length ? vault.ok({ keys }, 'kv') : errorReply(404);
    }
    case 'update':
      if (!ctx.body || Object.keys(ctx.body).length === 0) return errorReply(400, 'missing data fields');
      mount.v1.set(rest, ctx.body);
      return noContent();
    case 'delete':
      mount.v1.delete(rest);
      return noContent();
    default:
      return errorReply(405, multiError('unsupported operation'));
  }
}

function kvV2(vault: FakeVault, ctx: Ctx, mount: KvMount, rest: string): HandlerResult {
  const m = /^(data|metadata|delete|undelete|destroy)(?:\/(.*))?$/.exec(rest);
  if (!m) return kvInvalidPath(vault, rest);
  const [, kind, path = ''] = m;
  if (kind === 'data' && m[2] === undefined) {
    // GET secret/data (the root, no slash): a warning, not the generic invalid-path one.
    return { status: 404, raw: true, envelope: vault.envelope({ warnings: [KV_ROOT_WARNING] }, 'kv') };
  }
  switch (kind) {
    case 'data':
      return kvV2Data(vault, ctx, mount, path);
    case 'metadata':
      return kvV2Metadata(vault, ctx, mount, path);
    default:
      return kvV2VersionOp(ctx, mount, kind, path);
  }
}

/** A v1-style path on a v2 mount: 404 with a warning (kv backend.go pathInvalid; checked against OpenBao). */
function kvInvalidPath(vault: FakeVault, rest: string): HandlerResult {
  if (rest === 'config') return vault.ok({ cas_required: false, delete_version_after: '0s', max_versions: 0 }, 'kv');
  return { status: 404, raw: true, envelope: vault.envelope({ warnings: [vault.traits.invalidPathWarning] }, 'kv') };
}

function versionMetadata(entry: KvEntry, version: number, v: KvVersion): Record<string, unknown> {
  return {
    created_time: rfc3339(v.createdMs),
    custom_metadata: entry.customMetadata,
    deletion_time: v.deletionMs === null ? '' : rfc3339(v.deletionMs),
    destroyed: v.destroyed,
    version,
  };
}

function kvV2Data(vault: FakeVault, ctx: Ctx, mount: KvMount, path: string): HandlerResult {
  switch (ctx.op) {
    case 'read':
      return kvV2Read(vault, ctx, mount, path);
    case 'update': {
      const data = ctx.body?.data;
      if (data === undefined || data === null || typeof data !== 'object' || Array.isArray(data)) return errorReply(400, 'no data provided');
      const options = ctx.body?.options as Record<string, unknown> | undefined;
      const entry = mount.v2.get(path);
      if (options?.cas !== undefined && Number(options.cas) !== (entry?.currentVersion ?? 0)) {
        return errorReply(400, 'check-and-set parameter did not match the current version');
      }
      const version = kvWrite(mount, path, data as Record<string, unknown>);
      const written = mount.v2.get(path) as KvEntry;
      return vault.ok(versionMetadata(written, version, written.versions.get(version) as KvVersion), 'kv');
    }
    case 'delete':
      kvSoftDelete(mount, path, undefined);
      return noContent();
    default:
      return errorReply(405, multiError('unsupported operation'));
  }
}

/**
 * GET <mount>/data/<path>[?version=N] (kv path_data.go pathDataRead; checked against OpenBao):
 * missing secret or version -> 404 {"errors":[]}; deleted or destroyed -> 404 with the full
 * envelope, data.data null and data.metadata telling which; version 0/absent = current.
 */
function kvV2Read(vault: FakeVault, ctx: Ctx, mount: KvMount, path: string): HandlerResult {
  const raw = ctx.query.get('version');
  let version = 0;
  if (raw !== null && raw !== '') {
    if (!/^-?\d+$/.test(raw)) {
      return errorReply(400, `Field validation failed: error converting input for field "version": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax`);
    }
    version = Number(raw);
  }
  const entry = mount.v2.get(path);
  if (!entry) return errorReply(404);
  if (version === 0) version = entry.currentVersion;
  const v = entry.versions.get(version);
  if (!v) return errorReply(404);
  const metadata = versionMetadata(entry, version, v);
  if (v.deletionMs !== null || v.destroyed) {
    return { status: 404, raw: true, envelope: vault.envelope({ data: { data: null, metadata } }, 'kv') };
  }
  return vault.ok({ data: sortDeep(v.data), metadata }, 'kv');
}

function kvV2Metadata(vault: FakeVault, ctx: Ctx, mount: KvMount, path: string): HandlerResult {
  switch (ctx.op) {
    case 'list': {
      const keys = listKeys(mount.v2.keys(), listPrefix(path));
      return keys.length ? vault.ok({ keys }, 'kv') : errorReply(404);
    }
    case 'read': {
      const entry = mount.v2.get(path);
      if (!entry) return errorReply(404);
      return vault.ok(sortDeep(metadataData(vault, entry)), 'kv');
    }
    case 'delete':
      mount.v2.delete(path);
      return noContent();
    default:
      return errorReply(405, multiError('unsupported operation'));
  }
}

/** GET <mount>/metadata/<path>: the field set of the flavor (checked against OpenBao). */
function metadataData(vault: FakeVault, entry: KvEntry): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const [n, v] of entry.versions) {
    versions[String(n)] = { created_time: rfc3339(v.createdMs), deletion_time: v.deletionMs === null ? '' : rfc3339(v.deletionMs), destroyed: v.destroyed };
  }
  const data: Record<string, unknown> = {
    cas_required: false,
    created_time: rfc3339(entry.createdMs),
    current_version: entry.currentVersion,
    custom_metadata: entry.customMetadata,
    delete_version_after: '0s',
    max_versions: 0,
    oldest_version: entry.oldestVersion,
    updated_time: rfc3339(entry.updatedMs),
    versions,
  };
  if (vault.traits.kvMetadataExtras) Object.assign(data, { current_metadata_version: 0, metadata_cas_required: false });
  return data;
}

/** POST <mount>/{delete,undelete,destroy}/<path> {"versions":[...]}: 204 (api-docs kv-v2.mdx). */
function kvV2VersionOp(ctx: Ctx, mount: KvMount, kind: string, path: string): HandlerResult {
  if (ctx.op !== 'update') return errorReply(405, multiError('unsupported operation'));
  const versions = Array.isArray(ctx.body?.versions) ? (ctx.body.versions as unknown[]).map(Number) : [];
  if (versions.length === 0) return errorReply(400, 'no version number provided');
  if (kind === 'delete') kvSoftDelete(mount, path, versions);
  else if (kind === 'undelete') kvUndeleteVersions(mount, path, versions);
  else kvDestroyVersions(mount, path, versions);
  return noContent();
}

/** Default max_versions (kv backend.go): the oldest versions beyond it are dropped. */
const KV_MAX_VERSIONS = 10;

function kvWrite(mount: KvMount, path: string, data: Record<string, unknown>): number {
  const now = Date.now();
  let entry = mount.v2.get(path);
  if (!entry) {
    entry = { versions: new Map(), currentVersion: 0, oldestVersion: 0, createdMs: now, updatedMs: now, customMetadata: null };
    mount.v2.set(path, entry);
  }
  const version = entry.currentVersion + 1;
  entry.versions.set(version, { data: structuredClone(data), createdMs: now, deletionMs: null, destroyed: false });
  entry.currentVersion = version;
  entry.updatedMs = now;
  const cutoff = version - KV_MAX_VERSIONS;
  for (const n of [...entry.versions.keys()]) if (n <= cutoff) entry.versions.delete(n);
  if (cutoff > 0) entry.oldestVersion = cutoff + 1;
  return version;
}

function kvSoftDelete(mount: KvMount, path: string, versions: number[] | undefined): void {
  const entry = mount.v2.get(path);
  if (!entry) return;
  for (const n of versions ?? [entry.currentVersion]) {
    const v = entry.versions.get(n);
    if (v && v.deletionMs === null && !v.destroyed) v.deletionMs = Date.now();
  }
}

function kvUndeleteVersions(mount: KvMount, path: string, versions: number[]): void {
  for (const n of versions) {
    const v = mount.v2.get(path)?.versions.get(n);
    if (v && !v.destroyed) v.deletionMs = null;
  }
}

function kvDestroyVersions(mount: KvMount, path: string, versions: number[]): void {
  for (const n of versions) {
    const v = mount.v2.get(path)?.versions.get(n);
    if (v) {
      v.destroyed = true;
      v.data = {};
    }
  }
}

// =============================================================================================
// Auth methods. Logins are unauthenticated; everything else on an auth mount needs the ACL.

function authRoute(vault: FakeVault, mount: AuthMount, rest: string): Route | undefined {
  const login = (run: (ctx: Ctx) => HandlerResult): Route => ({ access: 'none', wrappable: true, run });
  switch (mount.type) {
    case 'approle': {
      if (rest === 'login') return login((ctx) => appRoleLogin(vault, ctx, mount));
      const m = /^role\/([^/]+)\/(role-id|secret-id)$/.exec(rest);
      if (m) return { access: 'acl', wrappable: true, run: (ctx) => appRoleAdmin(vault, ctx, mount, m[1], m[2]) };
      return undefined;
    }
    case 'userpass': {
      // framework.GenericNameRegex: other names do not match the path at all (404).
      const m = /^login\/(.*)$/.exec(rest);
      if (!m) return undefined;
      if (!/^\w(([\w.-]+)?\w)?$/.test(m[1])) return { access: 'none', run: () => errorReply(404, 'unsupported path') };
      return login((ctx) => userpassLogin(vault, ctx, mount, m[1]));
    }
    case 'kubernetes':
      return rest === 'login' ? login((ctx) => kubernetesLogin(vault, ctx, mount)) : undefined;
    case 'jwt':
      return rest === 'login' ? login((ctx) => jwtLogin(vault, ctx, mount)) : undefined;
    case 'cert':
      return rest === 'login' ? login((ctx) => certLogin(vault, ctx, mount)) : undefined;
  }
}

/** display_name of login tokens: the mount path with dashes, then the name (checked against OpenBao). */
function loginDisplayName(ns: Namespace, mount: MountBase, name?: string): string {
  const base = ns.path ? `${ns.path}auth/${mount.path}` : mount.path;
  const dashed = base.replace(/\/+$/, '').replace(/\//g, '-');
  return name ? `${dashed}-${name}` : dashed;
}

function issueLoginToken(vault: FakeVault, ctx: Ctx, mount: MountBase, spec: { policies: string[]; ttl: number; maxTtl?: number; alias: string; name?: string; metadata: Record<string, string> }): Token {
  return vault.issueToken(ctx.ns, {
    policies: spec.policies,
    ttl: spec.ttl || undefined,
    explicitMaxTtl: spec.maxTtl || undefined,
    meta: spec.metadata,
    path: `auth/${ctx.path.slice('auth/'.length)}`,
    displayName: loginDisplayName(ctx.ns, mount, spec.name),
    orphan: true,
    entityId: vault.entityFor(mount, spec.alias, ctx.ns),
  });
}

const bodyString = (ctx: Ctx, key: string): string => {
  const value = ctx.body?.[key];
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
};

/** approle path_login.go (checked against OpenBao): missing role_id is a 500, the rest 400. */
function appRoleLogin(vault: FakeVault, ctx: Ctx, mount: AppRoleMount): HandlerResult {
  const roleId = bodyString(ctx, 'role_id');
  if (!roleId) return errorReply(500, 'missing role_id');
  const role = [...mount.roles.values()].find((r) => r.roleId === roleId);
  const secretId = bodyString(ctx, 'secret_id');
  if (role?.bindSecretId && !secretId) return errorReply(400, 'missing secret_id');
  if (!role) return errorReply(400, 'invalid role or secret ID');
  if (role.bindSecretId) {
    const entry = role.secretIds.get(secretId);
    if (!entry) return errorReply(400, 'invalid role or secret ID');
    if (entry.expiresMs !== null && entry.expiresMs <= Date.now()) {
      role.secretIds.delete(secretId);
      return errorReply(400, 'invalid role or secret ID');
    }
    if (entry.usesLeft > 0 && --entry.usesLeft === 0) role.secretIds.delete(secretId);
  }
  const metadata = { role_name: role.name };
  const token = issueLoginToken(vault, ctx, mount, { policies: role.policies, ttl: role.tokenTtl, maxTtl: role.tokenMaxTtl, alias: role.roleId, metadata });
  return vault.authAnswer(token, metadata, 'approle');
}

/** GET role/<r>/role-id, POST role/<r>/secret-id (the wrapped flavour is the secret_id path). */
function appRoleAdmin(vault: FakeVault, ctx: Ctx, mount: AppRoleMount, name: string, what: string): HandlerResult {
  const role = mount.roles.get(name.toLowerCase());
  if (what === 'role-id') {
    if (ctx.op !== 'read') return errorReply(405, multiError('unsupported operation'));
    return role ? vault.ok({ role_id: role.roleId }, 'approle') : errorReply(404);
  }
  if (ctx.op !== 'update') return errorReply(405, multiError('unsupported operation'));
  if (!role) return errorReply(404, `role ${JSON.stringify(name)} does not exist`);
  const issued = issueSecretId(role);
  const data = { secret_id: issued.secretId, secret_id_accessor: issued.accessor, secret_id_num_uses: role.secretIdNumUses, secret_id_ttl: role.secretIdTtl };
  return { ...vault.ok(data, 'approle'), wrappedAccessor: issued.accessor };
}

function issueSecretId(role: AppRoleRecord): { secretId: string; accessor: string } {
  const secretId = uuid();
  const accessor = uuid();
  role.secretIds.set(secretId, { accessor, expiresMs: role.secretIdTtl ? Date.now() + role.secretIdTtl * 1000 : null, usesLeft: role.secretIdNumUses });
  return { secretId, accessor };
}

/** userpass path_login.go (checked against OpenBao): names are case-insensitive. */
function userpassLogin(vault: FakeVault, ctx: Ctx, mount: UserpassMount, rawName: string): HandlerResult {
  const username = rawName.toLowerCase();
  const password = bodyString(ctx, 'password');
  if (!password) return errorReply(500, 'missing password');
  const user = mount.users.get(username);
  if (!user || user.password !== password) return errorReply(400, 'invalid username or password');
  const metadata = { username };
  const token = issueLoginToken(vault, ctx, mount, { policies: user.policies, ttl: user.tokenTtl, maxTtl: user.tokenMaxTtl, alias: username, name: username, metadata });
  return vault.authAnswer(token, metadata, 'userpass');
}

/** Service account identity from projected (`kubernetes.io`) or legacy secret-token claims. */
function serviceAccountOf(claims: Record<string, unknown>): { namespace: string; name: string; uid: string; secretName: string } {
  const projected = claims['kubernetes.io'] as { namespace?: string; serviceaccount?: { name?: string; uid?: string } } | undefined;
  if (projected) return { namespace: projected.namespace ?? '', name: projected.serviceaccount?.name ?? '', uid: projected.serviceaccount?.uid ?? '', secretName: '' };
  const legacy = (key: string) => String(claims[`kubernetes.io/serviceaccount/${key}`] ?? '');
  return { namespace: legacy('namespace'), name: legacy('service-account.name'), uid: legacy('service-account.uid'), secretName: legacy('secret.name') };
}

/**
 * kubernetes path_login.go (checked against OpenBao with a stub TokenReview API): a token the
 * cluster rejects (bad signature, revoked) -> 403 "permission denied"; bound names/namespaces
 * -> 403 with their own texts; expired -> 403 with go-jose's text; role/jwt problems -> 400.
 * This server plays the cluster: it accepts the tokens kubernetesJwt() signs.
 */
function kubernetesLogin(vault: FakeVault, ctx: Ctx, mount: KubernetesMount): HandlerResult {
  const roleName = bodyString(ctx, 'role');
  if (!roleName) return errorReply(400, 'missing role');
  const jwt = bodyString(ctx, 'jwt');
  if (!jwt) return errorReply(400, 'missing jwt');
  const role = mount.roles.get(roleName);
  if (!role) return errorReply(400, `invalid role name ${JSON.stringify(roleName)}`);
  const checked = vault.verifyJwt(jwt);
  if ('error' in checked) return errorReply(403, PERMISSION_DENIED);
  const sa = serviceAccountOf(checked.claims);
  if (expired(checked.claims, 60)) return errorReply(403, 'invalid expiration time (exp) claim: token is expired');
  if (!role.names.includes('*') && !role.names.includes(sa.name)) return errorReply(403, 'service account name not authorized');
  if (!role.namespaces.includes('*') && !role.namespaces.includes(sa.namespace)) return errorReply(403, 'namespace not authorized');
  if (vault.revokedServiceAccounts.has(jwt)) return errorReply(403, PERMISSION_DENIED);
  const metadata = { role: roleName, service_account_name: sa.name, service_account_namespace: sa.namespace, service_account_secret_name: sa.secretName, service_account_uid: sa.uid };
  const token = issueLoginToken(vault, ctx, mount, { policies: role.policies, ttl: role.tokenTtl, maxTtl: role.tokenMaxTtl, alias: sa.uid || `${sa.namespace}/${sa.name}`, metadata });
  return vault.authAnswer(token, metadata, 'kubernetes');
}

function expired(claims: Record<string, unknown>, leewaySeconds: number): boolean {
  return typeof claims.exp === 'number' && claims.exp + leewaySeconds < Date.now() / 1000;
}

/** jwt path_login.go (checked against OpenBao, jwt_validation_pubkeys config): errors are 400. */
function jwtLogin(vault: FakeVault, ctx: Ctx, mount: JwtMount): HandlerResult {
  const roleName = bodyString(ctx, 'role') || mount.defaultRole;
  if (!roleName) return errorReply(400, 'missing role');
  const role = mount.roles.get(roleName);
  if (!role) return errorReply(400, `role ${JSON.stringify(roleName)} could not be found`);
  const jwt = bodyString(ctx, 'jwt');
  if (!jwt) return errorReply(400, 'missing token');
  const checked = vault.verifyJwt(jwt);
  if ('error' in checked) return errorReply(400, `error validating token: error verifying token signature: ${checked.error}`);
  const claims = checked.claims;
  // go-jose's order: subject, audience, then expiry (expiration_leeway defaults to 150 s).
  if (role.boundSubject && claims.sub !== role.boundSubject) return errorReply(400, 'error validating token: invalid subject (sub) claim');
  const audiences = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud.map(String) : [String(claims.aud)];
  if (role.boundAudiences.length > 0 && !audiences.some((a) => role.boundAudiences.includes(a))) {
    return errorReply(400, 'error validating token: invalid audience (aud) claim: audience claim does not match any expected audience');
  }
  if (expired(claims, 150)) return errorReply(400, 'error validating token: invalid expiration time (exp) claim: token is expired');
  if (role.boundAudiences.length === 0 && audiences.length > 0) return errorReply(400, 'audience claim found in JWT but no audiences bound to the role');
  const user = claims[role.userClaim];
  if (user === undefined) return errorReply(400, `claim ${JSON.stringify(role.userClaim)} not found in token`);
  const metadata = { role: roleName };
  const token = issueLoginToken(vault, ctx, mount, { policies: role.policies, ttl: role.tokenTtl, maxTtl: role.tokenMaxTtl, alias: String(user), metadata });
  return vault.authAnswer(token, metadata, 'jwt');
}

/**
 * cert path_login.go (checked against OpenBao over a TLS listener): the client certificate of
 * the connection, matched against every role (or the one named); a CA role accepts leaves it
 * signed, a leaf role that exact certificate. No certificate (or plain HTTP) -> 400 "no client
 * certificate found"; no role trusts it -> 400 "invalid certificate or no client certificate
 * supplied"; trusted but allowed_common_names says no -> 400 "no chain matching ...".
 */
function certLogin(vault: FakeVault, ctx: Ctx, mount: CertMount): HandlerResult {
  const socket = transportOf(ctx.req) as Partial<TLSSocket>;
  const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
  if (!peer || !('raw' in peer) || !peer.raw) return errorReply(400, 'no client certificate found');
  const client = new X509Certificate(peer.raw);
  const name = bodyString(ctx, 'name');
  const candidates = [...mount.roles.entries()].filter(([roleName]) => !name || roleName === name);
  const trusting = candidates.filter(([, role]) => trusts(role.certificate, client));
  if (trusting.length === 0) return errorReply(400, 'invalid certificate or no client certificate supplied');
  const cn = commonName(client);
  const match = trusting.find(([, role]) => role.allowedCommonNames.length === 0 || role.allowedCommonNames.includes(cn));
  if (!match) return errorReply(400, 'no chain matching all constraints could be found for this login certificate');
  const [roleName, role] = match;
  const metadata = {
    authority_key_id: keyIdentifier(client.raw, 'authority'),
    cert_name: roleName,
    common_name: cn,
    serial_number: BigInt(`0x${client.serialNumber}`).toString(10),
    subject_key_id: keyIdentifier(client.raw, 'subject'),
  };
  const token = issueLoginToken(vault, ctx, mount, { policies: role.policies, ttl: role.tokenTtl, maxTtl: role.tokenMaxTtl, alias: client.serialNumber, metadata });
  return vault.authAnswer(token, metadata, 'cert');
}

function trusts(trusted: X509Certificate, client: X509Certificate): boolean {
  const now = Date.now();
  if (Date.parse(client.validFrom) > now || Date.parse(client.validTo) < now) return false;
  if (trusted.ca) return client.checkIssued(trusted) && client.verify(trusted.publicKey);
  return Buffer.compare(trusted.raw, client.raw) === 0;
}

function commonName(cert: X509Certificate): string {
  const m = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject);
  return m ? m[1] : '';
}

/**
 * Subject / authority key identifier as Go prints them in cert auth metadata ("7c:84:..."),
 * read from the extension in the DER ('' when the certificate has none). Node's X509Certificate
 * does not expose them.
 */
function keyIdentifier(der: Buffer, which: 'subject' | 'authority'): string {
  const oid = Buffer.from([0x06, 0x03, 0x55, 0x1d, which === 'subject' ? 0x0e : 0x23]);
  let at = der.indexOf(oid);
  if (at < 0) return '';
  at += oid.length;
  if (der[at] === 0x01) at = skipTlv(der, at); // critical flag
  if (der[at] !== 0x04) return '';
  const outer = readTlv(der, at);
  let inner = readTlv(der, outer.start);
  if (which === 'authority') {
    if (inner.tag !== 0x30) return '';
    inner = readTlv(der, inner.start);
    if (inner.tag !== 0x80) return '';
  } else if (inner.tag !== 0x04) return '';
  return [...der.subarray(inner.start, inner.end)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function readTlv(der: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i++) length = (length << 8) | der[start + i];
    start += bytes;
  }
  return { tag, start, end: start + length };
}

const skipTlv = (der: Buffer, at: number) => readTlv(der, at).end;

// =============================================================================================
// Setup helpers (the VaultScope of one namespace).

function authMount<T extends AuthType>(ns: Namespace, type: T, mount: string | undefined): Extract<AuthMount, { type: T }> {
  const path = normalizeMount(mount ?? type);
  const existing = ns.auth.get(path);
  if (existing) {
    if (existing.type !== type) throw new Error(`vault-server: auth/${path} is a ${existing.type} mount, not ${type}`);
    return existing as Extract<AuthMount, { type: T }>;
  }
  const base = { path, accessor: `auth_${type}_${randomBytes(4).toString('hex')}`, uuid: uuid(), description: '' };
  const created: AuthMount =
    type === 'approle' ? { ...base, type: 'approle', roles: new Map() }
    : type === 'userpass' ? { ...base, type: 'userpass', users: new Map() }
    : type === 'kubernetes' ? { ...base, type: 'kubernetes', roles: new Map() }
    : type === 'jwt' ? { ...base, type: 'jwt', defaultRole: '', roles: new Map() }
    : { ...base, type: 'cert', roles: new Map() };
  ns.auth.set(path, created);
  return created as Extract<AuthMount, { type: T }>;
}

class Scope implements VaultScope {
  constructor(
    protected readonly vault: FakeVault,
    protected readonly ns: Namespace,
  ) {}

  get namespacePath(): string {
    return this.ns.path;
  }

  enableKv(mount: string, version: 1 | 2 = 2): void {
    const path = normalizeMount(mount);
    if (this.ns.mounts.has(path)) throw new Error(`vault-server: ${this.ns.path}${path} is already mounted`);
    addKvMount(this.ns, path, version, '');
  }

  private kv(mount: string): KvMount {
    const found = this.ns.mounts.get(normalizeMount(mount));
    if (!found) throw new Error(`vault-server: no KV mount at ${this.ns.path}${normalizeMount(mount)} (enableKv first)`);
    return found;
  }

  kvPut(mount: string, path: string, data: Record<string, unknown>, options: { customMetadata?: Record<string, string> } = {}): number {
    const kv = this.kv(mount);
    if (kv.version === 1) {
      kv.v1.set(path, structuredClone(data));
      return 0;
    }
    const version = kvWrite(kv, path, data);
    if (options.customMetadata) (kv.v2.get(path) as KvEntry).customMetadata = { ...options.customMetadata };
    return version;
  }

  kvDelete(mount: string, path: string, versions?: number[]): void {
    const kv = this.kv(mount);
    if (kv.version === 1) kv.v1.delete(path);
    else kvSoftDelete(kv, path, versions);
  }

  kvUndelete(mount: string, path: string, versions: number[]): void {
    kvUndeleteVersions(this.kv(mount), path, versions);
  }

  kvDestroy(mount: string, path: string, versions: number[]): void {
    kvDestroyVersions(this.kv(mount), path, versions);
  }

  kvDeleteMetadata(mount: string, path: string): void {
    this.kv(mount).v2.delete(path);
  }

  addPolicy(name: string, rules: PolicyRules): void {
    if (name === 'root' || name === 'default') throw new Error(`vault-server: cannot replace the ${name} policy`);
    this.ns.policies.set(name.toLowerCase(), compileRules(rules));
  }

  createToken(options: TokenOptions = {}): string {
    return this.vault.issueToken(this.ns, { ...options, path: 'auth/token/create', displayName: 'token', orphan: false }).id;
  }

  revokeToken(token: string): void {
    this.vault.tokens.delete(token);
  }

  addAppRole(name: string, options: AppRoleOptions = {}): AppRole {
    const mount = authMount(this.ns, 'approle', options.mount);
    const role: AppRoleRecord = {
      name: name.toLowerCase(),
      roleId: options.roleId ?? uuid(),
      bindSecretId: options.bindSecretId ?? true,
      secretIdTtl: durationOption(options.secretIdTtl, 0, 'secretIdTtl'),
      secretIdNumUses: options.secretIdNumUses ?? 0,
      policies: options.policies ?? [],
      tokenTtl: durationOption(options.tokenTtl, 0, 'tokenTtl'), tokenMaxTtl: durationOption(options.tokenMaxTtl, 0, 'tokenMaxTtl'),
      secretIds: new Map(),
    };
    mount.roles.set(role.name, role);
    const first = issueSecretId(role);
    return {
      name: role.name,
      mount: mount.path.slice(0, -1),
      roleId: role.roleId,
      secretId: first.secretId,
      secretIdAccessor: first.accessor,
      newSecretId: () => issueSecretId(role),
      wrapSecretId: (ttl: Duration = 60) => this.wrapNewSecretId(mount, role, durationOption(ttl, 60, 'wrap ttl')),
    };
  }

  wrapSecretId(role: string, options: { ttl?: Duration; mount?: string } = {}): WrapInfo {
    const mount = authMount(this.ns, 'approle', options.mount);
    const record = mount.roles.get(role.toLowerCase());
    if (!record) throw new Error(`vault-server: no AppRole role ${JSON.stringify(role)} at auth/${mount.path}`);
    return this.wrapNewSecretId(mount, record, durationOption(options.ttl, 60, 'wrap ttl'));
  }

  /** What POST auth/<mount>/role/<r>/secret-id with X-Vault-Wrap-TTL answers, minus HTTP. */
  private wrapNewSecretId(mount: AppRoleMount, role: AppRoleRecord, ttl: number): WrapInfo {
    const issued = issueSecretId(role);
    const data = { secret_id: issued.secretId, secret_id_accessor: issued.accessor, secret_id_num_uses: role.secretIdNumUses, secret_id_ttl: role.secretIdTtl };
    const answer = { ...this.vault.ok(data, 'approle'), wrappedAccessor: issued.accessor };
    const wrapped = this.vault.wrap(answer, ttl, `auth/${mount.path}role/${role.name}/secret-id`, this.ns);
    return wrapped.envelope.wrap_info as WrapInfo;
  }

  addUserpass(username: string, password: string, options: LoginRoleOptions = {}): void {
    if (!/^\w(([\w.-]+)?\w)?$/.test(username)) throw new Error(`vault-server: Vault refuses the username ${JSON.stringify(username)} (letters, digits, _ . - only)`);
    authMount(this.ns, 'userpass', options.mount).users.set(username.toLowerCase(), { password, policies: options.policies ?? [], tokenTtl: durationOption(options.tokenTtl, 0, 'tokenTtl'), tokenMaxTtl: durationOption(options.tokenMaxTtl, 0, 'tokenMaxTtl') });
  }

  addKubernetesRole(role: string, options: KubernetesRoleOptions): void {
    authMount(this.ns, 'kubernetes', options.mount).roles.set(role, {
      names: options.serviceAccountNames,
      namespaces: options.namespaces,
      policies: options.policies ?? [],
      tokenTtl: durationOption(options.tokenTtl, 0, 'tokenTtl'), tokenMaxTtl: durationOption(options.tokenMaxTtl, 0, 'tokenMaxTtl'),
    });
  }

  addJwtRole(role: string, options: JwtRoleOptions): void {
    const boundAudiences = options.boundAudiences ?? [];
    const boundSubject = options.boundSubject ?? '';
    // OpenBao: "must have at least one bound constraint when creating/updating a role".
    if (boundAudiences.length === 0 && !boundSubject) throw new Error('vault-server: a JWT role needs boundAudiences or boundSubject (Vault refuses one without)');
    const mount = authMount(this.ns, 'jwt', options.mount);
    mount.roles.set(role, { boundAudiences, boundSubject, userClaim: options.userClaim ?? 'sub', policies: options.policies ?? [], tokenTtl: durationOption(options.tokenTtl, 0, 'tokenTtl'), tokenMaxTtl: durationOption(options.tokenMaxTtl, 0, 'tokenMaxTtl') });
    if (options.defaultRole) mount.defaultRole = role;
  }

  addCertRole(name: string, options: CertRoleOptions): void {
    authMount(this.ns, 'cert', options.mount).roles.set(name, {
      certificate: new X509Certificate(options.certificate),
      allowedCommonNames: options.allowedCommonNames ?? [],
      policies: options.policies ?? [],
      tokenTtl: durationOption(options.tokenTtl, 0, 'tokenTtl'), tokenMaxTtl: durationOption(options.tokenMaxTtl, 0, 'tokenMaxTtl'),
    });
  }
  private engine(type: EngineMount['type'], mount: string | undefined, unknown: EngineMount['unknown']): EngineMount {
    const path = normalizeMount(mount ?? type);
    const found = this.ns.engines.get(path);
    if (found) {
      if (found.type !== type) throw new Error(`vault-server: ${this.ns.path}${path} is a ${found.type} mount`);
      return found;
    }
    if (this.ns.mounts.has(path)) throw new Error(`vault-server: ${this.ns.path}${path} is already mounted`);
    const engine: EngineMount = { type, path, accessor: `${type}_${randomBytes(4).toString('hex')}`, uuid: uuid(), description: '', reads: new Map(), unknown };
    this.ns.engines.set(path, engine);
    return engine;
  }

  addTotpKey(name: string, options: { mount?: string } = {}): { key: Buffer; code(atMs?: number): string } {
    // Unknown key: 400 "unknown key: <name>"; any other path: 404 "unsupported path" (checked against OpenBao).
    const engine = this.engine('totp', options.mount, (rest) => {
      const code = /^code\/(.+)$/.exec(rest);
      return code ? errorReply(400, `unknown key: ${code[1]}`) : errorReply(404, 'unsupported path');
    });
    const key = randomBytes(20);
    const code = (atMs = Date.now()) => totp(key, atMs);
    engine.reads.set(`code/${name}`, () => ({ data: { code: code() } }));
    return { key, code };
  }

  addPkiCa(certificatePem: string, options: { mount?: string } = {}): void {
    const engine = this.engine('pki', options.mount, () => errorReply(404, 'unsupported path'));
    const pem = certificatePem.trim();
    // pki/cert/ca: data.certificate plus revocation fields (checked against OpenBao).
    engine.reads.set('cert/ca', () => ({ data: { certificate: pem, revocation_time: 0, revocation_time_rfc3339: '' } }));
    engine.reads.set('cert/ca_chain', () => ({ data: { ca_chain: `${pem}\n` } }));
    // pki/ca/pem is raw PEM, not JSON (checked against OpenBao: Content-Type application/pem-certificate-chain).
    engine.reads.set('ca/pem', () => ({ status: 200, raw: pem, headers: { 'Content-Type': 'application/pem-certificate-chain' } }));
  }

  addDatabaseRole(name: string, options: { mount?: string; ttl?: Duration; maxTtl?: Duration; renewable?: boolean } = {}): { issued: Array<{ username: string; password: string; leaseId: string }> } {
    // Not checked against a real server (that needs a database): api-docs/secret/databases.
    const engine = this.engine('database', options.mount, (rest) => {
      const creds = /^creds\/(.+)$/.exec(rest);
      return creds ? errorReply(400, `unknown role: ${creds[1]}`) : errorReply(404, 'unsupported path');
    });
    const ttl = durationOption(options.ttl, 3600, 'ttl');
    const maxTtl = durationOption(options.maxTtl, 86_400, 'maxTtl');
    const renewable = options.renewable ?? true;
    const issued: Array<{ username: string; password: string; leaseId: string }> = [];
    engine.reads.set(`creds/${name}`, (token) => {
      const username = `v-token-${name}-${base62(20)}`;
      const password = base62(20);
      const leaseId = `${engine.path}creds/${name}/${base62(24)}`;
      issued.push({ username, password, leaseId });
      // The lease belongs to the token that read it: revoke-self and its expiry end it.
      const now = Date.now();
      this.vault.leases.set(leaseId, {
        id: leaseId, path: `${engine.path}creds/${name}`, token: token.id, issueMs: now, expireMs: now + ttl * 1000, maxExpireMs: now + maxTtl * 1000,
        renewable, revoked: false, renewals: [], data: { username, password }, ttl,
      });
      return { data: { password, username }, lease: { id: leaseId, ttl, renewable } };
    });
    return { issued };
  }

}

// =============================================================================================
// The HTTP pipeline: record, faults, seal, namespace, authorise, handle, wrap, write.

function globMatches(pattern: string | RegExp | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  if (typeof pattern !== 'string') return pattern.test(path);
  if (!pattern.includes('*')) return pattern === path;
  const source = pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${source}$`).test(path);
}

function takeFault(faults: VaultFault[], method: string, path: string): VaultFault | undefined {
  const fault = faults.find((f) => (f.times === undefined || f.times > 0) && (f.method === undefined || f.method.toUpperCase() === method) && globMatches(f.path, path));
  if (fault?.times !== undefined) fault.times--;
  return fault;
}

function operationOf(method: string, query: URLSearchParams): Operation | undefined {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return query.get('list') === 'true' ? 'list' : 'read';
    case 'LIST':
      return 'list';
    case 'POST':
    case 'PUT':
      return 'update';
    case 'DELETE':
      return 'delete';
    case 'PATCH':
      return 'patch';
    default:
      return undefined;
  }
}

/** Vault's request token: X-Vault-Token wins over Authorization: Bearer (checked against OpenBao). */
function requestToken(headers: IncomingHttpHeaders): string {
  const header = headers['x-vault-token'];
  if (typeof header === 'string' && header) return header;
  const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
  return bearer ? bearer[1].trim() : '';
}

/**
 * http/handler.go isForm: a form content type *and* a body that does not start like JSON
 * (curl -d sends JSON with the form type; OpenBao reads it as JSON, checked).
 */
function isForm(contentType: string | undefined, body: string): boolean {
  if (contentType?.split(';')[0].trim().toLowerCase() !== 'application/x-www-form-urlencoded') return false;
  return !/^[\s]*[[{]/.test(body);
}

/** parseFormRequest: one value -> string, several -> list. */
function parseForm(body: string): Record<string, unknown> {
  const params = new URLSearchParams(body);
  const out: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    out[key] = values.length === 1 ? values[0] : values;
  }
  return out;
}

/** encoding/json's messages for the two ways test bodies usually break. */
function parseBody(text: string): { body?: Record<string, unknown>; error?: string } {
  if (!text.trim()) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) return { error: 'failed to decode JSON input: json: cannot unmarshal into Go value of type map[string]interface {}' };
    return { body: value as Record<string, unknown> };
  } catch {
    const bad = text.trim()[0];
    return { error: /^\s*[{[]/.test(text) ? 'failed to decode JSON input: unexpected EOF' : `failed to decode JSON input: invalid character '${bad}' looking for beginning of value` };
  }
}

/**
 * Node's HTTP parser (llhttp) knows a fixed list of methods and LIST is not on it: Node answers
 * a LIST request 400 before any handler runs. Vault documents LIST (the CLI and node-vault send
 * it), so every connection passes through this rewriter on its way to the parser: a request line
 * "LIST /x HTTP/1.1" becomes "GET /x HTTP/1.1" plus a marker header, and requestMethod() turns it
 * back. It follows request boundaries (Content-Length) so keep-alive connections keep working;
 * after a chunked request it stops looking and passes bytes through.
 */
const VERB_MARKER = 'x-sesame-test-verb';

class ListVerbRewriter extends Duplex {
  /** An incomplete request head, kept until the rest arrives. */
  private held: Buffer = Buffer.alloc(0);
  private bodyLeft = 0;
  private passThrough = false;

  constructor(readonly transport: Socket) {
    super();
    transport.on('data', (chunk: Buffer) => {
      if (!this.push(this.rewrite(chunk))) transport.pause();
    });
    transport.on('end', () => this.push(null));
    transport.on('close', () => this.destroy());
    transport.on('error', (e) => this.destroy(e));
  }

  get remotePort(): number | undefined {
    return this.transport.remotePort;
  }

  override _read(): void {
    this.transport.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.transport.write(chunk, encoding, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.transport.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.transport.destroy();
    callback(error);
  }

  private rewrite(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let data: Buffer = this.held.length ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    while (data.length) {
      if (this.passThrough) {
        out.push(data);
        break;
      }
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, data.length);
        out.push(data.subarray(0, take));
        this.bodyLeft -= take;
        data = data.subarray(take);
        continue;
      }
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) {
        if (data.length > 65536) this.passThrough = true; // not HTTP as we know it: hands off
        else this.held = data;
        if (this.passThrough) out.push(data);
        break;
      }
      let head = data.subarray(0, end + 4).toString('latin1');
      head = head.replace(/^LIST (\S+ HTTP\/1\.[01])\r\n/, `GET $1\r\n${VERB_MARKER}: LIST\r\n`);
      if (/\r\ntransfer-encoding:/i.test(head)) this.passThrough = true;
      this.bodyLeft = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      out.push(Buffer.from(head, 'latin1'));
      data = data.subarray(end + 4);
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }
}

/** The request's method, LIST restored (see ListVerbRewriter). */
function requestMethod(req: IncomingMessage): string {
  return req.headers[VERB_MARKER] === 'LIST' ? 'LIST' : (req.method ?? '');
}

/** The TCP or TLS socket under the rewriter. */
function transportOf(req: IncomingMessage): Socket {
  const socket: unknown = req.socket;
  return socket instanceof ListVerbRewriter ? socket.transport : req.socket;
}

class VaultHttp {
  readonly requests: VaultRequest[] = [];
  readonly audit: AuditEntry[] = [];
  /** The audit device's HMAC key (OpenBao salts per device). */
  private readonly auditKey = randomBytes(32);
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rawSockets = new Map<number, Socket>();

  constructor(
    private readonly vault: FakeVault,
    readonly faults: VaultFault[],
  ) {}

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  trackSocket(raw: Socket): void {
    const port = raw.remotePort;
    if (port === undefined) return;
    this.rawSockets.set(port, raw);
    raw.on('close', () => this.rawSockets.get(port) === raw && this.rawSockets.delete(port));
  }

  /** stop(): every TCP connection, including TLS handshakes that never became requests. */
  destroySockets(): void {
    for (const raw of this.rawSockets.values()) raw.destroy();
    this.rawSockets.clear();
  }

  async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const bodyText = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://vault');
    const method = requestMethod(req);
    const headers = { ...req.headers };
    delete headers[VERB_MARKER];
    const record: VaultRequest = { method, path: url.pathname, query: url.search.replace(/^\?/, ''), headers, body: bodyText, at };
    const namespaceHeader = req.headers['x-vault-namespace'];
    if (typeof namespaceHeader === 'string') record.namespace = namespaceHeader;
    const cn = peerCommonName(req);
    if (cn) record.cn = cn;
    this.requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    try {
      const logical = url.pathname.startsWith('/v1/') ? safeDecode(url.pathname.slice(4)) : undefined;
      const fault = takeFault(this.faults, record.method, logical ?? url.pathname);
      if (fault?.delayMs) {
        await this.sleep(fault.delayMs);
        if (res.destroyed) return; // the client gave up, or stop() closed the connection
      }
      if (fault?.reset) {
        record.status = 'reset';
        const raw = this.rawSockets.get(transportOf(req).remotePort ?? -1);
        if (raw) raw.resetAndDestroy();
        else transportOf(req).destroy();
        return;
      }
      if (fault?.redirect) {
        write(res, req, { status: 307, raw: '', headers: { Location: new URL(url.pathname + url.search, fault.redirect).toString() } });
        return;
      }
      if (fault?.bodyBytes) {
        await this.sendLarge(res, fault.bodyBytes);
        return;
      }
      const reply = fault?.badJson
        ? ({ status: 200, raw: '{"request_id":"' + uuid() + '","lease_id":"","renewable":false,"data":{"da' } satisfies Reply)
        : fault?.notJson
          ? ({ status: 200, raw: '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Sign in to continue</body></html>\n', headers: { 'Content-Type': 'text/html; charset=utf-8' } } satisfies Reply)
          : fault?.status
            ? ({ status: fault.status, json: fault.body ?? { errors: fault.errors ?? faultErrors(fault.status, logical ?? '') }, headers: fault.headers } satisfies Reply)
            : this.handle(req, method, url, logical, bodyText);
      if (fault?.closeMidBody || fault?.bytesPerSecond) {
        await this.writeSlowly(res, req, reply, fault);
        return;
      }
      write(res, req, reply);
    } catch (e) {
      console.error('vault test server:', e);
      if (!res.headersSent && !res.destroyed) write(res, req, errorReply(500, String(e)));
    }
  }

  /** A 200 with a JSON body of about `bytes` bytes, written as it is made (the client may give up first). */
  private async sendLarge(res: ServerResponse, bytes: number): Promise<void> {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    const chunk = `"${'x'.repeat(64 * 1024 - 3)}",`;
    res.write('{"data":{"junk":[');
    for (let sent = 0; sent < bytes && !res.destroyed; sent += chunk.length) {
      if (!res.write(chunk)) await new Promise((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
    }
    if (!res.destroyed) res.end('""]}}\n');
  }

  /** The answer's headers, then its body half sent and cut (closeMidBody) or trickled (bytesPerSecond). */
  private async writeSlowly(res: ServerResponse, req: IncomingMessage, reply: Reply, fault: VaultFault): Promise<void> {
    const body = Buffer.from('json' in reply ? `${goJson(reply.json)}\n` : 'raw' in reply ? reply.raw : '');
    res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': body.length });
    if (fault.closeMidBody) {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
        const raw = this.rawSockets.get(transportOf(req).remotePort ?? -1);
        (raw ?? transportOf(req)).destroy();
      });
      return;
    }
    const rate = fault.bytesPerSecond as number;
    const step = rate <= 10 ? 1 : Math.round(rate / 10);
    for (let at = 0; at < body.length && !res.destroyed; at += step) {
      res.write(body.subarray(at, at + step));
      await this.sleep(rate <= 10 ? 1000 / rate : 100);
    }
    if (!res.destroyed) res.end();
  }

  /** Everything after the faults: what the real server would answer. */
  private handle(req: IncomingMessage, method: string, url: URL, logical: string | undefined, bodyText: string): Reply {
    const vault = this.vault;
    if (logical === undefined) return errorReply(404);
    if (vault.sealed && logical !== 'sys/health' && logical !== 'sys/seal-status') return errorReply(503, SEALED);
    const op = operationOf(method, url.searchParams);
    if (!op) return errorReply(405);

    const wrapHeader = req.headers['x-vault-wrap-ttl'];
    let wrapTtl: number | undefined;
    if (typeof wrapHeader === 'string' && wrapHeader) {
      wrapTtl = parseDuration(wrapHeader);
      if (wrapTtl === undefined) return errorReply(400, `error parsing X-Vault-Wrap-TTL header: time: invalid duration ${JSON.stringify(wrapHeader)}`);
    }

    const headerNs = req.headers['x-vault-namespace'];
    const base = typeof headerNs === 'string' && headerNs.replace(/\//g, '') ? vault.namespaceAt(headerNs, false) : vault.root;
    if (!base) return errorReply(404, 'namespace not found');
    const { ns, path } = vault.splitNamespace(base, logical);

    const parsed = isForm(req.headers['content-type'], bodyText) ? { body: parseForm(bodyText) } : parseBody(bodyText);
    if (parsed.error) return errorReply(400, parsed.error);
    const ctx: Ctx = { req, op, ns, path, query: url.searchParams, body: parsed.body, rawToken: requestToken(req.headers) };

    const entry = this.auditRequest(ctx, req);
    const reply = this.routed(ctx, wrapTtl);
    this.auditResponse(entry, reply);
    return reply;
  }

  /** Routing, token checks and the handler: the part of a request the audit device sees. */
  private routed(ctx: Ctx, wrapTtl: number | undefined): Reply {
    const vault = this.vault;
    const { ns, path, op } = ctx;
    const found = route(vault, ns, path);
    let token: Token | undefined;
    if (!found || found.access !== 'none') {
      const checked = this.authorise(ctx, found);
      if ('status' in checked) return checked;
      token = checked.token;
    }
    if (!found) {
      // No mount: a token whose policies cover the path learns so; others get the ACL denial
      // (checked against OpenBao; without a valid token authorise() already said 403).
      if (!token || !vault.allows(token, ns, path, op)) return errorReply(403, ACL_DENIED);
      // Inside an existing mount the backend answers; outside any, the router (checked against OpenBao).
      return isMounted(ns, path) ? errorReply(404, multiError('unsupported path')) : errorReply(404, `no handler for route ${JSON.stringify(path)}. route entry not found.`);
    }
    let result = found.run(ctx, token);
    if (isAnswer(result) && wrapTtl && found.wrappable && result.status === 200) {
      result = vault.wrap(result, wrapTtl, path, ctx.ns);
    }
    return isAnswer(result) ? answerReply(result) : result;
  }

  private hmac(value: string): string {
    return `hmac-sha256:${createHmac('sha256', this.auditKey).update(value).digest('hex')}`;
  }

  /** The "request" entry of OpenBao's file audit device (not sys/health or sys/seal-status, which it does not log). */
  private auditRequest(ctx: Ctx, req: IncomingMessage): AuditEntry | undefined {
    if (ctx.path === 'sys/health' || ctx.path === 'sys/seal-status') return undefined;
    const token = this.vault.lookupToken(ctx.rawToken);
    const mount = findMount(ctx.ns, ctx.path) ?? findEngine(ctx.ns, ctx.path);
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      type: 'request',
      request: {
        id: uuid(),
        operation: ctx.op,
        ...(mount ? { mount_point: mount.path, mount_type: mount.type } : {}),
        ...(ctx.rawToken ? { client_token: this.hmac(ctx.rawToken) } : {}),
        namespace: { id: ctx.ns.id },
        path: ctx.path,
        remote_address: transportOf(req).remoteAddress?.replace(/^::ffff:/, '') ?? '',
        remote_port: transportOf(req).remotePort,
      },
    };
    if (token) {
      entry.auth = { client_token: this.hmac(token.id), accessor: this.hmac(token.accessor), display_name: token.displayName, policies: token.policies, token_policies: token.policies, token_type: 'service' };
    }
    this.audit.push(entry);
    return entry;
  }

  private auditResponse(request: AuditEntry | undefined, reply: Reply): void {
    if (!request) return;
    const errors = 'json' in reply ? (reply.json as { errors?: unknown })?.errors : undefined;
    const entry: AuditEntry = {
      ...request,
      time: new Date().toISOString(),
      type: 'response',
      response: { mount_point: request.request.mount_point, mount_type: request.request.mount_type, status: reply.status },
    };
    if (Array.isArray(errors) && errors.length) entry.error = errors.map(String).join('; ');
    this.audit.push(entry);
  }

  /** Token checks for every route but the unauthenticated ones (checked against OpenBao). */
  private authorise(ctx: Ctx, found: Route | undefined): { token: Token } | Reply {
    const vault = this.vault;
    const wrap = vault.liveWrap(ctx.rawToken);
    if (wrap) {
      // A wrapping token used as a token: refused, and that use destroys it.
      vault.wraps.delete(wrap.token);
      return errorReply(403, ACL_DENIED);
    }
    const token = vault.lookupToken(ctx.rawToken);
    if (!token) return errorReply(403, PERMISSION_DENIED);
    vault.spendUse(token);
    if (!found) return { token };
    // auth/token/*-self run in the token's namespace, whatever the request addressed.
    const ns = found.access === 'self' ? token.ns : ctx.ns;
    if (!vault.allows(token, ns, ctx.path, ctx.op)) return errorReply(403, ACL_DENIED);
    return { token };
  }
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function peerCommonName(req: IncomingMessage): string | undefined {
  const socket = transportOf(req) as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = socket.getPeerCertificate(false);
  const cn = cert && 'subject' in cert ? cert.subject?.CN : undefined;
  return Array.isArray(cn) ? cn[0] : cn;
}

function answerReply(answer: Answer): Reply {
  return answer.raw ? { status: answer.status, raw: goJson(answer.envelope) } : { status: answer.status, json: answer.envelope };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Headers of every Vault answer (checked against OpenBao): Cache-Control no-store, JSON content
 * type even on 204, HSTS even over plain HTTP, and X-Vault-Namespace echoed when it was sent.
 */
const GO_CHUNKING_SIZE = 2048;

function write(res: ServerResponse, req: IncomingMessage, reply: Reply): void {
  const headers: Record<string, string | number> = {
    'Cache-Control': 'no-store',
    'Content-Type': 'application/json',
    'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  };
  const ns = req.headers['x-vault-namespace'];
  if (typeof ns === 'string' && ns) headers['X-Vault-Namespace'] = ns;
  if ('headers' in reply && reply.headers) Object.assign(headers, reply.headers);
  if (!('json' in reply) && !('raw' in reply)) {
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const body = 'json' in reply ? `${goJson(reply.json)}\n` : reply.raw;
  // Go's net/http sets Content-Length itself only for a body that fits its 2,048-byte buffer
  // (bufferBeforeChunkingSize in net/http/server.go; Vault's respondOk never sets one):
  // a larger answer, such as a secret with many keys, arrives with chunked transfer coding.
  if (Buffer.byteLength(body) <= GO_CHUNKING_SIZE) headers['Content-Length'] = Buffer.byteLength(body);
  res.writeHead(reply.status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

// =============================================================================================
// startVault.

export async function startVault(options: VaultOptions = {}): Promise<VaultServer> {
  const flavor = options.flavor ?? 'vault';
  const vault = new FakeVault(flavor, options.version ?? FLAVORS[flavor].version);
  const rootToken = options.rootToken ?? 'root';
  // The dev server's root token: root policy, no TTL, not renewable, an orphan, and made by
  // auth/token/create like any other (checked against OpenBao).
  vault.issueToken(vault.root, { id: rootToken, policies: ['root'], path: 'auth/token/create', displayName: 'token', orphan: true });
  if (options.devMounts ?? true) addKvMount(vault.root, 'secret/', 2, 'key/value secret storage');
  const http = new VaultHttp(vault, options.faults ?? []);
  const handler = (req: IncomingMessage, res: ServerResponse) => void http.onRequest(req, res);

  // Connections: TCP (or TLS) socket -> ListVerbRewriter -> Node's HTTP parser -> handler.
  const tls = options.tls;
  const httpServer = createHttpServer(handler);
  const toHttp = (socket: Socket) => httpServer.emit('connection', new ListVerbRewriter(socket));
  const tlsServer = tls
    ? createTlsServer(
        {
          key: tls.key,
          cert: tls.cert,
          ca: tls.ca,
          // Vault's listener: tls.RequestClientCert unless tls_require_and_verify_client_cert.
          requestCert: true,
          rejectUnauthorized: tls.requireClientCert ?? false,
          minVersion: 'TLSv1.2',
          ALPNProtocols: ['http/1.1'],
        },
        toHttp,
      )
    : undefined;
  // With TLS, Go's net/http answers plain HTTP on the TLS port itself (server.go, on a
  // tls.RecordHeaderError that looks like HTTP); anything else that is not TLS is dropped.
  const server = tlsServer
    ? createNetServer((raw) => {
        raw.once('data', (first: Buffer) => {
          raw.pause();
          raw.unshift(first);
          if (first[0] === 0x16) tlsServer.emit('connection', raw);
          else if (/^(GET \/|HEAD |POST |PUT \/|OPTIO)/.test(first.subarray(0, 5).toString('latin1'))) raw.end('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n');
          else raw.destroy();
        });
      })
    : createNetServer((raw) => {
        // A TLS handshake on the plain port: Go's net/http cannot parse it as a request line
        // and answers its bare 400 (server.go), which a TLS client reads as a bad record.
        raw.once('data', (first: Buffer) => {
          raw.pause();
          raw.unshift(first);
          if (first[0] === 0x16) raw.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request');
          else toHttp(raw);
        });
      });
  // Go's TCP connections have Nagle's algorithm off (net.TCPConn.SetNoDelay: "The default is
  // true"); Node's HTTP server sets it only on sockets it accepts itself, not on these, handed
  // to it through the LIST rewriter. Left on, an answer written in two parts (a chunked body)
  // waited for the client's delayed ACK on a kept-alive connection: 40 ms, a real server's never.
  server.on('connection', (raw: Socket) => {
    raw.setNoDelay(true);
    http.trackSocket(raw);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  return new VaultServerApi(vault, http, { server, httpServer }, {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    port: (server.address() as AddressInfo).port,
    rootToken,
  });
}

/** The root namespace's helpers plus the server-wide ones. */
class VaultServerApi extends Scope implements VaultServer {
  readonly url: string;
  readonly port: number;
  readonly rootToken: string;
  readonly flavor: Flavor;
  readonly requests: VaultRequest[];
  readonly faults: VaultFault[];
  readonly audit: AuditEntry[];

  constructor(
    vault: FakeVault,
    private readonly http: VaultHttp,
    private readonly servers: { server: NetServer; httpServer: Server },
    where: { url: string; port: number; rootToken: string },
  ) {
    super(vault, vault.root);
    this.url = where.url;
    this.port = where.port;
    this.rootToken = where.rootToken;
    this.flavor = vault.flavor;
    this.requests = http.requests;
    this.faults = http.faults;
    this.audit = http.audit;
  }

  get sealed(): boolean {
    return this.vault.sealed;
  }

  set sealed(value: boolean) {
    this.vault.sealed = value;
  }

  namespace(path: string): VaultScope {
    return new Scope(this.vault, this.vault.namespaceAt(path, true) as Namespace);
  }

  kubernetesJwt(account: ServiceAccount): string {
    return kubernetesJwt(this.vault, account);
  }

  signJwt(claims: Record<string, unknown>, options?: JwtSignOptions): string {
    return this.vault.signJwt(claims, options);
  }

  get jwtPublicKey(): string {
    return this.vault.key().publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  auditSequence(): string[] {
    return this.audit.filter((e) => e.type === 'request').map((e) => `${e.request.operation} ${e.request.path}`);
  }

  leases(): VaultLease[] {
    return [...this.vault.leases.values()].map((l) => ({
      id: l.id, path: l.path, live: this.vault.liveLease(l.id) !== undefined, revoked: l.revoked, renewals: [...l.renewals], data: { ...l.data },
    }));
  }

  tokenLive(token: string): boolean {
    return this.vault.lookupToken(token) !== undefined;
  }

  requestCount(filter: { method?: string; path?: string | RegExp } = {}): number {
    const method = filter.method?.toUpperCase();
    return this.requests.filter((r) => (!method || r.method === method) && globMatches(filter.path, safeDecode(r.path.replace(/^\/v1\//, '')))).length;
  }

  enablePki(mount: string, options: { ca: PkiCa }): PkiEngine {
    return enablePkiMount(this.vault, this.vault.root, mount, options.ca);
  }

  stop(): Promise<void> {
    removePkiDirs(this.vault);
    return new Promise<void>((resolve) => {
      this.http.clearTimers();
      this.servers.server.close(() => resolve());
      this.servers.httpServer.closeAllConnections();
      this.http.destroySockets();
    });
  }
}

/** A service account token as the cluster would issue it (projected format unless legacy). */
function kubernetesJwt(vault: FakeVault, account: ServiceAccount): string {
  const uid = account.uid ?? uuid();
  const claims: Record<string, unknown> = account.legacy
    ? {
        iss: 'kubernetes/serviceaccount',
        sub: `system:serviceaccount:${account.namespace}:${account.name}`,
        'kubernetes.io/serviceaccount/namespace': account.namespace,
        'kubernetes.io/serviceaccount/secret.name': `${account.name}-token-${base62(5).toLowerCase()}`,
        'kubernetes.io/serviceaccount/service-account.name': account.name,
        'kubernetes.io/serviceaccount/service-account.uid': uid,
      }
    : {
        iss: 'https://kubernetes.default.svc.cluster.local',
        sub: `system:serviceaccount:${account.namespace}:${account.name}`,
        aud: ['https://kubernetes.default.svc.cluster.local'],
        'kubernetes.io': { namespace: account.namespace, serviceaccount: { name: account.name, uid } },
      };
  const jwt = vault.signJwt(claims, { expired: account.expired, badSignature: account.badSignature });
  if (account.revoked) vault.revokedServiceAccounts.add(jwt);
  return jwt;
}

// =============================================================================================
// PKI secrets engine: pki/issue/<role> (api-docs/secret/pki/index.mdx "Generate certificate and
// key"). Real X.509 made with the openssl CLI, signed by a CA the test made (certs.ts). Kept in
// its own section: the mounts live in a WeakMap beside the namespace, the router asks
// pkiRoute() first.
//
//   const engine = vault.enablePki('pki', { ca: makePki().ca });
//   engine.addRole('web', { allowedDomains: ['example.com'], allowSubdomains: true, maxTtl: '10s', keyType: 'ec' });
//   engine.issued      // every certificate it issued: { role, serial, commonName, notBefore, notAfter }

export interface PkiCa {
  cert: string;
  certPath: string;
  keyPath: string;
}

export interface PkiRoleOptions {
  /** allowed_domains; with none, and allowAnyName unset, any name is allowed (as allow_any_name). */
  allowedDomains?: string[];
  allowSubdomains?: boolean;
  allowBareDomains?: boolean;
  allowAnyName?: boolean;
  /** Role ttl; default: the mount's (768h). */
  ttl?: Duration;
  /** Role max_ttl; a longer requested ttl is capped with a warning. */
  maxTtl?: Duration;
  /** not_before_duration: how far NotBefore is backdated. Vault's default 30s. */
  notBeforeDuration?: Duration;
  /** key_type and key_bits: Vault's default rsa 2048. */
  keyType?: 'rsa' | 'ec';
  keyBits?: number;
}

export interface IssuedRecord {
  role: string;
  serial: string;
  commonName: string;
  notBefore: number;
  notAfter: number;
}

export interface PkiEngine {
  mount: string;
  addRole(name: string, options?: PkiRoleOptions): void;
  /** Every certificate issued, in order. */
  readonly issued: IssuedRecord[];
}

export interface VaultServer {
  /** `vault secrets enable -path=<mount> pki` with `ca` as its issuer (root namespace). */
  enablePki(mount: string, options: { ca: PkiCa }): PkiEngine;
}

interface PkiRole {
  allowedDomains: string[];
  allowSubdomains: boolean;
  allowBareDomains: boolean;
  allowAnyName: boolean;
  ttl: number;
  maxTtl: number;
  notBeforeDuration: number;
  keyType: 'rsa' | 'ec';
  keyBits: number;
}

interface PkiMount {
  path: string;
  ca: PkiCa;
  caCert: X509Certificate;
  dir: string;
  roles: Map<string, PkiRole>;
  issued: IssuedRecord[];
}

const pkiMounts = new WeakMap<Namespace, Map<string, PkiMount>>();

function pkiRoute(vault: FakeVault, ns: Namespace, path: string): Route | undefined {
  for (const mount of pkiMounts.get(ns)?.values() ?? []) {
    if (!path.startsWith(mount.path)) continue;
    const rest = path.slice(mount.path.length);
    const issue = /^issue\/([^/]+)$/.exec(rest);
    if (issue) return { access: 'acl', wrappable: true, run: (ctx) => (ctx.op === 'update' ? pkiIssue(vault, ctx, mount, issue[1]) : errorReply(405, 'unsupported operation')) };
    if (rest === 'ca/pem' || rest === 'ca_chain') return { access: 'none', run: () => ({ status: 200, raw: mount.ca.cert.trim() }) };
    return { access: 'acl', run: () => errorReply(404, multiError('unsupported path')) };
  }
  return undefined;
}

/** A comma-separated string or a list, as the PKI fields accept (framework.TypeCommaStringSlice). */
function commaList(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  const items = Array.isArray(value) ? value.map(String) : String(value).split(',');
  return items.map((s) => s.trim()).filter(Boolean);
}

function nameAllowed(role: PkiRole, name: string): boolean {
  if (role.allowAnyName || role.allowedDomains.length === 0) return true;
  return role.allowedDomains.some((d) => (role.allowBareDomains && name === d) || (role.allowSubdomains && name.endsWith(`.${d}`) && name.length > d.length + 1));
}

/** Go's time.Duration.String() for whole seconds: 9s, 1m30s, 2h0m0s. */
function goDurationString(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
}

/** Vault's serial format: lowercase hex bytes joined by ':'. */
function colonHex(hex: string): string {
  return hex.toLowerCase().padStart(hex.length + (hex.length % 2), '0').match(/../g)?.join(':') ?? '';
}

/** openssl ca's time format. */
function opensslTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

function pkiIssue(vault: FakeVault, ctx: Ctx, mount: PkiMount, roleName: string): HandlerResult {
  const role = mount.roles.get(roleName);
  // builtin/logical/pki path_issue_sign.go.
  if (!role) return errorReply(400, `unknown role: ${roleName}`);
  const body = ctx.body ?? {};
  const cn = typeof body.common_name === 'string' ? body.common_name : '';
  if (!cn) return errorReply(400, 'the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, unless "require_cn" is set to false');
  const altNames = commaList(body.alt_names);
  const ipSans = commaList(body.ip_sans);
  for (const name of [cn, ...altNames]) {
    if (!nameAllowed(role, name)) return errorReply(400, `common name ${name} not allowed by this role`);
  }
  const warnings: string[] = [];
  let ttl = body.ttl === undefined || body.ttl === '' ? role.ttl : parseDuration(body.ttl);
  // Observed against OpenBao 2.5.5 (framework field validation).
  if (ttl === undefined) return errorReply(400, `Field validation failed: error converting input for field "ttl": time: invalid duration ${JSON.stringify(body.ttl)}`);
  if (ttl === 0) ttl = role.ttl;
  if (role.maxTtl && ttl > role.maxTtl) {
    // Go's time.Duration.String() (observed against OpenBao 2.5.5: "2h0m0s", "1h0m0s").
    warnings.push(`TTL "${goDurationString(ttl)}" is longer than permitted maxTTL "${goDurationString(role.maxTtl)}", so maxTTL is being used`);
    ttl = role.maxTtl;
  }
  const now = Date.now();
  const notBefore = Math.floor((now - role.notBeforeDuration * 1000) / 1000) * 1000;
  const notAfter = Math.floor((now + ttl * 1000) / 1000) * 1000;
  const caEnd = Date.parse(mount.caCert.validTo);
  if (notAfter > caEnd) return errorReply(400, `cannot satisfy request, as TTL would result in notAfter of ${new Date(notAfter).toISOString()} that is beyond the expiration of the CA certificate at ${new Date(caEnd).toISOString()}`);

  const { cert, key } = signWithOpenssl(mount, cn, [...new Set([cn, ...altNames])], ipSans, notBefore, notAfter, role);
  const x509 = new X509Certificate(cert);
  const serial = colonHex(x509.serialNumber);
  mount.issued.push({ role: roleName, serial, commonName: cn, notBefore: Date.parse(x509.validFrom), notAfter: Date.parse(x509.validTo) });
  // The documented fields; OpenBao 2.5.5 adds not_before (observed), HashiCorp's docs do not list it.
  const data: Record<string, unknown> = {
    ca_chain: [mount.ca.cert.trim()],
    certificate: cert.trim(),
    expiration: Math.floor(Date.parse(x509.validTo) / 1000),
    issuing_ca: mount.ca.cert.trim(),
    ...(vault.flavor === 'openbao' ? { not_before: Math.floor(Date.parse(x509.validFrom) / 1000) } : {}),
    private_key: key.trim(),
    private_key_type: role.keyType,
    serial_number: serial,
  };
  return vault.ok(data, 'pki', { warnings: warnings.length ? warnings : null });
}

/** A key, a CSR and `openssl ca` with explicit start and end dates (OpenSSL 3.0 has no -not_after for x509). */
function signWithOpenssl(mount: PkiMount, cn: string, dnsSans: string[], ipSans: string[], notBefore: number, notAfter: number, role: PkiRole): { cert: string; key: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: mount.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const id = randomBytes(6).toString('hex');
  const keyPath = join(mount.dir, `${id}.key`);
  const csrPath = join(mount.dir, `${id}.csr`);
  const certPath = join(mount.dir, `${id}.crt`);
  const extPath = join(mount.dir, `${id}.ext`);
  const sans = [...dnsSans.map((n) => `DNS:${n}`), ...ipSans.map((ip) => `IP:${ip}`)].join(',');
  writeFileSync(extPath, ['[ext]', 'basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment, keyAgreement',
    'extendedKeyUsage = serverAuth, clientAuth', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid', `subjectAltName = ${sans}`, ''].join('\n'));
  const newKey = role.keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${role.keyBits === 384 ? 'P-384' : 'P-256'}`] : ['-newkey', `rsa:${role.keyBits}`];
  try {
    run(['req', '-new', ...newKey, '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${cn}`, '-config', join(mount.dir, 'req.cnf')]);
    run(['ca', '-batch', '-notext', '-config', join(mount.dir, 'ca.cnf'), '-cert', mount.ca.certPath, '-keyfile', mount.ca.keyPath, '-in', csrPath, '-out', certPath,
      '-startdate', opensslTime(notBefore), '-enddate', opensslTime(notAfter), '-extfile', extPath, '-extensions', 'ext']);
    // Vault returns PKCS#1 for RSA and SEC1 for EC keys (private_key_format "der"/"pem").
    const key = createPrivateKey(readFileSync(keyPath)).export({ type: role.keyType === 'ec' ? 'sec1' : 'pkcs1', format: 'pem' }).toString();
    return { cert: readFileSync(certPath, 'utf8'), key };
  } finally {
    for (const p of [keyPath, csrPath, certPath, extPath]) rmSync(p, { force: true });
  }
}

function enablePkiMount(vault: FakeVault, ns: Namespace, mountPath: string, ca: PkiCa): PkiEngine {
  const path = normalizeMount(mountPath);
  let mounts = pkiMounts.get(ns);
  if (!mounts) pkiMounts.set(ns, (mounts = new Map()));
  if (mounts.has(path) || ns.mounts.has(path)) throw new Error(`vault-server: ${ns.path}${path} is already mounted`);
  const dir = mkdtempSync(join(tmpdir(), 'sesame-vault-pki-'));
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'req.cnf'), ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', ''].join('\n'));
  writeFileSync(join(dir, 'ca.cnf'), ['[ca]', 'default_ca = engine', '[engine]', `database = ${join(dir, 'index.txt')}`, `new_certs_dir = ${dir}`,
    'default_md = sha256', 'rand_serial = yes', 'unique_subject = no', 'policy = any_subject', 'copy_extensions = none', '[any_subject]', 'commonName = supplied', ''].join('\n'));
  const mount: PkiMount = { path, ca, caCert: new X509Certificate(ca.cert), dir, roles: new Map(), issued: [] };
  mounts.set(path, mount);
  if (!pkiDirs.has(vault)) pkiDirs.set(vault, new Set());
  pkiDirs.get(vault)?.add(dir);
  return {
    mount: path.slice(0, -1),
    issued: mount.issued,
    addRole(name, options = {}) {
      mount.roles.set(name, {
        allowedDomains: options.allowedDomains ?? [],
        allowSubdomains: options.allowSubdomains ?? false,
        allowBareDomains: options.allowBareDomains ?? false,
        allowAnyName: options.allowAnyName ?? false,
        ttl: durationOption(options.ttl, SYSTEM_MAX_TTL, 'ttl'),
        maxTtl: durationOption(options.maxTtl, 0, 'maxTtl'),
        notBeforeDuration: durationOption(options.notBeforeDuration, 30, 'notBeforeDuration'),
        keyType: options.keyType ?? 'rsa',
        keyBits: options.keyBits ?? (options.keyType === 'ec' ? 256 : 2048),
      });
    },
  };
}

/** openssl's working directories of each server, removed by its stop(). */
const pkiDirs = new WeakMap<FakeVault, Set<string>>();

function removePkiDirs(vault: FakeVault): void {
  for (const dir of pkiDirs.get(vault) ?? []) rmSync(dir, { recursive: true, force: true });
  pkiDirs.delete(vault);
}
