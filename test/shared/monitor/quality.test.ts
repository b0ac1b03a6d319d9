import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { sinksFromEnv } from '../../../shared/alerts/sinks/index.ts';
import { loadMonitorConfig } from '../../../shared/config/monitor.ts';
import { listHistories } from '../../../shared/history/record.ts';
import { qualityObservation, tierRank, withNewerRating } from '../../../shared/monitor/quality.ts';
import { evaluate } from '../../../shared/monitor/rules.ts';
import { WATCH_PREFIX } from '../../../shared/monitor/targets.ts';
import { camsEventsHandler } from '../../../shared/services/cams-events.ts';
import { runHealthMonitor } from '../../../shared/services/health-monitor.ts';
import { statusPageHtml } from '../../../shared/services/status-page.ts';
import type { Store } from '../../../shared/store/port.ts';
import { handler as watchListHandler } from '../../../functions/watch-list/handler.ts';
import { fcContext, fixture, httpEvent, parseReply } from '../../support/events.ts';
import { onboardThroughFunctions, sandboxAndStorePerFile } from '../../support/monitor.ts';
import { receiptPushEvent } from '../../support/receipt-forwarder.ts';
import { startReceivers, type Receivers } from '../../support/receivers/index.ts';
import { CALLER_KEY, sandboxControl } from '../../support/sandbox-env.ts';

// A phone's quality reaches the monitor two ways: a phoneQualityUpdate receipt (cams-events) and
// discovery's QueryChatappPhoneNumbers listing (the sweep). Both describe one PHONE_QUALITY entity,
// so one state must be one alert whichever path saw it first.
const TOKEN = 'receipt-token-quality-0123456789';
const WABA = '2234567890';
const MINUTE = 60_000;
let sandbox: RunningSandbox;
let store: Store;
let storeUrl: string;
let receivers: Receivers;
let space: string;
let n = 0;

sandboxAndStorePerFile((parts) => ({ sandbox, store, storeUrl } = parts));
beforeEach(async () => {
  await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
  for (const r of await store.list('')) await store.delete(r.key);
  receivers = await startReceivers({ kinds: ['webhook'] });
  space = await onboardThroughFunctions(WABA, [{ cc: '65', phone: '90001234' }]);
  const req = signRouteRequest({ method: 'POST', path: '/watch-list', body: { Targets: [{ CustSpaceId: space, WabaId: WABA, Discover: true }] } }, 'h', CALLER_KEY, { nonce: `quality-${process.pid}-${++n}` });
  expect(parseReply(await watchListHandler(httpEvent(req, 'fc-http'), fcContext() as never)).statusCode).toBe(200);
});
afterEach(async () => {
  await receivers.close();
});

const key = DEFAULT_SANDBOX_KEYS[0]!;
const ctx = () => fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;
const env = () => ({ STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, DISCOVERY_INTERVAL: '1m', ...receivers.env });

/** A health-monitor tick at `clock`, with DISCOVERY_INTERVAL=1m, sending to the same webhook as cams-events. */
async function sweep(clock: number) {
  const inv = { event: fixture('timer-event.json'), context: ctx(), requestId: 'tick', deadline: Date.now() + 60_000 };
  return runHealthMonitor(inv, { config: loadMonitorConfig(env()), store, sinks: sinksFromEnv(env()) }, () => clock);
}

/** cams-events as CAMS's HTTP callback reaches it, its alert clock at `clock`. */
async function receipt(clock: number, receipts: unknown[]): Promise<{ Results: Array<Record<string, unknown>> }> {
  const handler = camsEventsHandler({ env: { ...env(), CAMS_RECEIPT_TOKEN: TOKEN }, write: () => {}, alertClock: () => clock });
  const reply = (await handler(receiptPushEvent(receipts, TOKEN), ctx())) as { statusCode: number; body: string };
  expect(reply.statusCode).toBe(200);
  return (JSON.parse(reply.body) as { Data: { Results: Array<Record<string, unknown>> } }).Data;
}

type Item = { status: string; reason: string; node: string; errors: Array<{ ErrorCode: string }> };
const qualityItems = () => receivers.received.webhook.flatMap((m) => (m.body as { items: Item[] }).items).filter((i) => i.node.startsWith('PHONE_QUALITY'));

describe('one quality state, one alert, whichever path reports it', () => {
  it('a YELLOW receipt, then discovery listing the same YELLOW a minute later: one warning, not a second one "changed"', async () => {
    let clock = Date.now();
    await sweep(clock); // discovery lists the number GREEN and puts it under watch
    expect(await store.get(`${WATCH_PREFIX}phone:${space}:6590001234`)).toBeDefined();
    expect(qualityItems()).toEqual([]);

    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '6590001234', QualityRating: 'YELLOW' });
    clock += 10_000;
    await receipt(clock, [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: '6590001234', Status: 'YELLOW' }]);
    expect(qualityItems().map((i) => [i.status, i.reason])).toEqual([['LIMITED', 'new']]);

    clock += MINUTE;
    await sweep(clock); // DISCOVERY_INTERVAL is over: the listing says YELLOW too
    expect(qualityItems().map((i) => [i.status, i.reason, i.errors.map((e) => e.ErrorCode)])).toEqual([['LIMITED', 'new', ['QualityRating.YELLOW']]]);

    // GREEN by receipt resolves it once; discovery's GREEN after it sends nothing more.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '6590001234', QualityRating: 'GREEN' });
    clock += 10_000;
    await receipt(clock, [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: '6590001234', Status: 'GREEN' }]);
    clock += MINUTE;
    await sweep(clock);
    expect(qualityItems().map((i) => [i.status, i.reason])).toEqual([
      ['LIMITED', 'new'],
      ['RESOLVED', 'resolved'],
    ]);
  });

  it('discovery first (YELLOW and a dropped tier), then the YELLOW receipt: nothing new, and the tier drop is not lost by the receipt', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '6590001234', MessagingLimitTier: 'TIER_10K' });
    let clock = Date.now();
    await sweep(clock);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '6590001234', QualityRating: 'YELLOW', MessagingLimitTier: 'TIER_1K' });
    clock += MINUTE;
    await sweep(clock);
    expect(qualityItems().map((i) => [i.reason, i.errors.map((e) => e.ErrorCode)])).toEqual([['new', ['QualityRating.YELLOW', 'MessagingLimitTier.Dropped.TIER_1K']]]);

    clock += 10_000;
    await receipt(clock, [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: '6590001234', Status: 'YELLOW' }]);
    clock += MINUTE;
    await sweep(clock);
    expect(qualityItems()).toHaveLength(1);
  });
});

describe('the rating is known on the node', () => {
  it("a YELLOW then a GREEN receipt: history's transitions carry the rating (Quality) and the status page names it on the node", async () => {
    let clock = Date.now();
    await sweep(clock);
    const qualityHistory = async () => (await listHistories(store, space)).find((h) => h.subject.entityType === 'PHONE_QUALITY')!;

    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '6590001234', QualityRating: 'YELLOW' });
    clock += 10_000;
    await receipt(clock, [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: '6590001234', Status: 'YELLOW' }]);
    expect((await qualityHistory()).transitions.map((t) => [t.to, t.quality])).toEqual([['LIMITED', 'YELLOW']]);
    expect(await statusPageHtml(store, { now: clock, refreshSeconds: 0 })).toContain('6590001234 quality: YELLOW</span>');

    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '6590001234', QualityRating: 'GREEN' });
    clock += 10_000;
    await receipt(clock, [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: '6590001234', Status: 'GREEN' }]);
    expect((await qualityHistory()).transitions.map((t) => [t.to, t.quality])).toEqual([
      ['LIMITED', 'YELLOW'],
      ['AVAILABLE', 'GREEN'],
    ]);
  });
});

describe('a quality receipt after discovery changed the rating', () => {
  it('YELLOW by receipt, GREEN by discovery (its receipt lost), then the same YELLOW receipt again: a new warning, not a duplicate', async () => {
    let clock = Date.now();
    await sweep(clock);
    const yellow = [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: '6590001234', Status: 'YELLOW' }];
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '6590001234', QualityRating: 'YELLOW' });
    clock += 10_000;
    await receipt(clock, yellow);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '6590001234', QualityRating: 'GREEN' });
    clock += MINUTE;
    await sweep(clock);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '6590001234', QualityRating: 'YELLOW' });
    clock += 10_000;
    const again = await receipt(clock, yellow);
    expect(again.Results.map((r) => r['Outcome'])).toEqual(['processed']);
    expect(qualityItems().map((i) => [i.status, i.reason])).toEqual([
      ['LIMITED', 'new'],
      ['RESOLVED', 'resolved'],
      ['LIMITED', 'new'],
    ]);
    // CAMS's retry of that push is a duplicate.
    expect((await receipt(clock + 1000, yellow)).Results.map((r) => r['Outcome'])).toEqual(['duplicate']);
  });
});

describe('qualityObservation', () => {
  const target = { CustSpaceId: 'C1', NodeType: 'phone' as const, WabaId: '1', PhoneNumber: '8613800000000' };
  it('GREEN at the peak tier is AVAILABLE; YELLOW and RED are LIMITED with their own code; UNKNOWN is not a drop', () => {
    expect(qualityObservation(target, { QualityRating: 'GREEN', MessagingLimitTier: 'TIER_1K', PeakMessagingLimitTier: 'TIER_1K' }).status).toBe('AVAILABLE');
    expect(qualityObservation(target, { QualityRating: 'UNKNOWN' }).status).toBe('AVAILABLE');
    expect(qualityObservation(target, { QualityRating: 'YELLOW' }).errors.map((e) => e.ErrorCode)).toEqual(['QualityRating.YELLOW']);
    const both = qualityObservation(target, { QualityRating: 'RED', MessagingLimitTier: 'TIER_250', PeakMessagingLimitTier: 'TIER_10K' });
    expect(both.status).toBe('LIMITED');
    expect(both.errors.map((e) => e.ErrorCode)).toEqual(['QualityRating.RED', 'MessagingLimitTier.Dropped.TIER_250']);
  });

  // Meta's tiers now include TIER_2K (the 1K step became 2K): unknown to a fixed list, a drop to it,
  // or from it, was no drop at all.
  it('every tier CAMS may report is ranked by its limit: a drop to or from TIER_2K is one; TIER_NOT_SET is no tier', () => {
    const tier = (MessagingLimitTier: string, PeakMessagingLimitTier: string) => qualityObservation(target, { QualityRating: 'GREEN', MessagingLimitTier, PeakMessagingLimitTier });
    expect(tier('TIER_2K', 'TIER_10K').errors.map((e) => e.ErrorCode)).toEqual(['MessagingLimitTier.Dropped.TIER_2K']);
    expect(tier('TIER_250', 'TIER_2K').status).toBe('LIMITED');
    expect(tier('TIER_10K', 'TIER_2K').status).toBe('AVAILABLE');
    expect(tier('TIER_100K', 'TIER_UNLIMITED').status).toBe('LIMITED');
    expect(tier('TIER_NOT_SET', 'TIER_1K').status).toBe('AVAILABLE');
    expect([undefined, 'TIER_NOT_SET', 'TIER_10', 'TIER_50', 'TIER_250', 'TIER_1K', 'TIER_2K', 'TIER_10K', 'TIER_100K', 'TIER_UNLIMITED'].map(tierRank)).toEqual([-1, -1, 10, 50, 250, 1000, 2000, 10_000, 100_000, Infinity]);
  });

  // One code for every drop made a further drop (TIER_1K → TIER_250) the same alert: no message
  // until the reminder, hours later. The code names the tier, so the rules tell it as a change.
  it('a further drop is a changed alert, at once; the same tier again is nothing; back to the peak resolves', () => {
    const ctx = (now: number) => ({ now, round: `r${now}`, policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, inhibited: false, sinks: ['chat'] });
    const obs = (t: string) => qualityObservation(target, { QualityRating: 'GREEN', MessagingLimitTier: t, PeakMessagingLimitTier: 'TIER_10K' });
    let s = evaluate(undefined, obs('TIER_1K'), ctx(1000));
    const reasons = () => s.outbox.map((e) => e.item.reason);
    expect(reasons()).toEqual(['new']);
    s = evaluate(s, obs('TIER_250'), ctx(2000));
    expect(reasons()).toEqual(['new', 'changed']);
    s = evaluate(s, obs('TIER_250'), ctx(3000));
    expect(reasons()).toEqual(['new', 'changed']);
    s = evaluate(s, obs('TIER_10K'), ctx(4000));
    expect(reasons()).toEqual(['new', 'changed', 'resolved']);
  });

  // A listing's read applied over a receipt's newer rating (check.ts): the rating, and its reason, are
  // the receipt's; the tier, which no receipt says, is the listing's.
  it("withNewerRating: the newer state's rating (its reason kept) with the listing's tier; neither bad is AVAILABLE", () => {
    const ctx = { now: 1000, round: 'r', policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 }, inhibited: false, sinks: ['chat'] };
    const receipt = (q: string, tier: string) => evaluate(undefined, qualityObservation(target, { QualityRating: q, MessagingLimitTier: tier, PeakMessagingLimitTier: 'TIER_10K' }, 'user reports'), ctx);
    const listed = (q: string, tier: string) => qualityObservation(target, { QualityRating: q, MessagingLimitTier: tier, PeakMessagingLimitTier: 'TIER_10K' });
    const merged = withNewerRating(listed('RED', 'TIER_1K'), receipt('YELLOW', 'TIER_10K'));
    expect(merged).toMatchObject({ status: 'LIMITED', quality: 'YELLOW', subject: listed('RED', 'TIER_1K').subject });
    expect(merged.errors.map((e) => e.ErrorCode)).toEqual(['QualityRating.YELLOW', 'MessagingLimitTier.Dropped.TIER_1K']);
    expect(merged.errors[0]!.ErrorDescription).toContain('user reports');
    expect(withNewerRating(listed('RED', 'TIER_10K'), receipt('GREEN', 'TIER_1K'))).toMatchObject({ status: 'AVAILABLE', errors: [], quality: 'GREEN' });
  });
});
