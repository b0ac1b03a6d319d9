/**
 * A target removed from the watch list takes with it everything only it produced: its entities leave
 * the report, the status page and the owed, risky and invalid indexes; an alert that fired is closed
 * out once ("no longer watched", info, status RESOLVED), never re-alarmed; what another watched
 * target still reaches stays. On the file store and on a real redis-server.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import type { AlertItem } from '../../../shared/alerts/model.ts';
import { applyObservation } from '../../../shared/monitor/check.ts';
import { noteTarget, TARGET_INFO_PREFIX, type TargetInfo } from '../../../shared/monitor/target-info.ts';
import { fingerprintOf, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { ENTITY_PREFIX, entityKey } from '../../../shared/monitor/entity-store.ts';
import { HealthSweep, ROUND_KEY, type HealthSweepOptions, type SweepRound } from '../../../shared/monitor/sweep.ts';
import { registerWatchTarget, REMOVED_KEEP_MS, REMOVED_PREFIX, removedRecord, targetId, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { runUnwatchedPass, UNWATCHED_EVERY_MS, unwatchedPassWanted } from '../../../shared/monitor/unwatched.ts';
import { healthReport } from '../../../shared/services/health-report.ts';
import { statusPageHtml } from '../../../shared/services/status-page.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { applyReceipts } from '../../../shared/receipts/apply.ts';
import { parseBatch } from '../../../shared/receipts/parse.ts';
import { createSilence } from '../../../shared/silences/store.ts';
import { addWatchEntries, removeWatchEntries } from '../../../shared/watch-list/store.ts';
import { onboardThroughFunctions, RecordingSink, sandboxClient, setHealth, tempFileStore } from '../../support/monitor.ts';
import { sandboxControl, sandboxForFile } from '../../support/sandbox-env.ts';
import { storeWith } from '../../support/store.ts';
import { bind, KEY_B } from '../../local/sandbox/helpers.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const TICK = 5 * 60_000;
const WABA_ID = '599399000100';
const PHONE_1 = '8613800000601';
const PHONE_2 = '8613800000602';
const blocked = [{ ErrorCode: '141006', ErrorDescription: 'There is an error with the payment method.', PossibleSolution: 'Add a new payment method.' }];

const redisBin = findOnPath('redis-server');
let redis: RedisServer | undefined;
let sandbox: RunningSandbox;

sandboxForFile(50, (s) => (sandbox = s));
afterAll(async () => {
  await redis?.stop();
});

/** Every bookkeeping prefix a watched node can leave behind. */
const PREFIXES = ['monitor/entity/', 'monitor/target/', 'monitor/risky/', 'monitor/owed/', 'monitor/silenced/', 'monitor/invalid/', 'history/'];

type Kind = 'file' | 'redis';
const kinds: Kind[] = ['file', ...(redisBin || process.env['CI'] === 'true' ? (['redis'] as const) : [])];

describe.each(kinds)('removing a watched target (%s store)', (kind) => {
  let store: Store;
  let done: (() => Promise<void>) | undefined;
  let space: string;
  let clock: number;
  let sink: RecordingSink;
  let ns = 0;

  beforeAll(async () => {
    if (kind === 'redis' && !redis) redis = await startRedisServer(redisBin!);
  });
  beforeEach(async () => {
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    if (kind === 'file') {
      const temp = await tempFileStore();
      store = temp.store;
      done = temp.cleanup;
    } else {
      store = await openStore(`${redis!.url}?namespace=unwatched-${process.pid}-${++ns}`);
      done = () => store.close();
    }
    space = await onboardThroughFunctions(WABA_ID, [
      { cc: '86', phone: '13800000601' },
      { cc: '86', phone: '13800000602' },
    ]);
    clock = Date.now();
    sink = new RecordingSink();
  });
  afterEach(async () => {
    await done?.();
    done = undefined;
  });

  const phone = (n: string): WatchTarget => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: n });
  const watch = (...targets: WatchTarget[]) => addWatchEntries(store, targets.map((t) => ({ id: targetId(t), target: t, discover: false })), 'api:test');
  const unwatch = (...targets: WatchTarget[]) => removeWatchEntries(store, targets.map((t) => ({ id: targetId(t), target: t, discover: false })));

  function sweep(over: Partial<HealthSweepOptions> = {}) {
    clock += TICK;
    return new HealthSweep({
      store,
      cams: sandboxClient(sandbox, 50),
      sinks: [sink],
      policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR },
      envTargets: [],
      concurrency: 5,
      deadline: Date.now() + 20_000,
      alertClock: () => clock,
      discovery: { intervalMs: HOUR },
      ...over,
    }).run();
  }

  /** What cams-events gives applyReceipts: this file's store, sandbox, sink and clock. */
  const receiptDeps = () => ({
    store,
    cams: sandboxClient(sandbox, 50),
    policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR },
    sinks: [sink.name],
    envTargets: [],
    now: () => clock,
    deadline: Date.now() + 20_000,
    log: () => {},
  });
  const items = (): AlertItem[] => sink.received.flatMap((n) => n.items);
  const entities = async () => (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value);
  const keysUnder = async (prefix: string) => (await store.list(prefix)).map((e) => e.key);
  async function page(): Promise<string> {
    return statusPageHtml(store, { now: clock, refreshSeconds: 0 });
  }
  async function reportNodes(): Promise<Array<Record<string, unknown>>> {
    return (await healthReport(store, {}, {})).Nodes as Array<Record<string, unknown>>;
  }

  it('a BLOCKED phone, removed: after the next round it is in no report, page or index, and its alert is closed out once', async () => {
    await watch(phone(PHONE_1));
    await setHealth(sandbox, { ...phone(PHONE_1), CanSendMessage: 'BLOCKED', Errors: blocked });
    expect(await sweep()).toMatchObject({ roundComplete: true });
    expect(items().map((i) => `${i.subject.entityType}:${i.reason}`)).toEqual(['PHONE_NUMBER:new']);
    expect((await reportNodes()).find((n) => n['EntityType'] === 'PHONE_NUMBER')).toMatchObject({ CanSendMessage: 'BLOCKED', Firing: true });
    expect(await keysUnder('monitor/risky/')).toHaveLength(1);

    expect(await unwatch(phone(PHONE_1))).toMatchObject({ Removed: 1 });
    await sweep();
    await sweep();

    // Nothing is left of it: the report, the page, every index.
    expect(await reportNodes()).toEqual([]);
    const html = await page();
    expect(html).not.toContain(PHONE_1);
    expect(html).toContain('Open incidents (0)');
    for (const prefix of PREFIXES) expect(await keysUnder(prefix), prefix).toEqual([]);

    // One close-out, calm: it says the node is no longer watched, and is not a new or critical alert.
    const after = items().slice(1);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ reason: 'unwatched', status: 'RESOLVED', severity: 'info', subject: { entityType: 'PHONE_NUMBER', phoneNumber: PHONE_1 } });
    expect(after[0]!.outage).toMatchObject({ worst: 'BLOCKED' });
    expect(sink.received.at(-1)!.severity).toBe('info');
    expect(sink.received.at(-1)!.title).toContain('1 no longer watched');

    // Further rounds send nothing more.
    await sweep();
    expect(items()).toHaveLength(2);
  });

  it('a process killed between deleting an unwatched entity and its history leaves nothing behind: the next round finishes the job', async () => {
    await watch(phone(PHONE_1));
    await setHealth(sandbox, { ...phone(PHONE_1), CanSendMessage: 'BLOCKED', Errors: blocked });
    await sweep();
    expect(await keysUnder('history/')).not.toEqual([]);
    await unwatch(phone(PHONE_1));

    // The first of the two deletes lands; the process dies before the second (every later delete fails).
    let dead = false;
    const dying = storeWith(store, {
      delete: async (k, o) => {
        if (dead) throw new Error('killed');
        const deleted = await store.delete(k, o);
        if (deleted && (k.startsWith(ENTITY_PREFIX) || k.startsWith('history/'))) dead = true;
        return deleted;
      },
    });
    await sweep({ store: dying }).catch(() => undefined);
    expect(dead).toBe(true);

    await sweep();
    await sweep();
    for (const prefix of PREFIXES) expect(await keysUnder(prefix), prefix).toEqual([]);
    expect(items().filter((i) => i.reason === 'unwatched')).toHaveLength(1);
  });

  it('the WABA entity a remaining phone also reports stays (firing, not closed out); only the removed phone leaves', async () => {
    await watch(phone(PHONE_1), phone(PHONE_2));
    await setHealth(sandbox, { CustSpaceId: space, NodeType: 'waba', CanSendMessage: 'LIMITED', Errors: [{ ErrorCode: '131042', ErrorDescription: 'Business eligibility payment issue' }] });
    await setHealth(sandbox, { ...phone(PHONE_1), CanSendMessage: 'BLOCKED', Errors: blocked });
    await sweep();
    expect(items().map((i) => `${i.subject.entityType}:${i.reason}`).sort()).toEqual(['PHONE_NUMBER:new', 'WABA:new']);

    await unwatch(phone(PHONE_1));
    await sweep();
    await sweep();

    const left = await entities();
    expect(left.map((e) => `${e.subject.entityType}:${e.subject.phoneNumber ?? ''}`).sort()).toEqual(['APP:', 'BUSINESS:', 'PHONE_NUMBER:' + PHONE_2, 'WABA:']);
    expect(left.find((e) => e.subject.entityType === 'WABA')).toMatchObject({ status: 'LIMITED', firing: true });
    expect((await reportNodes()).map((n) => n['Node'] as string).some((n) => n.includes(PHONE_1))).toBe(false);
    const html = await page();
    expect(html).not.toContain(PHONE_1);
    expect(html).toContain(PHONE_2);
    expect(html).toContain('Open incidents (1)');
    expect(await keysUnder('monitor/target/')).toEqual([`monitor/target/${targetId(phone(PHONE_2))}`]);
    // The WABA is not closed out, re-alerted or resolved: only the removed phone's close-out.
    expect(items().slice(2).map((i) => `${i.subject.entityType}:${i.reason}`)).toEqual(['PHONE_NUMBER:unwatched']);
  });

  it('a deleted Discover entry takes every entity it discovered along, and the WABA alert it raised is closed out', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'welcome', Language: 'en' }] });
    await sandboxControl(sandbox, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: PHONE_2, QualityRating: 'YELLOW' });
    const root = { id: `waba:${space}:${WABA_ID}`, target: { CustSpaceId: space, NodeType: 'waba' as const, WabaId: WABA_ID }, discover: true };
    await addWatchEntries(store, [root], 'api:test');
    await setHealth(sandbox, { CustSpaceId: space, NodeType: 'waba', CanSendMessage: 'BLOCKED', Errors: blocked });
    await sweep();
    await sweep();
    const before = await entities();
    // The WABA, its business and app, two phones (and a quality entity each), one template.
    expect(before.filter((e) => e.subject.entityType === 'PHONE_NUMBER')).toHaveLength(2);
    expect(before.filter((e) => e.subject.entityType === 'MESSAGE_TEMPLATE')).toHaveLength(1);
    expect(before.find((e) => e.subject.entityType === 'WABA')).toMatchObject({ status: 'BLOCKED', firing: true });
    expect(before.find((e) => e.subject.entityType === 'PHONE_QUALITY' && e.subject.phoneNumber === PHONE_2)).toMatchObject({ status: 'LIMITED', firing: true });
    const fired = items().length;

    expect(await removeWatchEntries(store, [root])).toMatchObject({ Removed: 1, Retired: 3 });
    await sweep();
    await sweep();

    expect(await entities()).toEqual([]);
    expect(await reportNodes()).toEqual([]);
    expect(await page()).toContain('Open incidents (0)');
    for (const prefix of PREFIXES) expect(await keysUnder(prefix), prefix).toEqual([]);
    expect(await keysUnder('monitor/discovery/')).toEqual([]);
    // The two alerts that fired (the WABA, the YELLOW quality) are closed out; nothing else is sent.
    const closing = items().slice(fired);
    expect(closing.map((i) => `${i.subject.entityType}:${i.reason}:${i.status}:${i.severity}`).sort()).toEqual(['PHONE_QUALITY:unwatched:RESOLVED:info', 'WABA:unwatched:RESOLVED:info']);
  });

  it('a TargetRejected alert for a target that is removed is closed out and leaves', async () => {
    const other = await bind(sandbox, '599399000900', KEY_B);
    const foreign: WatchTarget = { CustSpaceId: other, NodeType: 'waba', WabaId: '599399000900' };
    await watch(foreign, phone(PHONE_1));
    await sweep();
    const rejected = fingerprintOf({ nodeType: 'monitor', entityType: 'TargetRejected', custSpaceId: other, wabaId: '599399000900' });
    expect((await store.get<EntityState>(entityKey(rejected)))?.value).toMatchObject({ firing: true, status: 'ERROR' });
    expect(items().map((i) => `${i.subject.entityType}:${i.reason}`)).toEqual(['TargetRejected:new']);

    await unwatch(foreign);
    await sweep();
    await sweep();
    expect(await store.get(entityKey(rejected))).toBeUndefined();
    expect((await reportNodes()).some((n) => n['EntityType'] === 'TargetRejected')).toBe(false);
    expect(await page()).toContain('Open incidents (0)');
    expect(items().map((i) => `${i.subject.entityType}:${i.reason}:${i.severity}`)).toEqual(['TargetRejected:new:critical', 'TargetRejected:unwatched:info']);
    // The phone still watched keeps its entities.
    expect((await entities()).map((e) => e.subject.entityType).sort()).toEqual(['APP', 'BUSINESS', 'PHONE_NUMBER', 'WABA']);
  });

  it('phones a receipt put under watch, deleted: the page counts the watched nodes only', async () => {
    const extra = ['13800000611', '13800000612', '13800000613', '13800000614', '13800000615'];
    await onboardThroughFunctions(WABA_ID, extra.map((p) => ({ cc: '86', phone: p })));
    await watch(phone(PHONE_1));
    await sweep();
    // A quality receipt for each number of the watched WABA puts it under watch and checks it at once.
    const batch = parseBatch(extra.map((p) => ({ Type: 'phoneQualityUpdate', WabaId: WABA_ID, PhoneNumber: `86${p}`, Status: 'YELLOW' })));
    const results = await applyReceipts(batch.receipts, receiptDeps());
    expect(results.map((r) => r.Registered)).toEqual(extra.map(() => true));
    expect(await page()).toContain('8613800000611');
    expect((await entities()).filter((e) => e.subject.nodeType !== 'waba')).toHaveLength(1 + 2 * extra.length);

    await unwatch(...extra.map((p) => phone(`86${p}`)));
    await sweep();
    await sweep();
    expect((await entities()).map((e) => `${e.subject.entityType}:${e.subject.phoneNumber ?? ''}`).sort()).toEqual(['APP:', 'BUSINESS:', `PHONE_NUMBER:${PHONE_1}`, 'WABA:']);
    expect(await keysUnder('monitor/target/')).toEqual([`monitor/target/${targetId(phone(PHONE_1))}`]);
    expect(await page()).not.toContain('8613800000611');
    // Their quality warnings (receipts fire at once) are closed out, one each.
    expect(items().filter((i) => i.reason === 'unwatched').map((i) => `${i.subject.entityType}:${i.subject.phoneNumber}`).sort()).toEqual(extra.map((p) => `PHONE_QUALITY:86${p}`));
  });

  it('a node removed by hand stays removed when a receipt names it again; posted again, receipts keep it watched', async () => {
    await watch(phone(PHONE_1), phone(PHONE_2));
    await sweep();
    const receipt = (status: string) =>
      applyReceipts(parseBatch([{ Type: 'phoneQualityUpdate', WabaId: WABA_ID, PhoneNumber: PHONE_2, Status: status }]).receipts, receiptDeps());
    await unwatch(phone(PHONE_2));
    await sweep();
    await sweep();
    const before = items().length;

    expect(await receipt('YELLOW')).toEqual([expect.objectContaining({ Outcome: 'removed', Node: targetId(phone(PHONE_2)) })]);
    await sweep();
    expect((await keysUnder('watch/')).map((k) => k.slice('watch/'.length))).toEqual([targetId(phone(PHONE_1))]);
    expect(await page()).not.toContain(PHONE_2);
    expect(items().slice(before)).toEqual([]);

    // Posted again by hand: a receipt is acted on, as for any watched number.
    await watch(phone(PHONE_2));
    expect(await receipt('RED')).toEqual([expect.objectContaining({ Outcome: 'processed' })]);
    await sweep();
    expect(items().slice(before).map((i) => `${i.subject.entityType}:${i.subject.phoneNumber}:${i.reason}`)).toEqual([`PHONE_QUALITY:${PHONE_2}:new`]);
  });

  it('a receipt for a node removed by hand is not its last receipt acted on: the same one once the node is posted again is acted on', async () => {
    await watch(phone(PHONE_1), phone(PHONE_2));
    await sweep();
    const receipt = () => applyReceipts(parseBatch([{ Type: 'phoneQualityUpdate', WabaId: WABA_ID, PhoneNumber: PHONE_2, Status: 'YELLOW' }]).receipts, receiptDeps());
    await unwatch(phone(PHONE_2));
    await sweep();
    await sweep();
    const before = items().length;
    expect(await receipt()).toEqual([expect.objectContaining({ Outcome: 'removed' })]);

    // CAMS delivers it again (or the number turns YELLOW anew) after the number is posted again.
    await watch(phone(PHONE_2));
    expect(await receipt()).toEqual([expect.objectContaining({ Outcome: 'processed' })]);
    await sweep();
    expect(items().slice(before).map((i) => `${i.subject.entityType}:${i.subject.phoneNumber}:${i.reason}`)).toEqual([`PHONE_QUALITY:${PHONE_2}:new`]);
  });

  it('a removal is remembered REMOVED_KEEP_MS after it last kept the node off: a late receipt within it is refused (and renews it); once it has expired, the node posted again is watched; one an earlier version wrote gets its expiry at the first pass', async () => {
    // One an earlier version wrote (no expiry), 40 days ago: the first pass ends it.
    const old = `${REMOVED_PREFIX}phone:${space}:8613800000699`;
    await store.put(old, { RemovedAt: new Date(clock - 40 * DAY).toISOString() });
    await watch(phone(PHONE_1), phone(PHONE_2));
    await sweep();
    expect(await store.get(old)).toBeUndefined();
    const receipt = (status: string) =>
      applyReceipts(parseBatch([{ Type: 'phoneQualityUpdate', WabaId: WABA_ID, PhoneNumber: PHONE_2, Status: status }]).receipts, receiptDeps());
    await removeWatchEntries(store, [{ id: targetId(phone(PHONE_2)), target: phone(PHONE_2), discover: false }], clock);
    await sweep();
    const removedAt = clock;
    // A retry of a receipt sent before the removal, as late as it can come: refused; so is one a day before the end.
    clock = removedAt + 7 * DAY;
    expect(await receipt('YELLOW')).toEqual([expect.objectContaining({ Outcome: 'removed' })]);
    clock += REMOVED_KEEP_MS - DAY;
    expect(await receipt('RED')).toEqual([expect.objectContaining({ Outcome: 'removed' })]);
    expect(await keysUnder('watch/')).toEqual([`watch/${targetId(phone(PHONE_1))}`]);
    // Nothing kept it off since: expired, and gone from the store.
    clock += REMOVED_KEEP_MS;
    expect(await removedRecord(store, targetId(phone(PHONE_2)), clock)).toBeUndefined();
    expect(await keysUnder(REMOVED_PREFIX)).toEqual([]);

    // Posted again after the expiry: watched, its receipts acted on; removed again, refused again.
    expect(await watch(phone(PHONE_2))).toMatchObject({ Added: 1 });
    expect(await receipt('YELLOW')).toEqual([expect.objectContaining({ Outcome: 'processed' })]);
    await removeWatchEntries(store, [{ id: targetId(phone(PHONE_2)), target: phone(PHONE_2), discover: false }], clock);
    expect(await receipt('RED')).toEqual([expect.objectContaining({ Outcome: 'removed' })]);
  });

  it("the space's WABA removed by hand (watched without its WabaId) stays removed when a receipt names the WABA by its id", async () => {
    const ownWaba: WatchTarget = { CustSpaceId: space, NodeType: 'waba' };
    await watch(phone(PHONE_1), ownWaba);
    await sweep();
    await unwatch(ownWaba);
    await sweep();
    await sweep();
    const r = await applyReceipts(parseBatch([{ Type: 'wabaReviewUpdate', WabaId: WABA_ID, Status: 'APPROVED' }]).receipts, receiptDeps());
    expect(r).toEqual([expect.objectContaining({ Outcome: 'removed' })]);
    expect((await keysUnder('watch/')).map((k) => k.slice('watch/'.length))).toEqual([targetId(phone(PHONE_1))]);
  });

  it('a close-out the sink refuses stays owed (the node already out of the report and the page) and goes at a later flush; then the entity is deleted', async () => {
    await watch(phone(PHONE_1));
    await setHealth(sandbox, { ...phone(PHONE_1), CanSendMessage: 'BLOCKED', Errors: blocked });
    await sweep();
    await unwatch(phone(PHONE_1));
    sink.failNext = 1000;
    await sweep();
    expect(items()).toHaveLength(1);
    expect(await reportNodes()).toEqual([]);
    expect(await page()).not.toContain(PHONE_1);
    const owed = await entities();
    expect(owed).toHaveLength(1);
    expect(owed[0]).toMatchObject({ firing: false, unwatchedAt: expect.any(Number), outbox: [{ item: { reason: 'unwatched' } }] });
    expect(await keysUnder('monitor/owed/')).toHaveLength(1);

    sink.failNext = 0;
    await sweep();
    expect(items().map((i) => i.reason)).toEqual(['new', 'unwatched']);
    for (const prefix of PREFIXES) expect(await keysUnder(prefix), prefix).toEqual([]);
  });

  it('a silence covering the removed node holds its close-out back like any notification: nothing is sent, the node goes', async () => {
    await watch(phone(PHONE_1));
    await setHealth(sandbox, { ...phone(PHONE_1), CanSendMessage: 'BLOCKED', Errors: blocked });
    await sweep();
    await createSilence(store, { Matchers: [{ Name: 'PhoneNumber', Value: PHONE_1 }], StartsAt: clock, EndsAt: clock + 10 * HOUR, CreatedBy: 'test', Comment: 'maintenance' }, clock);
    await unwatch(phone(PHONE_1));
    await sweep();
    await sweep();
    expect(items().map((i) => i.reason)).toEqual(['new']);
    for (const prefix of PREFIXES) expect(await keysUnder(prefix), prefix).toEqual([]);
  });

  it('the pass reads every target record and entity only in a round that finds a removal (and once on a store that never had one)', async () => {
    const lists: string[] = [];
    const inner = store;
    store = storeWith(inner, { list: (p, o) => (lists.push(p), inner.list(p, o)) });
    const recordListings = () => lists.filter((p) => p === 'monitor/target/').length;
    await watch(phone(PHONE_1), phone(PHONE_2));
    await sweep();
    expect(recordListings()).toBe(1);
    await sweep();
    await sweep();
    expect(recordListings()).toBe(1);
    await unwatch(phone(PHONE_2));
    await sweep();
    expect(recordListings()).toBe(2);
    await sweep();
    expect(recordListings()).toBe(2);
    store = inner;
  });

  it('a store an earlier version left orphans in (records deleted, entities kept, no reach recorded): they go at the first round after the upgrade', async () => {
    await watch(phone(PHONE_1), phone(PHONE_2));
    await setHealth(sandbox, { ...phone(PHONE_2), CanSendMessage: 'BLOCKED', Errors: blocked });
    await sweep();
    // What the earlier version left: PHONE_2 removed, its record and risky marker deleted by the round's
    // listing, its entities kept; no record names what it reached, and no pass ever ran.
    await unwatch(phone(PHONE_2));
    for (const key of [`monitor/target/${targetId(phone(PHONE_2))}`, `monitor/risky/${targetId(phone(PHONE_2))}`, 'monitor/unwatched']) await store.delete(key);
    const r1 = await store.get<TargetInfo>(`monitor/target/${targetId(phone(PHONE_1))}`);
    const { reach: _dropped, ...legacy } = r1!.value;
    await store.put(`monitor/target/${targetId(phone(PHONE_1))}`, legacy);
    // …and the plan the next round follows no longer holds it (that listing found it removed).
    const round = (await store.get<SweepRound>(ROUND_KEY))!.value;
    const plan = { id: round.plan!.id, pages: 1, end: 1, count: 1 };
    await store.put(`monitor/round/${plan.id}/plan/000000`, [targetId(phone(PHONE_1))]);
    await store.put<SweepRound>(ROUND_KEY, { ...round, plan, nextPlan: plan });

    // The first round after the upgrade: no pass has run here, so its listing runs one.
    await sweep();
    expect((await reportNodes()).some((n) => (n['Node'] as string).includes(PHONE_2))).toBe(false);
    await sweep();
    expect((await entities()).map((e) => `${e.subject.entityType}:${e.subject.phoneNumber ?? ''}`).sort()).toEqual(['APP:', 'BUSINESS:', `PHONE_NUMBER:${PHONE_1}`, 'WABA:']);
    expect(items().map((i) => `${i.subject.phoneNumber}:${i.reason}`)).toEqual([`${PHONE_2}:new`, `${PHONE_2}:unwatched`]);
    expect(await page()).toContain('Open incidents (0)');
    expect(await unwatchedPassWanted(store, 0, clock + 1)).toBe(false);
  });

  it("removed and watched again: it starts afresh, a bad state alerts again as new, in a message of a new id (a receiver dropping an X-Alert-Id it has, as the webhook's id is for, does not drop it as the first alert's)", async () => {
    await watch(phone(PHONE_1));
    await setHealth(sandbox, { ...phone(PHONE_1), CanSendMessage: 'BLOCKED', Errors: blocked });
    await sweep();
    await unwatch(phone(PHONE_1));
    await sweep();
    await sweep();
    await watch(phone(PHONE_1));
    await sweep();
    await sweep();
    expect(items().filter((i) => i.subject.entityType === 'PHONE_NUMBER').map((i) => i.reason)).toEqual(['new', 'unwatched', 'new']);
    expect((await reportNodes()).find((n) => n['EntityType'] === 'PHONE_NUMBER')).toMatchObject({ CanSendMessage: 'BLOCKED', Firing: true });
    const messages = sink.received.filter((n) => n.items.some((i) => i.subject.entityType === 'PHONE_NUMBER'));
    expect(messages.map((n) => n.items.map((i) => i.reason))).toEqual([['new'], ['unwatched'], ['new']]);
    expect(new Set(messages.map((n) => n.id)).size).toBe(3);
  });

  it("a target removed while its round check waits for CAMS, whose reply comes after the round's pass: the next round closes out what that check wrote", async () => {
    await watch(phone(PHONE_1), phone(PHONE_2));
    expect(await sweep()).toMatchObject({ roundComplete: true });
    await setHealth(sandbox, { ...phone(PHONE_1), CanSendMessage: 'BLOCKED', Errors: blocked });

    // Round 2: PHONE_1's check is under way when it is removed; CAMS answers it (slowly) only once the
    // round's listing has found it gone and its pass is done.
    let removed!: () => void;
    let checking = false;
    const removal = new Promise<void>((r) => (removed = r));
    const slowStore = storeWith(store, {
      list: async (p, o) => {
        // The round's listing (beside the checks), not discovery's (before them).
        if (p === 'watch/' && checking) await removal;
        return store.list(p, o);
      },
    });
    const cams = sandboxClient(sandbox, 50);
    const reply = cams.getHealthStatus.bind(cams);
    cams.getHealthStatus = async (t, o) => {
      checking = true;
      if (t.PhoneNumber === PHONE_1) {
        await unwatch(phone(PHONE_1));
        removed();
        const until = Date.now() + 10_000;
        while ((await store.get<{ lastRunAt?: number }>('monitor/unwatched'))?.value.lastRunAt !== clock && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 20));
        }
        // The window this test is about: the pass ran while this reply waited (else it checks nothing).
        expect((await store.get<{ lastRunAt?: number }>('monitor/unwatched'))?.value.lastRunAt).toBe(clock);
      }
      return reply(t, o);
    };
    expect(await sweep({ store: slowStore, cams })).toMatchObject({ roundComplete: true });
    expect(items().map((i) => `${i.subject.entityType}:${i.reason}`)).toEqual(['PHONE_NUMBER:new']);

    // The next round's listing finds what that check left and closes it out: nothing of it stays firing.
    await sweep();
    expect((await reportNodes()).filter((n) => String(n['Node']).includes(PHONE_1))).toEqual([]);
    expect(items().map((i) => `${i.subject.entityType}:${i.reason}`)).toEqual(['PHONE_NUMBER:new', 'PHONE_NUMBER:unwatched']);
    expect(await keysUnder(TARGET_INFO_PREFIX)).toEqual([TARGET_INFO_PREFIX + targetId(phone(PHONE_2))]);
  });
});

describe('runUnwatchedPass: what a record cannot say is kept', () => {
  const T0 = 1_700_000_000_000;
  const space = 'C100';
  const phoneA: WatchTarget = { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000801' };
  const phoneB: WatchTarget = { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000802' };
  const subjectOf = (entityType: string, phoneNumber?: string) =>
    phoneNumber
      ? { nodeType: 'phone' as const, custSpaceId: space, wabaId: 'w1', entityType, phoneNumber }
      : { nodeType: 'waba' as const, custSpaceId: space, wabaId: 'w1', entityType };
  const ctx = (store: Store, at: number) => ({ store, policy: { minConsecutive: 1, repeatIntervalMs: HOUR }, sinks: ['s'], now: () => at });
  const opts = (at: number) => ({ now: () => at, sinks: ['s'], log: () => {} });
  const liveEntities = async (store: Store) =>
    (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.unwatchedAt === undefined).map((e) => `${e.value.subject.entityType}:${e.value.subject.phoneNumber ?? ''}`).sort();
  const watchedMap = (...ts: WatchTarget[]) => new Map(ts.map((t) => [targetId(t), t]));

  it("an earlier version's leftovers (entities of targets whose records it deleted) go at the first pass; a target never recorded keeps its own node and its space's WABA", async () => {
    const store = await openStore('memory:');
    await registerWatchTarget(store, phoneA, 'test');
    // Written the way the earlier version left them: entities, and no record of who reached them.
    for (const [type, phone] of [['PHONE_NUMBER', phoneA.PhoneNumber], ['PHONE_NUMBER', phoneB.PhoneNumber], ['PHONE_QUALITY', phoneB.PhoneNumber], ['WABA', undefined], ['APP', undefined]] as const) {
      await applyObservation({ subject: subjectOf(type, phone), status: type === 'PHONE_QUALITY' ? 'LIMITED' : 'AVAILABLE', errors: [] }, 'r0', false, ctx(store, T0));
    }
    expect(await unwatchedPassWanted(store, 0, T0 + 1)).toBe(true);
    const report = await runUnwatchedPass(store, watchedMap(phoneA), opts(T0 + 1));
    expect(report).toMatchObject({ entities: 2, closedOut: 1 });
    expect(await liveEntities(store)).toEqual(['APP:', 'PHONE_NUMBER:8613800000801', 'WABA:']);
    expect(await unwatchedPassWanted(store, 0, T0 + 2)).toBe(false);
    expect(await unwatchedPassWanted(store, 0, T0 + 1 + UNWATCHED_EVERY_MS)).toBe(true);
  });

  it('a watched target whose last entity write is newer than its record (a process died between the two) keeps that entity', async () => {
    const store = await openStore('memory:');
    await registerWatchTarget(store, phoneA, 'test');
    await applyObservation({ subject: subjectOf('PHONE_NUMBER', phoneA.PhoneNumber), status: 'AVAILABLE', errors: [] }, 'r1', false, ctx(store, T0));
    await noteTarget(store, phoneA, { round: 'r1', lastCheckedAt: T0, reach: [fingerprintOf(subjectOf('PHONE_NUMBER', phoneA.PhoneNumber))] });
    // The next check wrote a new entity (CAMS now reports the APP) and died before its record.
    await applyObservation({ subject: subjectOf('APP'), status: 'AVAILABLE', errors: [] }, 'r2', false, ctx(store, T0 + 60_000));
    await runUnwatchedPass(store, watchedMap(phoneA), opts(T0 + 120_000));
    expect(await liveEntities(store)).toEqual(['APP:', 'PHONE_NUMBER:8613800000801']);
    // Kept for now, decided again at the next round's listing.
    expect(await unwatchedPassWanted(store, 0, T0 + 120_001)).toBe(true);
  });

  it('a watched WABA target does not keep a removed phone\'s entities (its replies name no phone); what only the phone reported goes next round', async () => {
    const store = await openStore('memory:');
    const waba: WatchTarget = { CustSpaceId: space, NodeType: 'waba', WabaId: '1' };
    await registerWatchTarget(store, waba, 'test');
    const fps = (types: Array<[string, string?]>) => types.map(([t, p]) => fingerprintOf(subjectOf(t, p)));
    // The round: the WABA target is checked first (WABA, BUSINESS), then phone B (its number, WABA, BUSINESS, APP).
    for (const t of ['WABA', 'BUSINESS']) await applyObservation({ subject: subjectOf(t), status: 'AVAILABLE', errors: [] }, 'r1', false, ctx(store, T0));
    await noteTarget(store, waba, { round: 'r1', lastCheckedAt: T0, reach: fps([['WABA'], ['BUSINESS']]) });
    for (const [t, p] of [['PHONE_NUMBER', phoneB.PhoneNumber], ['APP', undefined]] as const) {
      await applyObservation({ subject: subjectOf(t, p), status: 'AVAILABLE', errors: [] }, 'r1', false, ctx(store, T0 + 1000));
    }
    await noteTarget(store, phoneB, { round: 'r1', lastCheckedAt: T0 + 1000, reach: fps([['PHONE_NUMBER', phoneB.PhoneNumber], ['WABA'], ['BUSINESS'], ['APP']]) });

    // B is removed. Its number goes at once; the APP (only B reported it, after the WABA target's last check) is left for one round.
    await runUnwatchedPass(store, watchedMap(waba), opts(T0 + 5000));
    expect(await liveEntities(store)).toEqual(['APP:', 'BUSINESS:', 'WABA:']);
    expect(await unwatchedPassWanted(store, 0, T0 + 5001)).toBe(true);
    // Next round the WABA target is checked again: the APP goes too.
    await noteTarget(store, waba, { round: 'r2', lastCheckedAt: T0 + 60_000 });
    await runUnwatchedPass(store, watchedMap(waba), opts(T0 + 61_000));
    expect(await liveEntities(store)).toEqual(['BUSINESS:', 'WABA:']);
    expect(await unwatchedPassWanted(store, 0, T0 + 61_001)).toBe(false);
  });

  it('an entity written after the pass began is left to the next pass, which stays due; a target added after the listing keeps what it reached', async () => {
    const store = await openStore('memory:');
    await registerWatchTarget(store, phoneA, 'test');
    await registerWatchTarget(store, phoneB, 'test');
    const fpB = fingerprintOf(subjectOf('PHONE_NUMBER', phoneB.PhoneNumber));
    await applyObservation({ subject: subjectOf('PHONE_NUMBER', phoneB.PhoneNumber), status: 'AVAILABLE', errors: [] }, 'r1', false, ctx(store, T0));
    await noteTarget(store, phoneB, { lastCheckedAt: T0, reach: [fpB] });
    // Nobody's record names this one, and it was written at the pass's own time.
    await applyObservation({ subject: subjectOf('PHONE_QUALITY', '8613800000899'), status: 'LIMITED', errors: [] }, 'r1', false, ctx(store, T0 + 5));
    // The listing (`watched`) saw only A: B was added after it, and its watch entry says so.
    await runUnwatchedPass(store, watchedMap(phoneA), opts(T0 + 5));
    expect(await liveEntities(store)).toEqual(['PHONE_NUMBER:8613800000802', 'PHONE_QUALITY:8613800000899']);
    expect((await store.get<TargetInfo>(TARGET_INFO_PREFIX + targetId(phoneB)))?.value.reach).toEqual([fpB]);
    expect(await unwatchedPassWanted(store, 0, T0 + 6)).toBe(true);
    await runUnwatchedPass(store, watchedMap(phoneA, phoneB), opts(T0 + 10));
    expect(await liveEntities(store)).toEqual(['PHONE_NUMBER:8613800000802']);
    expect(await unwatchedPassWanted(store, 0, T0 + 11)).toBe(false);
  });
});
