// Heavy libraries that only some paths need are built as chunks of their own (build.mjs),
// so that they cost nothing at start-up unless used: parsing node-vault with axios
// (~300 KB) and yaml (~110 KB) in the main bundle made every start ~6 ms slower, even
// unused. The single executable carries the chunks as assets; init.cjs finds them as
// files beside it; unbundled (the tests) they are plain modules.
import { join } from 'node:path';

declare const SESAME_SEA: boolean;
declare const SESAME_BUNDLED: boolean;

export const CHUNKS = ['node-vault', 'yaml', 'liquidjs'] as const;
export type ChunkName = (typeof CHUNKS)[number];

/** The file name of a chunk: an asset of the executable, or a file beside init.cjs. */
export const chunkFile = (name: ChunkName) => `init-${name}.cjs`;

export function loadChunk<T>(name: ChunkName): T {
  if (typeof SESAME_BUNDLED !== 'boolean') return require(name) as T;
  if (!(typeof SESAME_SEA === 'boolean' && SESAME_SEA)) return require(join(__dirname, chunkFile(name))) as T;
  // A single executable's require() knows only builtins, which is all a chunk requires:
  // evaluate the asset as a CommonJS module with that require.
  const sea = require('node:sea') as typeof import('node:sea');
  const vm = require('node:vm') as typeof import('node:vm');
  const filename = `${process.execPath}:${chunkFile(name)}`;
  const wrapper = vm.runInThisContext(`(function (exports, require, module, __filename, __dirname) {${sea.getAsset(chunkFile(name), 'utf8')}\n})`, { filename });
  const module = { exports: {} as T };
  wrapper(module.exports, require, module, filename, '/');
  return module.exports;
}
