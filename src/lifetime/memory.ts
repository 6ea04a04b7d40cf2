// Keeping a long-running init small. Every renewal and read allocates (the HTTP client, JSON,
// promises), and V8 collects its old generation only when that has grown past a limit it
// raises as it goes: measured, an init reading a secret 100 times a second went from 98 MiB
// to 242 MiB of RSS, nearly all of it garbage. So a moment after lifetime work, init asks
// for one full collection: only after activity (never at rest, never without lifetimes),
// at most once per AFTER_MS however busy it is. Through the native helper (one collection
// that reduces the heap, then malloc_trim: src/native/sesame.c releaseMemory); without it,
// V8's gc() reached from JavaScript, which costs node:v8 and a context of its own (~1 MiB
// that stays).
import type { Native } from '../native/binding';
import type { Clock, Timer } from './clock';

const AFTER_MS = 2000;

let gc: (() => void) | null | undefined;

/** V8's gc(), made available at run time (node's --expose-gc, without a flag on the command line). */
function collector(): (() => void) | null {
  if (gc !== undefined) return gc;
  try {
    (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--expose-gc');
    gc = (require('node:vm') as typeof import('node:vm')).runInNewContext('gc') as () => void;
  } catch {
    gc = null;
  }
  return gc;
}

/** Call after lifetime work; a collection follows AFTER_MS later (one for all work meanwhile). */
export function collectAfterWork(clock: Clock, native?: Pick<Native, 'releaseMemory'> | null): () => void {
  let timer: Timer | undefined;
  return () => {
    if (timer) return;
    timer = clock.after(AFTER_MS, () => {
      timer = undefined;
      if (!native?.releaseMemory(false)) collector()?.();
    });
  };
}
