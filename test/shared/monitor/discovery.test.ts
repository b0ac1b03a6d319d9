import { beforeEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { loadMonitorConfig } from '../../../shared/config/monitor.ts';
import { runHealthMonitor } from '../../../shared/services/health-monitor.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CamsClient } from '../../../shared/cams/client.ts';
import { applyUnobserved } from '../../../shared/monitor/check.ts';
import { runDiscovery } from '../../../shared/monitor/discovery.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/entity-store.ts';
import { knownWabaOf, SPACE_WABA_PREFIX, WABA_SPACE_PREFIX } from '../../../shared/monitor/waba-space.ts';
import { applyReceipts } from '../../../shared/receipts/apply.ts';
import { parseBatch } from '../../../shared/receipts/parse.ts';
import { DISCOVERY_PREFIX, REMOVED_EXPIRING_KEY, REMOVED_KEEP_MS, REMOVED_PREFIX, removedRecord, WATCH_PREFIX, type RegisteredTarget } from '../../../shared/monitor/targets.ts';
import { TARGET_INFO_PREFIX } from '../../../shared/monitor/target-info.ts';
import { addWatchEntries, removeWatchEntries } from '../../../shared/watch-list/store.ts';
import { StoreError, type Store } from '../../../shared/store/port.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import { handler as watchListHandler } from '../../../functions/watch-list/handler.ts';
import { fcContext, fixture, httpEvent, parseReply } from '../../support/events.ts';
import { onboardThroughFunctions, RecordingSink, sandboxAndStorePerFile, sandboxClient } from '../../support/monitor.ts';
import { CALLER_KEY, sandboxControl } from '../../support/sandbox-env.ts';
import { bind, KEY_B } from '../../local/sandbox/helpers.ts';

const HOUR = 3_600_000;
const WABA = '499399000100';
let sandbox: RunningSandbox;
let store: Store;
let storeUrl: string;
let space: string;
let n = 0;

sandboxAndStorePerFile((parts) => ({ sandbox, store, storeUrl } = parts));
beforeEach(async () => {
  await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
  for (const r of await store.list(WATCH_PREFIX)) await store.delete(r.key);
  for (const r of await store.list('monitor/')) await store.delete(r.key);
  for (const r of await store.list(REMOVED_PREFIX)) await store.delete(r.key);
  space = await onboardThroughFunctions(WABA, [
    { cc: '86', phone: '13800000401' },
    { cc: '86', phone: '13800000402' },
  ]);
  await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', {
    CustSpaceId: space,
    Templates: [
      { TemplateCode: 'order_update', Language: 'en_US' },
      { TemplateCode: 'order_update', Language: 'zh_CN' },
      { TemplateCode: 'welcome', Language: 'en' },
    ],
  });
});

async function sweep(clock: number, sink: RecordingSink, on: Store = store, more: Record<string, string> = {}, securityToken?: string) {
  const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...more };
  const key = DEFAULT_SANDBOX_KEYS[0]!;
  const credentials = { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret, ...(securityToken ? { securityToken } : {}) };
  const inv = { event: fixture('timer-event.json'), context: fcContext({ credentials }) as never, requestId: 'tick', deadline: Date.now() + 60_000 };
  return runHealthMonitor(inv, { config: loadMonitorConfig(env), store: on, sinks: [sink] }, () => clock);
}

/** The store as a process sees it that dies after `writes` more writes to the watch list: nothing after that lands. */
function dyingAfter(writes: number): Store {
  let left = writes;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return async (key: string, ...rest: unknown[]) => {
          if (key.startsWith(WATCH_PREFIX) && left-- <= 0) throw new StoreError('UNAVAILABLE', 'the process died here');
          return (target.put as (...a: unknown[]) => Promise<unknown>)(key, ...rest);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function calls(): Promise<CallRecord[]> {
  return (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as CallRecord[];
}

/** A watch-list call through its function, signed as a caller signs it; by default this file's Discover entry. */
async function watchListCall(method: string, targets: unknown[] = [{ CustSpaceId: space, WabaId: WABA, Discover: true }]) {
  const req = signRouteRequest({ method, path: '/watch-list', body: { Targets: targets } }, 'h', CALLER_KEY, { nonce: `disc-${process.pid}-${++n}` });
  return parseReply(await watchListHandler(httpEvent(req, 'fc-http'), fcContext() as never));
}

async function watched(): Promise<Array<{ id: string } & RegisteredTarget>> {
  return (await store.list<RegisteredTarget>(WATCH_PREFIX)).map((r) => ({ id: r.key.slice(WATCH_PREFIX.length), ...r.value }));
}

const checkedNodes = (log: CallRecord[]) =>
  log
    .filter((c) => c.Action === 'GetWhatsappHealthStatus' && c.Code === 'OK')
    .map((c) => (c.Params['NodeType'] === 'phone' ? `phone:${c.Params['PhoneNumber']}` : c.Params['NodeType'] === 'template' ? `template:${c.Params['TemplateCode']}/${c.Params['Language']}` : 'waba'))
    .sort();

describe('discovery: a WABA watched with Discover brings its numbers and templates under watch', () => {
  it('2 numbers + 3 templates are watched and checked; a removed number is retired without an alert; GREEN → YELLOW is one warning', async () => {
    const posted = await watchListCall('POST');
    expect(posted.statusCode).toBe(200);

    const sink = new RecordingSink();
    let clock = Date.now();
    let mark = (await calls()).length;

    const first = await sweep(clock, sink);
    expect(first.roundComplete).toBe(true);
    const nodes = await watched();
    expect(nodes.map((x) => x.id).sort()).toEqual(
      [`phone:${space}:8613800000401`, `phone:${space}:8613800000402`, `template:${space}:order_update/en_US`, `template:${space}:order_update/zh_CN`, `template:${space}:welcome/en`, `waba:${space}:${WABA}`].sort(),
    );
    const phone = nodes.find((x) => x.id.endsWith('8613800000401'))!;
    expect(phone.discoveredBy).toBe(`waba:${space}:${WABA}`);
    expect(phone.attributes).toMatchObject({ QualityRating: 'GREEN', MessagingLimitTier: 'TIER_1K', PeakMessagingLimitTier: 'TIER_1K', Status: 'CONNECTED' });
    expect(nodes.find((x) => x.id.endsWith('welcome/en'))!.attributes).toMatchObject({ AuditStatus: 'pass' });
    let log = (await calls()).slice(mark);
    expect(log.filter((c) => c.Action === 'QueryChatappPhoneNumbers')).toHaveLength(1);
    expect(log.filter((c) => c.Action === 'ListChatappTemplate')).toHaveLength(1);
    expect(checkedNodes(log)).toEqual(['phone:8613800000401', 'phone:8613800000402', 'template:order_update/en_US', 'template:order_update/zh_CN', 'template:welcome/en', 'waba']);
    expect(sink.received).toEqual([]);

    // Within DISCOVERY_INTERVAL (1 h) no listing is repeated.
    mark = (await calls()).length;
    clock += 5 * 60_000;
    await sweep(clock, sink);
    log = (await calls()).slice(mark);
    expect(log.filter((c) => c.Action === 'QueryChatappPhoneNumbers' || c.Action === 'ListChatappTemplate')).toEqual([]);
    expect(checkedNodes(log)).toHaveLength(6);

    // A number removed in CAMS: retired at the next discovery, before the checks, so no alert at all.
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000401' });
    clock += HOUR;
    mark = (await calls()).length;
    const third = await sweep(clock, sink);
    expect(third.transientFailures).toBe(0);
    expect((await watched()).map((x) => x.id)).not.toContain(`phone:${space}:8613800000401`);
    expect((await watched())).toHaveLength(5);
    log = (await calls()).slice(mark);
    expect(log.filter((c) => c.Action === 'QueryChatappPhoneNumbers')).toHaveLength(1);
    expect(checkedNodes(log)).toEqual(['phone:8613800000402', 'template:order_update/en_US', 'template:order_update/zh_CN', 'template:welcome/en', 'waba']);
    expect(sink.received).toEqual([]);

    // GREEN → YELLOW: one warning; the same rating an hour later: nothing new.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000402', QualityRating: 'YELLOW' });
    clock += HOUR;
    await sweep(clock, sink);
    expect(sink.received).toHaveLength(1);
    const [note] = sink.received;
    expect(note!.severity).toBe('warning');
    expect(note!.items).toHaveLength(1);
    expect(note!.items[0]).toMatchObject({ status: 'LIMITED', reason: 'new', errors: [expect.objectContaining({ ErrorCode: 'QualityRating.YELLOW' })] });
    expect(note!.items[0]!.node).toContain('8613800000402');
    clock += HOUR;
    await sweep(clock, sink);
    expect(sink.received).toHaveLength(1);
    expect((await watched()).find((x) => x.id.endsWith('8613800000402'))!.attributes).toMatchObject({ QualityRating: 'YELLOW' });
  });

  it('a number removed within DISCOVERY_INTERVAL: its check meets Unknown.ResourceOwnerId, its WABA is listed again at once, it is retired, no alert', async () => {
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    let clock = Date.now();
    await sweep(clock, sink);
    expect(await watched()).toHaveLength(6);

    // Removed in CAMS five minutes later: discovery is not due for another 55 minutes.
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000401' });
    clock += 5 * 60_000;
    const mark = (await calls()).length;
    const report = await sweep(clock, sink);
    const log = (await calls()).slice(mark);
    // The check was refused, which listed that WABA once more (and only then), and the number went.
    expect(log.filter((c) => c.Action === 'GetWhatsappHealthStatus' && c.Params['PhoneNumber'] === '8613800000401').map((c) => c.Code)).toEqual(['Unknown.ResourceOwnerId']);
    expect(log.filter((c) => c.Action === 'QueryChatappPhoneNumbers')).toHaveLength(1);
    expect((await watched()).map((x) => x.id)).not.toContain(`phone:${space}:8613800000401`);
    expect(report.roundComplete).toBe(true);
    expect(sink.received).toEqual([]);
    expect((await store.list('monitor/entity/')).filter((e) => JSON.stringify(e.value).includes('TargetRejected'))).toEqual([]);
  });

  it('a number removed from one WABA is retired by listing that WABA again; another WABA\'s discovered nodes stay watched', async () => {
    const otherWaba = '499399000110';
    const other = await onboardThroughFunctions(otherWaba, [{ cc: '86', phone: '13800000411' }]);
    expect((await watchListCall('POST', [{ CustSpaceId: space, WabaId: WABA, Discover: true }, { CustSpaceId: other, WabaId: otherWaba, Discover: true }])).statusCode).toBe(200);
    const sink = new RecordingSink();
    let clock = Date.now();
    await sweep(clock, sink);
    const before = (await watched()).map((x) => x.id).sort();
    expect(before).toContain(`phone:${other}:8613800000411`);
    expect(before).toHaveLength(8);

    // Within the interval: the refused check lists this WABA again (only it), which must not take the other's nodes.
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000401' });
    clock += 5 * 60_000;
    const mark = (await calls()).length;
    await sweep(clock, sink);
    expect((await watched()).map((x) => x.id).sort()).toEqual(before.filter((id) => id !== `phone:${space}:8613800000401`));
    const log = (await calls()).slice(mark);
    expect(log.filter((c) => c.Action === 'QueryChatappPhoneNumbers').map((c) => c.Params['CustSpaceId'])).toEqual([space]);
    expect(checkedNodes(log.filter((c) => c.Params['CustSpaceId'] === other))).toEqual(['phone:8613800000411', 'waba']);
    expect(sink.received).toEqual([]);
  });

  it('every discovered node refused (the Discover entry names a WabaId the space does not have): its WABA is listed again once per sweep, not once per node', async () => {
    expect((await watchListCall('POST', [{ CustSpaceId: space, WabaId: '499399000199', Discover: true }])).statusCode).toBe(200);
    const sink = new RecordingSink();
    let clock = Date.now();
    for (let tick = 0; tick < 2; tick++) {
      const mark = (await calls()).length;
      await sweep(clock, sink);
      const log = (await calls()).slice(mark);
      // 5 nodes refused: the scheduled listing (first tick only) plus one listing again, not five.
      expect(log.filter((c) => c.Action === 'QueryChatappPhoneNumbers')).toHaveLength(tick === 0 ? 2 : 1);
      expect(log.filter((c) => c.Action === 'GetWhatsappHealthStatus' && c.Code === 'Unknown.ResourceOwnerId')).toHaveLength(6);
      clock += 5 * 60_000;
    }
    expect(await watched()).toHaveLength(6);
    const rejected = sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'TargetRejected');
    expect(rejected).toHaveLength(6);
  });

  it('a Discover entry deleted and posted again is listed at the next round, not an interval after its old listing', async () => {
    const entry = { CustSpaceId: space, WabaId: WABA, Discover: true };
    const send = (method: string) => watchListCall(method, [entry]);
    expect((await send('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    expect(await watched()).toHaveLength(6);
    // Removed by mistake and posted again before the monitor's next round.
    expect((await send('DELETE')).body.Data).toMatchObject({ Removed: 1, Retired: 5 });
    expect((await send('POST')).body.Data).toMatchObject({ Added: 1 });
    await sweep(clock + 5 * 60_000, sink);
    expect((await watched()).map((x) => x.id).sort()).toEqual(
      [`phone:${space}:8613800000401`, `phone:${space}:8613800000402`, `template:${space}:order_update/en_US`, `template:${space}:order_update/zh_CN`, `template:${space}:welcome/en`, `waba:${space}:${WABA}`].sort(),
    );
  });

  it('a Discover entry deleted before its WABA was first checked: its discovery record goes at the next round (the removal pass deletes one only beside a target record)', async () => {
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const id = `waba:${space}:${WABA}`;
    // Listed (as a sweep's discovery lists it, before the round's checks), then deleted before any check.
    const clock = Date.now();
    await runDiscovery({ store, cams: sandboxClient(sandbox), intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: () => clock, log: () => {} });
    expect(await store.get(DISCOVERY_PREFIX + id)).toBeDefined();
    expect(await store.get(TARGET_INFO_PREFIX + id)).toBeUndefined();
    expect((await watchListCall('DELETE')).body.Data).toMatchObject({ Removed: 1, Retired: 5 });
    await sweep(clock + 5 * 60_000, new RecordingSink());
    expect(await store.list(DISCOVERY_PREFIX)).toEqual([]);
  });

  it('a node posted by hand (not discovery\'s) that CAMS refuses is still a TargetRejected alert', async () => {
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    // Watched by hand (no discoveredBy) in the same space, unknown to CAMS: not discovery's to retire.
    const ghost = { CustSpaceId: space, NodeType: 'template', TemplateCode: 'ghost', Language: 'en' };
    await store.put(`${WATCH_PREFIX}template:${space}:ghost/en`, { target: ghost, source: 'test', registeredAt: new Date(clock).toISOString() });
    await sweep(clock + 5 * 60_000, sink);
    expect(sink.received.flatMap((m) => m.items.map((i) => i.subject.entityType))).toContain('TargetRejected');
  });

  it('a limit-tier drop is a warning until the tier is back, and a further drop is a change; removing the Discover entry retires what it discovered', async () => {
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    let clock = Date.now();
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000401', MessagingLimitTier: 'TIER_10K' });
    await sweep(clock, sink);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000401', MessagingLimitTier: 'TIER_1K' });
    clock += HOUR;
    await sweep(clock, sink);
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]!.items[0]!.errors.map((e) => e.ErrorCode)).toEqual(['MessagingLimitTier.Dropped.TIER_1K']);
    // Dropping further is told at once (it was the same code: silent till the reminder, hours later).
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000401', MessagingLimitTier: 'TIER_250' });
    clock += HOUR;
    await sweep(clock, sink);
    expect(sink.received).toHaveLength(2);
    expect(sink.received[1]!.items.map((i) => [i.reason, i.errors.map((e) => e.ErrorCode)])).toEqual([['changed', ['MessagingLimitTier.Dropped.TIER_250']]]);
    expect(sink.received[1]!.items[0]!.errors[0]!.ErrorDescription).toContain('from TIER_10K to TIER_250');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000401', MessagingLimitTier: 'TIER_10K' });
    clock += HOUR;
    await sweep(clock, sink);
    expect(sink.received).toHaveLength(3);
    expect(sink.received[2]!.items[0]!.reason).toBe('resolved');

    const removed = await watchListCall('DELETE');
    expect(removed.body.Data).toMatchObject({ Removed: 1, Retired: 5 });
    expect(await watched()).toEqual([]);
  });
});

describe("a node a receipt put under watch is its WABA's Discover entry's", () => {
  const receiptDeps = (clock: number) => ({ store, cams: sandboxClient(sandbox), policy: { minConsecutive: 1, repeatIntervalMs: 24 * HOUR }, sinks: ['recording'], envTargets: [], now: () => clock, deadline: Date.now() + 10_000, log: () => {} });
  const blocked = (phone: string) => parseBatch([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: phone, Status: 'BLOCKED' }]).receipts;

  it('a receipt before any listing: deleting the Discover entry retires the number the receipt added (it stayed watched, alerting, with no WABA watched)', async () => {
    expect((await watchListCall('POST')).statusCode).toBe(200);
    expect(await applyReceipts(blocked('8613800000401'), receiptDeps(Date.now()))).toMatchObject([{ Outcome: 'processed', Registered: true }]);
    const added = (await watched()).find((x) => x.id === `phone:${space}:8613800000401`);
    expect(added).toMatchObject({ source: 'receipt:wabaAccountUpdate', discoveredBy: `waba:${space}:${WABA}` });

    const removed = await watchListCall('DELETE');
    expect(removed.body.Data).toMatchObject({ Removed: 1, Retired: 1 });
    expect(await watched()).toEqual([]);
  });

  it("is watched with the receipt's WabaId, as a listed number: its TargetRejected alert carries it, so a WabaId silence holds it", async () => {
    expect((await watchListCall('POST', [{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA }])).statusCode).toBe(200);
    expect(await applyReceipts(blocked('8613800000401'), receiptDeps(Date.now()))).toMatchObject([{ Outcome: 'processed', Registered: true }]);
    const added = (await watched()).find((x) => x.id === `phone:${space}:8613800000401`);
    expect(added?.target).toEqual({ CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: '8613800000401' });
  });

  it('a receipt while the WABA was watched without Discover: the listing adopts the number, and deleting the Discover entry retires it', async () => {
    expect((await watchListCall('POST', [{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA }])).statusCode).toBe(200);
    let clock = Date.now();
    expect(await applyReceipts(blocked('8613800000402'), receiptDeps(clock))).toMatchObject([{ Outcome: 'processed', Registered: true }]);
    expect((await watched()).find((x) => x.id === `phone:${space}:8613800000402`)?.discoveredBy).toBeUndefined();
    expect((await watchListCall('POST')).body.Data).toMatchObject({ Updated: 1 });
    clock += HOUR;
    await sweep(clock, new RecordingSink());
    expect((await watched()).find((x) => x.id === `phone:${space}:8613800000402`)).toMatchObject({ source: 'receipt:wabaAccountUpdate', discoveredBy: `waba:${space}:${WABA}` });

    const removed = await watchListCall('DELETE');
    expect(removed.body.Data).toMatchObject({ Removed: 1, Retired: 5 });
    expect(await watched()).toEqual([]);
  });
  it('one no listing shows yet is kept for an hour (a listing taken right after the receipt may not show it), then retired', async () => {
    expect((await watchListCall('POST')).statusCode).toBe(200);
    let clock = Date.now();
    await sweep(clock, new RecordingSink());
    const id = `phone:${space}:8613800000403`;
    clock += 30 * 60_000;
    expect(await applyReceipts(blocked('8613800000403'), receiptDeps(clock))).toMatchObject([{ Outcome: 'processed', Registered: true }]);
    // The sandbox does not list the number: the next listing, 30 minutes after the receipt, leaves it.
    clock += 30 * 60_000;
    await sweep(clock, new RecordingSink());
    expect((await watched()).find((x) => x.id === id)).toMatchObject({ source: 'receipt:wabaAccountUpdate' });
    // The one after, 90 minutes after the receipt, still does not list it: retired as a node CAMS no longer lists.
    clock += HOUR;
    await sweep(clock, new RecordingSink());
    expect((await watched()).find((x) => x.id === id)).toBeUndefined();
  });
});

describe("discovery is the template receipts' backstop", () => {
  it("a template rejected by a receipt whose 'pass' receipt was lost: the next listing, which says pass, resolves it; a pause, which the listing cannot say, stays", async () => {
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    let clock = Date.now();
    await sweep(clock, sink);
    const deps = { store, cams: sandboxClient(sandbox), policy: { minConsecutive: 1, repeatIntervalMs: 24 * HOUR }, sinks: [sink.name], envTargets: [], now: () => clock, deadline: Date.now() + 10_000, log: () => {} };
    const receipt = (AuditStatus: string) => applyReceipts(parseBatch([{ Type: 'template', WabaId: WABA, TemplateCode: 'order_update', Language: 'en_US', AuditStatus, Reason: 'low quality' }]).receipts, deps);
    const items = () => sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'TEMPLATE_STATUS').map((i) => [i.status, i.reason]);
    // cams-events acts on a rejection; the template is reviewed again and passes, and that receipt is lost.
    expect(await receipt('fail')).toMatchObject([{ Outcome: 'processed', Check: 'ok' }]);
    clock += HOUR;
    await sweep(clock, sink);
    expect(items()).toEqual([
      ['BLOCKED', 'new'],
      ['RESOLVED', 'resolved'],
    ]);
    // Paused: CAMS lists a paused template as pass, so the listing says nothing about it.
    clock += HOUR;
    await receipt('paused');
    clock += HOUR;
    await sweep(clock, sink);
    clock += HOUR;
    await sweep(clock, sink);
    expect(items().slice(2)).toEqual([['LIMITED', 'new']]);
    // A template no receipt ever flagged leaves no entity of its own behind (nothing to say about it).
    const entities = await store.list<EntityState>(ENTITY_PREFIX);
    expect(entities.filter((e) => e.value.subject.entityType === 'TEMPLATE_STATUS')).toHaveLength(1);
  });
});

describe('what a listing read is applied once the listing is done, and not over a receipt applied since the read', () => {
  const MINUTE = 60_000;
  const PHONE = '8613800000401';
  let clock: number;
  let sink: RecordingSink;
  beforeEach(async () => {
    expect((await watchListCall('POST')).statusCode).toBe(200);
    sink = new RecordingSink();
    clock = Date.now();
  });
  const policy = { minConsecutive: 1, repeatIntervalMs: 24 * HOUR };
  const receipt = (r: Record<string, unknown>) =>
    applyReceipts(parseBatch([{ WabaId: WABA, ...r }]).receipts, { store, cams: sandboxClient(sandbox), policy, sinks: [sink.name], envTargets: [], now: () => clock, deadline: Date.now() + 10_000, log: () => {} });
  // The number's quality, or the template's review (of order_update/en_US, the only one a receipt flags).
  const entity = async (type: 'PHONE_QUALITY' | 'TEMPLATE_STATUS') =>
    (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).find((e) => e.subject.entityType === type && (type !== 'PHONE_QUALITY' || e.subject.phoneNumber === PHONE));
  const phone = (p: Record<string, unknown>) => sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: PHONE, ...p });

  /** A client whose first reply to `action` is held until `meanwhile` has run: what happens between a listing's read and the sweep applying it. */
  function camsWith(action: 'listTemplates' | 'queryPhoneNumbers', meanwhile: () => Promise<unknown>): CamsClient {
    const cams = sandboxClient(sandbox);
    let held = false;
    return new Proxy(cams, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== action) return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return async (...args: unknown[]) => {
          const reply = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (!held) {
            held = true;
            await meanwhile();
          }
          return reply;
        };
      },
    });
  }

  /** A listing through `cams` an hour on, its observations then applied as the sweep applies them, a minute after it. */
  async function listThenApply(cams: CamsClient) {
    clock += HOUR;
    const report = await runDiscovery({ store, cams, intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: () => clock, log: () => {} });
    clock += MINUTE;
    for (const { target, obs } of report.observations) await applyUnobserved(target, obs, 'r', { store, policy, sinks: [sink.name], now: () => clock });
  }

  it("a template review: a 'fail' read, then a 'pass' receipt, alerts nothing (applied, it raised a critical alert for a template that passed, firing until the next listing)", async () => {
    await sweep(clock, sink);
    const review = (AuditStatus: string) => ({ Type: 'template', TemplateCode: 'order_update', Language: 'en_US', AuditStatus });
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'fail' }] });
    expect(await receipt(review('fail'))).toMatchObject([{ Outcome: 'processed' }]);
    expect(await entity('TEMPLATE_STATUS')).toMatchObject({ status: 'BLOCKED', firing: true });
    // The listing's page says fail; the template passes review again, its receipt applied, before the sweep applies what the page said.
    await listThenApply(
      camsWith('listTemplates', async () => {
        await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'pass' }] });
        clock += MINUTE;
        expect(await receipt(review('pass'))).toMatchObject([{ Outcome: 'processed' }]);
      }),
    );
    const state = await entity('TEMPLATE_STATUS');
    expect(state).toMatchObject({ status: 'AVAILABLE', firing: false });
    expect(state!.outbox.map((e) => [e.item.status, e.item.reason])).toEqual([
      ['BLOCKED', 'new'],
      ['RESOLVED', 'resolved'],
    ]);
  });

  it("a number's quality: a RED read, then a GREEN receipt, alerts nothing; the rating is the receipt's", async () => {
    await sweep(clock, sink);
    await phone({ QualityRating: 'RED' });
    expect(await receipt({ Type: 'phoneQualityUpdate', PhoneNumber: PHONE, Status: 'RED' })).toMatchObject([{ Outcome: 'processed' }]);
    expect(await entity('PHONE_QUALITY')).toMatchObject({ status: 'LIMITED', firing: true });
    await listThenApply(
      camsWith('queryPhoneNumbers', async () => {
        await phone({ QualityRating: 'GREEN' });
        clock += MINUTE;
        await receipt({ Type: 'phoneQualityUpdate', PhoneNumber: PHONE, Status: 'GREEN' });
      }),
    );
    const state = await entity('PHONE_QUALITY');
    expect(state).toMatchObject({ status: 'AVAILABLE', firing: false, quality: 'GREEN', errors: [] });
    expect(state!.outbox.map((e) => [e.item.status, e.item.reason])).toEqual([
      ['LIMITED', 'new'],
      ['RESOLVED', 'resolved'],
    ]);
  });

  it("a number's quality whose limit tier the listing saw drop: the receipt's newer GREEN is kept, and the drop, which no receipt says, is still a warning", async () => {
    await phone({ MessagingLimitTier: 'TIER_10K' });
    await sweep(clock, sink);
    await phone({ QualityRating: 'RED' });
    await receipt({ Type: 'phoneQualityUpdate', PhoneNumber: PHONE, Status: 'RED' });
    // The listing reads RED and TIER_1K; the GREEN receipt, judged with the tier listed before (TIER_10K), comes before the sweep applies it.
    await phone({ MessagingLimitTier: 'TIER_1K' });
    await listThenApply(
      camsWith('queryPhoneNumbers', async () => {
        await phone({ QualityRating: 'GREEN' });
        clock += MINUTE;
        await receipt({ Type: 'phoneQualityUpdate', PhoneNumber: PHONE, Status: 'GREEN' });
        expect(await entity('PHONE_QUALITY')).toMatchObject({ status: 'AVAILABLE', errors: [] });
      }),
    );
    const state = await entity('PHONE_QUALITY');
    expect(state).toMatchObject({ status: 'LIMITED', firing: true, quality: 'GREEN' });
    expect(state!.errors.map((e) => e.ErrorCode)).toEqual(['MessagingLimitTier.Dropped.TIER_1K']);
    expect(state!.outbox.map((e) => [e.item.status, e.item.reason, e.item.errors.map((x) => x.ErrorCode)])).toEqual([
      ['LIMITED', 'new', ['QualityRating.RED']],
      ['RESOLVED', 'resolved', ['QualityRating.RED']],
      ['LIMITED', 'new', ['MessagingLimitTier.Dropped.TIER_1K']],
    ]);
  });
});

/** A Discover entry listed once (its numbers watched), then one of its numbers removed by hand at `now`. */
async function discoverThenRemove(now = Date.now()) {
  expect((await watchListCall('POST')).statusCode).toBe(200);
  const sink = new RecordingSink();
  await sweep(now, sink);
  const id = `phone:${space}:8613800000401`;
  const entry = { id, target: { CustSpaceId: space, NodeType: 'phone' as const, PhoneNumber: '8613800000401' }, discover: false };
  expect((await watched()).map((x) => x.id)).toContain(id);
  expect(await removeWatchEntries(store, [entry], now)).toMatchObject({ Removed: 1 });
  return { sink, id, entry };
}

describe('a discovered node removed by hand', () => {
  it('is not listed back under watch by the next listings; posted again, it is watched', async () => {
    const { sink, id, entry } = await discoverThenRemove();
    let clock = Date.now();
    for (let i = 0; i < 2; i++) {
      clock += 2 * HOUR; // past DISCOVERY_INTERVAL: listed again
      const mark = (await calls()).length;
      await sweep(clock, sink);
      const log = (await calls()).slice(mark);
      expect(log.filter((c) => c.Action === 'QueryChatappPhoneNumbers')).toHaveLength(1);
      expect((await watched()).map((x) => x.id)).not.toContain(id);
      expect(checkedNodes(log)).not.toContain('phone:8613800000401');
    }
    await addWatchEntries(store, [entry], 'api:test');
    clock += 2 * HOUR;
    await sweep(clock, sink);
    expect((await watched()).map((x) => x.id)).toContain(id);
  });
});

describe('a discovered node removed by hand, over months', () => {
  it('stays off while its Discover entry keeps listing it (each listing renews the removal, past REMOVED_KEEP_MS); its record ends once the entry is gone', async () => {
    let clock = Date.now();
    const { sink, id } = await discoverThenRemove(clock);
    for (let i = 0; i < 4; i++) {
      clock += REMOVED_KEEP_MS / 2; // one listing per half of the keep: each one renews it
      await sweep(clock, sink);
      expect((await watched()).map((x) => x.id)).not.toContain(id);
    }
    // The Discover entry deleted: nothing lists the number any more, and its record runs out.
    expect((await watchListCall('DELETE')).statusCode).toBe(200);
    expect(await removedRecord(store, id, clock + REMOVED_KEEP_MS - 1)).toBeDefined();
    expect(await removedRecord(store, id, clock + REMOVED_KEEP_MS)).toBeUndefined();
  });

  it('stays off though its Discover entry could not be listed for longer than REMOVED_KEEP_MS (each failed listing renews the removal)', async () => {
    let clock = Date.now();
    const { id } = await discoverThenRemove(clock);
    const root = `waba:${space}:${WABA}`;
    const cams = sandboxClient(sandbox);
    // The role lost cams:QueryChatappPhoneNumbers: every listing is refused, once per interval.
    const refusing = new Proxy(cams, {
      get(target, prop, receiver) {
        if (prop === 'queryPhoneNumbers') return async () => Promise.reject(new CamsError({ Code: 'Ram.PermissionDeny', Message: 'denied', httpStatus: 403, retryable: false }));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const listing = (c: CamsClient) => runDiscovery({ store, cams: c, intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: () => clock, log: () => {}, only: root });
    for (let day = 0; day < 40; day += 5) {
      clock += 5 * 24 * HOUR;
      expect((await listing(refusing)).failed).toBe(1);
    }
    // The permission back, 40 days on: the number is listed, and still off the watch list.
    clock += HOUR;
    expect((await listing(cams)).failed).toBe(0);
    expect((await watched()).map((x) => x.id)).not.toContain(id);
    expect(await removedRecord(store, id, clock)).toBeDefined();
  });

  it("a listing reads only its own space's removal records, however many other spaces have", async () => {
    for (let i = 0; i < 200; i++) await store.put(`${REMOVED_PREFIX}phone:C9999${i}:86139000000${i}`, { RemovedAt: new Date().toISOString(), KeptOffAt: Date.now() });
    await store.put(REMOVED_EXPIRING_KEY, { at: Date.now() }); // the one walk of every record (targets.ts) is behind it
    expect((await watchListCall('POST')).statusCode).toBe(200);
    let read = 0;
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'list') {
          return async (prefix: string, o?: unknown) => {
            const r = await target.list(prefix, o as never);
            if (prefix.startsWith(REMOVED_PREFIX)) read += r.length;
            return r;
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    await sweep(Date.now(), new RecordingSink(), counting);
    expect(await watched()).toHaveLength(6); // listed: the WABA, its 2 numbers and 3 templates
    expect(read).toBe(0);
  });
});

describe('discovery cut short', () => {
  it('a process that dies halfway through a discovery: the next sweep finishes it, with all 5 nodes and one quality warning', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000401', QualityRating: 'YELLOW' });
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    // Dies after the first number's entry is written, before the rest and before any alert decision.
    await expect(sweep(clock, sink, dyingAfter(1))).rejects.toThrow(/died/);
    expect((await watched()).length).toBe(2);
    // The lease of the dead run is released by its finally; the next tick redoes the listing.
    await sweep(clock + 5 * 60_000, sink);
    expect((await watched()).length).toBe(6);
    expect(sink.received.flatMap((m) => m.items).filter((i) => i.errors.some((e) => e.ErrorCode === 'QualityRating.YELLOW'))).toHaveLength(1);
    await sweep(clock + 10 * 60_000, sink);
    expect(sink.received.flatMap((m) => m.items).filter((i) => i.errors.some((e) => e.ErrorCode === 'QualityRating.YELLOW'))).toHaveLength(1);
  });
});

describe('discovery refused by CAMS', () => {
  it('a Discover entry for a WABA of another account is a DiscoveryFailed alert with advice; nothing is added', async () => {
    const other = await bind(sandbox, '499399000900', KEY_B);
    expect((await watchListCall('POST', [{ CustSpaceId: other, NodeType: 'waba', WabaId: '499399000900', Discover: true }])).statusCode).toBe(200);
    const sink = new RecordingSink();
    await sweep(Date.now(), sink);
    expect((await watched()).map((x) => x.id)).toEqual([`waba:${other}:499399000900`]);
    const items = sink.received.flatMap((m) => m.items);
    const failed = items.find((i) => i.subject.entityType === 'DiscoveryFailed');
    expect(failed).toMatchObject({ status: 'ERROR', severity: 'critical', errors: [expect.objectContaining({ ErrorCode: 'Unknown.ResourceOwnerId' })] });
    expect(failed!.errors[0]!.PossibleSolution).toBeTruthy();
    // Not listed again within the interval: no second alert, no second listing.
    const mark = (await calls()).length;
    await sweep(Date.now() + 5 * 60_000, sink);
    expect((await calls()).slice(mark).filter((c) => c.Action === 'QueryChatappPhoneNumbers')).toEqual([]);
  });
});

describe("discovery meeting the tick's expired STS token", () => {
  it('is no DiscoveryFailed and no refusal kept for the interval: the next listing comes with the next round, not an interval later', async () => {
    expect((await watchListCall('POST', [{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA, Discover: true }])).statusCode).toBe(200);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { expiredTokens: ['STS.tick-1'] });
    const sink = new RecordingSink();
    await sweep(Date.now(), sink, store, {}, 'STS.tick-1');
    expect((await calls()).filter((c) => c.Action === 'QueryChatappPhoneNumbers').map((c) => c.Code)).toEqual(['InvalidSecurityToken.Expired']);
    expect(sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'DiscoveryFailed')).toEqual([]);
    // It was kept as refused (lastError), and not listed again for DISCOVERY_INTERVAL.
    expect(await store.list(DISCOVERY_PREFIX)).toEqual([]);
  });
});

describe('a listed node discovery cannot watch', () => {
  it('is a DiscoveryFailed alert of its own, one per template, not repeated by later listings; resolved when CAMS no longer lists it; closed out with its Discover entry', async () => {
    // A code and a language our checks refuse (GetWhatsappHealthStatus's TemplateCode, Language).
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }, { TemplateCode: 'promo', Language: 'english' }] });
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    const unwatchable = () => sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'DiscoveryFailed');
    expect(unwatchable().map((i) => `${i.subject.templateCode}/${i.subject.language}:${i.status}`).sort()).toEqual(['promo/english:ERROR', 'spring sale/en:ERROR']);
    expect(unwatchable().find((i) => i.subject.templateCode === 'spring sale')!.errors[0]).toMatchObject({ ErrorCode: 'InvalidTarget', ErrorDescription: expect.stringContaining('TemplateCode: must be 1-128 letters') });
    expect((await watched()).some((x) => x.id.includes('spring sale') || x.id.includes('promo'))).toBe(false);

    // Listed again (the interval passed): the same alerts, nothing new.
    await sweep(clock + HOUR + 60_000, sink);
    expect(unwatchable()).toHaveLength(2);

    // Deleted in CAMS: the next listing resolves its alert; the other stays.
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    await sweep(clock + 2 * HOUR + 2 * 60_000, sink);
    expect(unwatchable().map((i) => `${i.subject.templateCode}:${i.status}`)).toEqual(expect.arrayContaining(['spring sale:RESOLVED']));
    expect(unwatchable()).toHaveLength(3);

    // The Discover entry removed: the one still firing is closed out as no longer watched.
    expect((await watchListCall('DELETE')).statusCode).toBe(200);
    await sweep(clock + 2 * HOUR + 10 * 60_000, sink);
    expect(unwatchable().slice(3).map((i) => `${i.subject.templateCode}:${i.reason}`)).toEqual(['promo:unwatched']);
  });

  it('its Discover entry deleted and the WABA posted again without Discover: its alert resolves (no listing will), though the WABA is still watched', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    const unwatchable = () => sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'DiscoveryFailed').map((i) => `${i.subject.templateCode}:${i.status}`);
    expect(unwatchable()).toEqual(['spring sale:ERROR']);
    // Discovery turned off (DELETE is the only way), the WABA itself still watched.
    expect((await watchListCall('DELETE')).statusCode).toBe(200);
    expect((await watchListCall('POST', [{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA }])).statusCode).toBe(200);
    await sweep(clock + 5 * 60_000, sink);
    await sweep(clock + 25 * HOUR, sink);
    expect(unwatchable()).toEqual(['spring sale:ERROR', 'spring sale:RESOLVED']);
    const firing = (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'DiscoveryFailed' && e.value.firing);
    expect(firing).toEqual([]);
  });

  it('its Discover entry deleted while MONITOR_TARGETS watches the same WABA: its alert resolves, and so does the WABA\'s own DiscoveryFailed', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const env = { MONITOR_TARGETS: JSON.stringify([{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA }]) };
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink, store, env);
    const failed = () => sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'DiscoveryFailed').map((i) => `${i.subject.templateCode ?? 'listing'}:${i.status}`);
    expect(failed()).toEqual(['spring sale:ERROR']);
    // The listing refused next (the role lost cams:QueryChatappPhoneNumbers): the WABA's own DiscoveryFailed too.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', action: 'QueryChatappPhoneNumbers' }] });
    await sweep(clock + HOUR + 60_000, sink, store, env);
    expect(failed()).toEqual(['spring sale:ERROR', 'listing:ERROR']);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [] });
    expect((await watchListCall('DELETE')).statusCode).toBe(200);
    await sweep(clock + 2 * HOUR, sink, store, env);
    await sweep(clock + 27 * HOUR, sink, store, env);
    const firing = (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'DiscoveryFailed' && e.value.firing);
    expect(firing).toEqual([]);
    expect(failed().slice(2).sort()).toEqual(['listing:RESOLVED', 'spring sale:RESOLVED']);
  });

  it('deleted in CAMS, and the sweep whose listing saw it gone died before its resolution was written: a later listing resolves it', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    const unwatchable = () => sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'DiscoveryFailed').map((i) => `${i.subject.templateCode}:${i.status}`);
    expect(unwatchable()).toEqual(['spring sale:ERROR']);
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    // The store goes away after the listing's record is written, before any entity write.
    const dying = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'put') {
          return async (key: string, ...rest: unknown[]) => {
            if (key.startsWith(ENTITY_PREFIX)) throw new StoreError('UNAVAILABLE', 'the process died here');
            return (target.put as (...a: unknown[]) => Promise<unknown>)(key, ...rest);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    await expect(sweep(clock + HOUR + 60_000, sink, dying)).rejects.toThrow(/died/);
    expect(unwatchable()).toEqual(['spring sale:ERROR']);
    await sweep(clock + 2 * HOUR + 2 * 60_000, sink);
    expect(unwatchable()).toEqual(['spring sale:ERROR', 'spring sale:RESOLVED']);
    // Remembered until its resolution was seen written, then no more.
    await sweep(clock + 3 * HOUR + 3 * 60_000, sink);
    expect(unwatchable()).toEqual(['spring sale:ERROR', 'spring sale:RESOLVED']);
    expect((await store.get<{ unwatchable?: unknown[] }>(`monitor/discovery/waba:${space}:${WABA}`))?.value.unwatchable).toBeUndefined();
  });

  it('deleted in CAMS before its alert fired (ALERT_MIN_CONSECUTIVE=2): not left in ERROR in the report', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const env = { ALERT_MIN_CONSECUTIVE: '2' };
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink, store, env);
    const states = async () =>
      (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'DiscoveryFailed').map((e) => `${e.value.subject.templateCode}:${e.value.status}:${e.value.firing ? 'firing' : 'pending'}`);
    expect(await states()).toEqual(['spring sale:ERROR:pending']);
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    await sweep(clock + HOUR + 60_000, sink, store, env);
    expect(await states()).toEqual(['spring sale:AVAILABLE:pending']);
    expect(sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'DiscoveryFailed')).toEqual([]);
  });

  it('listed twice in one listing (shifted template pages): one alert, remembered once', async () => {
    const root = `waba:${space}:${WABA}`;
    await store.put<RegisteredTarget>(WATCH_PREFIX + root, { target: { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, source: 'test', registeredAt: new Date().toISOString(), discover: true });
    const cams = sandboxClient(sandbox);
    const twice = { TemplateCode: 'spring sale', Language: 'en', AuditStatus: 'pass' };
    const doubling = new Proxy(cams, {
      get(target, prop, receiver) {
        if (prop === 'listTemplates') {
          return async (...a: Parameters<CamsClient['listTemplates']>) => {
            const r = await target.listTemplates(...a);
            return { ...r, data: { ...r.data, ListTemplate: [...r.data.ListTemplate, twice, twice] } };
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const report = await runDiscovery({ store, cams: doubling, intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: Date.now, log: () => {}, only: root });
    expect(report.observations.filter((o) => o.obs.subject.entityType === 'DiscoveryFailed').map((o) => o.obs.subject.templateCode)).toEqual(['spring sale']);
    expect((await store.get<{ unwatchable?: unknown[] }>(`monitor/discovery/${root}`))?.value.unwatchable).toHaveLength(1);
  });

  it('its Discover entry deleted and posted again before a round: the next listing still resolves it once CAMS no longer lists it', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    expect((await watchListCall('POST')).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    const unwatchable = () => sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'DiscoveryFailed').map((i) => `${i.subject.templateCode}:${i.status}`);
    expect(unwatchable()).toEqual(['spring sale:ERROR']);
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    expect((await watchListCall('DELETE')).statusCode).toBe(200);
    expect((await watchListCall('POST')).statusCode).toBe(200);
    await sweep(clock + 5 * 60_000, sink);
    expect(unwatchable()).toEqual(['spring sale:ERROR', 'spring sale:RESOLVED']);
  });
});

describe('a listed node discovery cannot watch, under two Discover entries of one space', () => {
  const WRONG = '499399000999';
  const both = () => [
    { CustSpaceId: space, WabaId: WABA, Discover: true },
    { CustSpaceId: space, WabaId: WRONG, Discover: true },
  ];
  // Reminders aside (a day passes).
  const unwatchableOf = (sink: RecordingSink) =>
    sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'DiscoveryFailed' && i.subject.templateCode !== undefined && i.reason !== 'reminder');
  const firingUnwatchable = async () =>
    (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'DiscoveryFailed' && e.value.subject.templateCode !== undefined && e.value.firing).map((e) => `${e.value.subject.templateCode}:${e.value.subject.wabaId}`);

  it("is one alert, named by the space's WABA, whichever entry listed it (one with a wrong WabaId too)", async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    expect((await watchListCall('POST', both())).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    await sweep(clock + HOUR + 60_000, sink);
    expect(unwatchableOf(sink).map((i) => `${i.subject.templateCode}:${i.subject.wabaId}:${i.status}`)).toEqual([`spring sale:${WABA}:ERROR`]);
    expect(await firingUnwatchable()).toEqual([`spring sale:${WABA}`]);
    // Each number's quality is one entity too, whichever entry listed it.
    const quality = (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'PHONE_QUALITY').map((e) => `${e.value.subject.phoneNumber}:${e.value.subject.wabaId}`);
    expect(quality.sort()).toEqual([`8613800000401:${WABA}`, `8613800000402:${WABA}`]);
  });

  it('the wrong one turned off (posted again without Discover), then deleted: the right one still lists the node, so its alert stays, and resolves once CAMS no longer lists it', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    expect((await watchListCall('POST', both())).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    const said = () => unwatchableOf(sink).map((i) => `${i.subject.templateCode}:${i.status}:${i.reason}`);
    expect(said()).toEqual(['spring sale:ERROR:new']);

    const wrong = [{ CustSpaceId: space, NodeType: 'waba', WabaId: WRONG }];
    expect((await watchListCall('DELETE', wrong)).statusCode).toBe(200);
    expect((await watchListCall('POST', wrong)).statusCode).toBe(200);
    await sweep(clock + 5 * 60_000, sink);
    await sweep(clock + HOUR + 10 * 60_000, sink);
    expect(said()).toEqual(['spring sale:ERROR:new']);
    expect(await firingUnwatchable()).toEqual([`spring sale:${WABA}`]);

    expect((await watchListCall('DELETE', wrong)).statusCode).toBe(200);
    await sweep(clock + HOUR + 20 * 60_000, sink);
    await sweep(clock + 26 * HOUR, sink);
    expect(said()).toEqual(['spring sale:ERROR:new']);
    expect(await firingUnwatchable()).toEqual([`spring sale:${WABA}`]);

    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    await sweep(clock + 27 * HOUR + 60_000, sink);
    expect(said()).toEqual(['spring sale:ERROR:new', 'spring sale:RESOLVED:resolved']);
    expect(await firingUnwatchable()).toEqual([]);
  });

  it('the wrong one turned off (posted again without Discover), then the right one deleted: nothing lists the node any more, so its alert does not fire on (the wrong one, still watched, reached it)', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    expect((await watchListCall('POST', both())).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    const said = () => unwatchableOf(sink).map((i) => `${i.subject.templateCode}:${i.status}`);
    expect(said()).toEqual(['spring sale:ERROR']);

    const wrong = [{ CustSpaceId: space, NodeType: 'waba', WabaId: WRONG }];
    expect((await watchListCall('DELETE', wrong)).statusCode).toBe(200);
    expect((await watchListCall('POST', wrong)).statusCode).toBe(200);
    await sweep(clock + 5 * 60_000, sink);
    expect(await firingUnwatchable()).toEqual([`spring sale:${WABA}`]);

    expect((await watchListCall('DELETE', [{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA }])).statusCode).toBe(200);
    await sweep(clock + 10 * 60_000, sink);
    await sweep(clock + 26 * HOUR, sink);
    expect(said()).toEqual(['spring sale:ERROR', 'spring sale:RESOLVED']);
    expect(await firingUnwatchable()).toEqual([]);
  });

  it('the WABA as two Discover entries, with and without its WabaId: the one named deleted, the other keeps the alert (not closed out), and resolves it once CAMS no longer lists it', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    // As an earlier version or an onboarding may have left them (the watch list merges the two).
    expect((await watchListCall('POST')).statusCode).toBe(200);
    await store.put<RegisteredTarget>(`${WATCH_PREFIX}waba:${space}:`, { target: { CustSpaceId: space, NodeType: 'waba' }, source: 'test', registeredAt: new Date().toISOString(), discover: true });
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    const said = () => unwatchableOf(sink).map((i) => `${i.subject.templateCode}:${i.subject.wabaId}:${i.status}:${i.reason}`);
    expect(said()).toEqual([`spring sale:${WABA}:ERROR:new`]);

    await store.delete(`${WATCH_PREFIX}waba:${space}:${WABA}`);
    await sweep(clock + 5 * 60_000, sink);
    await sweep(clock + 26 * HOUR, sink);
    expect(said()).toEqual([`spring sale:${WABA}:ERROR:new`]);
    expect(await firingUnwatchable()).toEqual([`spring sale:${WABA}`]);

    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    await sweep(clock + 27 * HOUR + 60_000, sink);
    expect(said()).toEqual([`spring sale:${WABA}:ERROR:new`, `spring sale:${WABA}:RESOLVED:resolved`]);
    expect(await firingUnwatchable()).toEqual([]);
  });
});

describe("a Discover entry with a wrong WabaId does not teach the index the space's WABA", () => {
  // Sorts before WABA: its entry is listed first, so it is the one that adds the space's nodes.
  const WRONG = '499399000001';
  const spaceWabaWrites: string[] = [];
  /** The store, with its writes to the space → WABA index recorded. */
  const recording = new Proxy({} as Store, {
    get(_t, prop) {
      const v = Reflect.get(store, prop) as unknown;
      if (prop === 'put') {
        return async (key: string, ...rest: unknown[]) => {
          if (key.startsWith(SPACE_WABA_PREFIX)) spaceWabaWrites.push(key);
          return (store.put as (...a: unknown[]) => Promise<unknown>)(key, ...rest);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(store) : v;
    },
  });
  const qualityWabas = async () => (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'PHONE_QUALITY').map((e) => e.value.subject.wabaId);

  /** Sweeps at `clocks`, then one more: the index names WABA, and that sweep writes it no more. */
  async function expectIndexSettled(clocks: number[]) {
    const sink = new RecordingSink();
    for (const at of clocks) await sweep(at, sink, recording);
    expect(await knownWabaOf(store, space)).toBe(WABA);
    spaceWabaWrites.length = 0;
    await sweep(clocks.at(-1)! + HOUR + 60_000, sink, recording);
    expect(await knownWabaOf(store, space)).toBe(WABA);
    expect(spaceWabaWrites).toEqual([]);
  }

  it('beside the right one: the wrong one lists the nodes first, and the index still names the right one (as their quality does)', async () => {
    expect((await watchListCall('POST', [{ CustSpaceId: space, WabaId: WABA, Discover: true }, { CustSpaceId: space, WabaId: WRONG, Discover: true }])).statusCode).toBe(200);
    const clock = Date.now();
    await expectIndexSettled([clock, clock + 5 * 60_000]);
    // The wrong entry added the nodes, yet their quality is named by the space's WABA, as the index knows it.
    expect(await qualityWabas()).toEqual([WABA, WABA]);
  });

  it("alone, posted first: the index takes its poster's word, and the listing's QueryChatappBindWaba puts it right", async () => {
    // A space the index knows nothing of yet (its onboarding was not through these functions).
    await store.delete(SPACE_WABA_PREFIX + space);
    await store.delete(WABA_SPACE_PREFIX + WABA);
    expect((await watchListCall('POST', [{ CustSpaceId: space, WabaId: WRONG, Discover: true }])).statusCode).toBe(200);
    expect(await knownWabaOf(store, space)).toBe(WRONG);
    const clock = Date.now();
    await expectIndexSettled([clock]);
  });

  it("alone, posted first, beside a number posted with the right WabaId: the first listing names the number's quality by CAMS's WABA, so the receipt's alert is neither resolved while still YELLOW nor raised again under the wrong WabaId", async () => {
    await store.delete(SPACE_WABA_PREFIX + space);
    await store.delete(WABA_SPACE_PREFIX + WABA);
    expect((await watchListCall('POST', [{ CustSpaceId: space, WabaId: WRONG, Discover: true }])).statusCode).toBe(200);
    const phone = { CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: '8613800000402' };
    expect((await watchListCall('POST', [phone])).statusCode).toBe(200);
    expect(await knownWabaOf(store, space)).toBe(WRONG);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000402', QualityRating: 'YELLOW' });
    const clock = Date.now();
    const deps = { store, cams: sandboxClient(sandbox), policy: { minConsecutive: 1, repeatIntervalMs: 24 * HOUR }, sinks: ['recording'], envTargets: [], now: () => clock, deadline: Date.now() + 10_000, log: () => {} };
    await applyReceipts(parseBatch([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: '+8613800000402', Status: 'YELLOW' }]).receipts, deps);
    const firing = async () =>
      (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'PHONE_QUALITY' && e.value.subject.phoneNumber === '8613800000402' && e.value.firing).map((e) => e.value.subject.wabaId);
    expect(await firing()).toEqual([WABA]);
    const sink = new RecordingSink();
    await sweep(clock + 60_000, sink);
    await sweep(clock + HOUR + 2 * 60_000, sink);
    expect(await firing()).toEqual([WABA]);
    const told = sink.received.flatMap((m) => m.items).filter((i) => i.subject.entityType === 'PHONE_QUALITY' && i.subject.phoneNumber === '8613800000402');
    expect(told.map((i) => `${i.subject.wabaId}:${i.status}`)).toEqual([]);
  });

  it('beside the WABA posted without its WabaId: the check that names the WABA and the entity scan no longer undo each other every round', async () => {
    expect((await watchListCall('POST', [{ CustSpaceId: space, NodeType: 'waba' }])).statusCode).toBe(200);
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    expect(await knownWabaOf(store, space)).toBe(WABA);
    // Posted once the index knows the WABA: a named entry the index contradicts stays apart.
    expect((await watchListCall('POST', [{ CustSpaceId: space, WabaId: WRONG, Discover: true }])).statusCode).toBe(200);
    expect((await watched()).map((x) => x.id)).toEqual(expect.arrayContaining([`waba:${space}:`, `waba:${space}:${WRONG}`]));
    await expectIndexSettled([clock + 5 * 60_000, clock + 10 * 60_000]);
    expect(await qualityWabas()).toEqual([WABA, WABA]);
  });
});

describe('a number posted by hand without its WabaId, also listed by a Discover entry', () => {
  it("has one quality alert, the receipts' too: named by the space's WABA, so a WabaId silence holds it", async () => {
    const phone = { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000402' };
    expect((await watchListCall('POST', [phone, { CustSpaceId: space, WabaId: WABA, Discover: true }])).statusCode).toBe(200);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000402', QualityRating: 'YELLOW' });
    const sink = new RecordingSink();
    const clock = Date.now();
    await sweep(clock, sink);
    const deps = { store, cams: sandboxClient(sandbox), policy: { minConsecutive: 1, repeatIntervalMs: 24 * HOUR }, sinks: ['recording'], envTargets: [], now: () => clock + 60_000, deadline: Date.now() + 10_000, log: () => {} };
    await applyReceipts(parseBatch([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: '+8613800000402', Status: 'YELLOW' }]).receipts, deps);
    const quality = (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'PHONE_QUALITY' && e.value.subject.phoneNumber === '8613800000402').map((e) => `${e.value.subject.phoneNumber}:${e.value.subject.wabaId}:${e.value.firing}`);
    expect(quality).toEqual([`8613800000402:${WABA}:true`]);
  });
});

describe("a number's quality named otherwise by an earlier version", () => {
  it("(the wrong Discover entry's WabaId, one alert per entry): the listing that names it by the space's WABA resolves that double, not left firing for ever", async () => {
    const WRONG = '499399000999';
    expect((await watchListCall('POST', [{ CustSpaceId: space, WabaId: WABA, Discover: true }, { CustSpaceId: space, WabaId: WRONG, Discover: true }])).statusCode).toBe(200);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000402', QualityRating: 'YELLOW' });
    const clock = Date.now();
    // The double an earlier version raised, named by the wrong entry's WabaId (written here through a receipt naming it).
    const deps = { store, cams: sandboxClient(sandbox), policy: { minConsecutive: 1, repeatIntervalMs: 24 * HOUR }, sinks: ['recording'], envTargets: [], now: () => clock, deadline: Date.now() + 10_000, log: () => {} };
    await applyReceipts(parseBatch([{ Type: 'phoneQualityUpdate', WabaId: WRONG, PhoneNumber: '+8613800000402', Status: 'YELLOW' }]).receipts, deps);
    const firing = async () =>
      (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'PHONE_QUALITY' && e.value.firing).map((e) => `${e.value.subject.phoneNumber}:${e.value.subject.wabaId}`);
    expect(await firing()).toEqual([`8613800000402:${WRONG}`]);

    await sweep(clock + 60_000, new RecordingSink());
    expect(await firing()).toEqual([`8613800000402:${WABA}`]);
  });
});

describe('discovery refused by RAM', () => {
  it("a role that may not list templates gets a DiscoveryFailed alert whose advice names cams:ListChatappTemplate, not the checks' permission", async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', action: 'ListChatappTemplate' }] });
    expect((await watchListCall('POST', [{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA, Discover: true }])).statusCode).toBe(200);
    const sink = new RecordingSink();
    await sweep(Date.now(), sink);
    const failed = sink.received.flatMap((m) => m.items).find((i) => i.subject.entityType === 'DiscoveryFailed');
    expect(failed).toMatchObject({ status: 'ERROR', errors: [expect.objectContaining({ ErrorCode: 'Ram.PermissionDeny' })] });
    expect(failed!.errors[0]!.PossibleSolution).toMatch(/grant cams:ListChatappTemplate to the health-monitor's role/);
  });
});

describe("discovery's QueryChatappBindWaba, asked before the listing", () => {
  it('left unanswered, takes half the time left at most: the listing still runs in the rest (it took all, the listing failed every sweep)', async () => {
    // A CAMS that takes the query's connection and never answers: the client times out at its deadline.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const key = DEFAULT_SANDBOX_KEYS[0]!;
      const unanswered = new CamsClient({ endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, credentials: key });
      const cams = sandboxClient(sandbox);
      const stalling = new Proxy(cams, {
        get(target, prop, receiver) {
          if (prop === 'queryBindWaba') return unanswered.queryBindWaba.bind(unanswered);
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const root = `waba:${space}:${WABA}`;
      await store.put<RegisteredTarget>(WATCH_PREFIX + root, { target: { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, source: 'test', registeredAt: new Date().toISOString(), discover: true });
      // Taking it all (the client's 5 s timeout is cut at the deadline), it left the listing none.
      const report = await runDiscovery({ store, cams: stalling, intervalMs: HOUR, deadline: Date.now() + 3_000, now: Date.now, clock: Date.now, log: () => {}, only: root });
      expect(report).toMatchObject({ failed: 0, discovered: 5 });
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('discovery over template pages', () => {
  it('a template deleted while the pages are read retires no template that CAMS still has; the next listing retires the deleted one', async () => {
    const code = (i: number) => `page_${String(i).padStart(2, '0')}`;
    // 45 templates more: 48 in all, three pages of 20.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: Array.from({ length: 45 }, (_, i) => ({ TemplateCode: code(i), Language: 'en' })) });
    const root = `waba:${space}:${WABA}`;
    await store.put<RegisteredTarget>(WATCH_PREFIX + root, { target: { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, source: 'test', registeredAt: new Date().toISOString(), discover: true });
    const cams = sandboxClient(sandbox);
    const options = (c: CamsClient) => ({ store, cams: c, intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: Date.now, log: () => {}, only: root });
    await runDiscovery(options(cams));
    expect(await watched()).toHaveLength(1 + 2 + 48);

    // Deleted in CAMS right after the first page was read: every later template moves up one place.
    let pages = 0;
    const deletingAfterPage1 = new Proxy(cams, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'listTemplates') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        return async (...args: Parameters<CamsClient['listTemplates']>) => {
          const page = await target.listTemplates(...args);
          if (++pages === 1) await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: code(0), Language: 'en' }] });
          return page;
        };
      },
    });
    const cut = await runDiscovery(options(deletingAfterPage1));
    expect(pages).toBe(3);
    expect(cut.retired).toBe(0);
    const ids = (await watched()).map((x) => x.id);
    for (let i = 0; i < 45; i++) expect(ids).toContain(`template:${space}:${code(i)}/en`);

    const next = await runDiscovery(options(cams));
    expect(next.retired).toBe(1);
    expect((await watched()).map((x) => x.id)).not.toContain(`template:${space}:${code(0)}/en`);
    expect(await watched()).toHaveLength(1 + 2 + 47);
  });

  it('a WABA with more templates than the page cap: one past the cap CAMS deleted is retired and its alert no longer kept (each looked up by code), those it still has stay, one remembered unwatchable that its pages show watchable is no longer kept; the cap is logged once', async () => {
    const code = (p: string, i: number) => `${p}_${String(i).padStart(2, '0')}`;
    // With order_update ×2 and welcome: 54, under three pages of 20 (the cap here).
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [...Array.from({ length: 50 }, (_, i) => ({ TemplateCode: code('p', i), Language: 'en' })), { TemplateCode: 'spring sale', Language: 'en' }] });
    const root = `waba:${space}:${WABA}`;
    await store.put<RegisteredTarget>(WATCH_PREFIX + root, { target: { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, source: 'test', registeredAt: new Date().toISOString(), discover: true });
    const logged: Array<Record<string, unknown>> = [];
    let clock = Date.now();
    const options = { store, cams: sandboxClient(sandbox), intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: () => clock, log: (r: Record<string, unknown>) => void logged.push(r), only: root, templatePageCap: 3 };
    const unwatchable = async () => (await store.get<{ unwatchable?: Array<{ templateCode?: string }> }>(`monitor/discovery/${root}`))?.value.unwatchable?.map((u) => u.templateCode);
    await runDiscovery(options);
    expect(await watched()).toHaveLength(1 + 2 + 53);
    expect(await unwatchable()).toEqual(['spring sale']);

    // Ten more that sort first (CAMS's order here is by code): p_48, p_49, spring sale and welcome are past the cap; p_49 is deleted.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: Array.from({ length: 10 }, (_, i) => ({ TemplateCode: code('a', i), Language: 'en' })) });
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: code('p', 49), Language: 'en' }] });
    // And p_00 remembered as unwatchable (as a stricter earlier version found it): its pages show it watchable now.
    const record = (await store.get<{ unwatchable: Array<Record<string, string>> }>(`monitor/discovery/${root}`))!.value;
    await store.put(`monitor/discovery/${root}`, { ...record, unwatchable: [...record.unwatchable, { ...record.unwatchable[0]!, templateCode: code('p', 0) }] });
    clock += HOUR;
    const capped = await runDiscovery(options);
    expect(capped).toMatchObject({ discovered: 10, retired: 1 });
    const ids = (await watched()).map((x) => x.id);
    expect(ids).not.toContain(`template:${space}:${code('p', 49)}/en`);
    for (const kept of [code('p', 48), 'welcome']) expect(ids).toContain(`template:${space}:${kept}/en`);
    // Still in CAMS: its alert stays (not resolved for being past the cap).
    expect(capped.observations.filter((o) => o.obs.subject.entityType === 'DiscoveryFailed').map((o) => `${o.obs.subject.templateCode}:${o.obs.status}`)).toEqual(['spring sale:ERROR']);
    expect(await unwatchable()).toEqual(['spring sale']);

    // Deleted in CAMS, past the cap: its alert is no longer kept.
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }] });
    clock += HOUR;
    await runDiscovery(options);
    expect(await unwatchable()).toBeUndefined();
    expect(logged.filter((r) => String(r['msg']).includes('more templates than'))).toHaveLength(1);
  });

  it('an unwatchable template remembered under another WabaId (the space\'s WABA learnt since) that a capped listing shows: the old name is not kept beside the new one', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'spring sale', Language: 'en' }, ...Array.from({ length: 20 }, (_, i) => ({ TemplateCode: `z_${String(i).padStart(2, '0')}`, Language: 'en' }))] });
    const root = `waba:${space}:${WABA}`;
    await store.put<RegisteredTarget>(WATCH_PREFIX + root, { target: { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, source: 'test', registeredAt: new Date().toISOString(), discover: true });
    let clock = Date.now();
    const options = { store, cams: sandboxClient(sandbox), intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: () => clock, log: () => {}, only: root, templatePageCap: 1 };
    const remembered = async () => (await store.get<{ unwatchable?: Array<{ templateCode?: string; wabaId?: string }> }>(`monitor/discovery/${root}`))?.value.unwatchable?.map((u) => `${u.templateCode}:${u.wabaId}`);
    await runDiscovery(options);
    expect(await remembered()).toEqual([`spring sale:${WABA}`]);
    // As it was named before the index knew the space's WABA (the entry's WabaId then).
    const record = (await store.get<{ unwatchable: Array<Record<string, string>> }>(`monitor/discovery/${root}`))!.value;
    await store.put(`monitor/discovery/${root}`, { ...record, unwatchable: [{ ...record.unwatchable[0]!, wabaId: '499399000999' }] });
    clock += HOUR;
    await runDiscovery(options);
    expect(await remembered()).toEqual([`spring sale:${WABA}`]);
  });

  it('an unwatchable template past the cap whose code is longer than an alert names (128): its look-up by the cut code finds nothing, and that does not resolve its alert', async () => {
    const long = 'y'.repeat(130);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: long, Language: 'en' }] });
    const root = `waba:${space}:${WABA}`;
    await store.put<RegisteredTarget>(WATCH_PREFIX + root, { target: { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, source: 'test', registeredAt: new Date().toISOString(), discover: true });
    let clock = Date.now();
    const options = { store, cams: sandboxClient(sandbox), intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: () => clock, log: () => {}, only: root, templatePageCap: 1 };
    const unwatchable = async () => (await store.get<{ unwatchable?: Array<{ templateCode?: string }> }>(`monitor/discovery/${root}`))?.value.unwatchable?.map((u) => u.templateCode);
    await runDiscovery(options);
    expect(await unwatchable()).toEqual(['y'.repeat(128)]);

    // Twenty that sort first: the long one is past the one page read, and looked up.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: Array.from({ length: 20 }, (_, i) => ({ TemplateCode: `a_${String(i).padStart(2, '0')}`, Language: 'en' })) });
    clock += HOUR;
    const capped = await runDiscovery(options);
    // CAMS still has it: its alert is kept, remembered, not resolved (it was taken for deleted).
    expect(await unwatchable()).toEqual(['y'.repeat(128)]);
    expect(capped.observations.filter((o) => o.obs.subject.entityType === 'DiscoveryFailed' && o.obs.status === 'AVAILABLE')).toEqual([]);
  });

  it('unwatchable templates past the cap, more than a listing looks up, do not take every look-up: a watched one deleted in CAMS is retired', async () => {
    // One page is read, four look-ups a listing; the five "x" templates are unwatchable (a space in their code).
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US' }, { TemplateCode: 'order_update', Language: 'zh_CN' }, { TemplateCode: 'welcome', Language: 'en' }] });
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [...Array.from({ length: 5 }, (_, i) => ({ TemplateCode: `x ${i}`, Language: 'en' })), { TemplateCode: 'zz_00', Language: 'en' }] });
    const root = `waba:${space}:${WABA}`;
    await store.put<RegisteredTarget>(WATCH_PREFIX + root, { target: { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, source: 'test', registeredAt: new Date().toISOString(), discover: true });
    let clock = Date.now();
    const options = { store, cams: sandboxClient(sandbox), intervalMs: HOUR, deadline: Date.now() + 30_000, now: Date.now, clock: () => clock, log: () => {}, only: root, templatePageCap: 1, templateLookupCap: 4 };
    await runDiscovery(options);
    expect((await watched()).map((x) => x.id)).toContain(`template:${space}:zz_00/en`);

    // Twenty that sort first push every "x" and zz_00 past the page; zz_00 is deleted in CAMS.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: Array.from({ length: 20 }, (_, i) => ({ TemplateCode: `a_${String(i).padStart(2, '0')}`, Language: 'en' })) });
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'zz_00', Language: 'en' }] });
    clock += HOUR;
    const mark = (await calls()).length;
    const capped = await runDiscovery(options);
    const lookUps = (await calls()).slice(mark).filter((c) => c.Action === 'ListChatappTemplate' && c.Params['Code'] !== undefined);
    expect(lookUps).toHaveLength(4);
    expect(capped.retired).toBe(1);
    expect((await watched()).map((x) => x.id)).not.toContain(`template:${space}:zz_00/en`);

    // The unwatchable ones take turns: the one not looked up is looked up by the next listing.
    clock += HOUR;
    const next = (await calls()).length;
    await runDiscovery(options);
    const codes = (await calls()).slice(next).filter((c) => c.Action === 'ListChatappTemplate' && c.Params['Code'] !== undefined).map((c) => c.Params['Code']);
    const first = lookUps.map((c) => c.Params['Code']);
    expect([...new Set([...first, ...codes])].filter((c) => String(c).startsWith('x ')).sort()).toEqual(['x 0', 'x 1', 'x 2', 'x 3', 'x 4']);
  });
});
