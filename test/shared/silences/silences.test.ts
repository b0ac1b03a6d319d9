import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/dispatch.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { HealthSweep, type HealthSweepOptions } from '../../../shared/monitor/sweep.ts';
import type { WatchTarget } from '../../../shared/monitor/targets.ts';
import { EXPIRED_LISTED_MS, matches } from '../../../shared/silences/silence.ts';
import { listSilencesService } from '../../../shared/services/silences.ts';
import { createSilence, expireSilence, listSilencePage, listSilences } from '../../../shared/silences/store.ts';
import type { Store } from '../../../shared/store/port.ts';
import { onboardThroughFunctions, RecordingSink, sandboxClient, sandboxPerFileStorePerTest, setHealth } from '../../support/monitor.ts';

const HOUR = 3_600_000;
const WABA = '299399000041';
let sandbox: RunningSandbox;
let store: Store;
let space: string;
let clock: number;
const BLOCKED = [{ ErrorCode: '141006', ErrorDescription: 'payment method', PossibleSolution: 'Add a valid payment method' }];

sandboxPerFileStorePerTest((parts) => ({ sandbox, store } = parts), { quiet: true, healthQps: 50 });
beforeEach(async () => {
  space = await onboardThroughFunctions(WABA, [
    { cc: '86', phone: '13800000041' },
    { cc: '86', phone: '13800000042' },
  ]);
  clock = Date.now();
});

const phone1 = (): WatchTarget => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000041' });
const phone2 = (): WatchTarget => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000042' });

function sweep(sink: RecordingSink, over: Partial<HealthSweepOptions> = {}) {
  return new HealthSweep({
    store,
    cams: sandboxClient(sandbox, 50),
    sinks: [sink],
    policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR },
    envTargets: [phone1(), phone2()],
    concurrency: 2,
    deadline: Date.now() + 20_000,
    alertClock: () => clock,
    ...over,
  }).run();
}

const sentNodes = (sink: RecordingSink) => sink.received.flatMap((n) => n.items.map((i) => `${i.reason} ${i.subject.phoneNumber ?? i.subject.entityType}`));
const entities = async () => (await store.list<EntityState>(ENTITY_PREFIX)).map((r) => r.value);
const silence = (matchers: Array<{ Name: 'PhoneNumber' | 'WabaId'; Value: string }>, endsAt = clock + HOUR) =>
  createSilence(store, { Matchers: matchers, StartsAt: clock - 1000, EndsAt: endsAt, CreatedBy: 'ops', Comment: 'known' }, clock);

describe('silences in the deliverer (sandbox CAMS, file store)', () => {
  it('a silence matching a phone suppresses its alert and records it; the other phone is still sent', async () => {
    const sink = new RecordingSink();
    await sweep(sink);
    const s = await silence([{ Name: 'PhoneNumber', Value: '8613800000041' }]);
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: BLOCKED });
    await setHealth(sandbox, { ...phone2(), CanSendMessage: 'LIMITED' });
    clock += 60_000;
    await sweep(sink);
    expect(sentNodes(sink)).toEqual(['new 8613800000042']);
    const p1 = (await entities()).find((e) => e.subject.phoneNumber === '8613800000041')!;
    expect(p1).toMatchObject({ firing: true, outbox: [], silenced: { silenceId: s.SilenceId, item: { status: 'BLOCKED', reason: 'new' } } });

    // GET /silences counts it through the silenced index, never listing every entity.
    const listed: string[] = [];
    const watched = new Proxy(store, {
      get: (target, prop, recv) => (prop === 'list' ? (prefix: string, ...rest: unknown[]) => (listed.push(prefix), target.list(prefix, ...(rest as []))) : Reflect.get(target, prop, recv)),
    });
    const suppressed = async () => ((await listSilencesService(watched, clock)).data as { Silences: Array<{ SilenceId: string; Suppressed: number }> }).Silences.find((x) => x.SilenceId === s.SilenceId)!.Suppressed;
    expect(await suppressed()).toBe(1);
    expect(listed).not.toContain(ENTITY_PREFIX);
    // Ended, it holds nothing back (its record is owed again at the next flush).
    await expireSilence(store, s.SilenceId, clock);
    expect(await suppressed()).toBe(0);
  });

  it('deleting the silence while the alert still fires notifies it, once', async () => {
    const sink = new RecordingSink();
    await sweep(sink);
    const s = await silence([{ Name: 'PhoneNumber', Value: '8613800000041' }]);
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: BLOCKED });
    clock += 60_000;
    await sweep(sink);
    expect(sink.received).toHaveLength(0);
    await expireSilence(store, s.SilenceId, Date.now());
    clock += 60_000;
    await sweep(sink);
    clock += 60_000;
    await sweep(sink);
    expect(sentNodes(sink)).toEqual(['new 8613800000041']);
    expect(sink.received[0]!.items[0]!.errors[0]!.ErrorCode).toBe('141006');
    expect((await entities()).every((e) => !e.silenced)).toBe(true);
  });

  it('a silence that ends after the alert resolved notifies nothing', async () => {
    const sink = new RecordingSink();
    await sweep(sink);
    const s = await silence([{ Name: 'PhoneNumber', Value: '8613800000041' }]);
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: BLOCKED });
    clock += 60_000;
    await sweep(sink);
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'AVAILABLE' });
    clock += 60_000;
    await sweep(sink);
    await expireSilence(store, s.SilenceId, Date.now());
    await sweep(sink);
    expect(sink.received).toHaveLength(0);
  });

  it('two sinks on their own reminder clocks, each reminder struck by a later silence: both are reminded when it ends, not only the last one struck', async () => {
    // a heard the alert at once; b was down and heard it 2 h later. A silence over a change there and
    // back leaves each on its own clock (remindFrom): a from 0, b from 2 h.
    const a = new RecordingSink('a');
    const b = new RecordingSink('b');
    const t0 = clock;
    const sinks = { sinks: [a, b], envTargets: [phone1()] };
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: BLOCKED });
    b.failNext = 1;
    await sweep(a, sinks);
    clock = t0 + 2 * HOUR;
    await sweep(a, sinks);
    const s1 = await silence([{ Name: 'PhoneNumber', Value: '8613800000041' }], clock + 10 * HOUR);
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'LIMITED' });
    clock += 60_000;
    await sweep(a, sinks); // struck
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: BLOCKED });
    clock += 60_000;
    await sweep(a, sinks); // struck: back to what both heard
    await expireSilence(store, s1.SilenceId, clock);
    clock += 60_000;
    await sweep(a, sinks);
    expect([sentNodes(a), sentNodes(b)]).toEqual([['new 8613800000041'], ['new 8613800000041']]);

    // A second silence strikes a's reminder (4 h), then b's (6 h), each to its sink only.
    const s2 = await silence([{ Name: 'PhoneNumber', Value: '8613800000041' }], t0 + 20 * HOUR);
    clock = t0 + 4 * HOUR;
    await sweep(a, sinks);
    clock = t0 + 6 * HOUR;
    await sweep(a, sinks);
    expect([sentNodes(a), sentNodes(b)]).toEqual([['new 8613800000041'], ['new 8613800000041']]);
    await expireSilence(store, s2.SilenceId, clock);
    clock += 60_000;
    await sweep(a, sinks);
    // Both last heard it 6 h and 4 h ago, and the silence kept a reminder from each: both are reminded
    // now (before, only b, the sink of the last reminder struck; a waited till 8 h).
    expect([sentNodes(a), sentNodes(b)]).toEqual([
      ['new 8613800000041', 'reminder 8613800000041'],
      ['new 8613800000041', 'reminder 8613800000041'],
    ]);
  });

  it('two sinks on their own reminder clocks, a silence ending by its time: a reminder owed since to one sink does not stand for the other\'s', async () => {
    const a = new RecordingSink('a');
    const b = new RecordingSink('b');
    const t0 = clock;
    const sinks = { sinks: [a, b], envTargets: [phone1()] };
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: BLOCKED });
    b.failNext = 1;
    await sweep(a, sinks); // a hears it at 0
    clock = t0 + 2 * HOUR;
    await sweep(a, sinks); // b at 2 h
    const s1 = await silence([{ Name: 'PhoneNumber', Value: '8613800000041' }], clock + 10 * HOUR);
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'LIMITED' });
    clock += 60_000;
    await sweep(a, sinks);
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: BLOCKED });
    clock += 60_000;
    await sweep(a, sinks);
    await expireSilence(store, s1.SilenceId, clock);
    clock += 60_000;
    await sweep(a, sinks); // nothing owed: a's clock 0, b's 2 h

    // A second silence, ending at 6.5 h by its time, strikes a's reminder (5 h) and b's (6 h), each to
    // its sink only. At 9 h a's next one is composed (its clock: the struck one) before the deliverer
    // finds the silence over; b's clock (6 h) has 1 h to go.
    await silence([{ Name: 'PhoneNumber', Value: '8613800000041' }], t0 + 6.5 * HOUR);
    clock = t0 + 5 * HOUR;
    await sweep(a, sinks);
    clock = t0 + 6 * HOUR;
    await sweep(a, sinks);
    expect([sentNodes(a), sentNodes(b)]).toEqual([['new 8613800000041'], ['new 8613800000041']]);
    clock = t0 + 9 * HOUR + 60_000;
    await sweep(a, sinks);
    // b last heard it 7 h ago and the silence kept its reminder: it is reminded now, with a (before,
    // a's reminder owed since stood for b's, and b heard nothing till its own clock, at 10 h).
    expect([sentNodes(a), sentNodes(b)]).toEqual([
      ['new 8613800000041', 'reminder 8613800000041'],
      ['new 8613800000041', 'reminder 8613800000041'],
    ]);
  });

  it('a silence of a WABA covers its phones', async () => {
    const sink = new RecordingSink();
    await sweep(sink);
    await silence([{ Name: 'WabaId', Value: WABA }]);
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: BLOCKED });
    await setHealth(sandbox, { ...phone2(), CanSendMessage: 'LIMITED' });
    clock += 60_000;
    await sweep(sink);
    expect(sink.received).toHaveLength(0);
    expect((await entities()).filter((e) => e.silenced).map((e) => e.subject.phoneNumber).sort()).toEqual(['8613800000041', '8613800000042']);
    expect(matches({ Matchers: [{ Name: 'WabaId', Value: WABA }] }, { nodeType: 'template', entityType: 'MESSAGE_TEMPLATE', wabaId: WABA, templateCode: 't' })).toBe(true);
  });
});

describe('silence store', () => {
  it('lists an ended silence for 7 days, then not', async () => {
    const t = Date.now();
    const s = await createSilence(store, { Matchers: [{ Name: 'WabaId', Value: '1' }], StartsAt: t, EndsAt: t + HOUR, CreatedBy: 'a', Comment: 'c' }, t);
    expect((await listSilences(store, t + HOUR + EXPIRED_LISTED_MS - 1, { ended: 1 })).silences.map((x) => x.SilenceId)).toEqual([s.SilenceId]);
    expect((await listSilencePage(store, t + HOUR + EXPIRED_LISTED_MS - 1, 10)).silences.map((x) => x.SilenceId)).toEqual([s.SilenceId]);
    expect((await listSilences(store, t + HOUR + EXPIRED_LISTED_MS, { ended: 1 })).silences).toEqual([]);
    expect((await listSilencePage(store, t + HOUR + EXPIRED_LISTED_MS, 10)).silences).toEqual([]);
  });
});
