import { describe, expect, it } from 'vitest';
import { applyObservation } from '../../../shared/monitor/check.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/entity-store.ts';
import { decodeReportToken, healthReport } from '../../../shared/services/health-report.ts';
import { STATS_KEY } from '../../../shared/receipts/dedup.ts';
import { UNKNOWN_WABA_PREFIX } from '../../../shared/receipts/apply.ts';
import { createSilence } from '../../../shared/silences/store.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { storeWith } from '../../support/store.ts';

/** `n` phone entities, those whose index `unwatched` picks marked unwatched (no watched target reaches them any more). */
async function seed(n: number, unwatched: (i: number) => boolean): Promise<Store> {
  const store = await openStore('memory:');
  const ctx = { store, policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 }, sinks: [], now: () => 1_700_000_000_000 };
  for (let i = 0; i < n; i++) {
    const subject = { nodeType: 'phone' as const, custSpaceId: 'C1', wabaId: 'w1', entityType: 'PHONE_NUMBER', phoneNumber: `86138000009${String(i).padStart(2, '0')}` };
    await applyObservation({ subject, status: 'AVAILABLE', errors: [] }, 'r1', false, ctx);
  }
  const all = await store.list<EntityState>(ENTITY_PREFIX);
  for (const [i, e] of all.entries()) if (unwatched(i)) await store.put(e.key, { ...e.value, unwatchedAt: 1_700_000_000_001 });
  return store;
}

const nodesOf = (r: Record<string, unknown>) => (r['Nodes'] as Array<{ Node: string }>).map((x) => x.Node);

describe('GET /health-report pages', () => {
  it('leave out unwatched entities and stay full: each page holds PageSize live nodes while more follow, each node once', async () => {
    // In key order: 0 1 2 3 4 5 6 7 8 9, of which 1 2 3 5 6 are unwatched; live are 0 4 7 8 9.
    const store = await seed(10, (i) => [1, 2, 3, 5, 6].includes(i));
    const live = nodesOf(await healthReport(store, { pageSize: 100 }, {}));
    expect(live).toHaveLength(5);
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; ; pages++) {
      const r = await healthReport(store, { pageSize: 2, ...(after !== undefined ? { after } : {}) }, {});
      const nodes = nodesOf(r);
      seen.push(...nodes);
      if (!r['NextToken']) {
        expect(nodes.length).toBeGreaterThan(0);
        break;
      }
      expect(nodes).toHaveLength(2);
      after = decodeReportToken(r['NextToken'] as string);
      expect(pages).toBeLessThan(5);
    }
    expect(seen).toEqual(live);
  });

  it('reads on past many unwatched entities (close-outs waiting for a sink) in a few reads, not one page at a time', async () => {
    // 90 unwatched, then 2 live (key order); PageSize=1.
    const inner = await seed(92, (i) => i < 90);
    let lists = 0;
    const store = storeWith(inner, { list: (p, o) => (p === ENTITY_PREFIX && lists++, inner.list(p, o)) });
    const first = await healthReport(store, { pageSize: 1 }, {});
    expect(nodesOf(first)).toHaveLength(1);
    expect(first['NextToken']).toBeDefined();
    expect(lists).toBeLessThanOrEqual(8); // 2, 4, 8, …, 128: 7 reads; one page at a time was 46
    const second = await healthReport(inner, { pageSize: 1, after: decodeReportToken(first['NextToken'] as string) }, {});
    expect(nodesOf(second)).toHaveLength(1);
    expect(second['NextToken']).toBeUndefined();
    expect(nodesOf(second)).not.toEqual(nodesOf(first));
  });

  it('a store of unwatched entities only is an empty report', async () => {
    const store = await seed(4, () => true);
    const r = await healthReport(store, { pageSize: 1 }, {});
    expect(r['Nodes']).toEqual([]);
    expect(r['NextToken']).toBeUndefined();
  });
});

type ReportNode = Record<string, unknown> & { Node: string };
const reportNodes = (r: Record<string, unknown>) => r['Nodes'] as ReportNode[];

describe('GET /health-report nodes say what the status page shows', () => {
  const T = 1_700_000_000_000;
  const phone = (n: string, entityType = 'PHONE_NUMBER') => ({ nodeType: 'phone' as const, custSpaceId: 'C1', wabaId: 'w1', entityType, phoneNumber: n });

  // They carried no held-back, silenced or quality fields: a script reading the report could not tell
  // a phone whose alert its BLOCKED WABA holds back, or a silence holds back, from one that was sent.
  it('held back by a BLOCKED WABA (and since when), silenced by an active silence holding an alert back, and the quality rating', async () => {
    const store = await openStore('memory:');
    const ctx = { store, policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 }, sinks: [], now: () => T };
    await applyObservation({ subject: phone('8613800000901'), status: 'LIMITED', errors: [] }, 'r1', true, ctx); // its WABA BLOCKED
    await applyObservation({ subject: phone('8613800000902'), status: 'LIMITED', errors: [] }, 'r1', false, ctx); // firing
    await applyObservation({ subject: phone('8613800000903'), status: 'AVAILABLE', errors: [] }, 'r1', false, ctx); // quiet
    await applyObservation({ subject: phone('8613800000904', 'PHONE_QUALITY'), status: 'LIMITED', errors: [], quality: 'YELLOW' }, 'r1', false, ctx);
    const silence = await createSilence(store, { Matchers: [{ Name: 'WabaId', Value: 'w1' }, { Name: 'AlertName', Value: 'PHONE_NUMBER' }], StartsAt: T - 1000, EndsAt: T + 3_600_000, CreatedBy: 'ops', Comment: '' }, T - 1000);
    const all = reportNodes(await healthReport(store, {}, {}, T));
    const of = (n: string, entityType = 'PHONE_NUMBER') => all.find((x) => x.EntityType === entityType && x.Node.includes(n))!;
    expect(of('8613800000901')).toMatchObject({ HeldBack: true, HeldSince: new Date(T).toISOString(), SilencedBy: silence.SilenceId });
    expect(of('8613800000902')).toMatchObject({ HeldBack: false, Firing: true, SilencedBy: silence.SilenceId });
    expect(of('8613800000902')['HeldSince']).toBeUndefined();
    // covered by the silence, but nothing of it is held back: not silenced (as on the status page)
    expect(of('8613800000903')).toMatchObject({ HeldBack: false, Firing: false });
    expect(of('8613800000903')['SilencedBy']).toBeUndefined();
    expect(of('8613800000904', 'PHONE_QUALITY')).toMatchObject({ Quality: 'YELLOW', Firing: true });
    expect(of('8613800000904', 'PHONE_QUALITY')['SilencedBy']).toBeUndefined();
    expect(of('8613800000901')['Quality']).toBeUndefined();
  });

  it('a page costs the same store operations at 10,000 nodes as at 100, and at PageSize 100 as at 10: nothing is read per node', async () => {
    const seeded = async (n: number) => {
      const inner = await openStore('memory:');
      const base = { subject: phone('0'), node: '', group: 'waba:w1', status: 'LIMITED', since: T, errors: [], consecutiveBad: 1, lastCheckedAt: T, firing: true, seq: 1, outbox: [], quality: 'RED', held: T } as unknown as EntityState;
      for (let i = 0; i < n; i++) {
        const p = `86138${String(i).padStart(8, '0')}`;
        await inner.put(`${ENTITY_PREFIX}${String(i).padStart(6, '0')}`, { ...base, fingerprint: String(i), subject: phone(p), node: `phone ${p}` });
      }
      await createSilence(inner, { Matchers: [{ Name: 'WabaId', Value: 'w1' }], StartsAt: T - 1000, EndsAt: T + 3_600_000, CreatedBy: 'ops', Comment: '' }, T - 1000);
      return inner;
    };
    const opsFor = async (inner: Store, pageSize: number) => {
      let ops = 0;
      const store = storeWith(inner, {
        get: (k) => (ops++, inner.get(k)),
        list: (p, o) => (ops++, inner.list(p, o)),
        put: (k, v, o) => (ops++, inner.put(k, v, o)),
        delete: (k, o) => (ops++, inner.delete(k, o)),
      });
      const r = await healthReport(store, { pageSize }, {}, T);
      expect(reportNodes(r)).toHaveLength(pageSize);
      expect(reportNodes(r).every((x) => x['HeldBack'] === true && x['Quality'] === 'RED' && typeof x['SilencedBy'] === 'string')).toBe(true);
      return ops;
    };
    const large = await seeded(10_000);
    const ops = await opsFor(large, 100);
    expect(await opsFor(await seeded(100), 100)).toBe(ops);
    expect(await opsFor(large, 10)).toBe(ops);
  });
});

describe('GET /health-report Receipts', () => {
  // Stats was null until the first receipt came, and a record an earlier version wrote lacked
  // `removed`: a client reading Stats.received or Stats.removed failed on a fresh or upgraded store.
  it('always has every count: zeros before the first receipt, and a count an earlier version did not keep', async () => {
    const store = await openStore('memory:');
    const zeros = { received: 0, processed: 0, duplicates: 0, invalid: 0, unknown: 0, unknownWaba: 0, removed: 0, lookUpRefused: 0 };
    expect((await healthReport(store, {}, {}))['Receipts']).toEqual({ Stats: zeros, UnknownWabas: [] });
    await store.put(STATS_KEY, { received: 3, processed: 2, duplicates: 1, invalid: 0, unknown: 0, unknownWaba: 0 });
    expect((await healthReport(store, {}, {}))['Receipts']).toEqual({ Stats: { ...zeros, received: 3, processed: 2, duplicates: 1 }, UnknownWabas: [] });
  });

  // Only the first 100 are listed (the report stays bounded): past them it said nothing, so a
  // reader took the 100 for all the WABAs receipts named that nothing watches.
  it('says when more WABAs that receipts named and nothing watches are kept than it lists', async () => {
    const store = await openStore('memory:');
    const put = (i: number) => store.put(`${UNKNOWN_WABA_PREFIX}${9000 + i}`, { WabaId: String(9000 + i), LastAt: '2026-12-01T00:00:00.000Z', Receipt: {} });
    for (let i = 0; i < 100; i++) await put(i);
    const full = (await healthReport(store, {}, {}))['Receipts'] as Record<string, unknown>;
    expect(full['UnknownWabas']).toHaveLength(100);
    expect(full['MoreUnknownWabas']).toBeUndefined();
    await put(100);
    const more = (await healthReport(store, {}, {}))['Receipts'] as Record<string, unknown>;
    expect(more['UnknownWabas']).toHaveLength(100);
    expect(more['MoreUnknownWabas']).toBe(true);
  });
});
