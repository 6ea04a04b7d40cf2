// Issued certificates against the Vault test server's PKI engine (real X.509 from openssl,
// signed by a CA made here): issued, written with their modes, reused from disk, rotated at
// the configured point, kept when Vault fails, and the expiry reported once.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLog } from '../../src/log';
import { ManualClock, realClock } from '../../src/lifetime/clock';
import { CertificateLifetime, type CertificateSpec, type Issue, onDisk, rotationTime } from '../../src/lifetime/certificate';
import type { Reporter } from '../../src/lifetime/lifetime';
import { LifetimeStage } from '../../src/lifetime/stage';
import { VaultClient } from '../../src/secrets/vault/client';
import { vaultIssue } from '../../src/secrets/vault/pki';
import { vaultSettings } from '../../src/secrets/vault/settings';
import { makePki } from '../support/certs';
import { startVault, type PkiEngine, type VaultServer } from '../support/vault-server';

let vault: VaultServer;
let engine: PkiEngine;
let dir: string;
const log = createLog('error');

beforeAll(async () => {
  vault = await startVault();
  engine = vault.enablePki('pki', { ca: makePki().ca });
  engine.addRole('web', { allowedDomains: ['example.com'], allowSubdomains: true, keyType: 'ec', notBeforeDuration: 0 });
  engine.addRole('short', { allowAnyName: true, keyType: 'ec', maxTtl: '3s', notBeforeDuration: 0 });
});
afterAll(async () => vault.stop());
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function client(): VaultClient {
  const c = new VaultClient(vaultSettings({ VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken }), Date.now() + 10_000, log);
  c.setToken(vault.rootToken);
  return c;
}

const call = (method: 'POST', path: string, body: object) => client().call(method, path, { body });

function spec(overrides: Partial<CertificateSpec> = {}): CertificateSpec {
  dir = mkdtempSync(join(tmpdir(), 'sesame-cert-'));
  return {
    name: 'web', path: 'pki/issue/web', commonName: 'web.example.com', altNames: ['api.example.com'], ipSans: ['127.0.0.1'], ttlSeconds: 3600,
    certFile: join(dir, 'tls/web.crt'), keyFile: join(dir, 'tls/web.key'), caFile: join(dir, 'tls/ca.crt'), keyMode: 0o600, rotateAt: 2 / 3, origin: 'test', ...overrides,
  };
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('the PKI engine of the test server', () => {
  it('answers pki/issue/ROLE in the documented shape, with a real certificate for the names asked', async () => {
    const data = await vaultIssue(call)('pki/issue/web', { common_name: 'web.example.com', alt_names: 'api.example.com', ip_sans: '127.0.0.1', ttl: '90s' });
    expect(Object.keys(data).sort()).toEqual(['ca_chain', 'certificate', 'expiration', 'issuing_ca', 'private_key', 'private_key_type', 'serial_number']);
    const x509 = new X509Certificate(data.certificate);
    expect(x509.subject).toBe('CN=web.example.com');
    expect(x509.subjectAltName).toBe('DNS:web.example.com, DNS:api.example.com, IP Address:127.0.0.1');
    expect(x509.verify(new X509Certificate(makePki().ca.cert).publicKey)).toBe(true);
    expect(Date.parse(x509.validTo) - Date.parse(x509.validFrom)).toBeGreaterThanOrEqual(89_000);
    expect(data.expiration).toBe(Math.floor(Date.parse(x509.validTo) / 1000));
    expect(data.serial_number).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2})+$/);
    expect(data.private_key).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
    expect(data.private_key_type).toBe('ec');
    expect(data.ca_chain).toEqual([makePki().ca.cert.trim()]);
  });

  it('refuses names the role does not allow and unknown roles with 400', async () => {
    await expect(vaultIssue(call)('pki/issue/web', { common_name: 'evil.org' })).rejects.toThrow(/400 .*common name evil.org not allowed by this role/);
    await expect(vaultIssue(call)('pki/issue/nope', { common_name: 'web.example.com' })).rejects.toThrow(/400 .*unknown role: nope/);
  });
});

/** A reporter that notes what it is told. */
function recorder() {
  const told: string[] = [];
  const updates: Array<Map<string, Buffer>> = [];
  const reporter: Reporter = {
    log,
    update: (values) => { told.push('update'); updates.push(new Map(values)); },
    failed: (_why, retryInMs) => told.push(`failed ${retryInMs}`),
    expired: () => told.push('expired'),
  };
  return { told, updates, reporter };
}

describe('a certificate lifetime', () => {
  it('issues at start and writes key 0600, certificate and chain 0644; a second start reuses it without a request', async () => {
    const s = spec();
    const before = engine.issued.length;
    const first = new CertificateLifetime(s, { issue: vaultIssue(call), log });
    expect(await first.prepare()).toBe('issued');
    expect(engine.issued.length).toBe(before + 1);
    expect([mode(s.keyFile), mode(s.certFile), mode(s.caFile as string)]).toEqual(['600', '644', '644']);
    const x509 = new X509Certificate(readFileSync(s.certFile));
    expect(x509.checkPrivateKey(createPrivateKey(readFileSync(s.keyFile)))).toBe(true);
    expect(readFileSync(s.caFile as string, 'utf8').trim()).toBe(makePki().ca.cert.trim());
    expect([...first.values().keys()]).toEqual([`file:${s.certFile}`, `file:${s.keyFile}`, `file:${s.caFile}`]);

    const again = new CertificateLifetime(s, { issue: vaultIssue(call), log });
    expect(await again.prepare()).toBe('reused');
    expect(engine.issued.length).toBe(before + 1);
    expect(again.held?.serial).toBe(x509.serialNumber.toLowerCase());
  });

  it('keeps the owner a rewritten file has', async () => {
    const s = spec();
    const life = new CertificateLifetime(s, { issue: vaultIssue(call), log });
    await life.prepare();
    chownSync(s.keyFile, 4321, 4322);
    writeFileSync(s.certFile, 'not a certificate');
    await new CertificateLifetime(s, { issue: vaultIssue(call), log }).prepare();
    expect([statSync(s.keyFile).uid, statSync(s.keyFile).gid, mode(s.keyFile)]).toEqual([4321, 4322, '600']);
  });

  it('does not reuse a certificate for other names, with a foreign key, or past its rotation point', async () => {
    const s = spec();
    await new CertificateLifetime(s, { issue: vaultIssue(call), log }).prepare();
    expect('x509' in onDisk(s, Date.now())).toBe(true);
    expect(onDisk({ ...s, altNames: ['other.example.com'] }, Date.now())).toEqual({ why: expect.stringContaining('lacks other.example.com') });
    expect(onDisk({ ...s, commonName: 'www.example.com' }, Date.now())).toEqual({ why: expect.stringContaining('not "www.example.com"') });
    expect(onDisk(s, Date.now() + 2_500_000)).toEqual({ why: expect.stringContaining('past 67% of its validity') });
    writeFileSync(s.keyFile, makePki().client('x').key);
    expect(onDisk(s, Date.now())).toEqual({ why: expect.stringContaining('does not hold the key') });
  });

  it('rotates at about 2/3 of the validity, with real time and a 3 s certificate, and the stage sees one change per rotation', async () => {
    const s = spec({ path: 'pki/issue/short', ttlSeconds: 3, altNames: [], ipSans: [] });
    const life = new CertificateLifetime(s, { issue: vaultIssue(call), log });
    await life.prepare();
    const firstSerial = life.held?.serial;
    const events: string[][] = [];
    const stage = new LifetimeStage([life], life.values(), { clock: realClock, log, quietMs: 10, maxWaitMs: 40, splayMs: 0, expiry: 'keep' });
    stage.start((event) => void events.push([...event.changed.keys()]), () => {});
    await new Promise((r) => setTimeout(r, 4500));
    stage.stop();
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]).toEqual([`file:${s.certFile}`, `file:${s.keyFile}`]); // the CA chain did not change
    expect(life.held?.serial).not.toBe(firstSerial);
    expect(new X509Certificate(readFileSync(s.certFile)).serialNumber.toLowerCase()).toBe(life.held?.serial);
  });
});

describe('rotation on the one clock (ManualClock)', () => {
  it('keeps the current certificate while Vault fails, backs off from 10 s, never past expiry, and reports the expiry once', async () => {
    const s = spec({ ttlSeconds: 600 });
    const real = vaultIssue(call);
    const issued = await real('pki/issue/web', { common_name: s.commonName, alt_names: 'api.example.com', ip_sans: '127.0.0.1', ttl: '600s' });
    const notAfter = Date.parse(new X509Certificate(issued.certificate).validTo);
    const clock = new ManualClock(Date.now());
    let calls = 0;
    let failing = false;
    const attempts: number[] = [];
    const issue: Issue = async () => {
      calls++;
      attempts.push(clock.now());
      if (failing) throw new Error('Vault is sealed');
      return issued;
    };
    const life = new CertificateLifetime(s, { issue, log, random: () => 0.5 });
    const { told, reporter } = recorder();
    await life.prepare(clock);
    life.start({ ...reporter, update: (v) => { reporter.update(v); life.stop(); } }, clock);
    expect(calls).toBe(1);
    const rotateAt = life.held?.rotateAtMs as number;
    expect(rotateAt - clock.now()).toBeGreaterThan(390_000);
    expect(rotateAt - clock.now()).toBeLessThan(410_000);
    failing = true;
    await clock.advance(rotateAt - clock.now());
    expect(calls).toBe(2);
    const keep = readFileSync(s.certFile, 'utf8');
    await clock.advance(notAfter - clock.now() + 1);
    // Backoff: 10 s, 20 s, 40 s, ... (random 0.5: no jitter), cut before the end.
    const gaps = attempts.slice(1).map((t, i, a) => (i ? t - a[i - 1] : 0)).slice(1);
    expect(gaps.slice(0, 3)).toEqual([10_000, 20_000, 40_000]);
    expect(attempts.at(-1)).toBeLessThanOrEqual(notAfter);
    expect(readFileSync(s.certFile, 'utf8')).toBe(keep);
    expect(told.filter((t) => t === 'expired')).toEqual(['expired']);
    expect(told[0]).toBe('failed 10000');
    // Keeps trying after the expiry (for expiry policy keep), and reports the expiry once.
    await clock.advance(1_000_000);
    expect(told.filter((t) => t === 'expired')).toEqual(['expired']);
    failing = false;
    // (The one certificate at hand is long expired by then: the update stops it.)
    await clock.advance(300_000);
    expect(told.at(-1)).toBe('update');
    expect(clock.pending).toBe(0);
  });

  it('places the rotation at the fraction of the lifespan, ±3%, never sooner than 1 s', () => {
    expect(rotationTime(0, 300_000, 2 / 3, 0, () => 0.5)).toBe(200_000);
    expect(rotationTime(0, 300_000, 2 / 3, 0, () => 0)).toBeCloseTo(191_000, -1);
    expect(rotationTime(0, 300_000, 2 / 3, 0, () => 1)).toBeCloseTo(209_000, -1);
    expect(rotationTime(0, 300_000, 0.9, 200_000, () => 0.5)).toBe(270_000);
    expect(rotationTime(0, 300_000, 0.9, 299_500, () => 0.5)).toBe(300_500);
    expect(rotationTime(0, 10_000, 0.5, 9_000, () => 0.5)).toBe(10_000);
  });
});
