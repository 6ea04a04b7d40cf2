// The Vault adapter: node-vault builds the requests and reads Vault's answers (errors[],
// status), transport.ts carries them, and this class fixes what node-vault gets wrong or
// lacks: it sends X-Vault-Request, the token and namespace as
// fresh headers on every call (a shared headers object freezes the first token), never
// lets node-vault read VAULT_* from the environment (it treats VAULT_SKIP_VERIFY=false as
// "skip"), takes TLS from the CLI's variables into our own connections, encodes paths
// itself (node-vault drops anything after '#'), and retries with backoff. No Vault text reaches a
// log line without the secrets init holds (token, secret_id, password, JWT) taken out.
import { loadChunk } from '../../chunks';
import { MAX_TIMER_MS } from '../../lifetime/clock';
import type { Log } from '../../log';
import { denied, invalid, SecretError, unavailable } from '../errors';
import { CONNECTION_ERRORS, DeadlineExceeded, withRetries } from '../retry';
import type { VaultSettings } from './settings';
import { RETRY_AFTER, TransportError, VaultTransport } from './transport';

interface NodeVaultClient {
  token?: string;
  namespace?: string;
  pathPrefix: string;
  request(options: Record<string, unknown>): Promise<unknown>;
}

/** A non-2xx answer from Vault, with its `errors` (secrets taken out) and whatever body came with them. */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    readonly body: unknown,
    /** A 429's or 503's Retry-After, in ms, when the server sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(errors.length ? errors.join('; ').replace(/\s+/g, ' ').trim() : `HTTP ${status}`);
  }

  /**
   * Vault's two 403 texts (VAULT-SERVER.md): the bare "permission denied" when the token is
   * unknown, expired or revoked; the multierror form ("1 error occurred: * permission
   * denied") when a valid token's policies say no.
   */
  get badToken(): boolean {
    return this.status === 403 && this.errors.length === 1 && this.errors[0].trim() === 'permission denied';
  }
}

/** Encode each segment of a Vault path; '/' stays a separator. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Connection failures, an unknown host (DNS may come up late), a body cut short. */
const RETRY_CODES = new Set([...CONNECTION_ERRORS, 'ENOTFOUND', 'BAD_JSON']);

/** The Go client's policy: 412, 429 and 5xx except 501; connection failures. */
export function retryable(error: unknown): boolean {
  if (error instanceof VaultHttpError) return error.status === 412 || error.status === 429 || (error.status >= 500 && error.status !== 501);
  return RETRY_CODES.has((error as NodeJS.ErrnoException)?.code ?? '');
}

/** Token shapes of Vault (hvs., hvb., hvr.) and OpenBao (s., b., r.), whoever's they are. */
const TOKEN_SHAPE = /\b(?:hv[sbr]|[sbr])\.[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9]+)?/g;

/**
 * What of node-vault's optional dependencies a client made here uses: none. Its request()
 * validates two fields with tv4, node-vault's generated commands (built from ~1,400 lines
 * of definitions with mustache and tv4) are never called (every call here goes through
 * request(), with paths built and encoded here), and it logs through debug. Passing these
 * is what lets the bundle leave tv4, mustache, debug and the commands out (build.mjs).
 */
const NODE_VAULT_PARTS = {
  commands: {},
  debug: () => {},
  mustache: {},
  tv4: {
    error: new Error('a request needs a path and a method'),
    validate: (options: { path?: unknown; method?: unknown }) => typeof options.path === 'string' && typeof options.method === 'string',
  },
};

export class VaultClient {
  private token?: string;
  private readonly vault: NodeVaultClient;
  private readonly transport: VaultTransport;
  /** Values that must never be printed: the token, and what a login sent. */
  private readonly secrets = new Set<string>();
  /** The one "waiting for Vault" line has been said, and when. */
  private waitingSince?: number;
  private answeredSaid = false;

  constructor(
    private readonly settings: VaultSettings,
    /** Date.now() after which no request is started or retried. */
    private readonly deadline: number,
    private readonly log: Log,
  ) {
    // Loaded here, on the one path that needs it (a chunk of its own: src/chunks.ts).
    const nodeVault = loadChunk<(config: Record<string, unknown>) => NodeVaultClient>('node-vault');
    this.transport = new VaultTransport(settings.address, settings.tls);
    this.vault = nodeVault({ endpoint: settings.address, 'request-promise': this.transport.forNodeVault(), ...NODE_VAULT_PARTS });
    // node-vault falls back to VAULT_TOKEN/VAULT_NAMESPACE/VAULT_PREFIX from the environment
    // for anything not given: the headers below are the only source of these.
    this.vault.token = undefined;
    this.vault.namespace = undefined;
    this.vault.pathPrefix = '';
  }

  /** The token calls are made with (a lifetime tells the leases of one token from another's). */
  get currentToken(): string | undefined {
    return this.token;
  }

  setToken(token: string): void {
    this.token = token;
    this.sensitive(token);
  }

  /** Closes the kept-alive connections; a later call opens new ones. */
  close(): void {
    this.transport.close();
  }

  /** A value that must not appear in any message (a secret_id, a password, a wrapping token). */
  sensitive(value: string | undefined): void {
    if (value && value.length >= 4) this.secrets.add(value);
  }

  /** `text` without any value init must keep secret, nor anything shaped like a token. */
  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('<redacted>');
    return out.replace(TOKEN_SHAPE, '<redacted>');
  }

  /**
   * One API call, retried as the Go client would, inside the deadline. `path` is relative
   * to /v1/ and already encoded. `withToken: false` for unauthenticated calls (logins,
   * wrapping lookup). Returns the parsed body (undefined for 204).
   */
  async call(method: 'GET' | 'POST', path: string, options: { body?: object; withToken?: boolean; headers?: Record<string, string>; deadline?: number } = {}): Promise<unknown> {
    // After start each call has its own (short) deadline; the start-up lines about waiting
    // for Vault are for --secrets-timeout only.
    const deadline = options.deadline ?? this.deadline;
    const atStart = options.deadline === undefined;
    const headers: Record<string, string> = { 'X-Vault-Request': 'true', ...options.headers };
    if (options.withToken !== false && this.token && !headers['X-Vault-Token']) headers['X-Vault-Token'] = this.token;
    if (this.settings.namespace) headers['X-Vault-Namespace'] = this.settings.namespace;
    const attempt = async () => {
      // A socket timeout past 2^31 ms would become 1 ms (a --secrets-timeout of a month). With
      // the deadline already past, 0: the request is refused unsent (ETIMEDOUT), never sent
      // with a 1 ms time limit that no server could meet.
      const timeout = Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now()));
      try {
        return await this.vault.request({ path: `/${path}`, method, json: options.body, headers: { ...headers }, timeout });
      } catch (error) {
        const response = (error as { response?: { statusCode: number; body: unknown } }).response;
        if (response && typeof response.statusCode === 'number') {
          const body = response.body as { errors?: unknown } | undefined;
          const errors = Array.isArray(body?.errors) ? body.errors.map((e) => this.redact(String(e))) : [];
          const after = (body as { [RETRY_AFTER]?: string } | undefined)?.[RETRY_AFTER];
          throw new VaultHttpError(response.statusCode, errors, body, retryAfter(after));
        }
        throw error;
      }
    };
    try {
      const answer = await withRetries(attempt, (error) => {
        const again = retryable(error);
        if (again) this.log.debug(`vault: ${method} /v1/${path}: ${this.describe(error)}; retrying`);
        return again;
      }, {
        deadline,
        minWaitMs: (error) => (error instanceof VaultHttpError ? error.retryAfterMs : undefined),
        onRetry: (error) => { if (atStart) this.waiting(error); },
      });
      if (atStart && this.waitingSince !== undefined && !this.answeredSaid) {
        this.answeredSaid = true;
        this.log.warn(`Vault at ${this.settings.address} answered after ${((Date.now() - this.waitingSince) / 1000).toFixed(1)} s`);
      }
      return answer;
    } catch (error) {
      throw this.classify(error, `${method} /v1/${path}`, options.withToken !== false);
    }
  }

  /** Once per start, at the default log level: what init is waiting for, and how long at most. */
  private waiting(error: unknown): void {
    if (this.waitingSince !== undefined) return;
    this.waitingSince = Date.now();
    const left = Math.max(0, Math.round((this.deadline - Date.now()) / 1000));
    this.log.warn(`waiting for Vault at ${this.settings.address} (${this.describe(error)}); retrying for up to ${left} s (--secrets-timeout)`);
  }

  describe(error: unknown): string {
    if (error instanceof VaultHttpError) return `${error.status} ${error.message}`;
    if (error instanceof TransportError) return `${error.code} (${error.message})`;
    const e = error as NodeJS.ErrnoException & { reason?: string; cause?: { reason?: string } };
    // OpenSSL's messages span lines and name its source files; its reason is the useful part.
    // Node's own advice in them (run with --use-system-ca) is for a flag init does not take.
    const reason = e?.reason ?? e?.cause?.reason;
    const text = (e?.code?.startsWith('ERR_SSL_') && reason ? reason : String(e?.message ?? error))
      .replace(/;[^;]*--use-system-ca[^;)]*/gi, '')
      .replace(/\s*[^;]*--use-system-ca.*$/i, '')
      .replace(/\s+/g, ' ').trim();
    const hint = TLS_HINTS[e?.code ?? ''];
    const detail = [text && !text.includes(e?.code ?? '\0') ? text : '', hint].filter(Boolean).join(': ');
    return e?.code ? `${e.code}${detail ? ` (${detail})` : ''}` : text;
  }

  /** Turn a final failure into a SecretError of the right kind; the caller adds the reference. */
  classify(error: unknown, request: string, withToken = true): SecretError | VaultHttpError {
    const addr = `${this.settings.addressVariable}=${this.settings.address}`;
    const family = this.settings.family;
    if (error instanceof DeadlineExceeded) {
      const last = error.last;
      if (last instanceof VaultHttpError) {
        return unavailable(`Vault answered ${last.status} to ${request} until the time limit (${error.attempts} attempts): ${last.message}`);
      }
      return unavailable(`Vault did not answer in time (${error.attempts} attempts; last: ${this.describe(last)})`);
    }
    if (error instanceof VaultHttpError) {
      if (error.status === 404) return error; // the caller knows what was missing
      if (error.badToken && withToken) return Object.assign(denied(`Vault refused the token (${this.tokenSource()}): it is unknown, expired or revoked (${request}: ${error.message})`), { badToken: true });
      if (error.status === 403 || error.status === 401) return denied(`permission denied by Vault (${request}: ${error.message})`);
      if (error.status === 400) return error; // logins and unwrap: the caller words it
      if (error.status === 503) return unavailable(`Vault is unavailable (${error.message})`);
      return unavailable(`Vault answered ${error.status} to ${request}: ${error.message}`);
    }
    if (error instanceof TransportError) {
      switch (error.code) {
        case 'SPEAKS_TLS':
          return invalid(`${addr}, but the server there speaks HTTPS (${error.message}): use ${this.settings.address.replace(/^http:/, 'https:')}`);
        case 'NOT_HTTP':
          return invalid(`${addr}: the server there does not speak HTTP (${error.message}): is it the address of Vault?`);
        case 'NOT_JSON':
          // A page (HTML, plain text) is some other server; another type (pki/ca/pem's PEM)
          // is one of Vault's raw endpoints.
          return invalid(/\((text\/[\w.+-]+)?\)$|is not JSON$/.test(error.message)
            ? `${request}: ${error.message}: is ${addr} the address of Vault?`
            : `${request}: ${error.message}: if ${addr} is Vault, this path answers raw data, which init does not read`);
        case 'REDIRECT':
          return unavailable(`Vault ${error.message} for ${request}: init follows no redirects (they would carry the token elsewhere); set ${this.settings.addressVariable} to the server that answers`);
        case 'TOO_LARGE':
          return unavailable(`Vault's answer to ${request} was refused: ${error.message}`);
        default:
          return unavailable(`cannot reach Vault: ${this.describe(error)}`);
      }
    }
    const code = (error as NodeJS.ErrnoException)?.code ?? '';
    const text = this.describe(error);
    if (UNTRUSTED.has(code)) {
      const source = this.settings.tls.caSource;
      const hint = /^(VAULT|BAO)_CA/.test(source)
        ? `Vault's certificate is not signed by the CA in ${source}`
        : `Vault's certificate is not signed by a CA init trusts (${source}): set ${family}_CACERT to the CA that signed it`;
      return invalid(`${hint} (${text})`);
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return invalid(`Vault's certificate does not name the host of ${addr} (${text}): use a name it has in the address, or set ${family}_TLS_SERVER_NAME`);
    }
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return invalid(`Vault's certificate is not valid now (${text})`);
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || (code === 'EPROTO' && /wrong version number/i.test(String((error as Error).message)))) {
      return invalid(`${addr}, but the server there speaks plain HTTP, not TLS: use ${this.settings.address.replace(/^https:/, 'http:')}`);
    }
    return unavailable(`cannot reach Vault: ${text}`);
  }

  private tokenSource(): string {
    const auth = this.settings.auth;
    return auth.method === 'token' ? `from ${auth.source}` : `from the ${auth.method} login`;
  }
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in ms from now. */
export function retryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Node's codes for a certificate chain that does not end at a trusted CA. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
]);

/** What to do about a TLS alert from Vault's listener (tls_require_and_verify_client_cert). */
const REFUSED = 'Vault refused the client certificate in VAULT_CLIENT_CERT (another CA, or expired?)';
const TLS_HINTS: Record<string, string> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'Vault requires a client certificate: set VAULT_CLIENT_CERT and VAULT_CLIENT_KEY',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: REFUSED,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: REFUSED,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: REFUSED,
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: REFUSED,
};
