import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { CamsClient, type CamsClientOptions } from '../../../shared/cams/client.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { backoffCap, fullJitterDelay, resolveRetryPolicy, DEFAULT_RETRY_POLICY, SlotMissed, withRetry } from '../../../shared/cams/retry.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import { expectCamsError, fakeClock, gatewayError, LIMIT_CONTROL, ok, startScriptedCams, TEST_KEY, type ScriptedCams, type ScriptedReply } from './scripted-cams.ts';

let server: ScriptedCams | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const BIND_OK = ok({ CustSpaceId: 'CS', WabaId: 'W' }, 'REQ-FINAL');

/** Replies in order; the last one repeats. */
function sequence(...replies: ScriptedReply[]) {
  return (call: { n: number }) => replies[Math.min(call.n, replies.length - 1)]!;
}

/** Fake clock and a high QPS so that only the retry delays show up in `sleeps`. */
function client(url: string, extra: CamsClientOptions = {}) {
  const clock = fakeClock();
  const c = new CamsClient({
    endpoint: url,
    credentials: TEST_KEY,
    budget: new CamsBudget({ qps: { ChatappBindWaba: 1000 }, clock }),
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0.5,
    ...extra,
  });
  return { c, clock };
}

describe('retries transient failures until success', () => {
  const transient: Array<[string, ScriptedReply]> = [
    ['System.LimitControl', LIMIT_CONTROL],
    ['Throttling.User', gatewayError(400, 'Throttling.User', 'Request was denied due to user flow control.')],
    ['HTTP 503 non-JSON', { status: 503, body: 'Service Unavailable' }],
    ['HTTP 500 JSON', gatewayError(500, 'InternalError', 'internal error')],
    ['network error (connection dropped)', { destroy: true }],
  ];
  for (const [name, reply] of transient) {
    it(name, async () => {
      server = await startScriptedCams(sequence(reply, reply, BIND_OK));
      const { c, clock } = client(server.url);
      const r = await c.bindWaba({ WabaId: 'W' });
      expect(r.requestId).toBe('REQ-FINAL');
      expect(server.calls).toHaveLength(3);
      expect(server.calls.every((x) => x.verify.ok)).toBe(true);
      // Every retry is re-signed: a reused nonce would have been refused by the verifier.
      expect(new Set(server.calls.map((x) => x.headers['x-acs-signature-nonce'])).size).toBe(3);
      expect(clock.sleeps).toEqual([50, 100]); // random 0.5 of caps 100, 200
    });
  }

  it('request timeout (real, short)', async () => {
    server = await startScriptedCams(sequence({ hang: true }, BIND_OK));
    const { c } = client(server.url, { timeoutMs: 300, minAttemptMs: 10 });
    const r = await c.bindWaba({ WabaId: 'W' });
    expect(r.requestId).toBe('REQ-FINAL');
    expect(server.calls).toHaveLength(2);
  });

  it('a request timeout that never clears surfaces as RequestTimeout with httpStatus 0', async () => {
    server = await startScriptedCams(() => ({ hang: true }));
    const { c } = client(server.url, { timeoutMs: 150, minAttemptMs: 10, retry: { maxAttempts: 2 } });
    const err = await expectCamsError(c.bindWaba({ WabaId: 'W' }));
    expect(err.Code).toBe('RequestTimeout');
    expect(err.httpStatus).toBe(0);
    expect(err.retryable).toBe(true);
    expect(err.attempts).toBe(2);
  });

  it('a refused connection is a retryable NetworkError', async () => {
    server = await startScriptedCams(() => BIND_OK);
    const url = server.url;
    await server.close();
    server = undefined;
    const { c } = client(url, { retry: { maxAttempts: 3 } });
    const err = await expectCamsError(c.bindWaba({ WabaId: 'W' }));
    expect(err.Code).toBe('NetworkError');
    expect(err.httpStatus).toBe(0);
    expect(err.attempts).toBe(3);
  });
});

describe('never retries business errors', () => {
  const business: Array<[string, ScriptedReply]> = [
    ['HTTP 400 Ram.PermissionDeny', gatewayError(400, 'Ram.PermissionDeny')],
    ['HTTP 400 Product.Unsubscript', gatewayError(400, 'Product.Unsubscript')],
    ['HTTP 404 InvalidAccessKeyId-like', gatewayError(404, 'InvalidParameter')],
    ['HTTP 200 with Code != OK', { status: 200, body: { RequestId: 'R', Code: 'InvalidWabaId', Message: 'bad', Success: false } }],
  ];
  for (const [name, reply] of business) {
    it(name, async () => {
      server = await startScriptedCams(sequence(reply, BIND_OK));
      const { c, clock } = client(server.url);
      const err = await expectCamsError(c.bindWaba({ WabaId: 'W' }));
      expect(err.retryable).toBe(false);
      expect(err.attempts).toBe(1);
      expect(server.calls).toHaveLength(1);
      expect(clock.sleeps).toEqual([]);
    });
  }
});

describe('giving up', () => {
  it('after maxAttempts, with the last CAMS error and the attempt count', async () => {
    server = await startScriptedCams((call) => gatewayError(400, 'System.LimitControl', `throttled #${call.n}`, `R-${call.n}`));
    const { c, clock } = client(server.url);
    const err = await expectCamsError(c.bindWaba({ WabaId: 'W' }));
    expect(err.Code).toBe('System.LimitControl');
    expect(err.RequestId).toBe('R-3');
    expect(err.Message).toBe('throttled #3');
    expect(err.attempts).toBe(DEFAULT_RETRY_POLICY.maxAttempts);
    expect(server.calls).toHaveLength(4);
    expect(clock.sleeps).toEqual([50, 100, 200]);
  });

  it('before the deadline: no retry starts that could not finish (fake clock)', async () => {
    server = await startScriptedCams((call) => gatewayError(400, 'System.LimitControl', 'flow control', `R-${call.n}`));
    const clock = fakeClock();
    const start = clock.now();
    // margin 100 + minAttempt 200: an attempt must start by start+700. random 1 → delays 100, 200, 400.
    const c = new CamsClient({
      endpoint: server.url, credentials: TEST_KEY, budget: new CamsBudget({ qps: { ChatappBindWaba: 1000 }, clock }),
      now: clock.now, sleep: clock.sleep, random: () => 1, deadlineMarginMs: 100, minAttemptMs: 200,
      retry: { maxAttempts: 10 },
    });
    const err = await expectCamsError(c.bindWaba({ WabaId: 'W' }, { deadline: start + 1000 }));
    // Attempts at t=0, 100, 300, 700 (700 is still ≤ latest start); the next would be at 1500: stop.
    expect(clock.sleeps).toEqual([100, 200, 400]);
    expect(server.calls).toHaveLength(4);
    expect(err.Code).toBe('System.LimitControl');
    expect(err.RequestId).toBe('R-3');
    expect(err.attempts).toBe(4);
    expect(clock.now()).toBeLessThanOrEqual(start + 1000);
  });

  it('deadline as a function of remaining time (as FC gives it)', async () => {
    server = await startScriptedCams(() => LIMIT_CONTROL);
    const clock = fakeClock();
    const c = new CamsClient({
      endpoint: server.url, credentials: TEST_KEY, budget: new CamsBudget({ qps: { ChatappBindWaba: 1000 }, clock }),
      now: clock.now, sleep: clock.sleep, random: () => 1, deadlineMarginMs: 100, minAttemptMs: 200,
      deadline: () => 450, retry: { maxAttempts: 10 },
    });
    const err = await expectCamsError(c.bindWaba({ WabaId: 'W' }));
    // latest start 150: attempt at 0, retry at 100, next would be 300 > 150.
    expect(server.calls).toHaveLength(2);
    expect(err.attempts).toBe(2);
    expect(err.Code).toBe('System.LimitControl');
  });

  it("a throttle's Retry-After holds the next attempt at least that long: a gateway's 429 page and CAMS's own Throttling.User with the header", async () => {
    const throttles: ScriptedReply[] = [
      { status: 429, body: 'Too Many Requests', headers: { 'retry-after': '3' } },
      { ...gatewayError(400, 'Throttling.User', 'Request was denied due to user flow control.'), headers: { 'retry-after': '2' } },
    ];
    for (const throttle of throttles) {
      await server?.close();
      server = await startScriptedCams(sequence(throttle, BIND_OK));
      const { c, clock } = client(server.url);
      const start = clock.now();
      expect((await c.bindWaba({ WabaId: 'W' })).requestId).toBe('REQ-FINAL');
      expect(server.calls).toHaveLength(2);
      const asked = Number(throttle.headers!['retry-after']) * 1000;
      // its own backoff alone would have waited 50 ms (random 0.5 of 100)
      expect(clock.sleeps).toEqual([asked]);
      expect(clock.now() - start).toBeGreaterThanOrEqual(asked);
    }
  });

  it("a throttle's Retry-After that does not fit before the deadline ends the call with that throttle and its wait, not an early retry into it", async () => {
    server = await startScriptedCams(() => ({ ...gatewayError(400, 'Throttling.User', 'flow control'), headers: { 'retry-after': '5' } }));
    const { c, clock } = client(server.url);
    const err = await expectCamsError(c.bindWaba({ WabaId: 'W' }, { deadline: clock.now() + 3000 }));
    expect(err).toMatchObject({ Code: 'Throttling.User', retryAfterS: 5, attempts: 1 });
    expect(server.calls).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('a CAMS throttle without Retry-After keeps its own backoff, and a Retry-After on a refusal that is not a throttle is not read', async () => {
    server = await startScriptedCams(sequence(gatewayError(400, 'Throttling.User', 'flow control'), BIND_OK));
    const { c, clock } = client(server.url);
    await c.bindWaba({ WabaId: 'W' });
    expect(clock.sleeps).toEqual([50]);
    await server.close();
    server = await startScriptedCams(() => ({ ...gatewayError(400, 'InvalidParameter', 'bad'), headers: { 'retry-after': '9' } }));
    const err = await expectCamsError(client(server.url).c.bindWaba({ WabaId: 'W' }));
    expect(err.retryAfterS).toBeUndefined();
  });

  it('a deadline already too close makes no attempt and says DeadlineExceeded', async () => {
    server = await startScriptedCams(() => BIND_OK);
    const { c, clock } = client(server.url);
    const err = await expectCamsError(c.bindWaba({ WabaId: 'W' }, { deadline: clock.now() + 250 }));
    expect(err.Code).toBe('DeadlineExceeded');
    expect(err.attempts).toBe(0);
    expect(server.calls).toHaveLength(0);
  });

  it('a request timeout is clamped to the time left before the deadline (real clock)', async () => {
    server = await startScriptedCams(() => ({ hang: true }));
    const c = new CamsClient({ endpoint: server.url, credentials: TEST_KEY, budget: new CamsBudget(), timeoutMs: 20_000, deadlineMarginMs: 100, minAttemptMs: 200 });
    const t0 = Date.now();
    const err = await expectCamsError(c.bindWaba({ WabaId: 'W' }, { deadline: () => 700 }));
    const elapsed = Date.now() - t0;
    expect(err.Code).toBe('RequestTimeout');
    expect(err.attempts).toBe(1); // ~600 ms spent, too little left for another
    expect(server.calls).toHaveLength(1);
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(10_000); // far below the 20 s timeoutMs
  });
});

describe('full jitter', () => {
  it('delay is random in [0, min(max, base*2^n)]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (n, base, max, r) => {
          const policy = resolveRetryPolicy({ baseDelayMs: base, maxDelayMs: max });
          const cap = Math.min(max, base * 2 ** n);
          const d = fullJitterDelay(n, policy, () => r);
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(cap);
          expect(d).toBeCloseTo(r * cap, 6);
        },
      ),
    );
  });

  it('caps: 100, 200, 400, ... up to 2000 by default', () => {
    const p = resolveRetryPolicy();
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffCap(n, p))).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
  });

  it('the client sleeps exactly random × cap before each retry', async () => {
    server = await startScriptedCams(() => LIMIT_CONTROL);
    const draws = [0.1, 0.25, 0.999, 0.5, 0.75];
    let i = 0;
    const { c, clock } = client(server.url, { random: () => draws[i++]!, retry: { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 500 } });
    await expectCamsError(c.bindWaba({ WabaId: 'W' }));
    expect(clock.sleeps).toEqual([10, 50, 0.999 * 400, 0.5 * 500, 0.75 * 500]);
    expect(server.calls).toHaveLength(6);
  });

  it('a retry that missed its budget slot goes in a new slot without a second backoff', async () => {
    // Nothing was sent in the missed slot: the same retry, not another one, so its backoff was already
    // waited. A second one delayed it, and near the deadline gave the call up with a retry still allowed.
    const clock = fakeClock(0);
    const script = [
      () => Promise.reject(new CamsError({ Code: 'ServiceUnavailable', Message: 'down', httpStatus: 503, retryable: true })),
      () => Promise.reject(new SlotMissed()),
      () => Promise.resolve('ok'),
    ];
    let n = 0;
    const result = await withRetry(() => script[n++]!(), {
      policy: { maxAttempts: 2, baseDelayMs: 100, maxDelayMs: 100 },
      random: () => 1,
      clock,
      deadlineAt: Infinity,
      marginMs: 0,
      minAttemptMs: 0,
      admit: () => Promise.resolve({ ok: true, waitedMs: 0, sendBy: clock.now() + 20 }),
    });
    expect(result).toBe('ok');
    expect(clock.sleeps).toEqual([100]);
  });

  it('rejects a nonsensical policy', () => {
    expect(() => resolveRetryPolicy({ maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => new CamsClient({ credentials: TEST_KEY, retry: { maxAttempts: 1.5 } })).toThrow(/maxAttempts/);
  });
});
