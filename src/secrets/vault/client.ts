// The Vault adapter: node-vault does the HTTP, this class fixes what node-vault gets wrong
// or lacks: it sends X-Vault-Request, the token and namespace as
// fresh headers on every call (a shared headers object freezes the first token), never
// lets node-vault read VAULT_* from the environment (it treats VAULT_SKIP_VERIFY=false as
// "skip"), takes TLS from the CLI's variables through our own transport (transport.ts: a
// few kept-alive connections per server, our HTTP/1.1 client instead of axios), encodes paths
// itself (node-vault drops anything after '#'), and retries with backoff.
import { loadChunk } from '../../chunks';
import type { Log } from '../../log';
import { denied, SecretError, unavailable } from '../errors';
import { CONNECTION_ERRORS, DeadlineExceeded, withRetries } from '../retry';
import type { VaultSettings } from './settings';
import { VaultTransport } from './transport';

interface NodeVaultClient {
  token?: string;
  namespace?: string;
  pathPrefix: string;
  request(options: Record<string, unknown>): Promise<unknown>;
}

/** A non-2xx answer from Vault, with its `errors` and whatever body came with them. */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    readonly body: unknown,
  ) {
    super(errors.length ? errors.join('; ').replace(/\s+/g, ' ').trim() : `HTTP ${status}`);
  }
}

/** Encode each segment of a Vault path; '/' stays a separator. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Connection failures (a timeout is ETIMEDOUT), an unknown host (DNS may come up late), and an answer that is not JSON. */
const RETRY_CODES = new Set([...CONNECTION_ERRORS, 'ENOTFOUND', 'ERR_BAD_RESPONSE']);

/** The Go client's policy: 412, 429 and 5xx except 501; connection failures. */
export function retryable(error: unknown): boolean {
  if (error instanceof VaultHttpError) return error.status === 412 || error.status === 429 || (error.status >= 500 && error.status !== 501);
  return RETRY_CODES.has((error as NodeJS.ErrnoException)?.code ?? '');
}

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

  setToken(token: string): void {
    this.token = token;
  }

  /** Closes the kept-alive connections; a later call opens new ones. */
  close(): void {
    this.transport.close();
  }

  /**
   * One API call, retried as the Go client would, inside the deadline. `path` is relative
   * to /v1/ and already encoded. `withToken: false` for unauthenticated calls (logins,
   * wrapping lookup). Returns the parsed body (undefined for 204).
   */
  async call(method: 'GET' | 'POST', path: string, options: { body?: object; withToken?: boolean; headers?: Record<string, string> } = {}): Promise<unknown> {
    const headers: Record<string, string> = { 'X-Vault-Request': 'true', ...options.headers };
    if (options.withToken !== false && this.token && !headers['X-Vault-Token']) headers['X-Vault-Token'] = this.token;
    if (this.settings.namespace) headers['X-Vault-Namespace'] = this.settings.namespace;
    const attempt = async () => {
      const timeout = Math.max(1, this.deadline - Date.now());
      let body: unknown;
      try {
        body = await this.vault.request({ path: `/${path}`, method, json: options.body, headers: { ...headers }, timeout });
      } catch (error) {
        const response = (error as { response?: { statusCode: number; body: unknown } }).response;
        if (response && typeof response.statusCode === 'number') {
          const body = response.body as { errors?: unknown } | undefined;
          const errors = Array.isArray(body?.errors) ? body.errors.map(String) : [];
          throw new VaultHttpError(response.statusCode, errors, body);
        }
        throw error;
      }
      // A body that is not JSON (truncated, or a proxy's page) comes back as text (transport.ts),
      // which would read as a secret without data. Retry it instead.
      if (typeof body === 'string' && body.trim() !== '') throw Object.assign(new Error('the answer is not JSON'), { code: 'ERR_BAD_RESPONSE' });
      return body;
    };
    try {
      return await withRetries(attempt, (error) => {
        const again = retryable(error);
        if (again) this.log.debug(`vault: ${method} /v1/${path}: ${describe(error)}; retrying`);
        return again;
      }, { deadline: this.deadline });
    } catch (error) {
      throw classify(error, `${method} /v1/${path}`);
    }
  }
}

/** What to do about a TLS alert from Vault's listener (tls_require_and_verify_client_cert). */
const REFUSED = 'Vault refused the client certificate in VAULT_CLIENT_CERT (another CA, or expired?)';
const TLS_HINTS: Record<string, string> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'Vault requires a client certificate: set VAULT_CLIENT_CERT and VAULT_CLIENT_KEY',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: REFUSED,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: REFUSED,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: REFUSED,
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: REFUSED,
};

function describe(error: unknown): string {
  if (error instanceof VaultHttpError) return `${error.status} ${error.message}`;
  const e = error as NodeJS.ErrnoException & { reason?: string };
  // OpenSSL's messages span lines and name its source files; its reason is the useful part.
  const reason = e?.reason;
  const text = (e?.code?.startsWith('ERR_SSL_') && reason ? reason : String(e?.message ?? error)).replace(/\s+/g, ' ').trim();
  const hint = TLS_HINTS[e?.code ?? ''];
  const detail = [text && !text.includes(e?.code ?? '\0') ? text : '', hint].filter(Boolean).join(': ');
  return e?.code ? `${e.code}${detail ? ` (${detail})` : ''}` : text;
}

/** Turn a final failure into a SecretError of the right kind; the caller adds the reference. */
export function classify(error: unknown, request: string): SecretError | VaultHttpError {
  if (error instanceof DeadlineExceeded) {
    return unavailable(`Vault did not answer in time (${error.attempts} attempts; last: ${describe(error.last)})`);
  }
  if (error instanceof VaultHttpError) {
    if (error.status === 404) return error; // the caller knows what was missing
    if (error.status === 403 || error.status === 401) return denied(`permission denied by Vault (${request}: ${error.message})`);
    if (error.status === 400) return error; // logins and unwrap: the caller words it
    if (error.status === 503) return unavailable(`Vault is unavailable (${error.message})`);
    return unavailable(`Vault answered ${error.status} to ${request}: ${error.message}`);
  }
  return unavailable(`cannot reach Vault: ${describe(error)}`);
}

