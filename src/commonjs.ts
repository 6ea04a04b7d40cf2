// Bundled code kept as an asset of the single executable (the main bundle, the chunks)
// runs as a CommonJS module, wrapped as Node wraps one. The executable's require() knows
// only builtins, which is all these bundles require. build.mjs trains V8's code cache on
// the same wrapped text, which must therefore stay exactly this (build.mjs checks), and
// stores the executable's assets already wrapped (so that their text is run as it is,
// not copied: sea-loader.ts).
import { dirname } from 'node:path';
import * as vm from 'node:vm';
import type { Native } from './native/binding';

export const COMMONJS_WRAPPER = ['(function (exports, require, module, __filename, __dirname) {', '\n})'] as const;

/** `wrapped`: the source already starts and ends with COMMONJS_WRAPPER. */
export function runCommonJs<T>(source: string, filename: string, cachedData?: Buffer, wrapped = false): { exports: T; cacheRejected: boolean } {
  const script = new vm.Script(wrapped ? source : `${COMMONJS_WRAPPER[0]}${source}${COMMONJS_WRAPPER[1]}`, { filename, cachedData });
  const module = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void)(module.exports, require, module, filename, dirname(filename));
  return { exports: module.exports, cacheRejected: script.cachedDataRejected === true };
}

type Sea = typeof import('node:sea');

/**
 * An asset's text (stored wrapped, ASCII): a string over the executable's own mapped
 * bytes when the addon is loaded (V8 keeps a script's source as long as the script
 * lives: PID 1's whole life), else a copy.
 */
export function assetText(sea: Sea, name: string, native: Pick<Native, 'externalLatin1'> | null): string {
  const text = native?.externalLatin1(sea.getRawAsset(name));
  if (text !== undefined) return text;
  // On globalThis: the loader and the bundle each have their own copy of this module.
  ((globalThis as { sesameCopiedAssets?: string[] }).sesameCopiedAssets ??= []).push(name);
  return sea.getAsset(name, 'utf8');
}

/** The assets assetText had to copy (no addon, or a Node without external strings). */
export const copiedAssets = (): string[] => (globalThis as { sesameCopiedAssets?: string[] }).sesameCopiedAssets ?? [];

/** An asset as a Buffer over the executable's bytes (read only: a code cache), or undefined if there is none. */
export function assetBytes(sea: Sea, name: string): Buffer | undefined {
  try {
    return Buffer.from(sea.getRawAsset(name));
  } catch {
    return undefined;
  }
}
