/**
 * A push costs what it names, not the account: a receipt finds its space through the WABA → space
 * index and its node through `watch/<id>`, so the store work of one push is the same with 10 or 2,000
 * watched nodes (before, each push listed the whole watch list, every entity and every look-up).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { applyUnobserved } from '../../../shared/monitor/check.ts';
import { fingerprintOf } from '../../../shared/monitor/entity-state.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { ENTITY_PREFIX, reindexEntities } from '../../../shared/monitor/entity-store.ts';
import { monitorSubject, observeMonitorSubject } from '../../../shared/monitor/monitor-alert.ts';
import { registerWatchTarget, targetId, WATCH_PREFIX, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { wabaReviewObservation } from '../../../shared/monitor/waba-review.ts';
import { SPACE_WABA_PREFIX, WABA_INDEX_BUILT_KEY, WABA_PENDING_PREFIX, WABA_SPACE_PREFIX } from '../../../shared/monitor/waba-space.ts';
import { applyReceipts, UNKNOWN_WABA_PREFIX } from '../../../shared/receipts/apply.ts';
import { LAST_RECEIPT_PREFIX, STATS_KEY, type ReceiptStats } from '../../../shared/receipts/dedup.ts';
import { parseBatch } from '../../../shared/receipts/parse.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { ListOptions, Store } from '../../../shared/store/port.ts';
import { onboardThroughFunctions, sandboxClient, setHealth } from '../../support/monitor.ts';
import { sandboxControl, sandboxForFile } from '../../support/sandbox-env.ts';
import { storeWith } from '../../support/store.ts';

const HOUR = 3_600_000;
const WABA = '599399000700';
const PHONE = '8613800000701';
let sandbox: RunningSandbox;
let space: string;
let clock: number;

sandboxForFile(50, (s) => (sandbox = s));
beforeEach(async () => {
  await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
  space = await onboardThroughFunctions(WABA, [{ cc: '86', phone: '13800000701' }]);
  clock = Date.now();
});

const phone = (n = PHONE): WatchTarget => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: n });

/** Store calls, and the records they read (a get's one, each entry a list returns). */
function counting(inner: Store) {
  const ops = { get: 0, put: 0, delete: 0, list: 0, read: 0 };
  const store = storeWith(inner, {
    get: async <T>(k: string) => {
      ops.get++;
      const v = await inner.get<T>(k);
      if (v) ops.read++;
      return v;
    },
    put: (k, v, o) => (ops.put++, inner.put(k, v, o)),
    delete: (k, o) => (ops.delete++, inner.delete(k, o)),
    list: async <T>(p: string, o?: ListOptions) => {
      ops.list++;
      const out = await inner.list<T>(p, o);
      ops.read += out.length;
      return out;
    },
  });
  const reset = () => {
    for (const k of Object.keys(ops) as Array<keyof typeof ops>) ops[k] = 0;
  };
  return { store, ops, reset };
}

function deps(store: Store, envTargets: WatchTarget[] = []) {
  return {
    store,
    cams: sandboxClient(sandbox, 50),
    policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR },
    sinks: ['webhook'],
    envTargets,
    now: () => clock,
    deadline: Date.now() + 20_000,
    log: () => {},
  };
}

const push = (store: Store, receipts: unknown[], envTargets: WatchTarget[] = []) => applyReceipts(parseBatch(receipts).receipts, deps(store, envTargets));

describe('one push reads what it names, not the watch list', () => {
  it('a quality receipt for a watched number and one for a WABA nobody watches: the same store work with 10 or 2,000 watched nodes', async () => {
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'AVAILABLE' });
    const counted: Array<Record<string, number>> = [];
    for (const n of [10, 2_000]) {
      const { store, ops, reset } = counting(await openStore('memory:'));
      await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, 'test');
      await registerWatchTarget(store, phone(), 'test');
      // Half in the receipt's own space, half in other spaces with their own WABAs.
      for (let i = 0; i < n; i++) {
        const t: WatchTarget = i % 2 ? phone(`86139${String(i).padStart(8, '0')}`) : { CustSpaceId: `C${String(i).padStart(14, '0')}`, NodeType: 'phone', WabaId: `7${String(i).padStart(11, '0')}`, PhoneNumber: `86137${String(i).padStart(8, '0')}` };
        await registerWatchTarget(store, t, 'test');
      }
      // The first push after the upgrade builds the index once, from the full scan.
      await push(store, [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }]);
      expect(await store.get(WABA_INDEX_BUILT_KEY)).toBeDefined();
      clock += 60_000;
      reset();
      const results = await push(store, [
        { Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'GREEN' },
        { Type: 'wabaAccountUpdate', WabaId: '999000111', Status: 'BLOCKED' },
      ]);
      expect(results).toEqual([
        expect.objectContaining({ Outcome: 'processed', Node: targetId(phone()), Check: 'ok' }),
        expect.objectContaining({ Outcome: 'unknown-waba' }),
      ]);
      counted.push({ ...ops });
    }
    expect(counted[1]).toEqual(counted[0]);
    // A few dozen records, not the 2,000 entries the watch list has.
    expect(counted[0]!['read']).toBeLessThan(40);
  });

  it('a receipt for a number not yet watched, in a space watched only through that number: registered, at the same cost with 2,000 other nodes', async () => {
    const counted: Array<Record<string, number>> = [];
    for (const n of [10, 2_000]) {
      const { store, ops, reset } = counting(await openStore('memory:'));
      await registerWatchTarget(store, { ...phone(), WabaId: WABA }, 'test');
      for (let i = 0; i < n; i++) await registerWatchTarget(store, { CustSpaceId: `C${String(i).padStart(14, '0')}`, NodeType: 'waba', WabaId: `7${String(i).padStart(11, '0')}` }, 'test');
      await push(store, [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }]);
      reset();
      const results = await push(store, [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: '8613800000702', Status: 'APPROVED' }]);
      expect(results).toEqual([expect.objectContaining({ Outcome: 'processed', Node: targetId(phone('8613800000702')), Registered: true })]);
      counted.push({ ...ops });
    }
    expect(counted[1]).toEqual(counted[0]);
  });
});

describe("a receipt's targeted check and the node's TargetRejected alert", () => {
  /**
   * A watched number with a firing TargetRejected alert, recorded as the sweep records one (sweep.ts
   * observeRejected). Watched with its WabaId, as onboarding and discovery watch numbers: the alert's
   * subject holds it, and a receipt names the number without it.
   */
  async function rejected(number: string) {
    const store = await openStore('memory:');
    const target: WatchTarget = { ...phone(number), WabaId: WABA };
    await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, 'test');
    await registerWatchTarget(store, target, 'test');
    const subject = monitorSubject('TargetRejected', target);
    await observeMonitorSubject(store, subject, 'ERROR', [{ ErrorCode: 'ServiceUnavailable', ErrorDescription: 'CAMS answered 503 for this node' }], { now: clock, round: 'r1', policy: deps(store).policy, sinks: ['webhook'] });
    const state = async () => (await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject)))?.value;
    expect(await state()).toMatchObject({ firing: true });
    clock += 60_000;
    return { store, state };
  }

  it('answered: the alert resolves then, as after the sweep\'s check (before, it fired, on the status page too, until the sweep reached the node)', async () => {
    const { store, state } = await rejected(PHONE);
    const results = await push(store, [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'GREEN' }]);
    expect(results).toEqual([expect.objectContaining({ Outcome: 'processed', Check: 'ok' })]);
    expect(await state()).toMatchObject({ firing: false, status: 'AVAILABLE' });
  });

  it('refused by CAMS: the alert stays firing', async () => {
    const { store, state } = await rejected('8613800000799');
    const results = await push(store, [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: '8613800000799', Status: 'GREEN' }]);
    expect(results).toEqual([expect.objectContaining({ Outcome: 'processed', Check: 'Unknown.ResourceOwnerId' })]);
    expect(await state()).toMatchObject({ firing: true });
  });
});

describe("a receipt's check of a node an earlier version stored", () => {
  it('with a field of another NodeType (a TemplateCode on a number): checked without it, as the sweep checks it', async () => {
    const store = await openStore('memory:');
    await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, 'test');
    const target = { ...phone(), WabaId: WABA, TemplateCode: 'order_update', Language: 'en' };
    await store.put(WATCH_PREFIX + targetId(phone()), { target, source: 'api:old', registeredAt: new Date(clock).toISOString() });
    const results = await push(store, [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'GREEN' }]);
    expect(results).toEqual([expect.objectContaining({ Outcome: 'processed', Check: 'ok' })]);
    const checks = ((await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Params: Record<string, string> }>).filter((c) => c.Action === 'GetWhatsappHealthStatus' && c.Params['NodeType'] === 'phone');
    expect(checks.length).toBe(1);
    expect(Object.keys(checks[0]!.Params).sort()).toEqual(['CustSpaceId', 'NodeType', 'PhoneNumber', 'WabaId']);
  });
});

describe('the WABA → space index', () => {
  it('a store an earlier version wrote (no index; the WABA known only from an entity): the first push builds it, with no look-up', async () => {
    const store = await openStore('memory:');
    // Written as before the index: the watch entry alone, and an entity a check wrote naming the WABA.
    await store.put(WATCH_PREFIX + targetId(phone()), { target: phone(), source: 'test', registeredAt: new Date(clock).toISOString() });
    const subject = { nodeType: 'phone' as const, entityType: 'PHONE_NUMBER', custSpaceId: space, wabaId: WABA, phoneNumber: PHONE };
    await store.put(ENTITY_PREFIX + fingerprintOf(subject), { subject, status: 'AVAILABLE', errors: [], outbox: [], firing: false });
    const results = await push(store, [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }]);
    expect(results).toEqual([expect.objectContaining({ Outcome: 'processed', Node: targetId(phone()) })]);
    expect((await store.get(WABA_SPACE_PREFIX + WABA))?.value).toEqual({ CustSpaceId: space });
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string }>;
    expect(calls.filter((c) => c.Action === 'QueryChatappBindWaba')).toHaveLength(0);
  });

  it("a space registered without its WabaId is pending until the round's entity scan reads the WABA a check reported; then no look-up is needed", async () => {
    const store = await openStore('memory:');
    await push(store, [{ Type: 'wabaAccountUpdate', WabaId: '999000111', Status: 'BLOCKED' }]); // the index is built (empty)
    await registerWatchTarget(store, phone(), 'test');
    expect(await store.get(WABA_PENDING_PREFIX + space)).toBeDefined();
    const subject = { nodeType: 'phone' as const, entityType: 'PHONE_NUMBER', custSpaceId: space, wabaId: WABA, phoneNumber: PHONE };
    await store.put(ENTITY_PREFIX + fingerprintOf(subject), { subject, status: 'AVAILABLE', errors: [], outbox: [], firing: false });
    await reindexEntities(store);
    expect((await store.get(WABA_SPACE_PREFIX + WABA))?.value).toEqual({ CustSpaceId: space });
    expect((await store.get(SPACE_WABA_PREFIX + space))?.value).toEqual({ WabaId: WABA });
    expect(await store.get(WABA_PENDING_PREFIX + space)).toBeUndefined();
    expect(await push(store, [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }])).toEqual([expect.objectContaining({ Outcome: 'processed' })]);
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string }>;
    expect(calls.filter((c) => c.Action === 'QueryChatappBindWaba')).toHaveLength(0);
  });

  it('a space whose every node was taken off the watch list: its WABA is one nobody watches again, though the index still names it', async () => {
    const store = await openStore('memory:');
    await registerWatchTarget(store, { ...phone(), WabaId: WABA }, 'test');
    expect(await push(store, [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }])).toEqual([expect.objectContaining({ Outcome: 'processed' })]);
    await store.delete(WATCH_PREFIX + targetId({ ...phone(), WabaId: WABA }));
    expect(await push(store, [{ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'APPROVED' }])).toEqual([expect.objectContaining({ Outcome: 'unknown-waba' })]);
    expect(await store.get(UNKNOWN_WABA_PREFIX + WABA)).toBeDefined();
  });

  it('a WABA the index names under a space no longer watched, now watched in a space whose targets do not name it: looked up, not taken for one nobody watches', async () => {
    const store = await openStore('memory:');
    await push(store, [{ Type: 'wabaAccountUpdate', WabaId: '999000111', Status: 'BLOCKED' }]); // the index is built (empty)
    // The WABA was watched under another space (since emptied, or re-bound): its entry stayed.
    await store.put(WABA_SPACE_PREFIX + WABA, { CustSpaceId: 'C00000000000old' });
    await registerWatchTarget(store, phone(), 'test');
    expect(await push(store, [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }])).toEqual([
      expect.objectContaining({ Outcome: 'processed', Node: targetId(phone()) }),
    ]);
    expect((await store.get(WABA_SPACE_PREFIX + WABA))?.value).toEqual({ CustSpaceId: space });
  });

  it('env targets (MONITOR_TARGETS) are matched in memory: a WABA named there, and a space named there without it (looked up once)', async () => {
    const store = await openStore('memory:');
    const named = await push(store, [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }], [{ ...phone(), WabaId: WABA }]);
    expect(named).toEqual([expect.objectContaining({ Outcome: 'processed', Node: targetId(phone()) })]);
    expect(await store.get(WATCH_PREFIX + targetId(phone()))).toBeUndefined(); // watched through the env, not registered

    const other = await openStore('memory:');
    for (let i = 0; i < 2; i++) {
      const r = await push(other, [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: i ? 'APPROVED' : 'PENDING' }], [phone()]);
      expect(r).toEqual([expect.objectContaining({ Outcome: 'processed', Node: targetId(phone()) })]);
    }
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string }>;
    expect(calls.filter((c) => c.Action === 'QueryChatappBindWaba')).toHaveLength(1);
  });
});

describe("the look-up of a space's WABA", () => {
  const bindCalls = async () => ((await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Code: string }>).filter((c) => c.Action === 'QueryChatappBindWaba');

  it("refused for the function's own grant: not kept as the space's refusal, logged and counted, the other spaces not asked in that push; asked again once the grant is fixed", async () => {
    const store = await openStore('memory:');
    await registerWatchTarget(store, phone(), 'test'); // its WABA is not known: pending
    await registerWatchTarget(store, { CustSpaceId: 'C99999999999999', NodeType: 'phone', PhoneNumber: '8613800000999' }, 'test');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', action: 'QueryChatappBindWaba' }] });
    const lines: Array<Record<string, unknown>> = [];
    const receipt = [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }];
    const refused = await applyReceipts(parseBatch(receipt).receipts, { ...deps(store), log: (l) => lines.push(l) });
    expect(refused).toEqual([expect.objectContaining({ Outcome: 'unknown-waba' })]);
    // One call: the second space's look-up would meet the same missing grant.
    expect((await bindCalls()).map((c) => c.Code)).toEqual(['Ram.PermissionDeny']);
    expect(await store.get(SPACE_WABA_PREFIX + space)).toBeUndefined();
    expect(await store.get(SPACE_WABA_PREFIX + 'C99999999999999')).toBeUndefined();
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', code: 'Ram.PermissionDeny' }));
    expect((await store.get<ReceiptStats>(STATS_KEY))?.value).toMatchObject({ lookUpRefused: 1, unknownWaba: 1 });

    // The grant fixed: the next push asks again (it stayed unknown-waba for an hour).
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [] });
    clock += 60_000;
    expect(await push(store, receipt)).toEqual([expect.objectContaining({ Outcome: 'processed', Node: targetId(phone()) })]);
    expect((await store.get(SPACE_WABA_PREFIX + space))?.value).toEqual({ WabaId: WABA });
  });

  it("the invocation's STS token expired: the push's look-ups stop at the first (one CAMS call), nothing kept or counted, asked again by the next push", async () => {
    const store = await openStore('memory:');
    await registerWatchTarget(store, phone(), 'test');
    await registerWatchTarget(store, { CustSpaceId: 'C99999999999998', NodeType: 'phone', PhoneNumber: '8613800000998' }, 'test');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { expiredTokens: ['STS.ran-out'] });
    const expired = new CamsClient({ endpoint: sandbox.url, credentials: () => ({ ...DEFAULT_SANDBOX_KEYS[0]!, securityToken: 'STS.ran-out' }), budget: new CamsBudget({ qps: {} }) });
    const lines: Array<Record<string, unknown>> = [];
    const receipt = [{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }];
    const before = (await bindCalls()).length;
    expect(await applyReceipts(parseBatch(receipt).receipts, { ...deps(store), cams: expired, log: (l) => lines.push(l) })).toEqual([expect.objectContaining({ Outcome: 'unknown-waba' })]);
    // One call: the other space's look-up would sign with the same token.
    expect((await bindCalls()).slice(before).map((c) => c.Code)).toEqual(['InvalidSecurityToken.Expired']);
    expect(await store.get(SPACE_WABA_PREFIX + space)).toBeUndefined();
    expect(await store.get(SPACE_WABA_PREFIX + 'C99999999999998')).toBeUndefined();
    expect(lines).toContainEqual(expect.objectContaining({ level: 'warn', code: 'InvalidSecurityToken.Expired' }));
    expect((await store.get<ReceiptStats>(STATS_KEY))?.value).toMatchObject({ lookUpRefused: 0 });

    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { expiredTokens: [] });
    clock += 60_000;
    expect(await push(store, receipt)).toEqual([expect.objectContaining({ Outcome: 'processed', Node: targetId(phone()) })]);
  });

  it('a Forbidden.* refusal (the gateway refusing the account or key) is the caller\'s, not the space\'s: not kept, counted, the other spaces not asked', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ RequestId: 'R-F', Code: 'Forbidden.RiskControl', Message: 'The request was denied by risk control.' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const cams = new CamsClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credentials: DEFAULT_SANDBOX_KEYS[0]!, budget: new CamsBudget({ qps: {} }) });
      const store = await openStore('memory:');
      await registerWatchTarget(store, phone(), 'test');
      await registerWatchTarget(store, { CustSpaceId: 'C99999999999997', NodeType: 'phone', PhoneNumber: '8613800000997' }, 'test');
      const receipt = parseBatch([{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }]).receipts;
      expect(await applyReceipts(receipt, { ...deps(store), cams })).toEqual([expect.objectContaining({ Outcome: 'unknown-waba' })]);
      expect(hits).toBe(1);
      expect(await store.get(SPACE_WABA_PREFIX + space)).toBeUndefined();
      expect(await store.get(SPACE_WABA_PREFIX + 'C99999999999997')).toBeUndefined();
      expect((await store.get<ReceiptStats>(STATS_KEY))?.value).toMatchObject({ lookUpRefused: 1 });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a reply that could not be read (InvalidResponse) says nothing of the space: not kept, asked again at the next push', async () => {
    // A gateway answering 200 with a page that is not CAMS's JSON, on loopback.
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const cams = new CamsClient({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credentials: DEFAULT_SANDBOX_KEYS[0]!, budget: new CamsBudget({ qps: {} }) });
      const store = await openStore('memory:');
      await registerWatchTarget(store, phone(), 'test');
      for (const Status of ['PENDING', 'APPROVED']) {
        const receipt = parseBatch([{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status }]).receipts;
        expect(await applyReceipts(receipt, { ...deps(store), cams })).toEqual([expect.objectContaining({ Outcome: 'unknown-waba' })]);
      }
      expect(hits).toBe(2);
      expect(await store.get(SPACE_WABA_PREFIX + space)).toBeUndefined();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a refusal of the space itself (Unknown.ResourceOwnerId) is kept: not asked again within the hour', async () => {
    const store = await openStore('memory:');
    await registerWatchTarget(store, { CustSpaceId: 'C99999999999999', NodeType: 'phone', PhoneNumber: '8613800000999' }, 'test');
    for (let i = 0; i < 2; i++) await push(store, [{ Type: 'wabaAccountUpdate', WabaId: '999000111', Status: 'BLOCKED' }]);
    expect((await bindCalls()).map((c) => c.Code)).toEqual(['Unknown.ResourceOwnerId']);
    expect((await store.get(SPACE_WABA_PREFIX + 'C99999999999999'))?.value).toEqual({ Refused: 'Unknown.ResourceOwnerId' });
  });

  it('many pending spaces refused within the hour: a push reads a bounded number of them, not every one', async () => {
    const { store, ops, reset } = counting(await openStore('memory:'));
    await push(store, [{ Type: 'wabaAccountUpdate', WabaId: '999000111', Status: 'BLOCKED' }]); // the index is built (empty)
    for (let i = 0; i < 300; i++) {
      const cs = `C${String(i).padStart(14, '0')}`;
      await store.put(WABA_PENDING_PREFIX + cs, 1);
      await store.put(SPACE_WABA_PREFIX + cs, { Refused: 'Unknown.ResourceOwnerId' });
    }
    reset();
    expect(await push(store, [{ Type: 'wabaAccountUpdate', WabaId: '999000112', Status: 'BLOCKED' }])).toEqual([expect.objectContaining({ Outcome: 'unknown-waba' })]);
    expect(ops.get).toBeLessThan(80);
    expect(await bindCalls()).toEqual([]);
  });
});

describe('a push with several receipts for one node, delivered twice at once', () => {
  it('the delivery that records second counts every receipt of the node a duplicate, not only its last', async () => {
    const inner = await openStore('memory:');
    await registerWatchTarget(inner, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'AVAILABLE' });
    const batch = ['RED', 'GREEN'].map((Status) => ({ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status }));
    await push(inner, [{ Type: 'wabaAccountUpdate', WabaId: WABA, Status: 'X' }]); // the index is built, the WABA learnt
    let other: Awaited<ReturnType<typeof push>> | undefined;
    // This delivery reads the node's record (none yet), then the other delivery of the same push runs to its end.
    const racing = storeWith(inner, {
      get: async <T>(k: string) => {
        const v = await inner.get<T>(k);
        if (!other && k.startsWith(LAST_RECEIPT_PREFIX + 'phone:')) other = await push(inner, batch);
        return v;
      },
    });
    const mine = await push(racing, batch);
    expect(other!.map((r) => r.Outcome)).toEqual(['processed', 'processed']);
    expect(mine.map((r) => r.Outcome)).toEqual(['duplicate', 'duplicate']);
  });
});

describe('what a receipt says was read when its batch came, not when it was applied', () => {
  it("a REJECTED review receipt received before a listing read APPROVED, applied after it (the batch's work took that long): the listing's newer read resolves it (it was dropped, firing until the next listing)", async () => {
    const store = await openStore('memory:');
    const waba: WatchTarget = { CustSpaceId: space, NodeType: 'waba', WabaId: WABA };
    await registerWatchTarget(store, waba, 'test');
    const came = clock + 1_000;
    // Each reading of the clock a second on: the batch came at `came`, its receipt applied seconds later.
    const results = await applyReceipts(parseBatch([{ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'REJECTED' }]).receipts, { ...deps(store), now: () => (clock += 1_000) });
    expect(results).toEqual([expect.objectContaining({ Outcome: 'processed' })]);
    const rejected = (await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(wabaReviewObservation(waba, 'REJECTED')!.subject)))?.value;
    expect(rejected).toMatchObject({ status: 'BLOCKED', firing: true, readAt: came });
    expect(rejected!.lastCheckedAt).toBeGreaterThan(came + 1_500);
    // Discovery's QueryChatappBindWaba read APPROVED half a second after the batch came, applied once its listing is done.
    const listed = { ...wabaReviewObservation(waba, 'APPROVED')!, readAt: came + 500 };
    const state = await applyUnobserved(waba, listed, 'r', { store, policy: deps(store).policy, sinks: ['webhook'], now: () => (clock += 60_000) });
    expect(state).toMatchObject({ status: 'AVAILABLE', firing: false });
  });
});

describe('the node a receipt is about, by its Type', () => {
  it("a number's receipts and wabaAccountUpdate that also carry TemplateCode and Language: about the number, the template neither warned on nor put under watch", async () => {
    const store = await openStore('memory:');
    await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, 'test');
    const template = { TemplateCode: 'order_update', Language: 'en_US' };
    const results = await push(store, [
      { Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'RED', ...template },
      { Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED', ...template },
      { Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'BLOCKED', ...template },
    ]);
    expect(results.map((r) => r.Node)).toEqual([targetId(phone()), targetId(phone()), targetId(phone())]);
    const templateNode = targetId({ CustSpaceId: space, NodeType: 'template', ...template });
    expect(await store.get(WATCH_PREFIX + templateNode)).toBeUndefined();
    expect(await store.get(WATCH_PREFIX + targetId(phone()))).toBeDefined();
    // The quality warning is the number's, none on a template.
    const entities = (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value);
    expect(entities.find((e) => e.subject.entityType === 'PHONE_QUALITY')).toMatchObject({ subject: { phoneNumber: PHONE }, firing: true });
    expect(entities.filter((e) => e.subject.templateCode !== undefined)).toEqual([]);
  });
});
