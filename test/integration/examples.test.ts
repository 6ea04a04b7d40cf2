// Every example under examples/ (except demo/, which test/pid1/demo.test.ts runs) passes
// `init --check` with its own files, against the test Vault or Keywhiz server set up the way
// the example's README / setup script says.
//
// How the image is reproduced without Docker: the example's Dockerfile is read, and
//  - every `COPY <src> <dest>` without --from is copied into a staging dir at <dest>;
//  - a `groupadd -g G name && useradd -u U -g name ... name` line adds that user to a copy of
//    the host's /etc/passwd and /etc/group in the staging dir;
//  - init runs as PID 1 in fresh PID and mount namespaces, where each top-level staged dir
//    (etc/, usr/) is laid over the host's with a read-only overlayfs (staged files win), so
//    the config's image paths (/etc/sesame.yaml, /etc/nginx/templates, ...) are the example's
//    own files, unmodified. Nothing on the host is touched (--check and --render write nothing;
//    the one real start mounts a tmpfs on /run inside the namespace).
//  - init's options are the ENTRYPOINT's (between /init and --), and the environment is the
//    Dockerfile's ENV lines (or the compose service's / the Deployment's env), with only what
//    names the deployment replaced: VAULT_ADDR (the test server), credential file paths
//    (temp files instead of /run/secrets mounts) and VAULT_CACERT (the test Vault is HTTP).
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { makePki } from '../support/certs';
import { startKeywhiz, type KeywhizServer } from '../support/keywhiz-server';
import { ROOT } from '../support/paths';
import { startAsPid1, type Finished, type Running } from '../support/pid1';
import { startVault, type VaultServer } from '../support/vault-server';

const PATH = process.env.PATH as string;
const EXAMPLES = join(ROOT, 'examples');
const read = (example: string, file: string) => readFileSync(join(EXAMPLES, example, file), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'sesame-examples-'));
const tmpFile = (name: string, content: string) => {
  const path = join(tmp, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
};

const servers: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(tmp, { recursive: true, force: true });
});
async function vaultServer(): Promise<VaultServer> {
  const vault = await startVault();
  servers.push(vault);
  return vault;
}

/** The final stage of the example's Dockerfile (after the last FROM). */
function finalStage(example: string): string[] {
  const lines = read(example, 'Dockerfile').split('\n');
  const from = lines.map((l, i) => (/^FROM\s/i.test(l) ? i : -1)).filter((i) => i >= 0).pop() as number;
  return lines.slice(from);
}

/** ENV lines of the final stage: `ENV A=1 B=2` (no quoting or continuations in the examples). */
function dockerfileEnv(example: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of finalStage(example)) {
    const m = line.match(/^ENV\s+(.*)$/);
    if (!m) continue;
    for (const pair of m[1].trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new Error(`${example}/Dockerfile: ENV form not understood: ${line}`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** init's own options from the ENTRYPOINT: what comes between "/init" and "--". */
function entrypointOptions(example: string): string[] {
  const line = finalStage(example).find((l) => l.startsWith('ENTRYPOINT ')) as string;
  const argv = JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
  expect(argv[0]).toBe('/init');
  expect(argv.at(-1)).toBe('--');
  return argv.slice(1, -1);
}

/** The image's added files and users, staged in a temp dir (see the top of this file). */
function stage(example: string): string {
  const dir = mkdtempSync(join(tmp, `${example}-`));
  const passwd: string[] = [];
  const group: string[] = [];
  for (const line of finalStage(example)) {
    const copy = line.match(/^COPY\s+(?!--)(\S+)\s+(\S+)$/);
    if (copy) {
      const [, src, dest] = copy;
      expect(src.startsWith(`examples/${example}/`), `${example}: COPY from its own folder: ${line}`).toBe(true);
      mkdirSync(dirname(join(dir, dest)), { recursive: true });
      cpSync(join(ROOT, src), join(dir, dest), { recursive: true });
    }
    const users = line.match(/groupadd -g (\d+) (\S+) && useradd -u (\d+) -g (\S+) .* (\S+)$/);
    if (users) {
      const [, gid, groupName, uid, , userName] = users;
      group.push(`${groupName}:x:${gid}:`);
      passwd.push(`${userName}:x:${uid}:${gid}::/nonexistent:/usr/sbin/nologin`);
    }
  }
  if (passwd.length) {
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'etc/passwd'), `${readFileSync('/etc/passwd', 'utf8')}${passwd.join('\n')}\n`);
    writeFileSync(join(dir, 'etc/group'), `${readFileSync('/etc/group', 'utf8')}${group.join('\n')}\n`);
  }
  return dir;
}

/**
 * init (argv) as PID 1 with the staged image files overlaid on the host's, in a mount
 * namespace of its own; `tmpfsRun` gives it an empty /run there (for secret files).
 */
function runInImage(staged: string, args: string[], env: NodeJS.ProcessEnv, tmpfsRun = false): Promise<Finished> {
  return startInImage(staged, args, env, tmpfsRun).done;
}
/** `writable`: directories (staged, so they exist) that get a tmpfs, as the image's own would be writable. */
function startInImage(staged: string, args: string[], env: NodeJS.ProcessEnv, tmpfsRun = false, writable: string[] = []): Running {
  for (const dir of writable) mkdirSync(join(staged, dir), { recursive: true });
  const script = [
    'set -e',
    'for d in "$0"/*/; do [ -d "$d" ] || continue; t=/$(basename "$d"); mount -t overlay sesame-example -o "lowerdir=$d:$t" "$t"; done',
    tmpfsRun ? 'mount -t tmpfs -o mode=755 sesame-run /run' : ':',
    ...writable.map((dir) => `mount -t tmpfs sesame-writable ${dir}`),
    'exec "$@"',
  ].join('\n');
  return startAsPid1(args, {
    env: { PATH, ...env },
    wrap: (initArgv) => ['unshare', '--mount', '--pid', '--fork', '--mount-proc', 'sh', '-c', script, staged, ...initArgv],
  });
}

const passed = (secrets: number, templates: number) =>
  `sesame: check passed: ${secrets} secret reference(s) resolved, ${templates} template(s) rendered\n`;

describe('examples/nginx-vault', () => {
  const BASIC_AUTH = 'proxy:s3cret-for-nginx';
  const setup = async () => {
    const vault = await vaultServer();
    vault.kvPut('secret', 'web', { basic_auth: BASIC_AUTH });
    const env = { ...dockerfileEnv('nginx-vault'), VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken };
    return { staged: stage('nginx-vault'), env, options: entrypointOptions('nginx-vault') };
  };

  it('passes --check with the image\'s config, envsubst template dir and Liquid template', async () => {
    const { staged, env, options } = await setup();
    const r = await runInImage(staged, [...options, '--check'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(passed(1, 2));
    expect(r.code).toBe(0);
  });

  it('--render: the Dockerfile\'s ENV substituted, nginx\'s own $variables kept, the secret masked', async () => {
    const { staged, env, options } = await setup();
    const r = await runInImage(staged, [...options, '--render'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('/etc/nginx/conf.d/default.conf');
    expect(r.stdout).toContain('listen       8080;');
    expect(r.stdout).toContain('server_name  localhost;');
    expect(r.stdout).toContain('proxy_pass         http://app:3000;');
    expect(r.stdout).toContain('proxy_set_header   Host $host;');
    expect(r.stdout).toContain('X-Forwarded-For $proxy_add_x_forwarded_for;');
    expect(r.stdout).not.toContain('${');
    expect(r.stdout).toContain('/etc/nginx/upstream-auth.conf');
    expect(r.stdout).toContain('proxy_set_header Authorization "Basic ********";');
    expect(r.stdout).not.toContain(BASIC_AUTH);
    expect(r.stdout).not.toContain(Buffer.from(BASIC_AUTH).toString('base64'));
  });
});

describe('examples/approle-wrapped', () => {
  it('passes --check logging in with the role_id file and a wrapped secret_id file; the spent token then fails with 77', async () => {
    const vault = await vaultServer();
    vault.kvPut('secret', 'app', { db_password: 'correct horse battery staple' });
    // app-policy.hcl, as data (the test server takes no HCL): read on secret/data/app.
    expect(read('approle-wrapped', 'app-policy.hcl')).toMatch(/path "secret\/data\/app" \{\s+capabilities = \["read"\]\s+\}/);
    vault.addPolicy('app', { 'secret/data/app': ['read'] });
    const env = dockerfileEnv('approle-wrapped');
    const role = vault.addAppRole(env.SESAME_VAULT_ROLE, { policies: ['app'] });
    // `vault write -wrap-ttl=60s -f auth/approle/role/app/secret-id`
    const wrapped = role.wrapSecretId(60);
    const files = {
      SESAME_VAULT_ROLE_ID_FILE: tmpFile('role_id', `${role.roleId}\n`),
      SESAME_VAULT_SECRET_ID_FILE: tmpFile('secret_id', `${wrapped.token}\n`),
    };
    expect(env.SESAME_VAULT_ROLE_ID_FILE).toBe('/run/secrets/role_id');
    expect(env.SESAME_VAULT_SECRET_ID_FILE).toBe('/run/secrets/secret_id');
    const staged = stage('approle-wrapped');
    const r = await runInImage(staged, [...entrypointOptions('approle-wrapped'), '--check'], { ...env, ...files, VAULT_ADDR: vault.url });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(passed(1, 0));
    expect(r.code).toBe(0);
    expect(vault.requests.map((q) => `${q.method} ${q.path} ${q.status}`)).toEqual(expect.arrayContaining([
      'POST /v1/sys/wrapping/lookup 200',
      'POST /v1/sys/wrapping/unwrap 200',
      'POST /v1/auth/approle/login 200',
      'GET /v1/secret/data/app 200',
    ]));
    // What the README says about restarts: the wrapping token is single-use.
    const again = await runInImage(staged, [...entrypointOptions('approle-wrapped'), '--check'], { ...env, ...files, VAULT_ADDR: vault.url });
    expect(again.stderr).toContain('may have expired or been used already');
    expect(again.code).toBe(77);
  });
});

describe('examples/kubernetes', () => {
  const docs = parseAllDocuments(read('kubernetes', 'deployment.yaml')).map((d) => d.toJS());
  const deployment = docs.find((d) => d.kind === 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const env: Record<string, string> = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));

  it('the Deployment, its ServiceAccount and vault-setup.sh agree; sesame\'s grace period ends before the kubelet\'s', () => {
    const account = docs.find((d) => d.kind === 'ServiceAccount');
    expect(pod.serviceAccountName).toBe(account.metadata.name);
    expect(deployment.metadata.namespace).toBe(account.metadata.namespace);
    const setup = read('kubernetes', 'vault-setup.sh');
    expect(setup).toContain(`vault write auth/kubernetes/role/${env.SESAME_VAULT_ROLE} `);
    expect(setup).toContain(`bound_service_account_names=${account.metadata.name} `);
    expect(setup).toContain(`bound_service_account_namespaces=${account.metadata.namespace} `);
    expect(env.SESAME_VAULT_AUTH).toBe('kubernetes');
    const grace = Number(/^(\d+)s$/.exec(env.SESAME_GRACE_PERIOD)?.[1]);
    expect(grace).toBeGreaterThan(8); // more than the default, or setting it would be pointless
    expect(grace).toBeLessThan(pod.terminationGracePeriodSeconds);
  });

  it('passes --check logging in with the service account\'s JWT, rendering the config', async () => {
    const vault = await vaultServer();
    vault.kvPut('secret', 'app', { db_password: 'k8s-db-password' });
    vault.addPolicy('app', { 'secret/data/app': ['read'] });
    const sa = { namespace: deployment.metadata.namespace as string, name: pod.serviceAccountName as string };
    vault.addKubernetesRole(env.SESAME_VAULT_ROLE, { serviceAccountNames: [sa.name], namespaces: [sa.namespace], policies: ['app'] });
    // The projected token the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount/token.
    const jwt = tmpFile('k8s-token', vault.kubernetesJwt(sa));
    const { VAULT_CACERT: _ca, ...podEnv } = env;
    const runEnv = { ...podEnv, VAULT_ADDR: vault.url, SESAME_VAULT_JWT_FILE: jwt };
    const staged = stage('kubernetes');
    const r = await runInImage(staged, [...entrypointOptions('kubernetes'), '--check'], runEnv);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(passed(1, 1));
    expect(r.code).toBe(0);
    expect(vault.requestCount({ method: 'POST', path: 'auth/kubernetes/login' })).toBe(1);

    const render = await runInImage(staged, [...entrypointOptions('kubernetes'), '--render'], runEnv);
    expect(render.code).toBe(0);
    expect(render.stdout).toContain('host: postgres.shop.svc');
    expect(render.stdout).toContain('password: "********"'); // | yaml quotes the stand-in, as * starts an alias
    expect(render.stdout).not.toContain('k8s-db-password');
  });
});

describe('examples/compose-dev-vault', () => {
  it('the app service\'s environment passes --check against a Vault seeded as the seed service does', async () => {
    const compose = parseYaml(read('compose-dev-vault', 'docker-compose.yml'));
    expect(compose.services.vault.command).toContain('-dev-root-token-id=root');
    const vault = await vaultServer();
    // seed: vault kv put secret/app password=dev-password
    const [cli, kv, put, path, ...pairs] = compose.services.seed.entrypoint as string[];
    expect([cli, kv, put]).toEqual(['vault', 'kv', 'put']);
    const [mount, ...rest] = path.split('/');
    vault.kvPut(mount, rest.join('/'), Object.fromEntries(pairs.map((p) => p.split(/=(.*)/s).slice(0, 2))));
    const appEnv = compose.services.app.environment as Record<string, string>;
    expect(appEnv.DB_PASSWORD).toBe('vault:secret/app#password');
    expect(appEnv.VAULT_TOKEN).toBe(vault.rootToken);
    const staged = stage('compose-dev-vault');
    const options = entrypointOptions('compose-dev-vault');
    const r = await runInImage(staged, [...options, '--check'], { ...appEnv, VAULT_ADDR: vault.url });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(passed(1, 0));
    expect(r.code).toBe(0);
    // And a real start with a short stand-in for the CMD: the value, no Vault variables.
    const run = await runInImage(staged, [...options, 'sh', '-c', 'echo "DB_PASSWORD=$DB_PASSWORD VAULT_TOKEN=${VAULT_TOKEN:-<removed>}"'], { ...appEnv, VAULT_ADDR: vault.url });
    expect(run.stdout).toBe('DB_PASSWORD=dev-password VAULT_TOKEN=<removed>\n');
    expect(run.code).toBe(0);
  });
});

describe('examples/keywhiz', () => {
  let kw: KeywhizServer;
  const setup = async () => {
    const pki = makePki();
    const client = pki.client('app');
    kw = await startKeywhiz({
      pki,
      clients: { app: { secrets: ['db-password', 'tls-key', 'api-token'] } },
      secrets: {
        'db-password': { content: 'kw-db-password' },
        'tls-key': { content: '-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n', filename: 'tls.key', mode: '0440' },
        'api-token': { content: 'kw-api-token' },
      },
    });
    servers.push(kw);
    const env = dockerfileEnv('keywhiz');
    return {
      ...env,
      SESAME_KEYWHIZ_SERVER: kw.url,
      SESAME_KEYWHIZ_CERT: client.certPath,
      SESAME_KEYWHIZ_KEY: client.keyPath,
      SESAME_KEYWHIZ_CA: pki.ca.certPath,
    };
  };

  it('passes --check with the client certificate (owners looked up in the image\'s /etc/passwd)', async () => {
    const env = await setup();
    const r = await runInImage(stage('keywhiz'), [...entrypointOptions('keywhiz'), '--check'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(passed(3, 0));
    expect(r.code).toBe(0);
  });

  it('a real start writes /run/secrets with the configured and the metadata modes and owners, and runs the app as app', async () => {
    const env = await setup();
    const r = await runInImage(stage('keywhiz'), [...entrypointOptions('keywhiz'), 'sh', '-c',
      'cd /run/secrets && stat -c "%a %u %g %n" db-password tls.key; echo "uid=$(id -u) API_TOKEN=$API_TOKEN"; env | grep -c SESAME_ || true'], env, true);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('400 10001 10001 db-password\n440 0 10001 tls.key\nuid=10001 API_TOKEN=kw-api-token\n0\n');
    expect(r.code).toBe(0);
  });
});

describe('examples/php-nginx', () => {
  // php, php-fpm and nginx are not installed here: stand-ins with their names, first in
  // PATH, do what the config relies on (php-fpm listens on 9000 after a while, nginx on the
  // port of the config init rendered, php -r fetches the health URL), say what they see,
  // and stop on SIGQUIT as the real ones do gracefully.
  const NODE = process.execPath;
  const standIns = () => {
    const bin = mkdtempSync(join(tmp, 'php-nginx-bin-'));
    const write = (name: string, text: string) => {
      writeFileSync(join(bin, name), text);
      chmodSync(join(bin, name), 0o755);
    };
    write('php', `#!/bin/sh
if [ "$1" = -r ]; then
  url=$(printf '%s' "$2" | grep -o "http://[^']*")
  exec ${NODE} -e 'fetch(process.argv[1]).then(async (r) => process.exit((await r.text()) === "ok\\n" ? 0 : 1), () => process.exit(1))' "$url"
fi
case "$1" in
  /var/www/html/migrate.php)
    grep -q 'schema of' "$1" || exit 2
    [ -n "$DB_PASSWORD" ] || { echo "migrate: DB_PASSWORD is not set" >&2; exit 1; }
    echo "migrate: schema of $DB_HOST is up to date";;
  *) echo "php stand-in: $*: not understood" >&2; exit 2;;
esac
`);
    write('php-fpm', `#!/bin/sh
[ "$*" = "--nodaemonize --force-stderr" ] || { echo "php-fpm stand-in: unexpected arguments: $*" >&2; exit 2; }
grep -q 'env\\[DB_PASSWORD\\] = \\$DB_PASSWORD' /usr/local/etc/php-fpm.d/zz-sesame.conf || exit 3
exec ${NODE} -e '
  const server = require("node:net").createServer((c) => c.end());
  console.log("php-fpm: DB_PASSWORD is " + (process.env.DB_PASSWORD ? "set" : "not set"));
  setTimeout(() => server.listen(9000, "127.0.0.1", () => console.error("php-fpm: ready to handle connections")), 500);
  process.on("SIGQUIT", () => { console.log("php-fpm: graceful stop"); process.exit(0); });'
`);
    write('nginx', `#!/bin/sh
exec ${NODE} -e '
  const conf = require("node:fs").readFileSync("/etc/nginx/conf.d/default.conf", "utf8");
  const port = Number(/listen (\\d+);/.exec(conf)[1]);
  console.log("nginx: DB_PASSWORD in my environment: " + (process.env.DB_PASSWORD ? "yes" : "no"));
  require("node:http").createServer((q, r) => r.end(q.url === "/healthz" ? "ok\\n" : "?")).listen(port, "127.0.0.1", () => console.log("nginx: listening on " + port));
  process.on("SIGQUIT", () => { console.log("nginx: graceful stop"); process.exit(0); });'
`);
    return bin;
  };

  const setup = async () => {
    const vault = await vaultServer();
    vault.kvPut('secret', 'shop', { db_password: 'hunter2hunter2' });
    const env = { ...dockerfileEnv('php-nginx'), VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken };
    return { staged: stage('php-nginx'), env, options: entrypointOptions('php-nginx') };
  };

  it('passes --check: the secret, the nginx template, three services (their commands found in PATH)', async () => {
    const { staged, env, options } = await setup();
    const missing = await runInImage(staged, [...options, '--check'], env);
    expect(missing.stderr).toMatch(/^sesame: error: \/etc\/sesame\.yaml: services\.migrate\.command: php: command not found in PATH /);
    expect(missing.code).toBe(127);
    const r = await runInImage(staged, [...options, '--check'], { ...env, PATH: `${standIns()}:${PATH}` });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('sesame: check passed: 1 secret reference(s) resolved, 1 template(s) rendered, 3 service(s) checked\n');
    expect(r.code).toBe(0);
    // CMD [] clears the php image's CMD ["php-fpm"], which would become a fourth service.
    expect(finalStage('php-nginx')).toContain('CMD []');
  });

  it('runs migrate, then php-fpm once it completed, then nginx once FastCGI listens; docker stop stops nginx first', async () => {
    const { staged, env, options } = await setup();
    const port = String(20_000 + (process.pid % 20_000));
    // nginx's package creates /etc/nginx/conf.d in the image; here it is a tmpfs.
    const running = startInImage(staged, options, { ...env, PATH: `${standIns()}:${PATH}`, NGINX_PORT: port }, true, ['/etc/nginx/conf.d']);
    const stderrShows = async (text: string) => {
      for (let i = 0; i < 400 && !running.stderr().includes(text); i++) await new Promise((r) => setTimeout(r, 50));
      expect(running.stderr()).toContain(text);
    };
    await stderrShows('sesame: nginx: ready (healthcheck passed)');
    await running.signal('SIGTERM');
    const r = await running.done;
    const err = r.stderr;
    const at = (text: string) => {
      const i = err.indexOf(text);
      expect(i, `${text}\n--- stderr:\n${err}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    // Start order, each after the condition it waits for.
    expect(at('sesame: migrate: completed')).toBeLessThan(at('sesame: php-fpm: started'));
    expect(at('php-fpm | php-fpm: ready to handle connections')).toBeLessThan(at('sesame: php-fpm: ready (port 127.0.0.1:9000 accepts connections)'));
    expect(at('sesame: php-fpm: ready (port 127.0.0.1:9000 accepts connections)')).toBeLessThan(at('sesame: nginx: started'));
    // Reverse order on the way out, each with SIGQUIT (its stop_signal), nginx gone first.
    expect(at('sesame: nginx: stopping (SIGQUIT')).toBeLessThan(at('sesame: nginx: exited with code 0'));
    expect(at('sesame: nginx: exited with code 0')).toBeLessThan(at('sesame: php-fpm: stopping (SIGQUIT'));
    expect(r.stdout).toContain('migrate | migrate: schema of db.internal is up to date');
    expect(r.stdout).toContain('php-fpm | php-fpm: DB_PASSWORD is set');
    expect(r.stdout).toContain(`nginx   | nginx: listening on ${port}`);
    expect(r.stdout).toContain('nginx   | nginx: DB_PASSWORD in my environment: no');
    expect(r.stdout).toContain('nginx   | nginx: graceful stop');
    expect(r.stdout).toContain('php-fpm | php-fpm: graceful stop');
    expect(r.stdout + err).not.toContain('hunter2hunter2');
    expect(err).not.toContain('sending SIGKILL');
    expect(r.code).toBe(0); // nginx's own code: it is the main service
  }, 30_000);
});
