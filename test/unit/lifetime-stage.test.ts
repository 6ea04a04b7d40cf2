// The lifetime stage on the manual clock: it compares before acting, coalesces bursts (quiet
// period, maximum wait, splay), applies the expiry policy, and starts nothing when nothing
// has a lifetime. The lifetimes here are real Lifetime objects driven by the test: the stage
// is what is under test, not a Vault.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lifetime/clock';
import type { ChangeEvent, Lifetime, Reporter } from '../../src/lifetime/lifetime';
import { LifetimeStage, type StageOptions } from '../../src/lifetime/stage';
import { attemptBudget, firstRefreshDelay, firstRenewDelay, lastChanceMs, refreshDelay, renewDelay, rereadDelay, retryDelay } from '../../src/lifetime/timing';
import { createLog } from '../../src/log';
import { retryAfter } from '../../src/secrets/vault/client';

/** A lifetime the test reports through, as a real one would from its timers. */
class Driven implements Lifetime {
  reporter!: Reporter;
  started = 0;
  stopped = 0;
  revoked: number[] = [];
  constructor(readonly label: string) {}
  start(reporter: Reporter): void {
    this.reporter = reporter;
    this.started++;
  }
  stop(): void {
    this.stopped++;
  }
  async revoke(deadline: number): Promise<void> {
    this.revoked.push(deadline);
  }
  set(values: Record<string, string>): void {
    this.reporter.update(new Map(Object.entries(values).map(([k, v]) => [k, Buffer.from(v)])));
  }
}

const log = createLog('error');
const text = (values: ReadonlyMap<string, Buffer>) => Object.fromEntries([...values].map(([k, v]) => [k, v.toString()]));

function stage(lifetimes: Lifetime[], initial: Record<string, string>, extra: Partial<StageOptions> = {}) {
  const clock = new ManualClock(0);
  const events: Array<{ at: number; changed: Record<string, string>; current: Record<string, string> }> = [];
  const expired: string[] = [];
  const s = new LifetimeStage(lifetimes, new Map(Object.entries(initial).map(([k, v]) => [k, Buffer.from(v)])), {
    clock, log, quietMs: 2000, maxWaitMs: 8000, splayMs: 0, expiry: 'exit', ...extra,
  });
  s.start((e: ChangeEvent) => { events.push({ at: clock.now(), changed: text(e.changed), current: text(e.current) }); }, (why) => expired.push(why));
  return { s, clock, events, expired };
}

describe('LifetimeStage', () => {
  it('emits nothing for values that did not change, however often they are reported', async () => {
    const a = new Driven('a');
    const { clock, events } = stage([a], { A: '1', B: '2' });
    for (let i = 0; i < 100; i++) {
      a.set({ A: '1', B: '2' });
      await clock.advance(60_000);
    }
    expect(events).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  it('coalesces a burst: one event after the quiet period, with every name that changed', async () => {
    const a = new Driven('a');
    const b = new Driven('b');
    const { clock, events } = stage([a, b], { A: '1', B: '2', C: '3' });
    a.set({ A: 'x' });
    await clock.advance(1500);
    b.set({ B: 'y', C: '3' });
    await clock.advance(1999);
    expect(events).toEqual([]);
    await clock.advance(1);
    expect(events).toEqual([{ at: 3500, changed: { A: 'x', B: 'y' }, current: { A: 'x', B: 'y', C: '3' } }]);
  });

  it('acts at the maximum wait when changes keep coming', async () => {
    const a = new Driven('a');
    const { clock, events } = stage([a], { A: '0' });
    for (let i = 1; i <= 10; i++) {
      a.set({ A: String(i) });
      await clock.advance(1000);
    }
    expect(events.map((e) => [e.at, e.changed.A])).toEqual([[8000, '8']]);
    await clock.advance(2000);
    expect(events.map((e) => [e.at, e.changed.A])).toEqual([[8000, '8'], [11_000, '10']]);
  });

  it('a value changed and changed back inside one burst is no change', async () => {
    const a = new Driven('a');
    const { clock, events } = stage([a], { A: '1' });
    a.set({ A: '2' });
    await clock.advance(500);
    a.set({ A: '1' });
    await clock.advance(60_000);
    expect(events).toEqual([]);
  });

  it('spreads the action over the splay', async () => {
    const a = new Driven('a');
    const { clock, events } = stage([a], { A: '1' }, { splayMs: 10_000, random: () => 0.5 });
    a.set({ A: '2' });
    await clock.advance(6999);
    expect(events).toEqual([]);
    await clock.advance(1);
    expect(events.map((e) => e.at)).toEqual([7000]);
  });

  it('expiry: exit calls the policy; keep only warns; a later value clears it', async () => {
    const a = new Driven('a');
    const exit = stage([a], { A: '1' });
    a.reporter.expired('the lease ended');
    expect(exit.expired).toEqual(['a: the lease ended']);
    const b = new Driven('b');
    const keep = stage([b], { A: '1' }, { expiry: 'keep' });
    b.reporter.expired('the lease ended');
    b.set({ A: '2' });
    await keep.clock.advance(2000);
    expect(keep.expired).toEqual([]);
    expect(keep.events.map((e) => e.changed)).toEqual([{ A: '2' }]);
  });

  it('stop stops every lifetime and drops what was pending; revoke asks each', async () => {
    const a = new Driven('a');
    const { s, clock, events } = stage([a], { A: '1' });
    a.set({ A: '2' });
    s.stop();
    await clock.advance(60_000);
    expect(events).toEqual([]);
    expect(a.stopped).toBe(1);
    a.set({ A: '3' });
    expect(clock.pending).toBe(0);
    await s.revoke(1234);
    expect(a.revoked).toEqual([1234]);
  });

  it('with no lifetimes, arms nothing', async () => {
    const { s, clock } = stage([], { A: '1' });
    expect(s.size).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe('timing', () => {
  it('renews between 7/10 and 4/5, reads a non-renewable lease again at the threshold ±5%', () => {
    expect(renewDelay(3_600_000, () => 0)).toBe(2_520_000);
    expect(renewDelay(3_600_000, () => 1)).toBe(2_880_000);
    expect(rereadDelay(100_000, 0.9, () => 0)).toBe(85_000);
    expect(rereadDelay(100_000, 0.9, () => 1)).toBe(95_000);
    expect(refreshDelay(300_000, () => 1)).toBe(300_000);
    expect(refreshDelay(300_000, () => 0)).toBe(240_000);
  });

  it('backs off from about 10 s to 5 min, never past the end, never under Retry-After', () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 4, 5, 10, 100].map((n) => retryDelay(n, 0, undefined, 0, mid))).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
    // With an end: at most half of what is left, so that a few tries fit before it.
    expect(retryDelay(5, 0, 60_000, 0, mid)).toBe(30_000);
    expect(retryDelay(0, 0, 8_000, 0, mid)).toBe(4_000);
    expect(retryDelay(0, 7_500, 8_000, 0, mid)).toBe(500);
    expect(retryDelay(0, 0, 60_000, 40_000, mid)).toBe(40_000);
  });

  it('the first cycle is jittered over a whole period: renewals from 1/20 of the lease, refreshes from 10% of the interval', () => {
    expect(firstRenewDelay(30_000, () => 0)).toBe(1_500);
    expect(firstRenewDelay(30_000, () => 1)).toBe(24_000);
    expect(firstRefreshDelay(60_000, () => 0)).toBe(6_000);
    expect(firstRefreshDelay(60_000, () => 1)).toBe(60_000);
  });

  it('one try after start gets a third of what is left of its lease, 2 s to 30 s; the last 20th is for reading it again', () => {
    expect([1000, 9000, 30_000, 3_600_000, Infinity].map(attemptBudget)).toEqual([2000, 3000, 10_000, 30_000, 5000]);
    expect([2000, 30_000, 120_000, 3_600_000, 86_400_000].map(lastChanceMs)).toEqual([1000, 1500, 6000, 60_000, 60_000]);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfter('7')).toBe(7000);
    expect(retryAfter(new Date(Date.UTC(2026, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(30_000);
    expect(retryAfter('soon')).toBeUndefined();
    expect(retryAfter(undefined)).toBeUndefined();
  });
});
