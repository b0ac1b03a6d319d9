import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlertNotification } from '../../../shared/alerts/model.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { listHistories } from '../../../shared/history/record.ts';
import { applyObservation, applyUnobserved, checkTarget, EntityWrites, type CheckContext } from '../../../shared/monitor/check.ts';
import { deliverOwed } from '../../../shared/monitor/dispatch.ts';
import { fingerprintOf, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { ENTITY_PREFIX, OWED_PREFIX } from '../../../shared/monitor/entity-store.ts';
import { qualityObservation } from '../../../shared/monitor/quality.ts';
import { TARGET_INFO_PREFIX, UNPLANNED_PREFIX, type TargetInfo } from '../../../shared/monitor/target-info.ts';
import { targetId, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { templateStatusObservation } from '../../../shared/monitor/template-status.ts';
import { wabaReviewObservation } from '../../../shared/monitor/waba-review.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { storeWith } from '../../support/store.ts';
import { ok, startScriptedCams, TEST_KEY, type ScriptedCams } from '../cams/scripted-cams.ts';

describe('the one check path (sweep and receipts)', () => {
  let cams: ScriptedCams | undefined;
  afterEach(async () => {
    await cams?.close();
    cams = undefined;
  });

  const phone: WatchTarget = { CustSpaceId: 'cs-1', NodeType: 'phone', PhoneNumber: '8613800000001' };
  const ctx = (store: CheckContext['store'], over: Partial<CheckContext> = {}): CheckContext => ({
    store,
    policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 },
    sinks: ['s'],
    now: () => 1_700_000_000_000,
    deadline: Date.now() + 10_000,
    ...over,
  });

  it("a receipt's observation is written through updateEntity: indexed as owed, its history recorded, delivered", async () => {
    const store = await openStore('memory:');
    const subject = { nodeType: 'phone' as const, custSpaceId: 'cs-1', wabaId: 'w1', phoneNumber: '8613800000001', entityType: 'PHONE_QUALITY' };
    const state = await applyObservation({ subject, status: 'LIMITED', errors: [] }, 'receipts', false, ctx(store));
    expect(state).toMatchObject({ firing: true, outbox: [expect.anything()] });
    expect(await store.list(OWED_PREFIX)).toHaveLength(1);
    expect((await listHistories(store, 'cs-1')).map((h) => h.fingerprint)).toEqual([state!.fingerprint]);
    const sent: unknown[] = [];
    const report = await deliverOwed(store, [{ name: 's', perMinute: 100, send: async (n) => void sent.push(n) }], Date.now, () => {});
    expect(report.delivered).toEqual([{ sink: 's', group: 'waba:w1', items: 1 }]);
  });

  it('a state whose history write never happened (killed between the two writes) is recorded when the next state replaces it: a BLOCKED spell between two checks stays on the record', async () => {
    const inner = await openStore('memory:');
    let historyDown = false;
    const store = storeWith(inner, {
      put: (k, v, o) => (historyDown && k.startsWith('history/') ? Promise.reject(new Error('killed')) : inner.put(k, v, o)),
    });
    const subject = { nodeType: 'phone' as const, custSpaceId: 'cs-1', wabaId: 'w1', phoneNumber: '8613800000001', entityType: 'PHONE_NUMBER' };
    const DAY = 86_400_000;
    const t0 = Date.parse('2026-03-01T10:00:00Z');
    const at = (now: number) => ctx(store, { now: () => now });
    await applyObservation({ subject, status: 'AVAILABLE', errors: [] }, 'r1', false, at(t0));
    historyDown = true;
    await expect(applyObservation({ subject, status: 'BLOCKED', errors: [] }, 'r2', false, at(t0 + DAY))).rejects.toThrow('killed');
    historyDown = false;
    await applyObservation({ subject, status: 'AVAILABLE', errors: [] }, 'r3', false, at(t0 + 2 * DAY));
    const [h] = await listHistories(inner, 'cs-1');
    // Before, the record went on from AVAILABLE as if nothing had happened: no transition, no BLOCKED day.
    expect(h!.transitions.map((x) => [x.at, x.from, x.to])).toEqual([
      [t0 + DAY, 'AVAILABLE', 'BLOCKED'],
      [t0 + 2 * DAY, 'BLOCKED', 'AVAILABLE'],
    ]);
    expect(h!.days).toEqual([
      { day: '2026-03-01', worst: 'AVAILABLE' },
      { day: '2026-03-02', worst: 'BLOCKED' },
      { day: '2026-03-03', worst: 'AVAILABLE' },
    ]);
  });

  it("only the sweep's check marks the round; both record when the target was last checked, how it was, and the entities it reached", async () => {
    cams = await startScriptedCams(() =>
      ok({
        CanSendMessage: 'LIMITED',
        Entities: [
          { EntityType: 'PHONE_NUMBER', CanSendMessage: 'LIMITED', WabaId: 'w1', PhoneNumber: '8613800000001' },
          { EntityType: 'WABA', CanSendMessage: 'AVAILABLE', WabaId: 'w1' },
        ],
      }),
    );
    const client = new CamsClient({ endpoint: cams.url, credentials: TEST_KEY, budget: new CamsBudget() });
    const store = await openStore('memory:');
    const info = async () => (await store.get<TargetInfo>(TARGET_INFO_PREFIX + targetId(phone)))?.value;
    // The entities the reply named: the number, and its WABA (shared by every target of the WABA).
    const reach = [
      fingerprintOf({ nodeType: 'phone', custSpaceId: 'cs-1', wabaId: 'w1', entityType: 'PHONE_NUMBER', phoneNumber: '8613800000001' }),
      fingerprintOf({ nodeType: 'waba', custSpaceId: 'cs-1', wabaId: 'w1', entityType: 'WABA' }),
    ].sort();
    expect((await store.list(ENTITY_PREFIX)).map((e) => e.key.slice(ENTITY_PREFIX.length)).sort()).toEqual([]);

    await checkTarget(client, phone, 'round-1', ctx(store)); // as the receipts call it
    expect(await info()).toEqual({ lastCheckedAt: 1_700_000_000_000, status: 'LIMITED', reach, firingUnobserved: [] });
    expect((await store.list(ENTITY_PREFIX)).map((e) => e.key.slice(ENTITY_PREFIX.length)).sort()).toEqual(reach);
    // Begun outside a round check: marked, so that its removal is found even if no plan ever held it.
    expect((await store.list(UNPLANNED_PREFIX)).map((m) => m.key)).toEqual([UNPLANNED_PREFIX + targetId(phone)]);
    await checkTarget(client, phone, 'round-1', ctx(store, { round: true, now: () => 1_700_000_060_000 })); // as the sweep calls it
    expect(await info()).toEqual({ round: 'round-1', lastCheckedAt: 1_700_000_060_000, status: 'LIMITED', reach, firingUnobserved: [] });
    expect(await store.list(OWED_PREFIX)).toHaveLength(1);
  });

  it('the entities of a reply record when the reply came (EntityState.readAt), not when each was written', async () => {
    cams = await startScriptedCams(() =>
      ok({
        CanSendMessage: 'AVAILABLE',
        Entities: [
          { EntityType: 'PHONE_NUMBER', CanSendMessage: 'AVAILABLE', WabaId: 'w1', PhoneNumber: '8613800000001' },
          { EntityType: 'WABA', CanSendMessage: 'AVAILABLE', WabaId: 'w1' },
        ],
      }),
    );
    const client = new CamsClient({ endpoint: cams.url, credentials: TEST_KEY, budget: new CamsBudget() });
    const store = await openStore('memory:');
    // Each reading of the clock a second on: the first is when the reply came.
    let t = 1_700_000_000_000;
    await checkTarget(client, phone, 'round-1', ctx(store, { now: () => (t += 1_000) }));
    const states = (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value);
    expect(states.map((s) => s.readAt)).toEqual([1_700_000_001_000, 1_700_000_001_000]);
    for (const s of states) expect(s.lastCheckedAt).toBeGreaterThan(1_700_000_001_000);
  });

  it('a CanSendMessage value CAMS added since is a LIMITED warning that names the value, not a refused reply or AVAILABLE', async () => {
    cams = await startScriptedCams(() =>
      ok({
        CanSendMessage: 'RESTRICTED',
        Entities: [
          { EntityType: 'PHONE_NUMBER', CanSendMessage: 'RESTRICTED', WabaId: 'w1', PhoneNumber: '8613800000001', Errors: [{ ErrorCode: '131056', ErrorDescription: 'pair rate limit' }] },
          { EntityType: 'WABA', CanSendMessage: 'AVAILABLE', WabaId: 'w1' },
        ],
      }),
    );
    const client = new CamsClient({ endpoint: cams.url, credentials: TEST_KEY, budget: new CamsBudget() });
    const store = await openStore('memory:');
    const entities = await checkTarget(client, phone, 'round-1', ctx(store));
    expect(entities[0]!.CanSendMessage).toBe('RESTRICTED');
    expect((await store.get<TargetInfo>(TARGET_INFO_PREFIX + targetId(phone)))?.value.status).toBe('LIMITED');
    const states = (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value);
    const number = states.find((e) => e.subject.entityType === 'PHONE_NUMBER')!;
    expect(number).toMatchObject({ status: 'LIMITED', firing: true });
    expect(number.errors.map((e) => e.ErrorCode)).toEqual(['131056', 'UnknownCanSendMessage']);
    expect(number.errors[1]!.ErrorDescription).toContain('"RESTRICTED"');
  });

  it("a WABA a receipt's check wrote between the sweep's reports of it: the sweep's next report, though the same as its last, is written (the recovery notified), not skipped as said", async () => {
    let waba = 'AVAILABLE';
    cams = await startScriptedCams((call) =>
      ok({
        CanSendMessage: waba,
        Entities: [
          ...(call.params['PhoneNumber'] ? [{ EntityType: 'PHONE_NUMBER', CanSendMessage: 'AVAILABLE', WabaId: 'w1', PhoneNumber: call.params['PhoneNumber'] }] : []),
          { EntityType: 'WABA', CanSendMessage: waba, WabaId: 'w1' },
        ],
      }),
    );
    const client = new CamsClient({ endpoint: cams.url, credentials: TEST_KEY, budget: new CamsBudget() });
    const inner = await openStore('memory:');
    const wabaKey = ENTITY_PREFIX + fingerprintOf({ nodeType: 'waba', custSpaceId: 'cs-1', wabaId: 'w1', entityType: 'WABA' });
    let wabaWrites = 0;
    const store = storeWith(inner, { put: (k, v, o) => (k === wabaKey && wabaWrites++, inner.put(k, v, o)) });
    let t = 1_700_000_000_000;
    // One sweep invocation: its writes go through one EntityWrites, as HealthSweep's do.
    const sweep = ctx(store, { round: true, writes: new EntityWrites(), now: () => t });
    const phone2: WatchTarget = { ...phone, PhoneNumber: '8613800000002' };
    const wabaState = async () => (await inner.get<EntityState>(wabaKey))!.value;

    await checkTarget(client, phone, 'round-1', sweep);
    expect((await wabaState()).status).toBe('AVAILABLE');
    // The WABA is blocked; CAMS pushes a receipt, and cams-events checks the WABA at once.
    t += 1_000;
    waba = 'BLOCKED';
    await checkTarget(client, { CustSpaceId: 'cs-1', NodeType: 'waba', WabaId: 'w1' }, 'round-1', ctx(store, { now: () => t }));
    expect(await wabaState()).toMatchObject({ status: 'BLOCKED', firing: true });
    // It recovers (that receipt is lost); the sweep, still in the same invocation, checks the next number.
    t += 60_000;
    waba = 'AVAILABLE';
    await checkTarget(client, phone2, 'round-1', sweep);
    const after = await wabaState();
    expect(after).toMatchObject({ status: 'AVAILABLE', firing: false });
    expect(after.outbox.map((e) => e.item.reason)).toEqual(['new', 'resolved']);
    // Reports in a row that say what was just written are still written once, not per child check.
    const before = wabaWrites;
    t += 100;
    await checkTarget(client, phone, 'round-1', sweep);
    await checkTarget(client, phone2, 'round-1', sweep);
    expect(wabaWrites).toBe(before);
  });

  it.each([
    ['recovers with it', 'AVAILABLE', [['WABA BLOCKED new'], ['WABA RESOLVED resolved']]],
    ['is still LIMITED', 'LIMITED', [['WABA BLOCKED new'], ['WABA RESOLVED resolved', 'PHONE_NUMBER LIMITED new']]],
  ] as const)('a WABA and its held-back phone in one reply, the phone %s: the same notifications whichever entity the reply lists first', async (_case, phoneAfter, expected) => {
    // GetWhatsappHealthStatus lists Entities in no promised order. Listed WABA first, the WABA's
    // recovery released the phone's held LIMITED (NEW) before the phone's own AVAILABLE resolved it.
    const runWith = async (order: 'waba-first' | 'phone-first') => {
      let waba = 'BLOCKED';
      let number = 'LIMITED';
      const local = await startScriptedCams(() => {
        const entities = [
          { EntityType: 'WABA', CanSendMessage: waba, WabaId: 'w1' },
          { EntityType: 'PHONE_NUMBER', CanSendMessage: number, WabaId: 'w1', PhoneNumber: '8613800000001' },
        ];
        return ok({ CanSendMessage: waba, Entities: order === 'waba-first' ? entities : entities.reverse() });
      });
      try {
        const client = new CamsClient({ endpoint: local.url, credentials: TEST_KEY, budget: new CamsBudget() });
        const store = await openStore('memory:');
        // A clock that moves at every read, so the message's order is the order decisions were made.
        let t = 1_700_000_000_000;
        const c = ctx(store, { now: () => t++ });
        const messages: string[][] = [];
        const sink = { name: 's', perMinute: 100, send: async (n: AlertNotification) => void messages.push(n.items.map((i) => `${i.subject.entityType} ${i.status} ${i.reason}`)) };
        await checkTarget(client, phone, 'round-1', c);
        await deliverOwed(store, [sink], Date.now, () => {});
        waba = 'AVAILABLE';
        number = phoneAfter;
        await checkTarget(client, phone, 'round-2', c);
        await deliverOwed(store, [sink], Date.now, () => {});
        return messages;
      } finally {
        await local.close();
      }
    };
    const wabaFirst = await runWith('waba-first');
    const phoneFirst = await runWith('phone-first');
    expect({ wabaFirst, phoneFirst }).toEqual({ wabaFirst: expected, phoneFirst: expected });
  });
});

describe("firing alerts no check observes (a number's quality, a template's review): reminded by the target's check, at no cost while none fires", () => {
  let cams: ScriptedCams | undefined;
  afterEach(async () => {
    await cams?.close();
    cams = undefined;
  });

  const HOUR = 3_600_000;
  const T0 = 1_700_000_000_000;
  const phone: WatchTarget = { CustSpaceId: 'cs-1', NodeType: 'phone', PhoneNumber: '8613800000001' };
  const template: WatchTarget = { CustSpaceId: 'cs-1', NodeType: 'template', TemplateCode: 'order_update', Language: 'en_US' };
  /** What a receipt says of the node: a warning (YELLOW, paused) or its end (GREEN, pass). */
  const said = (target: WatchTarget, bad: boolean) =>
    target.NodeType === 'phone'
      ? qualityObservation({ CustSpaceId: 'cs-1', WabaId: 'w1', PhoneNumber: target.PhoneNumber }, { QualityRating: bad ? 'YELLOW' : 'GREEN' })
      : templateStatusObservation({ CustSpaceId: 'cs-1', WabaId: 'w1', TemplateCode: target.TemplateCode, Language: target.Language }, bad ? 'paused' : 'pass')!;
  const ctx = (store: CheckContext['store'], now: number): CheckContext => ({
    store,
    policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR },
    sinks: ['s'],
    now: () => now,
    deadline: Date.now() + 10_000,
  });
  const client = async () => {
    cams = await startScriptedCams((call) =>
      ok({
        CanSendMessage: 'AVAILABLE',
        Entities: [
          call.params['NodeType'] === 'phone'
            ? { EntityType: 'PHONE_NUMBER', CanSendMessage: 'AVAILABLE', WabaId: 'w1', PhoneNumber: call.params['PhoneNumber'] }
            : { EntityType: 'MESSAGE_TEMPLATE', CanSendMessage: 'AVAILABLE', WabaId: 'w1', TemplateCode: call.params['TemplateCode'], Language: call.params['Language'] },
          { EntityType: 'WABA', CanSendMessage: 'AVAILABLE', WabaId: 'w1' },
        ],
      }),
    );
    return new CamsClient({ endpoint: cams.url, credentials: TEST_KEY, budget: new CamsBudget() });
  };
  /** Every store call, by method. */
  const counting = (inner: Store) => {
    const ops = { get: 0, put: 0, delete: 0, list: 0 };
    const store = storeWith(inner, {
      get: (k) => (ops.get++, inner.get(k)),
      put: (k, v, o) => (ops.put++, inner.put(k, v, o)),
      delete: (k, o) => (ops.delete++, inner.delete(k, o)),
      list: (p, o) => (ops.list++, inner.list(p, o)),
    });
    return { store, ops };
  };
  /** Delivers what is owed; every reason sent so far. */
  const sent: string[] = [];
  const deliver = async (store: Store) => {
    await deliverOwed(store, [{ name: 's', perMinute: 100, send: async (n: AlertNotification) => void sent.push(...n.items.map((i) => i.reason)) }], Date.now, () => {});
    return [...sent];
  };
  beforeEach(() => void sent.splice(0));
  const record = async (store: Store, target: WatchTarget) => (await store.get<TargetInfo>(TARGET_INFO_PREFIX + targetId(target)))?.value;
  const entity = async (store: Store, target: WatchTarget) => (await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(said(target, true).subject)))?.value;

  it.each([
    ['number', phone],
    ['template', template],
  ] as const)('a %s whose receipt-only alert fired and resolved: its check costs the store exactly what a check of one that never had a receipt costs', async (_kind, target) => {
    const cams = await client();
    const cost = async (history: (store: Store) => Promise<void>) => {
      const { store, ops } = counting(await openStore('memory:'));
      await history(store);
      await checkTarget(cams, target, 'round-1', ctx(store, T0 + HOUR));
      for (const k of Object.keys(ops) as Array<keyof typeof ops>) ops[k] = 0;
      await checkTarget(cams, target, 'round-1', ctx(store, T0 + 6 * HOUR));
      return { ...ops, record: await record(store, target) };
    };
    const never = await cost(async () => {});
    const firedAndResolved = await cost(async (store) => {
      await applyUnobserved(target, said(target, true), 'r', ctx(store, T0));
      expect((await entity(store, target))?.firing).toBe(true);
      await applyUnobserved(target, said(target, false), 'r', ctx(store, T0 + 60_000));
      expect((await entity(store, target))?.firing).toBe(false);
    });
    const resolvedOnly = await cost((store) => applyUnobserved(target, said(target, false), 'r', ctx(store, T0)).then(() => undefined));
    expect(firedAndResolved.record?.reach).toContain(fingerprintOf(said(target, true).subject));
    expect(firedAndResolved.record?.firingUnobserved).toEqual([]);
    const { record: _n, ...neverOps } = never;
    const { record: _f, ...firedOps } = firedAndResolved;
    const { record: _r, ...resolvedOps } = resolvedOnly;
    expect({ firedOps, resolvedOps }).toEqual({ firedOps: neverOps, resolvedOps: neverOps });
  });

  it.each([
    ['number', phone],
    ['template', template],
  ] as const)('a %s whose alert fires: reminded by its check once ALERT_REPEAT_INTERVAL has passed, not before; its end drops the mark', async (_kind, target) => {
    const cams = await client();
    const store = await openStore('memory:');
    const reasons = () => deliver(store);
    await applyUnobserved(target, said(target, true), 'r', ctx(store, T0));
    const fp = fingerprintOf(said(target, true).subject);
    expect((await record(store, target))?.firingUnobserved).toEqual([fp]);
    expect(await reasons()).toEqual(['new']);
    await checkTarget(cams, target, 'round-1', ctx(store, T0 + HOUR));
    expect(await reasons()).toEqual(['new']);
    await checkTarget(cams, target, 'round-2', ctx(store, T0 + 4 * HOUR + 1));
    expect(await reasons()).toEqual(['new', 'reminder']);
    expect((await record(store, target))?.firingUnobserved).toEqual([fp]);
    await applyUnobserved(target, said(target, false), 'r', ctx(store, T0 + 5 * HOUR));
    await checkTarget(cams, target, 'round-3', ctx(store, T0 + 5 * HOUR));
    expect((await record(store, target))?.firingUnobserved).toEqual([]);
  });

  it('a process that died between marking the record and writing the entity: the stale mark costs the next check one read, then is dropped', async () => {
    const cams = await client();
    const inner = await openStore('memory:');
    const fp = fingerprintOf(said(phone, true).subject);
    const dying = storeWith(inner, {
      put: (k, v, o) => (k === ENTITY_PREFIX + fp ? Promise.reject(new Error('killed')) : inner.put(k, v, o)),
    });
    await expect(applyUnobserved(phone, said(phone, true), 'r', ctx(dying, T0))).rejects.toThrow('killed');
    expect((await record(inner, phone))?.firingUnobserved).toEqual([fp]);
    const { store, ops } = counting(inner);
    await checkTarget(cams, phone, 'round-1', ctx(store, T0 + HOUR));
    const first = { ...ops };
    expect((await record(inner, phone))?.firingUnobserved).toEqual([]);
    for (const k of Object.keys(ops) as Array<keyof typeof ops>) ops[k] = 0;
    await checkTarget(cams, phone, 'round-1', ctx(store, T0 + 2 * HOUR));
    // The first check read the entity (absent) and wrote the record without the mark; the next does neither.
    expect(first).toEqual({ ...ops, get: ops.get + 1, put: ops.put + 1 });
  });

  it('a process that died after writing a firing entity, before writing the record again: the mark written before the entity stands, so it is reminded', async () => {
    const cams = await client();
    const inner = await openStore('memory:');
    const fp = fingerprintOf(said(phone, true).subject);
    let entityWritten = false;
    const dying = storeWith(inner, {
      put: (k, v, o) => {
        if (k === ENTITY_PREFIX + fp) entityWritten = true;
        else if (entityWritten && k.startsWith(TARGET_INFO_PREFIX)) return Promise.reject(new Error('killed'));
        return inner.put(k, v, o);
      },
    });
    await expect(applyUnobserved(phone, said(phone, true), 'r', ctx(dying, T0))).rejects.toThrow('killed');
    expect((await entity(inner, phone))?.firing).toBe(true);
    expect((await record(inner, phone))?.firingUnobserved).toEqual([fp]);
    expect(await deliver(inner)).toEqual(['new']);
    await checkTarget(cams, phone, 'round-1', ctx(inner, T0 + 4 * HOUR + 1));
    expect(await deliver(inner)).toEqual(['new', 'reminder']);
  });

  it('a receipt that fires the alert between the check reading it (not firing) and dropping its mark: the mark stays', async () => {
    const cams = await client();
    const inner = await openStore('memory:');
    const fp = fingerprintOf(said(phone, true).subject);
    // YELLOW then GREEN, no check between: the mark is stale, and the next check drops it...
    await applyUnobserved(phone, said(phone, true), 'r', ctx(inner, T0));
    await applyUnobserved(phone, said(phone, false), 'r', ctx(inner, T0 + 60_000));
    expect((await record(inner, phone))?.firingUnobserved).toEqual([fp]);
    expect(await deliver(inner)).toEqual(['new', 'resolved']);
    // ...but right after it read the entity, another instance acts on a RED receipt.
    let raced = false;
    const store = storeWith(inner, {
      get: async <T>(k: string) => {
        const v = await inner.get<T>(k);
        if (k === ENTITY_PREFIX + fp && !raced) {
          raced = true;
          await applyUnobserved(phone, qualityObservation({ CustSpaceId: 'cs-1', WabaId: 'w1', PhoneNumber: phone.PhoneNumber }, { QualityRating: 'RED' }), 'r', ctx(inner, T0 + 120_000));
        }
        return v;
      },
    });
    await checkTarget(cams, phone, 'round-1', ctx(store, T0 + HOUR));
    expect(raced).toBe(true);
    expect((await entity(inner, phone))?.firing).toBe(true);
    expect((await record(inner, phone))?.firingUnobserved).toEqual([fp]);
    // So it is reminded.
    expect(await deliver(inner)).toEqual(['new', 'resolved', 'new']);
    await checkTarget(cams, phone, 'round-2', ctx(inner, T0 + 120_000 + 4 * HOUR));
    expect(await deliver(inner)).toEqual(['new', 'resolved', 'new', 'reminder']);
  });

  it('a record written before the marks: its next check reads each entity of its reach the reply did not name, once, reminds a firing one, and records what fires', async () => {
    const cams = await client();
    const store = await openStore('memory:');
    await applyUnobserved(template, said(template, true), 'r', ctx(store, T0));
    expect(await deliver(store)).toEqual(['new']);
    const fp = fingerprintOf(said(template, true).subject);
    // As an earlier version left it: no marks.
    const { firingUnobserved: _, ...old } = (await record(store, template))!;
    await store.put(TARGET_INFO_PREFIX + targetId(template), old);
    await store.put(TARGET_INFO_PREFIX + targetId(phone), { lastCheckedAt: T0 });
    await checkTarget(cams, template, 'round-1', ctx(store, T0 + 4 * HOUR + 1));
    expect(await deliver(store)).toEqual(['new', 'reminder']);
    expect((await record(store, template))?.firingUnobserved).toEqual([fp]);
    // One whose reach the reply names in full: known to have none, in the check's own write.
    await checkTarget(cams, phone, 'round-1', ctx(store, T0 + HOUR));
    expect((await record(store, phone))?.firingUnobserved).toEqual([]);
  });
});

describe('a listing read judged by when what the entity holds was read, not when that was applied', () => {
  const T0 = 1_700_000_000_000;
  const SECOND = 1_000;
  const waba: WatchTarget = { CustSpaceId: 'cs-1', NodeType: 'waba', WabaId: 'w1' };
  const phone: WatchTarget = { CustSpaceId: 'cs-1', NodeType: 'phone', WabaId: 'w1', PhoneNumber: '8613800000001' };
  const at = (store: Store, now: number) => ({ store, policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 }, sinks: ['s'], now: () => now });
  const review = (status: string, readAt: number) => ({ ...wabaReviewObservation(waba, status)!, readAt });
  const quality = (a: { QualityRating: string; MessagingLimitTier?: string }) => qualityObservation(phone, { PeakMessagingLimitTier: 'TIER_10K', MessagingLimitTier: 'TIER_10K', ...a });
  const reasons = (s: EntityState | undefined) => s!.outbox.map((e) => [e.item.status, e.item.reason]);

  it("two Discover entries of one space: the first reads REJECTED, the second APPROVED a moment later; the first applied first, the second's newer read resolves it (it was dropped as older than the first's apply, firing until the next listing)", async () => {
    const store = await openStore('memory:');
    await applyUnobserved(waba, review('REJECTED', T0), 'r1', at(store, T0 + 60 * SECOND));
    const state = await applyUnobserved(waba, review('APPROVED', T0 + SECOND), 'r1', at(store, T0 + 61 * SECOND));
    expect(state).toMatchObject({ status: 'AVAILABLE', firing: false, readAt: T0 + SECOND });
    expect(reasons(state)).toEqual([
      ['BLOCKED', 'new'],
      ['RESOLVED', 'resolved'],
    ]);
  });

  it('a receipt received before a listing read but applied after it: the listing read, newer, is applied', async () => {
    const store = await openStore('memory:');
    await applyUnobserved(waba, { ...wabaReviewObservation(waba, 'REJECTED')!, receivedAt: T0 }, 'r1', at(store, T0 + 2 * SECOND));
    const state = await applyUnobserved(waba, review('APPROVED', T0 + SECOND), 'r1', at(store, T0 + 60 * SECOND));
    expect(state).toMatchObject({ status: 'AVAILABLE', firing: false });
  });

  it('a listing read older than what the entity holds is still not applied, the other order of the same reads', async () => {
    const store = await openStore('memory:');
    await applyUnobserved(waba, review('APPROVED', T0 + SECOND), 'r1', at(store, T0 + 2 * SECOND));
    await applyUnobserved(waba, review('REJECTED', T0 + 30 * SECOND), 'r1', at(store, T0 + 31 * SECOND));
    const state = await applyUnobserved(waba, review('APPROVED', T0 + 10 * SECOND), 'r1', at(store, T0 + 60 * SECOND));
    expect(state).toMatchObject({ status: 'BLOCKED', firing: true, readAt: T0 + 30 * SECOND });
  });

  it('a record from before readAt: when it was applied stands for when it was read', async () => {
    const store = await openStore('memory:');
    const written = await applyUnobserved(waba, review('REJECTED', T0), 'r1', at(store, T0 + 60 * SECOND));
    const { readAt: _, ...old } = written!;
    await store.put(ENTITY_PREFIX + written!.fingerprint, old);
    const state = await applyUnobserved(waba, review('APPROVED', T0 + SECOND), 'r1', at(store, T0 + 61 * SECOND));
    expect(state).toMatchObject({ status: 'BLOCKED', firing: true });
  });

  it("a listing's tier kept with a newer rating keeps that rating's read time: a listing read between the two does not bring its older rating back", async () => {
    const store = await openStore('memory:');
    // A RED receipt at T0+10 s; a listing read at T0 (GREEN, the tier dropped) applied after it, with the receipt's RED.
    await applyUnobserved(phone, { ...quality({ QualityRating: 'RED' }), receivedAt: T0 + 10 * SECOND }, 'r1', at(store, T0 + 10 * SECOND));
    let state = await applyUnobserved(phone, { ...quality({ QualityRating: 'GREEN', MessagingLimitTier: 'TIER_1K' }), readAt: T0 }, 'r1', at(store, T0 + 60 * SECOND));
    expect(state!.errors.map((e) => e.ErrorCode)).toEqual(['QualityRating.RED', 'MessagingLimitTier.Dropped.TIER_1K']);
    expect(state!.readAt).toBe(T0 + 10 * SECOND);
    // Another entry's listing, read at T0+5 s (GREEN), applied last: still older than the RED receipt.
    state = await applyUnobserved(phone, { ...quality({ QualityRating: 'GREEN', MessagingLimitTier: 'TIER_1K' }), readAt: T0 + 5 * SECOND }, 'r1', at(store, T0 + 61 * SECOND));
    expect(state).toMatchObject({ quality: 'RED' });
  });
});
