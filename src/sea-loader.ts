// The single executable's entry: it runs the real bundle (asset init.js) with a V8 code
// cache made at build time *after* a training start (build.mjs). Node's own SEA code
// cache is made before anything runs, so it holds only top-level code: every function a
// start calls was compiled on the spot, ~3 ms of every start. The addon is loaded first
// (main takes that load): through it the bundle's text is the executable's own bytes, not
// a 0.2 MiB copy kept by V8 for init's whole life. Kept tiny: it runs before the bundle
// installs its signal listeners.
import * as sea from 'node:sea';
import { assetBytes, assetText, runCommonJs } from './commonjs';
import { loadNativeOnce } from './native/binding';

const { native } = loadNativeOnce(process.env, true);
// The executable starts with --no-rehash-snapshot (~3 ms); left on, it would make V8 reject
// Node's code cache of every builtin loaded from here on (build.mjs EXEC_ARGV).
if (!native?.setV8Flags('--rehash-snapshot')) (globalThis as { sesameFlagsKept?: boolean }).sesameFlagsKept = true;
const { cacheRejected } = runCommonJs(assetText(sea, 'init.js', native), `${process.execPath}/init.js`, assetBytes(sea, 'init.cache'), true);
// A rejected cache (another V8, other flags) only costs time; main's debug log says so.
(globalThis as { sesameCodeCacheRejected?: boolean }).sesameCodeCacheRejected = cacheRejected;
