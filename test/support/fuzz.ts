// Property-based and fuzz tests (test/fuzz/) run with fast-check inside vitest. In `npm test`
// and CI the seed is fixed, so a run is repeatable and a failure replays; `npm run fuzz` runs
// them longer: SESAME_FUZZ_RUNS inputs per property (default there 20000) and a seed of its
// own unless SESAME_FUZZ_SEED is set. A failure prints the seed and the shrunk input.
import fc from 'fast-check';

/** The seed of `npm test`: any fixed number; a change of it is a change of the inputs. */
const CI_SEED = 20261201;

export const FUZZ_RUNS = Number(process.env.SESAME_FUZZ_RUNS ?? 300);
export const FUZZ_SEED = Number(process.env.SESAME_FUZZ_SEED ?? (process.env.SESAME_FUZZ_RUNS ? Date.now() % 2 ** 31 : CI_SEED));

/** fast-check's parameters for one property; `scale` for a property that costs more per input. */
export function params(scale = 1): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(FUZZ_RUNS * scale)), endOnFailure: true };
}

/** Runs `property` and returns how many inputs it tried (for the reports), failing as fc.assert does. */
export function runProperty<T>(property: fc.IProperty<T> | fc.IAsyncProperty<T>, scale = 1): number | Promise<number> {
  const details = fc.check(property as fc.IProperty<T>, params(scale) as fc.Parameters<T>);
  const finish = (d: fc.RunDetails<T>) => {
    if (d.failed) throw new Error(fc.defaultReportMessage(d) ?? 'property failed');
    counts.push(d.numRuns);
    return d.numRuns;
  };
  return details instanceof Promise ? details.then(finish) : finish(details);
}

const counts: number[] = [];
