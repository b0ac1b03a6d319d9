import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  expireOldRemovals,
  keptOff,
  loadWatchList,
  parseMonitorTargets,
  registerWatchTarget,
  REMOVED_KEEP_MS,
  REMOVED_PREFIX,
  removedRecord,
  targetId,
  type WatchTarget,
} from '../../../shared/monitor/targets.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { addWatchEntries, removeWatchEntries } from '../../../shared/watch-list/store.ts';
import { tempFileStore } from '../../support/monitor.ts';
import { findOnPath, rawCommand, startRedisServer, type RedisServer } from '../store/redis-server.ts';

const redisBin = findOnPath('redis-server');
let redis: RedisServer | undefined;
let ns = 0;
const removalKinds: Array<'file' | 'redis'> = ['file', ...(redisBin || process.env['CI'] === 'true' ? (['redis'] as const) : [])];

describe('targetId', () => {
  it('names what a target watches, whatever order its fields were written in', () => {
    expect(targetId({ NodeType: 'phone', CustSpaceId: 'C1', PhoneNumber: '8613800000000' })).toBe('phone:C1:8613800000000');
    expect(targetId({ CustSpaceId: 'C1', TemplateCode: 'T1', Language: 'en', NodeType: 'template' })).toBe('template:C1:T1/en');
    expect(targetId({ NodeType: 'waba', CustSpaceId: 'C1', WabaId: '123' })).toBe('waba:C1:123');
  });

  it('gives a waba target without WabaId (the space’s own WABA) an id without "undefined"', () => {
    const { targets, problems } = parseMonitorTargets(JSON.stringify([{ CustSpaceId: 'C1', NodeType: 'waba' }]));
    expect(problems).toEqual([]);
    expect(targetId(targets[0]!)).toBe('waba:C1:');
  });
});

describe('parseMonitorTargets', () => {
  it('names a bad entry by where it is and by what it is: its ref stays when the list is reordered, and long entries stay apart', () => {
    const bad = { NodeType: 'wab', CustSpaceId: 'C1' };
    const a = parseMonitorTargets(JSON.stringify([bad, { CustSpaceId: 'C1', NodeType: 'waba' }])).problems;
    const b = parseMonitorTargets(JSON.stringify([{ CustSpaceId: 'C1', NodeType: 'waba' }, { CustSpaceId: 'C1', NodeType: 'wab' }])).problems;
    expect(a.map((p) => p.where)).toEqual(['MONITOR_TARGETS[0]']);
    expect(b.map((p) => p.where)).toEqual(['MONITOR_TARGETS[1]']);
    expect(a[0]!.ref).toBe('MONITOR_TARGETS {"CustSpaceId":"C1","NodeType":"wab"}');
    expect(b[0]!.ref).toBe(a[0]!.ref);
    const long = (tail: string) => ({ CustSpaceId: 'C1', NodeType: 'wab', Comment: 'x'.repeat(300) + tail });
    const refs = parseMonitorTargets(JSON.stringify([long('1'), long('2')])).problems.map((p) => p.ref!);
    expect(refs[0]).not.toBe(refs[1]);
    expect(refs.every((r) => r.length < 200)).toBe(true);
  });
});

describe('loadWatchList', () => {
  it('gives the event loop turns while it validates a long list (it runs beside the first checks), and keeps every target', async () => {
    const store = await openStore('memory:');
    const n = 3_000;
    const targets: WatchTarget[] = Array.from({ length: n }, (_, i) => ({ CustSpaceId: 'C1', NodeType: 'template', TemplateCode: `tpl_${i}`, Language: 'en' }));
    for (const t of targets) await registerWatchTarget(store, t, 'test');
    await store.put('watch/broken', { target: { NodeType: 'template' } });
    let turns = 0;
    let done = false;
    const ticker = (): void => {
      if (done) return;
      turns++;
      setImmediate(ticker);
    };
    setImmediate(ticker);
    const listed = await loadWatchList(store, []);
    done = true;
    expect(listed.targets).toHaveLength(n);
    expect(listed.problems).toEqual([{ where: 'watch/broken', message: 'stored target is not valid' }]);
    expect(new Set(listed.targets.map((t) => t.id))).toEqual(new Set(targets.map(targetId)));
    // One turn per 500 entries at least (the list itself may take none).
    expect(turns).toBeGreaterThanOrEqual(Math.floor(n / 500) - 1);
    await store.close();
  });
});

describe.each(removalKinds)('removal records (%s store)', (kind) => {
  let store: Store;
  let done: () => Promise<void>;
  const t0 = Date.parse('2026-12-01T00:00:00Z');
  const target: WatchTarget = { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber: '8613800000701' };
  const id = targetId(target);
  beforeAll(async () => {
    if (kind === 'redis' && !redis) redis = await startRedisServer(redisBin!);
  });
  afterAll(async () => {
    await redis?.stop();
    redis = undefined;
  });
  beforeEach(async () => {
    if (kind === 'file') {
      const temp = await tempFileStore();
      store = temp.store;
      done = temp.cleanup;
    } else {
      store = await openStore(`${redis!.url}?namespace=removed-${process.pid}-${++ns}:`);
      done = () => store.close();
    }
  });
  afterEach(() => done());

  /** Whether the store itself (its TTL, on its own clock) still holds the key `ms` from now. */
  async function storeHoldsAfter(key: string, ms: number): Promise<boolean> {
    if (kind === 'redis') {
      const pttl = Number((await rawCommand(redis!.port, 'PTTL', `removed-${process.pid}-${ns}:kv:${key}`)).slice(1));
      expect(pttl).toBeGreaterThan(0);
      return pttl > ms;
    }
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + ms });
    try {
      return (await store.get(key)) !== undefined;
    } finally {
      vi.useRealTimers();
    }
  }

  it('a removal record lives REMOVED_KEEP_MS by the caller\'s clock, then counts as absent and is deleted; the store\'s TTL ends it too', async () => {
    await removeWatchEntries(store, [{ id, target, discover: false }], t0);
    expect(await storeHoldsAfter(REMOVED_PREFIX + id, REMOVED_KEEP_MS - 60_000)).toBe(true);
    expect(await storeHoldsAfter(REMOVED_PREFIX + id, REMOVED_KEEP_MS + 1_000)).toBe(false);
    expect(await removedRecord(store, id, t0 + REMOVED_KEEP_MS - 1)).toBeDefined();
    expect(await removedRecord(store, id, t0 + REMOVED_KEEP_MS)).toBeUndefined();
    expect(await store.get(REMOVED_PREFIX + id)).toBeUndefined();
  });

  it('a record that keeps its node off is renewed once a day at most, and not once the node is posted again', async () => {
    await removeWatchEntries(store, [{ id, target, discover: false }], t0);
    const day = 24 * 3_600_000;
    const first = (await removedRecord(store, id, t0 + 1_000))!;
    await keptOff(store, first, t0 + 1_000);
    expect((await store.get(REMOVED_PREFIX + id))!.version).toBe(first.version);
    await keptOff(store, first, t0 + 2 * day);
    expect(await removedRecord(store, id, t0 + 2 * day + REMOVED_KEEP_MS - 1)).toBeDefined();
    // Read, then the node is posted again: the renewal does not mark it removed again.
    const read = (await removedRecord(store, id, t0 + 4 * day))!;
    await addWatchEntries(store, [{ id, target, discover: false }], 'api:test', t0 + 4 * day);
    await keptOff(store, read, t0 + 4 * day);
    expect(await store.get(REMOVED_PREFIX + id)).toBeUndefined();
  });

  it('records an earlier version wrote (no expiry) get the one they would have had, once; one past it goes', async () => {
    const day = 24 * 3_600_000;
    const old = 'phone:C1:8613800000702';
    const recent = 'phone:C1:8613800000703';
    await store.put(REMOVED_PREFIX + old, { RemovedAt: new Date(t0 - 40 * day).toISOString() });
    await store.put(REMOVED_PREFIX + recent, { RemovedAt: new Date(t0 - 10 * day).toISOString() });
    await expireOldRemovals(store, t0);
    expect(await store.get(REMOVED_PREFIX + old)).toBeUndefined();
    expect(await storeHoldsAfter(REMOVED_PREFIX + recent, 19 * day)).toBe(true);
    expect(await storeHoldsAfter(REMOVED_PREFIX + recent, 20 * day + 60_000)).toBe(false);
    // Once: a later call walks nothing.
    await store.put(REMOVED_PREFIX + old, { RemovedAt: new Date(t0 - 40 * day).toISOString() });
    await expireOldRemovals(store, t0);
    expect(await store.get(REMOVED_PREFIX + old)).toBeDefined();
  });
});
