import { beforeEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/entity-store.ts';
import type { CamsClient } from '../../../shared/cams/client.ts';
import { applyUnobserved } from '../../../shared/monitor/check.ts';
import { runDiscovery } from '../../../shared/monitor/discovery.ts';
import { targetId, WATCH_PREFIX } from '../../../shared/monitor/targets.ts';
import { knownWabaOf } from '../../../shared/monitor/waba-space.ts';
import { wabaReviewObservation } from '../../../shared/monitor/waba-review.ts';
import { UNKNOWN_RECEIPT_PREFIX } from '../../../shared/receipts/apply.ts';
import { WatchEntries } from '../../../shared/watch-list/entry.ts';
import { addWatchEntries, removeWatchEntries } from '../../../shared/watch-list/store.ts';
import { sandboxPushingReceipts, type ReceiptRig } from '../../support/receipt-rig.ts';
import { healthHistory } from '../../../shared/services/health-history.ts';
import { sandboxClient } from '../../support/monitor.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';

// A WABA's review (Meta's AccountReviewStatus) set to REJECTED or DISABLED while
// GetWhatsappHealthStatus still says AVAILABLE: a `wabaReviewUpdate` receipt says it, and discovery's
// QueryChatappBindWaba is its backstop, both through wabaReviewObservation (one WABA_REVIEW entity).
const WABA = '299399000620';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
let sandbox: RunningSandbox;
let rig: ReceiptRig;
let clock: number;

beforeEach(() => {
  clock = Date.now();
});
sandboxPushingReceipts(
  {
    token: 'receipt-token-waba-review-0123456789',
    waba: WABA,
    phone: { cc: '86', phone: '13800000620' },
    targets: (space) => [{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA }],
    alertClock: () => clock,
  },
  (r) => ({ sandbox } = rig = r),
);

const review = () => rig.messages().flat().filter((m) => m.startsWith('WABA_REVIEW'));
const reviewItems = () =>
  rig.receivers.received.webhook
    .flatMap((m) => (m.body as { items: Array<{ status: string; severity: string; reason: string; node: string; errors: Array<{ ErrorCode: string; ErrorDescription: string; PossibleSolution: string }> }> }).items)
    .filter((i) => i.node.startsWith('WABA_REVIEW'));
const reviewState = async () => (await rig.store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).find((e) => e.subject.entityType === 'WABA_REVIEW');
const queries = async () => ((await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as CallRecord[]).filter((c) => c.Action === 'QueryChatappBindWaba');

/** The WABA's review changes in the sandbox a minute later; with receipts on, resolves once cams-events answered its push. */
async function setReview(status: string, pushed = true): Promise<void> {
  clock += MINUTE;
  const n = rig.forwarder.pushes.length + 1;
  await sandboxControl(sandbox, 'PUT', '/__sandbox/waba', { CustSpaceId: rig.space, AccountReviewStatus: status });
  if (pushed) await rig.forwarder.handled(n);
}

/** A receipt as CAMS would push it; resolves with cams-events' outcome for it. */
async function push(receipt: Record<string, unknown>): Promise<Record<string, unknown>> {
  const n = rig.forwarder.pushes.length + 1;
  await sandboxControl(sandbox, 'POST', '/__sandbox/receipts/push', [receipt]);
  await rig.forwarder.handled(n);
  return rig.forwarder.pushes[n - 1]!.results[0]!;
}

const receiptsOff = () => sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: null });
const discover = async () => expect(await addWatchEntries(rig.store, WatchEntries.parse([{ CustSpaceId: rig.space, WabaId: WABA, Discover: true }]), 'test')).toBeTruthy();

describe('wabaReviewObservation', () => {
  const target = { CustSpaceId: '1001', WabaId: WABA };
  it('REJECTED and DISABLED are critical with their own code; APPROVED resolves; PENDING and values the page does not list say nothing', () => {
    expect(wabaReviewObservation(target, 'REJECTED')).toMatchObject({ status: 'BLOCKED', subject: { nodeType: 'waba', entityType: 'WABA_REVIEW', custSpaceId: '1001', wabaId: WABA }, errors: [{ ErrorCode: 'Waba.Rejected' }] });
    const disabled = wabaReviewObservation(target, 'disabled', 'Policy violation')!;
    expect(disabled).toMatchObject({ status: 'BLOCKED', errors: [{ ErrorCode: 'Waba.Disabled' }] });
    expect(disabled.errors[0]!.ErrorDescription).toContain('Policy violation');
    expect(disabled.errors[0]!.PossibleSolution).toBeTruthy();
    expect(wabaReviewObservation(target, 'APPROVED')).toMatchObject({ status: 'AVAILABLE', errors: [] });
    expect(wabaReviewObservation(target, 'PENDING')).toBeUndefined();
    expect(wabaReviewObservation(target, 'UNDER_APPEAL')).toBeUndefined();
  });
});

describe('a WABA review receipt', () => {
  it('REJECTED fires one critical alert while the WABA is AVAILABLE, not again for a repeat receipt; its check reminds of it; APPROVED resolves it', async () => {
    await setReview('REJECTED');
    expect(rig.forwarder.pushes[0]!.results[0]).toMatchObject({ Outcome: 'processed', Check: 'ok' });
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
    expect(reviewItems()[0]).toMatchObject({ severity: 'critical', errors: [{ ErrorCode: 'Waba.Rejected' }] });
    // GetWhatsappHealthStatus still says AVAILABLE: only the receipt could tell.
    expect((await rig.store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).find((e) => e.subject.entityType === 'WABA')?.status).toBe('AVAILABLE');

    // CAMS says it again (another receipt, with a reason), and redelivers that one: nothing new is sent.
    expect(await push({ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'REJECTED', Reason: 'Business verification failed' })).toMatchObject({ Outcome: 'processed' });
    expect(await push({ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'REJECTED', Reason: 'Business verification failed' })).toMatchObject({ Outcome: 'duplicate' });
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);

    // No check observes it: the WABA's own check reminds of it once ALERT_REPEAT_INTERVAL (4 h) has passed.
    await rig.sweep(clock + HOUR);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
    clock += 4 * HOUR + MINUTE;
    await rig.sweep(clock);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW BLOCKED reminder']);

    await setReview('APPROVED');
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW BLOCKED reminder', 'WABA_REVIEW RESOLVED resolved']);
    expect(await reviewState()).toMatchObject({ status: 'AVAILABLE', firing: false });
  });

  it('is not held back by a BLOCKED WABA (only numbers and templates are): both alerts go out, and the WABA\'s recovery leaves the review firing', async () => {
    clock += MINUTE;
    await rig.pushChange({ NodeType: 'waba', WabaId: WABA }, 'BLOCKED');
    expect(rig.messages()).toEqual([['WABA BLOCKED new']]);
    await setReview('DISABLED');
    expect(rig.messages()).toEqual([['WABA BLOCKED new'], ['WABA_REVIEW BLOCKED new']]);
    expect(await reviewState()).toMatchObject({ group: `waba:${WABA}`, firing: true });
    expect((await reviewState())!.held).toBeUndefined();
    clock += MINUTE;
    await rig.pushChange({ NodeType: 'waba', WabaId: WABA }, 'AVAILABLE');
    expect(rig.messages()).toEqual([['WABA BLOCKED new'], ['WABA_REVIEW BLOCKED new'], ['WABA RESOLVED resolved']]);
    expect(await reviewState()).toMatchObject({ status: 'BLOCKED', firing: true });
  });

  it("is in the WABA's history (GET /health-report/history), with or without its WabaId", async () => {
    await setReview('REJECTED');
    await setReview('APPROVED');
    for (const node of [{ CustSpaceId: rig.space, NodeType: 'waba' as const, WabaId: WABA }, { CustSpaceId: rig.space, NodeType: 'waba' as const }]) {
      const { Nodes } = (await healthHistory(rig.store, node, clock)) as { Nodes: Array<{ EntityType: string; Transitions: Array<{ From: string; To: string }> }> };
      const row = Nodes.find((n) => n.EntityType === 'WABA_REVIEW');
      expect(row, JSON.stringify(node)).toBeDefined();
      expect(row!.Transitions.map((t) => t.To)).toContain('AVAILABLE');
    }
  });

  it('DISABLED after REJECTED is a change; PENDING says nothing (the alert stays until APPROVED)', async () => {
    await setReview('REJECTED');
    await setReview('DISABLED');
    await setReview('PENDING');
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW BLOCKED changed']);
    expect(reviewItems()[1]!.errors.map((e) => e.ErrorCode)).toEqual(['Waba.Disabled']);
    expect(await reviewState()).toMatchObject({ status: 'BLOCKED', firing: true });
  });

  it('carrying the review in AuditStatus (not Status) is read the same; a value the reference page does not list is kept as data, not alerted', async () => {
    expect(await push({ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'UNDER_APPEAL' })).toMatchObject({ Outcome: 'unknown-type', Check: 'ok' });
    expect(await rig.store.list(UNKNOWN_RECEIPT_PREFIX)).toHaveLength(1);
    expect(review()).toEqual([]);
    expect(await push({ Type: 'wabaReviewUpdate', WabaId: WABA, AuditStatus: 'rejected' })).toMatchObject({ Outcome: 'processed' });
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
  });

  it('carrying a PhoneNumber or a TemplateCode is still about its WABA: the review goes on the WABA node, and that number or template is not put under watch', async () => {
    const watchedBefore = (await rig.store.list(WATCH_PREFIX)).map((e) => e.key).sort();
    const waba = targetId({ CustSpaceId: rig.space, NodeType: 'waba', WabaId: WABA });
    const rejected = await push({ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'REJECTED', PhoneNumber: '8613800000629' });
    expect(rejected).toMatchObject({ Outcome: 'processed', Node: waba });
    expect(rejected).not.toHaveProperty('Registered');
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
    expect(await reviewState()).toMatchObject({ group: `waba:${WABA}`, firing: true });
    const approved = await push({ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'APPROVED', TemplateCode: 'welcome', Language: 'en_US' });
    expect(approved).toMatchObject({ Outcome: 'processed', Node: waba });
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW RESOLVED resolved']);
    expect((await rig.store.list(WATCH_PREFIX)).map((e) => e.key).sort()).toEqual(watchedBefore);
  });
});

describe("discovery is the WABA review receipts' backstop", () => {
  it("a REJECTED alert whose APPROVED receipt was lost is resolved by the next discovery's QueryChatappBindWaba, one call per WABA per DISCOVERY_INTERVAL", async () => {
    await discover();
    await rig.sweep(clock);
    // An APPROVED WABA nobody flagged leaves no entity behind.
    expect(await reviewState()).toBeUndefined();
    expect(await queries()).toHaveLength(1);

    await setReview('REJECTED');
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
    await receiptsOff();
    await setReview('APPROVED', false);
    // Within the interval no listing runs: still firing.
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(await queries()).toHaveLength(1);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);

    clock += HOUR;
    await rig.sweep(clock);
    expect(await queries()).toHaveLength(2);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW RESOLVED resolved']);
  });

  it('finds a DISABLED review nobody pushed, and does not alert it again at the next listing', async () => {
    await receiptsOff();
    await setReview('DISABLED', false);
    await discover();
    await rig.sweep(clock);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
    expect(reviewItems()[0]!.errors.map((e) => e.ErrorCode)).toEqual(['Waba.Disabled']);
    clock += HOUR + MINUTE;
    await rig.sweep(clock);
    expect(await queries()).toHaveLength(2);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
  });

  it('a review read before a receipt that came while the listing ran is not applied over it: a REJECTED read, then an APPROVED receipt, alerts nothing', async () => {
    await discover();
    await rig.sweep(clock);
    await receiptsOff();
    await setReview('REJECTED', false);
    // The listing reads REJECTED (its receipt lost) ...
    clock += HOUR + MINUTE;
    const report = await runDiscovery({ store: rig.store, cams: sandboxClient(sandbox), intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: () => clock, log: () => {} });
    const read = report.observations.filter((o) => o.obs.subject.entityType === 'WABA_REVIEW');
    expect(read.map((o) => o.obs.status)).toEqual(['BLOCKED']);
    // ... the review is APPROVED, and its receipt applied, before the sweep applies what the listing read.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: rig.forwarder.url });
    await setReview('APPROVED');
    expect(await reviewState()).toMatchObject({ status: 'AVAILABLE', firing: false });
    clock += MINUTE;
    const ctx = { store: rig.store, policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR }, sinks: ['webhook'], now: () => clock };
    for (const { target, obs } of read) await applyUnobserved(target, obs, 'r', ctx);
    // Applied, it raised a critical alert for a WABA Meta had approved, firing until the next listing.
    expect(await reviewState()).toMatchObject({ status: 'AVAILABLE', firing: false, outbox: [] });
  });

  it("a reply without an Id names the review by the space's WABA from the index, not by a Discover entry's wrong WabaId: no second review alert beside the receipts' one", async () => {
    await setReview('REJECTED');
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
    // A Discover entry of the space posted with a wrong WabaId: the index still names the right one.
    const WRONG = '299399000699';
    expect(await addWatchEntries(rig.store, WatchEntries.parse([{ CustSpaceId: rig.space, WabaId: WRONG, Discover: true }]), 'test')).toBeTruthy();
    expect(await knownWabaOf(rig.store, rig.space)).toBe(WABA);
    const cams = sandboxClient(sandbox);
    const noId: CamsClient = new Proxy(cams, {
      get(target, prop, receiver) {
        if (prop === 'queryBindWaba') {
          return async (...a: Parameters<CamsClient['queryBindWaba']>) => {
            const r = await target.queryBindWaba(...a);
            return { ...r, data: { ...r.data, Id: undefined } };
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    });
    clock += MINUTE;
    const report = await runDiscovery({ store: rig.store, cams: noId, intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: () => clock, log: () => {} });
    const read = report.observations.filter((o) => o.obs.subject.entityType === 'WABA_REVIEW');
    expect(read.map((o) => [o.obs.subject.wabaId, o.obs.status])).toEqual([[WABA, 'BLOCKED']]);
    const ctx = { store: rig.store, policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR }, sinks: ['webhook'], now: () => clock };
    for (const { target, obs } of read) await applyUnobserved(target, obs, 'r', ctx);
    const reviews = (await rig.store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).filter((e) => e.subject.entityType === 'WABA_REVIEW');
    expect(reviews.map((e) => [e.subject.wabaId, e.firing])).toEqual([[WABA, true]]);
  });

  it('a refused query changes nothing (no resolution, no alert of its own); the next one that works resolves', async () => {
    await discover();
    await rig.sweep(clock);
    await setReview('REJECTED');
    await receiptsOff();
    await setReview('APPROVED', false);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', action: 'QueryChatappBindWaba' }] });
    clock += HOUR + MINUTE;
    await rig.sweep(clock);
    expect((await queries()).at(-1)).toMatchObject({ Code: 'Ram.PermissionDeny' });
    expect(rig.messages()).toEqual([['WABA_REVIEW BLOCKED new']]);
    expect(await reviewState()).toMatchObject({ status: 'BLOCKED', firing: true });

    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
    clock += HOUR + MINUTE;
    await rig.sweep(clock);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW RESOLVED resolved']);
  });
});

describe('a WABA review alert when its WABA leaves the watch list', () => {
  it('is closed out (RESOLVED unwatched), once, and is not reminded after', async () => {
    await setReview('REJECTED');
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
    expect(await removeWatchEntries(rig.store, WatchEntries.parse([{ CustSpaceId: rig.space, NodeType: 'waba', WabaId: WABA }]))).toMatchObject({ Removed: 1 });
    clock += MINUTE;
    await rig.sweep(clock);
    clock += MINUTE;
    await rig.sweep(clock);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW RESOLVED unwatched']);
    expect(await reviewState()).toBeUndefined();
    clock += 5 * HOUR;
    await rig.sweep(clock);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW RESOLVED unwatched']);
  });

  it('found by discovery, is closed out when the Discover entry is removed', async () => {
    await receiptsOff();
    await setReview('DISABLED', false);
    await discover();
    await rig.sweep(clock);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
    await removeWatchEntries(rig.store, WatchEntries.parse([{ CustSpaceId: rig.space, NodeType: 'waba', WabaId: WABA }]));
    clock += MINUTE;
    await rig.sweep(clock);
    clock += MINUTE;
    await rig.sweep(clock);
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW RESOLVED unwatched']);
  });

  it('is closed out while a number of its space stays watched (that number reaches the WABA, not its review)', async () => {
    await addWatchEntries(rig.store, WatchEntries.parse([{ CustSpaceId: rig.space, NodeType: 'phone', PhoneNumber: '8613800000620' }]), 'test');
    await rig.sweep(clock);
    await setReview('REJECTED');
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new']);
    await removeWatchEntries(rig.store, WatchEntries.parse([{ CustSpaceId: rig.space, NodeType: 'waba', WabaId: WABA }]));
    for (let i = 0; i < 3; i++) {
      clock += MINUTE;
      await rig.sweep(clock);
    }
    expect(review()).toEqual(['WABA_REVIEW BLOCKED new', 'WABA_REVIEW RESOLVED unwatched']);
  });
});
