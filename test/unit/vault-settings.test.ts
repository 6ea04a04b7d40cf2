// Vault settings as the `vault` and `bao` CLIs read them: BAO_X over VAULT_X setting by
// setting (even when empty), and the system trust store found as Go's crypto/x509 finds it.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliSetting, vaultSettings } from '../../src/secrets/vault/settings';
import { systemTrust } from '../../src/secrets/trust';
import { makePki } from '../support/certs';

const dir = mkdtempSync(join(tmpdir(), 'sesame-vault-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pki = makePki();

describe('cliSetting', () => {
  it('BAO_X wins when set, even empty; else VAULT_X', () => {
    expect(cliSetting({ VAULT_ADDR: 'v', BAO_ADDR: 'b' }, 'ADDR')).toEqual({ variable: 'BAO_ADDR', value: 'b' });
    expect(cliSetting({ VAULT_TOKEN: 'v', BAO_TOKEN: '' }, 'TOKEN')).toEqual({ variable: 'BAO_TOKEN', value: '' });
    expect(cliSetting({ VAULT_NAMESPACE: 'v' }, 'NAMESPACE')).toEqual({ variable: 'VAULT_NAMESPACE', value: 'v' });
    expect(cliSetting({}, 'CACERT')).toEqual({ variable: 'VAULT_CACERT', value: undefined });
  });

  it('vaultSettings mixes the families setting by setting, and names the variable used', () => {
    const s = vaultSettings({ BAO_ADDR: 'http://bao:8200', VAULT_ADDR: 'http://vault:8200', VAULT_TOKEN: 't', VAULT_NAMESPACE: 'a', BAO_NAMESPACE: 'b' });
    expect([s.address, s.addressVariable, s.family, s.namespace]).toEqual(['http://bao:8200', 'BAO_ADDR', 'BAO', 'b']);
    expect(s.auth).toEqual({ method: 'token', token: 't', source: 'VAULT_TOKEN' });
  });

  it('a half client certificate is named in the family it came from', () => {
    expect(() => vaultSettings({ BAO_ADDR: 'http://x', BAO_TOKEN: 't', BAO_CLIENT_CERT: '/c' })).toThrow('BAO_CLIENT_CERT and BAO_CLIENT_KEY go together: set both or neither');
  });

  it('VAULT_CACERT_BYTES / BAO_CACERT_BYTES: PEM text', () => {
    const s = vaultSettings({ VAULT_ADDR: 'https://x', VAULT_TOKEN: 't', BAO_CACERT_BYTES: pki.ca.cert.toString() });
    expect(s.tls.caSource).toBe('BAO_CACERT_BYTES');
    expect(s.tls.ca?.map(String)).toEqual([pki.ca.cert.toString()]);
    expect(() => vaultSettings({ VAULT_ADDR: 'https://x', VAULT_TOKEN: 't', VAULT_CACERT_BYTES: 'not a pem' })).toThrow('VAULT_CACERT_BYTES: not a PEM certificate');
  });
});

describe('systemTrust', () => {
  it('SSL_CERT_FILE replaces the bundle list; SSL_CERT_DIR (colon-separated) replaces the directories', () => {
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, pki.ca.cert);
    const certs = join(dir, 'certs');
    const empty = join(dir, 'empty');
    for (const d of [certs, empty]) mkdirSync(d);
    writeFileSync(join(certs, 'other.pem'), pki.otherCa.cert);
    writeFileSync(join(certs, 'README'), 'not a certificate');
    symlinkSync(join(dir, 'nowhere.pem'), join(certs, 'dangling.pem'));
    const t = systemTrust({ SSL_CERT_FILE: bundle, SSL_CERT_DIR: `${empty}:${certs}` });
    expect(t.source).toBe(`the system's CAs (SSL_CERT_FILE=${bundle}, SSL_CERT_DIR=${certs})`);
    expect(t.ca.map(String)).toEqual([pki.ca.cert.toString(), pki.otherCa.cert.toString()]);
  });

  it('no store at all: the public CAs built into init', () => {
    const t = systemTrust({ SSL_CERT_FILE: join(dir, 'none.pem'), SSL_CERT_DIR: join(dir, 'none') });
    expect(t.source).toBe('the public CAs built into init (the image has no CA store)');
    expect(t.ca.length).toBeGreaterThan(50);
  });

  it('is read only for https addresses without a CA', () => {
    expect(vaultSettings({ VAULT_ADDR: 'http://x', VAULT_TOKEN: 't' }).tls.ca).toBeUndefined();
    const bundle = join(dir, 'bundle-https.pem');
    writeFileSync(bundle, pki.ca.cert);
    const s = vaultSettings({ VAULT_ADDR: 'https://x', VAULT_TOKEN: 't', SSL_CERT_FILE: bundle, SSL_CERT_DIR: join(dir, 'none') });
    expect(s.tls.caSource).toBe(`the system's CAs (SSL_CERT_FILE=${bundle})`);
  });
});
