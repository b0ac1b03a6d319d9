/** Time source and timer, injectable so budget and retry logic can run on a fake clock in tests. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

/**
 * Head-room over the documented limit. CAMS (and the sandbox) count calls in a sliding 1-s window
 * on arrival; the budget spaces slots 4 % wider than 1/qps (40 ms per window) so that qps+1 calls
 * never land inside one window despite jitter, while demand above the limit still gets ~96 % of it.
 * A call that is throttled anyway is retried.
 */
export const QPS_HEADROOM = 0.04;

export function intervalForQps(qps: number): number {
  if (!(qps > 0) || !Number.isFinite(qps)) throw new RangeError(`qps must be a positive number, got ${qps}`);
  // Not rounded to whole ms: at 100 QPS, 11 ms instead of 10.4 would cost 10 % of the pace.
  return (1000 * (1 + QPS_HEADROOM)) / qps;
}
