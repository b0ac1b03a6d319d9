import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../../local/host/host.ts';
import { registerWatchTarget } from '../../../shared/monitor/targets.ts';
import { STATS_KEY, type ReceiptStats } from '../../../shared/receipts/dedup.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { callRoute, eventually } from '../../local/host/support.ts';
import { startReceivers, type Receivers } from '../../support/receivers/index.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';

// The local host as `npm start` runs it (serverless.yml, the embedded sandbox), with NO timer: every
// alert here comes from a receipt the sandbox pushed, never from a sweep.
const TOKEN = 'e2e-receipt-token-0123456789';
const WABA = '299399000300';
const PHONE = '8613800000300';
let host: RunningHost;
let receivers: Receivers;
let storeDir: string;
let store: Store;
let space: string;
const lines: string[] = [];

const sandbox = async (method: string, path: string, body?: unknown) => (await sandboxControl({ url: host.sandboxUrl! }, method, path, body)) as Record<string, unknown>;
const healthCalls = async () => ((await sandbox('GET', '/__sandbox/calls')) as unknown as Array<{ Action: string }>).filter((c) => c.Action === 'GetWhatsappHealthStatus').length;
type Item = { status: string; node: string; errors: Array<{ ErrorDescription: string }> };
const items = () => receivers.received.webhook.flatMap((m) => (m.body as { items: Item[] }).items);

beforeAll(async () => {
  process.env['LOG_LEVEL'] = 'warn';
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-receipts-e2e-'));
  receivers = await startReceivers({ kinds: ['webhook'] });
  host = await startHost({
    port: 0,
    sandbox: { port: 0 },
    timers: false,
    env: { STORE_URL: `file:${storeDir}`, CAMS_RECEIPT_TOKEN: TOKEN, LOG_LEVEL: 'warn', ...receivers.env },
    log: (l) => lines.push(l),
  });
  const bound = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: WABA } });
  space = bound.json.Data!['CustSpaceId'] as string;
  const added = await callRoute(host.url, { method: 'POST', path: '/phone-numbers', body: { CustSpaceId: space, Cc: '86', PhoneNumber: '13800000300', VerifiedName: 'Acme Shop' } });
  expect(added.status).toBe(200);
  // Another instance's view of the same store: the watch list is shared through it.
  store = await openStore(`file:${storeDir}`);
  await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: PHONE }, 'e2e');
}, 60_000);
afterAll(async () => {
  await host?.close();
  await store?.close();
  await receivers?.close();
  delete process.env['LOG_LEVEL'];
  rmSync(storeDir, { recursive: true, force: true });
});

describe('push receipts end to end, with no monitor tick', () => {
  it('the sandbox blocks a watched phone and pushes the receipt: the webhook gets the alert; the same receipt 3 times gives one alert', async () => {
    await sandbox('PUT', '/__sandbox/receipts', { Url: `${host.url}/cams/receipts?token=${TOKEN}` });
    const before = await healthCalls();
    await sandbox('PUT', '/__sandbox/health', {
      CustSpaceId: space,
      NodeType: 'phone',
      PhoneNumber: PHONE,
      CanSendMessage: 'BLOCKED',
      Errors: [{ ErrorCode: '141006', ErrorDescription: 'There is an error with the payment method.', PossibleSolution: 'Add a new payment method.' }],
    });
    await eventually(() => receivers.received.webhook.length >= 1, 15_000, 'the alert');
    expect(items().map((i) => [i.status, i.node])).toEqual([['BLOCKED', expect.stringContaining(PHONE)]]);
    expect(await healthCalls()).toBe(before + 1);

    // CAMS delivers it again, twice: counted, not acted on.
    const again = { Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'BLOCKED', Reason: 'There is an error with the payment method.' };
    for (let i = 0; i < 2; i++) expect(await sandbox('POST', '/__sandbox/receipts/push', [again])).toMatchObject({ ReceiverStatus: 200 });
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ processed: 1, duplicates: 2 });
    expect(receivers.received.webhook).toHaveLength(1);
    expect(await healthCalls()).toBe(before + 1);
    expect(lines.join('\n')).not.toContain(TOKEN);
  }, 30_000);

  it('queue-style: the host delivers an MNS message to cams-events as the trigger would; a paused template alerts with its reason', async () => {
    expect(host.banner().join('\n')).toContain('/__mns/queues/cams-fc-receipts-dev/messages -> cams-events');
    await sandbox('PUT', '/__sandbox/receipts', { Url: `${host.url}/__mns/queues/cams-fc-receipts-dev/messages` });
    const reason = 'Paused: low quality feedback from users.';
    await sandbox('PUT', '/__sandbox/health', {
      CustSpaceId: space,
      NodeType: 'template',
      TemplateCode: 'order_update',
      Language: 'en_US',
      CanSendMessage: 'LIMITED',
      Errors: [{ ErrorCode: '132015', ErrorDescription: reason }],
    });
    const alert = await eventually(() => items().find((i) => i.node.includes('order_update')), 15_000, 'the template alert');
    expect(alert.errors.map((e) => e.ErrorDescription).join('\n')).toContain(reason);
    // The template was not watched: the receipt put it under watch.
    expect(await store.get(`watch/template:${space}:order_update/en_US`)).toBeDefined();
  }, 30_000);

  it("an account set to ChatAppAudit's V1 form (no Type): a disabled template's receipt alerts as a V2 one does", async () => {
    await sandbox('PUT', '/__sandbox/receipts', { Url: `${host.url}/cams/receipts?token=${TOKEN}`, Format: 'V1' });
    await sandbox('PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'welcome_v1', Language: 'en_US', AuditStatus: 'disabled', Reason: 'Disabled for low quality.' }] });
    const alert = await eventually(() => items().find((i) => i.node.includes('welcome_v1')), 15_000, 'the V1 template alert');
    expect(alert.status).toBe('BLOCKED');
    expect(alert.errors.map((e) => e.ErrorDescription).join('\n')).toContain('Disabled for low quality.');
    expect(await store.get(`watch/template:${space}:welcome_v1/en_US`)).toBeDefined();
  }, 30_000);
});
