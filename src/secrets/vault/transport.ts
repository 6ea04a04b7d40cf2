// How node-vault's requests reach Vault: the secret sources' own HTTP/1.1 client
// (../http.ts: node:net or node:tls, a few kept-alive connections per server), handed to
// node-vault through its `request-promise` option (the hook it keeps for the request
// library it used before axios). node-vault builds the URL and headers and turns non-2xx
// answers into errors; this only moves bytes. Without it node-vault sends through axios,
// and evaluating axios (with form-data and mime-db, which a JSON API never needs) was most
// of what a start with a vault: reference cost: the bundle leaves axios out (build.mjs).
import { HttpClient } from '../http';
import type { VaultTls } from './settings';

/** One request as node-vault hands it over: its `uri` is the full URL. */
export interface TransportRequest {
  method: string;
  uri: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeout?: number;
}

/** What node-vault expects back: its status handling reads these three. */
export interface TransportResponse {
  statusCode: number;
  /** The parsed JSON; the text itself when it is not JSON (the client rejects that); undefined when empty. */
  body: unknown;
  request: { path: string };
}

/**
 * Connections kept per server. Vault answers one request per connection at a time, so a
 * few connections carry many reads in flight; more would each cost a TCP (and TLS)
 * handshake for little gain (200 paths: about the same from 8 to 16, slower from 64).
 */
export const MAX_CONNECTIONS = 8;

export class VaultTransport {
  private readonly client: HttpClient;

  constructor(address: string, tls: VaultTls) {
    const { ca, cert, key, servername, rejectUnauthorized } = tls;
    this.client = new HttpClient(new URL(address), address.startsWith('https:')
      ? { ca, cert, key, servername, rejectUnauthorized, minVersion: 'TLSv1.2' }
      : undefined, MAX_CONNECTIONS);
  }

  /** The object node-vault takes as `request-promise`: it calls defaults() once, with its own defaults (which say JSON, all statuses). */
  forNodeVault(): { defaults: () => (options: TransportRequest) => Promise<TransportResponse> } {
    return { defaults: () => (options) => this.send(options) };
  }

  async send(options: TransportRequest): Promise<TransportResponse> {
    const url = new URL(options.uri);
    const body = options.json !== undefined && typeof options.json === 'object' ? Buffer.from(JSON.stringify(options.json)) : undefined;
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (body) headers['Content-Type'] = 'application/json';
    const response = await this.client.request({ method: options.method, path: `${url.pathname}${url.search}`, headers, body, timeoutMs: options.timeout ?? 60_000 });
    return { statusCode: response.status, body: parse(response.body.toString('utf8')), request: { path: url.pathname } };
  }

  /** Closes the kept-alive connections: nothing is left open once no request needs them. */
  close(): void {
    this.client.close();
  }
}

/** JSON, as Vault always answers; a proxy's error page or a cut-off body stays text. */
function parse(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
