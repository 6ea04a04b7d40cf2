// keywhiz: references end to end: the built init as PID 1 fetches secrets from the test
// Keywhiz server over mutual TLS (test/support/keywhiz-server.ts) and starts its child with
// them, or fails closed with one line per failed reference and the exit code of its kind
// (69 unavailable or not found, 77 denied, 78 configuration). Some cases call the provider
// (resolveKeywhiz) directly where the result is clearer as data than as a child's output.
//
// Every run also checks that no secret value, nor its base64, appears on init's stderr.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, type InitError } from '../../src/exit-codes';
import { createLog, type Log } from '../../src/log';
import type { SecretError } from '../../src/secrets/errors';
import { keywhizSettings, resolveKeywhiz } from '../../src/secrets/keywhiz';
import type { SecretRequest } from '../../src/secrets/plan';
import { parseReference } from '../../src/secrets/reference';
import type { Resolved } from '../../src/secrets/resolve';
import { makePki } from '../support/certs';
import { startKeywhiz, type KeywhizOptions, type KeywhizSecret, type KeywhizServer } from '../support/keywhiz-server';
import { runAsPid1, type Finished } from '../support/pid1';

const pki = makePki();
const app = pki.client('app');
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const BINARY = Buffer.from([0x00, 0x01, 0x02, 0x0a, 0xfe, 0xff, 0x0d]);
const SECRETS: Record<string, KeywhizSecret> = {
  // base64 "aHVudGVyMg" without its "==": keysync pads before decoding, so must we.
  'db-password': { content: 'hunter2', unpadded: true },
  // Multi-byte UTF-8, inner and trailing newline: a variable gets exactly these bytes.
  'api-key': { content: 'clé ✓\nline 2\n' },
  'tls-key': { content: BINARY, unpadded: true, mode: '0640', filename: 'server.key' },
  canary: { content: 'CANARY-5e1f0a-do-not-print' },
  'bad-filename': { content: 'x', filename: '../../bla' },
  'other-team': { content: 'not yours' },
  // Present and assigned but cannot be an environment variable.
  'with-nul': { content: Buffer.from('a\0b') },
};
const CLIENTS: KeywhizOptions['clients'] = {
  app: { secrets: ['db-password', 'api-key', 'tls-key', 'canary', 'bad-filename', 'with-nul'] },
  retired: { secrets: ['db-password'], disabled: true },
};

/** Every secret's bytes as text and as base64 (padded and not): none may reach stderr. */
const FORBIDDEN = Object.values(SECRETS).flatMap((s) => {
  const bytes = Buffer.from(s.content);
  const b64 = bytes.toString('base64');
  return [bytes.toString('utf8'), b64, b64.replace(/=+$/, '')].filter((t) => t.length >= 4);
});
function expectNoSecretIn(text: string): void {
  for (const value of FORBIDDEN) expect(text, `stderr contains ${JSON.stringify(value)}`).not.toContain(value);
}

let kw: KeywhizServer | undefined;
async function server(options: Omit<KeywhizOptions, 'pki'> = {}): Promise<KeywhizServer> {
  kw = await startKeywhiz({ pki, clients: CLIENTS, secrets: SECRETS, ...options });
  return kw;
}
afterEach(async () => {
  await kw?.stop();
  kw = undefined;
});

const settings = (server: KeywhizServer, client = app) => ({
  SESAME_KEYWHIZ_SERVER: server.url,
  SESAME_KEYWHIZ_CERT: client.certPath,
  SESAME_KEYWHIZ_KEY: client.keyPath,
  SESAME_KEYWHIZ_CA: pki.ca.certPath,
});

/** init as PID 1 with only PATH, the Keywhiz settings and `extra` in its environment. */
async function run(args: string[], extra: NodeJS.ProcessEnv = {}, client = app): Promise<Finished> {
  const r = await runAsPid1(args, { env: { PATH, ...settings(kw as KeywhizServer, client), ...extra } });
  expectNoSecretIn(r.stderr);
  return r;
}

/** The server's request log as "METHOD path status", GETs sorted (they are sent concurrently). */
function requestLog(): string[] {
  const lines = (kw as KeywhizServer).requests.map((r) => `${r.method} ${r.path} ${r.status}`);
  const posts = lines.filter((l) => l.startsWith('POST'));
  return [...posts, ...lines.filter((l) => !l.startsWith('POST')).sort()];
}

const PRINT = (name: string) => `printf '%s' "\${${name}-unset}"`;

describe('keywhiz: references, through init as PID 1', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-kw-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('puts a secret into the variable that referenced it, exactly (unpadded base64 decoded)', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', `${PRINT('DB_PASSWORD')}; echo; ${PRINT('API_KEY')}`], {
      DB_PASSWORD: 'keywhiz:db-password',
      API_KEY: 'keywhiz:api-key',
    });
    expect(r.stdout).toBe('hunter2\nclé ✓\nline 2\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('fetches all of them with one POST /batchsecret when the server has it, and no GET', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password', B: 'keywhiz:api-key', C: 'keywhiz:db-password' });
    expect(r.stdout).toBe('started\n');
    expect(r.code).toBe(0);
    expect(requestLog()).toEqual(['POST /batchsecret 200']);
    // Each name once, whatever the number of variables that reference it.
    const body = (kw as KeywhizServer).requests[0].body as { secrets: string[] };
    expect([...body.secrets].sort()).toEqual(['api-key', 'db-password']);
    expect((kw as KeywhizServer).requests[0].client).toBe('app');
  });

  it('falls back to one GET per secret when /batchsecret is missing (an old server: 404)', async () => {
    await server({ flavor: 'old' });
    const r = await run(['--', 'sh', '-c', `${PRINT('A')}; echo; ${PRINT('B')}`], { A: 'keywhiz:db-password', B: 'keywhiz:api-key' });
    expect(r.stdout).toBe('hunter2\nclé ✓\nline 2\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(requestLog()).toEqual(['POST /batchsecret 404', 'GET /secret/api-key 200', 'GET /secret/db-password 200']);
  });

  it('falls back to one GET per secret when /batchsecret answers 405', async () => {
    await server({ faults: [{ method: 'POST', path: '/batchsecret', status: 405 }] });
    const r = await run(['--', 'sh', '-c', `${PRINT('A')}; echo; ${PRINT('B')}`], { A: 'keywhiz:db-password', B: 'keywhiz:api-key' });
    expect(r.stdout).toBe('hunter2\nclé ✓\nline 2\n');
    expect(r.code).toBe(0);
    expect(requestLog()).toEqual(['POST /batchsecret 405', 'GET /secret/api-key 200', 'GET /secret/db-password 200']);
  });

  it('many secrets from an old server: a GET each, all values right, and nothing on stderr', async () => {
    const many = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`s${i}`, { content: `value ${i}` }]));
    kw = await startKeywhiz({ pki, flavor: 'old', clients: { app: { secrets: Object.keys(many) } }, secrets: many });
    const vars = Object.fromEntries(Object.keys(many).map((name) => [name.toUpperCase(), `keywhiz:${name}`]));
    const r = await run(['--', 'sh', '-c', Object.keys(vars).map((v) => `echo "$${v}"`).join('; ')], vars);
    expect(r.stdout).toBe(Object.values(many).map((s) => `${s.content}\n`).join(''));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(requestLog()).toHaveLength(16);
  });

  it('the same secret to a variable and to a file: one batch, both filled', async () => {
    await server();
    const out = join(dir, 'both', 'db');
    const config = join(dir, 'both.yaml');
    writeFileSync(config, `secrets:\n  - { ref: "keywhiz:db-password", file: ${out} }\n`);
    const r = await run(['--config', config, '--', 'sh', '-c', `${PRINT('A')}; echo; cat ${out}`], { A: 'keywhiz:db-password' });
    expect(r.stdout).toBe('hunter2\nhunter2');
    expect(r.code).toBe(0);
    expect(requestLog()).toEqual(['POST /batchsecret 200']);
    expect((kw as KeywhizServer).requests[0].body).toEqual({ secrets: ['db-password'] });
  });

  it('one missing secret fails the batch; the GETs name it: one line, exit 69, nothing started', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password', NOPE: 'keywhiz:no-such-secret' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: NOPE: keywhiz:no-such-secret: no secret no-such-secret in Keywhiz\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(requestLog()).toEqual(['POST /batchsecret 404', 'GET /secret/db-password 200', 'GET /secret/no-such-secret 404']);
  });

  it('an unknown client certificate (401): exit 77, saying the certificate is not accepted', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password' }, pki.client('stranger'));
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: A: keywhiz:db-password: Keywhiz does not accept this client certificate (unknown or disabled client)\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
    expect(requestLog()).toEqual(['POST /batchsecret 401', 'GET /secret/db-password 401']);
  });

  it('a disabled client (401): exit 77 likewise', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password' }, pki.client('retired'));
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: A: keywhiz:db-password: Keywhiz does not accept this client certificate (unknown or disabled client)\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
  });

  it('a secret not assigned to this client (403): exit 77 naming it', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password', THEIRS: 'keywhiz:other-team' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: THEIRS: keywhiz:other-team: secret other-team is not assigned to this client\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
    expect(requestLog()).toEqual(['POST /batchsecret 403', 'GET /secret/db-password 200', 'GET /secret/other-team 403']);
  });

  it('a secret that does not exist (404): exit 69', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { GONE: 'keywhiz:gone' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: GONE: keywhiz:gone: no secret gone in Keywhiz\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('retries 5xx answers: two 503s from /batchsecret, then the batch succeeds', async () => {
    await server({ faults: [{ method: 'POST', path: '/batchsecret', status: 503, times: 2 }] });
    const r = await run(['--', 'sh', '-c', PRINT('A')], { A: 'keywhiz:db-password' });
    expect(r.stdout).toBe('hunter2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(requestLog()).toEqual(['POST /batchsecret 503', 'POST /batchsecret 503', 'POST /batchsecret 200']);
  });

  it('retries 5xx answers to GET /secret/{name} too (old server)', async () => {
    await server({ flavor: 'old', faults: [{ method: 'GET', path: '/secret/db-password', status: 500, times: 1 }] });
    const r = await run(['--', 'sh', '-c', PRINT('A')], { A: 'keywhiz:db-password' });
    expect(r.stdout).toBe('hunter2');
    expect(r.code).toBe(0);
    expect(requestLog()).toEqual(['POST /batchsecret 404', 'GET /secret/db-password 200', 'GET /secret/db-password 500']);
    expect((kw as KeywhizServer).requests.map((q) => q.status)).toEqual([404, 500, 200]);
  });

  it('a server that keeps answering 500: exit 69 once --secrets-timeout is spent', async () => {
    await server({ faults: [{ status: 500 }] });
    const r = await run(['--secrets-timeout', '1s', '--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sesame: error: A: keywhiz:db-password: Keywhiz did not answer in time \(\d+ attempts; last: HTTP 500\)\n$/);
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('a server that is down (connection refused): exit 69 once --secrets-timeout is spent', async () => {
    const down = await server();
    await down.stop(); // nothing listens on its port any more
    const r = await run(['--secrets-timeout', '1s', '--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^sesame: error: A: keywhiz:db-password: Keywhiz did not answer in time \\(\\d+ attempts; last: connect ECONNREFUSED 127\\.0\\.0\\.1:${down.port}\\)\\n$`));
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('a server that accepts but never answers: exit 69 at --secrets-timeout', async () => {
    await server({ faults: [{ delayMs: 60_000 }] });
    const r = await run(['--secrets-timeout', '1s', '--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: A: keywhiz:db-password: Keywhiz did not answer in time (1 attempts; last: no answer within the time limit)\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect((kw as KeywhizServer).requests[0]).toMatchObject({ method: 'POST', path: '/batchsecret' });
  });

  it('a server certificate from a CA that SESAME_KEYWHIZ_CA does not hold: a TLS error at once, exit 69', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password', SESAME_KEYWHIZ_CA: pki.otherCa.certPath });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: A: keywhiz:db-password: cannot reach Keywhiz: SELF_SIGNED_CERT_IN_CHAIN self-signed certificate in certificate chain\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect((kw as KeywhizServer).requests).toEqual([]); // never got past the handshake
  });

  it('NODE_TLS_REJECT_UNAUTHORIZED=0, meant for the application, does not turn off init\'s check of Keywhiz', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password', SESAME_KEYWHIZ_CA: pki.otherCa.certPath, NODE_TLS_REJECT_UNAUTHORIZED: '0' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: A: keywhiz:db-password: cannot reach Keywhiz: SELF_SIGNED_CERT_IN_CHAIN self-signed certificate in certificate chain\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect((kw as KeywhizServer).requests).toEqual([]);
    // With the right CA it works, and the child still gets the variable, without Node's warning.
    const ok = await run(['--', 'sh', '-c', `${PRINT('A')}; echo; ${PRINT('NODE_TLS_REJECT_UNAUTHORIZED')}`], { A: 'keywhiz:db-password', NODE_TLS_REJECT_UNAUTHORIZED: '0' });
    expect(ok.stdout).toBe('hunter2\n0');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });

  it('without SESAME_KEYWHIZ_CA the system CAs do not trust a private CA: the same TLS error', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password', SESAME_KEYWHIZ_CA: '' });
    expect(r.stderr).toBe('sesame: error: A: keywhiz:db-password: cannot reach Keywhiz: SELF_SIGNED_CERT_IN_CHAIN self-signed certificate in certificate chain\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
  });

  it('without SESAME_KEYWHIZ_CA, a private CA in the system store (SSL_CERT_FILE) is trusted, as for Vault', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', PRINT('A')], { A: 'keywhiz:db-password', SESAME_KEYWHIZ_CA: '', SSL_CERT_FILE: pki.ca.certPath, SSL_CERT_DIR: join(dir, 'none') });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hunter2');
    expect(r.code).toBe(0);
  });

  // The test server, like any Node server, can only drop the connection once the handshake
  // is over (see keywhiz-server.ts): the client sees a reset, not a TLS alert. Retrying that
  // until the deadline (30 s by default) and calling it "did not answer in time" hides the
  // cause; it must fail at once, saying the handshake failed and pointing at the certificate.
  it.each([
    ['from another CA', { untrusted: true }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['that has expired', { expired: true }, 'CERT_HAS_EXPIRED'],
  ])('a client certificate %s: the handshake fails; exit 69 at once with a TLS error naming the certificate', async (_what, options, verifyError) => {
    await server();
    // The time limit only bounds the test where the failure would be retried.
    const r = await run(['--secrets-timeout', '2s', '--', 'sh', '-c', 'echo started'], { A: 'keywhiz:db-password' }, pki.client('app', options));
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: A: keywhiz:db-password: the TLS handshake with Keywhiz failed: the server closed the connection (it may not accept the client certificate in SESAME_KEYWHIZ_CERT: another CA, or expired)\n');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect((kw as KeywhizServer).requests).toEqual([]);
    // One handshake for the batch, one for the GET that follows it: no retries.
    expect((kw as KeywhizServer).rejectedCerts).toEqual([{ cn: 'app', error: verifyError }, { cn: 'app', error: verifyError }]);
  });

  it('an optional secret that is missing: the child starts without that variable, with a warning', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', `${PRINT('A')}; echo; ${PRINT('OPT')}`], {
      A: 'keywhiz:db-password',
      OPT: 'keywhiz:not-there',
      SESAME_OPTIONAL_SECRETS: 'OPT',
    });
    expect(r.stdout).toBe('hunter2\nunset');
    expect(r.stderr).toBe('sesame: warning: OPT: keywhiz:not-there: no secret not-there in Keywhiz (optional: OPT left unset)\n');
    expect(r.code).toBe(0);
  });

  it('optional covers missing only: an optional secret that is denied (403) still fails with 77', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { THEIRS: 'keywhiz:other-team', SESAME_OPTIONAL_SECRETS: '*' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: THEIRS: keywhiz:other-team: secret other-team is not assigned to this client\n');
    expect(r.code).toBe(EXIT.NO_PERMISSION);
  });

  it('a filename in the metadata with a path separator is refused (78) and nothing is written', async () => {
    await server();
    const out = join(dir, 'filename-refused', 'secrets');
    const config = join(dir, 'filename-refused.yaml');
    writeFileSync(config, `secrets:\n  - ref: keywhiz:bad-filename\n    file: ${out}/\n`);
    const r = await run(['--config', config, '--', 'sh', '-c', 'echo started']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`sesame: error: ${config}: secrets[0]: keywhiz:bad-filename: Keywhiz metadata gives bad-filename the file name "../../bla", which is not a plain file name\n`);
    expect(r.code).toBe(EXIT.CONFIG);
    expect(existsSync(join(dir, 'filename-refused'))).toBe(false);
    expect(existsSync(join(out, '../../bla'))).toBe(false);
  });

  it('binary content to a file, byte for byte, named and moded by the metadata (0640 masked to 0440)', async () => {
    await server();
    const out = join(dir, 'binary');
    const config = join(dir, 'binary.yaml');
    writeFileSync(config, `secrets:\n  - ref: keywhiz:tls-key\n    file: ${out}/\n`);
    const r = await run(['--config', config, '--', 'sh', '-c', 'echo started']);
    expect(r.stdout).toBe('started\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(['server.key']);
    expect(readFileSync(join(out, 'server.key'))).toEqual(BINARY);
    expect(statSync(join(out, 'server.key')).mode & 0o7777).toBe(0o440);
  });

  it('a value with a NUL byte cannot go into a variable: 78, and the child does not start', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'echo started'], { N: 'keywhiz:with-nul' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: N: keywhiz:with-nul: the value contains a NUL byte, which an environment variable cannot hold\n');
    expect(r.code).toBe(EXIT.CONFIG);
  });

  it('the child never sees SESAME_KEYWHIZ_* (nor the reference), and PID 1\'s environ is scrubbed too', async () => {
    await server();
    const r = await run(['--', 'sh', '-c', 'env; echo ---; tr "\\0" "\\n" </proc/1/environ | grep -v "^$"'], { A: 'keywhiz:db-password' });
    expect(r.code).toBe(0);
    const [childEnv, pid1Env] = r.stdout.split('---\n');
    const names = childEnv.split('\n').filter(Boolean).map((l) => l.slice(0, l.indexOf('=')));
    expect(names.filter((n) => n.startsWith('SESAME_'))).toEqual([]);
    expect(childEnv).toContain('A=hunter2\n');
    expect(childEnv).not.toContain('keywhiz:');
    expect(pid1Env).toBe(`PATH=${PATH}\n`);
  });

  it('stderr never holds a secret value, even at debug level and when another secret fails', async () => {
    await server({ faults: [{ method: 'POST', path: '/batchsecret', status: 500, times: 1 }] });
    const r = await run(['--log-level', 'debug', '--', 'sh', '-c', 'echo started'], {
      C: 'keywhiz:canary',
      A: 'keywhiz:db-password',
      NOPE: 'keywhiz:nope',
    });
    expect(r.stdout).toBe('');
    expect(r.code).toBe(EXIT.UNAVAILABLE);
    expect(r.stderr).toContain('sesame: error: NOPE: keywhiz:nope: no secret nope in Keywhiz\n');
    expect(r.stderr).not.toContain('CANARY');
    expect(r.stderr).not.toContain(Buffer.from(SECRETS.canary.content).toString('base64').slice(0, 16));
    // And on success with debug on.
    const ok = await run(['--log-level', 'debug', '--', 'sh', '-c', 'echo started'], { C: 'keywhiz:canary' });
    expect(ok.stdout).toBe('started\n');
    expect(ok.stderr).toContain('sesame: debug: ');
    expect(ok.stderr).not.toContain('CANARY');
  });

  it('SESAME_KEYWHIZ_SERVER missing: exit 78 naming it, before any request', async () => {
    const r = await runAsPid1(['--', 'sh', '-c', 'echo started'], { env: { PATH, A: 'keywhiz:db-password', SESAME_KEYWHIZ_CERT: app.certPath } });
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('sesame: error: SESAME_KEYWHIZ_SERVER is required for keywhiz: references (e.g. https://keywhiz.internal:4444)\n');
    expect(r.code).toBe(EXIT.CONFIG);
  });
});

describe('resolveKeywhiz', () => {
  const silent: Log = { ...createLog('error'), error: () => {} };
  const request = (name: string, variable = name.toUpperCase().replace(/-/g, '_')): SecretRequest => ({
    ref: parseReference(`keywhiz:${name}`, variable),
    target: { kind: 'env', name: variable },
    optional: false,
    origin: variable,
  });
  const resolve = async (requests: SecretRequest[], env: NodeJS.ProcessEnv, ms = 10_000) =>
    [...(await resolveKeywhiz(requests, env, Date.now() + ms, silent)).values()];

  it('matches batch answers by name, whatever their order; duplicates get the same value', async () => {
    const server = await startKeywhiz({
      pki,
      clients: { app: { secrets: ['z-last', 'a-first', 'meta'] } },
      // The server answers in its own (insertion) order, not the request's.
      secrets: { 'z-last': { content: 'Z' }, 'a-first': { content: 'A' }, meta: { content: 'M', mode: '0640', owner: 'nobody', group: 'ssl-cert', filename: 'm.conf' } },
    });
    kw = server;
    const results = await resolve([request('a-first'), request('meta'), request('z-last'), request('a-first', 'AGAIN')], settings(server));
    expect(results).toEqual([
      { value: Buffer.from('A'), meta: { mode: undefined, owner: undefined, group: undefined, filename: undefined } },
      { value: Buffer.from('M'), meta: { mode: 0o640, owner: 'nobody', group: 'ssl-cert', filename: 'm.conf' } },
      { value: Buffer.from('Z'), meta: { mode: undefined, owner: undefined, group: undefined, filename: undefined } },
      { value: Buffer.from('A'), meta: { mode: undefined, owner: undefined, group: undefined, filename: undefined } },
    ]);
    expect(server.requests.map((r) => [r.method, r.path, r.body])).toEqual([['POST', '/batchsecret', { secrets: ['a-first', 'meta', 'z-last'] }]]);
  });

  it('escapes names in GET paths (old server): a space, "#", "?" and "%"', async () => {
    const names = ['with space', 'hash#tag', 'what?', '100%'];
    const server = await startKeywhiz({
      pki,
      flavor: 'old',
      clients: { app: { secrets: names } },
      secrets: Object.fromEntries(names.map((n) => [n, { content: `value of ${n}` }])),
    });
    kw = server;
    const results = await resolve(names.map((n, i) => request(n, `V${i}`)), settings(server));
    expect(results.map((r) => (r as Resolved).value.toString())).toEqual(names.map((n) => `value of ${n}`));
    expect(server.requests.filter((r) => r.method === 'GET').map((r) => r.path).sort()).toEqual(['/secret/100%25', '/secret/hash%23tag', '/secret/what%3F', '/secret/with%20space']);
  });

  it('decodes unpadded base64 binary content byte for byte', async () => {
    const bytes = Buffer.from([0xff, 0x00, 0x80, 0x7f, 0x0a]); // 5 bytes: base64 "/wCAfwo" unpadded
    const server = await serverWith({ blob: { content: bytes, unpadded: true } });
    const [result] = await resolve([request('blob')], settings(server));
    expect((result as Resolved).value).toEqual(bytes);
  });

  it('refuses metadata it cannot use: a mode that is not octal, a filename that is not a plain name', async () => {
    const server = await serverWith({
      'bad-mode': { content: 'x', mode: 'rw-r-----' },
      slash: { content: 'x', filename: 'a/b' },
      backslash: { content: 'x', filename: 'a\\b' },
      dotdot: { content: 'x', filename: '..' },
    });
    const results = await resolve([request('bad-mode'), request('slash'), request('backslash'), request('dotdot')], settings(server));
    expect(results.map((r) => [(r as SecretError).kind, (r as SecretError).message])).toEqual([
      ['invalid', 'Keywhiz metadata gives bad-mode the mode "rw-r-----", which is not octal'],
      ['invalid', 'Keywhiz metadata gives slash the file name "a/b", which is not a plain file name'],
      ['invalid', 'Keywhiz metadata gives backslash the file name "a\\b", which is not a plain file name'],
      ['invalid', 'Keywhiz metadata gives dotdot the file name "..", which is not a plain file name'],
    ]);
  });

  it('takes the key from the certificate file when SESAME_KEYWHIZ_KEY is unset (one PEM with both)', async () => {
    const server = await serverWith({ s: { content: 'from combined pem' } });
    const combined = join(mkdtempSync(join(tmpdir(), 'sesame-kw-pem-')), 'app.pem');
    writeFileSync(combined, app.cert + app.key, { mode: 0o600 });
    try {
      const [result] = await resolve([request('s')], { SESAME_KEYWHIZ_SERVER: server.url, SESAME_KEYWHIZ_CERT: combined, SESAME_KEYWHIZ_CA: pki.ca.certPath });
      expect((result as Resolved).value.toString()).toBe('from combined pem');
    } finally {
      rmSync(join(combined, '..'), { recursive: true, force: true });
    }
  });

  it('accepts SESAME_KEYWHIZ_SERVER as host:port, as keysync\'s config has it', async () => {
    const server = await serverWith({ s: { content: 'hostport' } });
    const [result] = await resolve([request('s')], { ...settings(server), SESAME_KEYWHIZ_SERVER: `127.0.0.1:${server.port}` });
    expect((result as Resolved).value.toString()).toBe('hostport');
  });

  async function serverWith(secrets: Record<string, KeywhizSecret>): Promise<KeywhizServer> {
    kw = await startKeywhiz({ pki, clients: { app: { secrets: Object.keys(secrets) } }, secrets });
    return kw;
  }
});

describe('keywhizSettings', () => {
  const fail = (env: NodeJS.ProcessEnv) => {
    try {
      keywhizSettings(env);
    } catch (error) {
      return [(error as InitError).message, (error as InitError).exitCode];
    }
    throw new Error('no error');
  };

  it('refuses missing or wrong settings with exit 78, naming the variable', () => {
    expect(fail({})).toEqual(['SESAME_KEYWHIZ_SERVER is required for keywhiz: references (e.g. https://keywhiz.internal:4444)', 78]);
    expect(fail({ SESAME_KEYWHIZ_SERVER: 'http://keywhiz:4444', SESAME_KEYWHIZ_CERT: app.certPath })).toEqual(['SESAME_KEYWHIZ_SERVER: Keywhiz is only spoken over https', 78]);
    expect(fail({ SESAME_KEYWHIZ_SERVER: 'https://[nope', SESAME_KEYWHIZ_CERT: app.certPath })).toEqual(['SESAME_KEYWHIZ_SERVER: "https://[nope" is not a URL', 78]);
    expect(fail({ SESAME_KEYWHIZ_SERVER: 'https://kw:4444' })).toEqual(['SESAME_KEYWHIZ_CERT (the client certificate, PEM) is required for keywhiz: references', 78]);
    expect(fail({ SESAME_KEYWHIZ_SERVER: 'https://kw:4444', SESAME_KEYWHIZ_CERT: '/nonexistent/app.crt' })).toEqual(['SESAME_KEYWHIZ_CERT=/nonexistent/app.crt: no such file', 78]);
    expect(fail({ SESAME_KEYWHIZ_SERVER: 'https://kw:4444', SESAME_KEYWHIZ_CERT: app.certPath, SESAME_KEYWHIZ_KEY: '/nonexistent/app.key' })).toEqual(['SESAME_KEYWHIZ_KEY=/nonexistent/app.key: no such file', 78]);
    expect(fail({ SESAME_KEYWHIZ_SERVER: 'https://kw:4444', SESAME_KEYWHIZ_CERT: app.certPath, SESAME_KEYWHIZ_CA: '/nonexistent/ca.crt' })).toEqual(['SESAME_KEYWHIZ_CA=/nonexistent/ca.crt: no such file', 78]);
  });

  it('reads the files named by the variables', () => {
    const s = keywhizSettings({ SESAME_KEYWHIZ_SERVER: 'https://kw.internal:4444', SESAME_KEYWHIZ_CERT: app.certPath, SESAME_KEYWHIZ_KEY: app.keyPath, SESAME_KEYWHIZ_CA: pki.ca.certPath });
    expect(s.server.href).toBe('https://kw.internal:4444/');
    expect(s.cert.toString()).toBe(app.cert);
    expect(s.key.toString()).toBe(app.key);
    expect(s.ca.map(String)).toEqual([pki.ca.cert]);
  });

  it('without SESAME_KEYWHIZ_CA, trusts the system\'s CAs (SSL_CERT_FILE), as a Vault client does', () => {
    const s = keywhizSettings({ SESAME_KEYWHIZ_SERVER: 'https://kw.internal:4444', SESAME_KEYWHIZ_CERT: app.certPath, SSL_CERT_FILE: pki.ca.certPath, SSL_CERT_DIR: '/nonexistent' });
    expect(s.ca.map(String)).toEqual([pki.ca.cert]);
  });
});

