// Our CAMS client against the teammate's CAMS sandbox: client-side smoothing must keep a burst inside
// the sandbox's sliding-window QPS limit, and the retry path must ride out injected faults.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_KEYS, startSandbox, type RunningSandbox } from '../../../local/sandbox/server.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import { intervalForQps } from '../../../shared/cams/limiter.ts';
import { httpRequest } from '../../../shared/http/request.ts';

interface CallRecord {
  At: string;
  AccessKeyId: string;
  Action: string;
  HttpStatus: number;
  Code: string;
}

const KEY = DEFAULT_SANDBOX_KEYS[0]!;
let sandbox: RunningSandbox;
let custSpaceId: string;

async function control(method: string, path: string, body?: unknown, target: RunningSandbox = sandbox): Promise<unknown> {
  const res = await httpRequest(target.url + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: 5000,
  });
  expect(res.status, `${method} ${path}: ${res.body.toString()}`).toBe(200);
  return JSON.parse(res.body.toString('utf8'));
}

const calls = async (action: string, target: RunningSandbox = sandbox) => ((await control('GET', '/__sandbox/calls', undefined, target)) as CallRecord[]).filter((c) => c.Action === action);

/** Most calls inside any window [t, t + 1000 ms). */
function maxPerSecond(records: CallRecord[]): number {
  const t = records.map((r) => Date.parse(r.At)).sort((a, b) => a - b);
  let best = 0;
  for (let hi = 0, lo = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/**
 * Time that moves only when every one of `callers` is asleep on it, then to the earliest wake-up. A
 * call in flight takes none of it, so a sandbox on this clock counts each call at the time its slot
 * began, however late a loaded machine runs this process: with the sandbox in this process, real
 * time let a stall between the client's last check and the sandbox's count bunch calls past the
 * budget's head-room (System.LimitControl, retries, > 14 s) though the client's schedule was right.
 */
function steppedClock(callers: number) {
  let t = Date.now(); // near real time: the sandbox checks x-acs-date against it
  let live = callers;
  const timers: Array<{ due: number; wake: () => void }> = [];
  const step = () => {
    if (timers.length === 0 || timers.length < live) return;
    timers.sort((a, b) => a.due - b.due);
    const next = timers.shift()!;
    t = Math.max(t, next.due);
    next.wake();
  };
  return {
    now: () => t,
    sleep: (ms: number) =>
      new Promise<void>((wake) => {
        timers.push({ due: t + Math.max(0, ms), wake });
        step();
      }),
    /** One caller is finished: it sleeps no more. */
    done: () => {
      live--;
      step();
    },
  };
}

/** A fresh client per test: the rate limiter is shared per endpoint and key anyway. */
const client = (opts: ConstructorParameters<typeof CamsClient>[0] = {}) => new CamsClient({ endpoint: sandbox.url, credentials: KEY, ...opts });

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
});
afterAll(async () => {
  await sandbox?.close();
});
beforeEach(async () => {
  await control('POST', '/__sandbox/reset');
  const bound = await client().bindWaba({ WabaId: '1234567890' });
  custSpaceId = bound.data.CustSpaceId;
});

describe('CamsClient against the CAMS sandbox', () => {
  it('50 concurrent GetWhatsappHealthStatus: smoothed to 5 a second (49 intervals), zero System.LimitControl', async () => {
    const clock = steppedClock(50);
    const own = await startSandbox({ port: 0, now: clock.now });
    try {
      const space = (await new CamsClient({ endpoint: own.url, credentials: KEY, budget: new CamsBudget() }).bindWaba({ WabaId: '1234567890' })).data.CustSpaceId;
      const c = new CamsClient({ endpoint: own.url, credentials: KEY, now: clock.now, sleep: clock.sleep });
      const t0 = clock.now();
      const results = await Promise.all(
        Array.from({ length: 50 }, () => c.getHealthStatus({ CustSpaceId: space, NodeType: 'waba' }).finally(clock.done)),
      );
      expect(results.every((r) => r.data.Entities.length > 0 && typeof r.requestId === 'string')).toBe(true);
      const log = await calls('GetWhatsappHealthStatus', own);
      expect(log).toHaveLength(50); // no retries were needed
      expect(log.filter((r) => r.Code === 'System.LimitControl')).toEqual([]);
      expect(log.every((r) => r.HttpStatus === 200 && r.Code === 'OK')).toBe(true);
      expect(maxPerSecond(log)).toBeLessThanOrEqual(5);
      // The first at once, then one a budget interval: no sooner, and no slot left unused (~10 s),
      // at ≥ 95 % of CAMS's 5 a second.
      const elapsed = clock.now() - t0;
      expect(elapsed).toBeCloseTo(49 * intervalForQps(5), 6);
      expect((49 * 1000) / elapsed).toBeGreaterThanOrEqual(0.95 * 5);
    } finally {
      await own.close();
    }
  });

  it('throttleRate 0.5 + errorRate 0.2: every call eventually succeeds through retries', async () => {
    await control('PUT', '/__sandbox/faults', { throttleRate: 0.5, errorRate: 0.2, seed: 7 });
    // Per attempt a fault hits 60 % of the time; 20 attempts leave ~4e-5 per call to chance.
    const c = client({ retry: { maxAttempts: 20, baseDelayMs: 20, maxDelayMs: 200 } });
    const results = await Promise.all(
      Array.from({ length: 8 }, () => c.getHealthStatus({ CustSpaceId: custSpaceId, NodeType: 'waba' })),
    );
    expect(results).toHaveLength(8);
    const log = await calls('GetWhatsappHealthStatus');
    expect(log.filter((r) => r.Code === 'OK')).toHaveLength(8);
    // The faults really happened, both kinds, and were retried.
    expect(log.some((r) => r.Code === 'System.LimitControl')).toBe(true);
    expect(log.some((r) => r.HttpStatus >= 500)).toBe(true);
    expect(log.length).toBeGreaterThan(8);
  }, 60_000);

  it('an expired STS token: retryable for the caller (its next invocation has a fresh token), but one attempt only (another would sign with it again)', async () => {
    await control('PUT', '/__sandbox/faults', { expiredTokens: ['STS.ran-out'] });
    const err = await client({ credentials: () => ({ ...KEY, securityToken: 'STS.ran-out' }) })
      .getHealthStatus({ CustSpaceId: custSpaceId, NodeType: 'waba' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ Code: 'InvalidSecurityToken.Expired', httpStatus: 400, retryable: true, attempts: 1 });
    expect((await calls('GetWhatsappHealthStatus')).map((r) => r.Code)).toEqual(['InvalidSecurityToken.Expired']);
  });

  it('throttleRate 1 with a short deadline: gives up before it with the last System.LimitControl', async () => {
    await control('PUT', '/__sandbox/faults', { throttleRate: 1 });
    const c = client({ retry: { maxAttempts: 100 } });
    const t0 = Date.now();
    let err: unknown;
    try {
      await c.getHealthStatus({ CustSpaceId: custSpaceId, NodeType: 'waba' }, { deadline: () => 2000 });
    } catch (e) {
      err = e;
    }
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(CamsError);
    const e = err as CamsError;
    expect(e.Code).toBe('System.LimitControl');
    expect(e.httpStatus).toBe(400);
    expect(e.retryable).toBe(true);
    expect(e.RequestId).toBeTruthy();
    expect(e.attempts).toBeGreaterThanOrEqual(2);
    expect(elapsed).toBeLessThan(2000);
    const log = await calls('GetWhatsappHealthStatus');
    expect(log).toHaveLength(e.attempts!);
    expect(log.every((r) => r.Code === 'System.LimitControl')).toBe(true);
    expect(log.at(-1)!.Code).toBe(e.Code);
  }, 30_000);
});
