import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { OnboardingRetryableError, runOnboarding } from '../../../shared/onboarding/onboard.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import type { Store } from '../../../shared/store/port.ts';
import { WATCH_PREFIX } from '../../../shared/monitor/targets.ts';
import { sandboxPerFileStorePerTest } from '../../support/monitor.ts';
import { ok, startScriptedCams, TEST_KEY } from '../cams/scripted-cams.ts';
import { frontOf, okCalls, onboardingDeps, type ReplyRewrite } from './support.ts';
import { onboardingIdFor } from '../../../shared/onboarding/payload.ts';
import { sandboxClient } from '../../support/monitor.ts';

let sandbox: RunningSandbox;
let store: Store;
let front: { url: string; close: () => Promise<void> } | undefined;

sandboxPerFileStorePerTest((parts) => ({ sandbox, store } = parts));
afterEach(async () => {
  await front?.close();
  front = undefined;
});

/** A client of the sandbox's first account, through a front that may replace the sandbox's replies. */
async function clientBehind(rewrite: ReplyRewrite): Promise<CamsClient> {
  front = await frontOf(sandbox, rewrite);
  return new CamsClient({ endpoint: front.url, credentials: DEFAULT_SANDBOX_KEYS[0]!, retry: { baseDelayMs: 1, maxDelayMs: 1 }, budget: new CamsBudget() });
}

/** The front answers the first reply to `action` (the sandbox has applied it) with `page` and a 200. */
function firstReplyUnreadable(action: string, page: string): ReplyRewrite {
  let done = false;
  return (a) => {
    if (a !== action || done) return undefined;
    done = true;
    return { status: 200, body: page, contentType: 'text/html' };
  };
}

const payload = { WabaId: '3200000000001', Cc: '65', PhoneNumber: '92000001', VerifiedName: 'Acme Shop' };

describe('a CustSpaceId CAMS answers that the watch list cannot take', () => {
  it('fails the onboarding at bind, naming CustSpaceId, before any number is added (it stalled at watch, re-driven 8 times)', async () => {
    // CAMS documents CustSpaceId as any string, and would take its own id back; our watch list, GET
    // /health-status and the store's keys take letters, digits, _ and - only.
    const scripted = await startScriptedCams((call) => {
      switch (call.action) {
        case 'ChatappBindWaba':
          return ok({ CustSpaceId: 'C1/x', WabaId: call.params['WabaId'] });
        case 'QueryChatappBindWaba':
          return ok({ AccountReviewStatus: 'APPROVED' });
        case 'GetWhatsappHealthStatus':
          return ok({ CanSendMessage: 'AVAILABLE', Entities: [] });
        default:
          return ok();
      }
    });
    try {
      const cams = new CamsClient({ endpoint: scripted.url, credentials: TEST_KEY, budget: new CamsBudget() });
      const out = await runOnboarding(onboardingDeps({ store, cams, deadline: Date.now() + 20_000 }), { payload });
      expect(out.status).toBe('failed');
      if (out.status !== 'failed') return;
      expect(out.record.FailureReason).toBe('bind: UnsupportedCustSpaceId: ChatappBindWaba answered CustSpaceId "C1/x", which is not 1-64 letters, digits, _ or -: the watch list cannot take this space');
      const stored = (await store.get<OnboardingRecord>(recordKey(out.record.OnboardingId)))!.value;
      expect(stored).toMatchObject({ Status: 'failed', Errors: [expect.objectContaining({ step: 'bind', Code: 'UnsupportedCustSpaceId', permanent: true })] });
      expect(stored.StepInFlight).toBeUndefined();
      expect(scripted.calls.map((c) => c.action)).toEqual(['ChatappBindWaba']);
      expect(await store.list(WATCH_PREFIX)).toHaveLength(0);
    } finally {
      await scripted.close();
    }
  });
});

describe('a write answered 2xx with a body that cannot be read (a front\'s page): maybe applied, resolved as a lost answer', () => {
  const proxyPage = '<html><body>Request accepted by the gateway</body></html>';

  it('ChatappBindWaba: the run fails transiently with the bind in flight; the retry binds again, reads the same space back, done', async () => {
    const cams = await clientBehind(firstReplyUnreadable('ChatappBindWaba', proxyPage));
    const p = { ...payload, WabaId: '3200000000002', IdempotencyKey: 'unreadable-bind' };
    const deps = () => onboardingDeps({ store, cams, deadline: Date.now() + 20_000 });
    await expect(runOnboarding(deps(), { payload: p })).rejects.toBeInstanceOf(OnboardingRetryableError);
    const between = (await store.get<OnboardingRecord>(recordKey(onboardingIdFor('key:unreadable-bind'))))!.value;
    expect(between).toMatchObject({ Status: 'running', StepInFlight: 'bind', Errors: [expect.objectContaining({ step: 'bind', Code: 'InvalidResponse', permanent: false })] });
    const out = await runOnboarding(deps(), { payload: p });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { bind: { Repeated: true } } } });
    // One space: the one the sandbox bound the first time (binding again from the account reads it back).
    const space = (await sandboxClient(sandbox).bindWaba({ WabaId: p.WabaId })).data.CustSpaceId;
    if (out.status === 'done') expect(out.record.CustSpaceId).toBe(space);
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });

  it('AddChatappPhoneNumber: the run fails transiently with the add in flight; the retry meets our own number (Phone.Exists), done, added once', async () => {
    const cams = await clientBehind(firstReplyUnreadable('AddChatappPhoneNumber', proxyPage));
    const p = { ...payload, WabaId: '3200000000003', IdempotencyKey: 'unreadable-add' };
    const deps = () => onboardingDeps({ store, cams, deadline: Date.now() + 20_000 });
    await expect(runOnboarding(deps(), { payload: p })).rejects.toBeInstanceOf(OnboardingRetryableError);
    const between = (await store.get<OnboardingRecord>(recordKey(onboardingIdFor('key:unreadable-add'))))!.value;
    expect(between).toMatchObject({ Status: 'running', StepInFlight: 'addPhone' });
    const out = await runOnboarding(deps(), { payload: p });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true } } } });
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });

  it('a 2xx body cut short (not JSON) on the add: the same', async () => {
    const cams = await clientBehind((a, reply) => (a === 'AddChatappPhoneNumber' && reply.body.includes('"OK"') ? { status: 200, body: reply.body.slice(0, 20) } : undefined));
    const p = { ...payload, WabaId: '3200000000004', IdempotencyKey: 'cut-add' };
    const deps = () => onboardingDeps({ store, cams, deadline: Date.now() + 20_000 });
    await expect(runOnboarding(deps(), { payload: p })).rejects.toBeInstanceOf(OnboardingRetryableError);
    const out = await runOnboarding(deps(), { payload: p });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true } } } });
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });

  // A number already ours (an earlier onboarding added it; this one was submitted again, as a failure
  // alert advises): CAMS answers Phone.Exists, and the space's list says whose it is. That list
  // unreadable is no answer either: not a refusal to list, after which the number is someone else's.
  it("QueryChatappPhoneNumbers after a Phone.Exists: the run fails transiently; the retry reads the list, finds our number, done", async () => {
    let armed = false;
    const cams = await clientBehind((a) => {
      if (!armed || a !== 'QueryChatappPhoneNumbers') return undefined;
      armed = false;
      return { status: 200, body: proxyPage, contentType: 'text/html' };
    });
    const first = { ...payload, WabaId: '3200000000005', IdempotencyKey: 'listed-first' };
    const again = { ...first, IdempotencyKey: 'listed-again' };
    const deps = () => onboardingDeps({ store, cams, deadline: Date.now() + 20_000 });
    expect(await runOnboarding(deps(), { payload: first })).toMatchObject({ status: 'done' });
    armed = true;
    await expect(runOnboarding(deps(), { payload: again })).rejects.toBeInstanceOf(OnboardingRetryableError);
    const between = (await store.get<OnboardingRecord>(recordKey(onboardingIdFor('key:listed-again'))))!.value;
    expect(between).toMatchObject({ Status: 'running', Errors: [expect.objectContaining({ step: 'addPhone', Code: 'InvalidResponse', permanent: false })] });
    const out = await runOnboarding(deps(), { payload: again });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true, InSpace: true } } } });
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });
});

describe('a read answered 2xx with a body that cannot be read: safe to repeat, so transient like any lost answer', () => {
  const proxyPage = '<html><body>Request accepted by the gateway</body></html>';

  for (const [action, step, WabaId] of [['QueryChatappBindWaba', 'query', '3200000000005'], ['GetWhatsappHealthStatus', 'health', '3200000000006']] as const) {
    it(`${action} (${step}): the run fails transiently, not for good; the retry reads again, done, the number added once`, async () => {
      const cams = await clientBehind(firstReplyUnreadable(action, proxyPage));
      const key = `unreadable-${step}`;
      const p = { ...payload, WabaId, IdempotencyKey: key };
      const deps = () => onboardingDeps({ store, cams, deadline: Date.now() + 20_000 });
      await expect(runOnboarding(deps(), { payload: p })).rejects.toBeInstanceOf(OnboardingRetryableError);
      const between = (await store.get<OnboardingRecord>(recordKey(onboardingIdFor(`key:${key}`))))!.value;
      expect(between).toMatchObject({ Status: 'running', Errors: [expect.objectContaining({ step, Code: 'InvalidResponse', permanent: false })] });
      const out = await runOnboarding(deps(), { payload: p });
      expect(out.status).toBe('done');
      expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
    });
  }
});
