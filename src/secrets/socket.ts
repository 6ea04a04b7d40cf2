// TCP and TLS for the HTTP client (http.ts) through the addon (socket.c) instead of
// node:net and node:tls. Loading node:net and making its first connection cost every start
// with a plain-HTTP Vault ~3 ms before the first byte went out (node:net loads the
// twenty modules of node:stream), and node:tls with node:crypto ~6 ms more; the addon's
// connection costs a few system calls, and its TLS is the OpenSSL inside the Node binary,
// the same that node:tls drives. This is the part of a net.Socket (a tls.TLSSocket) that
// http.ts uses, with its events and errors as Node has them (`connect ECONNREFUSED
// 127.0.0.1:8200`, `getaddrinfo ENOTFOUND vault`, CERT_HAS_EXPIRED,
// ERR_SSL_WRONG_VERSION_NUMBER), so that nothing after it can tell which one carried a
// request.
import { EventEmitter } from 'node:events';
import type { ConnectionOptions } from 'node:tls';
import { errnoName, type Native } from '../native/binding';

/** What http.ts uses of a connection: net.Socket and tls.TLSSocket have it, and so has TcpSocket. */
export interface StreamSocket {
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'end' | 'close' | 'connect' | 'secureConnect', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  once(event: 'end' | 'close' | 'connect' | 'secureConnect', listener: () => void): this;
  once(event: 'error', listener: (error: Error) => void): this;
  off(event: 'error', listener: (error: Error) => void): this;
  write(data: string | Buffer, encoding?: BufferEncoding): unknown;
  setNoDelay(noDelay?: boolean): unknown;
  ref(): unknown;
  unref(): unknown;
  destroy(error?: Error): unknown;
}

/** The addon's calls (socket.c); absent from an addon built without them. */
export type NativeTcp = Required<Pick<Native, 'tcpConnect' | 'tcpWrite' | 'tcpRef' | 'tcpClose'>>;

export function nativeTcp(native: Native | null): NativeTcp | null {
  return native?.tcpConnect && native.tcpWrite && native.tcpRef && native.tcpClose ? native as NativeTcp : null;
}

/** What a TLS connection through the addon is made with: its context, the name to send and to check. */
export interface NativeTls {
  context: unknown;
  /** SNI (none for an IP address, as Node sends none). */
  servername: string;
  /** What the server's certificate must name; '' when it is not verified. */
  identity: string;
}

const asBuffers = (value: ConnectionOptions['ca']): Buffer[] | null => {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.every((v) => typeof v === 'string' || Buffer.isBuffer(v)) ? list.map((v) => (typeof v === 'string' ? Buffer.from(v) : v as Buffer)) : null;
};

/** The options of a connection that the addon's TLS takes. */
const NATIVE_TLS_OPTIONS = new Set(['ca', 'cert', 'key', 'servername', 'rejectUnauthorized', 'minVersion']);

/**
 * The addon's context for these options, or null when node:tls must make the connection:
 * no addon or no OpenSSL in it, options it does not take (no CAs: Node's own list; a
 * version other than TLS 1.2 at least; a passphrase; any option but those below), or
 * OpenSSL refusing a certificate or key (node:tls then says why, in its words).
 */
export function nativeTlsContext(native: Native | null, options: ConnectionOptions): unknown {
  if (!native?.tlsContext || !nativeTcp(native)) return null;
  // Any other option (ciphers, an identity check of its own...) is node:tls's to honour.
  if (Object.keys(options).some((k) => !NATIVE_TLS_OPTIONS.has(k))) return null;
  const { ca, cert, key, minVersion } = options;
  const cas = asBuffers(ca);
  const certs = asBuffers(cert);
  const keys = asBuffers(key as ConnectionOptions['ca']);
  if (!cas?.length || !certs || !keys || certs.length > 1 || keys.length > 1 || (minVersion ?? 'TLSv1.2') !== 'TLSv1.2') return null;
  try {
    return native.tlsContext(cas, certs[0], keys[0]);
  } catch {
    return null;
  }
}

const EVENT = { connected: 0, data: 1, end: 2, error: 3, secure: 4 } as const;

type SocketError = Error & { code: string; errno?: number; syscall: string; address?: string; port?: number; hostname?: string };

/** An error worded and shaped as node:net's for the same failure. */
export function socketError(value: number | string | { code: string; message: string; reason?: string }, syscall: string, host: string, port: number): SocketError {
  if (typeof value === 'object') {
    // A TLS failure, as node:tls reports it: OpenSSL's reason kept apart for messages.
    const { code, message, reason } = value;
    return Object.assign(new Error(message), { code, syscall, ...(reason ? { reason } : {}) });
  }
  if (syscall === 'handshake') {
    return Object.assign(new Error('Client network socket disconnected before secure TLS connection was established'), { code: value as string, syscall, host, port });
  }
  if (typeof value === 'string') {
    // getaddrinfo: a code name, as Node's dns.lookup gives it.
    return Object.assign(new Error(`${syscall} ${value} ${host}`), { code: value, syscall, hostname: host });
  }
  const code = errnoName(value);
  const where = syscall === 'connect' ? ` ${host.includes(':') ? `[${host}]` : host}:${port}` : '';
  const error = Object.assign(new Error(`${syscall} ${code}${where}`), { code, errno: -value, syscall });
  return syscall === 'connect' ? Object.assign(error, { address: host, port }) : error;
}

export class TcpSocket extends EventEmitter implements StreamSocket {
  private id = -1;
  private closed = false;

  constructor(private readonly tcp: NativeTcp, private readonly host: string, private readonly port: number, tls?: NativeTls) {
    super();
    try {
      const onEvent = (kind: number, value: unknown, syscall?: string) => this.onEvent(kind, value, syscall);
      this.id = tls ? tcp.tcpConnect(host, port, onEvent, tls.context, tls.servername, tls.identity) : tcp.tcpConnect(host, port, onEvent);
    } catch (error) {
      // As node:net: a connection that cannot even start still fails after connect() returns.
      const errno = (error as { errno?: number }).errno;
      const failure = typeof errno === 'number' ? socketError(errno, 'connect', host, port) : (error as Error);
      process.nextTick(() => this.destroy(failure));
    }
  }

  write(data: string | Buffer, encoding: BufferEncoding = 'utf8'): boolean {
    if (this.closed) return false;
    this.tcp.tcpWrite(this.id, typeof data === 'string' ? Buffer.from(data, encoding) : data);
    return true;
  }

  /** Always: socket.c sets TCP_NODELAY on every connection. */
  setNoDelay(): this {
    return this;
  }

  ref(): this {
    if (!this.closed) this.tcp.tcpRef(this.id, true);
    return this;
  }

  unref(): this {
    if (!this.closed) this.tcp.tcpRef(this.id, false);
    return this;
  }

  /** Closes at once; 'error' (if given) and 'close' follow on the next tick, as with node:net. */
  destroy(error?: Error): this {
    if (this.closed) return this;
    this.closed = true;
    if (this.id >= 0) this.tcp.tcpClose(this.id);
    process.nextTick(() => this.ended(error));
    return this;
  }

  private ended(error?: Error): void {
    // node:net throws an 'error' nobody listens to; http.ts always listens, and PID 1 must
    // not die of one that comes after the listener went.
    if (error && this.listenerCount('error')) this.emit('error', error);
    this.emit('close');
  }

  private onEvent(kind: number, value: unknown, syscall?: string): void {
    if (this.closed) return;
    switch (kind) {
      case EVENT.connected:
        this.emit('connect');
        return;
      case EVENT.secure:
        this.emit('secureConnect');
        return;
      case EVENT.data:
        this.emit('data', value as Buffer);
        return;
      case EVENT.end:
        // The addon has closed the connection: nothing to close here.
        this.closed = true;
        this.emit('end');
        this.emit('close');
        return;
      case EVENT.error:
        this.closed = true;
        this.ended(socketError(value as Parameters<typeof socketError>[0], syscall ?? 'read', this.host, this.port));
        return;
    }
  }
}
