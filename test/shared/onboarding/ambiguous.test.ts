import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import { LIST_LAG_MS, OnboardingRetryableError, runOnboarding } from '../../../shared/onboarding/onboard.ts';
import { onboardingIdFor } from '../../../shared/onboarding/payload.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import type { Store } from '../../../shared/store/port.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/entity-store.ts';
import { sandboxClient, sandboxPerFileStorePerTest } from '../../support/monitor.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';
import { camsCalls, frontOf, latencyUntilApplied, okCalls, onboardingDeps, type ReplyRewrite } from './support.ts';

let sandbox: RunningSandbox;
let store: Store;

let front: { url: string; close: () => Promise<void> } | undefined;

sandboxPerFileStorePerTest((parts) => ({ sandbox, store } = parts));
afterEach(async () => {
  await front?.close();
  front = undefined;
});

/** A client that gives up on an attempt after 500 ms and retries (4 attempts, 100 ms base backoff). */
function impatientClient(): CamsClient {
  return new CamsClient({ endpoint: sandbox.url, credentials: DEFAULT_SANDBOX_KEYS[0]!, timeoutMs: 500, budget: new CamsBudget() });
}

const payload = { WabaId: '3100000000001', Cc: '65', PhoneNumber: '91000001', VerifiedName: 'Acme Shop' };

describe('a CAMS write whose answer was lost', () => {
  it('AddChatappPhoneNumber times out, the sandbox applies it, the retry gets Phone.Exists: the onboarding ends done', async () => {
    let latency: ReturnType<typeof latencyUntilApplied> | undefined;
    const out = await runOnboarding(
      onboardingDeps({
        store,
        cams: impatientClient(),
        deadline: Date.now() + 30_000,
        // Slow CAMS down for the add only (the bind before it answers at once).
        afterStep: async (step) => {
          if (step === 'bind') {
            latency = latencyUntilApplied(sandbox, 'AddChatappPhoneNumber', 800);
            await latency.armed;
          }
        },
      }),
      { payload },
    );
    latency?.stop();
    expect(out.status).toBe('done');
    if (out.status !== 'done') return;
    expect(out.record.Steps.addPhone).toMatchObject({ AlreadyAdded: true });
    const adds = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls') as Array<{ Action: string; Code: string }>).filter((c) => c.Action === 'AddChatappPhoneNumber');
    // The first attempt was applied (OK, unseen by the client); every later one met our own number.
    expect(adds[0]!.Code).toBe('OK');
    expect(adds.slice(1).map((c) => c.Code)).toEqual(adds.slice(1).map(() => 'Phone.Exists'));
    expect(adds.length).toBeGreaterThan(1);
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  }, 30_000);

  it('the same, with a role that cannot list the space\'s numbers: the lost attempt alone says the number is ours, done', async () => {
    // The listing is asked first and refused (a role without cams:QueryChatappPhoneNumbers): the
    // lost attempt is all there is to go by. Without it counted, the onboarding failed on its own number.
    let latency: ReturnType<typeof latencyUntilApplied> | undefined;
    let listed = 0;
    const cams = Object.assign(Object.create(impatientClient()) as CamsClient, {
      queryPhoneNumbers: async () => {
        listed++;
        throw new CamsError({ Code: 'Forbidden.RAM', Message: 'not authorized', httpStatus: 403, retryable: false });
      },
    });
    const out = await runOnboarding(
      onboardingDeps({
        store,
        cams,
        deadline: Date.now() + 30_000,
        afterStep: async (step) => {
          if (step === 'bind') {
            latency = latencyUntilApplied(sandbox, 'AddChatappPhoneNumber', 800);
            await latency.armed;
          }
        },
      }),
      { payload: { ...payload, WabaId: '3100000000005' } },
    );
    latency?.stop();
    expect(out.status).toBe('done');
    if (out.status === 'done') expect(out.record.Steps.addPhone).toMatchObject({ AlreadyAdded: true });
    expect(listed).toBe(1);
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  }, 30_000);

  it('Phone.Exists without any lost attempt of ours is still a permanent failure (someone else\'s number)', async () => {
    const other = sandboxClient(sandbox, 5, DEFAULT_SANDBOX_KEYS[1]!);
    const { data } = await other.bindWaba({ WabaId: '3100000000099' });
    await other.addPhoneNumber({ CustSpaceId: data.CustSpaceId, Cc: payload.Cc, PhoneNumber: payload.PhoneNumber, VerifiedName: 'Other Shop' });
    const out = await runOnboarding(onboardingDeps({ store, cams: impatientClient(), deadline: Date.now() + 20_000 }), { payload: { ...payload, WabaId: '3100000000002' } });
    expect(out.status).toBe('failed');
    if (out.status === 'failed') expect(out.record.FailureReason).toContain('Phone.Exists');
    // CAMS answered: the record does not say a step is still in flight (GET /onboardings/{id} shows it).
    if (out.status !== 'failed') return;
    const stored = (await store.get<OnboardingRecord>(recordKey(out.record.OnboardingId)))!.value;
    expect(stored).toMatchObject({ Status: 'failed', Errors: [expect.objectContaining({ step: 'addPhone', permanent: true })] });
    expect(stored.StepInFlight).toBeUndefined();
  });

  it('resubmitted with a new IdempotencyKey after a later step failed for good (as the alert advises): the number in our own space is ours, done', async () => {
    // The first onboarding adds the number, then its health check is refused for good (say the
    // role lacked cams:GetWhatsappHealthStatus); the alert says: fix it, submit with a new key.
    const refusing = Object.assign(Object.create(impatientClient()) as CamsClient, {
      getHealthStatus: async () => {
        throw new CamsError({ Code: 'Forbidden.RAM', Message: 'not authorized', httpStatus: 403, retryable: false });
      },
    });
    const first = await runOnboarding(onboardingDeps({ store, cams: refusing, deadline: Date.now() + 20_000 }), { payload: { ...payload, WabaId: '3100000000004', IdempotencyKey: 'first' } });
    expect(first.status).toBe('failed');
    if (first.status === 'failed') expect(first.record.FailureReason).toContain('Forbidden.RAM');
    const again = await runOnboarding(onboardingDeps({ store, cams: impatientClient(), deadline: Date.now() + 20_000 }), { payload: { ...payload, WabaId: '3100000000004', IdempotencyKey: 'second' } });
    expect(again.status).toBe('done');
    if (again.status === 'done') expect(again.record.Steps.addPhone).toMatchObject({ AlreadyAdded: true });
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
    // The first one's alert is resolved (owed as RESOLVED), not left open on the status page for ever.
    const failed = (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).filter((e) => e.subject.entityType === 'OnboardingFailed');
    const firstId = first.status === 'failed' ? first.record.OnboardingId : undefined;
    expect(failed.map((e) => [e.subject.ref, e.firing, e.outbox.map((o) => o.item.status)])).toEqual([[firstId, false, ['ERROR', 'RESOLVED']]]);
  });

  it('a bind repeated after a lost answer reads back the same space (CAMS binds idempotently per account)', async () => {
    const cams = sandboxClient(sandbox);
    const first = await cams.bindWaba({ WabaId: '3100000000003' });
    const again = await cams.bindWaba({ WabaId: '3100000000003' });
    expect(again.data.CustSpaceId).toBe(first.data.CustSpaceId);
  });
});

describe('Phone.Exists after an attempt of the same call that may have been applied: the space\'s list says whose it is', () => {
  /** impatientClient's, through a front that may replace the sandbox's replies. */
  async function impatientBehind(rewrite: ReplyRewrite): Promise<CamsClient> {
    front = await frontOf(sandbox, rewrite);
    return new CamsClient({ endpoint: front.url, credentials: DEFAULT_SANDBOX_KEYS[0]!, timeoutMs: 500, budget: new CamsBudget() });
  }
  const unavailable = { status: 503, body: JSON.stringify({ RequestId: 'R-503', Code: 'ServiceUnavailable', Message: 'The request has failed due to a temporary failure of the server.' }) };
  const listingRefused = { status: 403, body: JSON.stringify({ RequestId: 'R-403', Code: 'Forbidden.RAM', Message: 'not authorized' }) };
  /** The front answers the first add 503, whatever the sandbox did with it. */
  function firstAdd503(also: ReplyRewrite = () => undefined): ReplyRewrite {
    let done = false;
    return (action, reply) => {
      if (action === 'AddChatappPhoneNumber' && !done) return ((done = true), unavailable);
      return also(action, reply);
    };
  }
  const run = (cams: CamsClient, p: typeof payload & { IsvCode?: string }, now = Date.now()) => runOnboarding(onboardingDeps({ store, cams, now: () => now, deadline: now + 30_000 }), { payload: p });

  it('503 (applied), then Phone.Exists in the same call, the number in our space: ours, done', async () => {
    const out = await run(await impatientBehind(firstAdd503()), { ...payload, WabaId: '3100000000010' });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true, InSpace: true } } } });
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });

  it('the same for an onboarding with an IsvCode: the listing passes it, as the WABA query does (CAMS checks the ISV on both)', async () => {
    const out = await run(await impatientBehind(firstAdd503()), { ...payload, WabaId: '3100000000016', IsvCode: 'isv_acme' });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true, InSpace: true } } } });
    const listings = (await camsCalls(sandbox)).filter((c) => c.Action === 'QueryChatappPhoneNumbers');
    expect(listings.map((c) => c.Params['IsvCode'])).toEqual(['isv_acme']);
  });

  it('503 (applied), then Phone.Exists in the same call, a role that cannot list the space: ours, as across calls (it failed on its own number)', async () => {
    const out = await run(await impatientBehind(firstAdd503((action) => (action === 'QueryChatappPhoneNumbers' ? listingRefused : undefined))), { ...payload, WabaId: '3100000000011' });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true } } } });
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });

  it('503 or a timeout on an add CAMS refused (someone else\'s number), then Phone.Exists in the same call: not in our space, failed (a timeout adopted it)', async () => {
    const other = sandboxClient(sandbox, 5, DEFAULT_SANDBOX_KEYS[1]!);
    const { data } = await other.bindWaba({ WabaId: '3100000000098' });
    await other.addPhoneNumber({ CustSpaceId: data.CustSpaceId, Cc: payload.Cc, PhoneNumber: payload.PhoneNumber, VerifiedName: 'Other Shop' });
    let first = true;
    const slowFirstAdd: ReplyRewrite = (action, reply) => (action === 'AddChatappPhoneNumber' && first ? ((first = false), { ...reply, delayMs: 800 }) : undefined);
    for (const [WabaId, rewrite] of [['3100000000012', firstAdd503()], ['3100000000013', slowFirstAdd]] as const) {
      const cams = await impatientBehind(rewrite);
      const t0 = Date.now();
      // Not in the list, after an attempt of ours that may have been applied: listed again (CAMS's list
      // may lag the add) by the deliveries of the next LIST_LAG_MS, then failed.
      await expect(run(cams, { ...payload, WabaId }, t0)).rejects.toBeInstanceOf(OnboardingRetryableError);
      const out = await run(cams, { ...payload, WabaId }, t0 + LIST_LAG_MS);
      await front?.close();
      expect(out.status).toBe('failed');
      if (out.status !== 'failed') continue;
      expect(out.record.FailureReason).toContain('Phone.Exists');
      expect(out.record.StepInFlight).toBeUndefined();
    }
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });

  it('503 on someone else\'s number, then a listing answered 2xx with a body that cannot be read: it said nothing (not a refusal that lets the 503 decide), transient; the retry lists, failed', async () => {
    const other = sandboxClient(sandbox, 5, DEFAULT_SANDBOX_KEYS[1]!);
    const { data } = await other.bindWaba({ WabaId: '3100000000097' });
    await other.addPhoneNumber({ CustSpaceId: data.CustSpaceId, Cc: payload.Cc, PhoneNumber: payload.PhoneNumber, VerifiedName: 'Other Shop' });
    let pages = 0;
    const page = { status: 200, body: '<html><body>Request accepted by the gateway</body></html>', contentType: 'text/html' };
    const cams = await impatientBehind(firstAdd503((action) => (action === 'QueryChatappPhoneNumbers' && pages++ === 0 ? page : undefined)));
    const p = { ...payload, WabaId: '3100000000014', IdempotencyKey: 'unreadable-listing' };
    const t0 = Date.now();
    // It was: AddChatappPhoneNumber 'AlreadyAdded', then the health check of a number not ours failed (Unknown.ResourceOwnerId).
    await expect(run(cams, p, t0)).rejects.toBeInstanceOf(OnboardingRetryableError);
    // Read, the list leaves it out; once CAMS's list cannot be lagging any more, failed.
    await expect(run(cams, p, t0)).rejects.toBeInstanceOf(OnboardingRetryableError);
    const out = await run(cams, p, t0 + LIST_LAG_MS);
    expect(out.status).toBe('failed');
    if (out.status === 'failed') expect(out.record.FailureReason).toContain('Phone.Exists');
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });

  it('503 on someone else\'s number, then a listing answered 4xx with a gateway\'s page (no CAMS envelope): not a refusal that lets the 503 decide, so the number is not taken for ours', async () => {
    const other = sandboxClient(sandbox, 5, DEFAULT_SANDBOX_KEYS[1]!);
    const { data } = await other.bindWaba({ WabaId: '3100000000096' });
    await other.addPhoneNumber({ CustSpaceId: data.CustSpaceId, Cc: payload.Cc, PhoneNumber: payload.PhoneNumber, VerifiedName: 'Other Shop' });
    const page = { status: 404, body: '<html><body>404 Not Found</body></html>', contentType: 'text/html' };
    const cams = await impatientBehind(firstAdd503((action) => (action === 'QueryChatappPhoneNumbers' ? page : undefined)));
    // It was: AddChatappPhoneNumber 'AlreadyAdded' (the 503 decided), a number not ours onboarded.
    const out = await run(cams, { ...payload, WabaId: '3100000000015' });
    expect(out.status).toBe('failed');
    if (out.status !== 'failed') return;
    expect(out.record.Steps.addPhone).toBeUndefined();
    expect(out.record.FailureReason).toMatch(/^addPhone: HttpError: HTTP 404/);
  });

  it('503 on someone else\'s number, then a listing CAMS refused for another reason than the role\'s permission (InvalidParameter, an invalid token): its error ends the onboarding, the number not taken for ours', async () => {
    const other = sandboxClient(sandbox, 5, DEFAULT_SANDBOX_KEYS[1]!);
    const { data } = await other.bindWaba({ WabaId: '3100000000095' });
    await other.addPhoneNumber({ CustSpaceId: data.CustSpaceId, Cc: payload.Cc, PhoneNumber: payload.PhoneNumber, VerifiedName: 'Other Shop' });
    const refusals = [
      ['3100000000017', 'InvalidParameter', 'The specified parameter IsvCode is not valid.'],
      ['3100000000018', 'InvalidSecurityToken.MismatchWithAccessKey', 'The SecurityToken does not match the AccessKeyId.'],
    ] as const;
    for (const [WabaId, Code, Message] of refusals) {
      const refused = { status: 400, body: JSON.stringify({ RequestId: 'R-400', Code, Message }) };
      const cams = await impatientBehind(firstAdd503((action) => (action === 'QueryChatappPhoneNumbers' ? refused : undefined)));
      // It was: AddChatappPhoneNumber 'AlreadyAdded' (the 503 decided, as for a role that may not list), a number not ours onboarded.
      const out = await run(cams, { ...payload, WabaId });
      await front?.close();
      expect(out.status).toBe('failed');
      if (out.status !== 'failed') continue;
      expect(out.record.Steps.addPhone).toBeUndefined();
      expect(out.record.FailureReason).toBe(`addPhone: ${Code}: ${Message}`);
    }
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });

  it("503 on someone else's number, then a listing refused for the invocation's expired STS token: transient, the add still in flight for the redelivery to list", async () => {
    // It ended failed on the token, as for an invalid one; the next invocation's token is fresh.
    const other = sandboxClient(sandbox, 5, DEFAULT_SANDBOX_KEYS[1]!);
    const { data } = await other.bindWaba({ WabaId: '3100000000096' });
    await other.addPhoneNumber({ CustSpaceId: data.CustSpaceId, Cc: payload.Cc, PhoneNumber: payload.PhoneNumber, VerifiedName: 'Other Shop' });
    const expired = { status: 400, body: JSON.stringify({ RequestId: 'R-400', Code: 'InvalidSecurityToken.Expired', Message: 'Specified SecurityToken is expired.' }) };
    const cams = await impatientBehind(firstAdd503((action) => (action === 'QueryChatappPhoneNumbers' ? expired : undefined)));
    const p = { ...payload, WabaId: '3100000000020', IdempotencyKey: 'expired-listing' };
    await expect(run(cams, p)).rejects.toBeInstanceOf(OnboardingRetryableError);
    const rec = (await store.get<OnboardingRecord>(recordKey(onboardingIdFor('key:expired-listing'))))!.value;
    expect(rec).toMatchObject({ Status: 'running', StepInFlight: 'addPhone', Errors: [expect.objectContaining({ Code: 'InvalidSecurityToken.Expired', permanent: false })] });
  });

  it('503 (applied), then Phone.Exists, the listing refused as the sandbox refuses a role without the permission (Ram.PermissionDeny): ours, unlisted, done', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', action: 'QueryChatappPhoneNumbers' }] });
    const out = await run(await impatientBehind(firstAdd503()), { ...payload, WabaId: '3100000000019' });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true } } } });
    if (out.status === 'done') expect(out.record.Steps.addPhone).not.toHaveProperty('InSpace');
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });
});

describe('CAMS\'s list lagging an add it has just applied', () => {
  /** impatientClient's, through a front that answers the first add 503 (applied) and leaves the number out of the first `hidden` listings. */
  async function lagging(hidden: number): Promise<CamsClient> {
    let adds = 0;
    let lists = 0;
    front = await frontOf(sandbox, (action, reply) => {
      if (action === 'AddChatappPhoneNumber' && adds++ === 0) return { status: 503, body: JSON.stringify({ RequestId: 'R-503', Code: 'ServiceUnavailable', Message: 'temporary failure' }) };
      if (action !== 'QueryChatappPhoneNumbers' || lists++ >= hidden) return undefined;
      const body = JSON.parse(reply.body) as { PhoneNumbers: Array<{ PhoneNumber: string }> };
      return { ...reply, body: JSON.stringify({ ...body, PhoneNumbers: body.PhoneNumbers.filter((n) => !n.PhoneNumber.endsWith(payload.PhoneNumber)) }) };
    });
    return new CamsClient({ endpoint: front.url, credentials: DEFAULT_SANDBOX_KEYS[0]!, timeoutMs: 500, budget: new CamsBudget() });
  }

  it('our 503\'d add applied, the list does not show it yet: transient (the add stays in flight), the next delivery lists it, done', async () => {
    const cams = await lagging(1);
    const p = { ...payload, WabaId: '3100000000020', IdempotencyKey: 'lagging-list' };
    const deps = () => onboardingDeps({ store, cams, deadline: Date.now() + 30_000 });
    await expect(runOnboarding(deps(), { payload: p })).rejects.toBeInstanceOf(OnboardingRetryableError);
    const between = (await store.get<OnboardingRecord>(recordKey(onboardingIdFor('key:lagging-list'))))!.value;
    expect(between).toMatchObject({ Status: 'running', StepInFlight: 'addPhone', Errors: [expect.objectContaining({ step: 'addPhone', Code: 'Phone.Exists', permanent: false })] });
    const out = await runOnboarding(deps(), { payload: p });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true, InSpace: true } } } });
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });

  it('a number the list never shows: listed again by each delivery for a while, then failed on Phone.Exists', async () => {
    const cams = await lagging(Infinity);
    const p = { ...payload, WabaId: '3100000000021', IdempotencyKey: 'never-listed' };
    let t = Date.now();
    const deps = () => onboardingDeps({ store, cams, now: () => t, deadline: t + 30_000 });
    await expect(runOnboarding(deps(), { payload: p })).rejects.toBeInstanceOf(OnboardingRetryableError);
    t += LIST_LAG_MS - 1;
    await expect(runOnboarding(deps(), { payload: p })).rejects.toBeInstanceOf(OnboardingRetryableError);
    t += 1;
    const out = await runOnboarding(deps(), { payload: p });
    expect(out.status).toBe('failed');
    if (out.status === 'failed') expect(out.record.FailureReason).toMatch(/^addPhone: Phone\.Exists: /);
  });
});
