/** Time source and timer, injectable so limiter and retry logic can run on a fake clock in tests. */
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
 * on arrival; spacing starts 4 % wider than 1/qps (40 ms per window) so that qps+1 calls never land
 * inside one window despite jitter, while a sweep still runs within ~5 % of the limit's pace. A call
 * that is throttled anyway is retried.
 */
export const QPS_HEADROOM = 0.04;

export function intervalForQps(qps: number): number {
  if (!(qps > 0) || !Number.isFinite(qps)) throw new RangeError(`qps must be a positive number, got ${qps}`);
  // Not rounded to whole ms: at 100 QPS, 11 ms instead of 10.4 would cost 10 % of the pace.
  return (1000 * (1 + QPS_HEADROOM)) / qps;
}

/**
 * Evenly spaced slots, burst 1: a call starts at least `intervalMs` after the previous call actually
 * started. Measuring from actual starts (not from planned slots) means a late timer on a busy machine
 * only delays later calls, it never squeezes two of them together. Waiters are served FIFO.
 */
export class SpacingLimiter {
  private lastStart = -Infinity;
  private readonly waiters: Array<() => void> = [];
  private pumping = false;

  constructor(
    private intervalMs: number,
    private readonly clock: Clock = realClock,
  ) {}

  get interval(): number {
    return this.intervalMs;
  }

  /** Only ever widens: when clients disagree on the rate for one key, the stricter one wins. */
  widenTo(intervalMs: number): void {
    if (intervalMs > this.intervalMs) this.intervalMs = intervalMs;
  }

  /** When a call queued now would start, assuming timers fire on time. */
  estimatedStart(now = this.clock.now()): number {
    return Math.max(now, this.lastStart + this.intervalMs) + this.waiters.length * this.intervalMs;
  }

  get idleSince(): number | undefined {
    return this.waiters.length === 0 && !this.pumping ? this.lastStart : undefined;
  }

  /**
   * Resolves true when the caller may start its call. Resolves false at once, without taking a slot,
   * when the estimated start is later than `latestStart` (the caller's deadline would pass in the queue).
   */
  acquire(latestStart = Infinity): Promise<boolean> {
    const now = this.clock.now();
    if (this.waiters.length === 0 && !this.pumping && now >= this.lastStart + this.intervalMs) {
      this.lastStart = now;
      return Promise.resolve(true);
    }
    if (this.estimatedStart(now) > latestStart) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.waiters.push(() => resolve(true));
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiters.length > 0) {
        const wait = this.lastStart + this.intervalMs - this.clock.now();
        if (wait > 0) {
          await this.clock.sleep(wait);
          continue; // re-check: a timer may fire a hair early
        }
        // A start less than 1 ms after its slot is on time (the clock counts whole ms): counting from
        // the slot keeps a fractional spacing's pace; a start later than that counts from itself.
        const now = this.clock.now();
        const slot = this.lastStart + this.intervalMs;
        this.lastStart = now - slot < 1 ? slot : now;
        this.waiters.shift()!();
      }
    } finally {
      this.pumping = false;
    }
  }
}

/**
 * Limiters by (endpoint, accessKeyId, action), so that every client in the process that calls the
 * same account shares one budget: CAMS limits per account, not per client object.
 */
export class LimiterRegistry {
  private readonly limiters = new Map<string, SpacingLimiter>();

  constructor(private readonly maxIdle = 256) {}

  get(endpoint: string, accessKeyId: string, action: string, qps: number, clock: Clock = realClock): SpacingLimiter {
    const key = `${endpoint}\n${accessKeyId}\n${action}`;
    const interval = intervalForQps(qps);
    let limiter = this.limiters.get(key);
    if (limiter) {
      limiter.widenTo(interval);
      return limiter;
    }
    if (this.limiters.size >= this.maxIdle) this.pruneIdle(clock.now());
    limiter = new SpacingLimiter(interval, clock);
    this.limiters.set(key, limiter);
    return limiter;
  }

  get size(): number {
    return this.limiters.size;
  }

  /** Rotating STS key ids would otherwise pile up limiters in a long-lived instance. */
  private pruneIdle(now: number): void {
    for (const [key, limiter] of this.limiters) {
      const since = limiter.idleSince;
      if (since !== undefined && now - since > 10_000) this.limiters.delete(key);
    }
  }
}

/** The process-wide registry that clients use unless given their own. */
export const sharedLimiters = new LimiterRegistry();
