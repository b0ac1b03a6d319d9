import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertNotification, AlertSink, AlertSubject } from '../../../shared/alerts/model.ts';
import { SinkDeliveryError } from '../../../shared/alerts/model.ts';
import { WebhookSink } from '../../../shared/alerts/sinks/webhook.ts';
import { DELIVER_AGAIN, DELIVERY_LEASE, deliverOwed, ENTITY_PREFIX, SINK_REFUSALS } from '../../../shared/monitor/dispatch.ts';
import { SINK_HOLD_MAX_MS } from '../../../shared/monitor/sink-window.ts';
import { EVERY_SINK, fingerprintOf, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { OWED_PREFIX, reindexEntities, SILENCED_PREFIX, updateEntity } from '../../../shared/monitor/entity-store.ts';
import { observeMonitorSubject } from '../../../shared/monitor/monitor-alert.ts';
import { evaluate } from '../../../shared/monitor/rules.ts';
import { createSilence, expireSilence } from '../../../shared/silences/store.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { ListOptions, Store } from '../../../shared/store/port.ts';
import { storeWith } from '../../support/store.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';

const redisBin = findOnPath('redis-server');

class TimedSink implements AlertSink {
  readonly sent: Array<{ at: number; n: AlertNotification }> = [];
  fail: SinkDeliveryError | undefined;
  constructor(readonly name: string, readonly perMinute = 100, readonly minIntervalMs?: number) {}
  async send(n: AlertNotification) {
    if (this.fail) throw this.fail;
    this.sent.push({ at: Date.now(), n });
  }
}

function phoneSubject(wabaId: string, phoneNumber = `86${wabaId}`): AlertSubject {
  return { nodeType: 'phone', custSpaceId: 'cs', wabaId, phoneNumber, entityType: 'PHONE_NUMBER' };
}

/** A BLOCKED alert about a phone of `wabaId` (by default `86<wabaId>`), owed to `sinks`. */
async function owe(store: Store, wabaId: string, sinks: string[], phoneNumber?: string): Promise<void> {
  const subject = phoneSubject(wabaId, phoneNumber);
  const state = evaluate(undefined, { subject, status: 'BLOCKED', errors: [] }, { now: Date.now(), round: 'r', policy: { minConsecutive: 1, repeatIntervalMs: 1e9 }, inhibited: false, sinks });
  // Written as the sweep writes it: through updateEntity, which indexes what is owed.
  await updateEntity(store, fingerprintOf(subject), () => state);
}

const noLog = () => {};

/** A receiver whose host accepts connections and never answers (a hung receiver, a black-holing proxy). */
async function withHungReceiver(run: (port: number, held: readonly Socket[]) => Promise<void>): Promise<void> {
  const held: Socket[] = [];
  const hung = createServer((socket) => void held.push(socket));
  await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
  try {
    await run((hung.address() as { port: number }).port, held);
  } finally {
    for (const s of held) s.destroy();
    await new Promise((resolve) => hung.close(resolve));
  }
}


describe('deliverOwed', () => {
  it("lists a group's owed entries in sendOrder, not in the order the entities are stored", async () => {
    const store = await openStore('memory:');
    const sink = new TimedSink('s');
    const policy = { minConsecutive: 1, repeatIntervalMs: 1e9 };
    // Two nodes of one WABA: the one stored last (by fingerprint) is decided first.
    const [first, second] = [phoneSubject('7', '8671'), phoneSubject('7', '8672')].sort((a, b) => (fingerprintOf(a) > fingerprintOf(b) ? -1 : 1));
    for (const [subject, at] of [[first!, 1000], [second!, 2000]] as const) {
      await updateEntity(store, fingerprintOf(subject), () => evaluate(undefined, { subject, status: 'BLOCKED', errors: [] }, { now: at, round: 'r', policy, inhibited: false, sinks: ['s'] }));
    }
    await deliverOwed(store, [sink], Date.now, noLog);
    expect(sink.sent[0]!.n.items.map((i) => i.fingerprint)).toEqual([fingerprintOf(first!), fingerprintOf(second!)]);
  });

  it('sends one message per group, strikes deliveries only once confirmed, and spaces per-second channels', async () => {
    const store = await openStore('memory:');
    const sink = new TimedSink('slow', 100, 300);
    await owe(store, '1', ['slow']);
    await owe(store, '2', ['slow']);
    const report = await deliverOwed(store, [sink], Date.now, noLog);
    expect(report.delivered.map((d) => d.group)).toEqual(['waba:1', 'waba:2']);
    expect(sink.sent[1]!.at - sink.sent[0]!.at).toBeGreaterThanOrEqual(290);
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([]);
    for (const e of await store.list<EntityState>(ENTITY_PREFIX)) expect(e.value.outbox).toEqual([]);
  });

  it('spaces per-second channels across deliveries too: a flush right after another waits for the channel\'s interval', async () => {
    // The sweep flushes 250 ms after a finding, and cams-events after each receipt: each flush is its
    // own deliverOwed, and Lark (5/s) or Slack (~1/s) count them all.
    const store = await openStore('memory:');
    const sink = new TimedSink('slow', 100, 300);
    await owe(store, '1', ['slow']);
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toHaveLength(1);
    await owe(store, '2', ['slow']);
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toHaveLength(1);
    expect(sink.sent[1]!.at - sink.sent[0]!.at).toBeGreaterThanOrEqual(290);
  });

  it('keeps what does not fit the per-minute budget, or failed, owed for the next sweep', async () => {
    const store = await openStore('memory:');
    const sink = new TimedSink('tight', 1);
    await owe(store, '1', ['tight']);
    await owe(store, '2', ['tight']);
    const first = await deliverOwed(store, [sink], Date.now, noLog);
    expect(first.delivered).toHaveLength(1);
    expect(first.deferred).toEqual([{ sink: 'tight', group: 'waba:2', reason: '1 messages/min reached' }]);

    const flaky = new TimedSink('flaky');
    await owe(store, '3', ['flaky']);
    flaky.fail = new SinkDeliveryError('flaky', 'throttled', true, 60_000);
    expect((await deliverOwed(store, [flaky], Date.now, noLog)).failed).toHaveLength(1);
    flaky.fail = undefined;
    // The channel asked to wait: nothing is sent before then, and it is still owed.
    expect((await deliverOwed(store, [flaky], Date.now, noLog)).deferred[0]!.reason).toContain('asked to wait');
    const later = await deliverOwed(store, [flaky], () => Date.now() + 61_000, noLog);
    expect(later.delivered).toEqual([{ sink: 'flaky', group: 'waba:3', items: 1 }]);
  });

  it('holds a sink at most 10 minutes whatever Retry-After a receiver sends: a day held every alert of it for a day', async () => {
    const store = await openStore('memory:');
    const hook = new TimedSink('hook');
    await owe(store, '4', ['hook']);
    const t0 = Date.now();
    hook.fail = new SinkDeliveryError('hook', '429 Too Many Requests', true, 86_400_000);
    expect((await deliverOwed(store, [hook], () => t0, noLog)).failed).toHaveLength(1);
    hook.fail = undefined;
    expect((await deliverOwed(store, [hook], () => t0 + SINK_HOLD_MAX_MS - 1, noLog)).deferred[0]!.reason).toContain('asked to wait');
    expect((await deliverOwed(store, [hook], () => t0 + SINK_HOLD_MAX_MS, noLog)).delivered).toEqual([{ sink: 'hook', group: 'waba:4', items: 1 }]);
  });

  it.each([
    ['the store went away right after the send: it goes out again as the same message (same id), and the new alert apart', (_k: string) => true],
    ['only the strike failed (the send was marked confirmed): it is struck off, not sent again', (k: string) => k.startsWith(ENTITY_PREFIX)],
  ])("a send whose strike failed, the group owing more since: %s", async (_case, fails) => {
    // Found by test/functions/alerts-soak.test.ts: redis restarted between a send and its strike, and the
    // next deliverer put the unstruck alert in one message with what was owed since, under a new id:
    // the receiver could not tell it had it, and notified it twice.
    const inner = await openStore('memory:');
    const sink = new TimedSink('hook');
    const oweAbout = (phone: string) => owe(inner, '7', ['hook'], phone);
    await oweAbout('8613800000001');
    // The store goes away right after the send: the strike's write fails.
    let down = false;
    const send = sink.send.bind(sink);
    sink.send = async (n) => {
      await send(n);
      down = true;
    };
    const failing = storeWith(inner, { put: (k, v, o) => (down && fails(k) ? Promise.reject(new Error('store unavailable')) : inner.put(k, v, o)) });
    await expect(deliverOwed(failing, [sink], Date.now, noLog)).rejects.toThrow('store unavailable');
    expect(sink.sent).toHaveLength(1);
    sink.send = send;
    down = false;
    // Meanwhile the same WABA group owes another alert.
    await oweAbout('8613800000002');
    await deliverOwed(inner, [sink], Date.now, noLog);
    const phones = (n: AlertNotification) => n.items.map((i) => i.subject.phoneNumber);
    if (fails('monitor/sending/')) {
      expect(sink.sent.map((s) => phones(s.n))).toEqual([['8613800000001'], ['8613800000001'], ['8613800000002']]);
      // The repeat is the message the receiver has: the same X-Alert-Id, which it drops.
      expect(sink.sent[1]!.n.id).toBe(sink.sent[0]!.n.id);
    } else {
      expect(sink.sent.map((s) => phones(s.n))).toEqual([['8613800000001'], ['8613800000002']]);
    }
    expect(await inner.list('monitor/sending/')).toEqual([]);
    expect((await deliverOwed(inner, [sink], Date.now, noLog)).delivered).toEqual([]);
    for (const e of await inner.list<EntityState>(ENTITY_PREFIX)) expect(e.value.outbox).toEqual([]);
  });

  it("a sink that does not answer (two sends in a row time out) is left for the rest of the flush: the other sinks' messages are not held behind one timeout per group, nor cut off by the invocation's end", async () => {
    await withHungReceiver(async (port, held) => {
      const store = await openStore('memory:');
      const webhook = new WebhookSink(`http://127.0.0.1:${port}/hook`, 'whsec-test', { timeoutMs: 300 });
      const recorder = Object.assign(new TimedSink('recorder'), { timeoutMs: 300 });
      const groups = ['1', '2', '3', '4', '5', '6', '7', '8'];
      for (const g of groups) await owe(store, g, ['webhook', 'recorder']);
      // The invocation has 3 s left: one timeout per group (2.4 s for the webhook's eight) left the
      // recorder no send before its end.
      const report = await deliverOwed(store, [webhook, recorder], Date.now, noLog, { deadline: Date.now() + 3000 });
      expect(recorder.sent.map((s) => s.n.group).sort()).toEqual(groups.map((g) => `waba:${g}`));
      expect(held).toHaveLength(2);
      expect(report.failed.map((f) => f.sink)).toEqual(['webhook', 'webhook']);
      expect(report.deferred.filter((d) => d.sink === 'webhook')).toHaveLength(6);
      // Still owed to the webhook, every group: the next flush tries it again.
      const owedTo = (await store.list<EntityState>(ENTITY_PREFIX)).flatMap((e) => e.value.outbox.flatMap((o) => o.pendingSinks));
      expect(owedTo).toEqual(groups.map(() => 'webhook'));
    });
  });

  it('the sinks are served side by side: every message of a healthy sink is sent while the first send to a sink that does not answer is still waiting', async () => {
    await withHungReceiver(async (port) => {
      const store = await openStore('memory:');
      const events: string[] = [];
      // First in the list: served in turn, it held the recorder behind its two timeouts.
      const webhook = new WebhookSink(`http://127.0.0.1:${port}/hook`, 'whsec-test', { timeoutMs: 1500 });
      const recorder = new TimedSink('recorder');
      const send = recorder.send.bind(recorder);
      recorder.send = (n: AlertNotification) => {
        events.push(`recorder ${n.group}`);
        return send(n);
      };
      const groups = ['1', '2', '3'];
      for (const g of groups) await owe(store, g, ['webhook', 'recorder']);
      const log = (rec: Record<string, unknown>) => {
        if (rec['sink'] === 'webhook' && rec['msg'] === 'alert delivery failed; it stays owed') events.push('webhook timed out');
      };
      const report = await deliverOwed(store, [webhook, recorder], Date.now, log);
      expect(events).toEqual([...groups.map((g) => `recorder waba:${g}`), 'webhook timed out', 'webhook timed out']);
      expect(report.delivered.map((d) => d.sink)).toEqual(['recorder', 'recorder', 'recorder']);
    });
  });

  it('a failed send is retried as the same message, and nothing newer of its group goes ahead of it', async () => {
    const store = await openStore('memory:');
    const sink = new TimedSink('hook');
    const oweAbout = (phone: string) => owe(store, '8', ['hook'], phone);
    await oweAbout('8613800000011');
    sink.fail = new SinkDeliveryError('hook', 'HTTP 500', true);
    expect((await deliverOwed(store, [sink], Date.now, noLog)).failed).toHaveLength(1);
    await oweAbout('8613800000012');
    // Still failing: the first message is tried again, the newer alert waits behind it.
    expect((await deliverOwed(store, [sink], Date.now, noLog)).failed).toHaveLength(1);
    sink.fail = undefined;
    await deliverOwed(store, [sink], Date.now, noLog);
    expect(sink.sent.map((s) => s.n.items.map((i) => i.subject.phoneNumber))).toEqual([['8613800000011'], ['8613800000012']]);
    expect(await store.list('monitor/sending/')).toEqual([]);
  });

  it('drops deliveries owed to a sink that is no longer configured', async () => {
    const store = await openStore('memory:');
    await owe(store, '1', ['gone', 'kept']);
    const kept = new TimedSink('kept');
    await deliverOwed(store, [kept], Date.now, noLog);
    expect(kept.sent).toHaveLength(1);
    for (const e of await store.list<EntityState>(ENTITY_PREFIX)) expect(e.value.outbox).toEqual([]);
  });

  it('a deliverer with no sink at all drops nothing owed to a named sink, nor a message being sent to one: a deliverer with the sinks sends it, once', async () => {
    const store = await openStore('memory:');
    await owe(store, '1', ['hook']);
    const hook = new TimedSink('hook');
    hook.fail = new SinkDeliveryError('hook', 'HTTP 500', true);
    expect((await deliverOwed(store, [hook], Date.now, noLog)).failed).toHaveLength(1);
    const recorded = (await store.list('monitor/sending/')).map((r) => r.key);
    expect(recorded).toHaveLength(1);

    // health-monitor deployed without its ALERT_* (cams-events has them): it can tell no one.
    const logs: Array<Record<string, unknown>> = [];
    await deliverOwed(store, [], Date.now, (r) => logs.push(r));
    expect(logs.map((l) => l['msg'])).toEqual(['alerts are owed but no alert sink is configured (ALERT_*); they stay owed']);
    expect((await store.list('monitor/sending/')).map((r) => r.key)).toEqual(recorded);
    for (const e of await store.list<EntityState>(ENTITY_PREFIX)) expect(e.value.outbox.map((o) => o.pendingSinks)).toEqual([['hook']]);

    hook.fail = undefined;
    await deliverOwed(store, [hook], Date.now, noLog);
    await deliverOwed(store, [hook], Date.now, noLog);
    expect(hook.sent.map((s) => s.n.items.map((i) => i.subject.phoneNumber))).toEqual([['861']]);
    expect(await store.list('monitor/sending/')).toEqual([]);
  });

  it('a deliverer with no sink takes no lease: one with the sinks, running meanwhile, is not turned away, and its alert goes out', async () => {
    const inner = await openStore('memory:');
    await owe(inner, '1', ['hook']);
    // The deliverer without sinks is held inside its read of what is owed.
    let inside!: () => void;
    const entered = new Promise<void>((r) => (inside = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = storeWith(inner, {
      list: async (p, o) => {
        inside();
        await gate;
        return inner.list(p, o);
      },
    });
    const noSinks = deliverOwed(held, [], Date.now, noLog);
    await entered;
    const hook = new TimedSink('hook');
    const report = await deliverOwed(inner, [hook], Date.now, noLog);
    release();
    await noSinks;
    // Turned away, it would have left its ask to the one without sinks, which takes it on and sends nothing.
    expect(report.skipped).toBeUndefined();
    expect(hook.sent.map((s) => s.n.items.map((i) => i.subject.phoneNumber))).toEqual([['861']]);
  });

  it('an alert recorded without sinks (onboarding) is owed to every sink the deliverer has, and kept while it has none', async () => {
    const store = await openStore('memory:');
    const subject: AlertSubject = { nodeType: 'monitor', entityType: 'OnboardingFailed', ref: 'ob-1' };
    const recorded = await observeMonitorSubject(store, subject, 'ERROR', [], { now: 1, round: 'ob-1', policy: { minConsecutive: 1, repeatIntervalMs: 1e9 } });
    expect(recorded!.outbox.map((e) => e.pendingSinks)).toEqual([[EVERY_SINK]]);

    // A deliverer without sinks cannot deliver it, and must not drop it either.
    expect((await deliverOwed(store, [], Date.now, noLog)).delivered).toEqual([]);
    expect((await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject)))!.value.outbox.map((e) => e.pendingSinks)).toEqual([[EVERY_SINK]]);

    const a = new TimedSink('a');
    const b = new TimedSink('b');
    b.fail = new SinkDeliveryError('b', 'down', true);
    const first = await deliverOwed(store, [a, b], Date.now, noLog);
    expect(first.delivered.map((d) => d.sink)).toEqual(['a']);
    expect(first.failed.map((d) => d.sink)).toEqual(['b']);
    // Resolved to the deliverer's own sinks; only the one that confirmed is struck.
    expect((await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject)))!.value.outbox.map((e) => e.pendingSinks)).toEqual([['b']]);
    b.fail = undefined;
    await deliverOwed(store, [a, b], Date.now, noLog);
    expect(a.sent.map((s) => s.n.items[0]!.subject.ref)).toEqual(['ob-1']);
    expect(b.sent.map((s) => s.n.items[0]!.subject.ref)).toEqual(['ob-1']);
    expect((await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject)))!.value.outbox).toEqual([]);
  });

  it('sends nothing while another deliverer holds the delivery lease', async () => {
    const store = await openStore('memory:');
    await owe(store, '1', ['s']);
    const sink = new TimedSink('s');
    const other = await store.acquireLease(DELIVERY_LEASE, 60_000);
    const report = await deliverOwed(store, [sink], Date.now, noLog);
    expect(report.skipped).toBe('another deliverer holds the delivery lease');
    expect(sink.sent).toEqual([]);
    await other!.release();
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toHaveLength(1);
  });

  it('turned away by a holder that lets go before it could see the request to look again: takes the lease itself and delivers', async () => {
    const store = await openStore('memory:');
    await owe(store, '1', ['s']);
    const sink = new TimedSink('s');
    // The holder releases right after this deliverer's first try, before its "look again" is written.
    const holder = await store.acquireLease(DELIVERY_LEASE, 60_000);
    let tries = 0;
    const racing = storeWith(store, {
      acquireLease: async (n, t, o) => {
        const lease = await store.acquireLease(n, t, o);
        if (n === DELIVERY_LEASE && ++tries === 1) await holder!.release();
        return lease;
      },
    });
    const report = await deliverOwed(racing, [sink], Date.now, noLog);
    expect(report.delivered).toHaveLength(1);
    expect(sink.sent).toHaveLength(1);
    expect(report.skipped).toBeUndefined();
  });

  it('starts no send the invocation would cut off (a send cut off could reach the channel and not be struck off): it stays owed', async () => {
    const store = await openStore('memory:');
    await owe(store, '1', ['s']);
    const sink = new TimedSink('s'); // 5 s to send, by default
    const late = await deliverOwed(store, [sink], Date.now, noLog, { deadline: Date.now() + 4_000 });
    expect(late.deferred).toEqual([{ sink: 's', group: 'waba:1', reason: 'the invocation ends before a send could be struck off' }]);
    expect(sink.sent).toEqual([]);
    expect(await store.list(OWED_PREFIX)).toHaveLength(1);
    // With time for it (the send's 5 s and 1 s to strike it off), it goes. 4 s past that reserve, not 1 s: the deadline is
    // wall time, and a loaded machine can stall that long between here and the send's check.
    expect((await deliverOwed(store, [sink], Date.now, noLog, { deadline: Date.now() + 10_000 })).delivered).toHaveLength(1);
  });

  it("an invocation ending leaves another deliverer's request to look again to the next deliverer, and takes no further pass", async () => {
    const inner = await openStore('memory:');
    await owe(inner, '1', ['s']);
    let leases = 0;
    const store = storeWith(inner, {
      acquireLease: async (n, t, o) => {
        if (n === DELIVERY_LEASE) leases++;
        return inner.acquireLease(n, t, o);
      },
    });
    // Another instance, turned away while this one held the lease, asked it to look again.
    await inner.put(DELIVER_AGAIN, 1, { ttlMs: 60_000 });
    const sink = new TimedSink('s'); // 5 s to send, by default
    const late = await deliverOwed(store, [sink], Date.now, noLog, { deadline: Date.now() + 4_000 });
    expect(late.delivered).toEqual([]);
    expect(leases).toBe(1);
    // Still asked: the next deliverer with time for a send looks again.
    expect(await inner.get(DELIVER_AGAIN)).toBeDefined();
  });

  it('does not start a send once its delivery lease is lost: the rest stays owed', async () => {
    const inner = await openStore('memory:');
    await owe(inner, '1', ['s']);
    await owe(inner, '2', ['s']);
    // A lease that can be lost on cue (expired under a stalled deliverer, then taken by another).
    let lost = false;
    const store = storeWith(inner, {
      acquireLease: async (name, ttl, owner) => {
        const l = await inner.acquireLease(name, ttl, owner);
        if (!l) return l;
        return {
          name: l.name,
          owner: l.owner,
          get expiresAt() {
            return lost ? 0 : l.expiresAt;
          },
          renew: async (t) => !lost && l.renew(t),
          release: () => l.release(),
        };
      },
    });
    const sink = new TimedSink('s');
    const send = sink.send.bind(sink);
    sink.send = async (n) => {
      await send(n);
      lost = true;
    };
    const report = await deliverOwed(store, [sink], Date.now, noLog);
    expect(sink.sent.map((s) => s.n.group)).toEqual(['waba:1']);
    expect(report.deferred).toEqual([{ sink: 's', group: 'waba:2', reason: 'the delivery lease was lost' }]);
    const owed = (await inner.list<EntityState>(ENTITY_PREFIX)).flatMap((e) => e.value.outbox.map((o) => o.group));
    expect(owed).toEqual(['waba:2']);
  });

  it('finds owed deliveries through the owed index, never by listing every entity; a delivered entity leaves the index', async () => {
    const inner = await openStore('memory:');
    const listed: string[] = [];
    const store = storeWith(inner, { list: (p, o) => (listed.push(p), inner.list(p, o)) });
    // 50 quiet entities and 2 owing ones.
    for (let i = 0; i < 50; i++) await owe(store, `q${i}`, []);
    await owe(store, '1', ['s']);
    await owe(store, '2', ['s']);
    expect((await store.list(OWED_PREFIX)).map((m) => m.key)).toHaveLength(2);
    listed.length = 0;
    const sink = new TimedSink('s');
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered.map((d) => d.group)).toEqual(['waba:1', 'waba:2']);
    expect(listed.filter((p) => p.startsWith(ENTITY_PREFIX) || ENTITY_PREFIX.startsWith(p))).toEqual([]);
    expect(await store.list(OWED_PREFIX)).toEqual([]);
  });

  it('an owed entry whose marker was never written (writer died in between) is re-indexed once per round and delivered', async () => {
    const store = await openStore('memory:');
    const subject: AlertSubject = { nodeType: 'waba', custSpaceId: 'cs', wabaId: '9', entityType: 'WABA' };
    const state = evaluate(undefined, { subject, status: 'BLOCKED', errors: [] }, { now: Date.now(), round: 'r', policy: { minConsecutive: 1, repeatIntervalMs: 1e9 }, inhibited: false, sinks: ['s'] });
    await store.put<EntityState>(ENTITY_PREFIX + fingerprintOf(subject), state);
    const sink = new TimedSink('s');
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([]);
    expect(await reindexEntities(store)).toBe(1);
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([{ sink: 's', group: 'waba:9', items: 1 }]);
    expect(await reindexEntities(store)).toBe(0);
  });

  it('silences through the silenced index: struck and recorded, re-owed when the silence ends, never listing every entity', async () => {
    const inner = await openStore('memory:');
    const listed: string[] = [];
    const store = storeWith(inner, { list: (p, o) => (listed.push(p), inner.list(p, o)) });
    for (let i = 0; i < 20; i++) await owe(store, `q${i}`, []);
    await owe(store, '7', ['s']);
    const now = Date.now();
    const s = await createSilence(store, { Matchers: [{ Name: 'WabaId', Value: '7' }], StartsAt: now - 1000, EndsAt: now + 3_600_000, CreatedBy: 'ops', Comment: 'known' }, now);
    const sink = new TimedSink('s');
    listed.length = 0;

    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([]);
    const key = (await inner.list<EntityState>(ENTITY_PREFIX)).find((e) => e.value.subject.wabaId === '7')!.key;
    expect((await inner.get<EntityState>(key))!.value).toMatchObject({ outbox: [], silenced: { silenceId: s.SilenceId } });
    expect((await inner.list(SILENCED_PREFIX)).map((m) => m.key)).toEqual([SILENCED_PREFIX + key.slice(ENTITY_PREFIX.length)]);
    expect(await inner.list(OWED_PREFIX)).toEqual([]);

    // The silence ends while the alert still fires: owed again (and indexed as owed), sent once.
    await expireSilence(store, s.SilenceId, Date.now());
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([{ sink: 's', group: 'waba:7', items: 1 }]);
    expect((await inner.get<EntityState>(key))!.value.silenced).toBeUndefined();
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([]);
    expect(sink.sent).toHaveLength(1);
    // The stale silenced marker is gone, and no entity listing happened on the way.
    expect(await inner.list(SILENCED_PREFIX)).toEqual([]);
    expect(listed.filter((p) => p.startsWith(ENTITY_PREFIX) || ENTITY_PREFIX.startsWith(p))).toEqual([]);
  });

  it('reads the silences in force, not the ones that ended in the last 7 days: its cost is flat however many ended', async () => {
    const inner = await openStore('memory:');
    let rows = 0;
    const store = storeWith(inner, {
      list: async <T>(p: string, o?: ListOptions) => {
        const r = await inner.list<T>(p, o);
        if (p.startsWith('silences/')) rows += r.length;
        return r;
      },
    });
    const t = Date.now();
    // 1,000 short silences, ended by the time of the delivery (within the 7 days they stay listed).
    for (let i = 1; i <= 1000; i++) await createSilence(inner, { Matchers: [{ Name: 'WabaId', Value: '9' }], StartsAt: t, EndsAt: t + i, CreatedBy: 'ops', Comment: 'short' }, t);
    const s = await createSilence(inner, { Matchers: [{ Name: 'WabaId', Value: '7' }], StartsAt: t, EndsAt: t + 3_600_000, CreatedBy: 'ops', Comment: 'known' }, t);
    await owe(inner, '7', ['s']);
    const sink = new TimedSink('s');
    expect((await deliverOwed(store, [sink], () => t + 60_000, noLog)).delivered).toEqual([]);
    expect((await inner.list<EntityState>(ENTITY_PREFIX))[0]!.value.silenced).toMatchObject({ silenceId: s.SilenceId });
    expect(rows).toBeLessThanOrEqual(100);
  });

  it("an alert a check makes owed while the deliverer applies the silences (another instance's receipt) is not sent though a silence covers it", async () => {
    // Found by the alerts soak (seed 52): a receipt's TEMPLATE_STATUS struck by a WABA's silence made
    // the deliverer read what is owed again, and the MESSAGE_TEMPLATE alert its check wrote in between
    // went out under the silence.
    const inner = await openStore('memory:');
    let owedReads = 0;
    const store = storeWith(inner, {
      list: async <T>(p: string, o?: ListOptions) => {
        // The re-read after the silences struck the first alert: the other node's check has written by then.
        if (p === OWED_PREFIX && ++owedReads === 2) await owe(inner, '5', ['s'], '8650002');
        return inner.list<T>(p, o);
      },
    });
    await owe(inner, '5', ['s'], '8650001');
    const now = Date.now();
    const s = await createSilence(inner, { Matchers: [{ Name: 'WabaId', Value: '5' }], StartsAt: now - 1000, EndsAt: now + 3_600_000, CreatedBy: 'ops', Comment: 'known' }, now);
    const sink = new TimedSink('s');
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([]);
    // The next flush strikes it as it does any alert the silence covers.
    expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([]);
    expect(sink.sent).toEqual([]);
    const second = (await inner.get<EntityState>(ENTITY_PREFIX + fingerprintOf(phoneSubject('5', '8650002'))))!.value;
    expect(second).toMatchObject({ outbox: [], silenced: { silenceId: s.SilenceId, sinks: ['s'] } });
  });

  it('a recorded message is struck off once sent though a silence starts while the flush runs: one instant for the silences in a pass', async () => {
    // The silences were applied at one reading of the clock and what is owed filtered at a later one:
    // a silence starting in between left the re-sent message's entry owed, struck at the next flush
    // as though unheard, and owed again when the silence ended: the sink had the alert twice.
    const inner = await openStore('memory:');
    const t0 = Date.now();
    let t = t0;
    let owedReads = 0;
    const store = storeWith(inner, {
      list: async <T>(p: string, o?: ListOptions) => {
        // The re-read after the silences struck waba 6's alert: by then waba 5's silence has started.
        if (p === OWED_PREFIX && ++owedReads === 2) t = t0 + 10;
        return inner.list<T>(p, o);
      },
    });
    const sink = new TimedSink('s');
    sink.fail = new SinkDeliveryError('s', 'timed out', true);
    await owe(inner, '5', ['s']);
    // The message is recorded, its send fails: the next flush sends it again, as it was.
    await deliverOwed(inner, [sink], () => t, noLog);
    sink.fail = undefined;
    await owe(inner, '6', ['s']);
    await createSilence(inner, { Matchers: [{ Name: 'WabaId', Value: '6' }], StartsAt: t0 - 1000, EndsAt: t0 + 3_600_000, CreatedBy: 'ops', Comment: 'known' }, t0);
    const later = await createSilence(inner, { Matchers: [{ Name: 'WabaId', Value: '5' }], StartsAt: t0 + 10, EndsAt: t0 + 3_600_000, CreatedBy: 'ops', Comment: 'planned' }, t0);
    await deliverOwed(store, [sink], () => t, noLog);
    expect(sink.sent.map((m) => m.n.group)).toEqual(['waba:5']);
    // Once its silence is over, the sink that had it is not told it again.
    await expireSilence(inner, later.SilenceId, t0 + 20);
    t = t0 + 30;
    await deliverOwed(inner, [sink], () => t, noLog);
    await deliverOwed(inner, [sink], () => t, noLog);
    expect(sink.sent.map((m) => m.n.group)).toEqual(['waba:5']);
  });

  it("a sink's refusal in a flush raises its SinkRejected under a silence that covers it: the other sinks are not told it in that flush's monitor pass", async () => {
    // The monitor pass (the other sinks hear of a refusal in the same flush) read what is owed with
    // no silence applied, so a silence on SinkRejected held it back from none of them.
    const store = await openStore('memory:');
    const now = Date.now();
    const s = await createSilence(store, { Matchers: [{ Name: 'AlertName', Value: 'SinkRejected' }], StartsAt: now - 1000, EndsAt: now + 3_600_000, CreatedBy: 'ops', Comment: 'known' }, now);
    const r = new TimedSink('r');
    r.fail = new SinkDeliveryError('r', 'errcode 310000', false, undefined, '310000');
    const ok = new TimedSink('ok');
    await owe(store, '6', ['r', 'ok']);
    await deliverOwed(store, [r, ok], Date.now, noLog);
    expect(ok.sent.map((m) => m.n.group)).toEqual(['waba:6']);
    const rejected = (await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf({ nodeType: 'monitor', entityType: 'SinkRejected', ref: 'r' })))!.value;
    expect(rejected).toMatchObject({ outbox: [], silenced: { silenceId: s.SilenceId, sinks: ['ok'] } });
  });

  it("a refusing sink that accepts a message in a flush's monitor pass, owing none it refused, has its SinkRejected resolved at the next flush", async () => {
    // The monitor pass (another sink's refusal told in the same flush) cannot resolve the alert, and it
    // deleted the record of what the sink accepted: the alert fired on until another message reached it.
    const store = await openStore('memory:');
    const x = new TimedSink('x');
    const y = new TimedSink('y');
    const refusal = (sink: string) => new SinkDeliveryError(sink, 'errcode 310000', false, undefined, '310000');
    const xRejected = ENTITY_PREFIX + fingerprintOf({ nodeType: 'monitor', entityType: 'SinkRejected', ref: 'x' });
    x.fail = refusal('x');
    await owe(store, '1', ['x', 'y']);
    for (let f = 1; f <= SINK_REFUSALS; f++) await deliverOwed(store, [x, y], Date.now, noLog);
    expect((await store.get<EntityState>(xRejected))!.value.firing).toBe(true);
    // x takes messages again, and has none owed but what y's refusal raises in the next flush.
    x.fail = undefined;
    y.fail = refusal('y');
    await owe(store, '2', ['y']);
    await deliverOwed(store, [x, y], Date.now, noLog);
    expect(x.sent.flatMap((m) => m.n.items.map((i) => i.subject.ref))).toEqual(['y']);
    await deliverOwed(store, [x, y], Date.now, noLog);
    expect((await store.get<EntityState>(xRejected))!.value.firing).toBe(false);
    expect((await store.list('monitor/sending/x/')).length).toBe(0);
  });

  it('a silence that struck an alert one sink already had: when it ends, only the sinks it kept it from get it', async () => {
    const store = await openStore('memory:');
    await owe(store, '8', ['a', 'b']);
    const a = new TimedSink('a');
    // b's budget is used up: nothing is sent to it (a failed send would be its recorded message, re-sent as it was).
    expect((await deliverOwed(store, [a, new TimedSink('b', 0)], Date.now, noLog)).delivered.map((d) => d.sink)).toEqual(['a']);
    const b = new TimedSink('b');
    const now = Date.now();
    const s = await createSilence(store, { Matchers: [{ Name: 'WabaId', Value: '8' }], StartsAt: now - 1000, EndsAt: now + 3_600_000, CreatedBy: 'ops', Comment: 'known' }, now);
    expect((await deliverOwed(store, [a, b], Date.now, noLog)).delivered).toEqual([]);
    await expireSilence(store, s.SilenceId, Date.now());
    expect((await deliverOwed(store, [a, b], Date.now, noLog)).delivered.map((d) => d.sink)).toEqual(['b']);
    expect([a.sent.length, b.sent.length]).toEqual([1, 1]);
  });

  it('when a silence ends, each sink is owed the alert only if it last heard otherwise: one that heard it as it is now gets nothing', async () => {
    const store = await openStore('memory:');
    const subject = phoneSubject('6');
    const observe = (status: 'BLOCKED' | 'LIMITED') =>
      updateEntity(store, fingerprintOf(subject), (prev) =>
        evaluate(prev, { subject, status, errors: [] }, { now: Date.now(), round: `r${Math.random()}`, policy: { minConsecutive: 1, repeatIntervalMs: 1e9 }, inhibited: false, sinks: ['a', 'b'] }),
      );
    const a = new TimedSink('a');
    const b = new TimedSink('b');
    await observe('BLOCKED');
    await deliverOwed(store, [a, b], Date.now, noLog);
    await observe('LIMITED');
    // b's budget is used up: it last heard BLOCKED, a LIMITED.
    await deliverOwed(store, [a, new TimedSink('b', 0)], Date.now, noLog);
    const now = Date.now();
    const s = await createSilence(store, { Matchers: [{ Name: 'WabaId', Value: '6' }], StartsAt: now - 1000, EndsAt: now + 3_600_000, CreatedBy: 'ops', Comment: 'known' }, now);
    await observe('BLOCKED');
    expect((await deliverOwed(store, [a, b], Date.now, noLog)).delivered).toEqual([]);
    await expireSilence(store, s.SilenceId, Date.now());
    // Before, both: b was told BLOCKED again, which it last heard.
    expect((await deliverOwed(store, [a, b], Date.now, noLog)).delivered.map((d) => d.sink)).toEqual(['a']);
    expect(a.sent.map((x) => x.n.items.map((i) => `${i.status} ${i.reason}`))).toEqual([['BLOCKED new'], ['LIMITED changed'], ['BLOCKED changed']]);
    expect(b.sent.map((x) => x.n.items.map((i) => `${i.status} ${i.reason}`))).toEqual([['BLOCKED new']]);
    // What each heard is on the entity, written by the strike off.
    expect((await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject)))!.value.heard).toMatchObject({ a: { status: 'BLOCKED' }, b: { status: 'BLOCKED' } });
  });

  describe('a message recorded before its send that a silence set since strikes part of', () => {
    const subject = (phone: string) => phoneSubject('9', phone);
    const oweAbout = (store: Store, phone: string) => owe(store, '9', ['hook'], phone);
    const phones = (n: AlertNotification) => n.items.map((i) => i.subject.phoneNumber);
    const silencePhone = (store: Store, phone: string) => {
      const now = Date.now();
      return createSilence(store, { Matchers: [{ Name: 'PhoneNumber', Value: phone }], StartsAt: now - 1000, EndsAt: now + 3_600_000, CreatedBy: 'ops', Comment: 'known' }, now);
    };

    it('goes out again as it was (same X-Alert-Id, every item): the silence applies from the next message, and when it ends the sink is not told again', async () => {
      const store = await openStore('memory:');
      const attempts: AlertNotification[] = [];
      const sink = new TimedSink('hook');
      const send = sink.send.bind(sink);
      sink.send = async (n) => {
        attempts.push(n);
        await send(n);
      };
      await oweAbout(store, '8613800000091');
      await oweAbout(store, '8613800000092');
      // The send fails (a timeout, say): the receiver may have it.
      sink.fail = new SinkDeliveryError('hook', 'timed out', true);
      expect((await deliverOwed(store, [sink], Date.now, noLog)).failed).toHaveLength(1);
      const s = await silencePhone(store, '8613800000091');
      sink.fail = undefined;
      expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([{ sink: 'hook', group: 'waba:9', items: 2 }]);
      expect(sink.sent.map((x) => phones(x.n).sort())).toEqual([['8613800000091', '8613800000092']]);
      expect(sink.sent[0]!.n).toEqual(attempts[0]);
      expect(await store.list('monitor/sending/')).toEqual([]);
      // Recorded as silenced, owed to no sink: the hook had it in that message.
      const silenced = (await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject('8613800000091'))))!.value;
      expect(silenced).toMatchObject({ outbox: [], silenced: { silenceId: s.SilenceId, sinks: [] } });
      // What the hook heard is that message's item: no strike off records it (the silence took the entry).
      expect(silenced.heard).toMatchObject({ hook: { status: 'BLOCKED', codes: [] } });
      // Ended while the alert fires: the hook, which had it, is not told again.
      await expireSilence(store, s.SilenceId, Date.now());
      expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([]);
      expect(sink.sent).toHaveLength(1);
    });

    it('goes out again though the silence struck every alert in it and nothing else is owed', async () => {
      const store = await openStore('memory:');
      const sink = new TimedSink('hook');
      await oweAbout(store, '8613800000094');
      sink.fail = new SinkDeliveryError('hook', 'timed out', true);
      expect((await deliverOwed(store, [sink], Date.now, noLog)).failed).toHaveLength(1);
      const s = await silencePhone(store, '8613800000094');
      sink.fail = undefined;
      // Nothing is owed any more (the silence struck it, noting the hook as told by the recorded message)…
      expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([{ sink: 'hook', group: 'waba:9', items: 1 }]);
      // …so the recorded message is what tells it: sent, not left to expire.
      expect(sink.sent.map((x) => phones(x.n))).toEqual([['8613800000094']]);
      expect(await store.list('monitor/sending/')).toEqual([]);
      await expireSilence(store, s.SilenceId, Date.now());
      expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([]);
    });

    it('one recorded by an earlier version (its entries, not the message) goes out under its recorded id', async () => {
      const store = await openStore('memory:');
      const sink = new TimedSink('hook');
      await oweAbout(store, '8613800000093');
      const [entity] = await store.list<EntityState>(ENTITY_PREFIX);
      await store.put('monitor/sending/hook/waba:9', { id: 'recorded-id', entries: [entity!.value.outbox[0]!.id, 'gone.1'] });
      expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([{ sink: 'hook', group: 'waba:9', items: 1 }]);
      expect(sink.sent.map((x) => [x.n.id, phones(x.n)])).toEqual([['recorded-id', ['8613800000093']]]);
      expect(await store.list('monitor/sending/')).toEqual([]);
    });

    it('one recorded by an earlier version that a silence struck: it holds no message to send again, so the sink is owed the alert when the silence ends', async () => {
      const store = await openStore('memory:');
      const sink = new TimedSink('hook');
      await oweAbout(store, '8613800000095');
      const [entity] = await store.list<EntityState>(ENTITY_PREFIX);
      await store.put('monitor/sending/hook/waba:9', { id: 'recorded-id', entries: [entity!.value.outbox[0]!.id] });
      const s = await silencePhone(store, '8613800000095');
      expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([]);
      // Struck and recorded as still owed to the hook: nothing can send that record's message again.
      const silenced = (await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject('8613800000095'))))!.value;
      expect(silenced).toMatchObject({ outbox: [], silenced: { silenceId: s.SilenceId, sinks: ['hook'] } });
      await expireSilence(store, s.SilenceId, Date.now());
      expect((await deliverOwed(store, [sink], Date.now, noLog)).delivered).toEqual([{ sink: 'hook', group: 'waba:9', items: 1 }]);
      expect(sink.sent.map((x) => phones(x.n))).toEqual([['8613800000095']]);
    });
  });
});

// Found by failing each write in turn: the message given up at its last refusal was struck off
// before the alert was written, so a store failing in between lost the alert's new code for good.
describe('a store failure at any write of a flush in which a sink refuses a message', () => {
  const rejected = fingerprintOf({ nodeType: 'monitor', entityType: 'SinkRejected', ref: 'r' });
  /** A sink that refuses every message for good, with the code `codeOf(attempt)` (1-based). */
  const refusingSink = (codeOf: (attempt: number) => string) => {
    const sink = new TimedSink('r');
    let attempts = 0;
    sink.send = async () => {
      const code = codeOf(++attempts);
      throw new SinkDeliveryError('r', `errcode ${code}`, false, undefined, code);
    };
    return sink;
  };
  /** The SinkRejected notifications `ok` got (a message sent again under its id once: the receiver drops it), reason and code. */
  const told = (ok: TimedSink) =>
    [...new Map(ok.sent.map((s) => [s.n.id, s.n])).values()].flatMap((n) => n.items.filter((i) => i.subject.entityType === 'SinkRejected').map((i) => `${i.reason} ${i.errors.map((e) => e.ErrorCode).join()}`));

  /** Runs `flushes` flushes, the `failAt`-th write (put or delete) of flush `failing` failing; returns how many writes that flush made. */
  async function run(codeOf: (attempt: number) => string, failing: number, failAt: number, flushes = SINK_REFUSALS + 2) {
    const inner = await openStore('memory:');
    let writes = 0;
    let armed = false;
    const fail = () => armed && ++writes === failAt;
    const store = storeWith(inner, {
      put: (k, v, o) => (fail() ? Promise.reject(new Error('store unavailable')) : inner.put(k, v, o)),
      delete: (k, o) => (fail() ? Promise.reject(new Error('store unavailable')) : inner.delete(k, o)),
    });
    const ok = new TimedSink('ok');
    const sinks = [refusingSink(codeOf), ok];
    await owe(inner, '1', ['r', 'ok']);
    let failingWrites = 0;
    for (let f = 1; f <= flushes; f++) {
      armed = f === failing;
      writes = 0;
      await deliverOwed(store, sinks, Date.now, noLog).catch(() => undefined);
      if (armed) failingWrites = writes;
      armed = false;
    }
    return { inner, ok, failingWrites };
  }

  it.each([
    ['the same code at every refusal', () => '310000', ['new 310000']],
    ['a new code at the refusal that gives the message up', (n: number) => (n >= SINK_REFUSALS ? '300005' : '310000'), ['new 310000', 'changed 300005']],
  ])('%s: whichever write fails, the next flushes still tell the other sink, once', async (_, codeOf, expected) => {
    // Every flush, every write: what went wrong where, all listed at once.
    const wrong: string[] = [];
    for (let failing = 1; failing <= SINK_REFUSALS; failing++) {
      const { failingWrites } = await run(codeOf, failing, Infinity);
      expect(failingWrites).toBeGreaterThan(0);
      for (let failAt = 1; failAt <= failingWrites; failAt++) {
        const { inner, ok } = await run(codeOf, failing, failAt);
        const alert = (await inner.get<EntityState>(ENTITY_PREFIX + rejected))?.value;
        const sending = (await inner.list('monitor/sending/')).map((r) => r.key);
        const owed = (await inner.list<EntityState>(ENTITY_PREFIX)).reduce((n, e) => n + e.value.outbox.length, 0);
        const got = JSON.stringify({ told: told(ok), firing: alert?.firing, owed, sending });
        const want = JSON.stringify({ told: expected, firing: true, owed: 0, sending: [] });
        if (got !== want) wrong.push(`flush ${failing}, write ${failAt}: ${got}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('a message given up whose give-up a store failure cut short', () => {
  const rejected = fingerprintOf({ nodeType: 'monitor', entityType: 'SinkRejected', ref: 'r' });
  /**
   * Flushes with a sink `r` that refuses every message (its code changing at the refusal that gives
   * the message up) and a sink `ok`: in the flush of that refusal, the write of r's SinkRejected alert
   * fails, so only the message's `givenUp` record holds the give-up; `between` runs before the next flush.
   */
  async function cutShort(between: (store: Store) => Promise<void>) {
    const store = await openStore('memory:');
    let armed = false;
    const failing = storeWith(store, {
      put: (k, v, o) => (armed && k === ENTITY_PREFIX + rejected ? Promise.reject(new Error('store unavailable')) : store.put(k, v, o)),
    });
    const r = new TimedSink('r');
    let attempts = 0;
    r.send = async () => {
      const code = ++attempts >= SINK_REFUSALS ? '300005' : '310000';
      throw new SinkDeliveryError('r', `errcode ${code}`, false, undefined, code);
    };
    const ok = new TimedSink('ok');
    await owe(store, '1', ['r', 'ok']);
    for (let f = 1; f <= SINK_REFUSALS; f++) {
      armed = f === SINK_REFUSALS;
      await deliverOwed(failing, [r, ok], Date.now, noLog).catch(() => undefined);
      armed = false;
    }
    expect((await store.list<{ givenUp?: unknown }>('monitor/sending/r/')).map((x) => !!x.value.givenUp)).toEqual([true]);
    await between(store);
    await deliverOwed(store, [r, ok], Date.now, noLog);
    const alert = (await store.get<EntityState>(ENTITY_PREFIX + rejected))?.value;
    const told = ok.sent.flatMap((x) => x.n.items).filter((i) => i.subject.entityType === 'SinkRejected');
    return { store, attempts, alert, told, sending: (await store.list('monitor/sending/')).length };
  }

  it("the next flush raises the alert with the sink's answer as it was (no second `r: ` before it)", async () => {
    const { attempts, alert, told } = await cutShort(async () => {});
    expect(attempts).toBe(SINK_REFUSALS);
    expect(told.map((i) => `${i.reason} ${i.errors.map((e) => e.ErrorCode).join()}`)).toEqual(['new 310000', 'changed 300005']);
    expect(told.at(-1)!.errors[0]!.ErrorDescription).toBe('The r channel refused an alert message: r: errcode 300005');
    expect(alert!.errors[0]!.ErrorDescription).toBe('The r channel refused an alert message: r: errcode 300005');
  });

  // A givenUp record holds no message, so a silence set meanwhile strikes its entries from the
  // outboxes (as it would any not being sent): nothing of it is owed any more, but its give-up is.
  it('a silence striking its entries meanwhile still has the next flush raise the alert', async () => {
    const { attempts, told, sending } = await cutShort(async (store) => {
      const now = Date.now();
      await createSilence(store, { Matchers: [{ Name: 'WabaId', Value: '1' }], StartsAt: now - 1000, EndsAt: now + 3_600_000, CreatedBy: 'ops', Comment: 'known' }, now);
    });
    expect(attempts).toBe(SINK_REFUSALS);
    expect(told.map((i) => `${i.reason} ${i.errors.map((e) => e.ErrorCode).join()}`)).toEqual(['new 310000', 'changed 300005']);
    expect(sending).toBe(0);
  });
});

describe.skipIf(!redisBin)('a message given up at its last refusal (real redis-server)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer(redisBin!, 21401);
  });
  afterAll(async () => {
    await server?.stop();
  });

  /**
   * SINK_REFUSALS + 2 flushes with a sink that refuses every message; in the flush whose refusal gives
   * the message up, the `failAt`-th write (put or delete) fails. Returns the sink's attempts, that
   * flush's writes and at which of them the last send was made, and what is left afterwards.
   */
  async function run(failAt: number) {
    const inner = await openStore(`${server.url}?namespace=given-up-${failAt}:`);
    try {
      let writes = 0;
      let armed = false;
      const fail = () => armed && ++writes === failAt;
      const store = storeWith(inner, {
        put: (k, v, o) => (fail() ? Promise.reject(new Error('store unavailable')) : inner.put(k, v, o)),
        delete: (k, o) => (fail() ? Promise.reject(new Error('store unavailable')) : inner.delete(k, o)),
      });
      let attempts = 0;
      let sentAt = 0;
      const refusing = new TimedSink('r');
      refusing.send = async () => {
        attempts += 1;
        if (armed) sentAt = writes;
        throw new SinkDeliveryError('r', 'errcode 310000', false, undefined, '310000');
      };
      const ok = new TimedSink('ok');
      await owe(inner, '1', ['r', 'ok']);
      let flushWrites = 0;
      for (let f = 1; f <= SINK_REFUSALS + 2; f++) {
        armed = f === SINK_REFUSALS;
        writes = 0;
        await deliverOwed(store, [refusing, ok], Date.now, noLog).catch(() => undefined);
        if (armed) flushWrites = writes;
        armed = false;
      }
      const owed = (await inner.list<EntityState>(ENTITY_PREFIX)).reduce((n, e) => n + e.value.outbox.length, 0);
      const sending = (await inner.list('monitor/sending/')).length;
      const told = ok.sent.flatMap((x) => x.n.items).filter((i) => i.subject.entityType === 'SinkRejected').length;
      return { attempts, sentAt, flushWrites, left: { owed, sending, told: told > 0 } };
    } finally {
      await inner.close();
    }
  }

  it(`is sent ${SINK_REFUSALS} times whichever write after its last refusal fails, but the one that records the refusal`, async () => {
    const clean = await run(Infinity);
    expect(clean.attempts).toBe(SINK_REFUSALS);
    expect(clean.sentAt).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (let failAt = 1; failAt <= clean.flushWrites; failAt++) {
      const { attempts, left } = await run(failAt);
      // The write right after the send records the sink's answer: lost, the answer is not known, and
      // the message goes again (as any message whose confirmation a store failure lost does).
      const want = failAt === clean.sentAt + 1 ? SINK_REFUSALS + 1 : SINK_REFUSALS;
      if (attempts !== want) wrong.push(`write ${failAt}${failAt > clean.sentAt ? ' (after the send)' : ''}: ${attempts} sends`);
      expect(left, `write ${failAt}`).toEqual({ owed: 0, sending: 0, told: true });
    }
    expect(wrong).toEqual([]);
  });
});

describe('a removed sink\'s SinkRejected alert', () => {
  it('a store failure during the look for removed sinks is looked again at the next flush, not 10 minutes later', async () => {
    const inner = await openStore('memory:');
    const rejected = ENTITY_PREFIX + fingerprintOf({ nodeType: 'monitor', entityType: 'SinkRejected', ref: 'r' });
    const refusing = new TimedSink('r');
    refusing.fail = new SinkDeliveryError('r', 'errcode 310000', false, undefined, '310000');
    const ok = new TimedSink('ok');
    await owe(inner, '1', ['r', 'ok']);
    await deliverOwed(inner, [refusing, ok], Date.now, noLog);
    expect((await inner.get<EntityState>(rejected))!.value.firing).toBe(true);

    // 'r' is removed; the store fails at the write of its alert's resolution, once.
    let down = true;
    const store = storeWith(inner, {
      put: (k, v, o) => {
        if (down && k === rejected) {
          down = false;
          return Promise.reject(new Error('store unavailable'));
        }
        return inner.put(k, v, o);
      },
    });
    let clock = Date.now();
    await expect(deliverOwed(store, [ok], () => clock, noLog)).rejects.toThrow('store unavailable');
    expect((await inner.get<EntityState>(rejected))!.value.firing).toBe(true);
    clock += 60_000;
    await deliverOwed(store, [ok], () => clock, noLog);
    expect((await inner.get<EntityState>(rejected))!.value.firing).toBe(false);
  });
});

describe.skipIf(!redisBin)('an alert decided by another instance while its node\'s earlier one is being sent (real redis-server)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer(redisBin!);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('is not struck with the message that did not hold it: it stays owed and goes out at the next flush', async () => {
    // Two instances on one redis: the deliverer's, and a cams-events check that writes the node meanwhile.
    const deliverer = await openStore(`${server.url}?namespace=beside-send:`);
    const checker = await openStore(`${server.url}?namespace=beside-send:`);
    try {
      const subject = phoneSubject('91');
      const policy = { minConsecutive: 1, repeatIntervalMs: 1e9 };
      await owe(deliverer, '91', ['s']);
      const sink = new TimedSink('s');
      let changed = false;
      const send = sink.send.bind(sink);
      sink.send = async (n) => {
        await send(n);
        if (changed) return;
        changed = true;
        // The sink has the BLOCKED message; before the deliverer strikes it, a check finds the node LIMITED.
        await updateEntity(checker, fingerprintOf(subject), (cur) => evaluate(cur, { subject, status: 'LIMITED', errors: [] }, { now: Date.now(), round: 'r2', policy, inhibited: false, sinks: ['s'] }));
      };
      await deliverOwed(deliverer, [sink], Date.now, noLog);
      expect(sink.sent.map((x) => x.n.items.map((i) => i.status))).toEqual([['BLOCKED']]);
      const owed = (await deliverer.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject)))!.value.outbox;
      expect(owed.map((e) => [e.item.status, e.pendingSinks])).toEqual([['LIMITED', ['s']]]);
      await deliverOwed(deliverer, [sink], Date.now, noLog);
      expect(sink.sent.map((x) => x.n.items.map((i) => i.status))).toEqual([['BLOCKED'], ['LIMITED']]);
    } finally {
      await deliverer.close();
      await checker.close();
    }
  });

  it('decided after the deliverer found the node owing nothing, before it drops the owed marker: the marker stays, and the alert goes out at the next flush', async () => {
    const inner = await openStore(`${server.url}?namespace=beside-drop:`);
    const checker = await openStore(`${server.url}?namespace=beside-drop:`);
    try {
      const subject = phoneSubject('92');
      const policy = { minConsecutive: 1, repeatIntervalMs: 1e9 };
      await owe(inner, '92', ['s']);
      let changed = false;
      // The deliverer has struck the BLOCKED message and read the node owing nothing; a check on
      // another instance then finds it LIMITED (rewriting the marker) before the deliverer's drop.
      const deliverer = storeWith(inner, {
        delete: async (key, opts) => {
          if (key.startsWith(OWED_PREFIX) && !changed) {
            changed = true;
            await updateEntity(checker, fingerprintOf(subject), (cur) => evaluate(cur, { subject, status: 'LIMITED', errors: [] }, { now: Date.now(), round: 'r2', policy, inhibited: false, sinks: ['s'] }));
          }
          return inner.delete(key, opts);
        },
      });
      const sink = new TimedSink('s');
      await deliverOwed(deliverer, [sink], Date.now, noLog);
      expect(changed).toBe(true);
      expect(sink.sent.map((x) => x.n.items.map((i) => i.status))).toEqual([['BLOCKED']]);
      // Found through the owed index (the one way the deliverer finds what is owed), not a round later.
      expect((await inner.list(OWED_PREFIX)).map((m) => m.key)).toEqual([OWED_PREFIX + fingerprintOf(subject)]);
      await deliverOwed(inner, [sink], Date.now, noLog);
      expect(sink.sent.map((x) => x.n.items.map((i) => i.status))).toEqual([['BLOCKED'], ['LIMITED']]);
    } finally {
      await inner.close();
      await checker.close();
    }
  });
});
