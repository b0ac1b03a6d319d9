// A sink that refuses a message for good (its keyword filter, a 4xx) must not hold its group's
// later alerts back for ever, nor be sent it at every flush: the message is given up for that sink
// after SINK_REFUSALS refusals, and the other sinks are told once (SinkRejected), and again when it
// accepts messages again. Real receivers on loopback, each answering a refusal its own way.
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertSubject } from '../../../shared/alerts/model.ts';
import { secretsOfUrl } from '../../../shared/alerts/sinks/deliver.ts';
import { sinksFromEnv } from '../../../shared/alerts/sinks/env.ts';
import { deliverOwed, ENTITY_PREFIX, SENDING_PREFIX, SINK_REFUSALS } from '../../../shared/monitor/dispatch.ts';
import { fingerprintOf, type EntityState, type ObservedStatus } from '../../../shared/monitor/entity-state.ts';
import { updateEntity } from '../../../shared/monitor/entity-store.ts';
import { evaluate } from '../../../shared/monitor/rules.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { storeWith } from '../../support/store.ts';
import { RECEIVER_KINDS, startReceivers, type Receivers, type ReceiverKind, type Reply } from '../../support/receivers/index.ts';

const policy = { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 };

/** How each channel refuses a message it will never take, and the code the alert names. */
const REFUSALS: Record<ReceiverKind, { reply: Reply; code: string }> = {
  dingtalk: { reply: { body: { errcode: 310000, errmsg: 'keywords not in content' }, reason: 'keyword' }, code: '310000' },
  lark: { reply: { body: { code: 19024, data: {}, msg: 'Key Words Not Found' }, reason: 'keyword' }, code: '19024' },
  wecom: { reply: { body: { errcode: 40058, errmsg: 'markdown.content exceed max length' }, reason: 'content' }, code: '40058' },
  slack: { reply: { status: 400, body: 'invalid_blocks', reason: 'content' }, code: 'HTTP 400' },
  webhook: { reply: { status: 422, body: { error: 'unprocessable' }, reason: 'content' }, code: 'HTTP 422' },
};

let receivers: Receivers | undefined;
afterEach(async () => {
  await receivers?.close();
  receivers = undefined;
});

async function owe(store: Store, sinks: string[], wabaId: string, phone: string, status: ObservedStatus): Promise<void> {
  const subject: AlertSubject = { nodeType: 'phone', custSpaceId: 'cs', wabaId, phoneNumber: phone, entityType: 'PHONE_NUMBER' };
  await updateEntity(store, fingerprintOf(subject), (prev) => evaluate(prev, { subject, status, errors: [] }, { now: Date.now(), round: 'r', policy, inhibited: false, sinks }));
}

describe('a sink that refuses a message for good', () => {
  it.each(RECEIVER_KINDS.map((k) => [k]))(
    '%s: the message is given up after its refusals, the group\'s later alerts reach it, and the other sinks hear of it once, and of its end',
    async (refusing) => {
      // This one channel refuses any message about a LIMITED number; the others take everything.
      const refuse = (text: string) => (text.includes('LIMITED') ? REFUSALS[refusing].reply : undefined);
      receivers = await startReceivers({ [refusing]: { refuse } });
      const sinks = sinksFromEnv(receivers.env, { warn: () => {} });
      const names = sinks.map((s) => s.name);
      const store = await openStore('memory:');
      const logs: Array<Record<string, unknown>> = [];
      const deliver = () => deliverOwed(store, sinks, Date.now, (r) => logs.push(r), { policy });
      const texts = (k: ReceiverKind) => receivers!.received[k].map((m) => m.text);
      // The numbers a message is about (each once; a message names them in its title and its body).
      const numbers = (t: string) => [...new Set(t.match(/8613800000\d+/g))].join();
      const server = receivers.receivers[refusing]!;

      await owe(store, names, '1', '8613800000001', 'LIMITED'); // the message the channel refuses
      await owe(store, names, '2', '8613800000003', 'BLOCKED'); // another group: unaffected
      await deliver();
      await owe(store, names, '1', '8613800000002', 'BLOCKED'); // the same group, after the refused message
      for (let i = 0; i < SINK_REFUSALS + 2; i++) await deliver();

      // The refusing channel: the refused message tried SINK_REFUSALS times, then given up; the
      // group's later alert and the other group's reached it; nothing it refused is sent again.
      expect(server.rejected).toHaveLength(SINK_REFUSALS);
      expect(texts(refusing).map(numbers)).toEqual(['8613800000003', '8613800000002']);
      const requests = server.requests;
      await deliver();
      expect(server.requests).toBe(requests);

      for (const other of RECEIVER_KINDS.filter((k) => k !== refusing)) {
        const got = texts(other);
        // Every alert once, in its order, and the refusal told once, then its end once.
        expect(got.map((t) => (t.includes('SinkRejected') ? (t.includes('1 resolved') ? 'rejected-end' : 'rejected') : numbers(t)))).toEqual([
          '8613800000001',
          '8613800000003',
          'rejected',
          '8613800000002',
          'rejected-end',
        ]);
        const told = got.find((t) => t.includes('SinkRejected'))!;
        expect(told).toContain(refusing);
        expect(told).toContain(REFUSALS[refusing].code);
        // No credential of the refusing channel's URL (its token, key or hook id), nor any secret.
        const url = receivers.urls[refusing]!;
        const secrets = [...secretsOfUrl(url).filter((x) => x !== new URL(url).href), ...Object.values(receivers.env).filter((v) => !v.startsWith('http'))];
        for (const secret of secrets) expect(told).not.toContain(secret);
      }
      expect(receivers.receivers.webhook!.duplicates).toEqual([]);

      // The log names the sink, the code and the given-up message, once.
      const givenUp = logs.filter((l) => String(l['msg']).includes('given up'));
      expect(givenUp).toHaveLength(1);
      expect(givenUp[0]).toMatchObject({ level: 'error', sink: refusing, group: 'waba:1', code: REFUSALS[refusing].code });
      // Nothing left owed or being sent.
      for (const e of await store.list<EntityState>(ENTITY_PREFIX)) expect(e.value.outbox).toEqual([]);
      expect(await store.list(SENDING_PREFIX)).toEqual([]);
    },
    30_000,
  );

  it('refuses every message (a wrong secret): each is given up after its refusals, the others hear of it once, and of its end once the sink is set right', async () => {
    receivers = await startReceivers({ kinds: ['dingtalk', 'lark', 'webhook'] });
    const wrong = sinksFromEnv({ ...receivers.env, ALERT_LARK_SECRET: 'not-the-bots-secret' }, { warn: () => {} });
    const right = sinksFromEnv(receivers.env, { warn: () => {} });
    const names = right.map((s) => s.name);
    const store = await openStore('memory:');
    const numbers = (t: string) => [...new Set(t.match(/8613800000\d+/g))].join();
    const told = (t: string) => (t.includes('SinkRejected') ? (t.includes('1 resolved') ? 'rejected-end' : 'rejected') : numbers(t));
    const deliver = async (sinks: typeof right, times: number) => {
      for (let i = 0; i < times; i++) await deliverOwed(store, sinks, Date.now, () => {}, { policy });
    };

    await owe(store, names, '1', '8613800000001', 'BLOCKED');
    await deliver(wrong, SINK_REFUSALS + 1);
    await owe(store, names, '1', '8613800000002', 'LIMITED');
    await deliver(wrong, SINK_REFUSALS + 1);
    const lark = receivers.receivers.lark!;
    expect(lark.rejected.map((r) => (r.reply as { code: number }).code)).toEqual(Array(2 * SINK_REFUSALS).fill(19021));
    // The secret is set right: the next message goes through, and the alert resolves.
    await owe(store, names, '1', '8613800000003', 'BLOCKED');
    await deliver(right, 2);
    expect(lark.received.map((m) => numbers(m.text))).toEqual(['8613800000003']);
    for (const other of ['dingtalk', 'webhook'] as const) {
      expect(receivers.received[other].map((m) => told(m.text))).toEqual(['8613800000001', 'rejected', '8613800000002', '8613800000003', 'rejected-end']);
    }
    const alert = (await store.list<EntityState>(ENTITY_PREFIX)).find((e) => e.value.subject.entityType === 'SinkRejected')!.value;
    expect(alert).toMatchObject({ firing: false, subject: { nodeType: 'monitor', ref: 'lark' }, outbox: [] });
  }, 30_000);
});

describe('a refused message and another deliverer asking to look again', () => {
  it('is sent again at the next flush, not in the extra look the same flush takes: one flush does not use up its refusals', async () => {
    receivers = await startReceivers({ kinds: ['lark', 'webhook'] });
    const sinks = sinksFromEnv({ ...receivers.env, ALERT_LARK_SECRET: 'not-the-bots-secret' }, { warn: () => {} });
    const store = await openStore('memory:');
    const deliver = () => deliverOwed(store, sinks, Date.now, () => {}, { policy });
    // Another deliverer (a receipt's) runs during each send to lark: turned away by the lease, it asks this one to look again.
    const lark = sinks.find((s) => s.name === 'lark')!;
    const send = lark.send.bind(lark);
    let asks = 0;
    lark.send = async (n) => {
      asks += (await deliver()).skipped ? 1 : 0;
      return send(n);
    };
    await owe(store, sinks.map((s) => s.name), '1', '8613800000001', 'BLOCKED');
    const server = receivers.receivers.lark!;
    await deliver();
    expect(asks).toBeGreaterThan(0);
    expect(server.rejected).toHaveLength(1);
    for (let i = 1; i < SINK_REFUSALS; i++) await deliver();
    expect(server.rejected).toHaveLength(SINK_REFUSALS);
    expect(await store.list(SENDING_PREFIX)).toEqual([]);
  }, 30_000);
});

describe('a store failure between a refusing sink accepting a message and its alert resolving', () => {
  const phoneKey = ENTITY_PREFIX + fingerprintOf({ nodeType: 'phone', custSpaceId: 'cs', wabaId: '1', phoneNumber: '8613800000003', entityType: 'PHONE_NUMBER' });
  const rejectedKey = ENTITY_PREFIX + fingerprintOf({ nodeType: 'monitor', entityType: 'SinkRejected', ref: 'lark' });
  it.each([
    ['the strike of the accepted message', phoneKey],
    ['the resolution', rejectedKey],
  ])('fails at %s: the next flush resolves it, though nothing more is owed', async (_, failingKey) => {
    receivers = await startReceivers({ kinds: ['lark', 'webhook'] });
    const wrong = sinksFromEnv({ ...receivers.env, ALERT_LARK_SECRET: 'not-the-bots-secret' }, { warn: () => {} });
    const right = sinksFromEnv(receivers.env, { warn: () => {} });
    const names = right.map((s) => s.name);
    const inner = await openStore('memory:');
    let failing = false;
    const store = storeWith(inner, {
      put: async (k, v, o) => {
        if (failing && k === failingKey) {
          failing = false;
          throw new Error('store unreachable');
        }
        return inner.put(k, v, o);
      },
    });
    const deliver = (sinks: typeof right) => deliverOwed(store, sinks, Date.now, () => {}, { policy });
    const told = (t: string) => (t.includes('SinkRejected') ? (t.includes('1 resolved') ? 'rejected-end' : 'rejected') : [...new Set(t.match(/8613800000\d+/g))].join());

    await owe(inner, names, '1', '8613800000001', 'BLOCKED');
    for (let i = 0; i < SINK_REFUSALS; i++) await deliver(wrong);
    // The secret is set right: lark accepts the next message, and the store fails before the alert resolves.
    await owe(inner, names, '1', '8613800000003', 'LIMITED');
    failing = true;
    await expect(deliver(right)).rejects.toThrow('store unreachable');
    expect(receivers.received.lark.map((m) => told(m.text))).toEqual(['8613800000003']);
    await deliver(right);
    const alert = (await inner.get<EntityState>(rejectedKey))!.value;
    expect(alert.firing).toBe(false);
    expect(receivers.received.webhook.map((m) => told(m.text))).toEqual(['8613800000001', 'rejected', '8613800000003', 'rejected-end']);
    expect(receivers.received.lark.map((m) => told(m.text))).toEqual(['8613800000003']);
    expect(await inner.list(SENDING_PREFIX)).toEqual([]);
  }, 30_000);
});

describe('a refusing sink removed from the configuration (its ALERT_* variables unset)', () => {
  it('its SinkRejected alert resolves, told to the remaining sinks as no longer configured; what it was still being sent is dropped; an old instance that still has it does not raise it again unrefused', async () => {
    receivers = await startReceivers({ kinds: ['lark', 'webhook'] });
    const old = sinksFromEnv({ ...receivers.env, ALERT_LARK_SECRET: 'not-the-bots-secret' }, { warn: () => {} });
    const withoutLark = Object.fromEntries(Object.entries(receivers.env).filter(([k]) => !k.startsWith('ALERT_LARK_')));
    const current = sinksFromEnv(withoutLark, { warn: () => {} });
    expect(current.map((s) => s.name)).toEqual(['webhook']);
    const store = await openStore('memory:');
    const logs: Array<Record<string, unknown>> = [];
    let clock = Date.now();
    const deliver = (sinks: typeof old) => deliverOwed(store, sinks, () => clock, (r) => logs.push(r), { policy });
    const told = (t: string) => (t.includes('SinkRejected') ? (t.includes('1 resolved') ? 'rejected-end' : 'rejected') : [...new Set(t.match(/8613800000\d+/g))].join());
    const lark = receivers.receivers.lark!;
    const webhook = receivers.receivers.webhook!;

    // Lark refuses a message once: the alert fires, and the message is recorded for lark, owed only to it.
    await owe(store, ['lark', 'webhook'], '1', '8613800000001', 'BLOCKED');
    await deliver(old);
    expect(lark.rejected).toHaveLength(1);
    expect(webhook.received.map((m) => told(m.text))).toEqual(['8613800000001', 'rejected']);
    expect((await store.list(SENDING_PREFIX)).map((r) => r.key)).toEqual([`${SENDING_PREFIX}lark/waba:1`]);

    // The new version runs without lark: resolved, saying why, and lark's message dropped, not kept for later.
    await deliver(current);
    expect(webhook.received.map((m) => told(m.text))).toEqual(['8613800000001', 'rejected', 'rejected-end']);
    expect(webhook.received[2]!.text).toContain('SinkNotConfigured');
    expect(webhook.received[2]!.text).toContain('no longer configured');
    const rejectedKey = ENTITY_PREFIX + fingerprintOf({ nodeType: 'monitor', entityType: 'SinkRejected', ref: 'lark' });
    expect((await store.get<EntityState>(rejectedKey))!.value).toMatchObject({ firing: false, outbox: [] });
    expect(await store.list(SENDING_PREFIX)).toEqual([]);
    for (const e of await store.list<EntityState>(ENTITY_PREFIX)) expect(e.value.outbox).toEqual([]);
    expect(logs.filter((l) => l['level'] === 'warn').map((l) => l['msg'])).toEqual([
      'the sink is no longer configured: its SinkRejected alert is resolved',
      'dropped messages being sent to sinks that are no longer configured',
      'dropped deliveries owed to sinks that are no longer configured',
    ]);
    expect(logs.find((l) => l['msg'] === 'the sink is no longer configured: its SinkRejected alert is resolved')).toMatchObject({ sink: 'lark' });

    // Old and new instances side by side (a deploy under way), nothing refused since: nothing changes,
    // and lark is sent nothing (what it was owed went with its removal).
    for (let i = 0; i < 3; i++) {
      await deliver(old);
      await deliver(current);
    }
    expect(webhook.received).toHaveLength(3);
    expect(lark.requests).toBe(1);
    expect((await store.get<EntityState>(rejectedKey))!.value.firing).toBe(false);

    // The old instance decides a new alert for both and lark refuses it: that refusal is told, and
    // the next deliverer without lark resolves it again, once 10 minutes have passed since it last
    // looked for removed sinks (it lists their windows that seldom, not at every flush).
    await owe(store, ['lark', 'webhook'], '2', '8613800000002', 'BLOCKED');
    await deliver(old);
    clock += 9 * 60_000;
    await deliver(current);
    expect(webhook.received.map((m) => told(m.text))).toEqual(['8613800000001', 'rejected', 'rejected-end', '8613800000002', 'rejected']);
    clock += 60_000;
    await deliver(current);
    expect(webhook.received.map((m) => told(m.text))).toEqual(['8613800000001', 'rejected', 'rejected-end', '8613800000002', 'rejected', 'rejected-end']);
    expect(await store.list(SENDING_PREFIX)).toEqual([]);
  }, 30_000);
});
