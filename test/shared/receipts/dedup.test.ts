import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { applyObservation } from '../../../shared/monitor/check.ts';
import { qualityObservation } from '../../../shared/monitor/quality.ts';
import { STATS_KEY, type ReceiptStats } from '../../../shared/receipts/dedup.ts';
import type { Store } from '../../../shared/store/port.ts';
import { setHealth } from '../../support/monitor.ts';
import type { ReceiptForwarder } from '../../support/receipt-forwarder.ts';
import { sandboxPushingReceipts, type ReceiptRig } from '../../support/receipt-rig.ts';
import type { Receivers } from '../../support/receivers/index.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';

// Receipts carry no id and no time, so a redelivery (CAMS pushing the same push again) and a genuine
// repeat (the node went back to a state it was in before) have the same content. Here the sandbox
// pushes every health change to cams-events, as CAMS does, and redelivers through its push API.
const WABA = '299399000500';
const PHONE = '8613800000001';
const MINUTE = 60_000;
let sandbox: RunningSandbox;
let store: Store;
let receivers: Receivers;
let forwarder: ReceiptForwarder;
let space: string;
let rig: ReceiptRig;
let clock: number;

beforeEach(() => {
  clock = Date.now();
});
sandboxPushingReceipts(
  {
    token: 'receipt-token-dedup-0123456789',
    waba: WABA,
    phone: { cc: '86', phone: '13800000001' },
    targets: (s) => [{ CustSpaceId: s, NodeType: 'phone', WabaId: WABA, PhoneNumber: PHONE }],
    alertClock: () => clock,
  },
  (r) => ({ sandbox, store, receivers, forwarder, space } = rig = r),
);

type Item = { status: string; reason: string; node: string };
const allItems = () => receivers.received.webhook.flatMap((m) => (m.body as { items: Item[] }).items);
const phoneAlerts = () =>
  allItems()
    .filter((i) => i.node.startsWith('phone '))
    .map((i) => [i.status, i.reason]);
const healthChecks = async () => ((await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string }>).filter((c) => c.Action === 'GetWhatsappHealthStatus').length;
const outcomes = () => forwarder.pushes.map((p) => p.results.map((r) => r['Outcome']));

/** The phone's health changes in the sandbox a minute later, which pushes its receipt; resolves once cams-events answered it. */
async function change(to: string): Promise<void> {
  clock += MINUTE;
  await rig.pushChange({ NodeType: 'phone', PhoneNumber: PHONE }, to);
}

/** CAMS pushes what it pushed before once more (its retry of a push it thinks failed). */
async function redeliver(receipts: unknown): Promise<void> {
  const n = forwarder.pushes.length + 1;
  expect(await sandboxControl(sandbox, 'POST', '/__sandbox/receipts/push', receipts)).toMatchObject({ ReceiverStatus: 200 });
  await forwarder.handled(n);
}

describe('receipt dedup: a redelivery is not acted on twice, a repeat after a change is', () => {
  it('BLOCKED, AVAILABLE, LIMITED, AVAILABLE: the second AVAILABLE (same content as the first) is checked and resolves at once', async () => {
    for (const to of ['BLOCKED', 'AVAILABLE', 'LIMITED', 'AVAILABLE']) await change(to);
    expect(outcomes()).toEqual([['processed'], ['processed'], ['processed'], ['processed']]);
    expect(JSON.stringify(forwarder.pushes[3]!.receipts)).toBe(JSON.stringify(forwarder.pushes[1]!.receipts));
    expect(phoneAlerts()).toEqual([
      ['BLOCKED', 'new'],
      ['RESOLVED', 'resolved'],
      ['LIMITED', 'new'],
      ['RESOLVED', 'resolved'],
    ]);
    expect(await healthChecks()).toBe(4);

    // CAMS retries the last push, twice: counted as duplicates, no check, nothing sent.
    await redeliver(forwarder.pushes[3]!.receipts);
    await redeliver(forwarder.pushes[3]!.receipts);
    expect(outcomes().slice(4)).toEqual([['duplicate'], ['duplicate']]);
    expect(await healthChecks()).toBe(4);
    expect(phoneAlerts()).toHaveLength(4);
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 6, processed: 4, duplicates: 2 });
  });

  it('the same receipt twice in one push: the second is the duplicate', async () => {
    await change('BLOCKED');
    const [receipt] = forwarder.pushes[0]!.receipts as unknown[];
    await change('AVAILABLE');
    await setHealth(sandbox, { CustSpaceId: space, NodeType: 'phone', PhoneNumber: PHONE, CanSendMessage: 'BLOCKED' });
    await forwarder.handled(3);
    await redeliver([receipt, receipt]);
    expect(outcomes()).toEqual([['processed'], ['processed'], ['processed'], ['duplicate', 'duplicate']]);
    expect(await healthChecks()).toBe(3);
  });

  it('a push with two receipts for one node (quality RED, then GREEN) pushed again: both duplicates, the alert neither fires nor resolves again', async () => {
    const push = [
      { Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'RED' },
      { Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'GREEN' },
    ];
    await redeliver(push);
    expect(outcomes()).toEqual([['processed', 'processed']]);
    const qualityAlerts = () => allItems().filter((i) => i.node.startsWith('PHONE_QUALITY ')).map((i) => [i.status, i.reason]);
    const alerts = qualityAlerts();
    expect(alerts).toEqual([
      ['LIMITED', 'new'],
      ['RESOLVED', 'resolved'],
    ]);
    clock += MINUTE;
    await redeliver(push);
    // Remembering only GREEN, RED was acted on again: the alert fired and resolved once more.
    expect(outcomes()[1]).toEqual(['duplicate', 'duplicate']);
    expect(qualityAlerts()).toEqual(alerts);
    expect(await healthChecks()).toBe(1);
    // The same receipts as a push of their own, or in another order, are acted on.
    clock += MINUTE;
    await redeliver([push[0]]);
    expect(outcomes()[2]).toEqual(['processed']);
  });

  it('a change only the sweep saw (its receipt was lost): the same receipt as before is acted on', async () => {
    await change('BLOCKED');
    // The recovery's receipt never arrives; the sweep sees it.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: '' });
    await setHealth(sandbox, { CustSpaceId: space, NodeType: 'phone', PhoneNumber: PHONE, CanSendMessage: 'AVAILABLE' });
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(phoneAlerts()).toEqual([
      ['BLOCKED', 'new'],
      ['RESOLVED', 'resolved'],
    ]);

    await sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: forwarder.url });
    await change('BLOCKED');
    expect(JSON.stringify(forwarder.pushes[1]!.receipts)).toBe(JSON.stringify(forwarder.pushes[0]!.receipts));
    expect(outcomes()).toEqual([['processed'], ['processed']]);
    expect(phoneAlerts()).toEqual([
      ['BLOCKED', 'new'],
      ['RESOLVED', 'resolved'],
      ['BLOCKED', 'new'],
    ]);
    // And its redelivery is a duplicate again.
    await redeliver(forwarder.pushes[1]!.receipts);
    expect(outcomes()[2]).toEqual(['duplicate']);
  });

  it('a quality change only the listing saw (RED to YELLOW, its receipt lost): RED pushed again is acted on and alerts the change', async () => {
    const red = [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'RED' }];
    const qualityAlerts = () =>
      receivers.received.webhook
        .flatMap((m) => (m.body as { items: Array<Item & { errors: Array<{ ErrorCode: string }> }> }).items)
        .filter((i) => i.node.startsWith('PHONE_QUALITY '))
        .map((i) => [i.reason, i.errors[0]?.ErrorCode]);
    clock += MINUTE;
    await redeliver(red);
    // Discovery's listing says YELLOW (the YELLOW receipt never came): LIMITED still, another error.
    clock += MINUTE;
    const yellow = qualityObservation({ CustSpaceId: space, WabaId: WABA, PhoneNumber: PHONE }, { QualityRating: 'YELLOW' });
    await applyObservation(yellow, 'listing', false, { store, policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, sinks: ['webhook'], now: () => clock });
    // RED again, genuinely: the same content as the last receipt, yet the monitor found something new since.
    clock += MINUTE;
    await redeliver(red);
    expect(outcomes()).toEqual([['processed'], ['processed']]);
    expect(qualityAlerts()).toEqual([
      ['new', 'QualityRating.RED'],
      ['changed', 'QualityRating.YELLOW'],
      ['changed', 'QualityRating.RED'],
    ]);
    // And its redelivery is a duplicate.
    await redeliver(red);
    expect(outcomes()[2]).toEqual(['duplicate']);
  });

  it("a WABA's recovery only a phone's check saw (its receipt was lost): the WABA's same receipt as before is acted on", async () => {
    const wabaAlerts = () =>
      receivers.received.webhook
        .flatMap((m) => (m.body as { items: Item[] }).items)
        .filter((i) => i.node.startsWith('WABA '))
        .map((i) => [i.status, i.reason]);
    clock += MINUTE;
    await rig.pushChange({ NodeType: 'waba', WabaId: WABA }, 'BLOCKED');
    expect(wabaAlerts()).toEqual([['BLOCKED', 'new']]);
    // The WABA recovers; that receipt never arrives. A receipt about the number does: its check
    // reports the WABA too, which the monitor then knows is AVAILABLE.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: '' });
    await setHealth(sandbox, { CustSpaceId: space, NodeType: 'waba', WabaId: WABA, CanSendMessage: 'AVAILABLE' });
    await sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: forwarder.url });
    clock += MINUTE;
    await redeliver([{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }]);
    expect(wabaAlerts()).toEqual([
      ['BLOCKED', 'new'],
      ['RESOLVED', 'resolved'],
    ]);

    // Blocked again: CAMS pushes what it pushed the first time. Not a redelivery: the WABA changed since.
    clock += MINUTE;
    await rig.pushChange({ NodeType: 'waba', WabaId: WABA }, 'BLOCKED');
    expect(JSON.stringify(forwarder.pushes.at(-1)!.receipts)).toBe(JSON.stringify(forwarder.pushes[0]!.receipts));
    expect(outcomes()).toEqual([['processed'], ['processed'], ['processed']]);
    expect(wabaAlerts()).toEqual([
      ['BLOCKED', 'new'],
      ['RESOLVED', 'resolved'],
      ['BLOCKED', 'new'],
    ]);
  });
});
