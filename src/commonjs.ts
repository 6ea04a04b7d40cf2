// Bundled code kept as an asset of the single executable (the main bundle, the chunks)
// runs as a CommonJS module, wrapped as Node wraps one. The executable's require() knows
// only builtins, which is all these bundles require. build.mjs trains V8's code cache on
// the same wrapped text, which must therefore stay exactly this (build.mjs checks).
import { dirname } from 'node:path';
import * as vm from 'node:vm';

export const COMMONJS_WRAPPER = ['(function (exports, require, module, __filename, __dirname) {', '\n})'] as const;

export function runCommonJs<T>(source: string, filename: string, cachedData?: Buffer): { exports: T; cacheRejected: boolean } {
  const script = new vm.Script(`${COMMONJS_WRAPPER[0]}${source}${COMMONJS_WRAPPER[1]}`, { filename, cachedData });
  const module = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, require, module, filename, dirname(filename));
  return { exports: module.exports, cacheRejected: script.cachedDataRejected === true };
}
