/**
 * The sweep's re-checks within a tick: the one place that decides whether and when a round check
 * that ended transient on CAMS's side (throttled, or CAMS not reached, after the client's own
 * attempts) is tried again before the tick ends. The client's retries (shared/cams/retry.ts) are the
 * attempts of one call, a few within a second while the worker waits; when they all failed, CAMS's
 * sliding-second window was full for that whole second, so another attempt at once would be
 * throttled too. Here the target waits RECHECK_BACKOFF_MS (then twice that) without holding a
 * worker, and is checked again through the same client, so at the sweep's priority and paid from the
 * account's budget. A target gets at most RECHECKS_PER_TICK re-checks a tick, and only one a check
 * could still start for before the deadline; after that its retry key takes it to the next tick.
 */

export const RECHECKS_PER_TICK = 2;
export const RECHECK_BACKOFF_MS = 1000;

/** The wait before re-check number `n` (1-based) of a target in one tick. */
export function recheckDelay(n: number): number {
  return RECHECK_BACKOFF_MS * 2 ** (n - 1);
}

export interface Recheck {
  id: string;
  /** Re-checks of this target in this tick, this one included. */
  n: number;
  due: number;
}

/** The tick's waiting re-checks, earliest due first. */
export class RecheckQueue {
  private readonly waiting: Recheck[] = [];

  get size(): number {
    return this.waiting.length;
  }

  /**
   * Schedules the next re-check of `id`, whose `done` re-checks this tick all ended transient.
   * False when it is out of re-checks, or it would be due after `latestStart` (no check may start then).
   */
  add(id: string, done: number, now: number, latestStart: number): boolean {
    const n = done + 1;
    if (n > RECHECKS_PER_TICK) return false;
    const due = now + recheckDelay(n);
    if (due > latestStart) return false;
    const at = this.waiting.findIndex((r) => r.due > due);
    this.waiting.splice(at < 0 ? this.waiting.length : at, 0, { id, n, due });
    return true;
  }

  /** The earliest re-check if it is due at `now`. */
  takeDue(now: number): Recheck | undefined {
    return this.waiting[0] && this.waiting[0].due <= now ? this.waiting.shift() : undefined;
  }

  /** Ms until the earliest re-check is due (0: now); undefined when none waits. */
  dueIn(now: number): number | undefined {
    return this.waiting[0] ? Math.max(0, this.waiting[0].due - now) : undefined;
  }
}
