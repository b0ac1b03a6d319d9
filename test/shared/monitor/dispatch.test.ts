import { describe, expect, it } from 'vitest';
import type { AlertNotification, AlertSink, AlertSubject } from '../../../shared/alerts/model.ts';
import { SinkDeliveryError } from '../../../shared/alerts/model.ts';
import { deliverOwed, ENTITY_PREFIX } from '../../../shared/monitor/dispatch.ts';
import { fingerprintOf, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { evaluate } from '../../../shared/monitor/rules.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';

class TimedSink implements AlertSink {
  readonly sent: Array<{ at: number; n: AlertNotification }> = [];
  fail: SinkDeliveryError | undefined;
  constructor(readonly name: string, readonly perMinute = 100, readonly minIntervalMs?: number) {}
  async send(n: AlertNotification) {
    if (this.fail) throw this.fail;
    this.sent.push({ at: Date.now(), n });
  }
}

async function owe(store: Store, wabaId: string, sinks: string[]): Promise<void> {
  const subject: AlertSubject = { nodeType: 'phone', custSpaceId: 'cs', wabaId, phoneNumber: `86${wabaId}`, entityType: 'PHONE_NUMBER' };
  const state = evaluate(undefined, { subject, status: 'BLOCKED', errors: [] }, { now: Date.now(), round: 'r', policy: { minConsecutive: 1, repeatIntervalMs: 1e9 }, inhibited: false, sinks });
  await store.put<EntityState>(ENTITY_PREFIX + fingerprintOf(subject), state);
}

const noLog = () => {};

describe('deliverOwed', () => {
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

  it('drops deliveries owed to a sink that is no longer configured', async () => {
    const store = await openStore('memory:');
    await owe(store, '1', ['gone', 'kept']);
    const kept = new TimedSink('kept');
    await deliverOwed(store, [kept], Date.now, noLog);
    expect(kept.sent).toHaveLength(1);
    for (const e of await store.list<EntityState>(ENTITY_PREFIX)) expect(e.value.outbox).toEqual([]);
  });
});
