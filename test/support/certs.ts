// A throwaway PKI for tests, made with the `openssl` CLI (OpenSSL 3.0 or later: Debian's
// `openssl` package). Every key is ECDSA P-256 and every certificate SHA-256-signed, like the
// certificates people actually deploy in front of Vault and Keywhiz, so TLS code is tested
// against real X.509 chains rather than mocks.
//
//   import { makePki } from '../support/certs';
//
//   const pki = makePki();                 // CA + server cert; cached for the whole process
//   https.createServer({ key: pki.server.key, cert: pki.server.cert,
//                        ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false }, ...);
//   const app = pki.client('app');         // client cert, subject CN=app, signed by pki.ca
//   https.get({ host: '127.0.0.1', port, ca: pki.ca.cert, cert: app.cert, key: app.key }, ...);
//   // or hand files to the program under test: app.certPath, app.keyPath, pki.ca.certPath
//
// What there is:
//   pki.ca                 the CA that signs the server and every ordinary client cert
//   pki.server             server cert for 127.0.0.1, ::1 and localhost (IP and DNS SANs)
//   pki.client(cn, opts)   a client cert with subject CN=cn (clientAuth EKU), made on first use
//       { spiffe: 'spiffe://example.org/app' }  adds that URI SAN (Keywhiz's SPIFFE identity)
//       { expired: true }    validity 2020-01-01..2020-01-02, still signed by pki.ca
//       { untrusted: true }  signed by pki.otherCa, a CA nobody trusts
//   pki.otherCa            an unrelated CA (for "wrong CA" tests on either side)
//   pki.dir                where the files live
// Each of these is a Credential: { cert, key } as PEM strings, { certPath, keyPath } as files.
//
// makePki() returns the same PKI on every call within a process, in a temp dir (mode 0700)
// removed at exit or, under vitest, by a later run. makePki({ dir }) writes into dir instead (cached per dir): use it when a
// program running as another user must read the files. makePki({ serverHosts }) changes the
// server cert's names. Keys are mode 0600. Client certs are cached per (cn, options).
// Cost: three openssl runs for the PKI, one per client cert (two for an expired one), a few
// milliseconds each.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its private key, as PEM text and as files. */
export interface Credential {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

export interface ClientCertOptions {
  /** Add this URI SAN (e.g. 'spiffe://example.org/app'). */
  spiffe?: string;
  /** Make the certificate expired (valid 2020-01-01 to 2020-01-02 only). */
  expired?: boolean;
  /** Sign it with otherCa instead of ca. */
  untrusted?: boolean;
}

export interface Pki {
  dir: string;
  ca: Credential;
  otherCa: Credential;
  server: Credential;
  client(cn: string, options?: ClientCertOptions): Credential;
}

export interface PkiOptions {
  /** Directory for the files; the per-process temp dir when omitted. */
  dir?: string;
  /** Names the server cert is valid for; IPs become IP SANs, the rest DNS SANs. */
  serverHosts?: string[];
}

const DEFAULT_SERVER_HOSTS = ['127.0.0.1', '::1', 'localhost'];
const VALID_DAYS = '3650';

const pkis = new Map<string, { hosts: string; pki: Pki }>();
let processDir: string | undefined;

export function makePki(options: PkiOptions = {}): Pki {
  const dir = options.dir ?? defaultDir();
  const hosts = options.serverHosts ?? DEFAULT_SERVER_HOSTS;
  const cached = pkis.get(dir);
  if (cached) {
    // The files are fixed names inside dir: a second, different server cert would overwrite them.
    if (cached.hosts !== hosts.join(',')) throw new Error(`makePki: ${dir} already holds a PKI for ${cached.hosts}`);
    return cached.pki;
  }
  mkdirSync(dir, { recursive: true });
  const pki = createPki(dir, hosts);
  pkis.set(dir, { hosts: hosts.join(','), pki });
  return pki;
}

function defaultDir(): string {
  if (!processDir) {
    sweepOrphans();
    processDir = mkdtempSync(join(tmpdir(), `sesame-pki-${process.pid}-`));
    const dir = processDir;
    // Kept for as long as the worker may still issue certificates into it; the run's own
    // directory (global-setup.ts), which holds it, is removed when the run ends.
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return processDir;
}

/**
 * Vitest ends its worker processes without running 'exit' handlers, so the temp dir outlives
 * the process that made it. Each new one removes those left by processes that are gone (and
 * idle for ten minutes, in case /tmp is shared with another PID namespace).
 */
function sweepOrphans(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = /^sesame-pki-(\d+)-/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const path = join(tmpdir(), name);
    try {
      if (statSync(path).mtimeMs < Date.now() - 10 * 60_000) rmSync(path, { recursive: true, force: true });
    } catch {
      // another process swept it first
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function createPki(dir: string, serverHosts: string[]): Pki {
  const ca = selfSignedCa(dir, 'ca', 'sesame test CA');
  const otherCa = selfSignedCa(dir, 'other-ca', 'unrelated test CA');
  const sans = serverHosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${checkedSan(h, 'server host')}`)).join(',');
  const server = issue(dir, 'server', ca, {
    subject: `/CN=${checkedSubject(serverHosts.find((h) => !isIP(h)) ?? serverHosts[0], 'server host')}`,
    extensions: [...LEAF, 'extendedKeyUsage = serverAuth', `subjectAltName = ${sans}`],
  });

  const clients = new Map<string, Credential>();
  const client = (cn: string, options: ClientCertOptions = {}): Credential => {
    const id = JSON.stringify([cn, options.spiffe ?? '', !!options.expired, !!options.untrusted]);
    let credential = clients.get(id);
    if (!credential) {
      // File names: readable prefix plus a hash, so that 'app' and 'app' + spiffe never collide.
      const base = `client-${cn.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40)}-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
      const extensions = [...LEAF, 'extendedKeyUsage = clientAuth'];
      if (options.spiffe !== undefined) extensions.push(`subjectAltName = URI:${checkedSan(options.spiffe, 'URI SAN')}`);
      const request = { subject: `/CN=${checkedSubject(cn, 'client CN')}`, extensions };
      const issuer = options.untrusted ? otherCa : ca;
      credential = options.expired ? issueExpired(dir, base, issuer, request) : issue(dir, base, issuer, request);
      clients.set(id, credential);
    }
    return credential;
  };

  return { dir, ca, otherCa, server, client };
}

/** Extensions every end-entity cert gets: not a CA, signatures only (ECDSA has no key encipherment). */
const LEAF = ['basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature', 'authorityKeyIdentifier = keyid'];

interface CertRequest {
  /** openssl -subj form, e.g. '/CN=app'. */
  subject: string;
  /** Lines of an openssl extension section. */
  extensions: string[];
}

// -subj and extension values are openssl mini-languages: refuse what would change their meaning
// rather than escape it (tests have no need for such names).
function checkedSubject(value: string, what: string): string {
  if (!value || /[/\\,=+\n\r"]/.test(value)) throw new Error(`makePki: unsupported ${what} ${JSON.stringify(value)}`);
  return value;
}

function checkedSan(value: string, what: string): string {
  if (!value || /[,\n\r]/.test(value)) throw new Error(`makePki: unsupported ${what} ${JSON.stringify(value)}`);
  return value;
}

function selfSignedCa(dir: string, base: string, cn: string): Credential {
  const config = writeConfig(dir, base, ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash']);
  const paths = pathsOf(dir, base);
  openssl(dir, ['req', '-x509', '-new', ...NEW_KEY, '-keyout', paths.keyPath, '-out', paths.certPath,
    '-subj', `/CN=${cn}`, '-days', VALID_DAYS, '-set_serial', serial(), '-config', config, '-extensions', 'ext']);
  return load(paths);
}

/** One openssl run: new key + certificate signed by issuer (`req -x509 -CA`, OpenSSL 3.0+). */
function issue(dir: string, base: string, issuer: Credential, request: CertRequest): Credential {
  const config = writeConfig(dir, base, request.extensions);
  const paths = pathsOf(dir, base);
  openssl(dir, ['req', '-x509', '-new', ...NEW_KEY, '-keyout', paths.keyPath, '-out', paths.certPath,
    '-subj', request.subject, '-days', VALID_DAYS, '-set_serial', serial(),
    '-CA', issuer.certPath, '-CAkey', issuer.keyPath, '-config', config, '-extensions', 'ext']);
  return load(paths);
}

/**
 * An already-expired certificate. `req` and `x509` only take a positive -days counted from now
 * (OpenSSL 3.0 has no -not_before/-not_after; those came in 3.4), so this goes through `openssl ca`,
 * which takes explicit -startdate/-enddate and wants a (throwaway) CA database.
 */
function issueExpired(dir: string, base: string, issuer: Credential, request: CertRequest): Credential {
  const config = writeConfig(dir, base, request.extensions);
  const paths = pathsOf(dir, base);
  const csr = join(dir, `${base}.csr`);
  openssl(dir, ['req', '-new', ...NEW_KEY, '-keyout', paths.keyPath, '-out', csr, '-subj', request.subject, '-config', config]);

  const db = join(dir, `${base}.db`);
  mkdirSync(db, { recursive: true });
  writeFileSync(join(db, 'index.txt'), '');
  const caConfig = join(dir, `${base}.ca.cnf`);
  writeFileSync(caConfig, [
    '[ca]', 'default_ca = throwaway',
    '[throwaway]', `database = ${join(db, 'index.txt')}`, `new_certs_dir = ${db}`, 'default_md = sha256',
    'rand_serial = yes', 'unique_subject = no', 'policy = any_subject', 'copy_extensions = none',
    '[any_subject]', 'commonName = supplied', '',
  ].join('\n'));
  openssl(dir, ['ca', '-batch', '-notext', '-config', caConfig, '-cert', issuer.certPath, '-keyfile', issuer.keyPath,
    '-in', csr, '-out', paths.certPath, '-startdate', '20200101000000Z', '-enddate', '20200102000000Z',
    '-extfile', config, '-extensions', 'ext']);
  rmSync(db, { recursive: true, force: true });
  rmSync(csr, { force: true });
  rmSync(caConfig, { force: true });
  return load(paths);
}

const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A config file with the sections `req` insists on plus our extensions as section [ext]. */
function writeConfig(dir: string, base: string, extensions: string[]): string {
  const path = join(dir, `${base}.cnf`);
  writeFileSync(path, ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', '[ext]', ...extensions, ''].join('\n'));
  return path;
}

/** Random 128-bit serial: clients may reject two certs with one serial from the same issuer. */
function serial(): string {
  return `0x${randomBytes(16).toString('hex')}`;
}

function pathsOf(dir: string, base: string): { certPath: string; keyPath: string } {
  return { certPath: join(dir, `${base}.crt`), keyPath: join(dir, `${base}.key`) };
}

function load(paths: { certPath: string; keyPath: string }): Credential {
  return { ...paths, cert: readFileSync(paths.certPath, 'utf8'), key: readFileSync(paths.keyPath, 'utf8') };
}

function openssl(cwd: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('makePki: the openssl CLI is missing (Debian: apt-get install openssl)');
    throw new Error(`makePki: openssl ${args[0]} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}
