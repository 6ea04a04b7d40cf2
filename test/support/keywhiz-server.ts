// An in-process Keywhiz server: the client ("delivery") API that keysync and keywhiz-fs use,
// served over real mutual TLS on 127.0.0.1, answering with the status codes, headers and JSON
// shapes the real server produces (written from Keywhiz's sources and its test fixtures;
// compared with a real Keywhiz 0.10.2 server: KEYWHIZ-SERVER.md says what matched and what was
// changed).
//
//   const pki = makePki();
//   const kw = await startKeywhiz({
//     pki,
//     clients: { app: { secrets: ['db-password', 'tls-key'] }, retired: { disabled: true } },
//     secrets: {
//       'db-password': { content: 'hunter2', mode: '0400', owner: 'nobody' },
//       'tls-key': { content: Buffer.from([0, 1, 2]), unpadded: true },
//       'other-team': { content: 'x' },             // exists, not assigned to app: 403
//     },
//   });
//   // kw.url = 'https://127.0.0.1:<port>'; talk to it with pki.ca + pki.client('app')
//   kw.faults.push({ method: 'POST', path: '/batchsecret', status: 404 }); // old server: no batch
//   kw.faults.push({ path: '/secret/db-password', status: 500, times: 1 }); // then recovers
//   kw.faults.push({ delayMs: 2000 }); / ({ reset: true })                  // slow / dropped
//   kw.requests  // [{ method, path, client, cn, spiffeId, body, status }] in arrival order
//   kw.setSecret('db-password', { content: 'rotated' });                  // checksum changes
//   await kw.stop();
//
// Endpoints (square/keywhiz server/src/main/java/keywhiz/service/resources/):
//   GET  /secret/{name}   SecretDeliveryResource: 200 one SecretDeliveryResponse with content;
//                         403 if the secret exists but is not assigned to the client; else 404.
//   GET  /secrets         SecretsDeliveryResource: 200, every assigned secret, content blanked
//                         (secret "", secretLength 0): clients diff `checksum` against this.
//   POST /batchsecret     BatchSecretDeliveryResource, body {"secrets":[names]}: all or nothing.
//                         Any name missing -> 404 (checked first, in request order); else any
//                         not assigned -> 403; else 200 with the secrets in the server's order
//                         (SecretSeriesDAO.getMultipleSecretSeriesByName: WHERE name IN (..),
//                         no ORDER BY; so not request order), duplicates once.
//                         An empty list -> 500: AclDAO.getBatchSanitizedSecretsFor and
//                         SecretDAO.getSecretsByName both checkArgument(!names.isEmpty()).
//   GET  /_status         StatusResource: no client certificate needed (it takes no @Auth;
//                         StatusResourceIntegrationTest calls it with unauthenticatedClient()).
//                         200 {"status":"ok",...}; 500 "critical" when a health check fails.
// Authentication (service/providers/ClientAuthFactory.java, ClientAuthenticator.java): the
// client is named by its certificate's subject CN (useCommonName) and/or its single spiffe://
// URI SAN (useSpiffeId); when both name a client they must be the same one. No certificate,
// an unknown client or a disabled one -> 401 (unless createMissingClients, which adds unknown
// CNs as clients with no secrets). Keywhiz checks the client before looking at the secret, so
// a 401 never says whether a secret exists. Routing (404 unknown path, 405 wrong method, 415
// wrong Content-Type, 406 Accept without JSON) comes first: Jersey matches the resource method
// before it injects the @Auth parameter.
//
// TLS: Keywhiz's dev config (server/src/main/resources/keywhiz-development.yaml) has
// `wantClientAuth: true`, `supportedProtocols: [TLSv1.2]` and ECDHE-AES128 suites. With
// wantClientAuth, JSSE lets a handshake without a client certificate through (the app then
// answers 401), but a certificate its trust store rejects (other CA, expired) fails the
// handshake with a certificate_unknown alert (sun/security/ssl/CertificateMessage.java,
// T12CertificateConsumer.onCertificate / checkClientCerts). Node cannot reject a peer
// certificate during the handshake (its OpenSSL verify callback accepts everything; the result
// is read afterwards), so this server runs `requestCert: true, rejectUnauthorized: false` and
// destroys the socket in 'secureConnection' when an untrusted certificate was presented: the
// server's Finished is never flushed, so a TLS 1.2 client sees the handshake fail (ECONNRESET,
// "socket disconnected before secure TLS connection was established"), as with Keywhiz.
//
// Error bodies: Keywhiz (0.10.x) runs Dropwizard 1.3.29 (pom.xml) with no exception mappers of
// its own, so errors are Dropwizard's LoggingExceptionMapper output (dropwizard/dropwizard
// v1.3.29 dropwizard-jersey/.../errors/LoggingExceptionMapper.java): for a JAX-RS
// WebApplicationException, `Response.fromResponse(response)` (headers kept) with entity
// ErrorMessage {"code": status, "message": exception.getLocalizedMessage()} (ErrorMessage is
// @JsonInclude(NON_NULL), so no "details"). The message is the one the resource gave (403:
// "Access denied: ..."), or JAX-RS's computed "HTTP <code> <reason>" (404, 500).
// `new NotAuthorizedException("Not authorized as Keywhiz client")` is the (Object challenge,
// Object...) constructor: the string becomes a WWW-Authenticate header and the message is
// "HTTP 401 Unauthorized". Non-JAX-RS exceptions become 500 "There was an error processing
// your request. It has been logged (ID %016x)."; malformed JSON is Dropwizard's
// JsonProcessingExceptionMapper: 400 "Unable to process JSON". Only status codes are a
// contract (keysync branches on nothing else); the bodies are here so clients meet real ones.
//
// flavor 'old' is the server as open-sourced (square/keywhiz 4e4be580, March 2015): responses
// {name, secret, secretLength, creationDate, isVersioned, ...metadata} with no checksum and no
// updateDate (checksum/updateDate came in 69b12528, 2017), dates with milliseconds
// (OffsetDateTime; later servers keep epoch seconds, so ".000Z"), names "Name..version" for
// versioned secrets (Secret.getDisplayName), fetched by that display name (splitNameAndVersion:
// more than one ".." -> 400), and no /batchsecret (added 2020, 8003d06e) and no /_status (2016):
// both 404.
import { createHmac, randomBytes } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { Pki } from './certs';

export interface KeywhizSecret {
  /** The secret's bytes (a string is taken as UTF-8). */
  content: Buffer | string;
  /** Metadata Keywhiz clients act on, flattened into the response (keysync: octal mode string). */
  mode?: string;
  owner?: string;
  group?: string;
  filename?: string;
  /** Any other metadata keys, flattened likewise. */
  metadata?: Record<string, string>;
  /** Send base64 without '=' padding (seen from real servers: keysync pads before decoding). */
  unpadded?: boolean;
  /** Defaults: HMAC-SHA256 of the content (hex), so it changes whenever the content does. */
  checksum?: string;
  /** Defaults: server start for createdAt; now (at setSecret) for updatedAt. */
  createdAt?: Date | string;
  updatedAt?: Date | string;
  /** flavor 'old' only: the version suffix of the display name, e.g. '0be68f903f8b7d86'. */
  version?: string;
}

export interface KeywhizClient {
  /** Names of the secrets assigned to this client (Keywhiz: via groups; flattened here). */
  secrets?: string[];
  /** A disabled client is refused like an unknown one (401). */
  disabled?: boolean;
  /** The spiffe:// URI this client is known by (used when identity.spiffeId is on). */
  spiffeId?: string;
}

/** One rule of fault injection; the first rule matching a request applies, then `times` drops. */
export interface Fault {
  /** Match only this method / this path (exact, without query) or pattern; any when omitted. */
  method?: string;
  path?: string | RegExp;
  /** How many matching requests it affects; every one when omitted. */
  times?: number;
  /** Wait this long first (then the rest of the rule, or the normal answer). */
  delayMs?: number;
  /** Answer this status with Dropwizard's error body instead (404/405 = endpoint missing). */
  status?: number;
  /** Drop the connection with a TCP RST instead of answering. */
  reset?: boolean;
}

export interface KeywhizRequest {
  method: string;
  /** Path and query as sent. */
  path: string;
  /** Subject CN and spiffe:// URI SAN of the client certificate, if one was presented. */
  cn?: string;
  spiffeId?: string;
  /** The Keywhiz client the request authenticated as (absent when it did not get that far). */
  client?: string;
  /** The parsed JSON request body (POST /batchsecret). */
  body?: unknown;
  /** Status answered, or 'reset' for a dropped connection. */
  status?: number | 'reset';
}

export interface KeywhizOptions {
  pki: Pki;
  clients?: Record<string, KeywhizClient>;
  secrets?: Record<string, KeywhizSecret>;
  /** How certificates name clients (ClientAuthTypeConfig). Default { commonName: true, spiffeId: false }. */
  identity?: { commonName?: boolean; spiffeId?: boolean };
  /** Add unknown (CN-named) clients on first contact, with no secrets (clientAuthConfig.createMissingClients). */
  createMissingClients?: boolean;
  /** 'current' (default): the last release. 'old': the 2015 server (see the top of this file). */
  flavor?: 'current' | 'old';
  /**
   * Allow TLS 1.3 too; Keywhiz's dev config offers only TLS 1.2. (Under TLS 1.3 the client
   * finishes its handshake before the server has judged its certificate, so an untrusted one
   * shows as a reset on the first request instead of a failed handshake.)
   */
  tls13?: boolean;
  faults?: Fault[];
}

export interface KeywhizServer {
  url: string;
  port: number;
  /** Every request, in arrival order. */
  requests: KeywhizRequest[];
  /** Untrusted client certificates refused at the TLS layer: Node's verify error code and the CN. */
  rejectedCerts: { error: string; cn?: string }[];
  /** Live fault rules (the array passed in options, if any); push to add, splice to clear. */
  faults: Fault[];
  /** /_status health: false makes it answer 500 "critical" like a failing health check. */
  healthy: boolean;
  /** Add or replace a secret (updatedAt defaults to now, so rotation shows in checksum and updateDate). */
  setSecret(name: string, secret: KeywhizSecret): void;
  /** Add or replace a client. */
  setClient(name: string, client: KeywhizClient): void;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The data model: what Keywhiz keeps in its database, reduced to what delivery reads.

interface SecretRecord {
  name: string;
  version: string;
  /** Base64 of the content as it will be sent (padded or not). */
  base64: string;
  checksum: string;
  createdAt: Date;
  updatedAt: Date;
  /** Flattened into responses after the fixed fields (@JsonAnyGetter), in this order. */
  metadata: Record<string, string>;
}

interface ClientRecord {
  id: number;
  name: string;
  createdAt: Date;
  /** Set on each authenticated request, as Keywhiz's lastSeen. */
  lastSeen?: Date;
  secrets: Set<string>;
  enabled: boolean;
  spiffeId?: string;
}

// Keywhiz stores an HMAC of the content (ContentCryptographer.computeHmac); any keyed hash does
// for clients, which only compare checksums for equality.
const CHECKSUM_KEY = 'sesame-test-keywhiz';

function toSecretRecord(name: string, spec: KeywhizSecret, defaults: { createdAt: Date; updatedAt: Date }): SecretRecord {
  const content = typeof spec.content === 'string' ? Buffer.from(spec.content, 'utf8') : spec.content;
  const padded = content.toString('base64');
  const metadata: Record<string, string> = {};
  for (const key of ['mode', 'owner', 'group', 'filename'] as const) if (spec[key] !== undefined) metadata[key] = spec[key];
  Object.assign(metadata, spec.metadata);
  return {
    name,
    version: spec.version ?? '',
    base64: spec.unpadded ? padded.replace(/=+$/, '') : padded,
    checksum: spec.checksum ?? createHmac('sha256', CHECKSUM_KEY).update(content).digest('hex'),
    createdAt: spec.createdAt !== undefined ? new Date(spec.createdAt) : defaults.createdAt,
    updatedAt: spec.updatedAt !== undefined ? new Date(spec.updatedAt) : defaults.updatedAt,
    metadata,
  };
}

/** Secret.decodedLength: "slightly hokey": strip newline and '=' padding, then length * 3 / 4. */
function decodedLength(base64: string): number {
  return Math.floor((base64.replace(/\n$/, '').replace(/={1,2}$/, '').length * 3) / 4);
}

// ---------------------------------------------------------------------------------------------
// Response bodies.

type Flavor = 'current' | 'old';

/** ApiDate: epoch seconds, written "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'" (so always .000); old: ms kept. */
function apiDate(date: Date, flavor: Flavor): string {
  return flavor === 'old' ? date.toISOString() : new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString();
}

/** Secret.getDisplayName (old servers): name, or name..version for a versioned secret. */
function displayName(secret: SecretRecord, flavor: Flavor): string {
  return flavor === 'old' && secret.version ? `${secret.name}..${secret.version}` : secret.name;
}

/**
 * SecretDeliveryResponse, field order as Jackson writes it (declared properties, then the
 * @JsonAnyGetter metadata). withContent false is fromSanitizedSecret (GET /secrets).
 */
function deliveryResponse(secret: SecretRecord, flavor: Flavor, withContent: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: displayName(secret, flavor),
    secret: withContent ? secret.base64 : '',
    secretLength: withContent ? decodedLength(secret.base64) : 0,
  };
  if (flavor === 'old') {
    body.creationDate = apiDate(secret.createdAt, flavor);
    body.isVersioned = secret.version !== '';
  } else {
    body.checksum = secret.checksum;
    body.creationDate = apiDate(secret.createdAt, flavor);
    body.updateDate = apiDate(secret.updatedAt, flavor);
  }
  return { ...body, ...secret.metadata };
}

/** MoreObjects.toStringHelper output of keywhiz.api.model.Client, as 403 messages embed it. */
function clientToString(client: ClientRecord): string {
  // As a real client row prints (checked against Keywhiz 0.10.2 with its db-seed clients):
  // empty strings, not null, for description and the *By fields; ApiDate[epoch seconds].
  const at = (d: Date) => `ApiDate[${Math.floor(d.getTime() / 1000)}]`;
  return `Client{id=${client.id}, name=${client.name}, description=, spiffeId=${client.spiffeId ?? null}, createdAt=${at(client.createdAt)}, createdBy=, updatedAt=${at(client.createdAt)}, updatedBy=, lastSeen=${client.lastSeen ? at(client.lastSeen) : null}, expiration=null, enabled=${client.enabled}, owner=null, automationAllowed=false}`;
}

/**
 * Headers every answer carries (checked against Keywhiz 0.10.2: its SecurityHeadersFilter
 * and Dropwizard's defaults), errors included.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Security-Policy': "default-src 'self'",
  'X-XSS-Protection': '0',
  'X-Content-Type-Options': 'nosniff',
  'Frame-Options': 'DENY',
  'X-Frame-Options': 'DENY',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
};

// ---------------------------------------------------------------------------------------------
// Errors as Dropwizard renders them.

/** What a thrown exception turns into: status, the ErrorMessage text, extra headers. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message = `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd(),
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** javax.ws.rs.NotAuthorizedException(challenge): the text goes to WWW-Authenticate. */
const notAuthorized = (challenge: string) => new HttpError(401, undefined, { 'WWW-Authenticate': challenge });

/** A non-WebApplicationException (e.g. checkArgument) through LoggingExceptionMapper. */
const unexpected = () => new HttpError(500, `There was an error processing your request. It has been logged (ID ${randomBytes(8).toString('hex')}).`);

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { code: error.status, message: error.message }, error.headers);
}

// ---------------------------------------------------------------------------------------------
// Who is calling: the certificate's names, then the client record they map to.

interface Presented {
  /** X500 principal name as Java prints it ("CN=app"), for 401 challenges. */
  principal: string;
  cn?: string;
  spiffeId?: string;
}

function presentedIdentity(socket: TLSSocket): Presented | undefined {
  const cert = socket.getPeerCertificate() as DetailedPeerCertificate | Record<string, never>;
  if (!('raw' in cert)) return undefined; // {} means no certificate was sent
  const subject: Record<string, string | string[]> = { ...(cert.subject as unknown as Record<string, string | string[]>) };
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  // Java's X500Principal.getName() lists RDNs most specific first; Node keeps certificate order.
  const principal = Object.entries(subject)
    .reverse()
    .map(([k, v]) => `${k}=${first(v)}`)
    .join(', ');
  return { principal, cn: first(subject.CN), spiffeId: spiffeIdOf(cert.subjectaltname) };
}

/**
 * ClientAuthenticator.getSpiffeIdFromCertificate: the URI SANs starting with spiffe://; none,
 * or more than one, or a SPIFFE URI alongside other URIs ("An X.509 SVID MUST contain exactly
 * one URI SAN") -> no SPIFFE ID.
 */
function spiffeIdOf(subjectAltName: string | undefined): string | undefined {
  const uris = (subjectAltName ?? '')
    .split(', ')
    .filter((san) => san.startsWith('URI:'))
    .map((san) => san.slice(4));
  const spiffe = uris.filter((uri) => uri.startsWith('spiffe://'));
  return spiffe.length === 1 && uris.length === 1 ? spiffe[0] : undefined;
}

// ---------------------------------------------------------------------------------------------

export async function startKeywhiz(options: KeywhizOptions): Promise<KeywhizServer> {
  const flavor: Flavor = options.flavor ?? 'current';
  const identity = { commonName: options.identity?.commonName ?? true, spiffeId: options.identity?.spiffeId ?? false };
  if (flavor === 'old' && identity.spiffeId) throw new Error('startKeywhiz: old servers identify clients by CN only (SPIFFE came in 2020)');
  const startedAt = new Date();

  const secrets = new Map<string, SecretRecord>();
  const clients = new Map<string, ClientRecord>();
  let nextClientId = 1;

  function setSecret(name: string, spec: KeywhizSecret): void {
    const previous = secrets.get(name);
    secrets.set(name, toSecretRecord(name, spec, { createdAt: previous?.createdAt ?? startedAt, updatedAt: previous ? new Date() : startedAt }));
  }
  function setClient(name: string, spec: KeywhizClient): void {
    for (const secret of spec.secrets ?? []) if (!secrets.has(secret)) throw new Error(`startKeywhiz: client ${name} is assigned unknown secret ${secret}`);
    const id = clients.get(name)?.id ?? nextClientId++;
    clients.set(name, { id, name, createdAt: clients.get(name)?.createdAt ?? startedAt, secrets: new Set(spec.secrets), enabled: !spec.disabled, spiffeId: spec.spiffeId });
  }
  for (const [name, spec] of Object.entries(options.secrets ?? {})) setSecret(name, spec);
  for (const [name, spec] of Object.entries(options.clients ?? {})) setClient(name, spec);

  /** ClientAuthFactory.provide + ClientAuthenticator.authenticate. Throws 401. */
  function authenticate(presented: Presented | undefined): ClientRecord {
    // ClientCertificateFilter sets a principal only when the servlet request has a chain.
    if (!presented) throw notAuthorized('Not authorized as Keywhiz client');
    const byName = identity.commonName && presented.cn !== undefined ? clients.get(presented.cn) : undefined;
    const bySpiffe = identity.spiffeId && presented.spiffeId !== undefined ? [...clients.values()].find((c) => c.spiffeId === presented.spiffeId) : undefined;
    if (byName && bySpiffe && byName !== bySpiffe) {
      throw notAuthorized(`Input principal's CN and SPIFFE ID correspond to different clients! (cn = ${byName.name}, spiffe = ${bySpiffe.name})`);
    }
    let client = byName ?? bySpiffe;
    if (!client && options.createMissingClients && presented.cn) {
      setClient(presented.cn, { spiffeId: presented.spiffeId });
      client = clients.get(presented.cn);
    }
    if (!client || !client.enabled) throw notAuthorized(`No authorized Client for connection using principal ${presented.principal}`);
    client.lastSeen = new Date(); // ClientAuthenticator: clientDAO.sawClient
    return client;
  }

  /** The secret a delivery path names, if it exists (old servers: by display name). */
  function lookupSecret(requested: string): SecretRecord | undefined {
    if (flavor === 'current') return secrets.get(requested);
    // Secret.splitNameAndVersion: Java's split drops trailing empty strings ("a.." -> ["a"]).
    const parts = requested.split('..');
    while (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    if (parts.length > 2) throw new HttpError(400, `Invalid secret name '${requested}'`);
    const [name, version = ''] = parts;
    const secret = secrets.get(name);
    return secret && secret.version === version ? secret : undefined;
  }

  // --- resources --------------------------------------------------------------------------

  function getSecret(client: ClientRecord, requested: string): unknown {
    const secret = lookupSecret(requested);
    if (secret && client.secrets.has(secret.name)) return deliveryResponse(secret, flavor, true);
    // SecretDeliveryResource: 403 only when both client and secret exist; otherwise 404. (The
    // client was just authenticated, so it exists unless removed meanwhile; kept as in the source.)
    if (secret && clients.has(client.name)) {
      throw new HttpError(403, `Access denied: ${client.name} at '/secret/${requested}' by '${clientToString(client)}'`);
    }
    throw new HttpError(404);
  }

  function listSecrets(client: ClientRecord): unknown {
    return [...secrets.values()].filter((s) => client.secrets.has(s.name)).map((s) => deliveryResponse(s, flavor, false));
  }

  function batchSecrets(client: ClientRecord, body: unknown): unknown {
    const names = (body as { secrets?: unknown } | null)?.secrets;
    // BatchSecretRequest is an AutoValue with an ImmutableList<String>: a missing list or null
    // elements fail deserialization (JsonProcessingExceptionMapper -> 400). Jackson would coerce
    // a number element to a string; refusing it too keeps clients honest.
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new HttpError(400, 'Unable to process JSON');
    if (names.length === 0) throw unexpected();
    const forbidden: string[] = [];
    for (const name of names as string[]) {
      if (!secrets.has(name) || !clients.has(client.name)) throw new HttpError(404);
      if (!client.secrets.has(name)) forbidden.push(name);
    }
    if (forbidden.length) throw new HttpError(403, `Access denied: ${client.name} to secret(s) '[${forbidden.join(', ')}]'`);
    return [...secrets.values()].filter((s) => names.includes(s.name)).map((s) => deliveryResponse(s, flavor, true));
  }

  const server: KeywhizServer = {
    url: '',
    port: 0,
    requests: [],
    rejectedCerts: [],
    faults: options.faults ?? [],
    healthy: true,
    setSecret,
    setClient,
    stop: async () => {},
  };

  function status(): { status: number; body: unknown } {
    // StatusResponse {status, message, results}; results are metrics HealthCheck.Results by name.
    const results = { deadlocks: { healthy: true }, manualStatus: { healthy: server.healthy } };
    if (server.healthy) return { status: 200, body: { status: 'ok', message: 'ok', results } };
    return { status: 500, body: { status: 'critical', message: 'failing health checks: [manualStatus]', results } };
  }

  // --- routing, in Jersey's order: path, method, media types, then @Auth, then the entity ---

  interface Route {
    methods: string[];
    /** @Consumes(APPLICATION_JSON) */
    consumesJson?: boolean;
    needsClient: boolean;
    handle(client: ClientRecord | undefined, req: IncomingMessage, body: unknown): { status: number; body: unknown };
  }

  function route(path: string): Route | undefined {
    if (path === '/_status' && flavor === 'current') return { methods: ['GET', 'HEAD'], needsClient: false, handle: () => status() };
    if (path === '/secrets') return { methods: ['GET', 'HEAD'], needsClient: true, handle: (c) => ({ status: 200, body: listSecrets(c!) }) };
    if (path === '/batchsecret' && flavor === 'current') {
      return { methods: ['POST'], consumesJson: true, needsClient: true, handle: (c, _req, body) => ({ status: 200, body: batchSecrets(c!, body) }) };
    }
    // @Path("/secret/{secretName}"): one non-empty segment, percent-decoded.
    const m = /^\/secret\/([^/]+)$/.exec(path);
    if (m) {
      let name: string;
      try {
        name = decodeURIComponent(m[1]);
      } catch {
        return undefined;
      }
      return { methods: ['GET', 'HEAD'], needsClient: true, handle: (c) => ({ status: 200, body: getSecret(c!, name) }) };
    }
    return undefined;
  }

  async function serve(req: IncomingMessage, res: ServerResponse, record: KeywhizRequest): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const r = route(path);
    if (!r) throw new HttpError(404);
    // Jersey's Allow lists the resource's own methods and OPTIONS, not the implicit HEAD
    // (checked against Keywhiz 0.10.2: "GET,OPTIONS", "POST,OPTIONS").
    if (!r.methods.includes(req.method ?? '')) throw new HttpError(405, undefined, { Allow: [...r.methods.filter((m) => m !== 'HEAD'), 'OPTIONS'].join(',') });
    if (r.consumesJson && !isJson(req.headers['content-type'])) throw new HttpError(415);
    if (!acceptsJson(req.headers.accept)) throw new HttpError(406);
    const text = await readBody(req);
    const client = r.needsClient ? authenticate(presentedIdentity(req.socket as TLSSocket)) : undefined;
    record.client = client?.name;
    let body: unknown;
    if (r.consumesJson) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new HttpError(400, 'Unable to process JSON');
      }
      record.body = body;
    }
    const answer = r.handle(client, req, body);
    sendJson(res, answer.status, answer.body);
  }

  // --- faults -----------------------------------------------------------------------------

  function takeFault(req: IncomingMessage): Fault | undefined {
    const path = (req.url ?? '/').split('?')[0];
    const index = server.faults.findIndex(
      (f) =>
        (f.times === undefined || f.times > 0) &&
        (f.method === undefined || f.method.toUpperCase() === req.method) &&
        (f.path === undefined || (typeof f.path === 'string' ? f.path === path : f.path.test(path))),
    );
    if (index < 0) return undefined;
    const fault = server.faults[index];
    if (fault.times !== undefined) fault.times--;
    return fault;
  }

  // Delays in progress, so that stop() does not leave timers holding the process open.
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  // Raw TCP sockets by remote port, so a 'reset' fault can send an RST (resetAndDestroy works
  // on the TCP handle, not on the TLS socket wrapped around it).
  const rawSockets = new Map<number, Socket>();

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const presented = presentedIdentity(req.socket as TLSSocket);
    const record: KeywhizRequest = { method: req.method ?? '', path: req.url ?? '', cn: presented?.cn, spiffeId: presented?.spiffeId };
    server.requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    try {
      const fault = takeFault(req);
      if (fault?.delayMs) {
        await sleep(fault.delayMs);
        if (res.destroyed) return; // the client gave up, or stop() closed the connection
      }
      if (fault?.reset) {
        record.status = 'reset';
        const raw = rawSockets.get(req.socket.remotePort ?? -1);
        if (raw) raw.resetAndDestroy();
        else req.socket.destroy();
        return;
      }
      // A 405 must name what is allowed: answer as if the path were a GET-only resource.
      if (fault?.status) throw new HttpError(fault.status, undefined, fault.status === 405 ? { Allow: 'GET,OPTIONS' } : {});
      await serve(req, res, record);
    } catch (e) {
      // Anything but an HttpError is a bug in this file: answer as Dropwizard would, but say so.
      if (!(e instanceof HttpError)) console.error('keywhiz test server:', e);
      if (res.headersSent || res.destroyed) return;
      sendError(res, e instanceof HttpError ? e : unexpected());
    }
  }

  const https = createServer(
    {
      key: options.pki.server.key,
      cert: options.pki.server.cert,
      ca: options.pki.ca.cert,
      // Ask for a certificate but let the handshake finish without one: Keywhiz answers 401 itself.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      maxVersion: options.tls13 ? 'TLSv1.3' : 'TLSv1.2',
      // The ECDHE-ECDSA suites of keywhiz-development.yaml (our certs are ECDSA; CBC ones last).
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA',
    },
    (req, res) => void onRequest(req, res),
  );
  https.on('connection', (raw: Socket) => {
    const port = raw.remotePort;
    if (port === undefined) return;
    rawSockets.set(port, raw);
    raw.on('close', () => rawSockets.get(port) === raw && rawSockets.delete(port));
  });
  https.on('secureConnection', (socket: TLSSocket) => {
    // See the top of this file: an untrusted certificate fails the handshake, as in JSSE.
    const presented = presentedIdentity(socket);
    if (presented && !socket.authorized) {
      server.rejectedCerts.push({ error: String(socket.authorizationError), cn: presented.cn });
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    https.once('error', reject);
    https.listen(0, '127.0.0.1', () => resolve());
  });
  server.port = (https.address() as AddressInfo).port;
  server.url = `https://127.0.0.1:${server.port}`;
  server.stop = () =>
    new Promise<void>((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      https.close(() => resolve());
      https.closeAllConnections();
    });
  return server;
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/** @Consumes(APPLICATION_JSON): Jersey takes a missing Content-Type as application/octet-stream. */
function isJson(contentType: string | undefined): boolean {
  return mediaType(contentType) === 'application/json';
}

/** @Produces(APPLICATION_JSON): 406 unless Accept is absent or allows JSON. */
function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((range) => ['application/json', 'application/*', '*/*'].includes(mediaType(range)));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
