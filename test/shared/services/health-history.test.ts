import { describe, expect, it } from 'vitest';
import type { AlertSubject } from '../../../shared/alerts/model.ts';
import type { NodeHistory } from '../../../shared/history/history.ts';
import { historyKey, HISTORY_PAGE, HISTORY_PREFIX } from '../../../shared/history/record.ts';
import { applyUnobserved } from '../../../shared/monitor/check.ts';
import { qualityObservation } from '../../../shared/monitor/quality.ts';
import { noteTarget } from '../../../shared/monitor/target-info.ts';
import { describeNode, fingerprintOf } from '../../../shared/monitor/entity-state.ts';
import { healthHistory } from '../../../shared/services/health-history.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { ListOptions, Store } from '../../../shared/store/port.ts';
import { storeWith } from '../../support/store.ts';

const DAY = 86_400_000;

/** A store over `inner` that counts the history records read (each get, each listed entry) and the page size of each history listing. */
function countingHistoryReads(inner: Store) {
  const counted = { read: 0, pages: [] as Array<number | undefined> };
  const store = storeWith(inner, {
    list: async <T,>(prefix: string, o?: ListOptions) => {
      const r = await inner.list<T>(prefix, o);
      if (prefix.startsWith(HISTORY_PREFIX)) {
        counted.read += r.length;
        counted.pages.push(o?.limit);
      }
      return r;
    },
    get: async <T,>(key: string) => {
      if (key.startsWith(HISTORY_PREFIX)) counted.read++;
      return inner.get<T>(key);
    },
  });
  return { store, counted };
}

/** A one-day AVAILABLE history of `subject`; its fingerprint. */
async function putHistory(store: Store, subject: AlertSubject, now: number): Promise<string> {
  const fingerprint = fingerprintOf(subject);
  const h: NodeHistory = { fingerprint, subject, node: describeNode(subject), firstSeen: { at: now, status: 'AVAILABLE' }, transitions: [], days: [{ day: '2026-03-01', worst: 'AVAILABLE' }] };
  await store.put(historyKey({ fingerprint, subject }), h);
  return fingerprint;
}

describe('GET /health-report/history', () => {
  it('shows 90 UTC days as of now, also of a node no check reached lately (its history was not rewritten since)', async () => {
    const store = await openStore('memory:');
    const lastWrite = Date.parse('2026-01-10T12:00:00.000Z');
    const at = (day: string, time = '08:00:00') => Date.parse(`${day}T${time}.000Z`);
    const h: NodeHistory = {
      fingerprint: 'fp1',
      subject: { nodeType: 'phone', custSpaceId: 'C1', wabaId: '111', entityType: 'PHONE_NUMBER', phoneNumber: '8613800000001' },
      node: 'phone 8613800000001 · WABA 111 · space C1',
      firstSeen: { at: at('2025-12-01'), status: 'AVAILABLE' },
      transitions: [
        { at: at('2025-12-02'), from: 'AVAILABLE', to: 'BLOCKED', errors: [] },
        { at: at('2025-12-03'), from: 'BLOCKED', to: 'AVAILABLE', errors: [] },
        { at: at('2026-01-10'), from: 'AVAILABLE', to: 'LIMITED', errors: [] },
      ],
      days: [
        { day: '2025-12-02', worst: 'BLOCKED' },
        { day: '2025-12-03', worst: 'BLOCKED' },
        { day: '2026-01-10', worst: 'LIMITED' },
      ],
    };
    await store.put(`${HISTORY_PREFIX}C1/fp1`, h);
    const ask = async (now: number) =>
      ((await healthHistory(store, { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber: '8613800000001' }, now)) as { Nodes: Array<{ Transitions: Array<{ At: string; To: string }>; Days: Array<{ Day: string }> }> }).Nodes[0]!;

    // 2026-03-02's 90 days begin on 2025-12-03
    const first = await ask(lastWrite + 51 * DAY);
    expect(first.Days.map((d) => d.Day)).toEqual(['2025-12-03', '2026-01-10']);
    expect(first.Transitions.map((t) => t.To)).toEqual(['AVAILABLE', 'LIMITED']);
    // long after: no day left, and the transition into the state it is in (LIMITED) is still said
    const later = await ask(lastWrite + 200 * DAY);
    expect(later.Days).toEqual([]);
    expect(later.Transitions.map((t) => [t.At, t.To])).toEqual([['2026-01-10T08:00:00.000Z', 'LIMITED']]);
  });

  it("reads only the node's own histories (the entities its checks, receipts and discovery reached), not every node of its space", async () => {
    const inner = await openStore('memory:');
    const { store, counted } = countingHistoryReads(inner);
    const now = Date.parse('2026-03-01T12:00:00.000Z');
    const put = (subject: AlertSubject) => putHistory(inner, subject, now);
    const phone = (n: number) => `86138${String(n).padStart(8, '0')}`;
    const waba = { nodeType: 'waba' as const, custSpaceId: 'C1', wabaId: '111', entityType: 'WABA' };
    const wabaFp = await put(waba);
    for (let i = 0; i < 500; i++) await put({ nodeType: 'phone', custSpaceId: 'C1', wabaId: '111', entityType: 'PHONE_NUMBER', phoneNumber: phone(i) });
    // Phone 7's check reached the number and its WABA; a receipt its quality.
    const target = { CustSpaceId: 'C1', NodeType: 'phone' as const, PhoneNumber: phone(7) };
    const own = fingerprintOf({ nodeType: 'phone', custSpaceId: 'C1', wabaId: '111', entityType: 'PHONE_NUMBER', phoneNumber: phone(7) });
    const quality = await put({ nodeType: 'phone', custSpaceId: 'C1', wabaId: '111', entityType: 'PHONE_QUALITY', phoneNumber: phone(7) });
    await noteTarget(inner, target, { lastCheckedAt: now, reach: [own, wabaFp] });
    await noteTarget(inner, target, { reach: [quality] });
    counted.read = 0;
    const r = (await healthHistory(store, target, now)) as { Nodes: Array<{ EntityType: string }> };
    expect(r.Nodes.map((n) => n.EntityType).sort()).toEqual(['PHONE_NUMBER', 'PHONE_QUALITY']);
    expect(counted.read).toBeLessThanOrEqual(3);
    // A node no target reached (its target's record gone, or from before records named their entities): found by its space's histories,
    // read a page at a time (a mistyped number held every 90-day history of the space at once).
    const other = (await healthHistory(store, { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber: phone(9) }, now)) as { Nodes: Array<{ EntityType: string }> };
    expect(other.Nodes.map((n) => n.EntityType)).toEqual(['PHONE_NUMBER']);
    expect(counted.pages.length).toBeGreaterThanOrEqual(2);
    expect(counted.pages.every((limit) => limit !== undefined && limit <= HISTORY_PAGE)).toBe(true);
  });

  it("a WABA node's history reads its own entities' histories (WABA, BUSINESS, APP), not every node of its space", async () => {
    const inner = await openStore('memory:');
    const { store, counted } = countingHistoryReads(inner);
    const now = Date.parse('2026-03-01T12:00:00.000Z');
    const put = (subject: AlertSubject) => putHistory(inner, subject, now);
    const [waba, business] = [await put({ nodeType: 'waba', custSpaceId: 'C1', wabaId: '111', entityType: 'WABA' }), await put({ nodeType: 'waba', custSpaceId: 'C1', wabaId: '111', entityType: 'BUSINESS' })];
    await put({ nodeType: 'waba', custSpaceId: 'C1', wabaId: '111', entityType: 'APP' });
    for (let i = 0; i < 500; i++) await put({ nodeType: 'phone', custSpaceId: 'C1', wabaId: '111', entityType: 'PHONE_NUMBER', phoneNumber: `86138${String(i).padStart(8, '0')}` });
    // Watched as the space's WABA (no WabaId): its record names what its checks reached.
    await noteTarget(inner, { CustSpaceId: 'C1', NodeType: 'waba' }, { lastCheckedAt: now, reach: [waba, business] });
    for (const node of [{ CustSpaceId: 'C1', NodeType: 'waba' as const, WabaId: '111' }, { CustSpaceId: 'C1', NodeType: 'waba' as const }]) {
      counted.read = 0;
      const r = (await healthHistory(store, node, now)) as { Nodes: Array<{ EntityType: string; WabaId: string }> };
      expect(r.Nodes.map((n) => n.EntityType).sort(), JSON.stringify(node)).toEqual(['APP', 'BUSINESS', 'WABA']);
      expect(r.Nodes.every((n) => n.WabaId === '111')).toBe(true);
      expect(counted.read, JSON.stringify(node)).toBeLessThanOrEqual(6);
    }
  });

  it("a WABA node's APP, which only its numbers' and templates' checks report (CAMS's reply for a WABA names WABA and BUSINESS), is in its history", async () => {
    const store = await openStore('memory:');
    const now = Date.parse('2026-03-01T12:00:00.000Z');
    const put = async (entityType: string) => {
      const subject: AlertSubject = { nodeType: 'waba', custSpaceId: 'C1', wabaId: '111', entityType };
      const fingerprint = fingerprintOf(subject);
      const h: NodeHistory = { fingerprint, subject, node: describeNode(subject), firstSeen: { at: now, status: 'AVAILABLE' }, transitions: [], days: [{ day: '2026-03-01', worst: 'AVAILABLE' }] };
      await store.put(historyKey({ fingerprint, subject }), h);
      return fingerprint;
    };
    const [waba, business, app] = [await put('WABA'), await put('BUSINESS'), await put('APP')];
    const wabaTarget = { CustSpaceId: 'C1', NodeType: 'waba' as const, WabaId: '111' };
    await noteTarget(store, wabaTarget, { lastCheckedAt: now, reach: [waba, business] });
    await noteTarget(store, { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber: '8613800000001' }, { lastCheckedAt: now, reach: [waba, business, app] });
    const r = (await healthHistory(store, wabaTarget, now)) as { Nodes: Array<{ EntityType: string }> };
    expect(r.Nodes.map((n) => n.EntityType).sort()).toEqual(['APP', 'BUSINESS', 'WABA']);
  });

  it("shows each change of a number's quality, within LIMITED too (YELLOW → GREEN with its tier still dropped → YELLOW), and FirstSeen's rating; a repeat costs history nothing", async () => {
    const inner = await openStore('memory:');
    const ops: string[] = [];
    const store = storeWith(inner, {
      get: (k) => (ops.push(`get ${k}`), inner.get(k)),
      put: (k, v, o) => (ops.push(`put ${k}`), inner.put(k, v, o)),
    });
    let clock = Date.parse('2026-03-01T08:00:00.000Z');
    const target = { CustSpaceId: 'C1', NodeType: 'phone' as const, WabaId: '111', PhoneNumber: '8613800000001' };
    const ctx = { store, policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, sinks: ['webhook'], now: () => clock };
    // As a receipt or discovery's listing feeds it: the tier stays below its peak throughout.
    const observe = (QualityRating: string) =>
      applyUnobserved(target, qualityObservation(target, { QualityRating, MessagingLimitTier: 'TIER_1K', PeakMessagingLimitTier: 'TIER_10K' }), 'r1', ctx);
    const start = clock;
    await observe('YELLOW');
    clock += 60_000;
    await observe('GREEN');
    clock += 60_000;
    ops.length = 0;
    await observe('GREEN'); // the same again: history is neither read nor written
    expect(ops.filter((o) => o.includes(HISTORY_PREFIX))).toEqual([]);
    clock += 60_000;
    await observe('YELLOW');

    const r = (await healthHistory(store, target, clock)) as {
      Nodes: Array<{ EntityType: string; FirstSeen: Record<string, unknown>; Transitions: Array<{ At: string; From: string; To: string; Quality?: string; Errors: Array<{ ErrorCode: string }> }> }>;
    };
    const quality = r.Nodes.find((n) => n.EntityType === 'PHONE_QUALITY')!;
    expect(quality.FirstSeen).toEqual({ At: new Date(start).toISOString(), Status: 'LIMITED', Quality: 'YELLOW' });
    expect(quality.Transitions.map((t) => [t.At, t.From, t.To, t.Quality, t.Errors.map((e) => e.ErrorCode)])).toEqual([
      [new Date(start + 60_000).toISOString(), 'LIMITED', 'LIMITED', 'GREEN', ['MessagingLimitTier.Dropped.TIER_1K']],
      [new Date(start + 180_000).toISOString(), 'LIMITED', 'LIMITED', 'YELLOW', ['QualityRating.YELLOW', 'MessagingLimitTier.Dropped.TIER_1K']],
    ]);
  });

  it("a rating whose history write failed (the process killed after its entity write) is recorded before the next one, not lost", async () => {
    const inner = await openStore('memory:');
    let failHistory = false;
    const store = storeWith(inner, {
      put: (k, v, o) => {
        if (failHistory && k.startsWith(HISTORY_PREFIX)) throw new Error('killed');
        return inner.put(k, v, o);
      },
    });
    let clock = Date.parse('2026-03-01T08:00:00.000Z');
    const target = { CustSpaceId: 'C1', NodeType: 'phone' as const, WabaId: '111', PhoneNumber: '8613800000001' };
    const ctx = { store, policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, sinks: ['webhook'], now: () => clock };
    const observe = (QualityRating: string) =>
      applyUnobserved(target, qualityObservation(target, { QualityRating, MessagingLimitTier: 'TIER_1K', PeakMessagingLimitTier: 'TIER_10K' }), 'r1', ctx);
    await observe('YELLOW');
    clock += 60_000;
    failHistory = true;
    await expect(observe('GREEN')).rejects.toThrow('killed');
    failHistory = false;
    clock += 60_000;
    await observe('RED');
    const r = (await healthHistory(store, target, clock)) as { Nodes: Array<{ EntityType: string; Transitions: Array<{ Quality?: string }> }> };
    expect(r.Nodes.find((n) => n.EntityType === 'PHONE_QUALITY')!.Transitions.map((t) => t.Quality)).toEqual(['GREEN', 'RED']);
  });
});

describe('GET /health-report/history over a store an earlier version wrote', () => {
  it("a number's rating that version did not keep in its history is no transition at the upgrade, and costs history one write, once", async () => {
    const inner = await openStore('memory:');
    const ops: string[] = [];
    const store = storeWith(inner, {
      put: (k, v, o) => (ops.push(`put ${k}`), inner.put(k, v, o)),
    });
    let clock = Date.parse('2026-03-01T08:00:00.000Z');
    const start = clock;
    const target = { CustSpaceId: 'C1', NodeType: 'phone' as const, WabaId: '111', PhoneNumber: '8613800000001' };
    const ctx = { store, policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, sinks: ['webhook'], now: () => clock };
    const observe = (QualityRating: string) =>
      applyUnobserved(target, qualityObservation(target, { QualityRating, MessagingLimitTier: 'TIER_1K', PeakMessagingLimitTier: 'TIER_10K' }), 'r1', ctx);
    await observe('YELLOW');
    // What the earlier version stored: its mark without the rating, firstSeen without it.
    const obs = qualityObservation(target, { QualityRating: 'YELLOW' });
    const fp = fingerprintOf(obs.subject);
    const entityKey = `monitor/entity/${fp}`;
    const entity = (await inner.get<{ historyMark: string }>(entityKey))!.value;
    await inner.put(entityKey, { ...entity, historyMark: entity.historyMark.replace(/\|YELLOW$/, '') });
    const hKey = historyKey({ fingerprint: fp, subject: obs.subject });
    const h = (await inner.get<NodeHistory>(hKey))!.value;
    await inner.put(hKey, { ...h, firstSeen: { at: h.firstSeen.at, status: h.firstSeen.status } });

    clock += 60_000;
    ops.length = 0;
    await observe('YELLOW');
    expect(ops.filter((o) => o.includes(HISTORY_PREFIX))).toHaveLength(1);
    clock += 60_000;
    ops.length = 0;
    await observe('YELLOW');
    expect(ops.filter((o) => o.includes(HISTORY_PREFIX))).toEqual([]);
    clock += 60_000;
    await observe('GREEN');

    const r = (await healthHistory(store, target, clock)) as { Nodes: Array<{ EntityType: string; Transitions: Array<{ At: string; From: string; To: string; Quality?: string }> }> };
    expect(r.Nodes.find((n) => n.EntityType === 'PHONE_QUALITY')!.Transitions.map((t) => [t.At, t.From, t.To, t.Quality])).toEqual([
      [new Date(start + 180_000).toISOString(), 'LIMITED', 'LIMITED', 'GREEN'],
    ]);
  });
});
