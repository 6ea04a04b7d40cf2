// The Keywhiz test server, exercised the way sesame's Keywhiz provider will use it: Node's
// https module, real mutual TLS with the generated certificates. Shapes are compared field by
// field (and in order) with Keywhiz's own JSON fixtures.
import { existsSync, readFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makePki, type Credential } from '../support/certs';
import { startKeywhiz, type KeywhizOptions, type KeywhizServer } from '../support/keywhiz-server';

const pki = makePki();
const app = () => pki.client('app');

// square/keywhiz api/src/test/resources/fixtures/ (the last release: checksum and updateDate,
// no isVersioned). Quoted from Keywhiz's repository.
const CURRENT_FIXTURES = {
  'secretDeliveryResponse.json': {
    name: 'Database_Password',
    secret: 'YXNkZGFz',
    secretLength: 6,
    checksum: 'database_checksum',
    creationDate: '2011-09-29T15:46:00.000Z',
    updateDate: '2012-09-29T16:34:00.000Z',
  },
  'secretDeliveryResponseWithMetadata.json': {
    name: 'Nobody_PgPass',
    secret: 'YXNkZGFz',
    secretLength: 6,
    checksum: 'nobody_checksum',
    creationDate: '2011-09-29T15:46:00.000Z',
    updateDate: '2011-10-29T15:46:00.000Z',
    mode: '0400',
    owner: 'nobody',
  },
};

// keysync's fixtures (square/keysync, fixtures/: its copies of the old server's shapes). Kept
// here so the tests run from any checkout; the test below checks them against the files when
// SESAME_KEYWHIZ_FIXTURES names a directory holding them.
const OLD_FIXTURES = {
  'secretDeliveryResponse.json': { name: 'Database_Password', secret: 'YXNkZGFz', secretLength: 6, creationDate: '2011-09-29T15:46:00.000Z', isVersioned: false },
  'secretDeliveryResponseWithMetadata.json': {
    name: 'Nobody_PgPass',
    secret: 'YXNkZGFz',
    secretLength: 6,
    creationDate: '2011-09-29T15:46:00.000Z',
    isVersioned: false,
    mode: '0400',
    owner: 'nobody',
  },
  'secretDeliveryResponseWithVersion.json': {
    name: 'General_Password..0be68f903f8b7d86',
    secret: 'YXNkZGFz',
    secretLength: 6,
    creationDate: '2011-09-29T15:46:00.312Z',
    isVersioned: true,
  },
  'secretsWithBadFilenameOverride.json': [
    {
      name: 'Nobody_PgPass',
      secret: 'YXNkZGFz',
      secretLength: 6,
      creationDate: '2011-09-29T15:46:00.232Z',
      isVersioned: false,
      mode: '0400',
      owner: 'nobody',
      filename: '../../bla',
    },
  ],
};
const SHARED_FIXTURES = process.env.SESAME_KEYWHIZ_FIXTURES ?? '';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed body: JSON under test, so any. */
  json: any;
}

interface CallOptions {
  method?: string;
  /** Client certificate to present; none when omitted. */
  client?: Credential;
  /** A JSON body (object) or raw text; objects get Content-Type: application/json. */
  body?: unknown;
  headers?: Record<string, string>;
  maxVersion?: SecureVersion;
  minVersion?: SecureVersion;
  host?: string;
}

/** One request on a fresh connection (agent: false), so each one does its own TLS handshake. */
function call(kw: KeywhizServer, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: string | undefined;
  if (typeof options.body === 'string') payload = options.body;
  else if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  }
  return new Promise((resolvePromise, reject) => {
    const req = https.request(
      {
        host: options.host ?? '127.0.0.1',
        port: kw.port,
        path,
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        headers,
        ca: pki.ca.cert,
        cert: options.client?.cert,
        key: options.client?.key,
        minVersion: options.minVersion,
        maxVersion: options.maxVersion,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The fixture's keys, values and key order (Jackson writes properties, then metadata). */
function expectSameDocument(actual: unknown, fixture: unknown): void {
  expect(actual).toEqual(fixture);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(fixture));
}

const servers: KeywhizServer[] = [];
async function start(options: Omit<KeywhizOptions, 'pki'>): Promise<KeywhizServer> {
  const kw = await startKeywhiz({ pki, ...options });
  servers.push(kw);
  return kw;
}
afterAll(async () => {
  await Promise.all(servers.map((kw) => kw.stop()));
});

// One server for most tests, shaped like Keywhiz's fixtures.
const STANDARD: Omit<KeywhizOptions, 'pki'> = {
  secrets: {
    Database_Password: { content: 'asddas', checksum: 'database_checksum', createdAt: '2011-09-29T15:46:00Z', updatedAt: '2012-09-29T16:34:00Z' },
    Nobody_PgPass: { content: 'asddas', checksum: 'nobody_checksum', createdAt: '2011-09-29T15:46:00Z', updatedAt: '2011-10-29T15:46:00Z', mode: '0400', owner: 'nobody' },
    'tls.key': { content: Buffer.from([0, 1, 2, 253, 254, 255, 10]), group: 'ssl-cert', filename: 'server.key' },
    unpadded: { content: '12345', unpadded: true },
    'with space': { content: 'spaced' },
    'other-team': { content: 'not yours' },
  },
  clients: {
    app: { secrets: ['Database_Password', 'Nobody_PgPass', 'tls.key', 'unpadded', 'with space'] },
    retired: { secrets: ['Database_Password'], disabled: true },
    'spiffe-app': { secrets: ['Nobody_PgPass'], spiffeId: 'spiffe://example.org/app' },
  },
};

describe('GET /secret/{name}', () => {
  let kw: KeywhizServer;
  beforeAll(async () => {
    kw = await start(STANDARD);
  });

  it('answers the fixture document, field by field', async () => {
    const r1 = await call(kw, '/secret/Database_Password', { client: app() });
    expect(r1.status).toBe(200);
    expect(r1.headers['content-type']).toBe('application/json');
    expectSameDocument(r1.json, CURRENT_FIXTURES['secretDeliveryResponse.json']);

    const r2 = await call(kw, '/secret/Nobody_PgPass', { client: app() });
    expectSameDocument(r2.json, CURRENT_FIXTURES['secretDeliveryResponseWithMetadata.json']);
  });

  it('sends binary content as base64 with its decoded length, and metadata flattened', async () => {
    const r = await call(kw, '/secret/tls.key', { client: app() });
    expect(r.status).toBe(200);
    expect(Buffer.from(r.json.secret, 'base64')).toEqual(Buffer.from([0, 1, 2, 253, 254, 255, 10]));
    expect(r.json.secretLength).toBe(7);
    expect(r.json.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(r.json.group).toBe('ssl-cert');
    expect(r.json.filename).toBe('server.key');
    expect(r.json.metadata).toBeUndefined();
    expect(Object.keys(r.json)).toEqual(['name', 'secret', 'secretLength', 'checksum', 'creationDate', 'updateDate', 'group', 'filename']);
  });

  it('can send base64 without padding (keysync fixture secretWithoutBase64Padding.json)', async () => {
    const r = await call(kw, '/secret/unpadded', { client: app() });
    expect(r.json.secret).toBe('MTIzNDU');
    expect(r.json.secretLength).toBe(5);
    expect(Buffer.from(r.json.secret, 'base64').toString()).toBe('12345');
  });

  it('decodes percent-encoded names', async () => {
    const r = await call(kw, '/secret/with%20space', { client: app() });
    expect(r.status).toBe(200);
    expect(r.json.name).toBe('with space');
  });

  it('answers 403 for a secret that exists but is not assigned to the client', async () => {
    const r = await call(kw, '/secret/other-team', { client: app() });
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toBe('application/json');
    expect(Object.keys(r.json)).toEqual(['code', 'message']);
    expect(r.json.code).toBe(403);
    expect(r.json.message).toMatch(/^Access denied: app at '\/secret\/other-team' by 'Client\{id=\d+, name=app, description=, spiffeId=null, createdAt=ApiDate\[\d+\], createdBy=, updatedAt=ApiDate\[\d+\], updatedBy=, lastSeen=ApiDate\[\d+\], expiration=null, enabled=true, owner=null, automationAllowed=false\}'$/);
  });

  it('every answer, errors included, carries the security headers a real Keywhiz sends', async () => {
    for (const [path, client] of [['/secret/Database_Password', app()], ['/secret/nope', app()], ['/secret/Database_Password', undefined]] as const) {
      const r = await call(kw, path, { client });
      expect(r.headers['x-content-security-policy'], path).toBe("default-src 'self'");
      expect(r.headers['x-xss-protection'], path).toBe('0');
      expect(r.headers['x-content-type-options'], path).toBe('nosniff');
      expect(r.headers['frame-options'], path).toBe('DENY');
      expect(r.headers['x-frame-options'], path).toBe('DENY');
      expect(r.headers['strict-transport-security'], path).toBe('max-age=31536000; includeSubDomains');
    }
  });

  it('answers 404 for a secret that does not exist', async () => {
    const r = await call(kw, '/secret/nope', { client: app() });
    expect(r.status).toBe(404);
    expect(r.text).toBe('{"code":404,"message":"HTTP 404 Not Found"}');
  });

  it('answers 401 without a client certificate, whether or not the secret exists', async () => {
    for (const path of ['/secret/Database_Password', '/secret/nope']) {
      const r = await call(kw, path);
      expect(r.status).toBe(401);
      expect(r.text).toBe('{"code":401,"message":"HTTP 401 Unauthorized"}');
      expect(r.headers['www-authenticate']).toBe('Not authorized as Keywhiz client');
    }
  });

  it('answers 401 to a trusted certificate naming an unknown client', async () => {
    const r = await call(kw, '/secret/Database_Password', { client: pki.client('stranger') });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ code: 401, message: 'HTTP 401 Unauthorized' });
    expect(r.headers['www-authenticate']).toBe('No authorized Client for connection using principal CN=stranger');
  });

  it('answers 401 to a disabled client, even for its own secrets', async () => {
    const r = await call(kw, '/secret/Database_Password', { client: pki.client('retired') });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ code: 401, message: 'HTTP 401 Unauthorized' });
  });
});

describe('GET /secrets', () => {
  let kw: KeywhizServer;
  beforeAll(async () => {
    kw = await start(STANDARD);
  });

  it('lists the assigned secrets without content, with the checksums GET returns', async () => {
    const r = await call(kw, '/secrets', { client: app() });
    expect(r.status).toBe(200);
    expect(r.json.map((s: { name: string }) => s.name)).toEqual(['Database_Password', 'Nobody_PgPass', 'tls.key', 'unpadded', 'with space']);
    expectSameDocument(r.json[1], { ...CURRENT_FIXTURES['secretDeliveryResponseWithMetadata.json'], secret: '', secretLength: 0 });
    for (const listed of r.json) {
      expect(listed.secret).toBe('');
      expect(listed.secretLength).toBe(0);
      const one = await call(kw, `/secret/${encodeURIComponent(listed.name)}`, { client: app() });
      expect(listed.checksum).toBe(one.json.checksum);
    }
  });

  it('lists nothing for a client with no secrets, and 401 without a certificate', async () => {
    kw.setClient('empty', {});
    expect((await call(kw, '/secrets', { client: pki.client('empty') })).json).toEqual([]);
    expect((await call(kw, '/secrets')).status).toBe(401);
  });
});

describe('POST /batchsecret', () => {
  let kw: KeywhizServer;
  beforeAll(async () => {
    kw = await start(STANDARD);
  });

  it('returns every requested secret with content, once each, in the server order', async () => {
    const r = await call(kw, '/batchsecret', { client: app(), body: { secrets: ['Nobody_PgPass', 'Database_Password', 'Nobody_PgPass'] } });
    expect(r.status).toBe(200);
    expect(r.json).toHaveLength(2);
    expectSameDocument(r.json[0], CURRENT_FIXTURES['secretDeliveryResponse.json']);
    expectSameDocument(r.json[1], CURRENT_FIXTURES['secretDeliveryResponseWithMetadata.json']);
  });

  it('is all or nothing: 404 if any secret is missing, even when another is forbidden', async () => {
    const r = await call(kw, '/batchsecret', { client: app(), body: { secrets: ['other-team', 'Database_Password', 'nope'] } });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ code: 404, message: 'HTTP 404 Not Found' });
  });

  it('is all or nothing: 403 if any existing secret is not assigned', async () => {
    const r = await call(kw, '/batchsecret', { client: app(), body: { secrets: ['Database_Password', 'other-team'] } });
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ code: 403, message: "Access denied: app to secret(s) '[other-team]'" });
  });

  it('answers 500 to an empty list (Keywhiz checkArgument(!names.isEmpty()))', async () => {
    const r = await call(kw, '/batchsecret', { client: app(), body: { secrets: [] } });
    expect(r.status).toBe(500);
    expect(r.json.message).toMatch(/^There was an error processing your request\. It has been logged \(ID [0-9a-f]{16}\)\.$/);
  });

  it('answers 400 to a body that is not a BatchSecretRequest', async () => {
    for (const body of ['{"secrets":', '{}', '{"secrets":"Database_Password"}', '{"secrets":[null]}']) {
      const r = await call(kw, '/batchsecret', { client: app(), body, headers: { 'Content-Type': 'application/json' } });
      expect(r.status, body).toBe(400);
      expect(r.json).toEqual({ code: 400, message: 'Unable to process JSON' });
    }
  });

  it('answers 415 without Content-Type: application/json (routing, before authentication)', async () => {
    const r = await call(kw, '/batchsecret', { body: '{"secrets":["Database_Password"]}' });
    expect(r.status).toBe(415);
    expect(r.json).toEqual({ code: 415, message: 'HTTP 415 Unsupported Media Type' });
  });

  it('answers 401 without a client certificate', async () => {
    const r = await call(kw, '/batchsecret', { body: { secrets: ['Database_Password'] } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Not authorized as Keywhiz client');
  });
});

describe('GET /_status and routing', () => {
  let kw: KeywhizServer;
  beforeAll(async () => {
    kw = await start(STANDARD);
  });

  it('answers /_status without a client certificate', async () => {
    const r = await call(kw, '/_status');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'ok', message: 'ok' });
  });

  it('answers 500 "critical" when unhealthy', async () => {
    kw.healthy = false;
    try {
      const r = await call(kw, '/_status', { client: app() });
      expect(r.status).toBe(500);
      expect(r.json).toMatchObject({ status: 'critical', message: 'failing health checks: [manualStatus]' });
    } finally {
      kw.healthy = true;
    }
  });

  it('answers 404 to unknown paths and 405 to wrong methods, before authentication', async () => {
    for (const path of ['/', '/secret/', '/secret/a/b', '/v1/secret/x']) {
      const r = await call(kw, path);
      expect(r.status, path).toBe(404);
      expect(r.json).toEqual({ code: 404, message: 'HTTP 404 Not Found' });
    }
    const r = await call(kw, '/secret/Database_Password', { method: 'DELETE' });
    expect(r.status).toBe(405);
    expect(r.json).toEqual({ code: 405, message: 'HTTP 405 Method Not Allowed' });
    expect(r.headers.allow).toBe('GET,OPTIONS');
    expect((await call(kw, '/batchsecret', { client: app() })).status).toBe(405);
  });

  it('answers 406 when the client accepts no JSON', async () => {
    const r = await call(kw, '/secret/Database_Password', { client: app(), headers: { Accept: 'text/plain' } });
    expect(r.status).toBe(406);
    expect((await call(kw, '/secret/Database_Password', { client: app(), headers: { Accept: 'application/json; q=1, */*' } })).status).toBe(200);
  });

  it('ignores the query string', async () => {
    expect((await call(kw, '/secret/Database_Password?version=1', { client: app() })).status).toBe(200);
  });
});

describe('mutual TLS', () => {
  let kw: KeywhizServer;
  beforeAll(async () => {
    kw = await start(STANDARD);
  });

  it('completes the handshake without a client certificate (wantClientAuth) and answers 401', async () => {
    expect((await call(kw, '/secret/Database_Password')).status).toBe(401);
    expect(kw.rejectedCerts).toEqual([]);
  });

  // Keywhiz (JSSE) fails these handshakes with a certificate_unknown alert; here the server
  // drops the connection before its Finished goes out. Either way: no HTTP answer at all.
  it('fails the handshake for a client certificate from another CA', async () => {
    const requests = kw.requests.length;
    const error = call(kw, '/secret/Database_Password', { client: pki.client('app', { untrusted: true }) });
    await expect(error).rejects.toMatchObject({ code: 'ECONNRESET', message: expect.stringMatching(/before secure TLS connection was established/) });
    expect(kw.rejectedCerts.at(-1)).toEqual({ error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', cn: 'app' });
    expect(kw.requests.length).toBe(requests);
  });

  it('fails the handshake for an expired client certificate, even of a known client', async () => {
    const requests = kw.requests.length;
    await expect(call(kw, '/secret/Database_Password', { client: pki.client('app', { expired: true }) })).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(kw.rejectedCerts.at(-1)).toEqual({ error: 'CERT_HAS_EXPIRED', cn: 'app' });
    expect(kw.requests.length).toBe(requests);
  });

  it('speaks TLS 1.2 only, like keywhiz-development.yaml; TLS 1.3 on request', async () => {
    await expect(call(kw, '/_status', { minVersion: 'TLSv1.3' })).rejects.toMatchObject({ code: 'EPROTO', message: expect.stringMatching(/alert protocol version/) });
    const modern = await start({ ...STANDARD, tls13: true });
    expect((await call(modern, '/secret/Database_Password', { client: app(), minVersion: 'TLSv1.3' })).status).toBe(200);
  });

  it('is reachable as localhost too (the server cert names both)', async () => {
    expect((await call(kw, '/secret/Database_Password', { client: app(), host: 'localhost' })).status).toBe(200);
  });
});

describe('SPIFFE identity (ClientAuthenticator)', () => {
  const spiffeCert = (cn: string) => pki.client(cn, { spiffe: 'spiffe://example.org/app' });

  it('ignores the URI SAN unless configured', async () => {
    const kw = await start(STANDARD);
    expect((await call(kw, '/secret/Nobody_PgPass', { client: spiffeCert('unknown-cn') })).status).toBe(401);
  });

  it('names the client by its SPIFFE ID when configured', async () => {
    const kw = await start({ ...STANDARD, identity: { commonName: false, spiffeId: true } });
    const r = await call(kw, '/secret/Nobody_PgPass', { client: spiffeCert('unknown-cn') });
    expect(r.status).toBe(200);
    expect(kw.requests.at(-1)).toMatchObject({ client: 'spiffe-app', cn: 'unknown-cn', spiffeId: 'spiffe://example.org/app' });
  });

  it('with both on, refuses a certificate whose CN and SPIFFE ID name different clients', async () => {
    const kw = await start({ ...STANDARD, identity: { commonName: true, spiffeId: true } });
    const r = await call(kw, '/secret/Nobody_PgPass', { client: spiffeCert('app') });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe("Input principal's CN and SPIFFE ID correspond to different clients! (cn = app, spiffe = spiffe-app)");
    expect((await call(kw, '/secret/Nobody_PgPass', { client: spiffeCert('spiffe-app') })).status).toBe(200);
    expect((await call(kw, '/secret/Nobody_PgPass', { client: spiffeCert('unknown-cn') })).status).toBe(200);
  });
});

describe('createMissingClients', () => {
  it('adds an unknown client with no secrets: 403 for existing secrets, 404 for missing ones', async () => {
    const kw = await start({ ...STANDARD, createMissingClients: true });
    const newcomer = pki.client('newcomer');
    expect((await call(kw, '/secret/Database_Password', { client: newcomer })).status).toBe(403);
    expect((await call(kw, '/secret/nope', { client: newcomer })).status).toBe(404);
    expect((await call(kw, '/secrets', { client: newcomer })).json).toEqual([]);
  });
});

describe('faults', () => {
  let kw: KeywhizServer;
  beforeAll(async () => {
    kw = await start(STANDARD);
  });
  afterEach(() => {
    kw.faults.length = 0;
  });

  it('answers a status a given number of times, then recovers', async () => {
    kw.faults.push({ path: '/secret/Database_Password', status: 500, times: 1 });
    const first = await call(kw, '/secret/Database_Password', { client: app() });
    expect(first.status).toBe(500);
    expect(first.json).toEqual({ code: 500, message: 'HTTP 500 Internal Server Error' });
    expect((await call(kw, '/secret/Database_Password', { client: app() })).status).toBe(200);
  });

  it('plays a server without /batchsecret, so a client falls back to GET /secret/{name}', async () => {
    for (const status of [404, 405]) {
      kw.faults.length = 0;
      kw.faults.push({ method: 'POST', path: '/batchsecret', status });
      const before = kw.requests.length;
      const batch = await call(kw, '/batchsecret', { client: app(), body: { secrets: ['Database_Password', 'unpadded'] } });
      expect(batch.status).toBe(status);
      expect(batch.json.code).toBe(status);
      if (status === 405) expect(batch.headers.allow).toBeDefined();
      for (const name of ['Database_Password', 'unpadded']) expect((await call(kw, `/secret/${name}`, { client: app() })).status).toBe(200);
      expect(kw.requests.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
        `POST /batchsecret ${status}`,
        'GET /secret/Database_Password 200',
        'GET /secret/unpadded 200',
      ]);
    }
  });

  it('delays answers', async () => {
    kw.faults.push({ path: /^\/secret\//, delayMs: 300 });
    const started = performance.now();
    expect((await call(kw, '/secret/Database_Password', { client: app() })).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('drops the connection with a reset', async () => {
    kw.faults.push({ reset: true, times: 1 });
    await expect(call(kw, '/secret/Database_Password', { client: app() })).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(kw.requests.at(-1)).toMatchObject({ path: '/secret/Database_Password', status: 'reset' });
    expect((await call(kw, '/secret/Database_Password', { client: app() })).status).toBe(200);
  });

  it('stops promptly even with a delayed request in flight', async () => {
    const slow = await start(STANDARD);
    slow.faults.push({ delayMs: 60_000 });
    const pending = call(slow, '/secret/Database_Password', { client: app() });
    await new Promise((r) => setTimeout(r, 100));
    const started = performance.now();
    await slow.stop();
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
  });
});

describe('rotation and the request log', () => {
  it('changes checksum and updateDate when a secret is replaced, keeping creationDate', async () => {
    const kw = await start({ secrets: { s: { content: 'v1', createdAt: '2020-01-01T00:00:00Z', updatedAt: '2020-01-01T00:00:00Z' } }, clients: { app: { secrets: ['s'] } } });
    const before = (await call(kw, '/secret/s', { client: app() })).json;
    kw.setSecret('s', { content: 'v2' });
    const after = (await call(kw, '/secret/s', { client: app() })).json;
    expect(Buffer.from(after.secret, 'base64').toString()).toBe('v2');
    expect(after.checksum).not.toBe(before.checksum);
    expect(after.creationDate).toBe('2020-01-01T00:00:00.000Z');
    expect(after.updateDate > before.updateDate).toBe(true);
    const listed = (await call(kw, '/secrets', { client: app() })).json;
    expect(listed[0].checksum).toBe(after.checksum);
  });

  it('records method, path, certificate names, client, body and status', async () => {
    const kw = await start(STANDARD);
    await call(kw, '/batchsecret', { client: app(), body: { secrets: ['Database_Password'] } });
    await call(kw, '/secret/nope');
    expect(kw.requests).toEqual([
      { method: 'POST', path: '/batchsecret', cn: 'app', spiffeId: undefined, client: 'app', body: { secrets: ['Database_Password'] }, status: 200 },
      { method: 'GET', path: '/secret/nope', cn: undefined, spiffeId: undefined, status: 401 },
    ]);
  });
});

describe("flavor 'old' (the 2015 server: isVersioned, versioned names, no checksum)", () => {
  let kw: KeywhizServer;
  beforeAll(async () => {
    kw = await start({
      flavor: 'old',
      secrets: {
        Database_Password: { content: 'asddas', createdAt: '2011-09-29T15:46:00.000Z' },
        Nobody_PgPass: { content: 'asddas', createdAt: '2011-09-29T15:46:00.000Z', mode: '0400', owner: 'nobody' },
        General_Password: { content: 'asddas', createdAt: '2011-09-29T15:46:00.312Z', version: '0be68f903f8b7d86' },
        Bad_Filename: { content: 'asddas', createdAt: '2011-09-29T15:46:00.232Z', mode: '0400', owner: 'nobody', filename: '../../bla' },
      },
      clients: {
        app: { secrets: ['Database_Password', 'Nobody_PgPass', 'General_Password'] },
        lister: { secrets: ['Bad_Filename'] },
      },
    });
  });

  it('answers the fixture documents, field by field', async () => {
    expectSameDocument((await call(kw, '/secret/Database_Password', { client: app() })).json, OLD_FIXTURES['secretDeliveryResponse.json']);
    expectSameDocument((await call(kw, '/secret/Nobody_PgPass', { client: app() })).json, OLD_FIXTURES['secretDeliveryResponseWithMetadata.json']);
    const versioned = await call(kw, '/secret/General_Password..0be68f903f8b7d86', { client: app() });
    expectSameDocument(versioned.json, OLD_FIXTURES['secretDeliveryResponseWithVersion.json']);
  });

  it('lists in the shape of secretsWithBadFilenameOverride.json, content blanked as /secrets does', async () => {
    const listed = (await call(kw, '/secrets', { client: pki.client('lister') })).json;
    const [fixture] = OLD_FIXTURES['secretsWithBadFilenameOverride.json'];
    expectSameDocument(listed, [{ ...fixture, name: 'Bad_Filename', secret: '', secretLength: 0 }]);
    const one = (await call(kw, '/secret/Bad_Filename', { client: pki.client('lister') })).json;
    expectSameDocument(one, { ...fixture, name: 'Bad_Filename' });
  });

  it('lists versioned secrets by their versioned names', async () => {
    const names = (await call(kw, '/secrets', { client: app() })).json.map((s: { name: string }) => s.name);
    expect(names).toEqual(['Database_Password', 'Nobody_PgPass', 'General_Password..0be68f903f8b7d86']);
  });

  it('finds a versioned secret only by its versioned name; two ".." are a 400', async () => {
    expect((await call(kw, '/secret/General_Password', { client: app() })).status).toBe(404);
    const bad = await call(kw, '/secret/a..b..c', { client: app() });
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ code: 400, message: "Invalid secret name 'a..b..c'" });
  });

  it('has no /batchsecret and no /_status', async () => {
    expect((await call(kw, '/batchsecret', { client: app(), body: { secrets: ['Database_Password'] } })).status).toBe(404);
    expect((await call(kw, '/_status')).status).toBe(404);
  });

  it('refuses SPIFFE identity (added in 2020)', async () => {
    await expect(start({ flavor: 'old', identity: { spiffeId: true } })).rejects.toThrow(/CN only/);
  });
});

describe('fixtures', () => {
  it.skipIf(!SHARED_FIXTURES || !existsSync(SHARED_FIXTURES))('embedded copies match keysync\'s fixture files (skipped unless SESAME_KEYWHIZ_FIXTURES names a directory holding them)', () => {
    for (const [file, embedded] of Object.entries(OLD_FIXTURES)) {
      expect(JSON.parse(readFileSync(join(SHARED_FIXTURES, file), 'utf8')), file).toEqual(embedded);
    }
  });
});
