// The Vault test server itself, through plain fetch and node:https: status codes, bodies and
// headers as a client meets them (the expected texts are the ones OpenBao v2.6.2 answered; see
// test/support/VAULT-SERVER.md). When SESAME_OPENBAO_ADDR points at a running
// `bao server -dev -dev-root-token-id=root`, the last block replays the same requests against it
// and compares the answers field by field.
import { createServer as createHttpServer, type Server } from 'node:http';
import https from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makePki } from '../support/certs';
import { startVault, type VaultServer } from '../support/vault-server';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any; // assertions read arbitrary fields
}

interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

async function call(vault: { url: string }, method: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['X-Vault-Token'] = options.token;
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const res = await fetch(`${vault.url}/v1/${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const PERMISSION_DENIED = { errors: ['permission denied'] };
const ACL_DENIED = { errors: ['1 error occurred:\n\t* permission denied\n\n'] };
const ENVELOPE_KEYS = ['request_id', 'lease_id', 'renewable', 'lease_duration', 'data', 'wrap_info', 'warnings', 'auth'];

describe('vault test server: basics', () => {
  let vault: VaultServer;
  beforeAll(async () => {
    vault = await startVault({ flavor: 'openbao' });
  });
  afterAll(() => vault.stop());

  it('listens on 127.0.0.1 with a random port', () => {
    expect(vault.url).toBe(`http://127.0.0.1:${vault.port}`);
    expect(vault.port).toBeGreaterThan(0);
  });

  it('answers sys/health unauthenticated, with Vault headers', async () => {
    const r = await call(vault, 'GET', 'sys/health');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ initialized: true, sealed: false, standby: false, replication_performance_mode: 'disabled', replication_dr_mode: 'disabled', version: '2.6.2' });
    expect(typeof r.json.server_time_utc).toBe('number');
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    expect(r.text.endsWith('}\n')).toBe(true);
  });

  it('refuses requests without a valid token with the plain permission denied body', async () => {
    for (const token of [undefined, 'nope']) {
      const r = await call(vault, 'GET', 'secret/data/app', { token });
      expect(r.status).toBe(403);
      expect(r.json).toEqual(PERMISSION_DENIED);
      expect(r.text).toBe('{"errors":["permission denied"]}\n');
    }
  });

  it('says "no handler for route" only to a token whose policies cover the path', async () => {
    expect((await call(vault, 'GET', 'nomount/x', { token: 'root' })).json).toEqual({ errors: ['no handler for route "nomount/x". route entry not found.'] });
    vault.addPolicy('nomount', ['nomount/*']);
    expect((await call(vault, 'GET', 'nomount/x', { token: vault.createToken({ policies: ['nomount'] }) })).status).toBe(404);
    const r = await call(vault, 'GET', 'nomount/x', { token: vault.createToken({ policies: [] }) });
    expect(r.status).toBe(403);
    expect(r.json).toEqual(ACL_DENIED);
  });

  it('accepts the LIST verb, which Node\'s own HTTP parser does not know, on kept-alive connections', async () => {
    vault.kvPut('secret', 'list/a', { a: '1' });
    const raw = connect(vault.port, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    let text = '';
    raw.on('data', (c) => (text += c));
    const request = (method: string, path: string, body = '') =>
      `${method} /v1/${path} HTTP/1.1\r\nHost: x\r\nX-Vault-Token: root\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    raw.write(request('POST', 'secret/data/list/b', '{"data":{"b":"2"}}') + request('LIST', 'secret/metadata/list') + request('GET', 'secret/metadata/list?list=true'));
    await new Promise((r) => setTimeout(r, 200));
    raw.destroy();
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
    expect(text.match(/"keys":\["a","b"\]/g)).toHaveLength(2);
    expect(vault.requests.slice(-3).map((r) => r.method)).toEqual(['POST', 'LIST', 'GET']);
    expect(vault.requests.at(-2)?.headers).not.toHaveProperty('x-sesame-test-verb');
  });

  it('answers an unsupported operation with 405', async () => {
    vault.enableKv('kv405', 1);
    const r = await call(vault, 'PATCH', 'kv405/x', { token: 'root', body: {} });
    expect(r.status).toBe(405);
    expect(r.json).toEqual({ errors: ['1 error occurred:\n\t* unsupported operation\n\n'] });
  });

  it('reads a form-typed body as JSON when it looks like JSON (curl -d), else as a form', async () => {
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    expect((await call(vault, 'POST', 'secret/data/form', { token: 'root', body: '{"data":{"a":"1"}}', headers: form })).json.data.version).toBe(1);
    expect((await call(vault, 'POST', 'secret/data/form', { token: 'root', body: 'not json', headers: form })).json).toEqual({ errors: ['no data provided'] });
  });

  it('reports JSON decoding errors as 400', async () => {
    const r = await call(vault, 'POST', 'secret/data/app', { token: 'root', body: '{"data":', headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ errors: ['failed to decode JSON input: unexpected EOF'] });
  });
});

describe('vault test server: tokens', () => {
  let vault: VaultServer;
  beforeAll(async () => {
    vault = await startVault({ flavor: 'openbao' });
    vault.kvPut('secret', 'app', { password: 'p1' });
    vault.addPolicy('app-read', { 'secret/data/app': ['read'] });
  });
  afterAll(() => vault.stop());

  it('takes the token from X-Vault-Token or Authorization: Bearer, X-Vault-Token first', async () => {
    expect((await call(vault, 'GET', 'auth/token/lookup-self', { headers: { Authorization: 'Bearer root' } })).status).toBe(200);
    const both = await call(vault, 'GET', 'auth/token/lookup-self', { headers: { Authorization: 'Bearer root', 'X-Vault-Token': 'bogus' } });
    expect(both.status).toBe(403);
  });

  it('describes the root token: no TTL, not renewable, root policy', async () => {
    const r = await call(vault, 'GET', 'auth/token/lookup-self', { token: 'root' });
    expect(Object.keys(r.json)).toEqual(ENVELOPE_KEYS);
    expect(r.json.data).toMatchObject({ id: 'root', policies: ['root'], ttl: 0, creation_ttl: 0, expire_time: null, renewable: false, orphan: true, type: 'service', num_uses: 0 });
    expect(Object.keys(r.json.data)).toEqual([...Object.keys(r.json.data)].sort());
    const renew = await call(vault, 'POST', 'auth/token/renew-self', { token: 'root', body: {} });
    expect(renew.status).toBe(400);
    expect(renew.json).toEqual({ errors: ['lease is not renewable'] });
  });

  it('looks up and renews a child token; renewal is capped by explicit_max_ttl with a warning', async () => {
    const token = vault.createToken({ policies: ['app-read'], ttl: '1h', explicitMaxTtl: '90m' });
    expect(token).toMatch(/^s\.[A-Za-z0-9]{24}$/);
    const lookup = await call(vault, 'GET', 'auth/token/lookup-self', { token });
    expect(lookup.json.data).toMatchObject({ policies: ['app-read', 'default'], creation_ttl: 3600, explicit_max_ttl: 5400, renewable: true, orphan: false, path: 'auth/token/create', display_name: 'token', meta: null });
    expect(lookup.json.data.ttl).toBeGreaterThan(3590);
    expect(lookup.json.data.last_renewal).toBeUndefined();

    const renewed = await call(vault, 'POST', 'auth/token/renew-self', { token, body: { increment: 60 } });
    expect(renewed.status).toBe(200);
    expect(renewed.json.data).toBeNull();
    expect(renewed.json.auth).toEqual({
      client_token: token,
      accessor: lookup.json.data.accessor,
      policies: ['app-read', 'default'],
      token_policies: ['app-read', 'default'],
      metadata: null,
      lease_duration: 60,
      renewable: true,
      entity_id: '',
      token_type: 'service',
      orphan: false,
      mfa_requirement: null,
      num_uses: 0,
    });
    // No increment: the last granted TTL again.
    expect((await call(vault, 'PUT', 'auth/token/renew-self', { token })).json.auth.lease_duration).toBe(60);
    const capped = await call(vault, 'POST', 'auth/token/renew-self', { token, body: { increment: '3h' } });
    expect(capped.json.warnings).toEqual(['TTL of "3h" exceeded the effective max_ttl of "1h30m"; TTL value is capped accordingly']);
    expect(capped.json.auth.lease_duration).toBeLessThanOrEqual(5400);
    expect((await call(vault, 'GET', 'auth/token/lookup-self', { token })).json.data.last_renewal_time).toEqual(expect.any(Number));
  });

  it('refuses a path the policies do not grant with the ACL error form', async () => {
    const token = vault.createToken({ policies: ['app-read'] });
    expect((await call(vault, 'GET', 'secret/data/app', { token })).status).toBe(200);
    const r = await call(vault, 'GET', 'secret/data/other', { token });
    expect(r.status).toBe(403);
    expect(r.json).toEqual(ACL_DENIED);
    expect((await call(vault, 'POST', 'secret/data/app', { token, body: { data: { a: 1 } } })).json).toEqual(ACL_DENIED);
  });

  it('evaluates globs: exact beats glob, longer glob wins, deny wins', async () => {
    vault.kvPut('secret', 'team/a', { v: 1 });
    vault.kvPut('secret', 'team/b', { v: 1 });
    vault.kvPut('secret', 'x/app/y', { v: 1 });
    vault.addPolicy('team', { 'secret/data/team/*': ['read'], 'secret/data/team/b': ['deny'], 'secret/data/+/app/*': ['read'] });
    const token = vault.createToken({ policies: ['team'] });
    expect((await call(vault, 'GET', 'secret/data/team/a', { token })).status).toBe(200);
    expect((await call(vault, 'GET', 'secret/data/team/b', { token })).status).toBe(403);
    expect((await call(vault, 'GET', 'secret/data/x/app/y', { token })).status).toBe(200);
  });

  it('revokes on revoke-self, at expiry, and after num_uses (denied uses count)', async () => {
    const revoked = vault.createToken();
    expect((await call(vault, 'POST', 'auth/token/revoke-self', { token: revoked })).status).toBe(204);
    expect((await call(vault, 'GET', 'auth/token/lookup-self', { token: revoked })).json).toEqual(PERMISSION_DENIED);

    const limited = vault.createToken({ policies: ['app-read'], numUses: 2 });
    expect((await call(vault, 'GET', 'kv-none/x', { token: limited })).status).toBe(403);
    const last = await call(vault, 'GET', 'auth/token/lookup-self', { token: limited });
    expect(last.json.data.num_uses).toBe(-1);
    expect((await call(vault, 'GET', 'auth/token/lookup-self', { token: limited })).status).toBe(403);

    const shortLived = vault.createToken({ ttl: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(vault, 'GET', 'auth/token/lookup-self', { token: shortLived })).json).toEqual(PERMISSION_DENIED);
  });

  it('creates tokens over HTTP like `vault token create`', async () => {
    const r = await call(vault, 'POST', 'auth/token/create', { token: 'root', body: { policies: ['app-read'], ttl: '1h' } });
    expect(r.status).toBe(200);
    expect(r.json.auth).toMatchObject({ policies: ['app-read', 'default'], lease_duration: 3600, renewable: true, orphan: false });
    expect((await call(vault, 'GET', 'secret/data/app', { token: r.json.auth.client_token })).status).toBe(200);
  });
});

describe('vault test server: KV', () => {
  let vault: VaultServer;
  beforeAll(async () => {
    vault = await startVault({ flavor: 'openbao' });
  });
  afterAll(() => vault.stop());

  it('writes over HTTP like `vault kv put` and reads back data and metadata', async () => {
    const put = await call(vault, 'POST', 'secret/data/app', { token: 'root', body: { data: { user: 'u', password: 'p1' } } });
    expect(put.status).toBe(200);
    expect(put.json.data).toEqual({ created_time: expect.any(String), custom_metadata: null, deletion_time: '', destroyed: false, version: 1 });
    const r = await call(vault, 'GET', 'secret/data/app', { token: 'root' });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(ENVELOPE_KEYS);
    expect(r.json).toMatchObject({ lease_id: '', renewable: false, lease_duration: 0, wrap_info: null, warnings: null, auth: null });
    expect(r.json.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(r.json.data.data).toEqual({ password: 'p1', user: 'u' });
    expect(r.json.data.metadata).toMatchObject({ custom_metadata: null, deletion_time: '', destroyed: false, version: 1 });
    expect(r.json.data.metadata.created_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it('keeps versions; ?version=N reads an old one; a bad version is a 400', async () => {
    expect(vault.kvPut('secret', 'versions', { v: '1' })).toBe(1);
    expect(vault.kvPut('secret', 'versions', { v: '2' })).toBe(2);
    expect((await call(vault, 'GET', 'secret/data/versions', { token: 'root' })).json.data.data).toEqual({ v: '2' });
    expect((await call(vault, 'GET', 'secret/data/versions?version=1', { token: 'root' })).json.data.data).toEqual({ v: '1' });
    expect((await call(vault, 'GET', 'secret/data/versions?version=9', { token: 'root' })).text).toBe('{"errors":[]}\n');
    const bad = await call(vault, 'GET', 'secret/data/versions?version=abc', { token: 'root' });
    expect(bad.status).toBe(400);
    expect(bad.json.errors[0]).toMatch(/^Field validation failed: error converting input for field "version"/);
  });

  it('answers a missing secret with 404 and an empty errors list', async () => {
    const r = await call(vault, 'GET', 'secret/data/missing', { token: 'root' });
    expect(r.status).toBe(404);
    expect(r.text).toBe('{"errors":[]}\n');
  });

  it('answers a soft-deleted version with 404 and a body: data null, deletion_time set', async () => {
    vault.kvPut('secret', 'deleted', { a: '1' });
    expect((await call(vault, 'DELETE', 'secret/data/deleted', { token: 'root' })).status).toBe(204);
    const r = await call(vault, 'GET', 'secret/data/deleted', { token: 'root' });
    expect(r.status).toBe(404);
    expect(r.json.errors).toBeUndefined();
    expect(r.json.data.data).toBeNull();
    expect(r.json.data.metadata).toMatchObject({ destroyed: false, version: 1 });
    expect(r.json.data.metadata.deletion_time).not.toBe('');
    expect(r.text.endsWith('}')).toBe(true); // written raw, no trailing newline
    await call(vault, 'POST', 'secret/undelete/deleted', { token: 'root', body: { versions: [1] } });
    expect((await call(vault, 'GET', 'secret/data/deleted', { token: 'root' })).json.data.data).toEqual({ a: '1' });
  });

  it('answers a destroyed version with 404: destroyed true, no deletion_time', async () => {
    vault.kvPut('secret', 'destroyed', { a: '1' });
    vault.kvPut('secret', 'destroyed', { a: '2' });
    expect((await call(vault, 'POST', 'secret/destroy/destroyed', { token: 'root', body: { versions: [1] } })).status).toBe(204);
    const r = await call(vault, 'GET', 'secret/data/destroyed?version=1', { token: 'root' });
    expect(r.status).toBe(404);
    expect(r.json.data).toEqual({ data: null, metadata: { created_time: expect.any(String), custom_metadata: null, deletion_time: '', destroyed: true, version: 1 } });
    vault.kvDestroy('secret', 'destroyed', [2]);
    expect((await call(vault, 'GET', 'secret/data/destroyed', { token: 'root' })).json.data.metadata.destroyed).toBe(true);
  });

  it('lists versions in metadata (OpenBao field set)', async () => {
    vault.kvPut('secret', 'meta', { a: '1' }, { customMetadata: { owner: 'jdoe' } });
    vault.kvPut('secret', 'meta', { a: '2' });
    vault.kvDelete('secret', 'meta');
    const r = await call(vault, 'GET', 'secret/metadata/meta', { token: 'root' });
    expect(Object.keys(r.json.data)).toEqual(['cas_required', 'created_time', 'current_metadata_version', 'current_version', 'custom_metadata', 'delete_version_after', 'max_versions', 'metadata_cas_required', 'oldest_version', 'updated_time', 'versions']);
    expect(r.json.data).toMatchObject({ current_version: 2, oldest_version: 0, max_versions: 0, delete_version_after: '0s', custom_metadata: { owner: 'jdoe' } });
    expect(Object.keys(r.json.data.versions)).toEqual(['1', '2']);
    expect(r.json.data.versions['2'].deletion_time).not.toBe('');
  });

  it('refuses a v1-style path on a v2 mount with 404 and the documented warning', async () => {
    const r = await call(vault, 'GET', 'secret/app', { token: 'root' });
    expect(r.status).toBe(404);
    expect(r.json.data).toBeNull();
    expect(r.json.warnings).toEqual(["Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv get' for this operation."]);
    const root = await call(vault, 'GET', 'secret/data', { token: 'root' });
    expect(root.json.warnings).toEqual(['Non-listing operations on the root of a K/V v2 mount are not supported.']);
  });

  it('lists keys with LIST and ?list=true; folders end in /', async () => {
    vault.kvPut('secret', 'dir/one', { a: '1' });
    vault.kvPut('secret', 'dir/sub/two', { a: '1' });
    const r = await call(vault, 'LIST', 'secret/metadata/dir', { token: 'root' });
    expect(r.json.data).toEqual({ keys: ['one', 'sub/'] });
    expect((await call(vault, 'GET', 'secret/metadata/dir/?list=true', { token: 'root' })).json.data).toEqual({ keys: ['one', 'sub/'] });
    expect((await call(vault, 'LIST', 'secret/metadata/nothing', { token: 'root' })).status).toBe(404);
  });

  it('enforces check-and-set and "no data provided"', async () => {
    vault.kvPut('secret', 'cas', { a: '1' });
    const r = await call(vault, 'POST', 'secret/data/cas', { token: 'root', body: { options: { cas: 0 }, data: { a: '2' } } });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ errors: ['check-and-set parameter did not match the current version'] });
    expect((await call(vault, 'POST', 'secret/data/cas', { token: 'root', body: { options: { cas: 1 }, data: { a: '2' } } })).json.data.version).toBe(2);
    expect((await call(vault, 'POST', 'secret/data/cas', { token: 'root', body: {} })).json).toEqual({ errors: ['no data provided'] });
  });

  it('writes JSON like encoding/json: sorted keys, HTML characters escaped', async () => {
    vault.kvPut('secret', 'html', { z: 'a<b&c>', a: { y: 1, b: [2, 1] } });
    const r = await call(vault, 'GET', 'secret/data/html', { token: 'root' });
    expect(r.text).toContain('"data":{"data":{"a":{"b":[2,1],"y":1},"z":"a\\u003cb\\u0026c\\u003e"}');
    expect(r.json.data.data.z).toBe('a<b&c>');
  });

  it('serves KV v1: lease_duration from "ttl", else the 768h mount default', async () => {
    vault.enableKv('kv1', 1);
    vault.kvPut('kv1', 'plain', { password: 'v1p' });
    expect((await call(vault, 'POST', 'kv1/with-ttl', { token: 'root', body: { password: 'x', ttl: '1h' } })).status).toBe(204);
    const plain = await call(vault, 'GET', 'kv1/plain', { token: 'root' });
    expect(plain.json).toMatchObject({ lease_duration: 2764800, data: { password: 'v1p' } });
    expect((await call(vault, 'GET', 'kv1/with-ttl', { token: 'root' })).json).toMatchObject({ lease_duration: 3600, data: { password: 'x', ttl: '1h' } });
    expect((await call(vault, 'GET', 'kv1/missing', { token: 'root' })).text).toBe('{"errors":[]}\n');
    expect((await call(vault, 'LIST', 'kv1/', { token: 'root' })).json.data.keys).toEqual(['plain', 'with-ttl']);
    expect((await call(vault, 'POST', 'kv1/empty', { token: 'root', body: {} })).json).toEqual({ errors: ['missing data fields'] });
    expect((await call(vault, 'DELETE', 'kv1/plain', { token: 'root' })).status).toBe(204);
    expect((await call(vault, 'GET', 'kv1/plain', { token: 'root' })).status).toBe(404);
  });

  it('enables mounts over HTTP (sys/mounts)', async () => {
    expect((await call(vault, 'POST', 'sys/mounts/httpkv', { token: 'root', body: { type: 'kv', options: { version: '2' } } })).status).toBe(204);
    await call(vault, 'POST', 'httpkv/data/a', { token: 'root', body: { data: { k: 'v' } } });
    expect((await call(vault, 'GET', 'httpkv/data/a', { token: 'root' })).json.data.data).toEqual({ k: 'v' });
  });
});

describe('vault test server: mount preflight', () => {
  let vault: VaultServer;
  let bao: VaultServer;
  beforeAll(async () => {
    vault = await startVault();
    bao = await startVault({ flavor: 'openbao' });
    for (const v of [vault, bao]) {
      v.enableKv('kv1', 1);
      v.addPolicy('app-read', { 'secret/data/app': ['read'] });
    }
  });
  afterAll(async () => {
    await vault.stop();
    await bao.stop();
  });

  it('names the mount, its type and KV version', async () => {
    const v2 = await call(bao, 'GET', 'sys/internal/ui/mounts/secret/app', { token: 'root' });
    expect(v2.status).toBe(200);
    expect(v2.json.data).toMatchObject({ path: 'secret/', type: 'kv', options: { version: '2' }, description: 'key/value secret storage' });
    expect(Object.keys(v2.json.data)).toEqual(['accessor', 'config', 'deprecation_status', 'description', 'external_entropy_access', 'local', 'options', 'path', 'plugin_version', 'running_plugin_version', 'running_sha256', 'seal_wrap', 'type', 'uuid']);
    expect((await call(bao, 'GET', 'sys/internal/ui/mounts/kv1/app', { token: 'root' })).json.data).toMatchObject({ path: 'kv1/', options: { version: '1' } });
  });

  it('answers 200 to a token with any capability under the mount, else the preflight 403', async () => {
    const token = bao.createToken({ policies: ['app-read'] });
    expect((await call(bao, 'GET', 'sys/internal/ui/mounts/secret/anything', { token })).status).toBe(200);
    const r = await call(bao, 'GET', 'sys/internal/ui/mounts/kv1/app', { token });
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ errors: [`preflight capability check returned 403, please ensure client's policies grant access to path "kv1/app/"`] });
    expect((await call(bao, 'GET', 'sys/internal/ui/mounts/nomount/x', { token: 'root' })).json.errors[0]).toContain('"nomount/x/"');
    expect((await call(bao, 'GET', 'sys/internal/ui/mounts/secret/app')).json).toEqual(PERMISSION_DENIED);
  });

  it('has sys/mounts-all in the vault flavor only (OpenBao: 404)', async () => {
    expect((await call(vault, 'GET', 'sys/mounts-all/secret/app', { token: 'root' })).json.data).toMatchObject({ path: 'secret/', options: { version: '2' } });
    const r = await call(bao, 'GET', 'sys/mounts-all/secret/app', { token: 'root' });
    expect([r.status, r.json]).toEqual([404, { errors: ['1 error occurred:\n\t* unsupported path\n\n'] }]);
  });

  it('vault flavor: mount_type in responses, Vault CLI wording, hvs. tokens', async () => {
    const r = await call(vault, 'GET', 'sys/internal/ui/mounts/secret/app', { token: 'root' });
    expect(Object.keys(r.json)).toEqual([...ENVELOPE_KEYS, 'mount_type']);
    expect((await call(vault, 'GET', 'secret/app', { token: 'root' })).json.warnings[0]).toContain("If using the Vault CLI, use 'vault kv get'");
    expect(vault.createToken()).toMatch(/^hvs\./);
  });
});

describe('vault test server: logins', () => {
  let vault: VaultServer;
  beforeAll(async () => {
    vault = await startVault({ flavor: 'openbao' });
    vault.addPolicy('app-read', { 'secret/data/app': ['read'] });
    vault.kvPut('secret', 'app', { password: 'p' });
  });
  afterAll(() => vault.stop());

  const AUTH_KEYS = ['client_token', 'accessor', 'policies', 'token_policies', 'metadata', 'lease_duration', 'renewable', 'entity_id', 'token_type', 'orphan', 'mfa_requirement', 'num_uses'];

  it('AppRole: role_id + secret_id; the token works; bad credentials are 400', async () => {
    const web = vault.addAppRole('web', { policies: ['app-read'], tokenTtl: '20m' });
    const r = await call(vault, 'POST', 'auth/approle/login', { body: { role_id: web.roleId, secret_id: web.secretId } });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json.auth)).toEqual(AUTH_KEYS);
    expect(r.json.auth).toMatchObject({ policies: ['app-read', 'default'], metadata: { role_name: 'web' }, lease_duration: 1200, renewable: true, orphan: true, token_type: 'service' });
    expect(r.json.auth.entity_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call(vault, 'GET', 'secret/data/app', { token: r.json.auth.client_token })).status).toBe(200);
    const lookup = await call(vault, 'GET', 'auth/token/lookup-self', { token: r.json.auth.client_token });
    expect(lookup.json.data).toMatchObject({ display_name: 'approle', path: 'auth/approle/login', meta: { role_name: 'web' } });

    expect((await call(vault, 'POST', 'auth/approle/login', { body: { role_id: web.roleId, secret_id: 'bad' } })).json).toEqual({ errors: ['invalid role or secret ID'] });
    expect((await call(vault, 'POST', 'auth/approle/login', { body: { role_id: 'bad', secret_id: web.secretId } })).status).toBe(400);
    expect((await call(vault, 'POST', 'auth/approle/login', { body: { role_id: web.roleId } })).json).toEqual({ errors: ['missing secret_id'] });
    const none = await call(vault, 'POST', 'auth/approle/login', { body: {} });
    expect(none.status).toBe(500);
    expect(none.json).toEqual({ errors: ['missing role_id'] });
  });

  it('AppRole: secret_id_num_uses, custom mount, role-id and secret-id over HTTP', async () => {
    const once = vault.addAppRole('once', { mount: 'my-approle', secretIdNumUses: 1 });
    const login = () => call(vault, 'POST', 'auth/my-approle/login', { body: { role_id: once.roleId, secret_id: once.secretId } });
    expect((await login()).status).toBe(200);
    expect((await login()).status).toBe(400);
    expect((await call(vault, 'GET', 'auth/my-approle/role/once/role-id', { token: 'root' })).json.data).toEqual({ role_id: once.roleId });
    const issued = await call(vault, 'POST', 'auth/my-approle/role/once/secret-id', { token: 'root' });
    expect(issued.json.data).toEqual({ secret_id: expect.any(String), secret_id_accessor: expect.any(String), secret_id_num_uses: 1, secret_id_ttl: 0 });
    expect((await call(vault, 'POST', 'auth/my-approle/role/nope/secret-id', { token: 'root' })).json).toEqual({ errors: ['role "nope" does not exist'] });
    expect((await call(vault, 'POST', 'auth/nomount/login', { body: {} })).json).toEqual(PERMISSION_DENIED);
  });

  it('userpass: URL-encoded and case-insensitive names; Vault-shaped failures', async () => {
    vault.addUserpass('alice', 'pw', { policies: ['app-read'], tokenTtl: '1h' });
    vault.addUserpass('a.b-c_d', 'pw2');
    const r = await call(vault, 'POST', 'auth/userpass/login/ALICE', { body: { password: 'pw' } });
    expect(r.json.auth).toMatchObject({ metadata: { username: 'alice' }, lease_duration: 3600, policies: ['app-read', 'default'] });
    const dotted = await call(vault, 'POST', `auth/userpass/login/${encodeURIComponent('a.b-c_d').replace('.', '%2E')}`, { body: { password: 'pw2' } });
    expect(dotted.json.auth).toMatchObject({ metadata: { username: 'a.b-c_d' }, lease_duration: 2764800 });
    expect((await call(vault, 'POST', 'auth/userpass/login/alice', { body: { password: 'bad' } })).json).toEqual({ errors: ['invalid username or password'] });
    expect((await call(vault, 'POST', 'auth/userpass/login/nobody', { body: { password: 'bad' } })).status).toBe(400);
    expect((await call(vault, 'POST', 'auth/userpass/login/alice', { body: {} })).status).toBe(500);
    const at = await call(vault, 'POST', `auth/userpass/login/${encodeURIComponent('svc@corp')}`, { body: { password: 'x' } });
    expect(at.status).toBe(404);
    expect(at.json).toEqual({ errors: ['unsupported path'] });
    expect(() => vault.addUserpass('a=b', 'x')).toThrow(/refuses the username/);
  });

  it('Kubernetes: the service account token is checked like TokenReview + role bindings', async () => {
    vault.addKubernetesRole('web', { serviceAccountNames: ['app'], namespaces: ['prod'], policies: ['app-read'], tokenTtl: '1h' });
    const jwt = vault.kubernetesJwt({ namespace: 'prod', name: 'app', uid: 'u-123' });
    const r = await call(vault, 'POST', 'auth/kubernetes/login', { body: { role: 'web', jwt } });
    expect(r.status).toBe(200);
    expect(r.json.auth.metadata).toEqual({ role: 'web', service_account_name: 'app', service_account_namespace: 'prod', service_account_secret_name: '', service_account_uid: 'u-123' });
    const legacy = vault.kubernetesJwt({ namespace: 'prod', name: 'app', legacy: true });
    expect((await call(vault, 'POST', 'auth/kubernetes/login', { body: { role: 'web', jwt: legacy } })).json.auth.metadata.service_account_secret_name).toMatch(/^app-token-/);

    const login = (body: object) => call(vault, 'POST', 'auth/kubernetes/login', { body });
    const cases: [object, number, string][] = [
      [{ role: 'web', jwt: vault.kubernetesJwt({ namespace: 'dev', name: 'app' }) }, 403, 'namespace not authorized'],
      [{ role: 'web', jwt: vault.kubernetesJwt({ namespace: 'prod', name: 'other' }) }, 403, 'service account name not authorized'],
      [{ role: 'web', jwt: vault.kubernetesJwt({ namespace: 'prod', name: 'app', badSignature: true }) }, 403, 'permission denied'],
      [{ role: 'web', jwt: vault.kubernetesJwt({ namespace: 'prod', name: 'app', revoked: true }) }, 403, 'permission denied'],
      [{ role: 'web', jwt: 'garbage' }, 403, 'permission denied'],
      [{ role: 'web', jwt: vault.kubernetesJwt({ namespace: 'prod', name: 'app', expired: true }) }, 403, 'invalid expiration time (exp) claim: token is expired'],
      [{ role: 'nope', jwt }, 400, 'invalid role name "nope"'],
      [{ jwt }, 400, 'missing role'],
      [{ role: 'web' }, 400, 'missing jwt'],
    ];
    for (const [body, status, error] of cases) {
      const answer = await login(body);
      expect([answer.status, answer.json.errors]).toEqual([status, [error]]);
    }
  });

  it('JWT: role optional with default_role; audience, expiry and signature checked', async () => {
    vault.addJwtRole('app', { boundAudiences: ['sesame'], policies: ['app-read'], tokenTtl: '1h', defaultRole: true });
    const good = vault.signJwt({ sub: 'svc-1', aud: 'sesame' });
    expect(() => vault.addJwtRole('unbound', {})).toThrow(/needs boundAudiences or boundSubject/);
    vault.addJwtRole('subject', { boundSubject: 'svc-1' });
    const r = await call(vault, 'POST', 'auth/jwt/login', { body: { jwt: good } });
    expect(r.status).toBe(200);
    expect(r.json.auth).toMatchObject({ metadata: { role: 'app' }, lease_duration: 3600 });
    const login = (body: object) => call(vault, 'POST', 'auth/jwt/login', { body });
    const cases: [object, string][] = [
      [{ jwt: vault.signJwt({ sub: 'svc-1', aud: 'other' }) }, 'error validating token: invalid audience (aud) claim: audience claim does not match any expected audience'],
      [{ jwt: vault.signJwt({ sub: 'svc-1', aud: 'sesame' }, { expired: true }) }, 'error validating token: invalid expiration time (exp) claim: token is expired'],
      [{ jwt: vault.signJwt({ sub: 'svc-1', aud: 'sesame' }, { badSignature: true }) }, 'error validating token: error verifying token signature: no known key successfully validated the token signature'],
      [{ jwt: 'garbage' }, 'error validating token: error verifying token signature: go-jose/go-jose: compact JWS format must have three parts'],
      [{ role: 'nope', jwt: good }, 'role "nope" could not be found'],
      [{ role: 'subject', jwt: vault.signJwt({ sub: 'svc-2' }) }, 'error validating token: invalid subject (sub) claim'],
      [{ role: 'subject', jwt: good }, 'audience claim found in JWT but no audiences bound to the role'],
      [{}, 'missing token'],
    ];
    for (const [body, error] of cases) {
      const answer = await login(body);
      expect([answer.status, answer.json.errors]).toEqual([400, [error]]);
    }
  });

  it('gives the same entity to the same user on every login', async () => {
    vault.addUserpass('bob', 'pw');
    const a = await call(vault, 'POST', 'auth/userpass/login/bob', { body: { password: 'pw' } });
    const b = await call(vault, 'POST', 'auth/userpass/login/bob', { body: { password: 'pw' } });
    expect(a.json.auth.entity_id).toBe(b.json.auth.entity_id);
    expect(a.json.auth.client_token).not.toBe(b.json.auth.client_token);
  });
});

describe('vault test server: response wrapping', () => {
  let vault: VaultServer;
  beforeAll(async () => {
    vault = await startVault({ flavor: 'openbao' });
  });
  afterAll(() => vault.stop());

  it('wraps a secret_id like `vault write -wrap-ttl=60s -f auth/approle/role/web/secret-id`', async () => {
    const web = vault.addAppRole('web', { secretIdTtl: '10m' });
    const r = await call(vault, 'POST', 'auth/approle/role/web/secret-id', { token: 'root', headers: { 'X-Vault-Wrap-TTL': '60s' } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ request_id: '', data: null, auth: null, warnings: null });
    expect(r.json.wrap_info).toEqual({ token: expect.stringMatching(/^s\./), accessor: expect.any(String), ttl: 60, creation_time: expect.any(String), creation_path: 'auth/approle/role/web/secret-id', wrapped_accessor: expect.any(String) });

    const lookup = await call(vault, 'POST', 'sys/wrapping/lookup', { body: { token: r.json.wrap_info.token } });
    expect(lookup.json.data).toEqual({ creation_path: 'auth/approle/role/web/secret-id', creation_time: r.json.wrap_info.creation_time, creation_ttl: 60 });

    const unwrap = await call(vault, 'POST', 'sys/wrapping/unwrap', { token: r.json.wrap_info.token });
    expect(unwrap.status).toBe(200);
    expect(unwrap.json.data).toEqual({ secret_id: expect.any(String), secret_id_accessor: r.json.wrap_info.wrapped_accessor, secret_id_num_uses: 0, secret_id_ttl: 600 });
    expect(unwrap.text.endsWith('}')).toBe(true); // the stored response, raw
    const login = await call(vault, 'POST', 'auth/approle/login', { body: { role_id: web.roleId, secret_id: unwrap.json.data.secret_id } });
    expect(login.status).toBe(200);

    const again = await call(vault, 'POST', 'sys/wrapping/unwrap', { token: r.json.wrap_info.token });
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ errors: ['wrapping token is not valid or does not exist'] });
    expect((await call(vault, 'POST', 'sys/wrapping/lookup', { body: { token: r.json.wrap_info.token } })).status).toBe(400);
  });

  it('has the same wrapping as a helper, for test setup', async () => {
    const web = vault.addAppRole('helper');
    const wrapped = web.wrapSecretId('30s');
    expect(wrapped).toMatchObject({ ttl: 30, creation_path: 'auth/approle/role/helper/secret-id' });
    expect(vault.wrapSecretId('helper').ttl).toBe(60);
    const unwrap = await call(vault, 'POST', 'sys/wrapping/unwrap', { token: 'root', body: { token: wrapped.token } });
    expect(unwrap.json.data.secret_id_accessor).toBe(wrapped.wrapped_accessor);
  });

  it('destroys a wrapping token used as a token, or sent in header and body both', async () => {
    vault.addAppRole('misuse');
    const used = vault.wrapSecretId('misuse');
    expect((await call(vault, 'GET', 'auth/token/lookup-self', { token: used.token })).json).toEqual(ACL_DENIED);
    expect((await call(vault, 'POST', 'sys/wrapping/unwrap', { token: used.token })).status).toBe(400);

    const twice = vault.wrapSecretId('misuse');
    const r = await call(vault, 'POST', 'sys/wrapping/unwrap', { token: twice.token, body: { token: twice.token } });
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ errors: ["1 error occurred:\n\t* error decrementing wrapping token's use-count: invalid token entry provided for use count decrementing\n\n"] });
    expect((await call(vault, 'POST', 'sys/wrapping/unwrap', { token: twice.token })).status).toBe(400);
  });

  it('checks who unwraps a token given in the body; empty and expired tokens', async () => {
    vault.addAppRole('checks');
    const w = vault.wrapSecretId('checks');
    expect((await call(vault, 'POST', 'sys/wrapping/unwrap', { body: { token: w.token } })).json).toEqual(PERMISSION_DENIED);
    expect((await call(vault, 'POST', 'sys/wrapping/unwrap', {})).json).toEqual({ errors: ['error validating wrapping token: token is empty'] });
    const lookupEmpty = await call(vault, 'POST', 'sys/wrapping/lookup', {});
    expect([lookupEmpty.status, lookupEmpty.json]).toEqual([403, { errors: ['error validating wrapping token: token is empty'] }]);
    const short = vault.wrapSecretId('checks', { ttl: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(vault, 'POST', 'sys/wrapping/unwrap', { token: short.token })).json).toEqual({ errors: ['wrapping token is not valid or does not exist'] });
  });

  it('wraps any read on request; a bad X-Vault-Wrap-TTL is a 400', async () => {
    vault.kvPut('secret', 'app', { a: '1' });
    const r = await call(vault, 'GET', 'secret/data/app', { token: 'root', headers: { 'X-Vault-Wrap-TTL': '30' } });
    expect(r.json.wrap_info).toEqual({ token: expect.any(String), accessor: expect.any(String), ttl: 30, creation_time: expect.any(String), creation_path: 'secret/data/app' });
    const unwrapped = await call(vault, 'POST', 'sys/wrapping/unwrap', { token: r.json.wrap_info.token });
    expect(unwrapped.json.data.data).toEqual({ a: '1' });
    const bad = await call(vault, 'GET', 'secret/data/app', { token: 'root', headers: { 'X-Vault-Wrap-TTL': 'abc' } });
    expect([bad.status, bad.json]).toEqual([400, { errors: ['error parsing X-Vault-Wrap-TTL header: time: invalid duration "abc"'] }]);
  });
});

describe('vault test server: namespaces', () => {
  let vault: VaultServer;
  beforeAll(async () => {
    vault = await startVault({ flavor: 'openbao' });
    const team = vault.namespace('team-a');
    team.enableKv('secret', 2);
    team.kvPut('secret', 'app', { k: 'ns' });
    team.addPolicy('app-read', { 'secret/data/app': ['read'] });
    vault.namespace('team-a/sub');
  });
  afterAll(() => vault.stop());

  it('resolves the namespace from X-Vault-Namespace or a path prefix, and echoes the header', async () => {
    const byHeader = await call(vault, 'GET', 'secret/data/app', { token: 'root', headers: { 'X-Vault-Namespace': 'team-a/' } });
    expect(byHeader.json.data.data).toEqual({ k: 'ns' });
    expect(byHeader.headers.get('x-vault-namespace')).toBe('team-a/');
    expect((await call(vault, 'GET', 'team-a/secret/data/app', { token: 'root' })).json.data.data).toEqual({ k: 'ns' });
    expect((await call(vault, 'GET', 'sub/secret/data/app', { token: 'root', headers: { 'X-Vault-Namespace': 'team-a' } })).json.errors).toEqual(['no handler for route "secret/data/app". route entry not found.']);
    const missing = await call(vault, 'GET', 'secret/data/app', { token: 'root', headers: { 'X-Vault-Namespace': 'nope' } });
    expect([missing.status, missing.json]).toEqual([404, { errors: ['namespace not found'] }]);
    expect((await call(vault, 'GET', 'nope-ns/secret/data/app', { token: 'root' })).json.errors).toEqual(['no handler for route "nope-ns/secret/data/app". route entry not found.']);
  });

  it('gives namespace tokens the namespace id as a suffix and keeps them inside', async () => {
    const token = vault.namespace('team-a').createToken({ policies: ['app-read'] });
    expect(token).toMatch(/^s\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{6}$/);
    expect((await call(vault, 'GET', 'team-a/secret/data/app', { token })).status).toBe(200);
    expect((await call(vault, 'GET', 'secret/data/app', { token })).json).toEqual(ACL_DENIED);
    expect((await call(vault, 'GET', 'team-a/sub/secret/data/app', { token })).json).toEqual(ACL_DENIED);
    // The token names its namespace: lookup-self works from the root path too.
    const lookup = await call(vault, 'GET', 'auth/token/lookup-self', { token });
    expect(lookup.json.data.namespace_path).toBe('team-a/');
  });

  it('logs in inside a namespace; preflight names the mount relative to the request', async () => {
    vault.namespace('team-a').addUserpass('bob', 'pw');
    const r = await call(vault, 'POST', 'team-a/auth/userpass/login/bob', { body: { password: 'pw' } });
    expect(r.json.auth.client_token).toMatch(/\.[A-Za-z0-9]{6}$/);
    expect(r.json.auth.entity_id).toMatch(/\.[A-Za-z0-9]{6}$/);
    expect((await call(vault, 'GET', 'sys/internal/ui/mounts/team-a/secret/app', { token: 'root' })).json.data.path).toBe('team-a/secret/');
    expect((await call(vault, 'GET', 'sys/internal/ui/mounts/secret/app', { token: 'root', headers: { 'X-Vault-Namespace': 'team-a' } })).json.data.path).toBe('secret/');
  });
});

describe('vault test server: leases', () => {
  let vault: VaultServer;
  beforeAll(async () => {
    vault = await startVault();
    vault.addDatabaseRole('app', { ttl: '1h', maxTtl: '2h' });
    vault.addDatabaseRole('fixed', { ttl: 60, renewable: false });
    vault.addPolicy('db', ['database/creds/*']);
  });
  afterAll(() => vault.stop());

  it('issues new credentials under a new lease on each read; the preflight names the mount', async () => {
    const token = vault.createToken({ policies: ['db'] });
    const a = await call(vault, 'GET', 'database/creds/app', { token });
    const b = await call(vault, 'GET', 'database/creds/app', { token });
    expect(a.status).toBe(200);
    expect(a.json).toMatchObject({ renewable: true, lease_duration: 3600, data: { username: expect.stringMatching(/^v-token-app-/), password: expect.any(String) } });
    expect(a.json.lease_id).toMatch(/^database\/creds\/app\/\w+$/);
    expect(b.json.lease_id).not.toBe(a.json.lease_id);
    expect(b.json.data.username).not.toBe(a.json.data.username);
    const pre = await call(vault, 'GET', 'sys/internal/ui/mounts/database/creds/app', { token: vault.rootToken });
    expect(pre.json.data).toMatchObject({ path: 'database/', type: 'database', options: null });
  });

  it('renews with the TTL asked for, capped at the max TTL with Vault\'s warning', async () => {
    const token = vault.createToken({ policies: ['db'] });
    const lease = (await call(vault, 'GET', 'database/creds/app', { token })).json.lease_id;
    const r = await call(vault, 'PUT', 'sys/leases/renew', { token, body: { lease_id: lease, increment: 1800 } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ lease_id: lease, renewable: true, lease_duration: 1800, warnings: null, data: null });
    const capped = await call(vault, 'PUT', 'sys/leases/renew', { token, body: { lease_id: lease, increment: '3h' } });
    expect(capped.json.lease_duration).toBeLessThanOrEqual(7200);
    // What is left of the max TTL, as OpenBao 2.5.5 says it: 2h, or 1h59m59s once a second has passed.
    expect(capped.json.warnings).toHaveLength(1);
    expect(capped.json.warnings[0]).toMatch(/^TTL of "3h" exceeded the effective max_ttl of "(2h|1h59m5\ds)"; TTL value is capped accordingly$/);
    const fixed = (await call(vault, 'GET', 'database/creds/fixed', { token })).json;
    expect(fixed).toMatchObject({ renewable: false, lease_duration: 60 });
    expect((await call(vault, 'PUT', 'sys/leases/renew', { token, body: { lease_id: fixed.lease_id } })).json).toEqual({ errors: ['lease is not renewable'] });
    expect((await call(vault, 'PUT', 'sys/leases/renew', { token, body: { lease_id: 'database/creds/app/nope' } })).json).toEqual({ errors: ['lease not found'] });
  });

  it('revokes a lease (a policy must allow it: the default one does not), and revoke-self takes the token\'s leases', async () => {
    const token = vault.createToken({ policies: ['db'] });
    const one = (await call(vault, 'GET', 'database/creds/app', { token })).json.lease_id;
    const two = (await call(vault, 'GET', 'database/creds/app', { token })).json.lease_id;
    expect((await call(vault, 'PUT', 'sys/leases/revoke', { token, body: { lease_id: one } })).status).toBe(403);
    expect((await call(vault, 'PUT', 'sys/leases/revoke', { token: vault.rootToken, body: { lease_id: one } })).status).toBe(204);
    expect(vault.leases().find((l) => l.id === one)).toMatchObject({ revoked: true, live: false });
    expect((await call(vault, 'PUT', 'sys/leases/renew', { token, body: { lease_id: one } })).json).toEqual({ errors: ['lease not found'] });
    expect((await call(vault, 'POST', 'auth/token/revoke-self', { token })).status).toBe(204);
    expect(vault.leases().find((l) => l.id === two)).toMatchObject({ revoked: true, live: false });
    expect(vault.tokenLive(token)).toBe(false);
  });

  it('a login token stops at its max TTL', async () => {
    const role = vault.addAppRole('short', { tokenTtl: '1h', tokenMaxTtl: '90m' });
    const login = await call(vault, 'POST', 'auth/approle/login', { body: { role_id: role.roleId, secret_id: role.secretId } });
    const token = login.json.auth.client_token;
    const renewed = await call(vault, 'POST', 'auth/token/renew-self', { token, body: { increment: '2h' } });
    expect(renewed.json.auth.lease_duration).toBeLessThanOrEqual(5400);
    expect(renewed.json.warnings).toEqual(['TTL of "2h" exceeded the effective max_ttl of "1h30m"; TTL value is capped accordingly']);
  });
});

describe('vault test server: faults and recording', () => {
  let vault: VaultServer;
  beforeAll(async () => {
    vault = await startVault({ flavor: 'openbao' });
    vault.kvPut('secret', 'app', { a: '1' });
  });
  afterEach(() => {
    vault.faults.splice(0);
    vault.sealed = false;
  });
  afterAll(() => vault.stop());

  it('seals: 503 "Vault is sealed" for everything but health and seal-status', async () => {
    vault.sealed = true;
    expect(await call(vault, 'GET', 'secret/data/app', { token: 'root' })).toMatchObject({ status: 503, json: { errors: ['Vault is sealed'] } });
    expect((await call(vault, 'POST', 'auth/userpass/login/x', { body: { password: 'x' } })).status).toBe(503);
    const health = await call(vault, 'GET', 'sys/health');
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({ sealed: true, standby: true, replication_performance_mode: 'unknown' });
    expect(health.json.cluster_name).toBeUndefined();
    expect((await call(vault, 'GET', 'sys/health?sealedcode=200')).status).toBe(200);
    expect((await call(vault, 'GET', 'sys/seal-status')).json).toMatchObject({ sealed: true, type: 'shamir' });
  });

  it('fails the first N matching requests, then recovers (for retry tests)', async () => {
    vault.faults.push({ path: 'secret/data/*', status: 503, times: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call(vault, 'GET', 'secret/data/app', { token: 'root' })).status);
    expect(statuses).toEqual([503, 503, 200]);
    expect((await call(vault, 'GET', 'sys/health')).status).toBe(200);
  });

  it('gives each injected status Vault\'s body for it', async () => {
    vault.faults.push({ path: 'secret/data/app', status: 429, times: 1 }, { status: 412, times: 1 }, { status: 502, times: 1, errors: ['upstream says no'] }, { status: 500, times: 1, headers: { 'Retry-After': '3' } });
    expect((await call(vault, 'GET', 'secret/data/app', { token: 'root' })).json).toEqual({ errors: ['request path "secret/data/app": rate limit quota exceeded'] });
    expect((await call(vault, 'GET', 'secret/data/app', { token: 'root' })).json).toEqual({ errors: ['required index state not present'] });
    expect((await call(vault, 'GET', 'secret/data/app', { token: 'root' })).json).toEqual({ errors: ['upstream says no'] });
    const r = await call(vault, 'GET', 'secret/data/app', { token: 'root' });
    expect([r.status, r.headers.get('retry-after')]).toEqual([500, '3']);
  });

  it('delays, resets and garbles on demand', async () => {
    vault.faults.push({ method: 'GET', path: /^secret\/data\/app$/, delayMs: 300, times: 1 });
    const started = Date.now();
    expect((await call(vault, 'GET', 'secret/data/app', { token: 'root' })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);

    vault.faults.push({ reset: true, times: 1 });
    const reset = await call(vault, 'GET', 'secret/data/app', { token: 'root' }).catch((e: Error) => e);
    expect(reset).toBeInstanceOf(Error);
    expect(vault.requests.at(-1)?.status).toBe('reset');

    vault.faults.push({ badJson: true, times: 1 });
    const garbled = await call(vault, 'GET', 'secret/data/app', { token: 'root' });
    expect(garbled.status).toBe(200);
    expect(() => JSON.parse(garbled.text)).toThrow();
  });

  it('records method, path, query, headers, body, namespace and status', async () => {
    const before = vault.requestCount({ method: 'GET', path: 'secret/data/app' });
    await call(vault, 'GET', 'secret/data/app?version=1', { token: 'root', headers: { 'X-Vault-Request': 'true', 'X-Vault-Namespace': '' } });
    await call(vault, 'POST', 'auth/userpass/login/x', { body: { password: 'y' } });
    const [read, login] = vault.requests.slice(-2);
    expect(read).toMatchObject({ method: 'GET', path: '/v1/secret/data/app', query: 'version=1', namespace: '', status: 200, body: '' });
    expect(read.headers['x-vault-request']).toBe('true');
    expect(read.headers['x-vault-token']).toBe('root');
    expect(login).toMatchObject({ method: 'POST', path: '/v1/auth/userpass/login/x', body: '{"password":"y"}', status: 403 });
    expect(vault.requestCount({ method: 'GET', path: 'secret/data/app' })).toBe(before + 1);
    expect(vault.requestCount({ path: 'auth/*' })).toBeGreaterThanOrEqual(1);
  });

  it('closes keep-alive connections on stop()', async () => {
    const other = await startVault();
    const socket = connect(other.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /v1/sys/health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await new Promise((r) => socket.once('data', r));
    const closed = new Promise((r) => socket.once('close', r));
    await other.stop();
    await closed;
    expect(socket.destroyed).toBe(true);
  });
});

describe('vault test server: TLS and cert auth', () => {
  const pki = makePki();
  let vault: VaultServer;
  beforeAll(async () => {
    vault = await startVault({ flavor: 'openbao', tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert } });
    vault.addPolicy('app-read', { 'secret/data/app': ['read'] });
    vault.addCertRole('web', { certificate: pki.ca.cert, policies: ['app-read'], tokenTtl: '1h' });
    vault.addCertRole('only-ops', { certificate: pki.ca.cert, allowedCommonNames: ['ops'] });
  });
  afterAll(() => vault.stop());

  function tlsCall(path: string, options: { cert?: string; key?: string; body?: unknown; port?: number } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify(options.body ?? {});
      const req = https.request(
        { host: '127.0.0.1', port: options.port ?? vault.port, method: 'POST', path: `/v1/${path}`, ca: pki.ca.cert, cert: options.cert, key: options.key, headers: { 'Content-Length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: new Headers(), text, json: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('serves HTTPS with the given certificate', async () => {
    expect(vault.url).toBe(`https://127.0.0.1:${vault.port}`);
    const r = await tlsCall('sys/wrapping/lookup');
    expect(r.status).toBe(403);
  });

  it('logs in with a client certificate signed by a trusted CA; metadata like Vault', async () => {
    const app = pki.client('web-client');
    const r = await tlsCall('auth/cert/login', { cert: app.cert, key: app.key, body: { name: 'web' } });
    expect(r.status).toBe(200);
    expect(r.json.auth).toMatchObject({ policies: ['app-read', 'default'], lease_duration: 3600 });
    expect(r.json.auth.metadata).toEqual({ authority_key_id: expect.stringMatching(/^([0-9a-f]{2}:)+[0-9a-f]{2}$/), cert_name: 'web', common_name: 'web-client', serial_number: expect.stringMatching(/^\d+$/), subject_key_id: expect.any(String) });
    expect(vault.requests.at(-1)?.cn).toBe('web-client');
  });

  it('refuses untrusted, missing and constrained-out certificates with Vault\'s texts', async () => {
    const rogue = pki.client('rogue', { untrusted: true });
    expect((await tlsCall('auth/cert/login', { cert: rogue.cert, key: rogue.key })).json).toEqual({ errors: ['invalid certificate or no client certificate supplied'] });
    expect((await tlsCall('auth/cert/login')).json).toEqual({ errors: ['no client certificate found'] });
    const expired = pki.client('old', { expired: true });
    expect((await tlsCall('auth/cert/login', { cert: expired.cert, key: expired.key })).status).toBe(400);
    const app = pki.client('web-client');
    expect((await tlsCall('auth/cert/login', { cert: app.cert, key: app.key, body: { name: 'only-ops' } })).json).toEqual({ errors: ['no chain matching all constraints could be found for this login certificate'] });
  });

  it('requireClientCert refuses the handshake without a trusted certificate', async () => {
    const strict = await startVault({ tls: { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, requireClientCert: true } });
    try {
      await expect(tlsCall('sys/wrapping/lookup', { port: strict.port })).rejects.toThrow();
      const app = pki.client('web-client');
      expect((await tlsCall('sys/wrapping/lookup', { port: strict.port, cert: app.cert, key: app.key })).status).toBe(403);
    } finally {
      await strict.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Differential check against a real OpenBao dev server (opt-in: SESAME_OPENBAO_ADDR).

const BAO = process.env.SESAME_OPENBAO_ADDR;

describe.skipIf(!BAO)('vault test server vs a real OpenBao dev server (skipped unless SESAME_OPENBAO_ADDR names one: docs/development.md)', () => {
  const real = { url: BAO ?? '' };
  let fake: VaultServer;
  const suffix = Math.random().toString(36).slice(2, 8);
  const ns = `ns${suffix}`;
  let roleId = '';
  // The real server's "cluster": a TokenReview API that accepts any token but the revoked ones.
  const revokedJwts = new Set<string>();
  let tokenReview: Server | undefined;

  const rootCall = (target: { url: string }, method: string, path: string, body?: unknown, headers?: Record<string, string>) => call(target, method, path, { token: 'root', body, headers });

  beforeAll(async () => {
    // A build without release ldflags says 2.0.0-HEAD: SESAME_OPENBAO_VERSION says which release it is.
    fake = await startVault({ flavor: 'openbao', version: process.env.SESAME_OPENBAO_VERSION });
    // The same world on both: KV v2 at secret/, KV v1 at kv1<suffix>/, a policy, userpass,
    // approle, a namespace with its own KV mount.
    const mounts = [`kv1${suffix}`, `up${suffix}`, `ar${suffix}`, `jwt${suffix}`, `k8s${suffix}`];
    tokenReview = await startTokenReview(revokedJwts);
    await rootCall(real, 'POST', `sys/mounts/${mounts[0]}`, { type: 'kv', options: { version: '1' } });
    await rootCall(real, 'POST', `sys/policies/acl/app${suffix}`, { policy: `path "secret/data/app${suffix}" { capabilities = ["read"] }` });
    await rootCall(real, 'POST', `sys/auth/${mounts[1]}`, { type: 'userpass' });
    await rootCall(real, 'POST', `auth/${mounts[1]}/users/alice`, { password: 'pw', token_policies: [`app${suffix}`], token_ttl: '1h' });
    await rootCall(real, 'POST', `sys/auth/${mounts[2]}`, { type: 'approle' });
    await rootCall(real, 'POST', `auth/${mounts[2]}/role/web`, { token_policies: [`app${suffix}`], token_ttl: '20m' });
    roleId = (await rootCall(real, 'GET', `auth/${mounts[2]}/role/web/role-id`)).json.data.role_id;
    await rootCall(real, 'POST', `sys/auth/${mounts[3]}`, { type: 'jwt' });
    await rootCall(real, 'POST', `auth/${mounts[3]}/config`, { jwt_validation_pubkeys: [fake.jwtPublicKey], default_role: 'app' });
    await rootCall(real, 'POST', `auth/${mounts[3]}/role/app`, { role_type: 'jwt', user_claim: 'sub', bound_audiences: ['sesame'], token_policies: [`app${suffix}`], token_ttl: '1h' });
    await rootCall(real, 'POST', `auth/${mounts[3]}/role/subject`, { role_type: 'jwt', user_claim: 'sub', bound_subject: 'svc-1' });
    await rootCall(real, 'POST', `sys/auth/${mounts[4]}`, { type: 'kubernetes' });
    const reviewUrl = `http://127.0.0.1:${(tokenReview.address() as AddressInfo).port}`;
    // pem_keys: the real server checks signatures with the test server's key, as a cluster's would.
    await rootCall(real, 'POST', `auth/${mounts[4]}/config`, { kubernetes_host: reviewUrl, disable_local_ca_jwt: true, kubernetes_ca_cert: makePki().ca.cert, pem_keys: [fake.jwtPublicKey] });
    await rootCall(real, 'POST', `auth/${mounts[4]}/role/web`, { bound_service_account_names: ['app'], bound_service_account_namespaces: ['prod'], token_policies: [`app${suffix}`], token_ttl: '1h' });
    await rootCall(real, 'POST', `sys/namespaces/${ns}`);
    await rootCall(real, 'POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } }, { 'X-Vault-Namespace': ns });

    fake.enableKv(mounts[0], 1);
    fake.addPolicy(`app${suffix}`, { [`secret/data/app${suffix}`]: ['read'] });
    fake.addUserpass('alice', 'pw', { mount: mounts[1], policies: [`app${suffix}`], tokenTtl: '1h' });
    fake.addAppRole('web', { mount: mounts[2], policies: [`app${suffix}`], tokenTtl: '20m', roleId });
    fake.addJwtRole('app', { mount: mounts[3], boundAudiences: ['sesame'], policies: [`app${suffix}`], tokenTtl: '1h', defaultRole: true });
    fake.addJwtRole('subject', { mount: mounts[3], boundSubject: 'svc-1' });
    fake.addKubernetesRole('web', { mount: mounts[4], serviceAccountNames: ['app'], namespaces: ['prod'], policies: [`app${suffix}`], tokenTtl: '1h' });
    fake.namespace(ns).enableKv('secret', 2);
  });
  afterAll(async () => {
    await fake?.stop();
    await new Promise((r) => (tokenReview ? tokenReview.close(r) : r(undefined)));
  });

  /** Values that differ by nature (ids, times, remaining TTLs) become placeholders. */
  function normalize(value: unknown, key = ''): unknown {
    if (Array.isArray(value)) return value.map((v) => normalize(v));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, k)]));
    }
    if (['ttl', 'creation_time', 'server_time_utc', 'last_renewal_time'].includes(key) && typeof value === 'number') return '<number>';
    if (typeof value !== 'string') return value;
    if (['request_id', 'accessor', 'client_token', 'id', 'entity_id', 'token', 'wrapped_accessor', 'secret_id', 'secret_id_accessor', 'uuid', 'cluster_name', 'cluster_id', 'role_id'].includes(key) && value) return '<id>';
    if (/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(value)) return '<time>';
    if (key === 'version' || key === 'running_plugin_version') return '<version>';
    return value.replace(/\.[A-Za-z0-9]{6}$/, '.<ns>');
  }

  async function same(method: string, path: string, options: CallOptions & { realToken?: string } = {}): Promise<[Answer, Answer]> {
    const a = await call(real, method, path, { ...options, token: options.realToken ?? options.token });
    const b = await call(fake, method, path, options);
    // Stringified, so that field order counts too (Go writes struct fields in declaration order, map keys sorted).
    const shape = (x: Answer) => ({ status: x.status, body: JSON.stringify(normalize(x.json)), newline: x.text.endsWith('\n') });
    expect(shape(b), `${method} ${path}`).toEqual(shape(a));
    for (const h of ['content-type', 'cache-control', 'x-vault-namespace']) expect(b.headers.get(h), `${h} of ${method} ${path}`).toBe(a.headers.get(h));
    return [a, b];
  }

  it('KV v2 write, read, versions, metadata, soft delete, destroy, undelete', async () => {
    const p = `secret/data/app${suffix}`;
    await same('POST', p, { token: 'root', body: { data: { password: 'p1', user: 'u', z: 'a<b' } } });
    await same('POST', p, { token: 'root', body: { data: { password: 'p2' } } });
    await same('GET', p, { token: 'root' });
    await same('GET', `${p}?version=1`, { token: 'root' });
    await same('GET', `${p}?version=9`, { token: 'root' });
    await same('GET', `secret/metadata/app${suffix}`, { token: 'root' });
    await same('DELETE', p, { token: 'root' });
    await same('GET', p, { token: 'root' });
    await same('POST', `secret/destroy/app${suffix}`, { token: 'root', body: { versions: [1] } });
    await same('GET', `${p}?version=1`, { token: 'root' });
    await same('POST', `secret/undelete/app${suffix}`, { token: 'root', body: { versions: [2] } });
    await same('GET', p, { token: 'root' });
    await same('GET', `secret/data/missing${suffix}`, { token: 'root' });
    await same('GET', `secret/app${suffix}`, { token: 'root' });
    await same('GET', 'secret/data', { token: 'root' });
    await same('POST', `secret/data/cas${suffix}`, { token: 'root', body: { options: { cas: 1 }, data: { a: 1 } } });
  });

  it('KV v1 mount', async () => {
    const m = `kv1${suffix}`;
    await same('POST', `${m}/app`, { token: 'root', body: { password: 'v1p', ttl: '1h' } });
    await same('POST', `${m}/plain`, { token: 'root', body: { a: 'b' } });
    await same('GET', `${m}/app`, { token: 'root' });
    await same('GET', `${m}/plain`, { token: 'root' });
    await same('GET', `${m}/nope`, { token: 'root' });
    await same('LIST', `${m}/`, { token: 'root' });
    await same('POST', `${m}/empty`, { token: 'root', body: {} });
  });

  it('tokens, policies, preflight', async () => {
    const create = { policies: [`app${suffix}`], ttl: '1h', explicit_max_ttl: '90m' };
    const [a, b] = await same('POST', 'auth/token/create', { token: 'root', body: create });
    const opts = (answer: Answer) => answer.json.auth.client_token as string;
    const both = async (method: string, path: string, body?: unknown) => same(method, path, { token: opts(b), realToken: opts(a), body });
    await both('GET', 'auth/token/lookup-self');
    await both('POST', 'auth/token/renew-self', { increment: 60 });
    await both('POST', 'auth/token/renew-self', { increment: '3h' });
    await both('GET', `secret/data/other${suffix}`);
    await both('GET', `sys/internal/ui/mounts/secret/x`);
    await both('GET', `sys/internal/ui/mounts/kv1${suffix}/app`);
    await both('GET', 'nomount/x');
    await same('GET', 'auth/token/lookup-self', { token: 'root' });
    await same('POST', 'auth/token/renew-self', { token: 'root', body: {} });
    await same('GET', 'auth/token/lookup-self', { token: 'bogus' });
    await same('GET', 'auth/token/lookup-self');
    await same('GET', 'sys/internal/ui/mounts/secret/app', { token: 'root' });
    await same('GET', `sys/internal/ui/mounts/kv1${suffix}/app`, { token: 'root' });
    await same('GET', 'sys/internal/ui/mounts/nomount/x', { token: 'root' });
    await same('GET', 'sys/internal/ui/mounts/secret/app');
    await same('GET', 'sys/mounts-all/secret/app', { token: 'root' });
    await same('GET', 'nomount/x', { token: 'root' });
    await same('GET', 'sys/health');
    await same('GET', 'sys/seal-status');
  });

  it('userpass and AppRole logins, wrapping', async () => {
    await same('POST', `auth/up${suffix}/login/alice`, { body: { password: 'pw' } });
    await same('POST', `auth/up${suffix}/login/ALICE`, { body: { password: 'pw' } });
    await same('POST', `auth/up${suffix}/login/alice`, { body: { password: 'bad' } });
    await same('POST', `auth/up${suffix}/login/alice`, { body: {} });
    await same('POST', `auth/up${suffix}/login/svc%40corp`, { body: { password: 'x' } });
    await same('POST', `auth/ar${suffix}/login`, { body: { role_id: roleId, secret_id: 'bad' } });
    await same('POST', `auth/ar${suffix}/login`, { body: { role_id: roleId } });
    await same('POST', `auth/ar${suffix}/login`, { body: {} });
    await same('POST', `auth/ar${suffix}/role/nope/secret-id`, { token: 'root' });
    const [ra, rb] = await same('POST', `auth/ar${suffix}/role/web/secret-id`, { token: 'root', headers: { 'X-Vault-Wrap-TTL': '60s' } });
    const wa = ra.json.wrap_info.token as string;
    const wb = rb.json.wrap_info.token as string;
    // Each server has its own wrapping token, so these are compared pairwise.
    const la = await call(real, 'POST', 'sys/wrapping/lookup', { body: { token: wa } });
    const lb = await call(fake, 'POST', 'sys/wrapping/lookup', { body: { token: wb } });
    expect(normalize(lb.json)).toEqual(normalize(la.json));
    const ua = await call(real, 'POST', 'sys/wrapping/unwrap', { token: wa });
    const ub = await call(fake, 'POST', 'sys/wrapping/unwrap', { token: wb });
    expect([ub.status, normalize(ub.json), ub.text.endsWith('\n')]).toEqual([ua.status, normalize(ua.json), ua.text.endsWith('\n')]);
    const login = { role_id: roleId };
    await same('POST', `auth/ar${suffix}/login`, { body: { ...login, secret_id: 'x' } });
    const again = [await call(real, 'POST', 'sys/wrapping/unwrap', { token: wa }), await call(fake, 'POST', 'sys/wrapping/unwrap', { token: wb })];
    expect([again[1].status, again[1].json]).toEqual([again[0].status, again[0].json]);
    await same('POST', 'sys/wrapping/unwrap', { token: 'nope' });
    await same('POST', 'sys/wrapping/unwrap');
  });

  it('JWT logins (both servers trust the test server\'s signing key)', async () => {
    const login = (body: object) => same('POST', `auth/jwt${suffix}/login`, { body });
    await login({ jwt: fake.signJwt({ sub: 'svc-1', aud: 'sesame' }) });
    await login({ role: 'app', jwt: fake.signJwt({ sub: 'svc-1', aud: ['x', 'sesame'] }) });
    await login({ jwt: fake.signJwt({ sub: 'svc-1', aud: 'other' }) });
    await login({ jwt: fake.signJwt({ sub: 'svc-1', aud: 'sesame' }, { expired: true }) });
    await login({ jwt: fake.signJwt({ sub: 'svc-1', aud: 'sesame' }, { badSignature: true }) });
    await login({ jwt: fake.signJwt({ aud: 'sesame' }) });
    await login({ jwt: 'garbage' });
    await login({ role: 'nope', jwt: 'x.y.z' });
    await login({ role: 'subject', jwt: fake.signJwt({ sub: 'svc-1', aud: 'sesame' }) });
    await login({ role: 'subject', jwt: fake.signJwt({ sub: 'svc-1' }) });
    await login({ role: 'subject', jwt: fake.signJwt({ sub: 'svc-2' }) });
    await login({});
  });

  it('Kubernetes logins (real server: pem_keys + a TokenReview stub)', async () => {
    const login = (body: object) => same('POST', `auth/k8s${suffix}/login`, { body });
    const sa = (account: Partial<Parameters<VaultServer['kubernetesJwt']>[0]>) => fake.kubernetesJwt({ namespace: 'prod', name: 'app', uid: 'u-1', ...account });
    await login({ role: 'web', jwt: sa({}) });
    await login({ role: 'web', jwt: sa({ legacy: true }) });
    await login({ role: 'web', jwt: sa({ namespace: 'dev' }) });
    await login({ role: 'web', jwt: sa({ name: 'other' }) });
    await login({ role: 'web', jwt: sa({ badSignature: true }) });
    await login({ role: 'web', jwt: sa({ expired: true }) });
    await login({ role: 'web', jwt: 'garbage' });
    const revoked = sa({ revoked: true });
    revokedJwts.add(revoked);
    await login({ role: 'web', jwt: revoked });
    await login({ role: 'nope', jwt: sa({}) });
    await login({ jwt: sa({}) });
    await login({ role: 'web' });
  });

  it('namespaces', async () => {
    await same('POST', `${ns}/secret/data/app`, { token: 'root', body: { data: { k: 'ns' } } });
    await same('GET', 'secret/data/app', { token: 'root', headers: { 'X-Vault-Namespace': `${ns}/` } });
    await same('GET', `${ns}/secret/data/app`, { token: 'root' });
    await same('GET', `sys/internal/ui/mounts/${ns}/secret/app`, { token: 'root' });
    await same('GET', 'secret/data/app', { token: 'root', headers: { 'X-Vault-Namespace': `missing${suffix}` } });
    await same('GET', 'sys/health', { headers: { 'X-Vault-Namespace': '' } });
    await same('GET', `missing${suffix}/secret/data/app`, { token: 'root' });
  });

  it('sealed answers (needs SESAME_OPENBAO_UNSEAL_KEY to unseal again)', async ({ skip }) => {
    const key = process.env.SESAME_OPENBAO_UNSEAL_KEY;
    if (!key) return skip();
    await rootCall(real, 'POST', 'sys/seal');
    fake.sealed = true;
    try {
      await same('GET', 'sys/health');
      await same('GET', 'sys/seal-status');
      await same('GET', 'secret/data/app', { token: 'root' });
      await same('POST', 'auth/userpass/login/x', { body: { password: 'x' } });
    } finally {
      await call(real, 'POST', 'sys/unseal', { body: { key } });
      fake.sealed = false;
    }
  });
});

/** A Kubernetes TokenReview endpoint: authenticated unless the token is in `revoked`. */
async function startTokenReview(revoked: Set<string>): Promise<Server> {
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const review = JSON.parse(body || '{}') as { spec?: { token?: string; audiences?: string[] } };
      const token = review.spec?.token ?? '';
      const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}') as Record<string, any>;
      const k8s = claims['kubernetes.io'] ?? {};
      const namespace = k8s.namespace ?? claims['kubernetes.io/serviceaccount/namespace'];
      const name = k8s.serviceaccount?.name ?? claims['kubernetes.io/serviceaccount/service-account.name'];
      const uid = k8s.serviceaccount?.uid ?? claims['kubernetes.io/serviceaccount/service-account.uid'];
      const status = revoked.has(token)
        ? { authenticated: false, error: 'token has been invalidated' }
        : { authenticated: true, user: { username: `system:serviceaccount:${namespace}:${name}`, uid }, audiences: review.spec?.audiences };
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', status }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
