// Properties of the built executable that a change can silently lose.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADDON, INIT, NODE, ROOT } from '../support/paths';
import { runAsPid1 } from '../support/pid1';
import { makePki } from '../support/certs';
import { startVault } from '../support/vault-server';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The highest GLIBC_x.y symbol version a binary needs. */
function glibcNeeded(file: string): string {
  const versions = [...execFileSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }).matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return versions.at(-1)?.join('.') ?? 'none';
}

/**
 * The builtins a start of the executable's bundle (dist/.cache/init-sea.cjs, wrapped as
 * src/sea-loader.ts wraps it) loads on top of Node's own, up to the native exit: the
 * training start's trick from build.mjs, with the list written out instead of a cache.
 * Its chunks come from their wrapped copies in dist/.cache, as in the training start.
 */
async function builtinsLoaded(argv: string[], env: Record<string, string> = {}): Promise<string[]> {
  const loader = `
const fs = require('node:fs'), vm = require('node:vm'), path = require('node:path');
const before = new Set(process.moduleLoadList);
const file = ${JSON.stringify(join(ROOT, 'dist/.cache/init-sea.cjs'))};
const script = new vm.Script('(function (exports, require, module, __filename, __dirname) {' + fs.readFileSync(file, 'utf8') + '\\n})', { filename: file });
const dlopen = process.dlopen;
process.dlopen = (target, ...rest) => {
  dlopen(target, ...rest);
  const nativeExit = target.exports.exit;
  if (nativeExit) target.exports = Object.create(target.exports, { exit: { value: (code) => {
    fs.writeSync(1, JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13))));
    nativeExit(code);
  } } });
};
const kept = [];
const bytes = (name) => fs.readFileSync(path.join(path.dirname(file), name.replace(/\\.cjs$/, '.wrapped.cjs')));
const sea = { isSea: () => false, getAsset: (name) => bytes(name).toString('latin1'), getRawAsset: (name) => {
  const copy = new Uint8Array(bytes(name)).buffer;
  kept.push(copy);
  return copy;
} };
process.argv = [process.argv[0], file, ...process.argv.slice(1)];
const mod = { exports: {} };
script.runInThisContext()(mod.exports, (id) => (id === 'node:sea' ? sea : require(id)), mod, file, '/');`;
  const { stdout } = await promisify(execFile)(NODE, ['--disable-sigusr1', '-e', loader, ...argv], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SESAME_NATIVE: ADDON, ...env } });
  return JSON.parse(stdout) as string[];
}

describe('the built executable', () => {
  // Each of these costs a start milliseconds to load (node:crypto alone ~7 ms, tls and
  // http more): a bare start has no use for them, so whatever needs them loads them then.
  it('loads no network, crypto, stream or inspector builtin in a start without secrets', async () => {
    const loaded = await builtinsLoaded(['--', 'true']);
    expect(loaded).toContain('os');
    for (const heavy of ['crypto', 'tls', 'net', 'http', 'https', 'stream', 'child_process', 'inspector', 'worker_threads', 'perf_hooks']) {
      expect(loaded, heavy).not.toContain(heavy);
    }
  });

  // A plain-HTTP Vault is reached through the addon's TCP (src/native/socket.c): node:net
  // and the twenty modules of node:stream it loads cost every such start ~2.5 ms.
  // And over https through the OpenSSL in the executable: node:tls and node:crypto cost
  // ~6 ms more.
  it.each([['plain-HTTP', false], ['TLS', true]])('loads neither net, stream, tls nor crypto in a start that reads a secret from a %s Vault', async (_what, tls) => {
    const pki = makePki();
    const vault = await startVault(tls ? { tls: { cert: pki.server.cert, key: pki.server.key } } : {});
    try {
      vault.kvPut('secret', 'app', { password: 'hunter2' });
      const loaded = await builtinsLoaded(['--', 'sh', '-c', 'test "$DB_PASSWORD" = hunter2'], {
        VAULT_ADDR: vault.url, VAULT_TOKEN: vault.rootToken, DB_PASSWORD: 'vault:secret/app#password', SESAME_REVOKE: 'false',
        ...(tls ? { VAULT_CACERT: pki.ca.certPath } : {}),
      });
      expect(vault.url.startsWith(tls ? 'https:' : 'http:')).toBe(true);
      expect(vault.requestCount({ method: 'GET', path: 'secret/data/app' })).toBe(1);
      for (const heavy of ['net', 'stream', 'tls', 'http', 'https', 'crypto']) expect(loaded, heavy).not.toContain(heavy);
    } finally {
      await vault.stop();
    }
  });

  it('starts with its trained code cache accepted by V8', async () => {
    const r = await runAsPid1(['--log-level', 'debug', '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('native helper loaded');
    expect(r.stderr).not.toContain('rejected the code cache');
    // And the flag that spares the start its rehash is set back, for Node's builtins' cache.
    expect(r.stderr).not.toContain('could not be set back');
    // Node's own, for the SEA's code cache of the loader (made by --experimental-sea-config).
    expect(r.stderr).not.toMatch(/Warning|rejected/);
  });

  // The addon reaches V8's public API by the names the executable exports (sesame.c): a
  // Node whose names differ would quietly keep ~1 MiB more for the container's life.
  it('gives back what the start no longer needs through V8\'s own call, once the child runs', async () => {
    const r = await runAsPid1(['--log-level', 'debug', '--', 'sleep', '1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/memory the start no longer needs given back \(V8's low-memory collection, malloc_trim\) in \d+\.\d ms/);
  });

  // The executable runs its bundles' text as Latin-1 over its own bytes (sesame.c
  // externalLatin1): a copy would be ~0.2 MiB more of PID 1's memory for its whole life.
  it('runs its bundles from its own bytes, not from a copy in V8\'s heap', async () => {
    const r = await runAsPid1(['--log-level', 'debug', '--', 'true']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('native helper loaded from inside /init');
    expect(r.stderr).not.toContain('copied into V8');
  });

  it('ships ASCII bundles, non-ASCII regular expressions (liquidjs) escaped to mean the same', async () => {
    for (const file of ['dist/init.cjs', 'dist/init-liquidjs.cjs', 'dist/init-yaml.cjs', 'dist/init-node-vault.cjs', 'dist/.cache/init-sea.cjs']) {
      expect(/^[\x00-\x7f]*$/.test(readFileSync(join(ROOT, file), 'latin1')), file).toBe(true);
    }
    // slugify's "latin" mode strips accents with /[àáâãäå]/g and the like.
    const dir = mkdtempSync(join(tmpdir(), 'sesame-ascii-'));
    writeFileSync(join(dir, 'a.liquid'), '{{ "Café à la crème ẞ" | slugify: "latin" }}');
    const r = await runAsPid1(['--template', `${dir}/a.liquid:${dir}/a.out`, '--', 'cat', `${dir}/a.out`]);
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('cafe-a-la-creme-ss');
  });

  // The libraries are pinned Debian packages and nothing of the build's time, place or
  // hash seed gets in (build.mjs: --no-rehash-snapshot, the names given to V8 and Node):
  // the same sources give the same bytes. The copy gets node_modules and the downloaded
  // packages (dist/.cache/debs), nothing else of this build.
  it('is reproducible: the same sources built elsewhere give the same bytes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sesame-rebuild-'));
    try {
      const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter((f) => f && existsSync(join(ROOT, f)));
      for (const file of files) cpSync(join(ROOT, file), join(dir, file));
      // A copy: npm ls (the SBOM's source) refuses a symlinked node_modules.
      execFileSync('cp', ['-a', join(ROOT, 'node_modules'), join(dir, 'node_modules')]);
      cpSync(join(ROOT, 'dist/.cache/debs'), join(dir, 'dist/.cache/debs'), { recursive: true });
      execFileSync(NODE, ['build.mjs'], { cwd: dir, stdio: 'ignore', timeout: 170_000 });
      for (const file of ['init', 'init.cjs', 'init.node', 'init-liquidjs.cjs', 'init-yaml.cjs', 'init-node-vault.cjs', 'sbom.cdx.json']) {
        expect(sha256(join(dir, 'dist', file)), file).toBe(sha256(join(ROOT, 'dist', file)));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  // The SBOM lists what /init contains: one entry per bundled npm package, at the version
  // bundled (the lock file's other copies, e.g. the build tools' own commander, are not in
  // it), none called a development dependency, and Node and the Debian packages.
  it('has an SBOM naming exactly the packages inside it', () => {
    const bom = JSON.parse(readFileSync(join(ROOT, 'dist/sbom.cdx.json'), 'utf8')) as { components: Array<{ name: string; group?: string; version: string; purl?: string; properties?: Array<{ name: string }> }> };
    const npm = bom.components.filter((c) => c.purl?.startsWith('pkg:npm/') && c.name !== 'node');
    const names = npm.map((c) => (c.group ? `${c.group}/${c.name}` : c.name));
    expect(names.sort()).toEqual(['commander', 'liquidjs', 'node-vault', 'yaml']);
    for (const c of npm) {
      expect(c.version, c.name).toBe(JSON.parse(readFileSync(join(ROOT, 'node_modules', c.name, 'package.json'), 'utf8')).version);
      expect(c.properties?.map((p) => p.name) ?? [], c.name).not.toContain('cdx:npm:package:development');
    }
    expect(bom.components.map((c) => c.name)).toEqual(expect.arrayContaining(['node', 'libc6', 'libstdc++6', 'libgcc-s1']));
  });

  it('needs no newer glibc than Node itself (2.28), addon included', () => {
    expect(glibcNeeded(INIT)).toBe('2.28');
    const [major, minor] = glibcNeeded(ADDON).split('.').map(Number);
    expect(major === 2 && minor <= 28).toBe(true);
  });
});
