// Vault's and Keywhiz's answers on random input (fast-check; test/support/fuzz.ts): a tiny
// loopback server answers each request of a case with a random status and a random body
// (JSON of random shapes and sizes, Vault- and Keywhiz-shaped JSON with random leaves, text
// that is not JSON, bytes that are not UTF-8, bodies cut short or the connection closed
// mid-body). Whatever it answers, resolving the references ends within the secrets timeout
// with the values or with one InitError line and a documented code, and the credential
// (the token or the client key) is in no message or log line.
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InitError } from '../../src/exit-codes';
import type { Log } from '../../src/log';
import { planFromEnv } from '../../src/secrets/plan';
import { resolvePlan } from '../../src/secrets/resolve';
import { makePki } from '../support/certs';
import { runProperty } from '../support/fuzz';

const TOKEN = 'hvs.TokenCanary8f3a1c';
const CODES = [64, 69, 70, 71, 77, 78];

interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
  /** Close the connection after this many bytes of the body (undefined: send it all). */
  cutAt?: number;
}

const json = fc.jsonValue({ maxDepth: 4 });
const leaf = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }));
const vaultShaped = fc.oneof(
  fc.record({ data: fc.record({ data: fc.dictionary(fc.constantFrom('pw', 'x', '__proto__', 'constructor'), leaf), metadata: fc.oneof(json, fc.record({ version: fc.integer() })) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  fc.record({ data: fc.oneof(fc.dictionary(fc.constantFrom('pw', 'x'), leaf), json, fc.record({ options: fc.record({ version: fc.oneof(fc.constantFrom('1', '2'), fc.string()) }), path: fc.constantFrom('secret/', 'kv/', ''), type: fc.constantFrom('kv', 'generic', 'x') }, { requiredKeys: [] })) }, { requiredKeys: [] }),
  fc.record({ errors: fc.array(fc.oneof(fc.string(), fc.constant(`permission denied for ${TOKEN}`), fc.constant('line one\nline two'))), warnings: json }, { requiredKeys: [] }),
  fc.record({ auth: fc.record({ client_token: fc.string(), lease_duration: fc.oneof(fc.integer(), fc.string()), renewable: fc.boolean() }, { requiredKeys: [] }) }, { requiredKeys: [] }),
);
const keywhizShaped = fc.oneof(
  fc.record({ name: fc.constantFrom('s', 'other', ''), secret: fc.oneof(fc.base64String(), fc.string()), mode: fc.oneof(fc.constantFrom('0440', '0400'), fc.string()), owner: fc.string(), group: fc.string(), filename: fc.oneof(fc.string(), fc.constantFrom('../etc/x', 'a/b', '')) }, { requiredKeys: [] }),
  fc.array(fc.record({ name: fc.constantFrom('s', 'other'), secret: fc.oneof(fc.base64String(), fc.string(), fc.integer()) }, { requiredKeys: [] }), { maxLength: 3 }),
);
const body = (shaped: fc.Arbitrary<unknown>) => fc.oneof(
  shaped.map((v) => Buffer.from(JSON.stringify(v))),
  json.map((v) => Buffer.from(JSON.stringify(v))),
  fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.constant(Buffer.from('<html>502 Bad Gateway</html>')),
  fc.constant(Buffer.alloc(0)),
  fc.integer({ min: 1, max: 3 }).map((mb) => Buffer.from(`{"data":{"data":{"pw":"${'x'.repeat(mb << 20)}"}}}`)),
);
const answer = (shaped: fc.Arbitrary<unknown>): fc.Arbitrary<Answer> => fc.record({
  status: fc.constantFrom(200, 200, 200, 204, 301, 307, 400, 401, 403, 404, 412, 429, 500, 502, 503),
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', ''),
  body: body(shaped),
  cutAt: fc.option(fc.nat(64), { nil: undefined }),
});

/** A log that keeps its lines, to check them. */
function collectingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  const put = (m: string) => { lines.push(m); };
  const log: Log & { lines: string[] } = { lines, level: 'debug', error: put, warn: put, info: put, debug: put, about: () => log };
  return log;
}

/** Serves `answers` in turn (the last one again when they run out). */
function responder(state: { answers: Answer[]; served: number }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const a = state.answers[Math.min(state.served++, state.answers.length - 1)];
    const headers: Record<string, string | number> = { 'content-length': a.body.length };
    if (a.contentType) headers['content-type'] = a.contentType;
    if (a.status === 301 || a.status === 307) headers.location = 'http://127.0.0.1:9/elsewhere';
    res.writeHead(a.status, headers);
    if (a.cutAt !== undefined && a.cutAt < a.body.length) {
      res.write(a.body.subarray(0, a.cutAt), () => res.socket?.destroy());
    } else {
      res.end(a.body);
    }
  };
}

async function expectEnds(env: NodeJS.ProcessEnv, secretsOf: string[]): Promise<void> {
  const log = collectingLog();
  try {
    await resolvePlan(planFromEnv(env), { env, timeoutMs: 200, log });
  } catch (error) {
    if (!(error instanceof InitError)) throw new Error(`not an InitError: ${(error as Error)?.stack ?? error}`);
    expect(CODES).toContain(error.exitCode);
    expect(error.message).not.toContain('\n');
    log.lines.push(error.message);
  }
  for (const line of log.lines) for (const secret of secretsOf) expect(line).not.toContain(secret);
}

describe('Vault answers', () => {
  const state = { answers: [] as Answer[], served: 0 };
  const server = createHttp(responder(state));
  let addr = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    addr = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('whatever Vault answers: the value, or one line and a documented code, no token in it', async () => {
    await runProperty(fc.asyncProperty(fc.array(answer(vaultShaped), { minLength: 1, maxLength: 4 }), async (answers) => {
      state.answers = answers;
      state.served = 0;
      server.closeAllConnections();
      await expectEnds({ DB: 'vault:secret/app#pw', VAULT_ADDR: addr, VAULT_TOKEN: TOKEN }, [TOKEN]);
    }), 0.1);
  });
});

describe('Keywhiz answers', () => {
  const pki = makePki();
  const app = pki.client('app');
  const state = { answers: [] as Answer[], served: 0 };
  const server = createHttps({ key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, responder(state));
  let addr = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    addr = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('whatever Keywhiz answers: the value, or one line and a documented code, no key in it', async () => {
    const keyLine = app.key.split('\n')[1];
    await runProperty(fc.asyncProperty(fc.array(answer(keywhizShaped), { minLength: 1, maxLength: 4 }), async (answers) => {
      state.answers = answers;
      state.served = 0;
      server.closeAllConnections();
      await expectEnds({
        DB: 'keywhiz:s', OTHER: 'keywhiz:other', SESAME_KEYWHIZ_SERVER: addr,
        SESAME_KEYWHIZ_CERT: app.certPath, SESAME_KEYWHIZ_KEY: app.keyPath, SESAME_KEYWHIZ_CA: pki.ca.certPath,
      }, [keyLine]);
    }), 0.1);
  });
});
