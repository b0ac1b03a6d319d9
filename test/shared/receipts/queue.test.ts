import { afterEach, describe, expect, it, vi } from 'vitest';
import { countAttempt, isDone, markDone } from '../../../shared/receipts/queue.ts';
import { openStore } from '../../../shared/store/index.ts';

const DAY_MS = 24 * 3_600_000;

describe('queue message bookkeeping', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a message done, and its attempts, are remembered while MNS may still redeliver it (a queue keeps a message up to 7 days, 4 by default)', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    const store = await openStore('memory:');
    await countAttempt(store, 'M1');
    await markDone(store, 'M1', Date.now());
    // Four days later, the queue's default retention: a redelivery is still passed over.
    vi.setSystemTime(Date.now() + 4 * DAY_MS);
    expect(await isDone(store, 'M1')).toBe(true);
    expect(await countAttempt(store, 'M1')).toBe(2);
    vi.setSystemTime(Date.now() + 3 * DAY_MS - 1000);
    expect(await isDone(store, 'M1')).toBe(true);
    // Past the longest retention the marks go.
    vi.setSystemTime(Date.now() + 2000);
    expect(await isDone(store, 'M1')).toBe(false);
    await store.close();
  });
});
