import { afterEach, describe, expect, it, vi } from 'vitest';
import { entityKey } from '../../../shared/monitor/entity-store.ts';
import { fingerprintOf, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { resolveUntied, TIED_PREFIX } from '../../../shared/monitor/monitor-alert.ts';
import { countAttempt, isDone, isSetAside, markDone, POISON_PREFIX, setAside } from '../../../shared/receipts/queue.ts';
import { openStore } from '../../../shared/store/index.ts';
import { stallAfterFirst } from '../../support/store.ts';

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

describe('a set-aside message whose kept key a person deletes', () => {
  it('while a redelivery raises its alert again: the alert still resolves at the next round, not fires for good', async () => {
    const store = await openStore('memory:');
    const ctx = { now: Date.now(), policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 }, sinks: ['webhook'] };
    const round = (id: string) => ({ now: ctx.now, round: id, policy: ctx.policy, sinks: ctx.sinks });
    await setAside(store, { messageId: 'M1', body: '{}' }, 'Error: boom', 3, ctx);
    const alert = async () => (await store.get<EntityState>(entityKey(fingerprintOf({ nodeType: 'monitor', entityType: 'ReceiptMessageSetAside', ref: 'M1' }))))!.value;
    expect((await alert()).firing).toBe(true);
    // A redelivery read the kept key and wrote the tied marker, and is descheduled before its alert write;
    // meanwhile the person deletes the key and the health monitor's round resolves the alert (dropping the marker).
    const stalled = stallAfterFirst(store, 'put', (k) => k.startsWith(TIED_PREFIX));
    const redelivery = isSetAside(stalled.store, 'M1', ctx);
    await stalled.reached;
    await store.delete(POISON_PREFIX + 'M1');
    expect(await resolveUntied(store, round('r1'))).toBe(1);
    stalled.resume();
    expect(await redelivery).toBe(true);
    // The redelivery's alert fired again on a key that is gone: the next round resolves it.
    expect(await resolveUntied(store, round('r2'))).toBe(1);
    expect((await alert()).firing).toBe(false);
    expect(await store.list(TIED_PREFIX)).toEqual([]);
    await store.close();
  });
});
