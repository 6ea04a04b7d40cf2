// The HTTP under node-vault. node-vault accepts a request function of its own (its
// `request-promise` option); this is ours, on the secret sources' HTTP/1.1 client
// (../http.ts: node:net or node:tls, at most MAX_CONNECTIONS kept-alive connections per
// server, requests queued for them), because what a hostile or mistaken server can do to
// PID 1 has to be bounded here and axios (node-vault's default) bounds none of it, and
// because axios and node:http cost more start-up than everything else in a Vault read:
// - one deadline for the whole answer, not an idle timeout (a server answering one byte a
//   second never goes idle);
// - a size limit on the body (a server sending 100 MB would sit in PID 1's memory);
// - no redirects: a 307 to another host would carry X-Vault-Token there (only an
//   Authorization header is dropped on a host change);
// - the body as it came, so that a 200 that is not JSON (a wrong VAULT_ADDR) is seen, and
//   an http:// address pointed at a TLS listener is recognised from the answer.
import { HttpClient, MAX_BODY, type HttpError } from '../http';
import type { VaultTls } from './settings';

/** Larger answers are refused: Vault's own request limit (max_request_size) is 32 MiB. */
export const MAX_ANSWER_BYTES = MAX_BODY;

/** What a failed exchange was; `code` says what the retry policy and the messages need. */
export class TransportError extends Error {
  constructor(
    readonly code: TransportCode,
    message: string,
  ) {
    super(message);
  }
}

export type TransportCode =
  /** No complete answer before the deadline. */
  | 'ETIMEDOUT'
  /** The connection closed before the body was complete. */
  | 'ECONNRESET'
  | 'TOO_LARGE'
  | 'REDIRECT'
  /** A 2xx whose body is not JSON: not Vault's answer. */
  | 'NOT_JSON'
  /** A 2xx with a JSON body cut short (a middlebox; worth another try). */
  | 'BAD_JSON'
  /** http:// to a listener that speaks TLS. */
  | 'SPEAKS_TLS'
  /** Something at the address that does not speak HTTP. */
  | 'NOT_HTTP';

/** The shape node-vault expects back from its request function. */
export interface TransportResponse {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

/**
 * The Retry-After header of an answer, kept on its parsed body under this key (node-vault
 * passes only the status and the body of an error on), for the client's backoff.
 */
export const RETRY_AFTER = Symbol('Retry-After');

interface NodeVaultOptions {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** Milliseconds for the whole exchange. */
  timeout?: number;
}

/** Go's net/http answer to plain HTTP on a TLS port (crypto/tls RecordHeaderError). */
const GO_PLAIN_ON_TLS = 'Client sent an HTTP request to an HTTPS server';

/** A TLS record header: alert (21) or handshake (22), protocol major version 3. */
const looksLikeTls = (bytes: Buffer | undefined) => !!bytes && bytes.length >= 2 && (bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03;

/**
 * Connections kept per server. Vault answers one request per connection at a time, so a
 * few connections carry many reads in flight; more would each cost a TCP (and TLS)
 * handshake for little gain (200 paths: about the same from 8 to 16, slower from 64).
 */
export const MAX_CONNECTIONS = 8;

/** One server's connections, and node-vault's way in to them. */
export class VaultTransport {
  private readonly client: HttpClient;

  constructor(address: string, tls: VaultTls) {
    const { ca, cert, key, servername, rejectUnauthorized } = tls;
    this.client = new HttpClient(new URL(address), address.startsWith('https:')
      ? { ca, cert, key, servername, rejectUnauthorized, minVersion: 'TLSv1.2' }
      : undefined, MAX_CONNECTIONS);
  }

  /** node-vault's `request-promise` option: `{ defaults: () => request }`. */
  forNodeVault(): { defaults: () => (options: NodeVaultOptions) => Promise<TransportResponse> } {
    return { defaults: () => (options) => this.send(options) };
  }

  /** Closes the kept-alive connections: nothing is left open once no request needs them. */
  close(): void {
    this.client.close();
  }

  private async send(options: NodeVaultOptions): Promise<TransportResponse> {
    const url = new URL(options.uri);
    const body = options.json !== undefined && typeof options.json === 'object' ? Buffer.from(JSON.stringify(options.json)) : undefined;
    const headers: Record<string, string> = { ...options.headers, Accept: 'application/json' };
    if (body) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await this.client.request({ method: options.method, path: `${url.pathname}${url.search}`, headers, body, timeoutMs: Math.max(0, options.timeout ?? 60_000) });
    } catch (error) {
      throw transportError(error as HttpError);
    }
    if (res.status >= 300 && res.status < 400) throw new TransportError('REDIRECT', redirectText(res.status, res.headers.location, url));
    const text = res.body.toString('utf8');
    const parsed = parse(res.status, text, res.headers['content-type'] ?? '');
    // 429 and 503 may say when to come back: the lifetime stage's retries honour it.
    const after = res.headers['retry-after'];
    if (typeof after === 'string' && parsed !== null && typeof parsed === 'object') Object.defineProperty(parsed, RETRY_AFTER, { value: after });
    return { statusCode: res.status, body: parsed, request: { path: url.pathname } };
  }
}

/** The client's failures in this file's terms; TLS and socket errors pass as they are. */
function transportError(error: HttpError): Error {
  switch (error.code) {
    case 'ETIMEDOUT':
      return new TransportError('ETIMEDOUT', error.message);
    case 'ECONNRESET':
      return /in the middle of the answer/.test(error.message) ? new TransportError('ECONNRESET', error.message) : error;
    case 'TOO_LARGE':
      return tooLarge();
    case 'NOT_HTTP':
      return looksLikeTls(error.start) ? new TransportError('SPEAKS_TLS', 'the server answered in TLS') : new TransportError('NOT_HTTP', 'the answer is not HTTP');
    case 'ERR_BAD_RESPONSE':
      return new TransportError('NOT_HTTP', error.message);
    default:
      return error;
  }
}

function tooLarge(): TransportError {
  return new TransportError('TOO_LARGE', `the answer is larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB`);
}

function redirectText(status: number, location: string | undefined, from: URL): string {
  // The origin only: a redirect's path or query is none of the log's business.
  let where = 'nowhere';
  if (location) {
    try {
      const to = new URL(location, from);
      where = to.origin === from.origin ? `${to.origin} (the same server)` : to.origin;
    } catch {
      where = 'an address that is not a URL';
    }
  }
  return `answered ${status}, a redirect to ${where}`;
}

/** The body: JSON, or nothing for an empty one; anything else is said, not guessed at. */
function parse(status: number, text: string, contentType: string): unknown {
  if (status === 400 && text.includes(GO_PLAIN_ON_TLS)) throw new TransportError('SPEAKS_TLS', `the server answered "${GO_PLAIN_ON_TLS}"`);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    if (status < 200 || status > 299) return undefined; // a proxy's error page: the status says enough
    // A JSON object cut short is a broken answer from something in between; a page or plain
    // text is not Vault at all.
    if (text.trimStart().startsWith('{')) throw new TransportError('BAD_JSON', 'the answer is JSON cut short');
    const type = contentType.split(';')[0].trim();
    throw new TransportError('NOT_JSON', `the answer is not JSON${type ? ` (${type})` : ''}`);
  }
}
