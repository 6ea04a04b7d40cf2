// The single executable's entry: it runs the real bundle (asset init.js) with a V8 code
// cache made at build time *after* a training start (build.mjs). Node's own SEA code
// cache is made before anything runs, so it holds only top-level code: every function a
// start calls was compiled on the spot, ~3 ms of every start. Kept tiny: it runs before
// the bundle installs its signal listeners.
import * as sea from 'node:sea';
import { runCommonJs } from './commonjs';

const { cacheRejected } = runCommonJs(sea.getAsset('init.js', 'utf8'), `${process.execPath}/init.js`, Buffer.from(sea.getAsset('init.cache')));
// A rejected cache (another V8, other flags) only costs time; main's debug log says so.
(globalThis as { sesameCodeCacheRejected?: boolean }).sesameCodeCacheRejected = cacheRejected;
