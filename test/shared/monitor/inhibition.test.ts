import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { sinksFromEnv } from '../../../shared/alerts/sinks/index.ts';
import { loadMonitorConfig } from '../../../shared/config/monitor.ts';
import { registerWatchTarget } from '../../../shared/monitor/targets.ts';
import { camsEventsHandler } from '../../../shared/services/cams-events.ts';
import { runHealthMonitor } from '../../../shared/services/health-monitor.ts';
import type { Store } from '../../../shared/store/port.ts';
import { fcContext, fixture } from '../../support/events.ts';
import { onboardThroughFunctions, sandboxPerFileStorePerTest, setHealth } from '../../support/monitor.ts';
import { startReceiptForwarder, type ReceiptForwarder } from '../../support/receipt-forwarder.ts';
import { startReceivers, type Receivers } from '../../support/receivers/index.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';

// Phone and template alerts are held back while their WABA is BLOCKED (the WABA's alert covers
// them). When the WABA's hold ends, what it held back is notified then, once, with the WABA's
// recovery, not a sweep round later.
const TOKEN = 'receipt-token-inhibit-0123456789';
const WABA = '299399000600';
const PHONE = '8613800000001';
const MINUTE = 60_000;
let sandbox: RunningSandbox;
let store: Store;
let storeUrl: string;
let receivers: Receivers;
let forwarder: ReceiptForwarder;
let space: string;
let clock: number;

sandboxPerFileStorePerTest((parts) => ({ sandbox, store, storeUrl } = parts), { quiet: true });
beforeEach(async () => {
  receivers = await startReceivers({ kinds: ['webhook'] });
  space = await onboardThroughFunctions(WABA, [{ cc: '86', phone: '13800000001' }]);
  await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, 'test');
  await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: PHONE }, 'test');
  clock = Date.now();
  const handler = camsEventsHandler({ env: { ...env(), CAMS_RECEIPT_TOKEN: TOKEN }, write: () => {}, alertClock: () => clock });
  forwarder = await startReceiptForwarder(handler as never, TOKEN, ctx);
  await sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: forwarder.url });
});
afterEach(async () => {
  await forwarder.close();
  await receivers.close();
});

const key = DEFAULT_SANDBOX_KEYS[0]!;
const ctx = () => fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;
const env = () => ({ STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env });

type Item = { status: string; reason: string; node: string };
const messages = () => receivers.received.webhook.map((m) => (m.body as { items: Item[] }).items.map((i) => `${i.node.split(' ')[0]} ${i.status} ${i.reason}`).sort());

/** A node's health changes in the sandbox a minute later, which pushes its receipt; resolves once cams-events answered it. */
async function change(node: Record<string, unknown>, to: string): Promise<void> {
  const n = forwarder.pushes.length + 1;
  clock += MINUTE;
  await setHealth(sandbox, { CustSpaceId: space, ...node, CanSendMessage: to });
  await forwarder.handled(n);
}
const waba = { NodeType: 'waba', WabaId: WABA };
const phone = { NodeType: 'phone', PhoneNumber: PHONE };

async function sweep(at: number) {
  const inv = { event: fixture('timer-event.json'), context: ctx(), requestId: 'tick', deadline: Date.now() + 60_000 };
  return runHealthMonitor(inv, { config: loadMonitorConfig(env()), store, sinks: sinksFromEnv(env()) }, () => at);
}

describe('alerts held back by a BLOCKED WABA', () => {
  it('WABA BLOCKED, phone LIMITED (held back), WABA AVAILABLE: the phone\'s LIMITED goes out with the WABA\'s recovery, once', async () => {
    await change(waba, 'BLOCKED');
    expect(messages()).toEqual([['WABA BLOCKED new']]);
    await change(phone, 'LIMITED');
    expect(messages()).toHaveLength(1); // held back: the WABA's alert covers it

    await change(waba, 'AVAILABLE');
    expect(messages()).toEqual([['WABA BLOCKED new'], ['WABA RESOLVED resolved', 'phone LIMITED new']]);

    // Nothing of it again: not from the next sweep, not from the phone's next receipt-less check.
    clock += 5 * MINUTE;
    await sweep(clock);
    expect(messages()).toHaveLength(2);
  });

  it('a change held back (a firing phone LIMITED goes BLOCKED under a BLOCKED WABA) goes out as changed when the WABA recovers', async () => {
    await change(phone, 'LIMITED');
    await change(waba, 'BLOCKED');
    await change(phone, 'BLOCKED');
    expect(messages()).toEqual([['phone LIMITED new'], ['WABA BLOCKED new']]);
    await change(waba, 'AVAILABLE');
    expect(messages()).toEqual([['phone LIMITED new'], ['WABA BLOCKED new'], ['WABA RESOLVED resolved', 'phone BLOCKED changed']]);
  });

  it('a held-back phone that recovers while its WABA is BLOCKED: nothing owed when the WABA recovers', async () => {
    await change(waba, 'BLOCKED');
    await change(phone, 'LIMITED');
    await change(phone, 'AVAILABLE');
    await change(waba, 'AVAILABLE');
    expect(messages()).toEqual([['WABA BLOCKED new'], ['WABA RESOLVED resolved']]);
  });

  it('a WABA recovery the sweep sees (its receipt lost) releases the held alert in that sweep', async () => {
    await change(waba, 'BLOCKED');
    await change(phone, 'LIMITED');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: '' });
    await setHealth(sandbox, { CustSpaceId: space, ...waba, CanSendMessage: 'AVAILABLE' });
    clock += 5 * MINUTE;
    await sweep(clock);
    expect(messages().flat().filter((m) => m.startsWith('phone'))).toEqual(['phone LIMITED new']);
    expect(messages().flat()).toContain('WABA RESOLVED resolved');
  });
});
