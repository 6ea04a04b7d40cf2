// The single executable's entry: it runs the real bundle (asset init.js) with a V8 code
// cache made at build time *after* a training start (build.mjs). Node's own SEA code
// cache is made before anything runs, so it holds only top-level code: every function a
// start calls was compiled on the spot, ~3 ms of every start. Kept tiny: it runs before
// the bundle installs its signal listeners.
import * as sea from 'node:sea';
import * as vm from 'node:vm';

const filename = `${process.execPath}/init.js`;
const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${sea.getAsset('init.js', 'utf8')}\n})`, {
  filename,
  cachedData: Buffer.from(sea.getAsset('init.cache')),
});
// A rejected cache (another V8, other flags) only costs time; main's debug log says so.
(globalThis as { sesameCodeCacheRejected?: boolean }).sesameCodeCacheRejected = script.cachedDataRejected === true;
const module = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(module.exports, require, module, filename, process.execPath);
