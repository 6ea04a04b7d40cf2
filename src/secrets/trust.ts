// Which certificate authorities a TLS client of init trusts when none is given: the
// system's store, found as Go's crypto/x509 finds it (what the vault and bao CLIs trust),
// else the public CAs built into init. Every TLS client of init that checks its server
// (Vault, Keywhiz) passes its CAs explicitly: init runs with --use-openssl-ca (build.mjs),
// under which Node's default store is OpenSSL's, not its bundled list. Only the readiness
// probes over https use that default, and they check no certificate.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, InitError } from '../exit-codes';

const configError = (message: string) => new InitError(message, EXIT.CONFIG);

export const PEM = '-----BEGIN CERTIFICATE-----';

/** Every regular file of `dir` that holds a PEM certificate (sorted, for a stable order). */
export function pemFilesOf(dir: string, variable: string | undefined): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (error) {
    if (variable) throw configError(`${variable}=${dir}: ${(error as Error).message}`);
    return [];
  }
  const out: Buffer[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (!statSync(path).isFile()) continue;
      const content = readFileSync(path);
      if (content.includes(PEM)) out.push(content);
    } catch {
      /* a dangling link or an unreadable file: skipped, as Go's loader does */
    }
  }
  return out;
}

/**
 * The system's trust store, found as Go's crypto/x509 finds it on Linux (root_linux.go,
 * root_unix.go), which is what the `vault` and `bao` CLIs trust when no CA is given:
 * SSL_CERT_FILE, else the first bundle of the distributions' usual paths that exists; plus
 * every certificate in SSL_CERT_DIR (colon-separated), else in the usual directories. Not
 * Node's own bundled roots, so that a corporate CA the image installed is trusted; those
 * only when the image has no store at all (FROM scratch), where they are what a
 * ca-certificates package would hold.
 */
export const SYSTEM_CA_FILES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Gentoo, Arch
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL 6
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS, RHEL 7
  '/etc/ssl/cert.pem', // Alpine
];
export const SYSTEM_CA_DIRS = ['/etc/ssl/certs', '/etc/pki/tls/certs'];

export function systemTrust(env: NodeJS.ProcessEnv): { ca: Buffer[]; source: string } {
  const ca: Buffer[] = [];
  const from: string[] = [];
  const files = env.SSL_CERT_FILE ? [env.SSL_CERT_FILE] : SYSTEM_CA_FILES;
  for (const file of files) {
    try {
      ca.push(readFileSync(file));
      from.push(env.SSL_CERT_FILE ? `SSL_CERT_FILE=${file}` : file);
      break;
    } catch {
      /* the next one */
    }
  }
  const dirs = env.SSL_CERT_DIR ? env.SSL_CERT_DIR.split(':').filter(Boolean) : SYSTEM_CA_DIRS;
  for (const dir of dirs) {
    const pems = pemFilesOf(dir, undefined);
    if (pems.length) {
      ca.push(...pems);
      from.push(env.SSL_CERT_DIR ? `SSL_CERT_DIR=${dir}` : dir);
    }
  }
  if (ca.some((b) => b.includes(PEM))) return { ca, source: `the system's CAs (${from.join(', ')})` };
  const { rootCertificates } = require('node:tls') as typeof import('node:tls');
  return { ca: rootCertificates.map((pem) => Buffer.from(pem)), source: 'the public CAs built into init (the image has no CA store)' };
}
