// keywhiz: references, over Keywhiz's client API with a client certificate
// (Keywhiz's SecretDeliveryResource): one POST /batchsecret for all of them; because a batch is
// all-or-nothing (one missing secret fails it with 404), any failure falls back to one
// GET /secret/{name} each, which says which secret failed and why.
import { EXIT, InitError } from '../exit-codes';
import { MAX_TIMER_MS } from '../lifetime/clock';
import type { Log } from '../log';
import { denied, invalid, notFound, SecretError, unavailable } from './errors';
import { HttpClient, type HttpError } from './http';
import { readSettingFile } from './settings-file';
import { systemTrust } from './trust';
import type { SecretRequest } from './plan';
import type { Resolved } from './resolve';
import { CONNECTION_ERRORS, DeadlineExceeded, withRetries } from './retry';

export interface KeywhizSettings {
  server: URL;
  cert: Buffer;
  key: Buffer;
  /** SESAME_KEYWHIZ_CA, else the system's CAs (else the public ones built into init), as for Vault. */
  ca: Buffer[];
}

/** SESAME_KEYWHIZ_SERVER (https://host:4444), _CERT, _KEY (default: the cert file, as keywhiz-fs), _CA. */
export function keywhizSettings(env: NodeJS.ProcessEnv): KeywhizSettings {
  const fail = (m: string) => new InitError(m, EXIT.CONFIG);
  const read = readSettingFile;
  if (!env.SESAME_KEYWHIZ_SERVER) throw fail('SESAME_KEYWHIZ_SERVER is required for keywhiz: references (e.g. https://keywhiz.internal:4444)');
  let server: URL;
  try {
    server = new URL(env.SESAME_KEYWHIZ_SERVER.includes('://') ? env.SESAME_KEYWHIZ_SERVER : `https://${env.SESAME_KEYWHIZ_SERVER}`);
  } catch {
    throw fail(`SESAME_KEYWHIZ_SERVER: "${env.SESAME_KEYWHIZ_SERVER}" is not a URL`);
  }
  if (server.protocol !== 'https:') throw fail('SESAME_KEYWHIZ_SERVER: Keywhiz is only spoken over https');
  if (!env.SESAME_KEYWHIZ_CERT) throw fail('SESAME_KEYWHIZ_CERT (the client certificate, PEM) is required for keywhiz: references');
  const cert = read('SESAME_KEYWHIZ_CERT', env.SESAME_KEYWHIZ_CERT);
  return {
    server,
    cert,
    key: env.SESAME_KEYWHIZ_KEY ? read('SESAME_KEYWHIZ_KEY', env.SESAME_KEYWHIZ_KEY) : cert,
    ca: env.SESAME_KEYWHIZ_CA ? [read('SESAME_KEYWHIZ_CA', env.SESAME_KEYWHIZ_CA)] : systemTrust(env).ca,
  };
}

interface Delivery {
  name: string;
  secret: string;
  mode?: string;
  owner?: string;
  group?: string;
  filename?: string;
}

class KeywhizHttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** keysync retries only 5xx (client.go shouldRetry); and connection failures. */
const retryable = (e: unknown) => (e instanceof KeywhizHttpError ? e.status >= 500 : CONNECTION_ERRORS.has((e as NodeJS.ErrnoException).code ?? ''));

async function call(client: HttpClient, method: 'GET' | 'POST', path: string, body: object | undefined, deadline: number): Promise<unknown> {
  let res;
  try {
    res = await client.request({
      method,
      path,
      body: body ? Buffer.from(JSON.stringify(body)) : undefined,
      headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
      // Past 2^31 ms a socket timeout would become 1 ms; none left (0) is refused unsent.
      timeoutMs: Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now())),
    });
  } catch (error) {
    // Connected but not yet through the TLS handshake: a reset now is the server refusing
    // the client certificate (Keywhiz and Node-based servers may drop the connection without
    // an alert), not a network failure worth retrying until the deadline.
    const e = error as HttpError;
    if (e.duringHandshake && e.code === 'ECONNRESET') {
      throw Object.assign(new Error('the TLS handshake with Keywhiz failed: the server closed the connection (it may not accept the client certificate in SESAME_KEYWHIZ_CERT: another CA, or expired)'), { code: 'ETLSHANDSHAKE' });
    }
    throw error;
  }
  if (res.status !== 200) throw new KeywhizHttpError(res.status);
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    throw Object.assign(new Error('the answer is not JSON'), { code: 'EBADJSON' });
  }
}

function failure(error: unknown, name: string): SecretError {
  if (error instanceof DeadlineExceeded) return unavailable(`Keywhiz did not answer in time (${error.attempts} attempts; last: ${(error.last as Error).message})`);
  if (error instanceof KeywhizHttpError) {
    // ClientAuthFactory / SecretDeliveryResource (square/keywhiz): 401 unknown or disabled
    // client, 403 not assigned to this client, 404 no such secret.
    if (error.status === 401) return denied('Keywhiz does not accept this client certificate (unknown or disabled client)');
    if (error.status === 403) return denied(`secret ${name} is not assigned to this client`);
    if (error.status === 404) return notFound(`no secret ${name} in Keywhiz`);
    return unavailable(`Keywhiz answered ${error.status}`);
  }
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'ETLSHANDSHAKE') return unavailable(e.message);
  return unavailable(`cannot reach Keywhiz: ${e.code ?? ''}${e.message ? ` ${e.message}` : ''}`.trim());
}

/** File metadata as Keywhiz flattens it into the response. Mode is an octal string. */
function toResolved(d: Delivery): Resolved | SecretError {
  if (typeof d.secret !== 'string') return invalid(`Keywhiz returned ${d.name} without content`);
  if (d.filename !== undefined && (d.filename.includes('/') || d.filename.includes('\\') || d.filename === '.' || d.filename === '..' || d.filename === '' || d.filename.includes('\0'))) {
    return invalid(`Keywhiz metadata gives ${d.name} the file name "${d.filename}", which is not a plain file name`);
  }
  let mode: number | undefined;
  if (d.mode !== undefined) {
    if (!/^0?[0-7]{3,4}$/.test(d.mode)) return invalid(`Keywhiz metadata gives ${d.name} the mode "${d.mode}", which is not octal`);
    mode = parseInt(d.mode, 8);
  }
  // base64 with or without padding: Buffer accepts both.
  return { value: Buffer.from(d.secret, 'base64'), meta: { mode, owner: d.owner, group: d.group, filename: d.filename } };
}

export async function resolveKeywhiz(requests: SecretRequest[], env: NodeJS.ProcessEnv, deadline: number, log: Log): Promise<Map<SecretRequest, Resolved | SecretError>> {
  const settings = keywhizSettings(env);
  // rejectUnauthorized explicitly: NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment is the application's
  // business and must not turn off init's check of the server that hands out its secrets.
  const client = new HttpClient(settings.server, { cert: settings.cert, key: settings.key, ca: settings.ca, rejectUnauthorized: true, minVersion: 'TLSv1.2' });
  const names = [...new Set(requests.map((r) => (r.ref.scheme === 'keywhiz' ? r.ref.name : '')).filter(Boolean))];
  const byName = new Map<string, Resolved | SecretError>();
  const attempt = (f: () => Promise<unknown>) => withRetries(f, retryable, { deadline });
  try {
    const batch = (await attempt(() => call(client, 'POST', '/batchsecret', { secrets: names }, deadline))) as Delivery[];
    for (const d of Array.isArray(batch) ? batch : []) byName.set(d.name, toResolved(d));
  } catch (error) {
    // The time limit spent on the batch: no time is left to ask for each secret, and its
    // failure is the one to report (not a request refused unsent).
    if (error instanceof DeadlineExceeded || Date.now() >= deadline) {
      for (const name of names) byName.set(name, failure(error, name));
    } else {
      log.debug(`keywhiz: POST /batchsecret: ${(error as Error).message}; asking for each secret`);
    }
  }
  await Promise.all(names.filter((n) => !byName.has(n)).map(async (name) => {
    try {
      byName.set(name, toResolved((await attempt(() => call(client, 'GET', `/secret/${encodeURIComponent(name)}`, undefined, deadline))) as Delivery));
    } catch (error) {
      byName.set(name, failure(error, name));
    }
  }));
  client.close();
  return new Map(requests.map((r) => [r, byName.get(r.ref.scheme === 'keywhiz' ? r.ref.name : '') ?? notFound('not returned by Keywhiz')]));
}
