import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineExceeded, withRetries } from '../../src/secrets/retry';

const retryable = () => true;

describe('withRetries', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('retries until an attempt succeeds', async () => {
    let calls = 0;
    const answer = await withRetries(async () => {
      calls++;
      if (calls < 3) throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
      return 'ok';
    }, retryable, { deadline: Date.now() + 10_000, baseMs: 1, capMs: 2 });
    expect(answer).toBe('ok');
    expect(calls).toBe(3);
  });

  it('throws what is not retryable at once', async () => {
    const denied = new Error('403');
    let calls = 0;
    await expect(withRetries(async () => {
      calls++;
      throw denied;
    }, () => false, { deadline: Date.now() + 10_000 })).rejects.toBe(denied);
    expect(calls).toBe(1);
  });

  it('stops before a wait that would end past the deadline, with the last error', async () => {
    const sealed = new Error('Vault is sealed');
    vi.spyOn(Math, 'random').mockReturnValue(0.99);
    const failure = await withRetries(async () => {
      throw sealed;
    }, retryable, { deadline: Date.now() + 150, baseMs: 200 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(DeadlineExceeded);
    expect((failure as DeadlineExceeded).last).toBe(sealed);
    expect((failure as DeadlineExceeded).attempts).toBe(1);
  });

  it('a wait whose timer fires past the deadline (a busy machine) makes no attempt with no time left', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // a wait of 100 ms
    const sealed = new Error('Vault is sealed');
    const deadline = Date.now() + 1000;
    let calls = 0;
    const result = withRetries(async () => {
      calls++;
      if (calls > 1) throw Object.assign(new Error('no time left to send the request'), { code: 'ETIMEDOUT' });
      throw sealed;
    }, retryable, { deadline, baseMs: 200 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    // The wall clock moves past the deadline while the 100 ms timer is still pending.
    vi.setSystemTime(deadline + 500);
    await vi.advanceTimersByTimeAsync(100);
    const failure = await result;
    expect(calls).toBe(1);
    expect(failure).toBeInstanceOf(DeadlineExceeded);
    expect((failure as DeadlineExceeded).last).toBe(sealed);
  });
});
