import type { Admission } from './budget/budget.ts';
import { budgetRefusal, CamsError, DEADLINE_EXCEEDED, isExpiredToken, mayHaveBeenApplied } from './errors.ts';
import type { Clock } from './limiter.ts';

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 2000 };

export function resolveRetryPolicy(...layers: Array<Partial<RetryPolicy> | undefined>): RetryPolicy {
  const p: RetryPolicy = { ...DEFAULT_RETRY_POLICY };
  for (const layer of layers) {
    if (!layer) continue;
    for (const k of ['maxAttempts', 'baseDelayMs', 'maxDelayMs'] as const) {
      if (layer[k] !== undefined) p[k] = layer[k];
    }
  }
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new RangeError(`retry.maxAttempts must be an integer >= 1, got ${p.maxAttempts}`);
  if (!(p.baseDelayMs >= 0) || !(p.maxDelayMs >= 0)) throw new RangeError('retry delays must be >= 0');
  return p;
}

/** Upper bound of the wait before retry number `retryIndex` (0 for the first retry). */
export function backoffCap(retryIndex: number, policy: RetryPolicy): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retryIndex);
}

/**
 * "Full jitter": uniform in [0, cap]. Spreads retries of many throttled callers over the whole window
 * instead of having them collide again at the same instant.
 */
export function fullJitterDelay(retryIndex: number, policy: RetryPolicy, random: () => number): number {
  const r = Math.min(1, Math.max(0, random()));
  return r * backoffCap(retryIndex, policy);
}

/** What an attempt may spend: it must start by `latestStart` and end by `endBy`. */
export interface AttemptBudget {
  /** 1-based. */
  attempt: number;
  latestStart: number;
  endBy: number;
  /** The budget slot's last moment: an attempt not sent by then throws SlotMissed and asks for another. */
  sendBy?: number;
}

/** Thrown by an attempt that could not start within its budget (e.g. the rate limiter queue is too long). */
class AttemptNotStarted extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'AttemptNotStarted';
  }
}

/** Thrown by an attempt that got to the wire after its budget slot had passed; it sent nothing. */
export class SlotMissed extends AttemptNotStarted {
  constructor() {
    super('the attempt was not sent within its budget slot');
    this.name = 'SlotMissed';
  }
}

/** Slots an attempt may miss (its process stalled past the slot) before the call gives up. */
const MAX_SLOT_MISSES = 3;

export interface RetryLoopOptions {
  policy: RetryPolicy;
  random: () => number;
  clock: Clock;
  /** Epoch ms on `clock`; Infinity for none. */
  deadlineAt: number;
  /** Kept free before the deadline, for the caller to answer after we give up. */
  marginMs: number;
  /** An attempt with less time than this is not started: it could not finish. */
  minAttemptMs: number;
  action?: string;
  /**
   * Asked before every attempt for a slot of the account's CAMS budget that starts by latestStart.
   * A refusal ends the call without calling CAMS.
   */
  admit?: (latestStart: number) => Promise<Admission>;
}

/**
 * Owns one call's time and rate: backoff, a budget slot before each attempt, the deadline. Runs
 * `attempt` (sign, send, read) until it succeeds, fails with a non-retryable CamsError, runs out of
 * attempts, or the next attempt could not start in time. Throws the last CAMS error seen, with
 * `attempts` set (and `afterAmbiguousAttempt` when an earlier attempt may have been
 * applied without an answer, `afterServerError` when one was answered 5xx); without one, our own System.LimitControl when the budget refused or a slot it granted was missed (no CAMS call),
 * else DeadlineExceeded.
 */
export async function withRetry<T>(attempt: (budget: AttemptBudget) => Promise<T>, o: RetryLoopOptions): Promise<T> {
  const endBy = o.deadlineAt - o.marginMs;
  const latestStart = endBy - o.minAttemptMs;
  let last: CamsError | undefined;
  let refusedRetryAfter: number | undefined;
  let misses = 0;
  /** A slot was granted and given up unsent: without a CAMS error, the budget had no slot in time. */
  let missed = false;
  /** The attempt goes again in a new slot (it missed its last one): its backoff was already waited. */
  let again = false;
  let ambiguous = false;
  let serverError = false;
  for (let n = 1; n <= o.policy.maxAttempts; n++) {
    if (n > 1 && !again) {
      // Not before the wait a throttle asked for (its Retry-After): sooner would meet the same
      // throttle. When that wait does not fit, the throttle is the answer, with its wait.
      const asked = last?.retryAfterS !== undefined ? last.retryAfterS * 1000 : 0;
      const delay = Math.max(asked, fullJitterDelay(n - 2, o.policy, o.random));
      if (o.clock.now() + delay > latestStart) break;
      if (delay > 0) await o.clock.sleep(delay);
    }
    again = false;
    if (o.clock.now() > latestStart) break;
    let sendBy: number | undefined;
    if (o.admit) {
      const admission = await o.admit(latestStart);
      if (!admission.ok) {
        refusedRetryAfter = admission.retryAfterMs;
        break;
      }
      if (endBy - o.clock.now() < o.minAttemptMs) break;
      sendBy = admission.sendBy;
    }
    try {
      return await attempt({ attempt: n, latestStart, endBy, ...(sendBy !== undefined ? { sendBy } : {}) });
    } catch (err) {
      if (err instanceof SlotMissed) missed = true;
      if (err instanceof SlotMissed && misses++ < MAX_SLOT_MISSES) {
        n--; // nothing was sent: the same attempt, in a new slot, without backoff
        again = true;
        continue;
      }
      if (err instanceof AttemptNotStarted) break;
      if (!(err instanceof CamsError)) throw err;
      err.attempts = n;
      if (ambiguous) err.afterAmbiguousAttempt = true;
      if (serverError) err.afterServerError = true;
      if (mayHaveBeenApplied(err)) ambiguous = true;
      if (err.httpStatus >= 500) serverError = true;
      last = err;
      // An expired token is retryable for the caller (its next invocation has a fresh one), not here:
      // this call's credentials are the invocation's, and another attempt would sign with it again.
      if (!err.retryable || isExpiredToken(err.Code)) throw err;
    }
  }
  if (last) throw last;
  // A missed slot with no time left for another is the budget's refusal too (429), not a deadline
  // CAMS let pass (504): CAMS was never called.
  if (refusedRetryAfter !== undefined || missed) {
    const refusal = budgetRefusal(o.action, refusedRetryAfter ?? 0);
    refusal.attempts = 0;
    throw refusal;
  }
  const err = new CamsError({
    Code: DEADLINE_EXCEEDED,
    Message: 'the deadline left no time for an attempt',
    httpStatus: 0,
    retryable: true,
    action: o.action,
  });
  err.attempts = 0;
  throw err;
}
