import { update, type Store } from '../store/port.ts';
import { RecheckQueue } from './recheck.ts';
import { RISK_BURST, RISK_SHARE, RISKY_PREFIX } from './risk.ts';
import { idsFrom, PLAN_PAGE_SIZE, readPlanPage, RESERVE_CHUNK, retryPrefix, ROUND_KEY, type PlanRef, type SweepRound } from './round-plan.ts';
import type { CamsError } from '../cams/errors.ts';

/** How one target's check ended. */
export type CheckOutcome =
  | { kind: 'checked' }
  /** `byCams`: CAMS itself refused the node (an answer); not a reply no CAMS wrote (a proxy's HTML, garbage). */
  | { kind: 'rejected'; byCams?: boolean }
  | { kind: 'auth'; error: CamsError }
  /** Left pending: CAMS throttled or did not answer (re-checked later in the tick, recheck.ts), or the store was contended (next tick). */
  | { kind: 'transient'; cause: 'throttled' | 'unreachable' | 'contention'; error: unknown };

/** One unit of a tick's work: a risk check (extra, leaves the round alone), a retry, or a plan position. */
export interface Job {
  kind: 'risk' | 'retry' | 'plan';
  id: string;
  pos?: number;
  /** A re-check: how many this target has had in this tick, this one included (recheck.ts). */
  n?: number;
  /** The risky marker's version (a stale one is compare-and-deleted). */
  marker?: string;
}

export interface TickJobsOptions {
  store: Store;
  /** The round this tick works on, as read (or started) at its start, and the order it follows. */
  round: SweepRound;
  plan: PlanRef;
  /** Firing invalid-target problems this tick saw: written with the progress, so the next tick knows whether to list them. */
  invalid: number;
  /** Wall clock, for re-checks' backoffs. */
  now: () => number;
  /** Alert clock, for the round record's updatedAt. */
  clock: () => number;
  log: (record: Record<string, unknown>) => void;
}

/**
 * What a tick checks next, and the one writer of the round record's progress while it runs.
 * Jobs are handed out one at a time (a page read or a cursor write may be on the way), in this
 * order: a risk check when the round's own checks have earned one (RISK_SHARE each, at most
 * RISK_BURST held, so in any stretch of the round risk checks take at most RISK_BURST + RISK_SHARE
 * of its checks); a due re-check, never two in a row while positions are left (a CAMS that keeps
 * throttling takes at most every other check of the tick); the targets earlier ticks left for a
 * retry; then plan positions from the cursor, reserved RESERVE_CHUNK at a time in the round record.
 */
export class TickJobs {
  /** The round's order; it grows when this tick's listing of the watch list appends targets (scanRound). */
  plan: PlanRef;
  /** Another tick has taken the round over (or started a new one): hand out nothing more, write nothing. */
  lost = false;
  /** Round checks made this tick (checked or rejected; risk checks are not the round's). */
  checked = 0;
  /**
   * The round's progress counts a plan position's check once the cursor has passed it (persist), so
   * what a tick that dies wrote never names a check above its cursor, and the next tick counts each
   * position it finds checked there (checkedEarlier) exactly once. A retry's check counts at once: its
   * position is below the cursor already.
   */
  private checkedAt: number[] = [];
  /** Of them, those the cursor has passed (it never moves back), folded into a count. */
  private passed = 0;
  private retryChecks = 0;
  /** Risk checks started this tick. */
  riskChecks = 0;
  /** Round checks that CAMS throttled (or did not answer) this tick, waiting for their backoff. */
  private readonly rechecks = new RecheckQueue();
  private lastWasRecheck = false;
  private readonly retryQueue: Job[];
  /** Targets earlier ticks of the round left for a retry: one more tick each (settle). */
  private readonly carried: Set<string>;
  /** Carried targets CAMS did not answer again in this tick, given up for the round (settle), with CAMS's error. */
  readonly givenUp = new Map<string, CamsError>();
  private riskTokens: number;
  private pos: number;
  private reserved: number;
  private readonly inflight = new Set<number>();
  private page: { k: number; ids: string[] } | undefined;
  private taking: Promise<unknown> = Promise.resolve();

  /**
   * Risky nodes first (risk.ts): their index is read from the start but not waited for (a scan of
   * every key on redis took 70-110 ms at 10,000 targets, before every tick's first check): its
   * nodes are handed out as soon as it is in. Retry keys are listed only when the round record says
   * there are some (a tick that died before writing that leaves its targets below `reserved`, where
   * their round marks are read anyway).
   */
  static async open(o: TickJobsOptions): Promise<TickJobs> {
    const riskQueue: Job[] = [];
    const riskListed = o.store.list<number>(RISKY_PREFIX).then(
      (markers) => void riskQueue.push(...markers.map((m): Job => ({ kind: 'risk', id: m.key.slice(RISKY_PREFIX.length), marker: m.version }))),
      (e: unknown) => o.log({ level: 'warn', msg: 'reading the risky index failed; the next tick reads it', round: o.round.id, error: e instanceof Error ? e.message : String(e) }),
    );
    const prefix = retryPrefix(o.round.id);
    const retrying = new Set(o.round.retries ? (await o.store.list<number>(prefix)).map((m) => m.key.slice(prefix.length)) : []);
    return new TickJobs(o, riskQueue, riskListed, retrying);
  }

  private constructor(
    private readonly o: TickJobsOptions,
    private readonly riskQueue: Job[],
    /** Settles once the risky index is read (or failed to be); waited for before the tick ends. */
    readonly riskListed: Promise<void>,
    /** Targets with a retry key in this round. */
    private readonly retrying: Set<string>,
  ) {
    this.plan = o.plan;
    this.carried = new Set(retrying);
    this.retryQueue = [...retrying].map((id) => ({ kind: 'retry', id }));
    this.riskTokens = o.round.riskTokens ?? RISK_BURST;
    this.pos = o.round.next ?? 0;
    this.reserved = o.round.reserved ?? 0;
  }

  /** The next job; undefined when there is none now (re-checks may still be waiting: recheckWait). */
  take(): Promise<Job | undefined> {
    const next = this.taking.then(() => this.takeJob());
    this.taking = next.catch(() => undefined);
    return next;
  }

  /** Ms until the earliest waiting re-check is due; undefined when none waits (or the round is lost). */
  recheckWait(): number | undefined {
    return this.lost ? undefined : this.rechecks.dueIn(this.o.now());
  }

  /** Whether an earlier tick of the round left `id` for a retry. */
  carries(id: string): boolean {
    return this.carried.has(id);
  }

  /** A risk check not spent after all (its node was not due): the token goes back. */
  refundRisk(): void {
    this.earn(1);
  }

  /**
   * A job's outcome, written down: a round check that ended transient gets its retry key (first: a
   * process killed during the backoff leaves the target to the next tick) and, unless the store was
   * contended, a re-check in this tick if one may still start before `latestStart`; without one, a
   * target an earlier tick left is given up for the round (its key deleted); a retry that is done
   * loses its key. Then its plan position is dealt with (an auth failure leaves it to the next
   * tick), and a round check counts and earns its share of a risk check.
   */
  async settle(job: Job, outcome: CheckOutcome | undefined, latestStart: number): Promise<void> {
    if (job.kind !== 'risk' && outcome?.kind === 'transient') {
      if (!this.retrying.has(job.id)) {
        await this.o.store.put(retryPrefix(this.o.round.id) + job.id, 1);
        this.retrying.add(job.id);
      }
      if (outcome.cause !== 'contention' && this.rechecks.add(job.id, job.n ?? 0, this.o.now(), latestStart)) {
        this.o.log({ level: 'info', msg: `CAMS ${outcome.cause === 'throttled' ? 'throttled' : 'did not answer'} a check; it is re-checked in this tick after a backoff`, target: job.id, recheck: (job.n ?? 0) + 1 });
      } else if (this.carried.has(job.id)) {
        // Left by an earlier tick and failed again here: the round waited for it for as long as CAMS
        // failed it (a node CAMS answers 5xx for, say), checking nothing else. Given up for this round;
        // the next one checks it in its place.
        await this.o.store.delete(retryPrefix(this.o.round.id) + job.id);
        this.retrying.delete(job.id);
        // Not a check the invocation's end cut short (DeadlineExceeded): that says nothing of the node.
        const error = outcome.error as CamsError;
        if (outcome.cause === 'unreachable' && error.Code !== 'DeadlineExceeded') this.givenUp.set(job.id, error);
        this.o.log({ level: 'warn', msg: 'a check left for a retry failed again in this tick; it waits for the next round', target: job.id, cause: outcome.cause });
      }
    } else if (job.kind === 'retry' && (outcome === undefined || outcome.kind === 'checked' || outcome.kind === 'rejected')) {
      await this.o.store.delete(retryPrefix(this.o.round.id) + job.id);
      this.retrying.delete(job.id);
    }
    if (job.pos !== undefined && outcome?.kind !== 'auth') this.inflight.delete(job.pos);
    if ((outcome?.kind === 'checked' || outcome?.kind === 'rejected') && job.kind !== 'risk') {
      this.checked++;
      this.earn(RISK_SHARE);
      if (job.pos !== undefined) this.checkedAt.push(job.pos);
      else this.retryChecks++;
    }
  }

  /** A plan position an earlier tick of the round checked and died before counting (its round mark says so). */
  checkedEarlier(pos: number): void {
    this.checkedAt.push(pos);
  }

  /** Plan positions not yet handed out. */
  get planLeft(): boolean {
    return this.pos < this.plan.end;
  }

  /** Every position handed out and dealt with, and no target left for a retry. */
  get exhausted(): boolean {
    return !this.lost && !this.planLeft && this.inflight.size === 0 && this.retrying.size === 0;
  }

  /** Targets of the round not yet dealt with: positions from the low-water mark on, and those left for a retry. */
  get pending(): number {
    return idsFrom(this.plan, this.lowWater()) + this.retrying.size;
  }

  /**
   * Writes this tick's progress into the round record, if it is still this round's: the cursor (every
   * position below it dealt with), the reservation, the counts, and `patch`. Sets `lost` otherwise.
   */
  async persist(patch: Partial<SweepRound> = {}): Promise<void> {
    const { round } = this.o;
    const next = this.lowWater();
    const above = this.checkedAt.filter((p) => p >= next);
    this.passed += this.checkedAt.length - above.length;
    this.checkedAt = above;
    const res = await update<SweepRound>(this.o.store, ROUND_KEY, (r) =>
      r && r.id === round.id
        ? {
            ...r,
            next,
            reserved: this.reserved,
            checked: (round.checked ?? 0) + this.retryChecks + this.passed,
            riskChecks: (round.riskChecks ?? 0) + this.riskChecks,
            riskTokens: this.riskTokens,
            retries: this.retrying.size,
            invalid: this.o.invalid,
            updatedAt: this.o.clock(),
            ...patch,
          }
        : undefined,
    );
    if (res?.value.id !== round.id) this.lost = true;
  }

  /** Deletes the round's retry keys a killed tick wrote before the round record counted them (see sweep.ts). */
  async dropSpentRetryKeys(): Promise<void> {
    for (const e of await this.o.store.list(retryPrefix(this.o.round.id))) await this.o.store.delete(e.key);
  }

  private earn(n: number): void {
    this.riskTokens = Math.min(RISK_BURST, this.riskTokens + n);
  }

  private lowWater(): number {
    return this.inflight.size ? Math.min(...this.inflight) : this.pos;
  }

  private takeRisk(): Job | undefined {
    if (!this.riskQueue.length || this.riskTokens < 1) return undefined;
    this.riskTokens--;
    return this.riskQueue.shift();
  }

  private takeRecheck(): Job | undefined {
    const r = this.rechecks.takeDue(this.o.now());
    this.lastWasRecheck = !!r;
    return r && { kind: 'retry', id: r.id, n: r.n };
  }

  private async takeJob(): Promise<Job | undefined> {
    if (this.lost) return undefined;
    const risk = this.takeRisk();
    if (risk) return risk;
    if (this.lastWasRecheck) this.lastWasRecheck = false;
    else {
      const recheck = this.takeRecheck();
      if (recheck) return recheck;
    }
    const retry = this.retryQueue.shift();
    if (retry) return retry;
    for (; this.pos < this.plan.end; this.pos++) {
      const k = Math.floor(this.pos / PLAN_PAGE_SIZE);
      if (this.page?.k !== k) this.page = { k, ids: await readPlanPage(this.o.store, this.plan, k) };
      const id = this.page.ids[this.pos % PLAN_PAGE_SIZE];
      // A gap (a page appended after a short one) holds nothing.
      if (id === undefined) continue;
      if (this.pos >= this.reserved) {
        this.reserved = this.pos + RESERVE_CHUNK;
        await this.persist();
        if (this.lost) return undefined;
      }
      this.inflight.add(this.pos);
      return { kind: 'plan', id, pos: this.pos++ };
    }
    // Out of plan: the risky index may still be on its way.
    await this.riskListed;
    if (this.lost) return undefined;
    return this.takeRisk() ?? this.takeRecheck();
  }
}
