import type { AlertItem, AlertSubject, Severity } from '../alerts/model.ts';
import type { HealthError } from '../cams/operations.ts';
import { worseOf } from '../history/history.ts';
import { describeNode, errorCodes, EVERY_SINK, fingerprintOf, groupOf, reminderClock, withClocks, type EntityState, type ObservedStatus } from './entity-state.ts';

export interface AlertPolicy {
  /** Bad observations in a row (one per round) before the first notification. */
  minConsecutive: number;
  /** A firing alert that does not change is sent again after this long. */
  repeatIntervalMs: number;
}

export interface Observation {
  subject: AlertSubject;
  status: ObservedStatus;
  errors: HealthError[];
  /** A number's quality rating, when the observation knows it (PHONE_QUALITY: a receipt or discovery's listing). */
  quality?: string;
  /**
   * When its source said it (alert clock), for one applied some time after (discovery's reads of a
   * WABA's review, a template's review and a number's quality, applied once the listing is done): an
   * entity whose state was read since then (a receipt meanwhile, another Discover entry's later
   * listing of the space) knows better, and this one is not applied to it, but for a number's limit
   * tier, which no receipt says (check.ts sinceRead).
   */
  readAt?: number;
  /**
   * When an observation applied as it comes was read: a receipt's batch's arrival, a check's reply.
   * Recorded on the entity (EntityState.readAt), for a listing's read to be judged against; the
   * observation itself is never judged by it.
   */
  receivedAt?: number;
}

export interface EvaluationContext {
  now: number;
  round: string;
  policy: AlertPolicy;
  /** True while this entity's WABA is BLOCKED and the entity is a phone or template. */
  inhibited: boolean;
  sinks: readonly string[];
}

/**
 * The WABA's hold on a held entity ended: its last observation is decided again, now without the
 * inhibition, in the round it was counted in (so no round counts twice) and keeping when it was last
 * checked. A held new state becomes 'new', a held change 'changed'; nothing held, nothing sent.
 */
export function releaseHold(prev: EntityState, ctx: Omit<EvaluationContext, 'round' | 'inhibited'>): EntityState {
  if (prev.held === undefined || prev.unwatchedAt !== undefined) return prev;
  const next = evaluate(prev, { subject: prev.subject, status: prev.status, errors: prev.errors }, { ...ctx, round: prev.lastRound ?? '', inhibited: false });
  return { ...next, lastCheckedAt: prev.lastCheckedAt };
}

/**
 * A firing alert that no check observes (a template's review, TEMPLATE_STATUS, a WABA's, WABA_REVIEW,
 * or a number's quality, PHONE_QUALITY: only receipts and discovery say them) has its last observation decided again once the repeat
 * interval has passed since its last notification, so it is reminded like any firing alert. Decided
 * as a repeat of that observation: in the round it was counted in, keeping when it was last checked.
 * Undefined when no reminder is due (nothing to write).
 */
export function remindUnobserved(prev: EntityState, ctx: Omit<EvaluationContext, 'round' | 'inhibited'>): EntityState | undefined {
  if (!prev.firing || prev.unwatchedAt !== undefined || prev.held !== undefined || prev.status === 'AVAILABLE') return undefined;
  if (!reminderDue(prev, ctx)) return undefined;
  const next = evaluate(prev, { subject: prev.subject, status: prev.status, errors: prev.errors }, { ...ctx, round: prev.lastRound ?? '', inhibited: false });
  return { ...next, lastCheckedAt: prev.lastCheckedAt };
}

/** Whether a firing alert's reminder is due to any sink (each counts from its own clock, reminderClock). */
function reminderDue(s: EntityState, ctx: Pick<EvaluationContext, 'now' | 'policy' | 'sinks'>): boolean {
  if (ctx.sinks.length === 0) return ctx.now - (s.lastNotifiedAt ?? 0) >= ctx.policy.repeatIntervalMs;
  return ctx.sinks.some((k) => ctx.now - reminderClock(s, k) >= ctx.policy.repeatIntervalMs);
}

function severityOf(status: ObservedStatus): Severity {
  if (status === 'BLOCKED' || status === 'ERROR') return 'critical';
  if (status === 'LIMITED') return 'warning';
  return 'info';
}

function sameCodes(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return !!a && a.length === b.length && a.every((c, i) => c === b[i]);
}

/**
 * Alertmanager-style rules for one entity: notify on a new bad state (after minConsecutive rounds),
 * on a changed status or error set, on resolution, and again after the repeat interval. Inhibited
 * entities keep their state but send nothing until the inhibition lifts. An entity unwatched because
 * nothing watched it any more (its alert closed out) starts afresh when it is observed again; what
 * its outbox still owes stays owed.
 */
export function evaluate(stored: EntityState | undefined, obs: Observation, ctx: EvaluationContext): EntityState {
  const fingerprint = fingerprintOf(obs.subject);
  const prev = stored?.unwatchedAt === undefined ? stored : undefined;
  const base: EntityState = prev ?? {
    fingerprint,
    subject: obs.subject,
    node: describeNode(obs.subject),
    group: groupOf(obs.subject),
    status: 'AVAILABLE',
    since: ctx.now,
    errors: [],
    consecutiveBad: 0,
    lastCheckedAt: ctx.now,
    firing: false,
    seq: stored?.seq ?? 0,
    outbox: stored?.outbox ?? [],
  };
  const bad = obs.status !== 'AVAILABLE';
  const codes = errorCodes(obs.errors);
  const newRound = base.lastRound !== ctx.round;
  const next: EntityState = {
    ...base,
    subject: obs.subject,
    node: describeNode(obs.subject),
    group: groupOf(obs.subject),
    status: obs.status,
    since: base.status === obs.status && prev ? base.since : ctx.now,
    errors: obs.errors,
    consecutiveBad: !bad ? 0 : newRound ? base.consecutiveBad + 1 : Math.max(1, base.consecutiveBad),
    lastRound: ctx.round,
    lastCheckedAt: ctx.now,
    ...(obs.quality !== undefined ? { quality: obs.quality } : {}),
  };
  const wasBad = !!prev && base.status !== 'AVAILABLE';
  if (bad) {
    next.badSince = wasBad ? (base.badSince ?? base.since) : ctx.now;
    next.worstStatus = wasBad ? worseOf(base.worstStatus ?? base.status, obs.status) : obs.status;
  } else {
    delete next.badSince;
    delete next.worstStatus;
  }

  let reason: AlertItem['reason'] | undefined;
  if (bad) {
    if (!base.firing) {
      if (next.consecutiveBad >= ctx.policy.minConsecutive) reason = 'new';
    } else if (base.notifiedStatus !== obs.status || !sameCodes(base.notifiedCodes, codes)) reason = 'changed';
    else if (reminderDue(base, ctx)) reason = 'reminder';
  } else if (base.firing) {
    reason = 'resolved';
  }
  // Inhibited: what would be notified is held back (a recovery never is), and remembered as held,
  // so the end of the hold notifies it (releaseHold).
  if (ctx.inhibited && reason && reason !== 'resolved') {
    next.held = base.held ?? ctx.now;
    return next;
  }
  delete next.held;
  if (!reason) return next;
  let sinks = ctx.sinks;
  // Sinks left out of a reminder that is not yet due to them: their clocks stay as they were.
  let kept: Record<string, number> = {};
  if (reason === 'reminder') {
    // A sink still owed an earlier notification of this alert (it was down, or throttled) hears of it
    // with that one: a reminder queued behind it listed the node again in the same message.
    const waiting = new Set(base.outbox.filter((e) => e.item.reason !== 'resolved' && e.item.reason !== 'unwatched').flatMap((e) => e.pendingSinks));
    const due = (k: string) => ctx.now - reminderClock(base, k) >= ctx.policy.repeatIntervalMs;
    sinks = waiting.has(EVERY_SINK) ? [] : ctx.sinks.filter((s) => !waiting.has(s) && due(s));
    kept = Object.fromEntries(ctx.sinks.filter((k) => k !== EVERY_SINK && !waiting.has(k) && !due(k)).map((k) => [k, reminderClock(base, k)]));
    if (sinks.length === 0 && ctx.sinks.length > 0) {
      // The owed one stands for it: the next reminder is an interval from now.
      next.lastNotifiedAt = ctx.now;
      setClocks(next, withClocks(base.remindFrom, kept, [...waiting]));
      return next;
    }
  }

  const seq = base.seq + 1;
  const item: AlertItem = {
    fingerprint,
    subject: obs.subject,
    node: next.node,
    status: reason === 'resolved' ? 'RESOLVED' : obs.status,
    severity: reason === 'resolved' ? 'info' : severityOf(obs.status),
    since: new Date(next.since).toISOString(),
    errors: reason === 'resolved' ? (base.errors ?? []) : obs.errors,
    reason,
  };
  if (reason === 'resolved' && wasBad) {
    const from = base.badSince ?? base.since;
    item.outage = { worst: base.worstStatus ?? base.status, from: new Date(from).toISOString(), durationMs: Math.max(0, ctx.now - from) };
  }
  next.firing = reason !== 'resolved';
  next.notifiedStatus = obs.status;
  next.notifiedCodes = codes;
  next.lastNotifiedAt = ctx.now;
  // Composed for them: their clock is now. A resolution ends every sink's.
  setClocks(next, reason === 'resolved' ? undefined : withClocks(base.remindFrom, kept, sinks));
  next.seq = seq;
  if (sinks.length > 0) {
    next.outbox = [...base.outbox, { id: `${fingerprint}.${seq}`, group: next.group, item, pendingSinks: [...sinks], createdAt: ctx.now }];
  }
  return next;
}

/**
 * An entity no watched target reaches any more (shared/monitor/unwatched.ts): it stops firing, and
 * its firing alert is closed out once, calmly: an item with reason `unwatched`, status RESOLVED
 * (so a receiver closes the incident, as Alertmanager resolves the alerts of a removed target) and
 * severity info, carrying how long the node had been down. Nothing is re-evaluated. What the outbox
 * still owes stays owed and goes first (never lost); a silenced notification is dropped with the
 * alert. With no sink to tell, nothing is composed.
 */
export function unwatch(prev: EntityState, ctx: { now: number; sinks: readonly string[] }): EntityState {
  const next: EntityState = { ...prev, unwatchedAt: ctx.now, firing: false };
  delete next.silenced;
  delete next.remindFrom;
  delete next.held; // what its WABA held back is not owed to anyone now: no release may send it

  if (!prev.firing || ctx.sinks.length === 0) return next;
  const seq = prev.seq + 1;
  const item: AlertItem = {
    fingerprint: prev.fingerprint,
    subject: prev.subject,
    node: prev.node,
    status: 'RESOLVED',
    severity: 'info',
    since: new Date(ctx.now).toISOString(),
    errors: prev.errors,
    reason: 'unwatched',
  };
  if (prev.status !== 'AVAILABLE') {
    const from = prev.badSince ?? prev.since;
    item.outage = { worst: prev.worstStatus ?? prev.status, from: new Date(from).toISOString(), durationMs: Math.max(0, ctx.now - from) };
  }
  next.seq = seq;
  next.lastNotifiedAt = ctx.now;
  next.outbox = [...prev.outbox, { id: `${prev.fingerprint}.${seq}`, group: prev.group, item, pendingSinks: [...ctx.sinks], createdAt: ctx.now }];
  return next;
}

function setClocks(s: EntityState, remindFrom: EntityState['remindFrom']): void {
  if (remindFrom) s.remindFrom = remindFrom;
  else delete s.remindFrom;
}
