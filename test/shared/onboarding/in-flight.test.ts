import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { budgetRefusal, CamsError, camsErrorFromHttp } from '../../../shared/cams/errors.ts';
import { LIST_LAG_MS, OnboardingRetryableError, runOnboarding } from '../../../shared/onboarding/onboard.ts';
import { onboardingIdFor } from '../../../shared/onboarding/payload.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import { MemoryStore } from '../../../shared/store/memory-store.ts';
import { StoreError } from '../../../shared/store/port.ts';
import { gatewayError, LIMIT_CONTROL, ok, startScriptedCams, TEST_KEY } from '../cams/scripted-cams.ts';
import { onboardingDeps } from './support.ts';

const phoneExists = () => new CamsError({ Code: 'Phone.Exists', Message: 'the phone number already exists', httpStatus: 400, retryable: false, RequestId: 'R-exists' });

/**
 * CAMS whose AddChatappPhoneNumber fails as `adds` says, one entry per call; the rest answers OK.
 * The space lists `numbers` (none by default: a Phone.Exists CAMS answered is someone else's).
 */
function cams(adds: Array<() => CamsError>, numbers: string[] = []): CamsClient {
  return {
    bindWaba: async () => ({ data: { CustSpaceId: 'C1' }, requestId: 'R-bind' }),
    addPhoneNumber: async () => {
      throw adds.shift()!();
    },
    queryBindWaba: async () => ({ data: { AccountReviewStatus: 'APPROVED' }, requestId: 'R-q' }),
    getHealthStatus: async () => ({ data: { CanSendMessage: 'AVAILABLE' }, requestId: 'R-h' }),
    queryPhoneNumbers: async () => ({ data: { PhoneNumbers: numbers.map((PhoneNumber) => ({ PhoneNumber })) }, requestId: 'R-p' }),
  } as unknown as CamsClient;
}

let n = 0;
/**
 * `applied`: the first add reached CAMS and was applied, so the space lists the number. `unlisted`:
 * the add stayed in flight and the list leaves the number out: the retry lists again LIST_LAG_MS later
 * (CAMS's list may lag an add), and that retry's record is returned.
 */
async function firstRunFailsThenPhoneExists(firstFailure: () => CamsError, applied = false, unlisted = false): Promise<OnboardingRecord> {
  const store = new MemoryStore();
  const key = `in-flight-${++n}`;
  const payload = { WabaId: `36000000000${n}`, Cc: '65', PhoneNumber: `9600000${n}`, VerifiedName: 'Acme Shop', IdempotencyKey: key };
  const c = cams([firstFailure, phoneExists, phoneExists], applied ? [`+65${payload.PhoneNumber}`] : []);
  let t = Date.now();
  const deps = () => onboardingDeps({ store, cams: c, now: () => t, deadline: t + 20_000 });
  await expect(runOnboarding(deps(), { payload })).rejects.toBeInstanceOf(OnboardingRetryableError);
  // The failed run's lease is released; the retry (FC's, or a re-drive) runs at once.
  if (unlisted) {
    await expect(runOnboarding(deps(), { payload })).rejects.toBeInstanceOf(OnboardingRetryableError);
    t += LIST_LAG_MS;
  }
  await runOnboarding(deps(), { payload });
  return (await store.get<OnboardingRecord>(recordKey(onboardingIdFor(`key:${key}`))))!.value;
}

describe('StepInFlight after an add that failed transiently', () => {
  it('an add CAMS never received (our budget refused it): a later Phone.Exists is someone else\'s number, not ours', async () => {
    const rec = await firstRunFailsThenPhoneExists(() => budgetRefusal('AddChatappPhoneNumber', 500));
    expect(rec).toMatchObject({ Status: 'failed', FailureReason: expect.stringContaining('Phone.Exists') });
    expect(rec.Steps.addPhone).toBeUndefined();
    expect(rec.StepInFlight).toBeUndefined();
  });

  it('an add CAMS throttled (flow control refuses before the operation): the same', async () => {
    const rec = await firstRunFailsThenPhoneExists(() => new CamsError({ Code: 'Throttling.User', Message: 'slow down', httpStatus: 400, retryable: true }));
    expect(rec).toMatchObject({ Status: 'failed', FailureReason: expect.stringContaining('Phone.Exists') });
  });

  it('an add a gateway throttled with its own 429 page (no CAMS body: the call never reached CAMS): the same', async () => {
    const rec = await firstRunFailsThenPhoneExists(() => camsErrorFromHttp(429, Buffer.from('<html>429 Too Many Requests</html>'), 'AddChatappPhoneNumber'));
    expect(rec).toMatchObject({ Status: 'failed', FailureReason: expect.stringContaining('Phone.Exists') });
    expect(rec.StepInFlight).toBeUndefined();
  });

  it('an add that could not connect (ECONNREFUSED: nothing was sent): the same', async () => {
    const rec = await firstRunFailsThenPhoneExists(() => new CamsError({ Code: 'NetworkError', Message: 'refused', httpStatus: 0, retryable: true, cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }));
    expect(rec).toMatchObject({ Status: 'failed', FailureReason: expect.stringContaining('Phone.Exists') });
  });

  it('an add that timed out (it may have been applied) stays in flight: the later Phone.Exists, the number in our space, is our own add', async () => {
    const rec = await firstRunFailsThenPhoneExists(() => new CamsError({ Code: 'RequestTimeout', Message: 'timed out', httpStatus: 0, retryable: true }), true);
    expect(rec).toMatchObject({ Status: 'done', Steps: { addPhone: { AlreadyAdded: true, InSpace: true } } });
  });

  it('an add answered 5xx stays in flight too (whether CAMS applied it first is not known): done', async () => {
    const rec = await firstRunFailsThenPhoneExists(() => new CamsError({ Code: 'InternalError', Message: 'oops', httpStatus: 500, retryable: true }), true);
    expect(rec).toMatchObject({ Status: 'done', Steps: { addPhone: { AlreadyAdded: true, InSpace: true } } });
  });

  it('an add in flight that was not applied after all (the number is not in our space): the later Phone.Exists is someone else\'s number, failed', async () => {
    // It was taken for our own add without a look, and the onboarding ended done on someone else's number.
    for (const first of [() => new CamsError({ Code: 'RequestTimeout', Message: 'timed out', httpStatus: 0, retryable: true }), () => new CamsError({ Code: 'InternalError', Message: 'oops', httpStatus: 500, retryable: true })]) {
      const rec = await firstRunFailsThenPhoneExists(first, false, true);
      expect(rec).toMatchObject({ Status: 'failed', FailureReason: expect.stringContaining('Phone.Exists') });
      expect(rec.Steps.addPhone).toBeUndefined();
      expect(rec.StepInFlight).toBeUndefined();
    }
  });

  it('an add in flight from an earlier run, whose retry our budget refuses, stays in flight: the earlier add may have been applied', async () => {
    // The earlier run's add timed out (applied, unseen); the next run's never went out. Unmarked then,
    // the third run took its Phone.Exists for someone else's number (a role that cannot list the
    // space's numbers has nothing else to go by).
    const store = new MemoryStore();
    const payload = { WabaId: '360000000097', Cc: '65', PhoneNumber: '96000097', VerifiedName: 'Acme Shop', IdempotencyKey: 'in-flight-inherited' };
    const c = Object.assign(cams([() => new CamsError({ Code: 'RequestTimeout', Message: 'timed out', httpStatus: 0, retryable: true }), () => budgetRefusal('AddChatappPhoneNumber', 500), phoneExists]), {
      queryPhoneNumbers: async () => {
        throw new CamsError({ Code: 'Forbidden.RAM', Message: 'not authorized', httpStatus: 403, retryable: false });
      },
    });
    const deps = () => onboardingDeps({ store, cams: c, deadline: Date.now() + 20_000 });
    await expect(runOnboarding(deps(), { payload })).rejects.toBeInstanceOf(OnboardingRetryableError);
    await expect(runOnboarding(deps(), { payload })).rejects.toBeInstanceOf(OnboardingRetryableError);
    const between = (await store.get<OnboardingRecord>(recordKey(onboardingIdFor('key:in-flight-inherited'))))!.value;
    expect(between.StepInFlight).toBe('addPhone');
    const out = await runOnboarding(deps(), { payload });
    expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true } } } });
  });
});

describe('StepInFlight while the space\'s list cannot be read yet', () => {
  it('Phone.Exists after a 5xx attempt of the same add, the listing throttled: the add stays in flight (the 5xx may have been applied)', async () => {
    const store = new MemoryStore();
    const payload = { WabaId: '360000000095', Cc: '65', PhoneNumber: '96000095', VerifiedName: 'Acme Shop', IdempotencyKey: 'in-flight-listing-throttled' };
    const c = Object.assign(cams([() => Object.assign(phoneExists(), { afterServerError: true })]), {
      queryPhoneNumbers: async () => {
        throw budgetRefusal('QueryChatappPhoneNumbers', 500);
      },
    });
    await expect(runOnboarding(onboardingDeps({ store, cams: c, deadline: Date.now() + 20_000 }), { payload })).rejects.toBeInstanceOf(OnboardingRetryableError);
    // The listing's refusal says nothing of the add: cleared, a role that cannot list took our own add for someone else's.
    expect((await store.get<OnboardingRecord>(recordKey(onboardingIdFor('key:in-flight-listing-throttled'))))!.value.StepInFlight).toBe('addPhone');
  });
});

describe('StepInFlight when the store failed the write that marks it', () => {
  it('the add never went out (the store refused its mark, then came back): a later Phone.Exists is someone else\'s number', async () => {
    const store = new MemoryStore();
    const payload = { WabaId: '360000000099', Cc: '65', PhoneNumber: '96000099', VerifiedName: 'Acme Shop', IdempotencyKey: 'in-flight-store-blip' };
    const id = onboardingIdFor(`key:${payload.IdempotencyKey}`);
    let adds = 0;
    let failMark = true;
    // The store drops the one write that marks the add in flight (a blip); the next write goes through.
    const blip = Object.assign(Object.create(store) as MemoryStore, {
      put: (key: string, value: unknown, opts?: never) => {
        if (failMark && key === recordKey(id) && (value as OnboardingRecord).StepInFlight === 'addPhone') {
          failMark = false;
          return Promise.reject(new StoreError('UNAVAILABLE', 'connection reset'));
        }
        return store.put(key, value, opts);
      },
    });
    const c = {
      ...cams([phoneExists]),
      addPhoneNumber: async () => {
        adds++;
        throw phoneExists();
      },
    } as unknown as CamsClient;
    const deps = () => onboardingDeps({ store: blip, cams: c, deadline: Date.now() + 20_000 });
    await expect(runOnboarding(deps(), { payload })).rejects.toBeInstanceOf(OnboardingRetryableError);
    expect(adds).toBe(0);
    // FC's retry: the number is someone else's; CAMS never saw an add of ours.
    await runOnboarding(deps(), { payload });
    const rec = (await store.get<OnboardingRecord>(recordKey(id)))!.value;
    expect(adds).toBe(1);
    expect(rec).toMatchObject({ Status: 'failed', FailureReason: expect.stringContaining('Phone.Exists') });
    expect(rec.Steps.addPhone).toBeUndefined();
  });
});

describe('Phone.Exists, and the space cannot be read', () => {
  it('a role without cams:QueryChatappPhoneNumbers (deployed before it was needed): the failure still says Phone.Exists', async () => {
    const store = new MemoryStore();
    const payload = { WabaId: '360000000098', Cc: '65', PhoneNumber: '96000098', VerifiedName: 'Acme Shop', IdempotencyKey: 'in-flight-no-query' };
    const refused = Object.assign(cams([phoneExists]), {
      queryPhoneNumbers: async () => {
        throw new CamsError({ Code: 'Forbidden.RAM', Message: 'not authorized', httpStatus: 403, retryable: false });
      },
    });
    const out = await runOnboarding(onboardingDeps({ store, cams: refused, deadline: Date.now() + 20_000 }), { payload });
    expect(out.status).toBe('failed');
    if (out.status === 'failed') expect(out.record.FailureReason).toContain('Phone.Exists');
  });
});

describe('StepInFlight after an add whose attempts met a 5xx, then flow control (a real client against a loopback CAMS)', () => {
  it('stays in flight: the 5xx attempt may have been applied, so a later Phone.Exists is our own add', async () => {
    const space = 'C5xx1';
    let adds = 0;
    let retryRun = false;
    const scripted = await startScriptedCams((call) => {
      switch (call.action) {
        case 'ChatappBindWaba':
          return ok({ CustSpaceId: space, WabaId: call.params['WabaId'] });
        case 'AddChatappPhoneNumber':
          adds++;
          // The first delivery: CAMS adds the number, then its front answers 503; the retries of that
          // call meet CAMS's flow control. The next delivery: the number exists.
          if (retryRun) return gatewayError(400, 'Phone.Exists', 'the phone number already exists');
          return adds === 1 ? gatewayError(503, 'ServiceUnavailable') : LIMIT_CONTROL;
        case 'QueryChatappPhoneNumbers':
          // A role without cams:QueryChatappPhoneNumbers: the mark is all there is to go by.
          return gatewayError(403, 'Forbidden.RAM', 'not authorized');
        case 'QueryChatappBindWaba':
          return ok({ AccountReviewStatus: 'APPROVED' });
        default:
          return ok({ CanSendMessage: 'AVAILABLE', Entities: [] });
      }
    });
    try {
      const store = new MemoryStore();
      const payload = { WabaId: '360000000096', Cc: '65', PhoneNumber: '96000096', VerifiedName: 'Acme Shop', IdempotencyKey: 'in-flight-5xx-then-throttled' };
      const id = onboardingIdFor(`key:${payload.IdempotencyKey}`);
      const client = new CamsClient({ endpoint: scripted.url, credentials: TEST_KEY, retry: { baseDelayMs: 1, maxDelayMs: 1 }, budget: new CamsBudget() });
      const deps = () => onboardingDeps({ store, cams: client, deadline: Date.now() + 20_000 });
      await expect(runOnboarding(deps(), { payload })).rejects.toMatchObject({ name: 'OnboardingRetryableError', cause: { Code: 'System.LimitControl' } });
      expect(adds).toBeGreaterThan(1);
      const between = (await store.get<OnboardingRecord>(recordKey(id)))!.value;
      expect(between.StepInFlight).toBe('addPhone');
      retryRun = true;
      const out = await runOnboarding(deps(), { payload });
      expect(out).toMatchObject({ status: 'done', record: { Steps: { addPhone: { AlreadyAdded: true } } } });
    } finally {
      await scripted.close();
    }
  });
});

describe('StepInFlight after a bind whose attempts timed out', () => {
  /** A loopback TCP server that reads what comes and never answers: a TLS handshake never ends, a plain request is read and left unanswered. */
  async function silentServer(): Promise<{ server: Server; port: number; bytes: () => string }> {
    let got = '';
    const server = createNetServer((socket) => socket.on('data', (c: Buffer) => (got += c.toString('latin1'))));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, port: (server.address() as AddressInfo).port, bytes: () => got };
  }

  async function bindTimesOut(endpoint: string, key: string): Promise<OnboardingRecord> {
    const store = new MemoryStore();
    const payload = { WabaId: '360000000097', Cc: '65', PhoneNumber: '96000097', VerifiedName: 'Acme Shop', IdempotencyKey: key };
    const client = new CamsClient({ endpoint, credentials: TEST_KEY, timeoutMs: 150, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, budget: new CamsBudget() });
    await expect(runOnboarding(onboardingDeps({ store, cams: client, deadline: Date.now() + 20_000 }), { payload })).rejects.toMatchObject({ name: 'OnboardingRetryableError', cause: { Code: 'RequestTimeout' } });
    return (await store.get<OnboardingRecord>(recordKey(onboardingIdFor(`key:${key}`))))!.value;
  }

  it('timed out in the TLS handshake (CAMS never got a byte of it): not in flight', async () => {
    const silent = await silentServer();
    try {
      const rec = await bindTimesOut(`https://127.0.0.1:${silent.port}`, 'in-flight-handshake');
      expect(rec.StepInFlight).toBeUndefined();
      expect(silent.bytes()).not.toContain('ChatappBindWaba');
    } finally {
      await new Promise<void>((r) => silent.server.close(() => r()));
    }
  });

  it('timed out after CAMS read the request: still in flight (it may have bound)', async () => {
    const silent = await silentServer();
    try {
      const rec = await bindTimesOut(`http://127.0.0.1:${silent.port}`, 'in-flight-read');
      expect(rec.StepInFlight).toBe('bind');
      expect(silent.bytes()).toContain('ChatappBindWaba');
    } finally {
      await new Promise<void>((r) => silent.server.close(() => r()));
    }
  });
});
