// Every example's Dockerfile, built by a real engine and run. The Dockerfiles keep their
// official FROM lines and their Node build stage for users; here (examples/README.md):
// - the build stage (`FROM node:24-bookworm AS sesame` up to the next FROM) becomes
//   `FROM scratch AS sesame` + `COPY dist/ /src/dist/`: this checkout's prebuilt dist/;
// - each other FROM is rewritten to the local image that has that image's habits
//   (test/docker/images/*.Dockerfile); an unknown one fails the test.
// Secrets come from the test servers on loopback (containers use --network host).
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki } from '../support/certs';
import { docker, exitCode, initEnviron, logs, removeContainers, runDetached, waitForLogs } from '../support/docker';
import { startKeywhiz, type KeywhizServer } from '../support/keywhiz-server';
import { ADDON, INIT, ROOT } from '../support/paths';
import { startVault, type VaultServer } from '../support/vault-server';

/** Official image -> the local stand-in (test/docker/images.sh). */
const FROM_MAP: Record<string, string> = {
  'debian:bookworm-slim': 'sesame-test/bookworm',
  'nginx:bookworm': 'sesame-test/nginx',
  'php:8.3-fpm-bookworm': 'sesame-test/php',
  'alpine:3.20': 'sesame-test/musl',
  scratch: 'scratch',
};

const EXAMPLES = readdirSync(join(ROOT, 'examples')).filter((e) => {
  try {
    return readFileSync(join(ROOT, 'examples', e, 'Dockerfile'), 'utf8').length > 0;
  } catch {
    return false;
  }
});

/** The Dockerfile as the test builds it (see the top of this file). */
export function localDockerfile(text: string): string {
  const out: string[] = [];
  let inBuildStage = false;
  for (const line of text.split('\n')) {
    const from = /^FROM\s+(\S+)(\s+AS\s+(\S+))?\s*$/i.exec(line);
    if (from && /^node:/.test(from[1]) && from[3]) {
      inBuildStage = true;
      out.push(`FROM scratch AS ${from[3]}`, 'COPY dist/ /src/dist/');
      continue;
    }
    if (from) {
      inBuildStage = false;
      const local = FROM_MAP[from[1]];
      if (!local) throw new Error(`FROM ${from[1]}: no local image for it (add one to FROM_MAP and test/docker/images/)`);
      out.push(`FROM ${local}${from[2] ?? ''}`);
      continue;
    }
    if (!inBuildStage) out.push(line);
  }
  return out.join('\n');
}

let workdir: string;
const servers: { stop(): Promise<void> }[] = [];
// Made here, not at load: a file that is only collected (vitest -t) must leave nothing behind.
beforeAll(() => { workdir = mkdtempSync(join(tmpdir(), 'sesame-examples-')); });
afterAll(async () => {
  try {
    removeContainers();
    await Promise.all(servers.map((s) => s.stop()));
    for (const tag of EXAMPLES.map((e) => `sesame-example/${e}`)) await docker(['rmi', '-f', tag]);
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
});

/** A build context with examples/ and dist/{init,init.node}. */
function context(): string {
  const dir = join(workdir, 'context');
  mkdirSync(join(dir, 'dist'), { recursive: true });
  copyFileSync(INIT, join(dir, 'dist/init'));
  copyFileSync(ADDON, join(dir, 'dist/init.node'));
  cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });
  return dir;
}

async function vault(): Promise<VaultServer> {
  const v = await startVault({ rootToken: 'canary-vault-root-7e3b' });
  servers.push({ stop: () => v.stop() });
  return v;
}

/** A file in a directory of its own, for a bind mount. */
function files(name: string, entries: Record<string, string>): string {
  const dir = join(workdir, name);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [file, text] of Object.entries(entries)) writeFileSync(join(dir, file), text, { mode: 0o644 });
  return dir;
}

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('every example builds', () => {
  let dir: string;
  beforeAll(() => { dir = context(); });

  it('found the examples', () => {
    expect(EXAMPLES).toEqual(expect.arrayContaining(['nginx-vault', 'php-nginx', 'approle-wrapped', 'keywhiz', 'kubernetes', 'compose-dev-vault', 'scratch', 'alpine']));
  });

  it.each(EXAMPLES)('%s', async (example) => {
    const dockerfile = join(dir, `${example}.Dockerfile`);
    writeFileSync(dockerfile, localDockerfile(readFileSync(join(ROOT, 'examples', example, 'Dockerfile'), 'utf8')));
    // --network host: php-nginx runs apt-get (the Debian mirror is what CI installs from too).
    const r = await docker(['build', '--network', 'host', '-q', '-f', dockerfile, '-t', `sesame-example/${example}`, dir], { ms: 180_000 });
    if (r.code !== 0) throw new Error(`docker build ${example}: ${r.stderr}`);
  }, 200_000);
});

describe('examples/nginx-vault, served for real', () => {
  let upstream: Server;
  let upstreamPort: number;
  beforeAll(async () => {
    // The upstream nginx proxies to: it answers with the Authorization header it got.
    upstream = createServer((req, res) => res.end(`upstream saw ${req.headers.authorization ?? 'no authorization'}\n`));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  it('renders both templates, proxies with the Vault credential, and docker stop (STOPSIGNAL SIGQUIT) stops nginx gracefully', async () => {
    const v = await vault();
    v.kvPut('secret', 'web', { basic_auth: 'proxy:canary-basic-6d1e' });
    const port = await freePort();
    const name = await runDetached('nginx-vault', ['-e', `VAULT_ADDR=${v.url}`, '-e', `VAULT_TOKEN=${v.rootToken}`, '-e', `NGINX_PORT=${port}`,
      '-e', `UPSTREAM_URL=http://127.0.0.1:${upstreamPort}`], 'sesame-example/nginx-vault', []);
    await waitForLogs(name, /start worker process/); // nginx's notice: it has started
    const health = await docker(['exec', name, 'curl', '-sS', `http://127.0.0.1:${port}/healthz`]);
    expect(health.stdout).toBe('ok\n');
    const proxied = await docker(['exec', name, 'curl', '-sS', `http://127.0.0.1:${port}/`]);
    expect(proxied.stdout).toBe(`upstream saw Basic ${Buffer.from('proxy:canary-basic-6d1e').toString('base64')}\n`);
    // From the host: init is undumpable, so only CAP_SYS_PTRACE may read its environ at all.
    const environ = await initEnviron(name);
    expect(environ).toContain('UPSTREAM_URL=');
    expect(environ).not.toContain(v.rootToken);
    const inspect = JSON.parse((await docker(['inspect', name])).stdout)[0];
    expect(inspect.Config.StopSignal).toBe('SIGQUIT'); // inherited from the nginx image
    const t0 = Date.now();
    await docker(['stop', name]);
    expect(Date.now() - t0).toBeLessThan(8000); // not Docker's SIGKILL at 10 s
    expect(await exitCode(name)).toBe(0);
    expect(await logs(name)).toMatch(/gracefully shutting down/);
  });
});

describe('examples/php-nginx, served for real', () => {
  it('migrate, php-fpm, nginx in order; curl gets PHP\'s answer; docker stop stops nginx, then php-fpm, each with its code', async () => {
    const v = await vault();
    v.kvPut('secret', 'shop', { db_password: 'canary-shop-3a9f' });
    const port = await freePort();
    const name = await runDetached('php-nginx', ['-e', `VAULT_ADDR=${v.url}`, '-e', `VAULT_TOKEN=${v.rootToken}`, '-e', `NGINX_PORT=${port}`],
      'sesame-example/php-nginx', []);
    await waitForLogs(name, /sesame: nginx: ready/, 30_000);
    const page = await docker(['exec', name, 'curl', '-sS', `http://127.0.0.1:${port}/index.php`]);
    expect(page.stdout).toBe('connected to db.internal with a password of 16 characters\n');
    const t0 = Date.now();
    await docker(['stop', name]);
    expect(Date.now() - t0).toBeLessThan(9000);
    expect(await exitCode(name)).toBe(0);
    const lines = (await logs(name)).split('\n').filter((l) => l.startsWith('sesame: '));
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    // Started in order...
    expect(at(/^sesame: migrate: exited with code 0/)).toBeGreaterThanOrEqual(0);
    expect(at(/^sesame: php-fpm: started/)).toBeGreaterThan(at(/^sesame: migrate: exited/));
    expect(at(/^sesame: nginx: started/)).toBeGreaterThan(at(/^sesame: php-fpm: ready/));
    // ...SIGQUIT (the php image's STOPSIGNAL) started the ordered stop, each with its own stop_signal...
    expect(at(/^sesame: SIGQUIT received; stopping$/)).toBeGreaterThan(at(/^sesame: nginx: ready/));
    expect(at(/^sesame: php-fpm: stopping \(SIGQUIT/)).toBeGreaterThan(at(/^sesame: nginx: exited with code 0/));
    expect(at(/^sesame: nginx: stopping \(SIGQUIT/)).toBeLessThan(at(/^sesame: php-fpm: stopping/));
    expect(at(/^sesame: php-fpm: exited with code 0/)).toBeGreaterThan(at(/^sesame: php-fpm: stopping/));
  });
});

describe('the other examples, run for real', () => {
  it('compose-dev-vault: the app gets its password from the dev Vault, VAULT_TOKEN is removed, docker stop ends it with 0', async () => {
    const v = await vault();
    v.kvPut('secret', 'app', { password: 'dev-password' });
    const name = await runDetached('compose', ['-e', `VAULT_ADDR=${v.url}`, '-e', `VAULT_TOKEN=${v.rootToken}`, '-e', 'DB_PASSWORD=vault:secret/app#password'],
      'sesame-example/compose-dev-vault', []);
    await waitForLogs(name, /^app: DB_PASSWORD=dev-password; VAULT_TOKEN=<removed>$/m);
    await docker(['stop', name]);
    expect(await exitCode(name)).toBe(0);
    expect(await logs(name)).toMatch(/app: bye$/);
  });

  it('approle-wrapped: logs in with /run/secrets/role_id and a wrapped secret_id, runs the app as app', async () => {
    const v = await vault();
    v.kvPut('secret', 'app', { db_password: 'correct horse battery staple' });
    v.addPolicy('app', { 'secret/data/app': ['read'] });
    const role = v.addAppRole('app', { policies: ['app'] });
    const secrets = files('approle', { role_id: `${role.roleId}\n`, secret_id: `${role.wrapSecretId(60).token}\n` });
    const name = await runDetached('approle', ['-e', `VAULT_ADDR=${v.url}`, '-v', `${secrets}:/run/secrets:ro`], 'sesame-example/approle-wrapped', []);
    await waitForLogs(name, /^app: running as app, connecting to db.internal with a password of 28 characters$/m);
    // app.sh sets its TERM trap just after that line: give it a moment to, first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await docker(['stop', name]);
    expect(await exitCode(name)).toBe(0);
    expect(await logs(name)).toMatch(/app: stopping$/);
  });

  it('kubernetes: logs in with the service account token, renders into a tmpfs on a read-only root, runs as app', async () => {
    const v = await vault();
    v.kvPut('secret', 'app', { db_password: 'k8s-db-password' });
    v.addPolicy('app', { 'secret/data/app': ['read'] });
    const sa = { namespace: 'shop', name: 'app' };
    v.addKubernetesRole('app', { serviceAccountNames: [sa.name], namespaces: [sa.namespace], policies: ['app'] });
    const token = files('k8s', { token: v.kubernetesJwt(sa) });
    const name = await runDetached('k8s', ['--read-only', '--tmpfs', '/etc/app/config', '-v', `${token}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
      '-e', `VAULT_ADDR=${v.url}`, '-e', 'SESAME_VAULT_AUTH=kubernetes', '-e', 'SESAME_VAULT_ROLE=app', '-e', 'SESAME_USER=app', '-e', 'DB_HOST=postgres.shop.svc'],
    'sesame-example/kubernetes', []);
    await waitForLogs(name, /^app: config is \/etc\/app\/config\/app.yml$/m);
    const stat = await docker(['exec', name, 'stat', '-c', '%a %U:%G', '/etc/app/config/app.yml']);
    expect(stat.stdout).toBe('640 root:app\n');
    expect((await docker(['exec', '--user', 'app', name, 'cat', '/etc/app/config/app.yml'])).stdout).toContain('password: k8s-db-password');
    await docker(['stop', name]);
    expect(await exitCode(name)).toBe(0);
  });

  it('scratch: /init alone FROM scratch renders the config from the secret file and runs the static app', async () => {
    const secrets = files('scratch', { db_password: 's3cret\n' });
    const r = await docker(['run', '--rm', '--network', 'host', '-v', `${secrets}/db_password:/run/secrets/db_password:ro`, 'sesame-example/scratch']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^# rendered by sesame at start\nname = "scratch-demo"\npassword = "s3cret"\n-rw------- +1 0 +0 .* \/tmp\/app\.conf\n$/);
    expect(r.code).toBe(0);
    // Without the secret: one line naming the reference, exit 69 (a secret source unavailable), the app never starts.
    const none = await docker(['run', '--rm', '--network', 'host', 'sesame-example/scratch']);
    expect(none.stderr).toMatch(/^sesame: error: .*file:\/run\/secrets\/db_password.*\n$/);
    expect(none.stdout).toBe('');
    expect(none.code).toBe(69);
  });

  it('alpine: /init on musl renders the config owned by app and runs the command as app', async () => {
    const r = await docker(['run', '--rm', '--network', 'host', '-e', 'GREETING=hello', 'sesame-example/alpine']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('uid=10001(app) gid=10001(app) groups=10001(app)\ngreeting = "hello"\n');
    expect(r.code).toBe(0);
  });

  it('keywhiz: mTLS with the client certificate, /run/secrets written with modes and owners, the app as app', async () => {
    const pki = makePki();
    const client = pki.client('app');
    const kw: KeywhizServer = await startKeywhiz({
      pki,
      clients: { app: { secrets: ['db-password', 'tls-key', 'api-token'] } },
      secrets: {
        'db-password': { content: 'kw-db-password' },
        'tls-key': { content: 'not really a key\n', filename: 'tls.key', mode: '0440' },
        'api-token': { content: 'kw-api-token' },
      },
    });
    servers.push(kw);
    const certs = files('keywhiz', {
      'client.pem': readFileSync(client.certPath, 'utf8'),
      'client-key.pem': readFileSync(client.keyPath, 'utf8'),
      'ca.pem': readFileSync(pki.ca.certPath, 'utf8'),
    });
    const name = await runDetached('keywhiz', ['-e', `SESAME_KEYWHIZ_SERVER=${kw.url}`, '-v', `${certs}:/run/keywhiz:ro`], 'sesame-example/keywhiz', []);
    const text = await waitForLogs(name, /tls\.key/);
    expect(text).toMatch(/^-r-------- +1 +10001 +10001 +\d+ .* db-password$/m);
    expect(text).toMatch(/^-r--r----- +1 +0 +10001 +\d+ .* tls\.key$/m);
    await docker(['stop', name]);
    expect(await exitCode(name)).toBe(0);
  });
});
