// The test PKI: what the certificates say, and that Node's TLS stack (the one sesame uses)
// accepts and refuses them the way a real mutual-TLS deployment would.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki, type Credential } from '../support/certs';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

const x509 = (c: Credential) => new X509Certificate(c.cert);

describe('makePki', () => {
  const pki = makePki();

  it('returns the same PKI within a process, and is fast', () => {
    expect(makePki()).toBe(pki);
    const started = performance.now();
    const dir = mkdtempSync(join(tmpdir(), 'sesame-pki-test-'));
    try {
      const fresh = makePki({ dir });
      fresh.client('timing');
      // CA, other CA, server and one client: four openssl runs.
      expect(performance.now() - started).toBeLessThan(500);
      expect(fresh.dir).toBe(dir);
      expect(fresh.ca.cert).not.toBe(pki.ca.cert);
      expect(makePki({ dir })).toBe(fresh);
      expect(() => makePki({ dir, serverHosts: ['example.test'] })).toThrow(/already holds/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes each credential both as PEM text and as files; keys are private', () => {
    for (const c of [pki.ca, pki.otherCa, pki.server, pki.client('app')]) {
      expect(c.cert).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
      expect(c.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(existsSync(c.certPath) && existsSync(c.keyPath)).toBe(true);
      expect(c.certPath.startsWith(pki.dir) && c.keyPath.startsWith(pki.dir)).toBe(true);
      expect(statSync(c.keyPath).mode & 0o077).toBe(0);
    }
  });

  it('uses ECDSA P-256 keys throughout', () => {
    for (const c of [pki.ca, pki.otherCa, pki.server, pki.client('app'), pki.client('app', { expired: true })]) {
      const key = x509(c).publicKey;
      expect(key.asymmetricKeyType).toBe('ec');
      expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    }
  });

  it('makes two unrelated CAs', () => {
    expect(x509(pki.ca).ca).toBe(true);
    expect(x509(pki.otherCa).ca).toBe(true);
    expect(x509(pki.ca).subject).not.toBe(x509(pki.otherCa).subject);
    expect(x509(pki.ca).verify(x509(pki.otherCa).publicKey)).toBe(false);
  });

  it('makes a server cert for 127.0.0.1, ::1 and localhost, signed by the CA', () => {
    const server = x509(pki.server);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(x509(pki.ca))).toBe(true);
    expect(server.verify(x509(pki.ca).publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.keyUsage).toEqual([SERVER_AUTH]);
  });

  it('makes client certs with the given CN, optionally a SPIFFE URI SAN', () => {
    const app = x509(pki.client('app'));
    expect(app.subject).toBe('CN=app');
    expect(app.subjectAltName).toBeUndefined();
    expect(app.keyUsage).toEqual([CLIENT_AUTH]);
    expect(app.verify(x509(pki.ca).publicKey)).toBe(true);

    const spiffe = x509(pki.client('app', { spiffe: 'spiffe://example.org/ns/prod/sa/app' }));
    expect(spiffe.subject).toBe('CN=app');
    expect(spiffe.subjectAltName).toBe('URI:spiffe://example.org/ns/prod/sa/app');
    expect(spiffe.serialNumber).not.toBe(app.serialNumber);
  });

  it('caches client certs per CN and options', () => {
    expect(pki.client('app')).toBe(pki.client('app'));
    expect(pki.client('app', {})).toBe(pki.client('app'));
    expect(pki.client('app', { expired: true })).not.toBe(pki.client('app'));
    expect(pki.client('other')).not.toBe(pki.client('app'));
  });

  it('makes an expired client cert, signed by the real CA', () => {
    const expired = x509(pki.client('app', { expired: true }));
    expect(expired.subject).toBe('CN=app');
    expect(new Date(expired.validTo).toISOString()).toBe('2020-01-02T00:00:00.000Z');
    expect(expired.verify(x509(pki.ca).publicKey)).toBe(true);
  });

  it('makes a client cert signed by the unrelated CA', () => {
    const stranger = x509(pki.client('app', { untrusted: true }));
    expect(stranger.subject).toBe('CN=app');
    expect(stranger.verify(x509(pki.otherCa).publicKey)).toBe(true);
    expect(stranger.verify(x509(pki.ca).publicKey)).toBe(false);
  });

  it('refuses names openssl would misread', () => {
    expect(() => pki.client('a/CN=b')).toThrow(/unsupported client CN/);
    expect(() => pki.client('app', { spiffe: 'spiffe://x,DNS:evil' })).toThrow(/unsupported URI SAN/);
  });
});

// A strict mutual-TLS server (rejectUnauthorized: true): the baseline every consumer of these
// certs relies on.
describe('the certificates over mutual TLS', () => {
  const pki = makePki();
  let server: https.Server;
  let port: number;

  beforeAll(async () => {
    server = https.createServer({ key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      res.end((req.socket as TLSSocket).getPeerCertificate().subject.CN);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function get(options: { client?: Credential; ca?: string; host?: string; servername?: string }): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.get(
        {
          host: options.host ?? '127.0.0.1',
          port,
          servername: options.servername,
          ca: options.ca ?? pki.ca.cert,
          cert: options.client?.cert,
          key: options.client?.key,
          agent: false,
        },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk));
          res.on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
    });
  }

  it('connects with a client cert from the CA, by IP and by name', async () => {
    expect(await get({ client: pki.client('app') })).toBe('app');
    expect(await get({ client: pki.client('app'), host: 'localhost' })).toBe('app');
  });

  it('carries the SPIFFE URI to the server', async () => {
    expect(await get({ client: pki.client('spiffe-app', { spiffe: 'spiffe://example.org/app' }) })).toBe('spiffe-app');
  });

  it('is refused without a client cert, with an expired one, or with one from the other CA', async () => {
    await expect(get({})).rejects.toThrow();
    await expect(get({ client: pki.client('app', { expired: true }) })).rejects.toThrow();
    await expect(get({ client: pki.client('app', { untrusted: true }) })).rejects.toThrow();
  });

  it('lets a client that trusts only the other CA refuse the server', async () => {
    // The server sends its chain including our CA (OpenSSL adds it from `ca`), so the client
    // sees a self-signed root it does not trust rather than an unverifiable leaf.
    await expect(get({ client: pki.client('app'), ca: pki.otherCa.cert })).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  });

  it('fails host name verification for a name the server cert does not carry', async () => {
    await expect(get({ client: pki.client('app'), servername: 'vault.example.com' })).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});
