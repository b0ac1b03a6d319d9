import { randomUUID } from 'node:crypto';
import type { AlertSink, AlertSubject } from '../alerts/model.ts';
import type { CamsClient } from '../cams/client.ts';
import { isCamsError, isThrottlingCode, type CamsError } from '../cams/errors.ts';
import type { HealthError } from '../cams/operations.ts';
import { StoreError, update, type Store } from '../store/port.ts';
import { adviceFor } from './advice.ts';
import { applyObservation, checkTarget, EntityWrites, loadTargetInfo, noteTarget, orderByRisk, TARGET_INFO_PREFIX, type CheckContext } from './check.ts';
import { rediscoverIfGone, runDiscovery } from './discovery.ts';
import { deliverOwed, type DispatchReport } from './dispatch.ts';
import type { EntityState, ObservedStatus } from './entity-state.ts';
import { fingerprintOf } from './entity-state.ts';
import { entityKey, INVALID_PREFIX, reindexEntities } from './entity-store.ts';
import { observeMonitorSubject } from './monitor-alert.ts';
import type { AlertPolicy } from './rules.ts';
import { loadWatchList, type TargetProblem, type WatchTarget } from './targets.ts';

export const ROUND_KEY = 'monitor/round';
export const SWEEP_LEASE = 'monitor/sweep';

/**
 * One pass over the whole watch list; it may take several invocations. Progress is per target: the
 * round id in each target's info (check.ts, TARGET_INFO_PREFIX), so a check writes only its own key.
 */
export interface SweepRound {
  id: string;
  startedAt: number;
  completedAt?: number;
  /** Progress as of the end of the last tick (so a reader needs one get, not a scan). */
  checked?: number;
  total?: number;
  updatedAt?: number;
}

/** How one target's check ended. */
export type CheckOutcome =
  | { kind: 'checked' }
  | { kind: 'rejected' }
  | { kind: 'auth'; error: CamsError }
  /** Left pending, re-checked next tick: CAMS throttled or did not answer, or the store was contended. */
  | { kind: 'transient'; cause: 'throttled' | 'unreachable' | 'contention'; error: unknown };

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
}

/** Discovery gets at most this share of the time left, so the checks keep the rest. */
const DISCOVERY_SHARE = 1 / 3;

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
  'Ram.PermissionDeny',
  'Forbidden.RAM',
  'Product.Unsubscript',
]);

/** A store write that lost its races (or its file lock) for now: the target is retried next tick. */
function isContention(e: unknown): boolean {
  return e instanceof StoreError && (e.code === 'CONFLICT' || e.code === 'LOCK_TIMEOUT');
}

/**
 * The health monitor's sweep: under a lease, continue the current round (or start one), check every
 * pending target through the shared client, turn replies into alert decisions stored with each
 * entity, then deliver what is owed. Stops starting checks when the invocation's time runs short;
 * the next invocation picks up from the targets' round marks.
 */
export class HealthSweep {
  private readonly now: () => number;
  private readonly alertNow: () => number;
  private readonly log: (record: Record<string, unknown>) => void;
  /** Parent entities once per round, one writer per entity key in this process (check.ts). */
  private readonly writes = new EntityWrites();

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
    try {
      // Deliveries owed by earlier sweeps go first: a failure then is retried now, before new news.
      const earlier = await deliverOwed(store, this.opts.sinks, this.alertNow, this.log);
      const report = await this.sweep();
      const dispatch = await deliverOwed(store, this.opts.sinks, this.alertNow, this.log);
      report.dispatch = mergeDispatch(earlier, dispatch);
      return report;
    } finally {
      await lease.release().catch(() => undefined);
    }
  }

  private async sweep(): Promise<SweepReport> {
    const { store } = this.opts;
    const { round, fresh } = await this.currentRound();
    // The one full scan of entities, once per round: repairs the owed, invalid-target and silenced indexes.
    if (fresh) await reindexEntities(store);
    await this.discover(round.id);
    const { targets, problems } = await loadWatchList(store, this.opts.envTargets);
    const info = await loadTargetInfo(store);
    // The backstop's order: risky nodes (recent receipts, not AVAILABLE) first, then the least recently checked.
    const pending = orderByRisk(
      targets.filter((t) => info.get(t.id)?.round !== round.id),
      info,
      this.alertNow(),
    );
    const report: SweepReport = { round: round.id, targets: targets.length, checked: 0, pending: pending.length, transientFailures: 0 };

    // Target problems are recomputed every sweep: one that is gone has been fixed.
    const invalid = await this.observeTargetProblems([...(this.opts.targetProblems ?? []), ...problems], round.id);
    await this.resolveVanishedTargetProblems(invalid, round.id);

    let successes = 0;
    let unreachable: CamsError | undefined;
    let authFailure: CamsError | undefined;
    const budget = this.opts.checkBudgetMs ?? 6000;
    const queue = [...pending];
    const checkedNow = new Set<string>();
    // A check that fails with something other than CAMS or store contention (a store that is gone, a
    // bug) stops the others from starting new checks; the sweep waits for those in flight before it
    // reports the failure, so the lease is never released while a worker still calls CAMS or writes.
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      for (;;) {
        if (authFailure || failure) return;
        if (this.opts.deadline - this.now() < budget) return;
        const next = queue.shift();
        if (!next) return;
        let outcome: CheckOutcome;
        try {
          outcome = await this.checkTarget(next, round.id);
        } catch (e) {
          failure ??= { error: e };
          return;
        }
        if (outcome.kind === 'checked' || outcome.kind === 'rejected') {
          if (outcome.kind === 'checked') successes++;
          checkedNow.add(next.id);
          report.checked++;
        } else if (outcome.kind === 'auth') {
          authFailure = outcome.error;
        } else {
          report.transientFailures++;
          if (outcome.cause === 'contention') {
            report.storeContention = (report.storeContention ?? 0) + 1;
            successes++; // CAMS answered
          }
          if (outcome.cause === 'unreachable') unreachable = outcome.error as CamsError;
        }
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: Math.max(1, this.opts.concurrency) }, worker));
    for (const r of settled) if (r.status === 'rejected') failure ??= { error: r.reason };
    if (failure) {
      const err = failure.error;
      this.log({ level: 'error', msg: 'sweep stopped: a check failed outside CAMS', round: round.id, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }

    if (authFailure) {
      await this.observeMonitor(monitorSubject('AuthRefused'), 'ERROR', [camsFault(authFailure)], round.id);
    } else if (successes > 0) {
      await this.clearMonitorAlert(undefined, 'AuthRefused', round.id);
    }
    if (successes === 0 && unreachable) {
      await this.observeMonitor(monitorSubject('CamsUnreachable'), 'ERROR', [camsFault(unreachable)], round.id);
    } else if (successes > 0) {
      await this.clearMonitorAlert(undefined, 'CamsUnreachable', round.id);
    }

    const remaining = pending.filter((t) => !checkedNow.has(t.id)).length;
    report.pending = remaining;
    report.roundComplete = remaining === 0;
    const progress = { checked: targets.length - remaining, total: targets.length, updatedAt: this.alertNow() };
    await update<SweepRound>(store, ROUND_KEY, (r) =>
      r && r.id === round.id ? { ...r, ...progress, ...(remaining === 0 ? { completedAt: this.alertNow() } : {}) } : undefined,
    );
    if (remaining === 0) {
      // Bookkeeping of targets no longer watched goes with the round that last saw them.
      const watched = new Set(targets.map((t) => t.id));
      for (const id of info.keys()) if (!watched.has(id)) await store.delete(TARGET_INFO_PREFIX + id);
    }
    this.log({ level: 'info', msg: 'sweep', ...report });
    return report;
  }

  /**
   * One target's check through the check shared with the receipts (check.ts), which also marks the
   * target checked in this round. Throws only for what is neither CAMS nor store contention.
   */
  async checkTarget(next: { id: string; target: WatchTarget }, roundId: string): Promise<CheckOutcome> {
    try {
      await checkTarget(this.opts.cams, next.target, roundId, this.checkContext());
    } catch (e) {
      if (isContention(e)) {
        // CAMS answered; the store writes lost their races. The target is not marked: re-checked next tick.
        this.log({ level: 'warn', msg: 'store contended; the target is re-checked next tick', target: next.id, error: (e as Error).message });
        return { kind: 'transient', cause: 'contention', error: e };
      }
      if (!isCamsError(e)) throw e;
      if (AUTH_CODES.has(e.Code)) return { kind: 'auth', error: e };
      // Left pending: the next tick tries again. Only a CAMS that answers nothing becomes an alert.
      if (e.retryable || e.Code === 'DeadlineExceeded') return { kind: 'transient', cause: isThrottlingCode(e.Code) ? 'throttled' : 'unreachable', error: e };
      if (e.Code === 'Unknown.ResourceOwnerId' && (await this.retiredByDiscovery(next.id, roundId))) return { kind: 'rejected' };
      await this.observeMonitor(monitorSubject('TargetRejected', next.target), 'ERROR', [camsFault(e)], roundId);
      await this.markChecked(next.target, roundId);
      return { kind: 'rejected' };
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

  /** Records that a target was dealt with in this round (its own key only). */
  async markChecked(target: WatchTarget, roundId: string): Promise<void> {
    await noteTarget(this.opts.store, target, { round: roundId, lastCheckedAt: this.alertNow() });
  }

  /** Brings discovered nodes onto the watch list before it loads; their quality goes through the same rules. */
  private async discover(roundId: string): Promise<void> {
    const d = this.opts.discovery;
    if (!d) return;
    const now = this.now();
    const budget = this.opts.checkBudgetMs ?? 6000;
    const deadline = now + Math.max(0, (this.opts.deadline - now - budget) * DISCOVERY_SHARE);
    const report = await runDiscovery({ store: this.opts.store, cams: this.opts.cams, intervalMs: d.intervalMs, deadline, now: this.now, clock: this.alertNow, log: this.log });
    for (const obs of report.observations) await applyObservation(obs, roundId, false, this.checkContext());
  }

  /** A discovered node CAMS no longer knows: its WABA is listed again now; a node gone from it is retired, not alerted. */
  private async retiredByDiscovery(nodeId: string, roundId: string): Promise<boolean> {
    const d = this.opts.discovery;
    if (!d) return false;
    const report = await rediscoverIfGone({ store: this.opts.store, cams: this.opts.cams, intervalMs: d.intervalMs, deadline: this.opts.deadline, now: this.now, clock: this.alertNow, log: this.log }, nodeId);
    if (!report) return false;
    for (const obs of report.observations) await applyObservation(obs, roundId, false, this.checkContext());
    this.log({ level: 'info', msg: 'a discovered node CAMS no longer knows was retired, not alerted', target: nodeId });
    return true;
  }

  private async currentRound(): Promise<{ round: SweepRound; fresh: boolean }> {
    let fresh = false;
    const result = await update<SweepRound>(this.opts.store, ROUND_KEY, (r) => {
      fresh = !(r && r.completedAt === undefined);
      return fresh ? { id: `${this.now()}-${randomUUID().slice(0, 8)}`, startedAt: this.now() } : undefined;
    });
    return { round: result!.value, fresh };
  }

  private checkContext(): CheckContext {
    return {
      store: this.opts.store,
      policy: this.opts.policy,
      sinks: this.opts.sinks.map((s) => s.name),
      now: this.alertNow,
      deadline: this.opts.deadline,
      round: true,
      writes: this.writes,
      ...(this.opts.history === false ? { history: false } : {}),
    };
  }

  /** The monitor's own failures are alerts too; they fire on the first bad sweep. */
  private async observeMonitor(subject: AlertSubject, status: ObservedStatus, errors: HealthError[], roundId: string): Promise<void> {
    await observeMonitorSubject(this.opts.store, subject, status, errors, {
      now: this.alertNow(),
      round: roundId,
      policy: this.opts.policy,
      sinks: this.opts.sinks.map((s) => s.name),
    });
  }

  /** Resolves a monitor alert if one is firing; creates no state otherwise. */
  private async clearMonitorAlert(target: WatchTarget | undefined, kind: string, roundId: string): Promise<void> {
    const subject = monitorSubject(kind, target);
    const existing = await this.opts.store.get<EntityState>(entityKey(fingerprintOf(subject)));
    if (existing?.value.firing) await this.observeMonitor(subject, 'AVAILABLE', [], roundId);
  }

  private async observeTargetProblems(problems: readonly TargetProblem[], roundId: string): Promise<Set<string>> {
    const seen = new Set<string>();
    for (const p of problems) {
      const subject: AlertSubject = { nodeType: 'monitor', entityType: 'InvalidTarget', ref: p.where };
      const fp = fingerprintOf(subject);
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

function monitorSubject(kind: string, target?: WatchTarget): AlertSubject {
  if (!target) return { nodeType: 'monitor', entityType: kind };
  return {
    nodeType: 'monitor',
    entityType: kind,
    custSpaceId: target.CustSpaceId,
    ...(target.WabaId ? { wabaId: target.WabaId } : {}),
    ...(target.PhoneNumber ? { phoneNumber: target.PhoneNumber } : {}),
    ...(target.TemplateCode ? { templateCode: target.TemplateCode, language: target.Language } : {}),
  };
}

function camsFault(e: CamsError): HealthError {
  return { ErrorCode: e.Code, ErrorDescription: e.Message, PossibleSolution: adviceFor(e) };
}

function mergeDispatch(a: DispatchReport, b: DispatchReport): DispatchReport {
  const skipped = b.skipped ?? a.skipped;
  return { delivered: [...a.delivered, ...b.delivered], deferred: b.deferred, failed: [...a.failed, ...b.failed], ...(skipped ? { skipped } : {}) };
}
