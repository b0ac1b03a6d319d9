// Our CAMS client against the teammate's CAMS sandbox: client-side smoothing must keep a burst inside
// the sandbox's sliding-window QPS limit, and the retry path must ride out injected faults.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_KEYS, startSandbox, type RunningSandbox } from '../../../local/sandbox/server.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
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

async function control(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await httpRequest(sandbox.url + path, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: 5000,
  });
  expect(res.status, `${method} ${path}: ${res.body.toString()}`).toBe(200);
  return JSON.parse(res.body.toString('utf8'));
}

const calls = async (action: string) => ((await control('GET', '/__sandbox/calls')) as CallRecord[]).filter((c) => c.Action === action);

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
  it('50 concurrent GetWhatsappHealthStatus: smoothed to ~10 s, zero System.LimitControl', async () => {
    const c = client();
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => c.getHealthStatus({ CustSpaceId: custSpaceId, NodeType: 'waba' })),
    );
    const elapsedS = (performance.now() - t0) / 1000;
    expect(results.every((r) => r.data.Entities.length > 0 && typeof r.requestId === 'string')).toBe(true);
    const log = await calls('GetWhatsappHealthStatus');
    expect(log).toHaveLength(50); // no retries were needed
    expect(log.filter((r) => r.Code === 'System.LimitControl')).toEqual([]);
    expect(log.every((r) => r.HttpStatus === 200 && r.Code === 'OK')).toBe(true);
    expect(maxPerSecond(log)).toBeLessThanOrEqual(5);
    expect(elapsedS).toBeGreaterThanOrEqual(8);
    expect(elapsedS).toBeLessThanOrEqual(14);
  }, 40_000);

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
