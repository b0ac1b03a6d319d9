import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { readActive } from '../../../shared/onboarding/active.ts';
import { runOnboarding, type OnboardingRequest } from '../../../shared/onboarding/onboard.ts';
import { idempotencyKeyFor, onboardingIdFor, type OnboardingPayload } from '../../../shared/onboarding/payload.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import { redriveStalled } from '../../../shared/onboarding/redrive.ts';
import type { Store } from '../../../shared/store/port.ts';
import { sandboxClient, sandboxPerFileStorePerTest } from '../../support/monitor.ts';

import { camsCalls, okCalls, onboardingDeps } from './support.ts';

let sandbox: RunningSandbox;
let store: Store;
let storeUrl: string;

sandboxPerFileStorePerTest((parts) => ({ sandbox, store, storeUrl } = parts));

/** One delivery in a child process that SIGKILLs itself right after `step`'s CAMS call, before the save. */
function crashAfterCall(step: string, request: OnboardingRequest): Promise<{ signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/onboarding-crash-child.ts'], {
      env: {
        ...process.env,
        STORE_URL: storeUrl,
        CAMS_ENDPOINT: sandbox.url,
        ALIBABA_CLOUD_ACCESS_KEY_ID: DEFAULT_SANDBOX_KEYS[0]!.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: DEFAULT_SANDBOX_KEYS[0]!.accessKeySecret,
        CRASH_AFTER_CALL: step,
        CRASH_DEADLINE_MS: '500',
        ONBOARDING_REQUEST: JSON.stringify(request),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const timer = setTimeout(() => p.kill('SIGTERM'), 30_000);
    p.on('error', reject);
    p.on('close', (_code, signal) => {
      clearTimeout(timer);
      resolve({ signal, stdout });
    });
  });
}

const request = (n: number): OnboardingRequest => ({
  payload: { WabaId: `330000000000${n}`, Cc: '65', PhoneNumber: `9300000${n}`, VerifiedName: 'Acme Shop' },
  event: { source: 'test.crash', id: `crash-${n}` },
});
const idOf = (r: OnboardingRequest) => onboardingIdFor(idempotencyKeyFor(r.payload as OnboardingPayload, r.event));
/** The dead run's lease: its deadline (0.5 s) + 5 s. */
const leaseOfTheDead = () => new Promise((r) => setTimeout(r, 6_000));

describe('SIGKILL between a CAMS write and its save', () => {
  it('bind: the next delivery reads the space back with a repeat bind (same space), adds once, ends done', async () => {
    const req = request(1);
    const child = await crashAfterCall('bind', req);
    expect(child.signal).toBe('SIGKILL');
    expect((await camsCalls(sandbox)).map((c) => `${c.Action}:${c.Code}`)).toEqual(['ChatappBindWaba:OK']);
    const dead = (await store.get<OnboardingRecord>(recordKey(idOf(req))))!.value;
    expect(dead).toMatchObject({ Status: 'running', StepInFlight: 'bind', Steps: {} });

    await leaseOfTheDead();
    const out = await runOnboarding(onboardingDeps({ store, cams: sandboxClient(sandbox), deadline: Date.now() + 20_000 }), req);
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    expect(out.record.Steps.bind).toMatchObject({ Repeated: true, CustSpaceId: out.record.CustSpaceId });
    // The repeat bind created nothing: the WABA still has the one space, the one a bind answers.
    expect((await sandboxClient(sandbox).bindWaba({ WabaId: (req.payload as OnboardingPayload).WabaId })).data.CustSpaceId).toBe(out.record.CustSpaceId);
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
    expect((await camsCalls(sandbox)).filter((c) => c.Action === 'AddChatappPhoneNumber')).toHaveLength(1);
    expect(await readActive(store)).toEqual({});
  }, 60_000);

  it('addPhone: the re-drive timer resumes it, Phone.Exists is recognised as our own add: one add, done', async () => {
    const req = request(2);
    const child = await crashAfterCall('addPhone', req);
    expect(child.signal).toBe('SIGKILL');
    expect((await camsCalls(sandbox)).map((c) => `${c.Action}:${c.Code}`)).toEqual(['ChatappBindWaba:OK', 'AddChatappPhoneNumber:OK']);
    expect((await store.get<OnboardingRecord>(recordKey(idOf(req))))!.value).toMatchObject({ Status: 'running', StepInFlight: 'addPhone' });
    expect(Object.keys(await readActive(store))).toEqual([idOf(req)]);

    await leaseOfTheDead();
    const report = await redriveStalled(onboardingDeps({ store, cams: sandboxClient(sandbox), deadline: Date.now() + 60_000 }), { graceMs: 0 });
    expect(report).toMatchObject({ active: 1, redriven: 1, done: 1, errors: 0 });
    const rec = (await store.get<OnboardingRecord>(recordKey(idOf(req))))!.value;
    expect(rec).toMatchObject({ Status: 'done', Steps: { addPhone: { AlreadyAdded: true } } });
    expect(await okCalls(sandbox, 'ChatappBindWaba')).toHaveLength(1);
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
    expect(await readActive(store)).toEqual({});
  }, 60_000);
});
