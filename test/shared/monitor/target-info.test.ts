import { describe, expect, it } from 'vitest';
import { RISKY_PREFIX } from '../../../shared/monitor/risk.ts';
import { noteTarget, TARGET_INFO_PREFIX, UNPLANNED_PREFIX, type TargetInfo } from '../../../shared/monitor/target-info.ts';
import { targetId, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { openStore } from '../../../shared/store/index.ts';
import { storeWith } from '../../support/store.ts';

describe("a target's bookkeeping (monitor/target/<id>), its one writer", () => {
  const phone: WatchTarget = { CustSpaceId: 'cs-1', NodeType: 'phone', PhoneNumber: '8613800000001' };
  const info = async (store: Awaited<ReturnType<typeof openStore>>) => (await store.get<TargetInfo>(TARGET_INFO_PREFIX + targetId(phone)))?.value;

  it('a record begun by a round check is not marked unplanned; a patch that changes nothing writes nothing', async () => {
    const store = await openStore('memory:');
    let puts = 0;
    const counting = storeWith(store, { put: (k, v, o) => (puts++, store.put(k, v, o)) });
    await noteTarget(counting, phone, { round: 'r1', lastCheckedAt: 1, reach: ['b', 'a'] });
    expect(await store.list(UNPLANNED_PREFIX)).toEqual([]);
    expect((await info(store))?.reach).toEqual(['a', 'b']);
    puts = 0;
    await noteTarget(counting, phone, { reach: ['a'] });
    expect(puts).toBe(0);
    await noteTarget(counting, phone, { reach: ['c'] });
    expect(await info(store)).toEqual({ round: 'r1', lastCheckedAt: 1, reach: ['a', 'b', 'c'], firingUnobserved: [] });
  });

  it('a record begun outside a round check is marked unplanned, and only the write that began it says so', async () => {
    const store = await openStore('memory:');
    expect(await noteTarget(store, phone, { lastReceiptAt: 5 })).toBe(true);
    expect((await store.list(UNPLANNED_PREFIX)).map((m) => m.key)).toEqual([UNPLANNED_PREFIX + targetId(phone)]);
    expect(await noteTarget(store, phone, { lastCheckedAt: 6, status: 'AVAILABLE' })).toBe(false);
  });

  it('keeps the risky index with the record: marked while it is risky, unmarked once it is not', async () => {
    const store = await openStore('memory:');
    const risky = async () => (await store.list(RISKY_PREFIX)).map((m) => m.key);
    await noteTarget(store, phone, { round: 'r1', lastCheckedAt: 1, status: 'BLOCKED' });
    expect(await risky()).toEqual([RISKY_PREFIX + targetId(phone)]);
    await noteTarget(store, phone, { round: 'r2', lastCheckedAt: 2, status: 'AVAILABLE' });
    expect(await risky()).toEqual([]);
    // A receipt newer than the last check makes it risky again, until a check follows.
    await noteTarget(store, phone, { lastReceiptAt: 3 });
    expect(await risky()).toEqual([RISKY_PREFIX + targetId(phone)]);
    await noteTarget(store, phone, { round: 'r2', lastCheckedAt: 4, status: 'AVAILABLE' });
    expect(await risky()).toEqual([]);
  });
});
