// The Vault adapter: node-vault does the HTTP, this class fixes what node-vault gets wrong
// or lacks: it sends X-Vault-Request, the token and namespace as
// fresh headers on every call (a shared headers object freezes the first token), never
// lets node-vault read VAULT_* from the environment (it treats VAULT_SKIP_VERIFY=false as
// "skip"), takes TLS from the CLI's variables through our own https.Agent, encodes paths
// itself (node-vault drops anything after '#'), and retries with backoff.
import type { Agent } from 'node:https';
import { loadChunk } from '../../chunks';
import type { Log } from '../../log';
import { denied, SecretError, unavailable } from '../errors';
import { CONNECTION_ERRORS, DeadlineExceeded, withRetries } from '../retry';
import type { VaultSettings } from './settings';

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
    /** A 429's or 503's Retry-After, in ms, when the server sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(errors.length ? errors.join('; ').replace(/\s+/g, ' ').trim() : `HTTP ${status}`);
  }
}

/** Encode each segment of a Vault path; '/' stays a separator. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** Connection failures, an unknown host (DNS may come up late), and axios's names for a timeout, a bad body and a lost connection. */
const RETRY_CODES = new Set([...CONNECTION_ERRORS, 'ENOTFOUND', 'ECONNABORTED', 'ERR_BAD_RESPONSE', 'ERR_NETWORK']);

/** The Go client's policy: 412, 429 and 5xx except 501; connection failures. */
export function retryable(error: unknown): boolean {
  if (error instanceof VaultHttpError) return error.status === 412 || error.status === 429 || (error.status >= 500 && error.status !== 501);
  return RETRY_CODES.has((error as NodeJS.ErrnoException)?.code ?? '');
}

export class VaultClient {
  private token?: string;
  private readonly vault: NodeVaultClient;
  private readonly agent?: Agent;

  constructor(
    private readonly settings: VaultSettings,
    /** Date.now() after which no request is started or retried (a call may give its own). */
    private readonly deadline: number,
    private readonly log: Log,
  ) {
    // Loaded here, on the one path that needs it: evaluating node-vault and axios costs
    // ~90 ms of start-up.
    const nodeVault = loadChunk<(config: Record<string, unknown>) => NodeVaultClient>('node-vault');
    this.vault = nodeVault({ endpoint: settings.address, rpDefaults: { strictSSL: settings.tls.rejectUnauthorized } });
    // node-vault falls back to VAULT_TOKEN/VAULT_NAMESPACE/VAULT_PREFIX from the environment
    // for anything not given: the headers below are the only source of these.
    this.vault.token = undefined;
    this.vault.namespace = undefined;
    this.vault.pathPrefix = '';
    if (settings.address.startsWith('https:')) {
      const { ca, cert, key, servername, rejectUnauthorized } = settings.tls;
      const { Agent } = require('node:https') as typeof import('node:https');
      this.agent = new Agent({ ca, cert, key, servername, rejectUnauthorized, minVersion: 'TLSv1.2', keepAlive: true });
    }
  }

  setToken(token: string): void {
    this.token = token;
  }

  /**
   * One API call, retried as the Go client would, inside the deadline. `path` is relative
   * to /v1/ and already encoded. `withToken: false` for unauthenticated calls (logins,
   * wrapping lookup). Returns the parsed body (undefined for 204).
   */
  get currentToken(): string | undefined {
    return this.token;
  }

  async call(method: 'GET' | 'POST', path: string, options: { body?: object; withToken?: boolean; headers?: Record<string, string>; deadline?: number } = {}): Promise<unknown> {
    const deadline = options.deadline ?? this.deadline;
    const headers: Record<string, string> = { 'X-Vault-Request': 'true', ...options.headers };
    if (options.withToken !== false && this.token && !headers['X-Vault-Token']) headers['X-Vault-Token'] = this.token;
    if (this.settings.namespace) headers['X-Vault-Namespace'] = this.settings.namespace;
    const attempt = async () => {
      const timeout = Math.max(1, deadline - Date.now());
      let body: unknown;
      const seen: { headers?: Record<string, string | string[] | undefined> } = {};
      try {
        const agent = watchedAgent(this.agent ?? (require('node:http') as typeof import('node:http')).globalAgent, seen);
        body = await this.vault.request({ path: `/${path}`, method, json: options.body, headers: { ...headers }, [this.agent ? 'httpsAgent' : 'httpAgent']: agent, timeout });
      } catch (error) {
        const response = (error as { response?: { statusCode: number; body: unknown } }).response;
        if (response && typeof response.statusCode === 'number') {
          const body = response.body as { errors?: unknown } | undefined;
          const errors = Array.isArray(body?.errors) ? body.errors.map(String) : [];
          const after = seen.headers?.['retry-after'];
          throw new VaultHttpError(response.statusCode, errors, body, retryAfter(Array.isArray(after) ? after[0] : after));
        }
        throw error;
      }
      // axios parses JSON "silently": a body that is not JSON (truncated, or a proxy's page)
      // comes back as a string, which would read as a secret without data. Retry it instead.
      if (typeof body === 'string' && body.trim() !== '') throw Object.assign(new Error('the answer is not JSON'), { code: 'ERR_BAD_RESPONSE' });
      return body;
    };
    try {
      return await withRetries(attempt, (error) => {
        const again = retryable(error);
        if (again) this.log.debug(`vault: ${method} /v1/${path}: ${describe(error)}; retrying`);
        return again;
      }, { deadline, minWaitMs: (error) => (error instanceof VaultHttpError ? error.retryAfterMs : undefined) });
    } catch (error) {
      throw classify(error, `${method} /v1/${path}`);
    }
  }
}

/**
 * The shared agent, seen through a view that notes the response's headers: node-vault
 * hands back only the status and the body, and a 429's or 503's Retry-After is in a header.
 * A view, not a new agent, so that connections are still kept and shared.
 */
function watchedAgent<A extends import('node:http').Agent>(agent: A, seen: { headers?: Record<string, string | string[] | undefined> }): A {
  return Object.create(agent, {
    addRequest: {
      value(request: import('node:http').ClientRequest, options: unknown) {
        request.once('response', (response: import('node:http').IncomingMessage) => { seen.headers = response.headers; });
        return (agent as unknown as { addRequest(r: unknown, o: unknown): void }).addRequest(request, options);
      },
    },
  }) as A;
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in ms from now. */
export function retryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
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
  const e = error as NodeJS.ErrnoException & { reason?: string; cause?: { reason?: string } };
  // OpenSSL's messages span lines and name its source files; its reason is the useful part
  // (on the original error: axios keeps it as the cause).
  const reason = e?.reason ?? e?.cause?.reason;
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

