import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISCOVERY_PREFIX, targetId, WATCH_PREFIX, type RegisteredTarget, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { ListOptions, Store } from '../../../shared/store/port.ts';
import { WatchEntries } from '../../../shared/watch-list/entry.ts';
import { addWatchEntries, decodeNextToken, listWatchPage, removeWatchEntries } from '../../../shared/watch-list/store.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';
import { storeWith } from '../../support/store.ts';

const phones = (n: number, from = 0): WatchTarget[] =>
  Array.from({ length: n }, (_, i) => ({ CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber: `86139${String(from + i).padStart(8, '0')}` }));

/** A store over `inner` that counts the entries its lists return (`lists.read`). */
function countingLists(inner: Store) {
  const lists = { read: 0 };
  const store = storeWith(inner, {
    list: async <T,>(p: string, o?: ListOptions) => {
      const r = await inner.list<T>(p, o);
      lists.read += r.length;
      return r;
    },
  });
  return { store, lists };
}

const redisBin = findOnPath('redis-server');
let redis: RedisServer | undefined;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'watch-store-'));
  if (redisBin) redis = await startRedisServer(redisBin);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await redis?.stop();
});

const kinds: Array<[string, () => string]> = [
  ['file', () => `file:${dir}/${Math.random().toString(36).slice(2)}`],
  ...(redisBin ? ([['redis', () => `${redis!.url}/${1 + Math.floor(Math.random() * 14)}`]] as Array<[string, () => string]>) : []),
];

describe.each(kinds)('the watch list in a %s store', (_kind, urlFor) => {
  it('two instances posting the same 200 targets at once add each exactly once; every entry is its own key', async () => {
    const url = urlFor();
    const [a, b] = [await openStore(url), await openStore(url)];
    try {
      for (const r of await a.list(WATCH_PREFIX)) await a.delete(r.key);
      const entries = WatchEntries.parse(phones(200));
      const [ra, rb] = await Promise.all([addWatchEntries(a, entries, 'api:a'), addWatchEntries(b, entries, 'api:b')]);
      expect(ra.Added + rb.Added).toBe(200);
      expect(ra.Added + ra.Unchanged).toBe(200);
      const keys = (await a.list<RegisteredTarget>(WATCH_PREFIX)).map((r) => r.key);
      expect(keys).toEqual(entries.map((e) => WATCH_PREFIX + e.id).sort());
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('pages never skip or repeat an entry while entries are added and removed between pages', async () => {
    const store: Store = await openStore(urlFor());
    try {
      for (const r of await store.list(WATCH_PREFIX)) await store.delete(r.key);
      await addWatchEntries(store, WatchEntries.parse(phones(10)), 'api');
      const first = await listWatchPage(store, 4);
      expect(first.entries).toHaveLength(4);
      // Between pages: one entry before the cursor goes, one after it comes.
      await removeWatchEntries(store, WatchEntries.parse([phones(1)[0]]));
      await addWatchEntries(store, WatchEntries.parse(phones(1, 50)), 'api');
      const rest: string[] = [];
      let token = first.nextToken;
      while (token) {
        const page = await listWatchPage(store, 4, decodeNextToken(token));
        rest.push(...page.entries.map((e) => e.target.PhoneNumber!));
        token = page.nextToken;
      }
      const seen = [...first.entries.map((e) => e.target.PhoneNumber!), ...rest];
      expect(new Set(seen).size).toBe(seen.length);
      expect(rest).toEqual([...phones(6, 4), ...phones(1, 50)].map((t) => t.PhoneNumber));
    } finally {
      await store.close();
    }
  });

  it("a page reads only its own entries; a CustSpaceId page only that space's", async () => {
    const inner: Store = await openStore(urlFor());
    const { store, lists } = countingLists(inner);
    try {
      for (const r of await inner.list(WATCH_PREFIX)) await inner.delete(r.key);
      const other = (n: number, from: number): WatchTarget[] => phones(n, from).map((t) => ({ ...t, CustSpaceId: 'C2' }));
      await addWatchEntries(inner, WatchEntries.parse([...phones(40), ...other(3, 100)]), 'api');
      lists.read = 0;
      const first = await listWatchPage(store, 5);
      expect(first.entries).toHaveLength(5);
      expect(lists.read).toBe(6); // the page and one more, not 43
      const c2: string[] = [];
      let token: string | undefined;
      do {
        const page = await listWatchPage(store, 2, token === undefined ? undefined : decodeNextToken(token, 'C2'), 'C2');
        c2.push(...page.entries.map((e) => e.target.PhoneNumber!));
        token = page.nextToken;
      } while (token);
      expect(c2).toEqual(other(3, 100).map((t) => t.PhoneNumber));
    } finally {
      await inner.close();
    }
  });

  it('a CustSpaceId page reads only that space\'s entries (its phones, templates and WABAs), however many other spaces have, each once while entries come and go', async () => {
    const inner: Store = await openStore(urlFor());
    let read = 0;
    let calls = 0;
    const store = storeWith(inner, {
      list: async <T,>(p: string, o?: ListOptions) => {
        const r = await inner.list<T>(p, o);
        calls++;
        read += r.length;
        return r;
      },
    });
    try {
      for (const r of await inner.list(WATCH_PREFIX)) await inner.delete(r.key);
      // C3's entries among 300 of C1 and C2, in key order among them (phone:C1… phone:C3… template:… waba:C1 waba:C3 …).
      const c3: WatchTarget[] = [
        ...phones(3, 500).map((t) => ({ ...t, CustSpaceId: 'C3' })),
        { CustSpaceId: 'C3', NodeType: 'template', TemplateCode: 'order_update', Language: 'en_US' },
        { CustSpaceId: 'C3', NodeType: 'waba', WabaId: '333' },
      ];
      const others: WatchTarget[] = [...phones(150), ...phones(100, 200).map((t) => ({ ...t, CustSpaceId: 'C2' })), ...Array.from({ length: 50 }, (_, i): WatchTarget => ({ CustSpaceId: `C${i % 2 ? 1 : 4}`, NodeType: 'template', TemplateCode: `t${i}`, Language: 'en' })), { CustSpaceId: 'C1', NodeType: 'waba', WabaId: '111' }, { CustSpaceId: 'C4', NodeType: 'waba', WabaId: '444' }];
      await addWatchEntries(inner, WatchEntries.parse([...others, ...c3]), 'api');
      read = 0;
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await listWatchPage(store, 2, token === undefined ? undefined : decodeNextToken(token, 'C3'), 'C3');
        seen.push(...page.entries.map((e) => e.id));
        token = page.nextToken;
        // Between the first two pages: a C3 phone before the cursor goes, one after it comes (and another space's).
        if (pages++ === 0) {
          await removeWatchEntries(inner, WatchEntries.parse([c3[0]]));
          await addWatchEntries(inner, WatchEntries.parse([{ ...phones(1, 999)[0]!, CustSpaceId: 'C3' }, ...phones(1, 998)]), 'api');
        }
      } while (token);
      const later = WatchEntries.parse([...c3.slice(2), { ...phones(1, 999)[0]!, CustSpaceId: 'C3' }]).map((e) => e.id).sort();
      expect(seen).toEqual([...c3.slice(0, 2).map((t) => WatchEntries.parse([t])[0]!.id), ...later]);
      // The space's entries and one more per page at most, not the 300 of other spaces.
      expect(read).toBeLessThanOrEqual(seen.length + pages);
      expect(calls).toBeLessThanOrEqual(3 * pages);
    } finally {
      await inner.close();
    }
  });

  it('POST pins a discovered node and turns discovery on for a WABA watched alone; DELETE of a Discover entry retires what it found', async () => {
    const store = await openStore(urlFor());
    try {
      for (const r of await store.list(WATCH_PREFIX)) await store.delete(r.key);
      const waba: WatchTarget = { CustSpaceId: 'C1', NodeType: 'waba', WabaId: '123' };
      const rootId = targetId(waba);
      await addWatchEntries(store, WatchEntries.parse([waba]), 'api');
      expect((await addWatchEntries(store, WatchEntries.parse([{ CustSpaceId: 'C1', WabaId: '123', Discover: true }]), 'api')).Updated).toBe(1);
      expect((await store.get<RegisteredTarget>(WATCH_PREFIX + rootId))!.value.discover).toBe(true);
      // Two nodes discovery added under it.
      for (const t of phones(2)) await store.put<RegisteredTarget>(WATCH_PREFIX + targetId(t), { target: t, source: `discovery:${rootId}`, registeredAt: 'x', discoveredBy: rootId });
      expect((await addWatchEntries(store, WatchEntries.parse([phones(1)[0]]), 'api')).Updated).toBe(1);
      expect((await store.get<RegisteredTarget>(WATCH_PREFIX + targetId(phones(1)[0]!)))!.value.discoveredBy).toBeUndefined();
      const removed = await removeWatchEntries(store, WatchEntries.parse([{ CustSpaceId: 'C1', WabaId: '123', Discover: true }]));
      expect(removed).toEqual({ Removed: 1, Absent: 0, Retired: 1 });
      expect((await store.list<RegisteredTarget>(WATCH_PREFIX)).map((r) => r.value.target.PhoneNumber)).toEqual([phones(1)[0]!.PhoneNumber]);
    } finally {
      await store.close();
    }
  });

  it('POST pins a node a receipt added to a WABA watched alone: a Discover entry posted later does not adopt it, so its DELETE leaves it', async () => {
    const store = await openStore(urlFor());
    try {
      for (const r of await store.list(WATCH_PREFIX)) await store.delete(r.key);
      const phone = { ...phones(1)[0]!, WabaId: '123' };
      const id = targetId(phone);
      // A receipt put it under watch (no Discover entry yet): no one's pick, a listing would adopt it.
      await store.put<RegisteredTarget>(WATCH_PREFIX + id, { target: phone, source: 'receipt:phone', registeredAt: 'x' });
      expect((await addWatchEntries(store, WatchEntries.parse([phone]), 'api:caller')).Updated).toBe(1);
      const entry = (await store.get<RegisteredTarget>(WATCH_PREFIX + id))!.value;
      // Discovery adopts only a receipt's node (discovery.ts, reconcile): this one is the caller's now.
      expect(entry.source).toBe('api:caller');
      expect(entry.registeredAt).toBe('x');
      // Posted again: nothing changes.
      expect((await addWatchEntries(store, WatchEntries.parse([phone]), 'api:other')).Unchanged).toBe(1);
      expect((await store.get<RegisteredTarget>(WATCH_PREFIX + id))!.value.source).toBe('api:caller');
    } finally {
      await store.close();
    }
  });

  it("DELETE of a Discover entry reads only its space's entries to find what it discovered, however many other spaces have", async () => {
    const inner: Store = await openStore(urlFor());
    const { store, lists } = countingLists(inner);
    try {
      for (const r of await inner.list(WATCH_PREFIX)) await inner.delete(r.key);
      const root = { CustSpaceId: 'C5', WabaId: '555', Discover: true };
      const rootId = targetId({ CustSpaceId: 'C5', NodeType: 'waba', WabaId: '555' });
      await addWatchEntries(inner, WatchEntries.parse([root, ...phones(300)]), 'api');
      for (const t of phones(2, 700).map((p) => ({ ...p, CustSpaceId: 'C5' }))) {
        await inner.put<RegisteredTarget>(WATCH_PREFIX + targetId(t), { target: t, source: `discovery:${rootId}`, registeredAt: 'x', discoveredBy: rootId });
      }
      lists.read = 0;
      expect(await removeWatchEntries(store, WatchEntries.parse([root]))).toEqual({ Removed: 1, Absent: 0, Retired: 2 });
      // C5's two discovered phones (its WABA entry is gone), not C1's 300.
      expect(lists.read).toBeLessThanOrEqual(3);
      expect(await inner.list(WATCH_PREFIX)).toHaveLength(300);
    } finally {
      await inner.close();
    }
  });

  it('a Discover entry posted anew (after a DELETE, or turned on) forgets the last listing of that WABA, so the next round lists it', async () => {
    const store = await openStore(urlFor());
    try {
      const root = { CustSpaceId: 'C2', WabaId: '456', Discover: true };
      const rootId = targetId({ CustSpaceId: 'C2', NodeType: 'waba', WabaId: '456' });
      await addWatchEntries(store, WatchEntries.parse([root]), 'api');
      await store.put(DISCOVERY_PREFIX + rootId, { lastRunAt: Date.now() });
      // Posted again while watched: unchanged, and its listing is remembered.
      expect((await addWatchEntries(store, WatchEntries.parse([root]), 'api')).Unchanged).toBe(1);
      expect(await store.get(DISCOVERY_PREFIX + rootId)).toBeDefined();
      // Deleted (its discovered nodes with it) and posted again: listed at the next round.
      await removeWatchEntries(store, WatchEntries.parse([root]));
      expect((await addWatchEntries(store, WatchEntries.parse([root]), 'api')).Added).toBe(1);
      expect(await store.get(DISCOVERY_PREFIX + rootId)).toBeUndefined();
      // Deleted, watched alone, then Discover turned on again: the same.
      await store.put(DISCOVERY_PREFIX + rootId, { lastRunAt: Date.now() });
      await removeWatchEntries(store, WatchEntries.parse([root]));
      await addWatchEntries(store, WatchEntries.parse([{ CustSpaceId: 'C2', NodeType: 'waba', WabaId: '456' }]), 'api');
      expect((await addWatchEntries(store, WatchEntries.parse([root]), 'api')).Updated).toBe(1);
      expect(await store.get(DISCOVERY_PREFIX + rootId)).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe('NextToken', () => {
  it('only a token this API issued decodes', () => {
    const token = Buffer.from(`${WATCH_PREFIX}phone:C1:86`, 'utf8').toString('base64url');
    expect(decodeNextToken(token)).toBe(`${WATCH_PREFIX}phone:C1:86`);
    expect(decodeNextToken(Buffer.from('monitor/round').toString('base64url'))).toBeUndefined();
    expect(decodeNextToken('!!')).toBeUndefined();
  });

  it("a filtered listing's token is refused with another CustSpaceId, or none, and an unfiltered one with a CustSpaceId", async () => {
    const store = await openStore('memory:');
    try {
      const c = (cs: string) => phones(2).map((t) => ({ ...t, CustSpaceId: cs }));
      await addWatchEntries(store, WatchEntries.parse([...c('C1'), ...c('C2'), { CustSpaceId: 'C1', NodeType: 'waba', WabaId: '1' }]), 'api');
      const c2 = (await listWatchPage(store, 1, undefined, 'C2')).nextToken!;
      const all = (await listWatchPage(store, 1)).nextToken!;
      expect(decodeNextToken(c2, 'C2')).toBe(`${WATCH_PREFIX}phone:C2:${phones(1)[0]!.PhoneNumber}`);
      // C2's place read as C1's would skip C1's phones (phone:C1 < phone:C2) and list its WABA only.
      expect(decodeNextToken(c2, 'C1')).toBeUndefined();
      expect(decodeNextToken(c2)).toBeUndefined();
      expect(decodeNextToken(all, 'C1')).toBeUndefined();
      expect(decodeNextToken(all)).toBe(`${WATCH_PREFIX}phone:C1:${phones(1)[0]!.PhoneNumber}`);
    } finally {
      await store.close();
    }
  });
});
