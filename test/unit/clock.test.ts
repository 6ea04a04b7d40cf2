import { describe, expect, it } from 'vitest';
import { ManualClock, MAX_TIMER_MS, realClock } from '../../src/lifetime/clock';

describe('ManualClock', () => {
  it('runs timers in due order as time advances, and not before', async () => {
    const clock = new ManualClock(0);
    const ran: string[] = [];
    clock.after(3_600_000, () => ran.push('hour'));
    clock.after(1000, () => ran.push('second'));
    clock.after(1000, () => ran.push('second, later'));
    await clock.advance(999);
    expect(ran).toEqual([]);
    await clock.advance(1);
    expect(ran).toEqual(['second', 'second, later']);
    await clock.advance(3_600_000);
    expect(ran).toEqual(['second', 'second, later', 'hour']);
    expect(clock.now()).toBe(3_601_000);
    expect(clock.pending).toBe(0);
  });

  it('lets code that awaits a sleep schedule the next one within one advance', async () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10_000);
        at.push(clock.now());
      }
    })();
    await clock.advance(60_000);
    expect(at).toEqual([10_000, 20_000, 30_000]);
  });

  it('never runs a cancelled timer', async () => {
    const clock = new ManualClock(0);
    let ran = false;
    clock.after(5, () => (ran = true)).cancel();
    await clock.advance(10);
    expect(ran).toBe(false);
  });
});

describe('realClock', () => {
  it('accepts delays past the 2^31 ms timer limit without firing early', async () => {
    let ran = false;
    const timer = realClock.after(MAX_TIMER_MS * 2, () => (ran = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ran).toBe(false);
    timer.cancel();
  });

  it('fires a short timer', async () => {
    const start = Date.now();
    await realClock.sleep(15);
    expect(Date.now() - start).toBeGreaterThanOrEqual(14);
  });
});
