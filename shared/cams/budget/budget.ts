import { stderrLog, writeLogRecord } from '../../log/log.ts';
import { decideSlot, StoreError, type SlotReservation } from '../../store/index.ts';
import { intervalForQps, realClock, type Clock } from '../limiter.ts';
import { CAMS_QPS, type CamsAction } from '../operations.ts';

/**
 * Who is asking, highest first. Priority is how far ahead a caller may reserve (its lookahead):
 * - interactive (an HTTP caller is waiting): up to its own deadline;
 * - background (onboarding, receipt-triggered checks): at most BACKGROUND_LOOKAHEAD_MS;
 * - sweep (the monitor): only the next slot, at most one interval ahead, else it waits and asks again;
 * - discovery (listing a Discover WABA's numbers and templates): only a slot that is free now, so it
 *   runs below the sweep and takes nothing anyone else has asked for.
 * So the sweep takes what is left and never queues ahead of an interactive call by more than one slot;
 * holding that one slot keeps the schedule full when pollers wake late on a busy machine.
 */
export type Priority = 'interactive' | 'background' | 'sweep' | 'discovery';

export const BACKGROUND_LOOKAHEAD_MS = 2000;
/** Per-instance limiter's share of the budget while the store is unreachable (documented in README). */
export const FALLBACK_FRACTION = 0.25;
/**
 * A slot started later than this after its time is given up and a new one reserved: CAMS counts
 * arrivals in a sliding second, and a late call would sit closer than the head-room to the call
 * QPS slots after it (QPS_HEADROOM leaves 40 ms per second at 5 QPS).
 */
const LATE_TOLERANCE_MS = 20;

/** A slot decision; `fallbackLookahead` when the per-instance fallback made it, with the lookahead it allowed. */
interface Reservation extends SlotReservation {
  fallbackLookahead?: number;
}

/** The part of the Store port the budget uses. */
export interface SlotStore {
  reserveSlot(key: string, intervalMs: number, maxWaitMs: number): Promise<SlotReservation>;
}

export interface SlotRequest {
  account: string;
  action: CamsAction;
  priority: Priority;
  /** Epoch ms on the budget's clock by which the call must start; Infinity for none. */
  latestStart: number;
  /** This caller's own cap below the account's budget (MONITOR_QPS for the sweep), per instance. */
  shareQps?: number | undefined;
}

export type Admission =
  /** sendBy: the slot's last moment (its time + LATE_TOLERANCE_MS); a call not on the wire by then must not go. */
  | { ok: true; waitedMs: number; sendBy: number }
  /** No slot within the caller's time; nothing was spent. retryAfterMs: when one may be free. */
  | { ok: false; retryAfterMs: number };

export interface BudgetLog {
  (level: 'warn' | 'info', message: string, fields: Record<string, unknown>): void;
}

export interface CamsBudgetOptions {
  /** Where the account's schedule lives (every instance sharing it shares the budget). None: this process only. */
  store?: SlotStore | (() => Promise<SlotStore>);
  /** Budget per operation; default CAMS's documented limits (see budgetQps for CAMS_QPS). */
  qps?: Partial<Record<CamsAction, number>>;
  clock?: Clock;
  random?: () => number;
  fallbackFraction?: number;
  /**
   * A store call slower than this counts as a failure. Default 2000 ms: a slow but live store must
   * not trip the fallback, whose schedule would run beside the store's.
   */
  storeTimeoutMs?: number;
  /** After a store failure, ask it again after this long. Default 1000 ms. */
  storeRetryMs?: number;
  log?: BudgetLog;
}

// Through the one log writer: LOG_LEVEL applies, and secrets in an error message are redacted.
const defaultLog: BudgetLog = (level, message, fields) => writeLogRecord(stderrLog, { level, message, ...fields });

/**
 * One CAMS budget per (account, operation), shared through the store by every function and instance.
 * acquire() resolves when the caller may start its call, or refuses without spending a slot.
 */
export class CamsBudget {
  private readonly qps: Record<CamsAction, number>;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly fraction: number;
  private readonly storeTimeoutMs: number;
  private readonly storeRetryMs: number;
  private readonly log: BudgetLog;
  private readonly storeSource: CamsBudgetOptions['store'];
  private store: SlotStore | undefined;
  private opening: Promise<SlotStore> | undefined;
  private storeDownUntil = 0;
  private degraded = false;
  /** Per-instance schedules: the whole budget without a store, the fallback's fraction with one. */
  private readonly local = new Map<string, number>();
  /** Per key, the store's next free slot as this instance last heard it (its clock): where the fallback starts. */
  private readonly storeNext = new Map<string, number>();
  private readonly shares = new Map<string, number>();
  /** The sweep's waiters per schedule key: one of them at a time asks the store (see acquire). */
  private readonly sweepGates = new Map<string, Gate>();
  /** Slots given up because the caller woke too late (for benches and tests). */
  lateSlots = 0;

  constructor(opts: CamsBudgetOptions = {}) {
    this.qps = { ...CAMS_QPS, ...opts.qps };
    for (const q of Object.values(this.qps)) intervalForQps(q); // fail fast on a bad rate
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.fraction = opts.fallbackFraction ?? FALLBACK_FRACTION;
    if (!(this.fraction > 0 && this.fraction <= 1)) throw new RangeError(`fallbackFraction must be in (0, 1], got ${this.fraction}`);
    this.storeTimeoutMs = opts.storeTimeoutMs ?? 2000;
    this.storeRetryMs = opts.storeRetryMs ?? 1000;
    this.log = opts.log ?? defaultLog;
    this.storeSource = opts.store;
  }

  limit(action: CamsAction): number {
    return this.qps[action];
  }

  /** True while calls are limited per instance because the store is unreachable. */
  get isDegraded(): boolean {
    return this.degraded;
  }

  async acquire(req: SlotRequest): Promise<Admission> {
    const started = this.clock.now();
    const interval = intervalForQps(this.qps[req.action]);
    if (req.shareQps !== undefined && req.shareQps < this.qps[req.action]) {
      // The caller's own share first, so it never holds an account slot while waiting for its share.
      const shareKey = `${req.account}\n${req.action}\n${req.priority}`;
      const d = decideSlot(this.shares.get(shareKey), started, intervalForQps(req.shareQps), Math.max(0, req.latestStart - started));
      if (!d.granted) return { ok: false, retryAfterMs: d.waitMs };
      this.shares.set(shareKey, d.nextTat!);
      if (d.waitMs > 0) await this.clock.sleep(d.waitMs);
    }
    const key = `cams-budget/${req.account}/${req.action}`;
    if (req.priority !== 'sweep') return this.reserveAndWait(key, interval, req, started);
    // The sweep runs MONITOR_QPS checks at once, each wanting only the next slot: asking the store
    // all together cost 16 store calls per slot (1,600/s at 100 QPS), and the calls a timer phase
    // fires back to back stalled the loop. So this instance's sweep waiters queue here and one at a
    // time asks, until its slot has started; the next then finds the slot after it free.
    let gate = this.sweepGates.get(key);
    if (!gate) this.sweepGates.set(key, (gate = new Gate()));
    const entered = await gate.enter(
      () => this.clock.now() > req.latestStart,
      () => this.clock.sleep(Math.max(1, Math.min(GATE_RECHECK_MS, req.latestStart - this.clock.now()))),
    );
    if (!entered) return { ok: false, retryAfterMs: interval };
    try {
      return await this.reserveAndWait(key, interval, req, started);
    } finally {
      gate.leave();
      if (gate.idle) this.sweepGates.delete(key);
    }
  }

  /** Reserves a slot within the priority's lookahead, waits for it, and takes a new one if it woke too late. */
  private async reserveAndWait(key: string, interval: number, req: SlotRequest, started: number): Promise<Admission> {
    for (;;) {
      const t0 = this.clock.now();
      const room = req.latestStart - t0;
      if (room < 0) return { ok: false, retryAfterMs: interval };
      // The sweep's one interval gets 1 ms more: its queued waiter asks as the slot before starts, and on a
      // whole-ms clock the next slot can then look up to 1 ms further than one (fractional) interval.
      const lookahead = req.priority === 'interactive' ? room : Math.min(room, req.priority === 'background' ? BACKGROUND_LOOKAHEAD_MS : req.priority === 'sweep' ? interval + 1 : 0);
      // Not past the caller's latest start, whatever the store does: a store that hangs is given up
      // only after storeTimeoutMs (2 s), and an HTTP call with less left would answer after its FC timeout.
      const r = await withinMs(this.reserve(key, interval, lookahead, this.qps[req.action]), room);
      if (r === undefined) return { ok: false, retryAfterMs: interval };
      const t1 = this.clock.now();
      if (r.granted) {
        // The store decided between t0 and t1, so the slot lies in [t0 + wait, t1 + wait] on our
        // clock; its own time for it, clamped into that range, is exact on one machine (file) and off
        // by at most the round trip across machines with skewed clocks (redis). A reply that sat
        // unread while this process stalled thus makes the caller late, not its slot later.
        const at = Math.min(Math.max(r.at, t0 + r.waitMs), t1 + r.waitMs);
        // The store measured the lookahead from when it ran, which a slow store (a queued command)
        // puts after t0: its slot can lie past the caller's latest start. Given up (never over the
        // limit), not slept on past the caller's deadline.
        if (at > req.latestStart) return { ok: false, retryAfterMs: at - t1 + interval };
        if (at > t1) await this.clock.sleep(at - t1);
        // A fallback slot, once the store is found back meanwhile, is given up for one of the store's:
        // the store's schedule does not know it, so it would run beside the whole budget.
        if (r.fallbackLookahead !== undefined && !this.degraded) continue;
        if (this.clock.now() - at > LATE_TOLERANCE_MS) {
          this.lateSlots++;
          continue;
        }
        // Woken (within the tolerance) after the caller's latest start: no attempt may start now, so
        // this is no slot in time (an HTTP call's 429), not a deadline that CAMS let pass (its 504).
        if (this.clock.now() > req.latestStart) return { ok: false, retryAfterMs: interval };
        return { ok: true, waitedMs: this.clock.now() - started, sendBy: at + LATE_TOLERANCE_MS };
      }
      // Refused: the queue is longer than this priority may look ahead. An interactive caller looked
      // as far as its deadline, so it is done; the others wait until the queue is short enough (as
      // does an interactive caller the fallback's shorter lookahead refused).
      if (req.priority === 'interactive' && r.waitMs > lookahead) return { ok: false, retryAfterMs: r.waitMs };
      const pause = Math.max(1, r.waitMs - (r.fallbackLookahead ?? lookahead)) + this.random() * interval * 0.25;
      if (t1 + pause > req.latestStart) return { ok: false, retryAfterMs: r.waitMs };
      await this.clock.sleep(pause);
    }
  }

  /** The store's schedule; this instance's own, at a fraction of the budget, while the store is unreachable. */
  private async reserve(key: string, intervalMs: number, maxWaitMs: number, qps: number): Promise<Reservation> {
    if (this.storeSource !== undefined && this.clock.now() >= this.storeDownUntil) {
      try {
        const store = await this.withTimeout(this.openStore());
        const r = await this.withTimeout(store.reserveSlot(key, intervalMs, maxWaitMs));
        this.storeNext.set(key, this.clock.now() + r.waitMs + (r.granted ? intervalMs : 0));
        if (this.degraded) {
          this.degraded = false;
          this.log('info', 'CAMS budget: the store is back; the account-wide budget applies again', { key });
        }
        return r;
      } catch (e) {
        // A wrong STORE_URL is not an outage: a per-instance budget would hide it for good.
        if (!(e instanceof StoreError || e instanceof BudgetStoreTimeout) || (e instanceof StoreError && e.code === 'CONFIG')) throw e;
        this.storeDownUntil = this.clock.now() + this.storeRetryMs;
        if (!this.degraded) {
          this.degraded = true;
          this.log('warn', `CAMS budget: the store is unreachable; limiting this instance to ${this.fraction} of the budget until it is back`, {
            key,
            error: e.message,
          });
        }
      }
    }
    if (this.storeSource === undefined) return this.reserveLocal(key, intervalMs, maxWaitMs);
    // The fallback grants no slot further ahead than its next try of the store, so every waiter asks
    // the store again by then: its slots, which the store's schedule does not know, run beside that
    // schedule only until the instance finds the store back, not for as long as a caller may wait.
    const ahead = Math.min(maxWaitMs, this.storeRetryMs);
    // Not before the store's schedule as last heard: the slots it had granted (to this instance's
    // waiters too, which still go) would otherwise run beside the fallback's first ones.
    const next = this.storeNext.get(key);
    if (next !== undefined && !(next <= (this.local.get(key) ?? -Infinity))) this.local.set(key, next);
    return { ...this.reserveLocal(key, this.fallbackInterval(intervalMs, qps), ahead), fallbackLookahead: ahead };
  }

  private reserveLocal(key: string, intervalMs: number, maxWaitMs: number): SlotReservation {
    const d = decideSlot(this.local.get(key), this.clock.now(), intervalMs, maxWaitMs);
    if (d.nextTat !== undefined) this.local.set(key, d.nextTat);
    return { granted: d.granted, waitMs: d.waitMs, at: d.at };
  }

  /**
   * The fallback's spacing: the fraction of the budget as CAMS counts it, calls in a sliding second.
   * 1/fraction of the interval alone let an instance start 2 calls in a second at 5 QPS (832 ms
   * apart: 40 %, not 25 %), so 3 instances started 6. So at most floor(qps × fraction) calls a second
   * (with the head-room), where that is at least one: 1/fraction instances then stay within the
   * limit. Below 1/fraction QPS no whole call fits, and the rate alone (interval / fraction) applies.
   */
  private fallbackInterval(intervalMs: number, qps: number): number {
    const whole = Math.floor(qps * this.fraction);
    return Math.max(intervalMs / this.fraction, whole >= 1 ? intervalForQps(whole) : 0);
  }

  private openStore(): Promise<SlotStore> {
    if (this.store) return Promise.resolve(this.store);
    const src = this.storeSource!;
    if (typeof src !== 'function') return Promise.resolve((this.store = src));
    this.opening ??= src().then(
      (s) => (this.store = s),
      (e: unknown) => {
        this.opening = undefined;
        throw e instanceof StoreError ? e : new StoreError('UNAVAILABLE', `cannot open the store: ${(e as Error)?.message ?? String(e)}`, { cause: e });
      },
    );
    return this.opening;
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BudgetStoreTimeout(this.storeTimeoutMs)), this.storeTimeoutMs);
    });
    p.catch(() => undefined); // a late failure after the timeout is not an unhandled rejection
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}

/**
 * p's outcome, or undefined once `ms` (real time, as the store's own timeout) has passed first; p's
 * later outcome is its own (a slot it was granted then goes unused, which is never over the limit).
 */
function withinMs<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  if (!Number.isFinite(ms)) return p;
  p.catch(() => undefined); // a late failure after the caller left is not an unhandled rejection
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

/** How often a waiter queued at a gate checks its own deadline (it is woken at once when its turn comes). */
const GATE_RECHECK_MS = 250;

/** An in-process FIFO that one caller holds at a time. */
class Gate {
  private held = false;
  private readonly waiting: Array<{ wake: () => void; granted: boolean; left: boolean }> = [];

  get idle(): boolean {
    return !this.held && this.waiting.length === 0;
  }

  /**
   * Resolves true once the caller holds the gate, or false when giveUp() turns true first (checked
   * whenever recheck() resolves); a caller that gave up holds nothing and is skipped.
   */
  async enter(giveUp: () => boolean, recheck: () => Promise<void>): Promise<boolean> {
    if (!this.held) {
      this.held = true;
      return true;
    }
    let me!: { wake: () => void; granted: boolean; left: boolean };
    const turn = new Promise<void>((wake) => this.waiting.push((me = { wake, granted: false, left: false })));
    for (;;) {
      await Promise.race([turn, recheck()]);
      if (!giveUp()) {
        if (me.granted) return true;
        continue;
      }
      // Handed the gate in the same turn as giving up: pass it on.
      if (me.granted) this.leave();
      else me.left = true;
      return false;
    }
  }

  leave(): void {
    for (let w = this.waiting.shift(); w; w = this.waiting.shift()) {
      if (w.left) continue;
      w.granted = true;
      w.wake();
      return;
    }
    this.held = false;
  }
}

class BudgetStoreTimeout extends Error {
  constructor(ms: number) {
    super(`the store did not answer within ${ms} ms`);
    this.name = 'BudgetStoreTimeout';
  }
}

let processWide: CamsBudget | undefined;

/**
 * The process-wide budget for clients given none: this process only, at the full budget. Built on
 * first use: an HTTP function's client draws from sharedBudget and never needs it, and building it
 * at load cost every cold start ~7 KB of young generation.
 */
export function processBudget(): CamsBudget {
  return (processWide ??= new CamsBudget());
}
