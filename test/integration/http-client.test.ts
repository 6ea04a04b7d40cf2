// The secret sources' HTTP/1.1 client (src/secrets/http.ts) against raw TCP servers on
// loopback that answer byte for byte as written here: each framing a server may use
// (Content-Length, chunked in pieces with extensions and trailers, to the end of the
// connection), interim 1xx answers, kept-alive connections and servers that close them,
// time limits, and a TLS server that drops the client during the handshake. Plain HTTP
// runs twice: over the addon's TCP (src/native/socket.c, what init uses when it has its
// addon) and over node:net (without it); the addon's connections are also compared with
// node:net's, error for error.
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { type ConnectionOptions, createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadNative, type Native } from '../../src/native/binding';
import { HttpClient, type HttpError } from '../../src/secrets/http';
import { nativeTcp, type NativeTcp, type StreamSocket, TcpSocket } from '../../src/secrets/socket';
import { makePki } from '../support/certs';
import { ADDON } from '../support/paths';

type Handler = (socket: Socket, request: string) => void;
const servers: Server[] = [];
const clients: HttpClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.close();
});

/** A server that calls `handle` once per request head it reads, with the connection. */
async function serve(handle: Handler): Promise<{ url: URL; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      let end: number;
      while ((end = data.indexOf('\r\n\r\n')) >= 0) {
        const head = data.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (data.length < end + 4 + length) return;
        data = data.slice(end + 4 + length);
        handle(socket, head);
      }
    });
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: new URL(`http://127.0.0.1:${port}`), connections: () => connections };
}

function client(url: URL, max = 8): HttpClient {
  const c = new HttpClient(url, undefined, max);
  clients.push(c);
  return c;
}

const get = (c: HttpClient, path = '/v1/x', timeoutMs = 5000) => c.request({ method: 'GET', path, headers: { 'X-Vault-Token': 't' }, timeoutMs });
const text = async (c: HttpClient, path?: string) => (await get(c, path)).body.toString();

// What binding.ts's loadedNative() hands http.ts: the built addon, or none (node:net, node:tls).
const SLOT = Symbol.for('sesame.native');
const addon = loadNative({ SESAME_NATIVE: ADDON }, false);
if (!addon.native) throw new Error(`the addon did not load: ${addon.reason} (npm run build first)`);
const tcp = nativeTcp(addon.native) as NativeTcp;
if (!tcp) throw new Error('the addon has no tcpConnect');
// The addon as loaded, counting the connections made through it.
let nativeConnections = 0;
const counted = Object.create(addon.native, {
  tcpConnect: { value: (...args: Parameters<NativeTcp['tcpConnect']>) => { nativeConnections++; return tcp.tcpConnect(...args); } },
}) as Native;
const TRANSPORTS: Array<[string, Native | null]> = [['the addon\'s TCP and TLS', counted], ['node:net and node:tls', null]];

for (const [transport, native] of TRANSPORTS) describe(`over ${transport}`, () => {
  beforeAll(() => { (globalThis as { [SLOT]?: unknown })[SLOT] = { native, from: 'test' }; });
  afterAll(() => { delete (globalThis as { [SLOT]?: unknown })[SLOT]; });

  it(`connects through ${transport}`, async () => {
    const { url } = await serve((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const before = nativeConnections;
    expect(await text(client(url))).toBe('ok');
    expect(nativeConnections - before).toBe(native ? 1 : 0);
  });

  describe('framing', () => {
    it('a Content-Length body; the request carries Host, the headers given and no body', async () => {
      let seen = '';
      const { url } = await serve((s, head) => { seen = head; s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"a":"bcd"}'); });
      const r = await get(client(url), '/v1/secret/data/app?version=2');
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.body.toString()).toBe('{"a":"bcd"}');
      expect(seen).toBe(`GET /v1/secret/data/app?version=2 HTTP/1.1\r\nHost: ${url.host}\r\nX-Vault-Token: t`);
    });

    it('a POST carries its body with its length', async () => {
      let seen = '';
      const { url } = await serve((s, head) => { seen = head; s.write('HTTP/1.1 204 No Content\r\n\r\n'); });
      const r = await client(url).request({ method: 'POST', path: '/v1/auth/x/login', body: Buffer.from('{"k":1}'), timeoutMs: 5000 });
      expect(r.status).toBe(204);
      expect(r.body.length).toBe(0);
      expect(seen).toContain('\r\nContent-Length: 7');
    });

    it('chunked transfer coding, split at every byte, with chunk extensions and trailers', async () => {
      const answer = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: yes\r\n\r\n';
      const { url, connections } = await serve((s) => {
        let i = 0;
        const drip = () => { if (i < answer.length) { s.write(answer[i++]); setImmediate(drip); } };
        drip();
      });
      const c = client(url);
      expect(await text(c)).toBe('hello, world');
      expect(await text(c)).toBe('hello, world'); // the same connection, read to its end exactly
      expect(connections()).toBe(1);
    });

    it('a body that ends with the connection (no length given); that connection is not reused', async () => {
      const { url, connections } = await serve((s) => { s.end('HTTP/1.1 200 OK\r\n\r\nuntil the end'); });
      const c = client(url);
      expect(await text(c)).toBe('until the end');
      expect(await text(c)).toBe('until the end');
      expect(connections()).toBe(2);
    });

    it('skips a 100 Continue before the answer', async () => {
      const { url } = await serve((s) => { s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}'); });
      const r = await get(client(url));
      expect([r.status, r.body.toString()]).toEqual([404, '{}']);
    });

    it('an answer that is not HTTP fails with NOT_HTTP and its first bytes', async () => {
      const { url } = await serve((s) => { s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'); });
      const error = (await get(client(url)).catch((e: HttpError) => e)) as HttpError;
      expect(error.code).toBe('NOT_HTTP');
      expect(error.start?.toString()).toBe('SSH-2.0-OpenSSH_');
    });

    it('a body over 32 MiB is refused as TOO_LARGE, by its Content-Length or as it arrives', async () => {
      const { url } = await serve((s) => { s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${33 * 1024 * 1024}\r\n\r\n`); });
      await expect(get(client(url))).rejects.toMatchObject({ code: 'TOO_LARGE' });
    });

    it('a connection closed in the middle of a body fails with ECONNRESET', async () => {
      const { url } = await serve((s) => { s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut'); });
      await expect(get(client(url))).rejects.toMatchObject({ code: 'ECONNRESET', message: expect.stringMatching(/^the connection closed in the middle of the answer \(\d+ bytes received\)$/) });
    });

    it('refuses a header value with a line break (no header injection)', async () => {
      const { url, connections } = await serve(() => {});
      await expect(client(url).request({ method: 'GET', path: '/', headers: { 'X-Vault-Token': 'a\r\nX-Evil: 1' }, timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
      expect(connections()).toBe(0);
    });
  });

  describe('connections', () => {
    it('many requests in flight share at most maxConnections kept-alive connections', async () => {
      const { url, connections } = await serve((s, head) => {
        const path = head.split(' ')[1];
        setTimeout(() => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`), 2);
      });
      const c = client(url, 3);
      const bodies = await Promise.all(Array.from({ length: 30 }, (_, i) => text(c, `/p${i}`)));
      expect(bodies).toEqual(Array.from({ length: 30 }, (_, i) => `/p${i}`));
      expect(connections()).toBe(3);
    });

    it('Connection: close is honoured: the next request opens a new connection', async () => {
      const { url, connections } = await serve((s) => { s.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'); s.end(); });
      const c = client(url);
      expect(await text(c)).toBe('ok');
      expect(await text(c)).toBe('ok');
      expect(connections()).toBe(2);
    });

    it('a kept-alive connection the server closed while idle is replaced, not failed', async () => {
      const { url, connections } = await serve((s) => { s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'); setTimeout(() => s.end(), 5); });
      const c = client(url);
      expect(await text(c)).toBe('ok');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await text(c)).toBe('ok');
      expect(connections()).toBe(2);
    });

    it('no answer within the time limit: ETIMEDOUT', async () => {
      const { url } = await serve(() => {});
      await expect(get(client(url), '/', 200)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    });

    it('a request waiting for a busy connection gives up at its own time limit, unsent; the queue goes on', async () => {
      // The one connection is held by a slow answer (600 ms): a request with 150 ms waits for
      // it and fails at 150 ms (not when the connection frees, not sent with 1 ms left); a
      // request with more time is served once the connection is free.
      let answered = 0;
      const { url } = await serve((s) => { setTimeout(() => { answered++; s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'); }, 600); });
      const c = client(url, 1);
      const slow = get(c, '/slow', 5000);
      const began = Date.now();
      const hurried = get(c, '/hurried', 150).catch((error: HttpError) => ({ error, after: Date.now() - began }));
      const patient = get(c, '/patient', 5000);
      const failed = (await hurried) as { error: HttpError; after: number };
      expect(failed.error.code).toBe('ETIMEDOUT');
      expect(failed.error.message).toMatch(/no connection free within the time limit/);
      expect(failed.after).toBeLessThan(550);
      expect((await slow).body.toString()).toBe('ok');
      expect((await patient).body.toString()).toBe('ok');
      expect(answered).toBe(2);
      await expect(get(c, '/none', 0)).rejects.toMatchObject({ code: 'ETIMEDOUT', message: 'no time left to send the request' });
    });

    it('nothing listening: ECONNREFUSED', async () => {
      const { url } = await serve(() => {});
      servers.pop()?.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      await expect(get(client(url))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });
  });

  describe('TLS', () => {
    const pki = makePki();
    const server = pki.server;

    it('verifies the server against the CA given, and sends SNI for a host name', async () => {
      let sni: string | undefined;
      const tlsServer = createTlsServer({ cert: server.cert, key: server.key }, (s) => {
        sni = (s as unknown as { servername?: string }).servername;
        s.on('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
      });
      servers.push(tlsServer as unknown as Server);
      await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
      const { port } = tlsServer.address() as { port: number };
      const c = new HttpClient(new URL(`https://localhost:${port}`), { ca: pki.ca.cert, rejectUnauthorized: true }, 2);
      clients.push(c);
      expect(await text(c)).toBe('ok');
      expect(sni).toBe('localhost');
      const other = new HttpClient(new URL(`https://localhost:${port}`), { ca: pki.otherCa.cert, rejectUnauthorized: true }, 2);
      clients.push(other);
      await expect(get(other)).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    });

    it('a server that drops the connection during the handshake: the error says so', async () => {
      const raw = createServer((s) => { s.once('data', () => s.resetAndDestroy()); });
      servers.push(raw);
      await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
      const { port } = raw.address() as { port: number };
      const c = new HttpClient(new URL(`https://127.0.0.1:${port}`), { ca: pki.ca.cert, rejectUnauthorized: true }, 1);
      clients.push(c);
      const error = (await get(c).catch((e: HttpError) => e)) as HttpError;
      expect(error.code).toBe('ECONNRESET');
      expect(error.duringHandshake).toBe(true);
    });
  });
});

// The same failures and events from the addon's connections as from node:net's.
describe('the addon\'s TCP, next to node:net', () => {
  type Outcome = { events: string[]; error?: Record<string, unknown>; data: Buffer };
  /** Connects with `open`, sends `send`, and records what happens until 'close'. */
  const run = (open: () => StreamSocket, send?: Buffer, destroyAfterConnect?: Error) => new Promise<Outcome>((resolve) => {
    const socket = open();
    const out: Outcome = { events: [], data: Buffer.alloc(0) };
    socket.on('connect', () => {
      out.events.push('connect');
      if (send) socket.write(send);
      if (destroyAfterConnect) socket.destroy(destroyAfterConnect);
    });
    socket.on('data', (chunk) => { out.data = Buffer.concat([out.data, chunk]); });
    socket.on('end', () => out.events.push('end'));
    socket.on('error', (e) => {
      out.events.push('error');
      const { code, errno, syscall, address, port, hostname, message } = e as unknown as Record<string, unknown>;
      out.error = { code, errno, syscall, address, port, hostname, message };
    });
    socket.on('close', () => { out.events.push('close'); resolve(out); });
  });
  const both = (host: string, port: number, send?: Buffer, destroyAfterConnect?: Error) => Promise.all([
    run(() => new TcpSocket(tcp, host, port), send, destroyAfterConnect),
    run(() => netConnect({ host, port }).on('end', function (this: Socket) { this.end(); }), send, destroyAfterConnect),
  ]);

  /** A server that echoes what it gets and closes once `length` bytes came. */
  async function echo(length: number): Promise<number> {
    const server = createServer((s) => {
      let got = 0;
      s.on('data', (chunk) => { got += chunk.length; s.write(chunk); if (got >= length) s.end(); });
      s.on('error', () => {});
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  it('nothing listening: the same ECONNREFUSED, message, errno, address and port', async () => {
    const port = await echo(1);
    servers.pop()?.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [ours, node] = await both('127.0.0.1', port);
    expect(ours.error).toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect', message: `connect ECONNREFUSED 127.0.0.1:${port}` });
    expect(ours).toEqual(node);
  });

  it('a name that does not resolve: the same ENOTFOUND from getaddrinfo', async () => {
    const [ours, node] = await both('no-such-host.invalid', 80);
    expect(ours.error).toMatchObject({ code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'no-such-host.invalid' });
    expect(ours.events).toEqual(node.events);
    expect(ours.error).toEqual({ ...node.error, errno: undefined });
  });

  it('4 MiB out and back whole, in order, then the server\'s end: the same events', async () => {
    const bytes = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 10)) & 0xff;
    const [ours, node] = await both('127.0.0.1', await echo(bytes.length), bytes);
    expect(ours.data.equals(bytes)).toBe(true);
    expect(ours.events).toEqual(['connect', 'end', 'close']);
    expect(ours.events).toEqual(node.events);
  });

  it('a host name: localhost is looked up and connected to', async () => {
    const port = await echo(2);
    const [ours, node] = await both('localhost', port, Buffer.from('hi'));
    expect(ours.data.toString()).toBe('hi');
    expect(ours.events).toEqual(node.events);
  });

  it('destroyed with an error: that error, then close, and nothing after', async () => {
    const port = await echo(1 << 30);
    const gone = new Error('gone');
    const [ours, node] = await both('127.0.0.1', port, Buffer.from('x'), gone);
    expect(ours.events).toEqual(['connect', 'error', 'close']);
    expect(ours.error?.message).toBe('gone');
    expect(ours.events).toEqual(node.events);
    expect(ours.data.length).toBe(0);
  });
});

// The same outcome of a TLS connection through the addon as through node:tls: success,
// and each failure with its code and words.
describe('the addon\'s TLS, next to node:tls', () => {
  const pki = makePki();
  type Outcome = { body?: string; code?: string; message?: string; reason?: string; duringHandshake?: boolean };
  const outcome = async (native: Native | null, url: URL, options: ConnectionOptions): Promise<Outcome> => {
    (globalThis as { [SLOT]?: unknown })[SLOT] = { native, from: 'test' };
    const before = nativeConnections;
    const c = new HttpClient(url, options, 1);
    try {
      return { body: (await get(c)).body.toString() };
    } catch (error) {
      const { code, message, reason, duringHandshake } = error as HttpError;
      return { code, message, reason, duringHandshake };
    } finally {
      c.close();
      delete (globalThis as { [SLOT]?: unknown })[SLOT];
      // Through the addon when it is given, and only then.
      expect(nativeConnections - before).toBe(native ? 1 : 0);
    }
  };
  // Node's advice for its own command line is left out of init's words.
  const NODE_HINT = '; if the root CA is installed locally, try running Node.js with --use-system-ca';
  const both = async (url: URL, options: ConnectionOptions) => {
    const node = await outcome(null, url, options);
    return [await outcome(counted, url, options), { ...node, ...(node.message ? { message: node.message.replace(NODE_HINT, '') } : {}) }];
  };

  /** A TLS server answering "ok" to every request, and what it saw of its clients. */
  async function tlsServe(options: TlsOptions): Promise<{ url: (host?: string) => URL; peers: string[] }> {
    const peers: string[] = [];
    const server = createTlsServer(options, (s) => {
      const peer = s.getPeerCertificate();
      peers.push(peer && 'subject' in peer && peer.subject ? String(peer.subject.CN) : '');
      s.on('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
      s.on('error', () => {});
    });
    server.on('tlsClientError', () => {});
    servers.push(server as unknown as Server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { url: (host = '127.0.0.1') => new URL(`https://${host}:${port}`), peers };
  }
  const trusted = { ca: pki.ca.cert, rejectUnauthorized: true, minVersion: 'TLSv1.2' } as const;

  it('a good server: the answer, by IP address and by name', async () => {
    const { url } = await tlsServe({ cert: pki.server.cert, key: pki.server.key });
    for (const host of ['127.0.0.1', 'localhost']) expect(await both(url(host), trusted)).toEqual([{ body: 'ok' }, { body: 'ok' }]);
  });

  it('a client certificate is presented, chain and key from PEM', async () => {
    const { url, peers } = await tlsServe({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true });
    const app = pki.client('app');
    expect(await both(url(), { ...trusted, cert: app.cert, key: app.key })).toEqual([{ body: 'ok' }, { body: 'ok' }]);
    expect(peers).toEqual(['app', 'app']);
  });

  it.each([
    ['signed by a CA not given', () => ({ cert: pki.server.cert, key: pki.server.key }), { ca: pki.otherCa.cert }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['a CA\'s own certificate, not trusted', () => ({ cert: pki.otherCa.cert, key: pki.otherCa.key }), {}, 'INVALID_PURPOSE'],
    ['expired', () => { const c = pki.client('expired-server', { expired: true }); return { cert: c.cert, key: c.key }; }, {}, undefined],
  ])('a server certificate %s: the same code and words', async (_what, server, options, code) => {
    const { url } = await tlsServe(server());
    const [ours, node] = await both(url(), { ...trusted, ...options });
    expect(ours).toEqual(node);
    if (code) expect(ours.code).toBe(code);
    expect(ours.code).toBeTruthy();
  });

  it('a name or address the certificate does not have: ERR_TLS_CERT_ALTNAME_INVALID, worded as node:tls', async () => {
    const { url } = await tlsServe({ cert: pki.server.cert, key: pki.server.key });
    for (const options of [{ servername: 'vault.example.com' }, { servername: '127.0.0.2' }]) {
      const [ours, node] = await both(url(), { ...trusted, ...options });
      expect(ours.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
      expect(ours).toEqual(node);
    }
  });

  it('not verifying (rejectUnauthorized: false) connects to any server, as node:tls does', async () => {
    const { url } = await tlsServe({ cert: pki.otherCa.cert, key: pki.otherCa.key });
    expect(await both(url(), { ...trusted, rejectUnauthorized: false })).toEqual([{ body: 'ok' }, { body: 'ok' }]);
  });

  it('https:// to a plain-HTTP server: the same OpenSSL reason', async () => {
    // As Node's HTTP server answers bytes that are not HTTP.
    const plain = createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'));
      s.on('error', () => {});
    });
    servers.push(plain);
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const [ours, node] = await both(new URL(`https://127.0.0.1:${(plain.address() as { port: number }).port}`), trusted);
    expect(ours.code).toMatch(/^ERR_SSL_/);
    expect([ours.code, ours.reason]).toEqual([node.code, node.reason]);
  });

  it('a server that requires a client certificate and gets none: the same TLS alert', async () => {
    const { url } = await tlsServe({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true });
    const [ours, node] = await both(url(), trusted);
    expect(ours.code).toMatch(/^ERR_SSL_.*CERTIFICATE_REQUIRED$|^ECONNRESET$/);
    expect([ours.code, ours.reason]).toEqual([node.code, node.reason]);
  });
});
