// Heavy libraries that only some paths need are built as chunks of their own (build.mjs),
// so that they cost nothing at start-up unless used: yaml (~110 KB) and liquidjs (~80 KB)
// in the main bundle made every start slower, even unused. node-vault is a chunk of 7 KB
// now that axios and its other fallbacks are left out (build.mjs, node-vault-slim). The
// single executable carries the chunks as assets (wrapped, commonjs.ts); init.cjs finds
// them as files beside it; unbundled (the tests) they are plain modules.
import { join } from 'node:path';
import { assetBytes, assetText, runCommonJs } from './commonjs';
import { loadedNative } from './native/binding';

declare const SESAME_SEA: boolean;
declare const SESAME_BUNDLED: boolean;

export const CHUNKS = ['node-vault', 'yaml', 'liquidjs'] as const;
export type ChunkName = (typeof CHUNKS)[number];

/** The file name of a chunk: an asset of the executable, or a file beside init.cjs. */
export const chunkFile = (name: ChunkName) => `init-${name}.cjs`;

export function loadChunk<T>(name: ChunkName): T {
  if (typeof SESAME_BUNDLED !== 'boolean') return require(name) as T;
  if (!(typeof SESAME_SEA === 'boolean' && SESAME_SEA)) return require(join(__dirname, chunkFile(name))) as T;
  const sea = require('node:sea') as typeof import('node:sea');
  // A V8 code cache made at build time after a training use, for the chunks that have one.
  const cache = assetBytes(sea, `init-${name}.cache`);
  return runCommonJs<T>(assetText(sea, chunkFile(name), loadedNative()), `${process.execPath}/${chunkFile(name)}`, cache, true).exports;
}
