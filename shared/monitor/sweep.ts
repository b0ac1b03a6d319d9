import { randomUUID } from 'node:crypto';
import type { AlertSink, AlertSubject } from '../alerts/model.ts';
import type { CamsClient } from '../cams/client.ts';
import { isCamsError, isThrottlingCode, type CamsError } from '../cams/errors.ts';
import type { HealthError } from '../cams/operations.ts';
import { update, type Store } from '../store/port.ts';
import { adviceFor } from './advice.ts';
import { applyObservation, checkTarget, loadTargetInfo, orderByRisk, type CheckContext } from './check.ts';
import { runDiscovery } from './discovery.ts';
import { deliverOwed, ENTITY_PREFIX, type DispatchReport } from './dispatch.ts';
import type { EntityState, ObservedStatus } from './entity-state.ts';
import { fingerprintOf } from './entity-state.ts';
import { observeMonitorSubject } from './monitor-alert.ts';
import type { AlertPolicy } from './rules.ts';
import { loadWatchList, type TargetProblem, type WatchTarget } from './targets.ts';

export const ROUND_KEY = 'monitor/round';
export const SWEEP_LEASE = 'monitor/sweep';

/** One pass over the whole watch list; it may take several invocations. */
export interface SweepRound {
  id: string;
  startedAt: number;
  /** Targets checked in this round (ids). */
  done: string[];
  completedAt?: number;
}

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

/**
 * The health monitor's sweep: under a lease, continue the current round (or start one), check every
 * pending target through the shared client, turn replies into alert decisions stored with each
 * entity, then deliver what is owed. Stops starting checks when the invocation's time runs short;
 * the next invocation picks up from the round's record.
 */
export class HealthSweep {
  private readonly now: () => number;
  private readonly alertNow: () => number;
  private readonly log: (record: Record<string, unknown>) => void;

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
    const round = await this.currentRound();
    await this.discover(round.id);
    const { targets, problems } = await loadWatchList(store, this.opts.envTargets);
    // The backstop's order: risky nodes (recent receipts, not AVAILABLE) first, then the least recently checked.
    const pending = orderByRisk(targets.filter((t) => !round.done.includes(t.id)), await loadTargetInfo(store), this.alertNow());
    const report: SweepReport = { round: round.id, targets: targets.length, checked: 0, pending: pending.length, transientFailures: 0 };

    // Target problems are recomputed every sweep: one that is gone has been fixed.
    const invalid = await this.observeTargetProblems([...(this.opts.targetProblems ?? []), ...problems], round.id);
    await this.resolveVanishedTargetProblems(invalid, round.id);

    let successes = 0;
    let unreachable: CamsError | undefined;
    let authFailure: CamsError | undefined;
    const budget = this.opts.checkBudgetMs ?? 6000;
    const queue = [...pending];
    // A check that fails with something other than CAMS (the store, a bug) stops the others from
    // starting new checks; the sweep waits for those in flight before it reports the failure, so the
    // lease is never released while a worker still calls CAMS or writes.
    let failure: { error: unknown } | undefined;
    const check = async (next: { id: string; target: WatchTarget }) => {
      try {
        await checkTarget(this.opts.cams, next.target, round.id, this.checkContext());
        successes++;
        await this.clearMonitorAlert(next.target, 'TargetRejected', round.id);
        await this.markDone(round.id, next.id);
        report.checked++;
      } catch (e) {
        if (!isCamsError(e)) throw e;
        if (AUTH_CODES.has(e.Code)) {
          authFailure = e;
        } else if (e.retryable || e.Code === 'DeadlineExceeded') {
          // Left pending: the next tick tries again. Only a CAMS that answers nothing becomes an alert.
          report.transientFailures++;
          if (!isThrottlingCode(e.Code)) unreachable = e;
        } else {
          await this.observeMonitor(monitorSubject('TargetRejected', next.target), 'ERROR', [camsFault(e)], round.id);
          await this.markDone(round.id, next.id);
          report.checked++;
        }
      }
    };
    const worker = async () => {
      for (;;) {
        if (authFailure || failure) return;
        if (this.opts.deadline - this.now() < budget) return;
        const next = queue.shift();
        if (!next) return;
        try {
          await check(next);
        } catch (e) {
          failure ??= { error: e };
          return;
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

    const after = await store.get<SweepRound>(ROUND_KEY);
    const remaining = targets.filter((t) => !after?.value.done.includes(t.id)).length;
    report.pending = remaining;
    report.roundComplete = remaining === 0;
    if (remaining === 0) {
      await update<SweepRound>(store, ROUND_KEY, (r) => (r && r.id === round.id ? { ...r, completedAt: this.alertNow() } : undefined));
    }
    this.log({ level: 'info', msg: 'sweep', ...report });
    return report;
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

  private async currentRound(): Promise<SweepRound> {
    const result = await update<SweepRound>(this.opts.store, ROUND_KEY, (r) =>
      r && r.completedAt === undefined ? undefined : { id: `${this.now()}-${randomUUID().slice(0, 8)}`, startedAt: this.now(), done: [] },
    );
    return result!.value;
  }

  private async markDone(roundId: string, targetId: string): Promise<void> {
    await update<SweepRound>(this.opts.store, ROUND_KEY, (r) =>
      r && r.id === roundId && !r.done.includes(targetId) ? { ...r, done: [...r.done, targetId] } : undefined,
    );
  }

  private checkContext(): CheckContext {
    return { store: this.opts.store, policy: this.opts.policy, sinks: this.opts.sinks.map((s) => s.name), now: this.alertNow, deadline: this.opts.deadline, ...(this.opts.history === false ? { history: false } : {}) };
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
    const existing = await this.opts.store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject));
    if (existing?.value.firing) await this.observeMonitor(subject, 'AVAILABLE', [], roundId);
  }

  private async observeTargetProblems(problems: readonly TargetProblem[], roundId: string): Promise<Set<string>> {
    const seen = new Set<string>();
    for (const p of problems) {
      const subject: AlertSubject = { nodeType: 'monitor', entityType: 'InvalidTarget', ref: p.where };
      seen.add(fingerprintOf(subject));
      await this.observeMonitor(
        subject,
        'ERROR',
        [{ ErrorCode: 'InvalidTarget', ErrorDescription: `${p.where}: ${p.message}`, PossibleSolution: 'Fix the target (see GetWhatsappHealthStatus params per NodeType) or remove it.' }],
        roundId,
      );
    }
    return seen;
  }

  /** An invalid-target alert whose target was fixed or removed is resolved. */
  private async resolveVanishedTargetProblems(stillInvalid: Set<string>, roundId: string): Promise<void> {
    for (const s of await this.opts.store.list<EntityState>(ENTITY_PREFIX)) {
      const st = s.value;
      if (st.subject.nodeType === 'monitor' && st.subject.entityType === 'InvalidTarget' && st.firing && !stillInvalid.has(st.fingerprint)) {
        await this.observeMonitor(st.subject, 'AVAILABLE', [], roundId);
      }
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
