// How much a template may ask of init: PID 1 renders before anything starts, so a loop of
// (1..100000000) or a 200 MB output would hang or exhaust the container instead of failing.
// The limits are LiquidJS's own (parseLimit, renderLimit, memoryLimit), plus the output's
// size, which LiquidJS does not count; envsubst templates have the size limits too.
//
//   size    the largest template text, in characters            --template-size-limit   4M
//   time    the longest a Liquid rendering may take              --template-time-limit   10s
//   memory  LiquidJS's allocation budget for one rendering       --template-memory-limit 64M
//           (strings built by filters, ranges, arrays), and the
//           largest output, in characters

import { parseDuration } from '../config/values';

export interface TemplateLimits {
  /** The largest template source, in characters (LiquidJS's parseLimit). */
  sizeChars: number;
  /** The longest one Liquid rendering may take, in ms (LiquidJS's renderLimit). */
  timeMs: number;
  /** LiquidJS's memoryLimit for one rendering, and the largest output, in characters. */
  memoryChars: number;
}

export const DEFAULT_TEMPLATE_SIZE_LIMIT = '4M';
export const DEFAULT_TEMPLATE_TIME_LIMIT = '10s';
export const DEFAULT_TEMPLATE_MEMORY_LIMIT = '64M';

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "4096", "64k", "64K", "64KiB", "1M", "2G" -> a number of characters (binary units). */
export function parseSize(text: string): number {
  const match = /^(\d{1,15})\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  const n = match ? Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()] : 0;
  if (!match || n < 1 || !Number.isSafeInteger(n)) throw new Error(`"${text}" is not a size (e.g. 65536, 64k, 1M, 2G: a whole number, binary units)`);
  return n;
}

/** 1048576 -> "1M", as the limits are written in messages. */
export function formatSize(n: number): string {
  for (const [unit, size] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['k', 1024]] as const) if (n % size === 0) return `${n / size}${unit}`;
  return String(n);
}

/** The limits when none are given. */
export const DEFAULT_LIMITS: TemplateLimits = {
  sizeChars: parseSize(DEFAULT_TEMPLATE_SIZE_LIMIT),
  timeMs: parseDuration(DEFAULT_TEMPLATE_TIME_LIMIT),
  memoryChars: parseSize(DEFAULT_TEMPLATE_MEMORY_LIMIT),
};
