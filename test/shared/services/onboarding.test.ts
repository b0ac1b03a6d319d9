// Onboarding and the health monitor as FC runs them: each with only its own serverless.yml
// environment (ALERT_* only on health-monitor), one store, real receivers on loopback, the sandbox
// as CAMS. Onboarding records its failure alert and sends nothing; the monitor delivers it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/dispatch.ts';
import { EVERY_SINK, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { monitorRuntime, runHealthMonitor } from '../../../shared/services/health-monitor.ts';
import { handleOnboardingEvent, onboardingRuntime } from '../../../shared/services/onboarding.ts';
import type { Store } from '../../../shared/store/port.ts';
import { fcContext, fixture } from '../../support/events.ts';
import { onboardThroughFunctions, sandboxClient, sandboxPerFileStorePerTest, setHealth } from '../../support/monitor.ts';
import { RECEIVER_KINDS, startReceivers, type Receivers } from '../../support/receivers/index.ts';

let sandbox: RunningSandbox;
let receivers: Receivers;
let store: Store;
let storeUrl: string;

sandboxPerFileStorePerTest((parts) => ({ sandbox, store, storeUrl } = parts), { quiet: true });
beforeEach(async () => {
  receivers = await startReceivers();
});
afterEach(async () => {
  await receivers.close();
});

const account1 = DEFAULT_SANDBOX_KEYS[0]!;
const invocation = (event: unknown, requestId: string) => ({
  event,
  context: fcContext({ credentials: { accessKeyId: account1.accessKeyId, accessKeySecret: account1.accessKeySecret } }) as never,
  requestId,
  deadline: Date.now() + 30_000,
});

/** What each entity other than the onboarding alert still owes, by store key. */
async function monitorOwed(): Promise<Record<string, EntityState['outbox']>> {
  const entities = await store.list<EntityState>(ENTITY_PREFIX);
  return Object.fromEntries(entities.filter((e) => e.value.subject.entityType !== 'OnboardingFailed').map((e) => [e.key, e.value.outbox]));
}

describe('one deliverer: onboarding records, the health monitor delivers', () => {
  it("a permanent onboarding failure leaves the monitor's owed deliveries untouched, and the next sweep delivers it once to every sink", async () => {
    const space = await onboardThroughFunctions('299399000300', [{ cc: '86', phone: '13800000300' }]);
    const phone = { CustSpaceId: space, NodeType: 'phone' as const, PhoneNumber: '8613800000300' };
    // The environments serverless.yml gives each function: ALERT_* only on health-monitor.
    const monitorEnv = { ...receivers.env, STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, MONITOR_TARGETS: JSON.stringify([phone]) };
    const onboardingEnv = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url };
    const monitor = await monitorRuntime(monitorEnv)();
    const onboarding = await onboardingRuntime(onboardingEnv)();
    expect(monitor.sinks.map((s) => s.name).sort()).toEqual([...RECEIVER_KINDS].sort());
    let clock = Date.now();
    const tick = (advanceMs: number) => {
      clock += advanceMs;
      return runHealthMonitor(invocation(fixture('timer-event.json'), 'tick'), monitor, () => clock);
    };
    const count = () => Object.fromEntries(RECEIVER_KINDS.map((k) => [k, receivers.received[k].length]));

    try {
      // The monitor owes one delivery: Slack failed the BLOCKED alert, the others took it.
      await setHealth(sandbox, { ...phone, CanSendMessage: 'BLOCKED' });
      receivers.failNext('slack', 1);
      await tick(0);
      expect(count()).toEqual({ dingtalk: 1, lark: 1, wecom: 1, slack: 0, webhook: 1 });
      const owedBefore = await monitorOwed();
      expect(Object.values(owedBefore).flat().map((e) => e.pendingSinks)).toEqual([['slack']]);

      // An onboarding that fails for good: its WABA belongs to another account.
      const wabaId = '299399000301';
      await sandboxClient(sandbox, 5, DEFAULT_SANDBOX_KEYS[1]!).bindWaba({ WabaId: wabaId });
      const event = { ...fixture<Record<string, unknown>>('eventbridge-event.json'), id: 'evt-one-deliverer', data: { WabaId: wabaId, Cc: '65', PhoneNumber: '90000301', VerifiedName: 'Acme Shop' } };
      const out = await handleOnboardingEvent(invocation(event, 'onb'), onboarding);
      expect(out.status).toBe('failed');
      if (out.status !== 'failed') return;
      const onboardingId = out.record.OnboardingId;

      // Recorded, owed to every sink the monitor has; nothing sent; the monitor's deliveries untouched.
      expect(count()).toEqual({ dingtalk: 1, lark: 1, wecom: 1, slack: 0, webhook: 1 });
      expect(await monitorOwed()).toEqual(owedBefore);
      const recorded = (await store.list<EntityState>(ENTITY_PREFIX)).filter((e) => e.value.subject.entityType === 'OnboardingFailed');
      expect(recorded.map((e) => e.value.outbox.map((o) => o.pendingSinks))).toEqual([[[EVERY_SINK]]]);

      // The next sweep: the onboarding alert once on every sink, and Slack's owed alert at last.
      await tick(5 * 60_000);
      for (const k of RECEIVER_KINDS) {
        const about = receivers.received[k].filter((m) => m.text.includes(onboardingId));
        expect(about, `${k} got the onboarding alert once`).toHaveLength(1);
        expect(about[0]!.text).toContain('Unknown.ResourceOwnerId');
      }
      expect(receivers.received.slack.filter((m) => m.text.includes('BLOCKED'))).toHaveLength(1);
      expect(Object.values(await monitorOwed()).flat()).toEqual([]);

      // Nothing is owed any more: a later sweep sends nothing new.
      const after = count();
      await tick(5 * 60_000);
      expect(count()).toEqual(after);
      expect((await store.list<EntityState>(ENTITY_PREFIX)).flatMap((e) => e.value.outbox)).toEqual([]);
    } finally {
      await monitor.store.close();
      await onboarding.store.close();
    }
  });
});

describe('a batch of CloudEvents (EventBridge batch push: a JSON array)', () => {
  it('onboards every event of the batch, each keyed as it would be alone', async () => {
    const onboarding = await onboardingRuntime({ STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url })();
    const mns = (id: string, payload: unknown) => {
      const e = fixture<{ id: string; data: Record<string, unknown> }>('mns-queue-event.json');
      return { ...e, id, data: { ...e.data, messageId: id, messageBody: JSON.stringify(payload) } };
    };
    const payloads = [
      { WabaId: '299399000310', Cc: '65', PhoneNumber: '90000310', VerifiedName: 'Acme Shop' },
      { WabaId: '299399000311', Cc: '65', PhoneNumber: '90000311', VerifiedName: 'Acme Shop' },
    ];
    try {
      const out = await handleOnboardingEvent(invocation(payloads.map((p, i) => mns(`msg-batch-${i}`, p)), 'onb-batch'), onboarding);
      expect(out).toMatchObject({ status: 'batch', outcomes: [{ status: 'done', duplicate: false }, { status: 'done', duplicate: false }] });
      // Redelivered, the batch is answered from the records: nothing is bound twice.
      const again = await handleOnboardingEvent(invocation(payloads.map((p, i) => mns(`msg-batch-redelivered-${i}`, p)), 'onb-batch-2'), onboarding);
      expect(again).toMatchObject({ status: 'batch', outcomes: [{ status: 'done', duplicate: true }, { status: 'done', duplicate: true }] });
    } finally {
      await onboarding.store.close();
    }
  });

  it('one element that is not a full CloudEvent (no data, or not an event at all) is rejected alone; the rest of the batch is onboarded', async () => {
    const onboarding = await onboardingRuntime({ STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url })();
    const noData: Record<string, unknown> = { ...fixture('eventbridge-event.json'), id: 'evt-batch-nodata' };
    delete noData['data'];
    const good = { ...fixture<Record<string, unknown>>('eventbridge-event.json'), id: 'evt-batch-good', data: { WabaId: '299399000313', Cc: '65', PhoneNumber: '90000313', VerifiedName: 'Acme Shop' } };
    try {
      const out = await handleOnboardingEvent(invocation([noData, good, 'junk'], 'onb-batch-4'), onboarding);
      expect(out).toMatchObject({
        status: 'batch',
        outcomes: [{ status: 'invalid', fields: [{ Field: '(payload)' }] }, { status: 'done', duplicate: false }, { status: 'invalid', fields: [{ Field: '(payload)' }] }],
      });
    } finally {
      await onboarding.store.close();
    }
  });

  it('runs the rest of the batch when one event fails transiently, then throws so FC redelivers it', async () => {
    const onboarding = await onboardingRuntime({ STORE_URL: storeUrl, CAMS_ENDPOINT: 'http://127.0.0.1:9' })();
    const events = [
      { ...fixture<Record<string, unknown>>('eventbridge-event.json'), id: 'evt-batch-bad', data: { WabaId: 'x' } },
      { ...fixture<Record<string, unknown>>('eventbridge-event.json'), id: 'evt-batch-down', data: { WabaId: '299399000312', Cc: '65', PhoneNumber: '90000312', VerifiedName: 'Acme Shop' } },
    ];
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      // CAMS is unreachable for the first event; the second (invalid) is still looked at.
      await expect(handleOnboardingEvent({ ...invocation([...events].reverse(), 'onb-batch-3'), deadline: Date.now() + 5000 }, onboarding)).rejects.toThrow();
    } finally {
      process.stdout.write = write;
      await onboarding.store.close();
    }
    expect(lines.filter((l) => l.includes('onboarding event rejected') && l.includes('evt-batch-bad'))).toHaveLength(1);
  });

  it('logs every event of the batch that failed, not only the one thrown (the others had left no trace in the log)', async () => {
    const onboarding = await onboardingRuntime({ STORE_URL: storeUrl, CAMS_ENDPOINT: 'http://127.0.0.1:9' })();
    const mns = (id: string, phone: string) => {
      const e = fixture<{ id: string; data: Record<string, unknown> }>('mns-queue-event.json');
      return { ...e, id, data: { ...e.data, messageId: id, messageBody: JSON.stringify({ WabaId: '299399000314', Cc: '65', PhoneNumber: phone, VerifiedName: 'Acme Shop' }) } };
    };
    const lines: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      // CAMS is unreachable: both messages fail; the first failure is thrown for FC to redeliver the batch.
      await expect(handleOnboardingEvent({ ...invocation([mns('MSGDOWN1', '90000314'), mns('MSGDOWN2', '90000315')], 'onb-batch-5'), deadline: Date.now() + 5000 }, onboarding)).rejects.toThrow();
    } finally {
      process.stdout.write = write;
      await onboarding.store.close();
    }
    const failed = lines.filter((l) => l.includes('"msg":"onboarding batch event failed; the batch will be redelivered"'));
    expect(failed).toHaveLength(2);
    expect(failed[0]).toContain('"index":0');
    expect(failed[0]).toContain('"messageId":"MSGDOWN1"');
    expect(failed[1]).toContain('"index":1');
    expect(failed[1]).toContain('"messageId":"MSGDOWN2"');
  });
});
