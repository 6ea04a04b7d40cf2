// A small HTTP/1.1 client for the secret sources (Vault, Keywhiz): JSON APIs on one server
// each, asked a few hundred requests at most, at start-up. It speaks to node:net or
// node:tls directly, with a few kept-alive connections per server and requests queued for
// them. node:http would do the same job, but at start-up it costs more than the rest of a
// Vault read together: loading it and its first request took ~20 ms of CPU and each
// further request ~0.5 ms, against ~9 ms and ~0.15 ms here (measured in the pinned Node on
// the bench machine; docs/benchmarks.md). What it reads: a status line, headers, and a
// body framed by Content-Length, chunked transfer coding, or the end of the connection
// (RFC 9112 §6.3); 1xx interim answers are skipped. It asks for no compression and never
// follows redirects (Vault's clients do not either).
import type { ConnectionOptions } from 'node:tls';
import { loadedNative } from '../native/binding';
import { nativeTcp, nativeTlsContext, type StreamSocket, TcpSocket } from './socket';

export interface HttpRequest {
  method: string;
  /** The path and query, already encoded. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Milliseconds for the whole exchange, connecting included. */
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * An error of the exchange, with a code as Node's own (ECONNRESET, ETIMEDOUT, ERR_SSL_...),
 * or TOO_LARGE (the body is over MAX_BODY), NOT_HTTP (the answer does not start as HTTP:
 * `start` holds its first bytes), ERR_BAD_RESPONSE (HTTP, but malformed).
 */
export type HttpError = Error & { code?: string; reason?: string; duringHandshake?: boolean; start?: Buffer };

const fail = (code: string, message: string): HttpError => Object.assign(new Error(message), { code });

/** Longest status line and headers accepted; Node's default is 16 KiB. */
const MAX_HEAD = 64 * 1024;
/** Largest body accepted: Vault's own request limit (max_request_size), far above any secret. */
export const MAX_BODY = 32 * 1024 * 1024;
const tooLarge = () => fail('TOO_LARGE', `the answer is larger than ${MAX_BODY / 1024 / 1024} MiB`);

/** One origin (scheme, host, port), with its own connections; TLS options for https. */
export class HttpClient {
  private readonly idle: Connection[] = [];
  /** Requests waiting for a connection, oldest first; each gives up at its own deadline. */
  private readonly queue: Array<() => void> = [];
  private open = 0;
  private closed = false;

  constructor(
    private readonly origin: URL,
    private readonly tls: ConnectionOptions | undefined,
    /** Connections kept at most: each costs a TCP (and TLS) handshake. */
    private readonly maxConnections = 8,
  ) {}

  async request(req: HttpRequest): Promise<HttpResponse> {
    for (const value of Object.values(req.headers ?? {})) {
      if (/[\r\n\0]/.test(value)) throw fail('ERR_INVALID_CHAR', 'a header value contains a line break or NUL');
    }
    const deadline = Date.now() + req.timeoutMs;
    if (!(req.timeoutMs > 0)) throw fail('ETIMEDOUT', 'no time left to send the request');
    const connection = await this.acquire(deadline);
    try {
      const response = await connection.exchange(this.head(req), req.body, deadline, req.method === 'HEAD');
      this.release(connection, response.reusable);
      return response.response;
    } catch (error) {
      this.release(connection, false);
      throw error;
    }
  }

  /** Ends every connection; requests made after this open new ones. */
  close(): void {
    for (const c of this.idle.splice(0)) c.destroy();
    this.open = 0;
    this.closed = true;
  }

  /** The addon's TLS context for this server, made once (null: node:tls makes the connections). */
  private nativeContext(): unknown {
    if (this.context === undefined) this.context = this.tls && this.origin.protocol === 'https:' ? nativeTlsContext(loadedNative(), this.tls) : null;
    return this.context;
  }

  private context: unknown;

  private head(req: HttpRequest): string {
    const lines = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${this.origin.host}`];
    for (const [name, value] of Object.entries(req.headers ?? {})) lines.push(`${name}: ${value}`);
    if (req.body || req.method === 'POST' || req.method === 'PUT') lines.push(`Content-Length: ${req.body?.length ?? 0}`);
    return `${lines.join('\r\n')}\r\n\r\n`;
  }

  private async acquire(deadline: number): Promise<Connection> {
    this.closed = false;
    for (;;) {
      const idle = this.idle.pop();
      if (idle?.usable()) return idle;
      if (idle) {
        // Closed by the server while idle (its idle timeout): a new one takes its place.
        idle.destroy();
        this.open--;
        continue;
      }
      if (this.open < this.maxConnections) {
        this.open++;
        try {
          return await Connection.open(this.origin, this.tls, deadline, this.nativeContext());
        } catch (error) {
          this.open--;
          this.next();
          throw error;
        }
      }
      await this.wait(deadline);
    }
  }

  /**
   * Wait for a connection to be released, no longer than the request's deadline: a request
   * queued behind busy connections fails at its time limit like one sent, rather than
   * waiting unbounded and then being sent with no time left (a 1 ms timeout).
   */
  private wait(deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = this.queue.indexOf(wake);
        if (at >= 0) this.queue.splice(at, 1);
        reject(fail('ETIMEDOUT', `no connection free within the time limit (${this.open} busy, ${this.queue.length} more requests waiting)`));
      }, Math.max(0, deadline - Date.now()));
      this.queue.push(wake);
    });
  }

  private release(connection: Connection, reusable: boolean): void {
    if (reusable && !this.closed) {
      connection.park();
      this.idle.push(connection);
    } else {
      connection.destroy();
      if (!this.closed) this.open--;
    }
    this.next();
  }

  private next(): void {
    this.queue.shift()?.();
  }
}

interface Exchanged {
  response: HttpResponse;
  reusable: boolean;
}

/** One connection and the response being read from it (one at a time: no pipelining). */
class Connection {
  private data: Buffer = Buffer.alloc(0);
  /** Bytes of the current answer received so far, for messages. */
  private received = 0;
  private wake: (() => void) | null = null;
  private ended = false;
  private error: HttpError | null = null;

  private constructor(private readonly socket: StreamSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.data = this.data.length ? Buffer.concat([this.data, chunk]) : chunk;
      this.poke();
    });
    socket.on('end', () => {
      this.ended = true;
      this.poke();
    });
    socket.on('close', () => {
      this.ended = true;
      this.poke();
    });
    socket.on('error', (error: HttpError) => {
      this.error ??= error;
      this.poke();
    });
  }

  /** `context`: the addon's TLS context (socket.ts), else node:tls makes an https connection. */
  static open(origin: URL, tlsOptions: ConnectionOptions | undefined, deadline: number, context: unknown = null): Promise<Connection> {
    const host = origin.hostname.replace(/^\[|\]$/g, '');
    const port = Number(origin.port) || (origin.protocol === 'https:' ? 443 : 80);
    return new Promise((resolve, reject) => {
      let socket: StreamSocket;
      let handshaking = false;
      const tcp = nativeTcp(loadedNative());
      if (origin.protocol === 'https:' && context && tcp) {
        // SNI with the name given, else the host (socket.c sends none for an IP address);
        // the certificate checked against the same, as node:tls checks it.
        const servername = tlsOptions?.servername ?? host;
        socket = new TcpSocket(tcp, host, port, { context, servername, identity: tlsOptions?.rejectUnauthorized === false ? '' : servername });
        socket.once('connect', () => { handshaking = true; });
      } else if (origin.protocol === 'https:') {
        // node:tls (OpenSSL) loads only for an https server.
        const tls = require('node:tls') as typeof import('node:tls');
        const { isIP } = require('node:net') as typeof import('node:net');
        // SNI with a host name, never an IP address (RFC 6066 §3), unless one was given.
        const servername = tlsOptions?.servername ?? (isIP(host) ? undefined : host);
        socket = tls.connect({ ...tlsOptions, host, port, servername });
        socket.once('connect', () => { handshaking = true; });
      } else {
        // The addon's connection when it has one (socket.ts says why), else node:net's.
        socket = tcp ? new TcpSocket(tcp, host, port) : (require('node:net') as typeof import('node:net')).connect({ host, port });
      }
      socket.setNoDelay(true);
      const timer = setTimeout(() => socket.destroy(fail('ETIMEDOUT', 'no answer within the time limit')), Math.max(1, deadline - Date.now()));
      const done = (error?: HttpError) => {
        clearTimeout(timer);
        socket.off('error', done);
        if (!error) return resolve(new Connection(socket));
        // Connected, not through the handshake: the server dropped a client it would not have.
        if (handshaking) error.duringHandshake = true;
        socket.destroy();
        reject(error);
      };
      socket.once('error', done);
      socket.once(origin.protocol === 'https:' ? 'secureConnect' : 'connect', () => done());
    });
  }

  /** Not closed or failed since its last response. */
  usable(): boolean {
    return !this.ended && !this.error;
  }

  /** Between requests: errors and the server closing are noted, nothing keeps init waiting for it. */
  park(): void {
    this.socket.unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  async exchange(head: string, body: Buffer | undefined, deadline: number, isHead: boolean): Promise<Exchanged> {
    if (this.error || this.ended) throw this.error ?? fail('ECONNRESET', 'the server closed the connection');
    this.socket.ref();
    this.received = this.data.length;
    const timer = setTimeout(() => {
      this.error ??= fail('ETIMEDOUT', this.received ? `the answer was incomplete at the time limit (${this.received} bytes received)` : 'no answer within the time limit');
      this.poke();
    }, Math.max(1, deadline - Date.now()));
    try {
      this.socket.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head, 'latin1');
      for (;;) {
        const { status, headers, version } = await this.readHead();
        if (status >= 100 && status < 200) continue; // 100 Continue, 103 Early Hints
        const noBody = isHead || status === 204 || status === 304;
        const chunked = /(^|,)\s*chunked\s*$/i.test(headers['transfer-encoding'] ?? '');
        const length = headers['content-length'];
        let bodyBytes: Buffer;
        let framed = true;
        if (noBody) bodyBytes = Buffer.alloc(0);
        else if (chunked) bodyBytes = await this.readChunked();
        else if (length !== undefined) {
          if (!/^\d+$/.test(length)) throw fail('ERR_BAD_RESPONSE', `bad Content-Length "${length}"`);
          if (Number(length) > MAX_BODY) throw tooLarge();
          bodyBytes = await this.readExactly(Number(length));
        } else {
          bodyBytes = await this.readToEnd();
          framed = false;
        }
        const keepAlive = version === '1.1' && !/(^|,)\s*close\s*(,|$)/i.test(headers.connection ?? '');
        return { response: { status, headers, body: bodyBytes }, reusable: framed && keepAlive && !this.ended && !this.error && this.data.length === 0 };
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Waits for more data, the end, or an error; throws if the connection ended or failed. */
  private async more(what: string): Promise<void> {
    if (this.error) throw this.error;
    if (this.ended) {
      throw fail('ECONNRESET', this.received ? `the connection closed in the middle of the answer (${this.received} bytes received)` : `the server closed the connection before ${what}`);
    }
    await new Promise<void>((resolve) => { this.wake = resolve; });
    if (this.error) throw this.error;
  }

  private async readHead(): Promise<{ status: number; version: string; headers: Record<string, string> }> {
    let end: number;
    while ((end = this.data.indexOf('\r\n\r\n')) < 0) {
      // Not even the start of a status line: not HTTP (a TLS listener answers with an alert).
      if (this.data.length >= 5 && !this.data.subarray(0, 5).equals(Buffer.from('HTTP/'))) {
        throw Object.assign(fail('NOT_HTTP', 'the answer is not HTTP'), { start: this.data.subarray(0, 16) });
      }
      if (this.data.length > MAX_HEAD) throw fail('ERR_BAD_RESPONSE', 'the response headers are too long');
      await this.more('an answer');
    }
    const head = this.data.subarray(0, end);
    const lines = head.toString('latin1').split('\r\n');
    this.data = this.data.subarray(end + 4);
    const m = /^HTTP\/(1\.[01]) (\d{3})(?: .*)?$/.exec(lines[0]);
    if (!m) throw Object.assign(fail('NOT_HTTP', 'the answer is not HTTP'), { start: head.subarray(0, 16) });
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw fail('ERR_BAD_RESPONSE', 'a malformed response header');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    return { version: m[1], status: Number(m[2]), headers };
  }

  private async readExactly(n: number): Promise<Buffer> {
    while (this.data.length < n) await this.more('the response body');
    const out = this.data.subarray(0, n);
    this.data = this.data.subarray(n);
    return out;
  }

  private async readLine(what: string): Promise<string> {
    let end: number;
    while ((end = this.data.indexOf('\r\n')) < 0) {
      if (this.data.length > MAX_HEAD) throw fail('ERR_BAD_RESPONSE', `${what} is too long`);
      await this.more(what);
    }
    const line = this.data.subarray(0, end).toString('latin1');
    this.data = this.data.subarray(end + 2);
    return line;
  }

  /** Chunked transfer coding (RFC 9112 §7.1): size lines (extensions ignored), data, trailers. */
  private async readChunked(): Promise<Buffer> {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const sizeLine = await this.readLine('a chunk size');
      const m = /^([0-9a-fA-F]+)\s*(;.*)?$/.exec(sizeLine);
      if (!m) throw fail('ERR_BAD_RESPONSE', 'a malformed chunk size');
      const size = parseInt(m[1], 16);
      if (size === 0) break;
      total += size;
      if (total > MAX_BODY) throw tooLarge();
      parts.push(await this.readExactly(size));
      if ((await this.readLine('a chunk')) !== '') throw fail('ERR_BAD_RESPONSE', 'a chunk longer than its size');
    }
    while ((await this.readLine('the trailers')) !== '') { /* trailers: nothing here uses them */ }
    return Buffer.concat(parts);
  }

  /** No length given (HTTP/1.0 style): the body ends with the connection. */
  private async readToEnd(): Promise<Buffer> {
    while (!this.ended && !this.error) {
      if (this.data.length > MAX_BODY) throw tooLarge();
      await new Promise<void>((resolve) => { this.wake = resolve; });
    }
    if (this.error) throw this.error;
    const out = this.data;
    this.data = Buffer.alloc(0);
    return out;
  }
}
