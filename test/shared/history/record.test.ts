import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { dailyBars } from '../../../shared/history/history.ts';
import { listHistories } from '../../../shared/history/record.ts';
import { HealthSweep, type HealthSweepOptions } from '../../../shared/monitor/sweep.ts';
import type { WatchTarget } from '../../../shared/monitor/targets.ts';
import type { Store } from '../../../shared/store/port.ts';
import { onboardThroughFunctions, RecordingSink, sandboxClient, sandboxPerFileStorePerTest, setHealth } from '../../support/monitor.ts';
import { storeWith } from '../../support/store.ts';

let sandbox: RunningSandbox;
let store: Store;
let space: string;
let clock: number;
const BLOCKED = [{ ErrorCode: '141006', ErrorDescription: 'payment method', PossibleSolution: 'Add a valid payment method' }];

sandboxPerFileStorePerTest((parts) => ({ sandbox, store } = parts), { quiet: true, healthQps: 50 });
beforeEach(async () => {
  space = await onboardThroughFunctions('299399000031', [{ cc: '86', phone: '13800000031' }]);
  clock = Date.parse('2026-03-01T08:00:00.000Z');
});

const phone = (): WatchTarget => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000031' });

function sweep(over: Partial<HealthSweepOptions> = {}) {
  return new HealthSweep({
    store,
    cams: sandboxClient(sandbox, 50),
    sinks: [new RecordingSink()],
    policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 },
    envTargets: [phone()],
    concurrency: 2,
    deadline: Date.now() + 20_000,
    alertClock: () => clock,
    ...over,
  }).run();
}

const phoneHistory = async () => (await listHistories(store, space)).find((h) => h.subject.entityType === 'PHONE_NUMBER')!;

describe('history written by the sweep (sandbox CAMS, file store)', () => {
  it('BLOCKED → AVAILABLE: two transitions, and today\'s cell shows BLOCKED', async () => {
    await sweep();
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'BLOCKED', Errors: BLOCKED });
    clock += 5 * 60_000;
    await sweep();
    clock += 5 * 60_000;
    await sweep(); // still BLOCKED: nothing new
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'AVAILABLE' });
    clock += 5 * 60_000;
    await sweep();

    const h = await phoneHistory();
    expect(h.transitions.map((t) => `${t.from}→${t.to}`)).toEqual(['AVAILABLE→BLOCKED', 'BLOCKED→AVAILABLE']);
    expect(h.transitions[0]!.errors[0]!.PossibleSolution).toBe('Add a valid payment method');
    expect(dailyBars(h, clock).at(-1)).toEqual({ day: '2026-03-01', worst: 'BLOCKED' });
  });

  it('a steady sweep (no state changed) costs history no store operation at all', async () => {
    await sweep();
    await sweep();
    const count = async (history: boolean) => {
      const ops: string[] = [];
      const counting = storeWith(store, {
        get: (k) => (ops.push(`get ${k}`), store.get(k)),
        put: (k, v, o) => (ops.push(`put ${k}`), store.put(k, v, o)),
        list: (p) => (ops.push(`list ${p}`), store.list(p)),
      });
      clock += 60_000;
      await sweep({ store: counting, history });
      return ops;
    };
    const off = await count(false);
    const on = await count(true);
    expect(on.filter((o) => o.includes('history/'))).toEqual([]);
    expect(on.length).toBe(off.length);
  });

  it('a crash between the history write and the entity\'s mark is caught up once, not doubled', async () => {
    await sweep();
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    clock += 60_000;
    // The mark write (an entity put carrying historyMark for the new state) dies, as a SIGKILL would leave it.
    let dropped = 0;
    const crashing: Store = {
      ...store,
      get: (k) => store.get(k),
      list: (p) => store.list(p),
      delete: (k, o) => store.delete(k, o),
      acquireLease: (n, t, o) => store.acquireLease(n, t, o),
      close: () => store.close(),
      put: async (key, value, opts) => {
        const v = value as { historyMark?: string; status?: string };
        if (key.startsWith('monitor/entity/') && v.status === 'LIMITED' && v.historyMark?.includes('LIMITED')) {
          dropped++;
          throw new Error('killed');
        }
        return store.put(key, value, opts);
      },
    };
    await expect(sweep({ store: crashing })).rejects.toThrow('killed');
    expect(dropped).toBe(1);
    expect((await phoneHistory()).transitions.map((t) => t.to)).toEqual(['LIMITED']);
    clock += 60_000;
    await sweep();
    await sweep();
    expect((await phoneHistory()).transitions.map((t) => t.to)).toEqual(['LIMITED']);
  });
});
