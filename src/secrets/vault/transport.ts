// The HTTP under node-vault. node-vault accepts a request function of its own (its
// `request-promise` option); this is ours, on node:http/https, because what a hostile or
// mistaken server can do to PID 1 has to be bounded here and axios (node-vault's default)
// bounds none of it:
// - one deadline for the whole answer, not an idle timeout (a server answering one byte a
//   second never goes idle);
// - a size limit on the body (a server sending 100 MB would sit in PID 1's memory);
// - no redirects: a 307 to another host would carry X-Vault-Token there (only an
//   Authorization header is dropped on a host change);
// - the body as it came, so that a 200 that is not JSON (a wrong VAULT_ADDR) is seen, and
//   an http:// address pointed at a TLS listener is recognised from the answer.
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Agent } from 'node:https';

/** Larger answers are refused: Vault's own request limit (max_request_size) is 32 MiB. */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

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
  httpsAgent?: Agent;
}

/** Go's net/http answer to plain HTTP on a TLS port (crypto/tls RecordHeaderError). */
const GO_PLAIN_ON_TLS = 'Client sent an HTTP request to an HTTPS server';

/** A TLS record header: alert (21) or handshake (22), protocol major version 3. */
const looksLikeTls = (bytes: Buffer | undefined) => !!bytes && bytes.length >= 2 && (bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03;

/** node-vault's `request-promise` option: `{ defaults: () => request }`. */
export function transport(): { defaults: () => (options: NodeVaultOptions) => Promise<TransportResponse> } {
  return { defaults: () => send };
}

function send(options: NodeVaultOptions): Promise<TransportResponse> {
  const url = new URL(options.uri);
  const https = url.protocol === 'https:';
  const { request } = (https ? require('node:https') : require('node:http')) as typeof import('node:https');
  const payload = options.json !== undefined && typeof options.json === 'object' ? Buffer.from(JSON.stringify(options.json)) : undefined;
  const headers: Record<string, string | number> = { ...options.headers, Accept: 'application/json' };
  if (payload) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    let req: ClientRequest | undefined;
    const finish = (error: Error | undefined, value?: TransportResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        req?.destroy();
        reject(error);
      } else {
        resolve(value as TransportResponse);
      }
    };
    let received = 0;
    const timer = setTimeout(() => {
      finish(new TransportError('ETIMEDOUT', received ? `the answer was incomplete at the time limit (${received} bytes received)` : 'no answer within the time limit'));
    }, Math.max(1, options.timeout ?? 60_000));
    req = request(url, { method: options.method, headers, agent: https ? options.httpsAgent : undefined }, (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        finish(new TransportError('REDIRECT', redirectText(status, res.headers.location, url)));
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (declared > MAX_ANSWER_BYTES) {
        finish(tooLarge());
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_ANSWER_BYTES) finish(tooLarge());
        else chunks.push(chunk);
      });
      res.on('aborted', () => finish(new TransportError('ECONNRESET', `the connection closed in the middle of the answer (${received} bytes received)`)));
      res.on('error', (error) => finish(res.complete ? error : new TransportError('ECONNRESET', `the connection closed in the middle of the answer (${received} bytes received)`)));
      res.on('end', () => {
        if (!res.complete) {
          finish(new TransportError('ECONNRESET', `the connection closed in the middle of the answer (${received} bytes received)`));
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = parse(status, text, String(res.headers['content-type'] ?? ''));
        } catch (error) {
          finish(error as Error);
          return;
        }
        const after = res.headers['retry-after'];
        if (typeof after === 'string' && body !== null && typeof body === 'object') Object.defineProperty(body, RETRY_AFTER, { value: after });
        finish(undefined, { statusCode: status, body, request: { path: url.pathname } });
      });
    });
    req.on('error', (error: NodeJS.ErrnoException & { rawPacket?: Buffer }) => {
      // Node's HTTP parser failed on the answer: a TLS record means http:// to a TLS port.
      if (error.code?.startsWith('HPE_')) {
        finish(looksLikeTls(error.rawPacket)
          ? new TransportError('SPEAKS_TLS', 'the server answered in TLS')
          : new TransportError('NOT_HTTP', 'the answer is not HTTP'));
        return;
      }
      finish(error);
    });
    req.end(payload);
  });
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
