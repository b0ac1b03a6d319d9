import { afterEach, describe, expect, it } from 'vitest';
import { CamsClient } from '../../../shared/cams/client.ts';
import { intervalForQps, LimiterRegistry, sharedLimiters, SpacingLimiter } from '../../../shared/cams/limiter.ts';
import { fakeClock, ok, startScriptedCams, TEST_KEY, type ScriptedCams } from './scripted-cams.ts';

/** Most starts inside any window [t, t + windowMs) — how a sliding-window limiter counts them. */
function maxInWindow(times: number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('SpacingLimiter on a fake clock', () => {
  it('smooths a burst of 50 at 5 QPS to ~10 s, never more than 5 per sliding second', async () => {
    const clock = fakeClock(0);
    const limiter = new SpacingLimiter(intervalForQps(5), clock);
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 50 }, () => limiter.acquire().then(() => starts.push(clock.now()))));
    expect(starts).toHaveLength(50);
    expect(starts[0]).toBe(0);
    const total = starts[49]! - starts[0]!;
    expect(total).toBeGreaterThanOrEqual(9_000);
    expect(total).toBeLessThanOrEqual(12_000);
    expect(maxInWindow(starts)).toBeLessThanOrEqual(5);
    // Evenly spaced: no burst at the front.
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(intervalForQps(5));
  });

  it('a late timer delays later calls but never squeezes two together', async () => {
    const clock = fakeClock(0);
    let k = 0;
    const lateClock = { now: clock.now, sleep: (ms: number) => clock.sleep(ms + ((k++ * 37) % 90)) }; // 0..89 ms late
    const limiter = new SpacingLimiter(intervalForQps(10), lateClock);
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 40 }, () => limiter.acquire().then(() => starts.push(clock.now()))));
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(intervalForQps(10));
    expect(maxInWindow(starts)).toBeLessThanOrEqual(10);
  });

  it('keeps a fractional spacing pace on a whole-ms clock: 100 QPS is 10.4 ms a call, not 11', async () => {
    const clock = fakeClock(0);
    const wholeMs = { now: clock.now, sleep: (ms: number) => clock.sleep(Math.ceil(ms)) };
    const limiter = new SpacingLimiter(intervalForQps(100), wholeMs);
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 201 }, () => limiter.acquire().then(() => starts.push(clock.now()))));
    expect(starts[200]! - starts[0]!).toBeGreaterThanOrEqual(2080);
    expect(starts[200]! - starts[0]!).toBeLessThanOrEqual(2081);
    expect(maxInWindow(starts)).toBeLessThanOrEqual(100);
  });

  it('serves waiters first-come first-served', async () => {
    const clock = fakeClock(0);
    const limiter = new SpacingLimiter(100, clock);
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3, 4].map((i) => limiter.acquire().then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses at once, without taking a slot, when the queue would outlast latestStart', async () => {
    const clock = fakeClock(0);
    const limiter = new SpacingLimiter(200, clock);
    expect(await limiter.acquire()).toBe(true); // t=0
    const queued = limiter.acquire(); // would start at 200
    expect(await limiter.acquire(300)).toBe(false); // would start at 400
    expect(await queued).toBe(true);
    expect(clock.now()).toBe(200);
    expect(await limiter.acquire(400)).toBe(true); // the refused call did not take the 400 slot
    expect(clock.now()).toBe(400);
  });

  it('intervals leave head-room over the documented QPS', () => {
    expect(intervalForQps(5)).toBe(208);
    expect(intervalForQps(10)).toBe(104);
    // qps + 1 calls always span more than the 1-s window.
    for (const q of [1, 5, 10, 20, 50]) expect(intervalForQps(q) * q).toBeGreaterThan(1000);
    expect(() => intervalForQps(0)).toThrow(RangeError);
  });
});

describe('LimiterRegistry', () => {
  it('one limiter per (endpoint, accessKeyId, action); the stricter rate wins', () => {
    const reg = new LimiterRegistry();
    const a = reg.get('http://h:1', 'AK1', 'GetWhatsappHealthStatus', 10);
    expect(reg.get('http://h:1', 'AK1', 'GetWhatsappHealthStatus', 5)).toBe(a);
    expect(a.interval).toBe(intervalForQps(5));
    reg.get('http://h:1', 'AK1', 'GetWhatsappHealthStatus', 20);
    expect(a.interval).toBe(intervalForQps(5));
    expect(reg.get('http://h:1', 'AK2', 'GetWhatsappHealthStatus', 5)).not.toBe(a);
    expect(reg.get('http://h:2', 'AK1', 'GetWhatsappHealthStatus', 5)).not.toBe(a);
    expect(reg.get('http://h:1', 'AK1', 'ChatappBindWaba', 5)).not.toBe(a);
  });

  it('drops idle limiters when full (rotating STS key ids)', () => {
    const clock = fakeClock(0);
    const reg = new LimiterRegistry(4);
    for (let i = 0; i < 4; i++) void reg.get('e', `STS.${i}`, 'a', 5, clock).acquire();
    clock.advance(60_000);
    reg.get('e', 'STS.new', 'a', 5, clock);
    expect(reg.size).toBe(1);
  });
});

describe('client-side limiting over real HTTP', () => {
  let server: ScriptedCams | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('a call whose turn in the queue comes after its deadline fails at once instead of waiting', async () => {
    server = await startScriptedCams(() => ok({ CanSendMessage: 'AVAILABLE', Entities: [] }));
    const clock = fakeClock(0);
    const c = new CamsClient({
      endpoint: server.url, credentials: TEST_KEY, limiters: new LimiterRegistry(), now: clock.now, sleep: clock.sleep,
      deadlineMarginMs: 100, minAttemptMs: 200,
    });
    // 5 QPS → slots at 0, 208, 416, 624, 832...; with the deadline at 1000 the last start is 700.
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, () => c.getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' }, { deadline: 1000 })),
    );
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(4);
    const codes = settled.flatMap((s) => (s.status === 'rejected' ? [(s.reason as { Code: string }).Code] : []));
    expect(codes).toEqual(Array(6).fill('DeadlineExceeded'));
    expect(server.calls).toHaveLength(4);
    expect(clock.now()).toBeLessThanOrEqual(700);
  });

  it('two clients in one process share the budget for the same key and action', async () => {
    server = await startScriptedCams(() => ok({ CanSendMessage: 'AVAILABLE', Entities: [] }));
    // The default (process-wide) registry: sharing must not need any wiring.
    const make = () => new CamsClient({ endpoint: server!.url, credentials: TEST_KEY, qps: { GetWhatsappHealthStatus: 10 } });
    const [a, b] = [make(), make()];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' })),
    );
    const elapsed = performance.now() - t0;
    expect(server.calls).toHaveLength(12);
    expect(maxInWindow(server.calls.map((c) => c.at))).toBeLessThanOrEqual(10);
    expect(elapsed).toBeGreaterThanOrEqual(11 * intervalForQps(10) - 50);
    expect(elapsed).toBeLessThan(15_000);
    expect(sharedLimiters.get(server.url, TEST_KEY.accessKeyId, 'GetWhatsappHealthStatus', 10)).toBeDefined();
  });
});
