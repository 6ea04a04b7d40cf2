// What every part of the config file is checked with: a map's keys against those allowed,
// and one way to fail, naming the key path ("services.web.restart") and the problem.

/** Throws: the caller's InitError naming the file, `at` and `why`. */
export type Fail = (at: string, why: string) => never;

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every key of `value` must be in `allowed`; `at` is the map's own path ("" at the top). */
export function checkKeys(value: Record<string, unknown>, allowed: readonly string[], at: string, fail: Fail): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(at ? `${at}.${key}` : key, `unknown key (expected one of ${allowed.join(', ')})`);
  }
}

/** An optional non-empty string; `undefined` when absent. */
export function str(value: unknown, at: string, fail: Fail): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') fail(at, 'must be a non-empty string');
  return value as string;
}
