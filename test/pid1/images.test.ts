// The one-file /init as PID 1 in each kind of image it must serve, built here from Debian
// packages: scratch (nothing but /init and a static busybox as the child), musl with a
// static busybox (Alpine-like), distroless/static-like (passwd, group, CA certificates),
// glibc without libstdc++ (distroless/base-like), Debian slim (glibc, libstdc++). In each:
// Vault over TLS (VAULT_CACERT), Keywhiz over mTLS, a template, --user with supplementary
// groups, --no-new-privs, reaping, signal forwarding, the terminal, services, a read-only
// root with noexec tmpfs mounts and init started as a non-root user from an execute-only
// /init; and without /proc, one clear line and exit 72.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePki } from '../support/certs';
import { startKeywhiz, type KeywhizServer } from '../support/keywhiz-server';
import { BUILD_DIR, INIT, PROGRAMS_DIR, ROOT, program } from '../support/paths';
import { runAsPid1, startAsPid1 } from '../support/pid1';
import { startOnPty } from '../support/pty';
import { buildRootfs, debianPackages, inRoot, type Rootfs, type RootfsOptions } from '../support/rootfs';
import { startVault, type VaultServer } from '../support/vault-server';

const pki = makePki();
const client = pki.client('app');
const PATH = '/bin:/usr/bin:/sbin:/usr/sbin';
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n';
const GROUP = 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n';

/** A static orphans (test/support/programs/orphans.c): it runs in any root. */
function staticOrphans(): string {
  const out = join(BUILD_DIR, 'orphans-static');
  if (!existsSync(out)) execFileSync('cc', ['-O2', '-static', '-o', out, join(PROGRAMS_DIR, 'orphans.c')]);
  return out;
}

/** busybox (static, from the Debian package busybox-static) and the static orphans. */
function busybox(): RootfsOptions {
  const [tree] = debianPackages(['busybox-static']);
  return { staticPrograms: { '/bin/busybox': join(tree, 'bin/busybox'), '/bin/orphans': staticOrphans() } };
}
function linkApplets(dir: string): void {
  for (const applet of ['sh', 'cat', 'id', 'grep', 'sleep', 'echo', 'ls', 'stty']) {
    if (!existsSync(join(dir, 'bin', applet))) symlinkSync('busybox', join(dir, 'bin', applet));
  }
}

/** Mozilla's CA bundle as update-ca-certificates would make it, from the Debian package. */
function caBundle(): string {
  const [tree] = debianPackages(['ca-certificates']);
  const dir = join(tree, 'usr/share/ca-certificates/mozilla');
  return readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
}

interface Kind {
  name: string;
  make(): Rootfs;
  /** --user argument: a name where the image has /etc/passwd. */
  user: string;
  id: string;
}

const KINDS: Kind[] = [
  {
    name: 'scratch (only /init and a static child)',
    make: () => buildRootfs({ shell: false, ...busybox() }),
    user: '1000:1000',
    id: 'uid=1000 gid=1000 groups=1000',
  },
  {
    name: 'musl with a static busybox (Alpine-like)',
    make: () => {
      const r = buildRootfs({ shell: false, ...busybox(), trees: debianPackages(['musl']), files: { '/etc/passwd': PASSWD, '/etc/group': GROUP } });
      linkApplets(r.dir);
      return r;
    },
    user: 'app',
    id: 'uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)',
  },
  {
    name: 'distroless/static-like (passwd, group, CA certificates)',
    make: () => buildRootfs({ shell: false, ...busybox(), files: { '/etc/passwd': PASSWD, '/etc/group': GROUP, '/etc/ssl/certs/ca-certificates.crt': caBundle() } }),
    user: 'app',
    id: 'uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)',
  },
  {
    name: 'glibc without libstdc++ (distroless/base-like)',
    make: () => {
      const r = buildRootfs({ shell: false, ...busybox(), trees: debianPackages(['libc6']), files: { '/etc/passwd': PASSWD, '/etc/group': GROUP } });
      if (existsSync(join(r.dir, 'usr/lib/x86_64-linux-gnu/libstdc++.so.6'))) throw new Error('libstdc++ in the no-libstdc++ root');
      return r;
    },
    user: 'app',
    id: 'uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)',
  },
  {
    name: 'Debian slim (glibc, libstdc++, dash)',
    make: () => {
      const r = buildRootfs({ ...busybox(), trees: debianPackages(['libc6', 'libgcc-s1', 'libstdc++6']), files: { '/etc/passwd': PASSWD, '/etc/group': GROUP } });
      linkApplets(r.dir);
      return r;
    },
    user: 'app',
    id: 'uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)',
  },
];

let vault: VaultServer;
let keywhiz: KeywhizServer;
beforeAll(async () => {
  vault = await startVault({ tls: { key: pki.server.key, cert: pki.server.cert } });
  vault.kvPut('secret', 'app', { password: 'from-vault' });
  keywhiz = await startKeywhiz({ pki, clients: { app: { secrets: ['db-password'] } }, secrets: { 'db-password': { content: 'from-keywhiz' } } });
});
afterAll(async () => {
  await vault?.stop();
  await keywhiz?.stop();
});

/** Certificates, template, config inside the root, where the image would have them. */
function provision(r: Rootfs): void {
  mkdirSync(join(r.dir, 'certs'), { recursive: true });
  copyFileSync(pki.ca.certPath, join(r.dir, 'certs/ca.pem'));
  copyFileSync(client.certPath, join(r.dir, 'certs/client.pem'));
  copyFileSync(client.keyPath, join(r.dir, 'certs/client.key'));
  mkdirSync(join(r.dir, 'etc'), { recursive: true });
  const write = (p: string, t: string) => execFileSync('sh', ['-c', 'cat > "$1"', 'sh', join(r.dir, p)], { input: t });
  write('etc/app.conf.liquid', 'vault={{ env.DB }} keywhiz={{ env.KW }}\n');
  write('etc/sesame.yaml', [
    'services:',
    '  first:',
    '    command: [/bin/busybox, echo, first ran]', // a list: not every root has /bin/sh
    '    oneshot: true',
    '  main:',
    '    command: [/bin/busybox, sh, -c, "/bin/busybox echo main after first; exit 6"]',
    '    depends_on: { first: { condition: service_completed_successfully } }',
    'main: main',
    '',
  ].join('\n'));
  chmodSync(join(r.dir, 'tmp'), 0o1777);
}

const secretsEnv = () => ({
  PATH,
  VAULT_ADDR: vault.url,
  VAULT_TOKEN: 'root',
  VAULT_CACERT: '/certs/ca.pem',
  SESAME_KEYWHIZ_SERVER: keywhiz.url,
  SESAME_KEYWHIZ_CERT: '/certs/client.pem',
  SESAME_KEYWHIZ_KEY: '/certs/client.key',
  SESAME_KEYWHIZ_CA: '/certs/ca.pem',
  DB: 'vault:secret/app#password',
  KW: 'keywhiz:db-password',
});

const NO_NEW_PRIVS = 'while read -r k v; do [ "$k" = NoNewPrivs: ] && echo "$k $v"; done < /proc/self/status';
/** pgrp and tpgid of the shell itself: equal when it is the terminal's foreground group. */
const FOREGROUND = 'read -r l < /proc/self/stat; set -- ${l##*) }; [ "$3" = "$6" ] && echo foreground';

describe.each(KINDS)('one file in $name', (kind) => {
  let root: Rootfs;
  beforeAll(() => {
    root = kind.make();
    provision(root);
  });
  afterAll(() => root?.remove());

  it('Vault over TLS, Keywhiz over mTLS, a template, --user with its groups, --no-new-privs, reaping', async () => {
    // orphans last, exec'ed: its orphans must be re-parented to init, not to a shell.
    const script = `/bin/busybox echo "db=$DB kw=$KW"; /bin/busybox id; ${NO_NEW_PRIVS}; exec /bin/orphans 3 5`;
    const r = await runAsPid1(['-T', '/etc/app.conf.liquid:/tmp/app.conf', '--user', kind.user, '--no-new-privs', '--', '/bin/busybox', 'sh', '-c', script], {
      init: '/init', wrap: inRoot(root.dir), env: secretsEnv(),
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^db=from-vault kw=from-keywhiz\\n${kind.id.replace(/[()]/g, '\\$&')}\\nNoNewPrivs: 1\\norphans 3 reaped in \\d+ us\\n$`));
    expect(readFileSync(join(root.dir, 'tmp/app.conf'), 'utf8')).toBe('vault=from-vault keywhiz=from-keywhiz\n');
    expect(r.code).toBe(5);
  });

  it('nothing of the entry stub reaches the child: descriptors 0-2 only, its variables as given; /proc/1/exe is /init', async () => {
    // ls's own directory descriptor is the one extra entry ls can see.
    const script = '/bin/busybox ls /proc/self/fd | /bin/busybox wc -l; /bin/busybox readlink /proc/1/exe; /bin/busybox env | /bin/busybox sort';
    const r = await runAsPid1(['--', '/bin/busybox', 'sh', '-c', script], { init: '/init', wrap: inRoot(root.dir), env: { PATH, A: '1' } });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['4', '/init']);
    expect(r.stdout.split('\n').slice(2).filter((l) => l && !/^(PWD|SHLVL|_)=/.test(l))).toEqual(['A=1', `PATH=${PATH}`]);
    expect(r.code).toBe(0);
  });

  it('services: a oneshot, then the main service, whose code ends the container', async () => {
    const r = await runAsPid1(['-c', '/etc/sesame.yaml'], { init: '/init', wrap: inRoot(root.dir), env: { PATH } });
    expect(r.stdout).toMatch(/first ran\n/);
    expect(r.stdout).toMatch(/main after first\n/);
    expect(r.stdout.indexOf('first ran')).toBeLessThan(r.stdout.indexOf('main after first'));
    expect(r.code).toBe(6);
  });

  it('forwards SIGTERM to the child and returns its code', async () => {
    const script = 'trap "/bin/busybox echo got TERM; exit 3" TERM; /bin/busybox echo ready; while :; do /bin/busybox sleep 0.05; done';
    const run = startAsPid1(['--', '/bin/busybox', 'sh', '-c', script], { init: '/init', wrap: inRoot(root.dir), env: { PATH } });
    await run.waitFor(/ready\n/);
    await run.signal('SIGTERM');
    const r = await run.done;
    expect(r.stdout).toBe('ready\ngot TERM\n');
    expect(r.code).toBe(3);
  });

  it('the terminal: the child is its foreground process group', async () => {
    const session = startOnPty(inRoot(root.dir)(['/init', '--', '/bin/busybox', 'sh', '-c', `${FOREGROUND}; exit 4`]), { env: { PATH } });
    const done = await session.done;
    expect(done.screen).toContain('foreground');
    expect(done.code).toBe(4);
  });

  it('read-only root, every tmpfs noexec, no /init.node, init started as a non-root user from an execute-only /init', async () => {
    // A copy: /init is a hard link to dist/init, whose mode must not change.
    rmSync(join(root.dir, 'init'));
    copyFileSync(INIT, join(root.dir, 'init'));
    chmodSync(join(root.dir, 'init'), 0o711);
    const script = 'if (: > /probe) 2>/dev/null; then echo writable; else echo read-only; fi; /bin/busybox id -u; exec /bin/orphans 3 2';
    const r = await runAsPid1(['-l', 'debug', '--', '/bin/busybox', 'sh', '-c', script], { init: '/init', wrap: inRoot(root.dir, { readOnly: true, userspec: '1000:1000' }), env: { PATH } });
    expect(r.stdout).toMatch(/^read-only\n1000\norphans 3 reaped in \d+ us\n$/);
    expect(r.stderr).toContain('sesame: debug: native helper loaded from inside /init');
    expect(r.stderr.split('\n').filter((l) => l && !l.startsWith('sesame: debug: '))).toEqual([]);
    expect(r.code).toBe(2);
  });

  it('without /proc: one clear line and exit 72', async () => {
    const r = await runAsPid1(['--', '/bin/busybox', 'true'], { init: '/init', wrap: inRoot(root.dir, { proc: false }), env: { PATH } });
    expect(r.stderr).toBe('sesame: error: /proc is not mounted: ENOENT (/init needs /proc to start: mount proc on /proc)\n');
    expect(r.stdout).toBe('');
    expect(r.code).toBe(72);
  });
});

describe('one file where memory files are restricted', () => {
  let root: Rootfs;
  beforeAll(() => {
    root = buildRootfs({ shell: false, ...busybox() });
  });
  afterAll(() => root?.remove());

  it('vm.memfd_noexec=2 (only sealed non-executable memfds): still starts, and reaps', async () => {
    // The setting belongs to the PID namespace: set inside the new one, before init starts.
    const r = await runAsPid1(['--', '/bin/orphans', '3', '0'], {
      init: '/init', wrap: inRoot(root.dir, { setup: 'echo 2 > "$R/proc/sys/vm/memfd_noexec"' }), env: { PATH },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^orphans 3 reaped in \d+ us\n$/);
    expect(r.code).toBe(0);
  });

  it('a seccomp profile refusing memfd_create: one clear line and exit 71', async () => {
    const wrap = (argv: string[]) => [program('no-memfd'), ...inRoot(root.dir)(argv)];
    const r = await runAsPid1(['--', '/bin/busybox', 'true'], { init: '/init', wrap, env: { PATH } });
    expect(r.stderr).toBe('sesame: error: memfd_create ld-linux-x86-64.so.2: EPERM (init loads its libraries through memory files; a seccomp profile may refuse memfd_create)\n');
    expect(r.code).toBe(71);
  });
});


describe('examples/scratch, as its Dockerfile builds it', () => {
  it('renders the config with the file secret and runs the static program, as the README says', async () => {
    const example = join(ROOT, 'examples/scratch');
    const dockerfile = readFileSync(join(example, 'Dockerfile'), 'utf8');
    const files: Record<string, string> = { '/run/secrets/db_password': 's3cret\n' };
    for (const m of dockerfile.matchAll(/^COPY (examples\/scratch\/\S+) (\S+)$/gm)) files[m[2]] = readFileSync(join(ROOT, m[1]), 'utf8');
    const env = Object.fromEntries([...dockerfile.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    const entrypoint = JSON.parse(dockerfile.match(/^ENTRYPOINT (.*)$/m)?.[1] ?? '[]') as string[];
    const cmd = JSON.parse(dockerfile.match(/^CMD (.*)$/m)?.[1] ?? '[]') as string[];
    expect(entrypoint[0]).toBe('/init');
    const root = buildRootfs({ shell: false, ...busybox(), files });
    try {
      const r = await runAsPid1([...entrypoint.slice(1), ...cmd], { init: '/init', wrap: inRoot(root.dir), env });
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^# rendered by sesame at start\nname = "scratch-demo"\npassword = "s3cret"\n-rw------- .* \/tmp\/app\.conf\n$/);
      expect(r.code).toBe(0);
    } finally {
      root.remove();
    }
  });
});
