import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { onboardingRequestFrom } from '../../../shared/onboarding/event.ts';
import { OnboardingInProgressError, OnboardingRetryableError, raiseRecordedFailureAlert, runOnboarding, type OnboardingDeps } from '../../../shared/onboarding/onboard.ts';
import { idempotencyKeyFor, onboardingIdFor, type OnboardingPayload } from '../../../shared/onboarding/payload.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import { deliverOwed } from '../../../shared/monitor/dispatch.ts';
import { HealthSweep } from '../../../shared/monitor/sweep.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/entity-store.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { loadWatchList, WATCH_PREFIX, type RegisteredTarget } from '../../../shared/monitor/targets.ts';
import { createSilence } from '../../../shared/silences/store.ts';
import { removeWatchEntries } from '../../../shared/watch-list/store.ts';
import type { Store } from '../../../shared/store/port.ts';
import { fixture } from '../../support/events.ts';
import { RecordingSink, sandboxClient, sandboxPerFileStorePerTest, setHealth } from '../../support/monitor.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';
import { stallAfterFirst } from '../../support/store.ts';

let sandbox: RunningSandbox;
let store: Store;
let storeUrl: string;
let seq = 0;

sandboxPerFileStorePerTest((parts) => ({ sandbox, store, storeUrl } = parts));

const payload = (over: Record<string, unknown> = {}) => ({
  WabaId: `3000000000${String(++seq).padStart(4, '0')}`,
  Cc: '65',
  PhoneNumber: `9000${String(seq).padStart(4, '0')}`,
  VerifiedName: 'Acme Shop',
  Templates: [{ TemplateCode: 'order_update', Language: 'en_US' }],
  ...over,
});

function deps(over: Partial<OnboardingDeps> = {}): OnboardingDeps {
  return { store, cams: sandboxClient(sandbox, 5), deadline: Date.now() + 20_000, ...over };
}

/** Onboarding only records its alerts; the monitor's deliverer sends them. */
async function monitorDelivers(sink: RecordingSink): Promise<void> {
  await deliverOwed(store, [sink], Date.now, () => {});
}

/** One sweep of the watch list onboarding wrote, as the monitor runs it, alerting to `sink`. */
function sweepOnce(sink: RecordingSink) {
  return new HealthSweep({
    store,
    cams: sandboxClient(sandbox, 5),
    sinks: [sink],
    policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 },
    envTargets: [],
    concurrency: 5,
    deadline: Date.now() + 20_000,
  }).run();
}

async function camsCalls(): Promise<Array<{ Action: string; Code: string; Params: Record<string, string> }>> {
  return (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Code: string; Params: Record<string, string> }>;
}

function runChild(args: string[], opts: { env: NodeJS.ProcessEnv }): Promise<{ signal: NodeJS.Signals | null; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => p.kill('SIGTERM'), 30_000);
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function eventBridge(data: unknown, id = 'evt-1') {
  return { ...fixture('eventbridge-event.json'), id, data };
}

describe('onboarding', () => {
  it('binds, adds the number, queries, checks health and puts WABA, phone and templates under watch', async () => {
    const p = payload();
    const out = await runOnboarding(deps(), onboardingRequestFrom(eventBridge(p)));
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    expect(out.record).toMatchObject({ Status: 'done', AccountReviewStatus: 'APPROVED', CanSendMessage: 'AVAILABLE', Attempts: 1, Errors: [] });
    expect(Object.keys(out.record.Steps)).toEqual(['bind', 'addPhone', 'query', 'health', 'watch']);
    expect((await camsCalls()).map((c) => c.Action)).toEqual(['ChatappBindWaba', 'AddChatappPhoneNumber', 'QueryChatappBindWaba', 'GetWhatsappHealthStatus']);
    const { targets } = await loadWatchList(store, []);
    expect(targets.map((t) => t.id).sort()).toEqual(
      [`phone:${out.record.CustSpaceId}:65${p.PhoneNumber}`, `template:${out.record.CustSpaceId}:order_update/en_US`, `waba:${out.record.CustSpaceId}:${p.WabaId}`].sort(),
    );
  });

  it("pins a number a Discover entry had found: deleting that entry leaves what the onboarding put under watch", async () => {
    const p = payload();
    const space = (await sandboxClient(sandbox, 5).bindWaba({ WabaId: p.WabaId })).data.CustSpaceId;
    const root = { CustSpaceId: space, NodeType: 'waba' as const, WabaId: p.WabaId };
    const rootId = `waba:${space}:${p.WabaId}`;
    const phone = { CustSpaceId: space, NodeType: 'phone' as const, WabaId: p.WabaId, PhoneNumber: `65${p.PhoneNumber}` };
    const phoneId = `phone:${space}:65${p.PhoneNumber}`;
    const at = new Date().toISOString();
    await store.put<RegisteredTarget>(WATCH_PREFIX + rootId, { target: root, source: 'api:local-caller', registeredAt: at, discover: true });
    await store.put<RegisteredTarget>(WATCH_PREFIX + phoneId, { target: phone, source: 'discovery:' + rootId, registeredAt: at, discoveredBy: rootId });
    // A template a receipt added: a listing would adopt it, so it is taken over too.
    const templateId = `template:${space}:order_update/en_US`;
    await store.put<RegisteredTarget>(WATCH_PREFIX + templateId, {
      target: { CustSpaceId: space, NodeType: 'template', WabaId: p.WabaId, TemplateCode: 'order_update', Language: 'en_US' },
      source: 'receipt:template',
      registeredAt: at,
    });
    const out = await runOnboarding(deps(), onboardingRequestFrom(eventBridge(p)));
    expect(out.status).toBe('done');
    for (const id of [phoneId, templateId]) {
      const entry = (await store.get<RegisteredTarget>(WATCH_PREFIX + id))?.value;
      expect(entry).not.toHaveProperty('discoveredBy');
      expect(entry?.source).toMatch(/^onboarding:/);
      expect(entry?.registeredAt).toBe(at);
    }
    // The Discover entry, posted by hand, is left as it was.
    expect((await store.get<RegisteredTarget>(WATCH_PREFIX + rootId))?.value).toMatchObject({ discover: true, source: 'api:local-caller' });
    const removed = await removeWatchEntries(store, [{ id: rootId, target: root, discover: true }]);
    expect(removed.Retired).toBe(0);
    expect((await loadWatchList(store, [])).targets.map((t) => t.id).sort()).toEqual([phoneId, templateId].sort());
  });

  it('a template named twice in the payload is one watch entry, counted once', async () => {
    const twice = { TemplateCode: 'order_update', Language: 'en_US' };
    const out = await runOnboarding(deps(), onboardingRequestFrom(eventBridge(payload({ Templates: [twice, { ...twice }] }))));
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    expect(out.record.Steps.watch).toMatchObject({ Targets: 3 });
    expect(out.record.WatchTargets).toHaveLength(3);
    expect(new Set(out.record.WatchTargets).size).toBe(3);
  });

  it('the same event delivered 5 times concurrently binds once and adds the number once', async () => {
    const event = eventBridge(payload(), 'evt-dup');
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => runOnboarding(deps(), onboardingRequestFrom(event))));
    const calls = await camsCalls();
    expect(calls.filter((c) => c.Action === 'ChatappBindWaba')).toHaveLength(1);
    expect(calls.filter((c) => c.Action === 'AddChatappPhoneNumber')).toHaveLength(1);
    // One ran; the others either saw it in progress (and will be redelivered) or answered from the record.
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(OnboardingInProgressError);
      else expect(r.value.status).toBe('done');
    }
    // Redelivering them all now answers from the record without calling CAMS.
    const before = calls.length;
    for (let i = 0; i < 5; i++) {
      const again = await runOnboarding(deps(), onboardingRequestFrom(event));
      expect(again).toMatchObject({ status: 'done', duplicate: true });
    }
    expect(await camsCalls()).toHaveLength(before);
  });

  it('a process killed right after the bind step: the next delivery finishes without binding again', async () => {
    const request = onboardingRequestFrom(eventBridge(payload(), 'evt-crash'));
    // Async spawn: the sandbox lives in this process and must keep answering while the child runs.
    const child = await runChild(['--import', 'tsx', 'test/fixtures/onboarding-crash-child.ts'], {
      env: {
        ...process.env,
        STORE_URL: storeUrl,
        CAMS_ENDPOINT: sandbox.url,
        ALIBABA_CLOUD_ACCESS_KEY_ID: DEFAULT_SANDBOX_KEYS[0]!.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: DEFAULT_SANDBOX_KEYS[0]!.accessKeySecret,
        CRASH_AFTER: 'bind',
        ONBOARDING_REQUEST: JSON.stringify(request),
      },
    });
    expect(child.signal).toBe('SIGKILL');
    expect(child.stdout).not.toContain('finished');
    expect((await camsCalls()).map((c) => c.Action)).toEqual(['ChatappBindWaba']);

    // The dead process's lease lasts deadline + 5 s; FC redelivers later than that. Here: wait it out.
    await new Promise((r) => setTimeout(r, 8_500));
    const out = await runOnboarding(deps(), request);
    expect(out.status).toBe('done');
    const actions = (await camsCalls()).map((c) => c.Action);
    expect(actions.filter((a) => a === 'ChatappBindWaba')).toHaveLength(1);
    expect(actions).toEqual(['ChatappBindWaba', 'AddChatappPhoneNumber', 'QueryChatappBindWaba', 'GetWhatsappHealthStatus']);
    if (out.status === 'done') expect(out.record.Attempts).toBe(2);
  }, 60_000);

  it('a permanent error ends in a failed record with its reason, one alert, and no retry', async () => {
    // The WABA already belongs to another account: Unknown.ResourceOwnerId.
    const p = payload();
    const other = sandboxClient(sandbox, 5, DEFAULT_SANDBOX_KEYS[1]!);
    await other.bindWaba({ WabaId: p.WabaId });
    const sink = new RecordingSink();
    const out = await runOnboarding(deps(), onboardingRequestFrom(eventBridge(p, 'evt-perm')));
    await monitorDelivers(sink);
    expect(out.status).toBe('failed');
    if (out.status !== 'failed') return;
    expect(out.record.FailureReason).toContain('Unknown.ResourceOwnerId');
    expect(out.record.Errors).toEqual([expect.objectContaining({ step: 'bind', Code: 'Unknown.ResourceOwnerId', permanent: true })]);
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]!.items[0]).toMatchObject({ subject: { entityType: 'OnboardingFailed', ref: out.record.OnboardingId }, errors: [expect.objectContaining({ ErrorCode: 'Unknown.ResourceOwnerId' })] });
    // Redelivery: answered from the record, no CAMS call, no second alert.
    const calls = (await camsCalls()).length;
    expect(await runOnboarding(deps(), onboardingRequestFrom(eventBridge(p, 'evt-perm')))).toMatchObject({ status: 'failed', duplicate: true });
    await monitorDelivers(sink);
    expect(await camsCalls()).toHaveLength(calls);
    expect(sink.received).toHaveLength(1);
  });

  it('a delivery that read no record, then stalled past the failure and a later onboarding of the number that resolved its alert, does not raise that alert again', async () => {
    const p = payload();
    const first = { ...p, IdempotencyKey: `stalled-first-${seq}` };
    // The late delivery's first read of the record (none yet) is followed by a stall.
    const firstId = onboardingIdFor(idempotencyKeyFor(first as OnboardingPayload));
    const lateStore = stallAfterFirst(store, 'get', (k) => k === recordKey(firstId));
    const late = runOnboarding(deps({ store: lateStore.store }), { payload: first });
    await lateStore.reached;
    // Meanwhile the onboarding fails for good (its alert recorded), and one submitted again with a new key ends done.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', action: 'ChatappBindWaba' }] });
    expect(await runOnboarding(deps(), { payload: first })).toMatchObject({ status: 'failed', duplicate: false });
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
    expect(await runOnboarding(deps(), { payload: { ...p, IdempotencyKey: `stalled-again-${seq}` } })).toMatchObject({ status: 'done' });
    const alert = async () => (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).filter((e) => e.subject.entityType === 'OnboardingFailed' && e.subject.ref === firstId);
    expect(await alert()).toEqual([expect.objectContaining({ firing: false })]);

    lateStore.resume();
    expect(await late).toMatchObject({ status: 'failed', duplicate: true });
    expect(await alert()).toEqual([expect.objectContaining({ firing: false })]);
  });

  it("a re-drive recording a failed record's alert, stalled between reading it firing and writing it, while a later onboarding of the number resolves it, leaves it resolved", async () => {
    // The check (resolved: left so) and the write were apart: a resolution landing in between was
    // written over, and the alert fired anew as NEW for a number that is onboarded.
    const p = payload();
    const first = { ...p, IdempotencyKey: `redrive-first-${seq}` };
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', action: 'ChatappBindWaba' }] });
    const failed = await runOnboarding(deps(), { payload: first });
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
    expect(failed).toMatchObject({ status: 'failed', duplicate: false });
    if (failed.status !== 'failed') return;
    const firstId = failed.record.OnboardingId;
    // The alert read (firing), then a stall.
    const slowStore = stallAfterFirst(store, 'get', (k) => k.startsWith(ENTITY_PREFIX));
    const redrive = raiseRecordedFailureAlert(deps({ store: slowStore.store }), failed.record);
    await slowStore.reached;
    expect(await runOnboarding(deps(), { payload: { ...p, IdempotencyKey: `redrive-again-${seq}` } })).toMatchObject({ status: 'done' });
    const alert = async () => (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).filter((e) => e.subject.entityType === 'OnboardingFailed' && e.subject.ref === firstId);
    expect(await alert()).toEqual([expect.objectContaining({ firing: false })]);

    slowStore.resume();
    await redrive;
    expect(await alert()).toEqual([expect.objectContaining({ firing: false })]);
    // Nor is it indexed again as a failure of the number (a later done onboarding would resolve it anew).
    expect(await store.list(`onboarding-index/failed/${p.WabaId}/`)).toEqual([]);
  });

  it("an onboarding failing while a later one of the number ends done: its alert, written as the done one looks for the number's failures, is resolved by it", async () => {
    // The number's failure was indexed after its alert was written: a done onboarding listing the
    // index in between resolved nothing, and the alert fired on for a number that is onboarded.
    const p = payload();
    const first = { ...p, IdempotencyKey: `racing-first-${seq}` };
    // The failure's alert written, then a stall.
    const slowStore = stallAfterFirst(store, 'put', (k, v) => k.startsWith(ENTITY_PREFIX) && (v as EntityState).subject.entityType === 'OnboardingFailed');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', action: 'ChatappBindWaba' }] });
    const failing = runOnboarding(deps({ store: slowStore.store }), { payload: first });
    await slowStore.reached;
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
    expect(await runOnboarding(deps(), { payload: { ...p, IdempotencyKey: `racing-again-${seq}` } })).toMatchObject({ status: 'done' });
    slowStore.resume();
    expect(await failing).toMatchObject({ status: 'failed', duplicate: false });
    const alerts = (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).filter((e) => e.subject.entityType === 'OnboardingFailed');
    expect(alerts).toEqual([expect.objectContaining({ firing: false })]);
    expect(await store.list(`onboarding-index/failed/${p.WabaId}/`)).toEqual([]);
  });

  it('a transient error is rethrown for FC to retry, counts the attempt, and the retry resumes', async () => {
    const request = onboardingRequestFrom(eventBridge(payload(), 'evt-transient'));
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { errorRate: 1 });
    await expect(runOnboarding(deps({ cams: sandboxClient(sandbox, 5), deadline: Date.now() + 1500 }), request)).rejects.toBeInstanceOf(OnboardingRetryableError);
    const id = onboardingIdFor(idempotencyKeyFor(request.payload as OnboardingPayload, request.event));
    const afterFailure = (await store.get<OnboardingRecord>(recordKey(id)))!.value;
    expect(afterFailure).toMatchObject({ Status: 'running', Attempts: 1, Errors: [expect.objectContaining({ step: 'bind', permanent: false })] });
    expect(afterFailure.Steps).toEqual({});
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
    await new Promise((r) => setTimeout(r, 7_000)); // lease of the failed attempt (deadline + 5 s)
    const out = await runOnboarding(deps(), request);
    expect(out.status).toBe('done');
    if (out.status === 'done') {
      expect(out.record.Attempts).toBe(2);
      expect(out.record.Errors).toEqual([expect.objectContaining({ step: 'bind', permanent: false })]);
    }
  }, 30_000);

  it('reads payloads from MNS queue events, and rejects a bad payload naming the field', async () => {
    const p = payload();
    const mns = fixture<Record<string, unknown> & { data: Record<string, string> }>('mns-queue-event.json');
    mns.data['messageBody'] = JSON.stringify(p);
    expect(onboardingRequestFrom(mns)).toMatchObject({ payload: p });
    // The same body sent twice is two messages (two event ids) and one onboarding: bound once.
    const first = await runOnboarding(deps(), onboardingRequestFrom(mns));
    const again = await runOnboarding(deps(), onboardingRequestFrom({ ...mns, id: 'another-message-id' }));
    expect(first).toMatchObject({ status: 'done', duplicate: false });
    expect(again).toMatchObject({ status: 'done', duplicate: true });
    expect((await camsCalls()).filter((c) => c.Action === 'ChatappBindWaba')).toHaveLength(1);
    // The same body base64-encoded (an MNS SDK's default) is the same payload: the same onboarding.
    const encoded = { ...mns, id: 'a-third-message-id', data: { ...mns.data, messageBody: Buffer.from(JSON.stringify(p)).toString('base64') } };
    expect(onboardingRequestFrom(encoded)).toMatchObject({ payload: p });
    expect(await runOnboarding(deps(), onboardingRequestFrom(encoded))).toMatchObject({ status: 'done', duplicate: true });
    // A body that is not JSON is named as such.
    const logged: Array<Record<string, unknown>> = [];
    const notJson = await runOnboarding(deps({ log: (r) => logged.push(r) }), onboardingRequestFrom({ ...mns, data: { ...mns.data, messageBody: 'not json' } }));
    expect(notJson).toMatchObject({ status: 'invalid', fields: [{ Field: '(payload)', Message: expect.stringMatching(/^is not JSON: it must be a JSON object \{WabaId, Cc/) }] });
    // The log names the message, so the bad one of a batch can be found in the queue.
    expect(logged).toContainEqual(expect.objectContaining({ msg: 'onboarding event rejected', messageId: mns.data['messageId'] }));
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    for (const r of await store.list('')) await store.delete(r.key);

    const sink = new RecordingSink();
    const bad = await runOnboarding(deps(), onboardingRequestFrom(eventBridge({ ...p, Cc: '+65' }, 'evt-bad')));
    await monitorDelivers(sink);
    expect(bad).toMatchObject({ status: 'invalid', reason: expect.stringContaining('Cc'), fields: [expect.objectContaining({ Field: 'Cc' })] });
    // No id to look up, so nothing (alert or record) points to a 404.
    expect(bad).not.toHaveProperty('onboardingId');
    expect(await camsCalls()).toHaveLength(0);
    expect(sink.received).toHaveLength(0);
    expect(await store.list('')).toEqual([]);
  });

  it('watches the number and templates with their WabaId: a rejected check alerts with it, and a WabaId silence holds it', async () => {
    const p = payload();
    const phone = `65${p.PhoneNumber}`;
    const out = await runOnboarding(deps(), onboardingRequestFrom(eventBridge(p, 'evt-waba-id')));
    if (out.status !== 'done') throw new Error('onboarding did not finish');
    const space = out.record.CustSpaceId!;
    expect(out.record.WatchTargets).toEqual(expect.arrayContaining([`phone:${space}:${phone}`, `template:${space}:order_update/en_US`]));
    expect((await store.get<RegisteredTarget>(`${WATCH_PREFIX}phone:${space}:${phone}`))!.value.target).toMatchObject({ NodeType: 'phone', WabaId: p.WabaId, PhoneNumber: phone });
    expect((await store.get<RegisteredTarget>(`${WATCH_PREFIX}template:${space}:order_update/en_US`))!.value.target).toMatchObject({ WabaId: p.WabaId });
    // CAMS takes the WabaId beside a phone or template node (the sweep sends it): the template is there, the number is not any more.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: p.Templates });
    await sandboxControl(sandbox, 'DELETE', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: phone });
    const now = Date.now();
    const silence = await createSilence(store, { Matchers: [{ Name: 'WabaId', Value: p.WabaId }], StartsAt: now - 1000, EndsAt: now + 3_600_000, CreatedBy: 'ops', Comment: 'onboarding' }, now);
    const sink = new RecordingSink();
    const report = await sweepOnce(sink);
    expect(report).toMatchObject({ targets: 3 });
    const health = (await camsCalls()).filter((c) => c.Action === 'GetWhatsappHealthStatus');
    expect(health.filter((c) => c.Params['NodeType'] === 'template')).toEqual([expect.objectContaining({ Code: 'OK', Params: expect.objectContaining({ WabaId: p.WabaId }) })]);
    const rejected = (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).filter((e) => e.subject.entityType === 'TargetRejected');
    expect(rejected).toEqual([expect.objectContaining({ firing: true, subject: expect.objectContaining({ wabaId: p.WabaId, phoneNumber: phone }), silenced: expect.objectContaining({ silenceId: silence.SilenceId }) })]);
    expect(sink.received).toEqual([]);
  });

  it('after onboarding, the next sweep covers the phone', async () => {
    const p = payload();
    const out = await runOnboarding(deps(), onboardingRequestFrom(eventBridge(p, 'evt-watch')));
    if (out.status !== 'done') throw new Error('onboarding did not finish');
    // The templates it watches exist in the space (the sandbox, like CAMS, knows no others).
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: out.record.CustSpaceId, Templates: p.Templates });
    await setHealth(sandbox, { CustSpaceId: out.record.CustSpaceId, NodeType: 'phone', PhoneNumber: `65${p.PhoneNumber}`, CanSendMessage: 'LIMITED' });
    const sink = new RecordingSink();
    const report = await sweepOnce(sink);
    expect(report).toMatchObject({ targets: 3, checked: 3, roundComplete: true });
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]!.items).toEqual([expect.objectContaining({ status: 'LIMITED', subject: expect.objectContaining({ phoneNumber: `65${p.PhoneNumber}` }) })]);
  });
});
