// Issued certificates: one config entry asks Vault's PKI engine (pki/issue/ROLE) for a
// certificate, writes the certificate, its key and the CA chain to files, and issues a new
// one at a fraction of its validity (2/3 by default). A failed issue keeps the current
// certificate and retries with backoff until it expires; then the caller's expiry policy
// applies. On a restart of the container a certificate already on disk that is still valid
// enough (its key matching, its names the configured ones) is used as it is: consul-template's
// pkiCert does the same, so that a crash loop does not issue a certificate per start.
//
// The shape of Vault's lifetime_watcher: one small object per certificate that knows time and
// the API, and tells its caller "rotated" or "expired"; what that means for services is not
// its business.
import type { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../atomic-write';
import type { Log } from '../log';
import { type Clock, realClock, type Timer } from './clock';
import type { Lifetime, Reporter, SecretName, Values } from './lifetime';
import { retryDelay } from './timing';

export interface CertificateSpec {
  /** For lines and change events: the entry's name. */
  name: string;
  /** The Vault path, e.g. "pki/issue/web". */
  path: string;
  commonName: string;
  altNames: string[];
  ipSans: string[];
  /** Requested validity in seconds; the role's default when absent. */
  ttlSeconds?: number;
  certFile: string;
  keyFile: string;
  caFile?: string;
  /** The key file's mode; 0600 by default. Certificate and CA files are 0644. */
  keyMode: number;
  uid?: number;
  gid?: number;
  /** Issue a new one when this fraction of the validity has passed (0 < x < 1). */
  rotateAt: number;
  /** Where it was configured ("config.yaml: certificates[0]"), for messages. */
  origin: string;
}

/** What pki/issue answers in `data` (api-docs/secret/pki "Generate certificate and key"). */
export interface IssuedCertificate {
  certificate: string;
  issuing_ca?: string;
  ca_chain?: string[];
  private_key: string;
  private_key_type?: string;
  serial_number?: string;
  expiration?: number;
}

/** Asks Vault for one certificate; throws on failure (the message names no secret). */
export type Issue = (path: string, body: Record<string, unknown>) => Promise<IssuedCertificate>;

export interface Held {
  serial: string;
  notBefore: number;
  notAfter: number;
  /** When the next one is issued. */
  rotateAtMs: number;
}

export const DEFAULT_ROTATE_AT = 2 / 3;
export const DEFAULT_KEY_MODE = 0o600;
const PUBLIC_MODE = 0o644;
/** consul-template's pkiCert spreads renewals by ±3% of the lifespan (PR #1555). */
const JITTER = 0.03;
/** Never closer than this between two issues: a role that caps the TTL to almost nothing must not make a loop. */
const MIN_DELAY_MS = 1000;

/** The request body: names as Vault takes them (comma-separated strings). */
export function issueBody(spec: CertificateSpec): Record<string, unknown> {
  const body: Record<string, unknown> = { common_name: spec.commonName };
  if (spec.altNames.length) body.alt_names = spec.altNames.join(',');
  if (spec.ipSans.length) body.ip_sans = spec.ipSans.join(',');
  if (spec.ttlSeconds) body.ttl = `${spec.ttlSeconds}s`;
  return body;
}

/**
 * When to issue the next one: `fraction` of the way from `start` to `notAfter`, ±3% of the
 * lifespan, not after notAfter, and never sooner than `now + 1 s` (a certificate that
 * arrives almost or already expired must not make a loop).
 */
export function rotationTime(start: number, notAfter: number, fraction: number, now: number, random: () => number): number {
  const life = Math.max(0, notAfter - start);
  const jittered = Math.min(0.99, Math.max(0.01, fraction + (random() * 2 - 1) * JITTER));
  const at = start + life * jittered;
  return Math.max(now + MIN_DELAY_MS, Math.min(notAfter, at));
}

/**
 * node:crypto, loaded when a certificate is first looked at: requiring it costs ~7 ms, and
 * this module is part of every start (the config's certificates: entries are planned with
 * its defaults), most of which never see a certificate.
 */
const crypto = (): typeof import('node:crypto') => require('node:crypto') as typeof import('node:crypto');

/** The DNS and IP names a certificate carries. */
function namesOf(x509: X509Certificate): { cn: string; dns: Set<string>; ip: Set<string> } {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1] ?? '';
  const dns = new Set<string>();
  const ip = new Set<string>();
  for (const part of (x509.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) dns.add(part.slice(4));
    else if (part.startsWith('IP Address:')) ip.add(part.slice(11).toLowerCase());
  }
  return { cn, dns, ip };
}

/**
 * A certificate already on disk that may be kept: it parses, the key file holds its key,
 * its names are the configured ones, the CA file exists (if one is configured), and it is
 * not yet past its rotation point. Returns why not otherwise, for the debug line.
 */
export function onDisk(spec: CertificateSpec, now: number): { x509: X509Certificate } | { why: string } {
  let x509: X509Certificate;
  try {
    x509 = new (crypto().X509Certificate)(readFileSync(spec.certFile));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { why: code === 'ENOENT' ? `no ${spec.certFile} yet` : `${spec.certFile} is not a certificate (${code ?? 'unreadable'})` };
  }
  try {
    if (!x509.checkPrivateKey(crypto().createPrivateKey(readFileSync(spec.keyFile)))) return { why: `${spec.keyFile} does not hold the key of ${spec.certFile}` };
  } catch (error) {
    return { why: `${spec.keyFile} is not a usable key (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})` };
  }
  const names = namesOf(x509);
  if (names.cn !== spec.commonName) return { why: `${spec.certFile} is for "${names.cn}", not "${spec.commonName}"` };
  const missing = [...spec.altNames.filter((n) => !names.dns.has(n)), ...spec.ipSans.filter((n) => !names.ip.has(n.toLowerCase()))];
  if (missing.length) return { why: `${spec.certFile} lacks ${missing.join(', ')}` };
  if (spec.caFile) {
    try {
      statSync(spec.caFile);
    } catch {
      return { why: `no ${spec.caFile} yet` };
    }
  }
  const notBefore = Date.parse(x509.validFrom);
  const notAfter = Date.parse(x509.validTo);
  // Without jitter: the same file gives the same answer on every restart.
  if (now >= notBefore + (notAfter - notBefore) * spec.rotateAt) return { why: `${spec.certFile} is past ${Math.round(spec.rotateAt * 100)}% of its validity` };
  return { x509 };
}

/** Owner kept: a file rewritten keeps the owner it has unless the config names one. */
function ownerOf(path: string, uid: number | undefined, gid: number | undefined): { uid?: number; gid?: number } {
  if (uid !== undefined && gid !== undefined) return { uid, gid };
  try {
    const s = statSync(path);
    return { uid: uid ?? s.uid, gid: gid ?? s.gid };
  } catch {
    return { uid, gid };
  }
}

/** The key first, the certificate last: a reader that sees the new certificate finds its key. */
export function writeCertificate(spec: CertificateSpec, issued: IssuedCertificate): void {
  const chain = issued.ca_chain?.length ? issued.ca_chain : issued.issuing_ca ? [issued.issuing_ca] : [];
  const pem = (text: string) => Buffer.from(text.endsWith('\n') ? text : `${text}\n`);
  writeFileAtomic(spec.keyFile, pem(issued.private_key), { mode: spec.keyMode, ...ownerOf(spec.keyFile, spec.uid, spec.gid) });
  if (spec.caFile && chain.length) writeFileAtomic(spec.caFile, pem(chain.map((c) => c.trim()).join('\n')), { mode: PUBLIC_MODE, ...ownerOf(spec.caFile, spec.uid, spec.gid) });
  writeFileAtomic(spec.certFile, pem(issued.certificate), { mode: PUBLIC_MODE, ...ownerOf(spec.certFile, spec.uid, spec.gid) });
}

export interface CertificateDeps {
  issue: Issue;
  /** For lines before the stage starts it (the reporter's log afterwards). */
  log: Log;
  random?: () => number;
}

/**
 * One certificate's lifetime: prepare() gets the first one at start (fail closed: it throws),
 * start() hands it to the stage, which is then told of every new one (update) under the
 * names of its files, of failures (failed) and of its expiry (expired).
 */
export class CertificateLifetime implements Lifetime {
  readonly label: string;
  private timer?: Timer;
  private stopped = false;
  private failures = 0;
  /** The expiry policy is told once per expiry. */
  private expiredSent = false;
  private current?: Held;
  private clock: Clock = realClock;
  private reporter?: Reporter;
  private readonly random: () => number;

  constructor(
    readonly spec: CertificateSpec,
    private readonly deps: CertificateDeps,
  ) {
    this.label = `certificate ${spec.name}`;
    this.random = deps.random ?? Math.random;
  }

  get held(): Held | undefined {
    return this.current;
  }

  /** The names its files go by (file:PATH), for the wiring. */
  get names(): SecretName[] {
    return [this.spec.certFile, this.spec.keyFile, this.spec.caFile].filter((p): p is string => !!p).map((p) => `file:${p}`);
  }

  /** What the files hold now, by name: the stage's starting point. */
  values(): Values {
    const out = new Map<SecretName, Buffer>();
    for (const name of this.names) {
      try {
        out.set(name, readFileSync(name.slice('file:'.length)));
      } catch {
        // not written (no CA chain came): nothing to compare with
      }
    }
    return out;
  }

  /** At start: the certificate on disk if it is still good, else a new one; throws if none can be had. */
  async prepare(clock: Clock = realClock): Promise<'reused' | 'issued'> {
    this.clock = clock;
    const { log } = this.deps;
    const found = onDisk(this.spec, clock.now());
    if ('x509' in found) {
      this.hold(found.x509, Date.parse(found.x509.validFrom));
      log.info(`${this.label}: reusing ${this.spec.certFile} (serial ${this.current?.serial}, valid until ${new Date(this.current?.notAfter ?? 0).toISOString()})`);
      return 'reused';
    }
    log.debug(`${this.label}: issuing at ${this.spec.path} (${found.why})`);
    await this.issueNow();
    log.info(`${this.label}: issued (serial ${this.current?.serial}, valid until ${new Date(this.current?.notAfter ?? 0).toISOString()})`);
    return 'issued';
  }

  start(reporter: Reporter, clock: Clock): void {
    this.reporter = reporter;
    this.clock = clock;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private get log(): Log {
    return this.reporter?.log ?? this.deps.log;
  }

  private hold(x509: X509Certificate, start: number): void {
    const notBefore = Date.parse(x509.validFrom);
    const notAfter = Date.parse(x509.validTo);
    const now = this.clock.now();
    this.current = { serial: x509.serialNumber.toLowerCase(), notBefore, notAfter, rotateAtMs: rotationTime(start, notAfter, this.spec.rotateAt, now, this.random) };
  }

  private async issueNow(): Promise<void> {
    const issuedAt = this.clock.now();
    const issued = await this.deps.issue(this.spec.path, issueBody(this.spec));
    if (!issued || typeof issued.certificate !== 'string' || typeof issued.private_key !== 'string') throw new Error(`${this.spec.path} returned no certificate and key`);
    const x509 = new (crypto().X509Certificate)(issued.certificate);
    writeCertificate(this.spec, issued);
    // Vault backdates NotBefore (30 s by default): the lifespan counts from the issue, so
    // that a certificate of a few seconds does not look two-thirds spent when it arrives.
    this.hold(x509, Math.max(Date.parse(x509.validFrom), issuedAt));
  }

  private schedule(delay?: number): void {
    if (this.stopped || !this.current) return;
    const due = delay === undefined ? this.current.rotateAtMs : this.clock.now() + delay;
    this.log.debug(`${this.label}: next issue at ${new Date(due).toISOString()}`);
    this.timer?.cancel();
    this.timer = this.clock.after(due - this.clock.now(), () => void this.rotate());
  }

  private async rotate(): Promise<void> {
    if (this.stopped) return;
    const before = this.current as Held;
    try {
      await this.issueNow();
    } catch (error) {
      if (this.stopped) return;
      const now = this.clock.now();
      const expired = now >= before.notAfter;
      // Backoff from 10 s to 5 min; before the end, never past it; after it, on at the backoff's pace.
      const wait = retryDelay(this.failures++, now, expired ? undefined : before.notAfter, 0, this.random);
      const why = `issuing a new certificate at ${this.spec.path} failed (${(error as Error).message})`;
      if (expired && !this.expiredSent) {
        this.expiredSent = true;
        this.reporter?.expired(`${why}; the current one expired at ${new Date(before.notAfter).toISOString()}`);
      } else {
        this.reporter?.failed(`${why}; the current one is valid until ${new Date(before.notAfter).toISOString()}`, wait);
      }
      this.schedule(wait);
      return;
    }
    if (this.stopped) return;
    this.failures = 0;
    this.expiredSent = false;
    const held = this.current as Held;
    this.log.info(`${this.label}: issued a new one (serial ${held.serial}, valid until ${new Date(held.notAfter).toISOString()})`);
    this.reporter?.update(this.values());
    this.schedule();
  }
}
