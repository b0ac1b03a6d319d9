import type { AlertSink, AlertSubject } from '../alerts/model.ts';
import type { CamsClient } from '../cams/client.ts';
import { HTTP_ERROR, INVALID_RESPONSE, isCamsError, isExpiredToken, isPermissionRefusal, isThrottlingCode, type CamsError } from '../cams/errors.ts';
import type { HealthError } from '../cams/operations.ts';
import { StoreError, type Store } from '../store/port.ts';
import { adviceFor } from './advice.ts';
import { applyUnobserved, checkTarget, EntityWrites, type CheckContext } from './check.ts';
import { rediscoverIfGone, runDiscovery, type DiscoveryReport, type TargetObservation } from './discovery.ts';
import { deliverOwed, type DispatchReport } from './dispatch.ts';
import type { EntityState, ObservedStatus } from './entity-state.ts';
import { fingerprintOf } from './entity-state.ts';
import { entityKey, INVALID_PREFIX, reindexEntities } from './entity-store.ts';
import { DeliveryFlusher, FLUSH_DELAY_MS } from './flush.ts';
import { monitorSubject, observeMonitorSubject, resolveMonitorAlert, resolveUntied } from './monitor-alert.ts';
import { riskDue, RISK_INTERVAL_SHARE, RISKY_PREFIX, stillRisky } from './risk.ts';
import { newRoundId, ROUND_KEY, scanRound, startRound, type SweepRound } from './round-plan.ts';
import { StaggeredWorkers } from './staggered-workers.ts';
import { observeStoreEviction } from './store-eviction.ts';
import { BesideChecks } from './beside-checks.ts';
import { TickJobs, type CheckOutcome, type Job } from './tick-jobs.ts';
import type { UnwatchedOptions } from './unwatched.ts';
import type { AlertPolicy } from './rules.ts';
import { noteTarget, TARGET_INFO_PREFIX, UNPLANNED_PREFIX, type TargetInfo } from './target-info.ts';
import { targetId, wabaIdParts, WATCH_PREFIX, type RegisteredTarget, type TargetProblem, type WatchTarget } from './targets.ts';
import { knownWabaOf } from './waba-space.ts';
import { parseStoredNode } from '../validation/health-target.ts';

export { ROUND_KEY, type SweepRound } from './round-plan.ts';
export const SWEEP_LEASE = 'monitor/sweep';

export interface HealthSweepOptions {
  store: Store;
  cams: CamsClient;
  sinks: readonly AlertSink[];
  policy: AlertPolicy;
  envTargets: readonly WatchTarget[];
  targetProblems?: readonly TargetProblem[];
  /** Calls in flight at once; the client's limiter spaces them at MONITOR_QPS. */
  concurrency: number;
  /** Epoch ms by which the invocation must be done. */
  deadline: number;
  /** Time one check may need (client timeout + margin); no check starts later than deadline minus this. */
  checkBudgetMs?: number;
  /** Wall clock for the deadline and the lease. */
  now?: () => number;
  /** Clock for alert decisions (since, repeat interval); tests move it forward. Default: now. */
  alertClock?: () => number;
  log?: (record: Record<string, unknown>) => void;
  /** Discovery of WABAs watched with Discover (off when absent): at most once per intervalMs each. */
  discovery?: { intervalMs: number };
  /** Record node history (default true); the bench turns it off to measure what it costs. */
  history?: boolean;
  /** The invocation's end (wall clock): no alert send starts that could not finish before it. */
  deliverBy?: number;
  /** What a check makes owed is delivered this long after it, while the sweep goes on (default FLUSH_DELAY_MS). */
  flushDelayMs?: number;
  /** Waits for a re-check's backoff (recheck.ts); tests pass one that moves their clock. */
  sleep?: (ms: number) => Promise<void>;
}

/** Discovery gets at most this share of the time left, so the checks keep the rest. */
const DISCOVERY_SHARE = 1 / 3;
/** At most this many targets given up in one tick are alerts each (observeGivenUp). */
const GIVEN_UP_ALERTS = 3;

export interface SweepReport {
  skipped?: string;
  round?: string;
  roundComplete?: boolean;
  targets: number;
  checked: number;
  pending: number;
  transientFailures: number;
  /** Of transientFailures: checks whose store writes kept losing compare-and-set races (re-checked next tick). */
  storeContention?: number;
  /** Extra checks of risky nodes (risk.ts) this tick; not counted in `checked`, which is the round's. */
  riskChecks?: number;
  dispatch?: DispatchReport;
}

const AUTH_CODES = new Set([
  'InvalidAccessKeyId.NotFound',
  'InvalidAccessKeyId.Inactive',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidSecurityToken.Expired',
  'InvalidSecurityToken.Malformed',
  'InvalidSecurityToken.MismatchWithAccessKey',
  // A disabled key refuses every check alike (advice.ts reads it as credentials, not a grant).
  'Forbidden.AccessKeyDisabled',
  'Product.Unsubscript',
]);

/**
 * A refusal that is the monitor's, not the node's: the credentials or the subscription, or RAM
 * refusing the role the grant (isPermissionRefusal: Ram.PermissionDeny, Forbidden.RAM, NoPermission,
 * NotAuthorized…), which refuses every check alike. One AuthRefused ends the tick; taken per node, a
 * missing grant was a TargetRejected for every watched node, each check spent on it.
 */
const isAuthRefusal = (code: string): boolean => AUTH_CODES.has(code) || isPermissionRefusal(code);

/** A store write that lost its races (or its file lock) for now: the target is retried next tick. */
function isContention(e: unknown): boolean {
  return e instanceof StoreError && (e.code === 'CONFLICT' || e.code === 'LOCK_TIMEOUT');
}

/**
 * The health monitor's sweep: under a lease, continue the current round (or start one), check the
 * round's targets in its stored order through the shared client (risky nodes first, as extra
 * checks), turn replies into alert decisions stored with each entity, and deliver what is owed
 * while it sweeps. Stops starting checks when the invocation's time runs short; the next
 * invocation picks up from the round record's cursor.
 */
export class HealthSweep {
  private readonly now: () => number;
  private readonly alertNow: () => number;
  private readonly log: (record: Record<string, unknown>) => void;
  /** Parent entities once per round, one writer per entity key in this process (check.ts). */
  private readonly writes = new EntityWrites();
  private flusher: DeliveryFlusher | undefined;
  /** Discover entries listed again in this invocation because a node of theirs was refused (discovery.ts). */
  private readonly relisted = new Map<string, Promise<DiscoveryReport>>();

  constructor(private readonly opts: HealthSweepOptions) {
    this.now = opts.now ?? Date.now;
    this.alertNow = opts.alertClock ?? this.now;
    this.log = opts.log ?? (() => {});
  }

  async run(): Promise<SweepReport> {
    const { store } = this.opts;
    const ttl = Math.max(1000, this.opts.deadline - this.now() + 5000);
    const lease = await store.acquireLease(SWEEP_LEASE, ttl);
    if (!lease) return { skipped: 'another sweep holds the lease', targets: 0, checked: 0, pending: 0, transientFailures: 0 };
    // The one deliverer, while the sweep runs: what earlier sweeps owe flushDelayMs after the first
    // check is under way (beside the checks, not ahead of them, and not amid the first slots), what a
    // check finds within flushDelayMs, and at the end whatever is still owed.
    const deliverBy = this.opts.deliverBy;
    const flusher = new DeliveryFlusher(
      () => deliverOwed(store, this.opts.sinks, this.alertNow, this.log, { policy: this.opts.policy, ...(deliverBy !== undefined ? { deadline: deliverBy } : {}) }),
      this.opts.flushDelayMs ?? FLUSH_DELAY_MS,
      this.log,
    );
    this.flusher = flusher;
    try {
      let report: SweepReport;
      try {
        report = await this.sweep();
      } catch (e) {
        await flusher.abandon();
        throw e;
      }
      report.dispatch = (await flusher.close()).reduce(mergeDispatch);
      return report;
    } finally {
      this.flusher = undefined;
      await lease.release().catch(() => undefined);
    }
  }

  private async sweep(): Promise<SweepReport> {
    const { store } = this.opts;
    const current = (await store.get<SweepRound>(ROUND_KEY))?.value;
    const fresh = !current || current.completedAt !== undefined || current.plan === undefined;
    const roundId = fresh ? newRoundId(this.now()) : current.id;
    // When a round starts (it lists the watch list to find the Discover entries: once per round, not
    // per tick), so what it adds is in the round.
    if (fresh) await this.discover(roundId);
    const round = fresh ? await startRound(store, this.opts.envTargets, current, { id: roundId, now: this.alertNow() }) : current;
    // Beside the checks, waited for before the tick ends: the one full scan of entities, once per
    // round (repairs the owed, invalid-target and silenced indexes), and the round's one listing of
    // the watch list (scanRound) until it succeeded once. Earlier sweeps' deliveries are due a flush
    // delay after the same kickoff: on the file store a delivery's lease write and index listings,
    // amid the first slot reservations, made them late by 10-50 ms each.
    const beside = new BesideChecks(round.id, this.log, () => this.flusher?.owed());
    if (fresh && round.id === roundId) {
      beside.add('repairing the indexes', () => reindexEntities(store));
      beside.add('resolving alerts whose record is gone', () => this.resolveUntied(round.id));
    }

    // Target problems: the stored ones as the round's listing of the watch list found them (the
    // previous round's until then), the configured ones every tick; one that is gone has been fixed.
    const invalid = await this.observeTargetProblems([...(this.opts.targetProblems ?? []), ...(round.problems ?? [])], round.id);
    // Their index is listed when a round starts or when the last tick saw some (`invalid`), not every
    // tick, and beside the checks: a listing is a round trip or more to the store, and a store that
    // is slow (or an older redis store still indexing its keys, one SCAN) must not hold the checks.
    if (fresh || (round.invalid ?? 1) > 0 || invalid.size > 0) beside.add('resolving fixed target problems', () => this.resolveVanishedTargetProblems(invalid, round.id));

    const jobs = await TickJobs.open({ store, round, plan: round.plan!, invalid: invalid.size, now: this.now, clock: this.alertNow, log: this.log });
    beside.track(jobs.riskListed);
    let scanned = !!round.scanned;
    if (!scanned) beside.add('listing the watch list', () => scanRound(store, this.opts.envTargets, round, (longer) => (jobs.plan = longer), this.unwatchedOptions()).then(() => (scanned = true)));

    const budget = this.opts.checkBudgetMs ?? 6000;
    const tick: Tick = {
      round,
      jobs,
      report: { round: round.id, targets: jobs.plan.count, checked: 0, pending: 0, transientFailures: 0 },
      envById: new Map(this.opts.envTargets.map((t) => [targetId(t), t])),
      riskInterval: (round.previousMs ?? 0) * RISK_INTERVAL_SHARE,
      // A round this tick started has checked nothing yet (its first positions are already reserved).
      uncertain: round.id === roundId && fresh ? 0 : (round.reserved ?? 0),
      attempted: new Set(),
      wabaChecks: new Map(),
      underWay: () => {
        beside.kickoff();
        workers.more();
      },
      successes: 0,
    };
    const workers = new StaggeredWorkers(this.opts.concurrency, () => this.work(tick, budget), (e) => void (tick.failure ??= { error: e }));
    await workers.run();
    beside.kickoff();
    await beside.settled();
    // The round's listing may have appended targets after the workers ran out of plan (a round whose
    // plan held nothing to check never started it before): they are checked now, in this tick.
    while (!jobs.lost && !tick.failure && !tick.authFailure && jobs.planLeft && this.opts.deadline - this.now() >= budget) await workers.run();
    if (tick.failure) {
      const err = tick.failure.error;
      this.log({ level: 'error', msg: 'sweep stopped: a check failed outside CAMS', round: round.id, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
    const complete = scanned && jobs.exhausted;
    // A round whose plan holds no target (nothing is watched) leaves no check unanswered.
    await this.observeOwnHealth(tick, round.id, complete && jobs.plan.count === 0);
    await this.observeStore(round.id);
    await this.observeGivenUp(tick);
    return this.closeTick(tick, complete);
  }

  /** One worker: takes jobs until there are none, time runs short, or the tick must stop. */
  private async work(tick: Tick, budget: number): Promise<void> {
    const { jobs } = tick;
    for (;;) {
      if (tick.authFailure || tick.failure) return;
      if (this.opts.deadline - this.now() < budget) return;
      const job = await jobs.take();
      if (!job) {
        // Nothing else to do but re-checks waiting for their backoff: wait for the first one.
        const wait = jobs.recheckWait();
        if (wait === undefined) return;
        await (this.opts.sleep ?? sleep)(wait);
        continue;
      }
      let outcome: CheckOutcome | undefined;
      try {
        outcome = await this.runJob(job, tick);
        await jobs.settle(job, outcome, this.opts.deadline - budget);
      } catch (e) {
        tick.failure ??= { error: e };
        return;
      }
      tally(tick, job, outcome);
    }
  }

  /** One job; undefined when there was nothing to check (gone, already checked, not due). */
  private async runJob(job: Job, tick: Tick): Promise<CheckOutcome | undefined> {
    const { store } = this.opts;
    const { jobs, round, attempted } = tick;
    const target = await this.watched(job.id, tick.envById);
    if (job.kind === 'risk') {
      const info = (await store.get<TargetInfo>(TARGET_INFO_PREFIX + job.id))?.value;
      if (!target || attempted.has(job.id) || !riskDue(info, this.alertNow(), tick.riskInterval)) {
        jobs.refundRisk();
        if (!target || !stillRisky(info, this.alertNow())) await store.delete(RISKY_PREFIX + job.id, { ifVersion: job.marker! });
        return undefined;
      }
      jobs.riskChecks++;
      const checking = this.checkTarget({ id: job.id, target }, round.id, false);
      tick.underWay();
      return checking;
    }
    // Removed from the watch list since the plan was made: nothing to check (a retry's key goes in settle).
    if (!target) return undefined;
    // Checked in this tick already (its retry, before the plan came to it): counted then.
    if (job.kind === 'plan' && attempted.has(job.id)) return undefined;
    if (job.kind === 'plan' && job.pos! < tick.uncertain) {
      // Checked by a tick that died before its progress counted it: counted now (Round.Checked lagged by those until the round ended).
      if ((await store.get<TargetInfo>(TARGET_INFO_PREFIX + job.id))?.value.round === round.id) return void jobs.checkedEarlier(job.pos!);
    }
    if (job.kind === 'plan' && (await this.checkedInOtherForm(job.id, tick))) {
      this.log({ level: 'info', msg: "the space's WABA was checked in this round in its other form; not checked twice", target: job.id });
      return undefined;
    }
    attempted.add(job.id);
    const checking = this.checkTarget({ id: job.id, target }, round.id, true);
    const waba = wabaIdParts(job.id);
    if (waba) tick.wabaChecks.set(waba.custSpaceId, (tick.wabaChecks.get(waba.custSpaceId) ?? new Map()).set(job.id, checking));
    tick.underWay();
    return checking;
  }

  /**
   * A space's WABA in both forms in one plan (the index knew no WabaId for the space when the plan was
   * made, so both stayed: targets.ts sameWabaIds): once a check of one form in this round has taught
   * the index, the other is the same node, checked in this round already. The plan drops it from the
   * next round; this keeps the round that learns it from checking it twice. A check in this tick is
   * waited for; one in an earlier tick of the round is looked for only in a space the plan names as
   * holding both forms (PlanRef.bothForms): no other check reads anything more.
   */
  private async checkedInOtherForm(id: string, tick: Tick): Promise<boolean> {
    const p = wabaIdParts(id);
    if (!p) return false;
    if (await this.checkedInThisTick(id, p, tick)) return true;
    if (!tick.jobs.plan.bothForms?.includes(p.custSpaceId)) return false;
    return this.checkedInEarlierTick(p, tick.round.id);
  }

  private async checkedInThisTick(id: string, p: { custSpaceId: string; wabaId: string }, tick: Tick): Promise<boolean> {
    const forms = tick.wabaChecks.get(p.custSpaceId);
    if (!forms) return false;
    // For the form without a WabaId, any named one; for a named one, the form without.
    const others = [...forms].filter(([other]) => other !== id && (p.wabaId === '' || wabaIdParts(other)!.wabaId === ''));
    if (others.length === 0) return false;
    // Only a check CAMS answered: one throttled or refused checked nothing, though the index may have
    // learnt the WABA meanwhile (a receipt's look-up, the round's entity scan).
    const outcomes = await Promise.allSettled(others.map(([, checking]) => checking));
    const checked = others.filter((_, i) => outcomes[i]!.status === 'fulfilled' && (outcomes[i] as PromiseFulfilledResult<CheckOutcome>).value.kind === 'checked');
    if (checked.length === 0) return false;
    const known = await knownWabaOf(this.opts.store, p.custSpaceId);
    if (known === undefined) return false;
    return p.wabaId === '' ? checked.some(([other]) => wabaIdParts(other)!.wabaId === known) : p.wabaId === known;
  }

  /**
   * The other form (the named one the index knows, or the one without a WabaId) marked checked in this
   * round by an earlier tick, and not refused in it: a refusal marks it too (its TargetRejected then
   * observed in this round), and a refused check checked nothing.
   */
  private async checkedInEarlierTick(p: { custSpaceId: string; wabaId: string }, roundId: string): Promise<boolean> {
    const { store } = this.opts;
    const known = await knownWabaOf(store, p.custSpaceId);
    if (known === undefined || (p.wabaId !== '' && p.wabaId !== known)) return false;
    const other: WatchTarget = { CustSpaceId: p.custSpaceId, NodeType: 'waba', ...(p.wabaId === '' ? { WabaId: known } : {}) };
    if ((await store.get<TargetInfo>(TARGET_INFO_PREFIX + targetId(other)))?.value.round !== roundId) return false;
    const rejected = (await store.get<EntityState>(entityKey(fingerprintOf(monitorSubject('TargetRejected', other)))))?.value;
    return !(rejected && rejected.lastRound === roundId && rejected.status !== 'AVAILABLE');
  }

  /** The tick's report, and the round record moved on (marked complete when it is). */
  private async closeTick({ jobs, report, successes }: Tick, complete: boolean): Promise<SweepReport> {
    report.checked = jobs.checked;
    report.pending = jobs.pending;
    report.targets = jobs.plan.count;
    report.roundComplete = complete;
    if (jobs.riskChecks > 0) report.riskChecks = jobs.riskChecks;
    // Retry keys a killed tick wrote before the round record counted them: their targets were below
    // `reserved`, so their round marks were read and they were checked; the keys are spent. Deleted
    // before the round is marked complete: a kill in between leaves nothing the next tick needs.
    if (complete) await jobs.dropSpentRetryKeys();
    if (!jobs.lost) await jobs.persist({ answered: successes > 0, ...(complete ? { completedAt: this.alertNow(), checked: jobs.plan.count } : {}) });
    this.log({ level: 'info', msg: 'sweep', ...report });
    return report;
  }

  /**
   * What the tick's checks say of the monitor itself: CAMS refused its credentials (AuthRefused), or
   * answered none of its checks (CamsUnreachable); either resolves once a check gets an answer.
   * The status page reads these names (CHECKS_UNANSWERED_ALERTS) to say its states may be stale.
   * `idle`: nothing is watched, so no check is left unanswered: both resolve too (or one firing when
   * the last node was removed would stay, reminded of, for as long as nothing is watched).
   */
  private async observeOwnHealth(t: Pick<Tick, 'successes' | 'authFailure' | 'unreachable'>, roundId: string, idle = false): Promise<void> {
    if (t.authFailure && isExpiredToken(t.authFailure.Code)) {
      // On FC the role's STS token may run out between the tick's start and its calls; the next tick
      // signs with a fresh one. Only a second tick in a row refused so (each counted as its own round)
      // is the monitor's to report: a token that is never renewed.
      await this.observeMonitor(monitorSubject('AuthRefused'), 'ERROR', [camsFault(t.authFailure)], `${roundId}@${this.now()}`, 2);
    } else if (t.authFailure) {
      await this.observeMonitor(monitorSubject('AuthRefused'), 'ERROR', [camsFault(t.authFailure)], roundId);
    } else if (t.successes > 0 || idle) {
      await this.clearMonitorAlert(undefined, 'AuthRefused', roundId);
    }
    if (t.successes === 0 && t.unreachable) {
      await this.observeMonitor(monitorSubject('CamsUnreachable'), 'ERROR', [camsFault(t.unreachable)], roundId);
    } else if (t.successes > 0 || idle) {
      await this.clearMonitorAlert(undefined, 'CamsUnreachable', roundId);
    }
  }

  /**
   * Whether the store may evict our keys (StoreEvicting): asked once per instance every STORE_LOOK_MS,
   * after the checks, so most ticks spend nothing on it (store-eviction.ts).
   */
  private async observeStore(roundId: string): Promise<void> {
    const ctx = { now: this.now(), alertNow: this.alertNow(), round: roundId, policy: this.opts.policy, sinks: this.opts.sinks.map((s) => s.name), log: this.log };
    if (await observeStoreEviction(this.opts.store, ctx)) this.flusher?.owed();
  }

  /**
   * Targets given up for the round (tick-jobs.ts settle: CAMS failed their retry too, a 5xx for that
   * node alone, say) are TargetRejected alerts, resolved at their next answered check, when CAMS
   * answered other checks in this tick or the last: without one, such a node went unchecked round
   * after round with nothing but a log line. Not when more than GIVEN_UP_ALERTS are given up at once,
   * nor when this tick's own checks found CAMS unreachable: that is CAMS failing (an outage), which
   * CamsUnreachable tells, not each of its nodes.
   */
  private async observeGivenUp(tick: Tick): Promise<void> {
    const { jobs, round } = tick;
    const camsAnswered = tick.successes > 0 || (round.answered && !tick.unreachable);
    if (jobs.givenUp.size === 0 || jobs.givenUp.size > GIVEN_UP_ALERTS || !camsAnswered) return;
    for (const [id, error] of jobs.givenUp) {
      const target = await this.watched(id, tick.envById);
      if (!target) continue;
      // Not marked checked: CAMS never answered for it.
      await this.observeRejected(target, error, round.id);
    }
  }

  /**
   * A target's TargetRejected alert with CAMS's error, and the alert in the target's reach, so a
   * removal of the target closes it out (unwatched.ts). `patch` is the rest of the target's record;
   * true when this began the record.
   */
  private async observeRejected(target: WatchTarget, error: CamsError, roundId: string, patch: TargetInfo = {}): Promise<boolean> {
    const rejected = monitorSubject('TargetRejected', target);
    await this.observeMonitor(rejected, 'ERROR', [camsFault(error)], roundId);
    return noteTarget(this.opts.store, target, { ...patch, reach: [fingerprintOf(rejected)] });
  }

  /** The target a plan id stands for now: configured, or on the watch list (undefined: no longer watched). */
  private async watched(id: string, envById: ReadonlyMap<string, WatchTarget>): Promise<WatchTarget | undefined> {
    const env = envById.get(id);
    if (env) return env;
    const r = parseStoredNode((await this.opts.store.get<RegisteredTarget>(WATCH_PREFIX + id))?.value.target);
    return r.success ? r.data : undefined;
  }

  /**
   * One target's check through the check shared with the receipts (check.ts). `mark`: the round's
   * check, which marks the target checked in this round; a risk check leaves the round alone.
   * Throws only for what is neither CAMS nor store contention.
   */
  async checkTarget(next: { id: string; target: WatchTarget }, roundId: string, mark = true): Promise<CheckOutcome> {
    try {
      await checkTarget(this.opts.cams, next.target, roundId, this.checkContext(mark));
    } catch (e) {
      if (isContention(e)) {
        // CAMS answered; the store writes lost their races. The target is not marked: re-checked next tick.
        this.log({ level: 'warn', msg: 'store contended; the target is re-checked next tick', target: next.id, error: (e as Error).message });
        return { kind: 'transient', cause: 'contention', error: e };
      }
      if (!isCamsError(e)) throw e;
      if (isAuthRefusal(e.Code)) return { kind: 'auth', error: e };
      // Left pending: the next tick tries again. Only a CAMS that answers nothing becomes an alert.
      if (e.retryable || e.Code === 'DeadlineExceeded') return { kind: 'transient', cause: isThrottlingCode(e.Code) ? 'throttled' : 'unreachable', error: e };
      const byCams = e.Code !== HTTP_ERROR && e.Code !== INVALID_RESPONSE;
      if (e.Code === 'Unknown.ResourceOwnerId' && (await this.retiredByDiscovery(next.id, roundId))) return { kind: 'rejected', byCams };
      const begun = await this.observeRejected(next.target, e, roundId, { ...(mark ? { round: roundId } : {}), lastCheckedAt: this.alertNow() });
      if (begun && mark) await this.unplannedIfGone(next.target);
      return { kind: 'rejected', byCams };
    }
    // Checked and marked; a rejection alert it had is resolved (contention here: resolved at its next check).
    try {
      await this.clearMonitorAlert(next.target, 'TargetRejected', roundId);
    } catch (e) {
      if (!isContention(e)) throw e;
      this.log({ level: 'warn', msg: 'store contended; a resolved rejection alert is cleared at the next check', target: next.id, error: (e as Error).message });
    }
    return { kind: 'checked' };
  }

  /** Brings discovered nodes onto the watch list before a round's plan is made; their quality goes through the same rules. */
  private async discover(roundId: string): Promise<void> {
    const d = this.opts.discovery;
    if (!d) return;
    const now = this.now();
    const budget = this.opts.checkBudgetMs ?? 6000;
    const deadline = now + Math.max(0, (this.opts.deadline - now - budget) * DISCOVERY_SHARE);
    const report = await runDiscovery({ store: this.opts.store, cams: this.opts.cams, intervalMs: d.intervalMs, deadline, now: this.now, clock: this.alertNow, log: this.log, envTargets: this.opts.envTargets });
    await this.applyDiscovered(report.observations, roundId);
  }

  /** Discovery's observations through the rules, each entity first named in its target's reach (unwatched.ts) and marked while it fires (check.ts). */
  private async applyDiscovered(observations: readonly TargetObservation[], roundId: string): Promise<void> {
    for (const { target, obs } of observations) await applyUnobserved(target, obs, roundId, this.checkContext());
  }

  /** What the round's listing needs to close out what removed targets left. */
  private unwatchedOptions(): UnwatchedOptions {
    return {
      now: this.alertNow,
      sinks: this.opts.sinks.map((s) => s.name),
      log: this.log,
      onUnwatched: (fp) => this.writes.forget(fp),
      onOwed: () => this.flusher?.owed(),
    };
  }

  /** A discovered node CAMS no longer knows: its WABA is listed again now; a node gone from it is retired, not alerted. */
  private async retiredByDiscovery(nodeId: string, roundId: string): Promise<boolean> {
    const d = this.opts.discovery;
    if (!d) return false;
    const { gone, report } = await rediscoverIfGone({ store: this.opts.store, cams: this.opts.cams, intervalMs: d.intervalMs, deadline: this.opts.deadline, now: this.now, clock: this.alertNow, log: this.log }, nodeId, this.relisted);
    // Applied whatever became of the node: a failed listing's DiscoveryFailed, the numbers' quality.
    if (report) await this.applyDiscovered(report.observations, roundId);
    if (!gone) return false;
    this.log({ level: 'info', msg: 'a discovered node CAMS no longer knows was retired, not alerted', target: nodeId });
    return true;
  }

  /**
   * A round check began its target's record: its first check, or one that waited for CAMS while the
   * target was removed and the round's listing ran the removal pass, which deleted the record. Then
   * what the check just wrote is named by no plan and no marker, and stayed (firing, in the report)
   * until the daily pass: marked unplanned, so the next listing finds the target gone and closes it out.
   */
  private async unplannedIfGone(target: WatchTarget): Promise<void> {
    const id = targetId(target);
    if (this.opts.envTargets.some((t) => targetId(t) === id) || (await this.opts.store.get(WATCH_PREFIX + id))) return;
    await this.opts.store.put(UNPLANNED_PREFIX + id, 1);
  }

  private checkContext(round = true): CheckContext {
    const flusher = this.flusher;
    return {
      store: this.opts.store,
      policy: this.opts.policy,
      sinks: this.opts.sinks.map((s) => s.name),
      now: this.alertNow,
      deadline: this.opts.deadline,
      round,
      writes: this.writes,
      ...(flusher ? { onOwed: () => flusher.owed() } : {}),
      ...(round ? { onRecordBegun: (t: WatchTarget) => this.unplannedIfGone(t) } : {}),
      ...(this.opts.history === false ? { history: false } : {}),
    };
  }

  /**
   * The monitor's own failures are alerts too; they fire on the first bad sweep. The flusher is told
   * once the write is done, as for a check's findings: told before it, a flush starting meanwhile
   * (the store slow, the machine loaded) read the outboxes without it and cleared the flag the last
   * flush goes by, so the alert waited, owed, for the next tick.
   */
  private async observeMonitor(subject: AlertSubject, status: ObservedStatus, errors: HealthError[], roundId: string, minConsecutive?: number): Promise<void> {
    await observeMonitorSubject(this.opts.store, subject, status, errors, {
      now: this.alertNow(),
      round: roundId,
      policy: this.opts.policy,
      sinks: this.opts.sinks.map((s) => s.name),
      ...(minConsecutive === undefined ? {} : { minConsecutive }),
    });
    this.flusher?.owed();
  }

  private async resolveUntied(roundId: string): Promise<void> {
    const resolved = await resolveUntied(this.opts.store, { now: this.alertNow(), round: roundId, policy: this.opts.policy, sinks: this.opts.sinks.map((s) => s.name) });
    if (resolved > 0) this.flusher?.owed();
  }

  /** Resolves a monitor alert if one is firing (a flush follows); creates no state otherwise. */
  private async clearMonitorAlert(target: WatchTarget | undefined, kind: string, roundId: string): Promise<void> {
    const ctx = { now: this.alertNow(), round: roundId, policy: this.opts.policy, sinks: this.opts.sinks.map((s) => s.name) };
    if (await resolveMonitorAlert(this.opts.store, monitorSubject(kind, target), ctx)) this.flusher?.owed();
  }

  private async observeTargetProblems(problems: readonly TargetProblem[], roundId: string): Promise<Set<string>> {
    const seen = new Set<string>();
    for (const p of problems) {
      // Keyed by what the entry is, not where it sits: a reordered MONITOR_TARGETS keeps its alerts.
      const subject: AlertSubject = { nodeType: 'monitor', entityType: 'InvalidTarget', ref: p.ref ?? p.where };
      const fp = fingerprintOf(subject);
      if (seen.has(fp)) continue; // the same bad entry twice: one alert
      seen.add(fp);
      // Indexed before it can fire, so the alert is always found again to be resolved.
      await this.opts.store.put(INVALID_PREFIX + fp, 1, { ifAbsent: true });
      await this.observeMonitor(
        subject,
        'ERROR',
        [{ ErrorCode: 'InvalidTarget', ErrorDescription: `${p.where}: ${p.message}`, PossibleSolution: 'Fix the target (see GetWhatsappHealthStatus params per NodeType) or remove it.' }],
        roundId,
      );
    }
    return seen;
  }

  /** An invalid-target alert whose target was fixed or removed is resolved (found through its index, not a scan). */
  private async resolveVanishedTargetProblems(stillInvalid: Set<string>, roundId: string): Promise<void> {
    for (const m of await this.opts.store.list(INVALID_PREFIX)) {
      const fp = m.key.slice(INVALID_PREFIX.length);
      if (stillInvalid.has(fp)) continue;
      const st = (await this.opts.store.get<EntityState>(entityKey(fp)))?.value;
      if (st?.firing) await this.observeMonitor(st.subject, 'AVAILABLE', [], roundId);
      await this.opts.store.delete(m.key, { ifVersion: m.version });
    }
  }
}

/** What one tick's workers share. */
interface Tick {
  round: SweepRound;
  jobs: TickJobs;
  report: SweepReport;
  envById: ReadonlyMap<string, WatchTarget>;
  /** How long a risky node waits between its extra checks. */
  riskInterval: number;
  /** Plan positions below this an earlier tick may have checked (it died before writing the cursor). */
  uncertain: number;
  /** Targets this tick has checked or is checking. */
  attempted: Set<string>;
  /** This tick's round checks of waba targets, by space: the other form of one is the same node (sameForm). */
  wabaChecks: Map<string, Map<string, Promise<CheckOutcome>>>;
  /** A check's CAMS call is under way: work beside the checks may start, and another worker. */
  underWay: () => void;
  /** Checks CAMS answered: the node's state, or a refusal of the node. */
  successes: number;
  unreachable?: CamsError;
  authFailure?: CamsError;
  /**
   * A check that failed with something other than CAMS or store contention (a store that is gone, a
   * bug): the others start no new check, and the sweep waits for those in flight before it reports
   * it, so the lease is never released while a worker still calls CAMS or writes.
   */
  failure?: { error: unknown };
}

/** A job's outcome, counted for the report and the monitor's own health. */
function tally(tick: Tick, job: Job, outcome: CheckOutcome | undefined): void {
  // A refusal of the node is an answer too: a CAMS refusing every watched node is reachable, and
  // takes our credentials (CamsUnreachable and AuthRefused resolve on it).
  if (outcome?.kind === 'checked' || (outcome?.kind === 'rejected' && outcome.byCams)) tick.successes++;
  else if (outcome?.kind === 'auth') tick.authFailure = outcome.error;
  else if (outcome?.kind === 'transient') {
    tick.report.transientFailures++;
    if (outcome.cause === 'contention') {
      tick.report.storeContention = (tick.report.storeContention ?? 0) + 1;
      tick.successes++; // CAMS answered
    }
    // A target an earlier tick left for a retry may fail for reasons of its own (CAMS answers 5xx for
    // that node alone): a tick of such retries only said CamsUnreachable of a CAMS that answers.
    if (outcome.cause === 'unreachable' && !tick.jobs.carries(job.id)) tick.unreachable = outcome.error as CamsError;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function camsFault(e: CamsError): HealthError {
  return { ErrorCode: e.Code, ErrorDescription: e.Message, PossibleSolution: adviceFor(e) };
}

/** The tick's flushes as one report; `skipped` only if the last one was. */
function mergeDispatch(a: DispatchReport, b: DispatchReport): DispatchReport {
  const skipped = b.skipped;
  return { delivered: [...a.delivered, ...b.delivered], deferred: b.deferred, failed: [...a.failed, ...b.failed], ...(skipped ? { skipped } : {}) };
}
