import { createHash } from 'node:crypto';
import type { CanSendMessage, HealthError } from '../cams/operations.ts';
import type { AlertItem, AlertSubject } from '../alerts/model.ts';

export type ObservedStatus = CanSendMessage | 'ERROR';

/**
 * Stands for "every sink the deliverer has" in pendingSinks. Functions that only record alerts
 * (onboarding) do not know the sinks; the deliverer (the health monitor) resolves it to its own
 * configured sinks when it delivers, so such an alert is never owed to nobody.
 */
export const EVERY_SINK = '*';

/**
 * The monitor's own alerts that say no check is being answered (sweep.ts, observeOwnHealth: CAMS
 * refused the monitor's credentials, or answered none of a tick's checks). While one fires, every
 * node's state is as its last answered check left it: the status page's headline says so.
 */
export const CHECKS_UNANSWERED_ALERTS: ReadonlySet<string> = new Set(['AuthRefused', 'CamsUnreachable']);

/**
 * Entities no GetWhatsappHealthStatus reply reports: only receipts and discovery decide them. Their
 * WabaId is not CAMS's word about their space: discovery names them by the node's WabaId, which a
 * Discover entry's poster typed (a wrong one too), and a receipt was matched to its space by the index.
 */
export const UNOBSERVED_TYPES: ReadonlySet<string> = new Set(['PHONE_QUALITY', 'TEMPLATE_STATUS', 'WABA_REVIEW']);

/** A delivery still owed: one alert item, and the sinks that have not yet confirmed it. */
export interface OutboxEntry {
  id: string;
  group: string;
  item: AlertItem;
  pendingSinks: string[];
  createdAt: number;
}

/**
 * Everything the monitor knows about one entity, in one store key so that every change (status,
 * notification decision, owed deliveries) is one compare-and-set: nothing lost, nothing doubled.
 */
export interface EntityState {
  fingerprint: string;
  subject: AlertSubject;
  node: string;
  group: string;
  status: ObservedStatus;
  /** Epoch ms the current status began. */
  since: number;
  /** Epoch ms the node stopped being AVAILABLE (kept through LIMITED ↔ BLOCKED), for the recovery's duration. */
  badSince?: number;
  /** The worst status since badSince. */
  worstStatus?: ObservedStatus;
  errors: HealthError[];
  consecutiveBad: number;
  /** The sweep round that last counted this entity (so one round counts once). */
  lastRound?: string;
  lastCheckedAt: number;
  /**
   * Epoch ms (alert clock) what the state says was read: a listing's read (Observation.readAt), a
   * receipt's arrival, a check's reply (Observation.receivedAt). A listing's read is judged against it,
   * not against lastCheckedAt, which is when it was applied: a read applied late (another Discover
   * entry's listing of the space, a receipt received before a listing's read) is not newer for that.
   * A record from before has none: lastCheckedAt stands for it (check.ts heldSince).
   */
  readAt?: number;
  /** Whether a firing notification is out (and a resolved one is owed when it clears). */
  firing: boolean;
  notifiedStatus?: ObservedStatus;
  notifiedCodes?: string[];
  lastNotifiedAt?: number;
  /** What node history last recorded (shared/history): unchanged means nothing to write. */
  historyMark?: string;
  /** The number's last known quality rating (PHONE_QUALITY), which history and the status page show. */
  quality?: string;
  /**
   * Epoch ms a notification was first held back because the entity's WABA was BLOCKED (a phone or
   * template: the WABA's alert covers it). Set while the hold keeps one back; when the WABA's hold
   * ends it is decided again without it (inhibition.ts), so it goes out then, once.
   */
  held?: number;
  /**
   * Per sink, what it last heard of this alert: the last item the deliverer struck off as sent to it
   * (a message it refused for good is not heard). `notifiedStatus` follows what was composed, struck
   * ones included; a silence's end owes its struck item only to a sink this says heard otherwise.
   */
  heard?: Record<string, Heard>;
  /**
   * Per sink, epoch ms its reminder clock started when that is not `lastNotifiedAt`: what it last heard
   * (`heard`'s at) when a silence's end owed it nothing (what was composed since was struck), or its
   * clock kept when a reminder went to other sinks only. Dropped for a sink once something is composed for it.
   */
  remindFrom?: Record<string, number>;
  /** The last notification a silence kept back (shared/silences): owed again if the silence ends while this fires. */
  silenced?: {
    silenceId: string;
    at: number;
    item: AlertItem;
    /** The sinks the struck notifications were still owed to (a record from before: every sink). */
    sinks?: string[];
    /**
     * The sinks never told of the incident (its `new` was struck while still owed to them); the
     * others heard of it before the silence. A record of a resolution (`item.reason` resolved) is
     * owed, when the silence ends, to the sinks that heard of the incident, so theirs is closed.
     */
    unheard?: string[];
    /**
     * While a later incident is recorded: the resolution of an earlier one struck under the silence,
     * and the sinks that heard of that one, owed it first when the silence ends.
     */
    closing?: { item: AlertItem; sinks: string[] };
  };
  /**
   * Epoch ms (alert clock) since which no watched target reaches this entity (shared/monitor/unwatched.ts):
   * it is in no report, page or count, and is deleted once its outbox is empty (its close-out sent).
   * Observed again (watched again), it starts afresh.
   */
  unwatchedAt?: number;
  /** Notifications composed so far; makes outbox ids unique. */
  seq: number;
  outbox: OutboxEntry[];
}

/** What a sink heard of an alert: as `evaluate` tells a change, by status and error codes. */
export interface Heard {
  status: AlertItem['status'];
  codes: string[];
  /** Epoch ms (alert clock) it was struck off as sent. */
  at: number;
}

/** When `sink`'s reminder clock started: a repeat interval after it, the sink is reminded of a firing alert. */
export function reminderClock(s: EntityState, sink: string): number {
  const last = s.lastNotifiedAt ?? 0;
  // Every sink: the earliest of theirs.
  if (sink === EVERY_SINK) return Math.min(last, ...Object.values(s.remindFrom ?? {}));
  return s.remindFrom?.[sink] ?? last;
}

/** `remindFrom` with `set` added and `drop`'s sinks taken out; undefined when it names none. */
export function withClocks(remindFrom: EntityState['remindFrom'], set: Readonly<Record<string, number>>, drop: readonly string[] = []): EntityState['remindFrom'] {
  const next = drop.includes(EVERY_SINK) ? { ...set } : { ...remindFrom, ...set };
  for (const k of drop) if (!(k in set)) delete next[k];
  return Object.keys(next).length > 0 ? next : undefined;
}

export function heardItem(item: AlertItem, at: number): Heard {
  return { status: item.status, codes: errorCodes(item.errors), at };
}

/** Whether `item` says what `heard` did (a resolution is one whatever its codes). */
export function sameAsHeard(item: AlertItem, heard: Heard): boolean {
  if (item.status !== heard.status) return false;
  if (item.status === 'RESOLVED') return true;
  const codes = errorCodes(item.errors);
  return codes.length === heard.codes.length && codes.every((c, i) => c === heard.codes[i]);
}

/** Of `entries`, the last decided (by createdAt, then sequence: the order the deliverer sends in). */
export function lastDecided(entries: readonly OutboxEntry[]): OutboxEntry | undefined {
  const seq = (e: OutboxEntry) => Number(e.id.slice(e.id.lastIndexOf('.') + 1));
  return entries.reduce<OutboxEntry | undefined>((last, e) => (!last || e.createdAt > last.createdAt || (e.createdAt === last.createdAt && seq(e) > seq(last)) ? e : last), undefined);
}

export function fingerprintOf(subject: AlertSubject): string {
  const parts = [subject.nodeType, subject.entityType, subject.ref, subject.custSpaceId, subject.wabaId, subject.phoneNumber, subject.templateCode, subject.language];
  return createHash('sha256').update(parts.map((p) => p ?? '').join('\u001f')).digest('hex').slice(0, 24);
}

export function groupOf(subject: AlertSubject): string {
  if (subject.nodeType === 'monitor') return 'monitor';
  if (subject.wabaId) return `waba:${subject.wabaId}`;
  return `space:${subject.custSpaceId ?? '-'}`;
}

export function describeNode(subject: AlertSubject): string {
  if (subject.nodeType === 'monitor') {
    const about = subject.ref ?? (subject.custSpaceId ? targetLabel(subject) : undefined);
    return about ? `monitor: ${subject.entityType} (${about})` : `monitor: ${subject.entityType}`;
  }
  // A WABA, phone or template is named by its own label ("WABA 22…", not "WABA WABA 22…"); the
  // entities CAMS or the monitor report about one (PHONE_QUALITY, BUSINESS…) say which they are.
  return NAMED_BY_LABEL.has(subject.entityType) ? targetLabel(subject) : `${subject.entityType} ${targetLabel(subject)}`;
}

const NAMED_BY_LABEL = new Set(['WABA', 'PHONE_NUMBER', 'MESSAGE_TEMPLATE']);

function targetLabel(s: AlertSubject): string {
  const bits: string[] = [];
  if (s.phoneNumber) bits.push(`phone ${s.phoneNumber}`);
  if (s.templateCode) bits.push(`template ${s.templateCode}${s.language ? `/${s.language}` : ''}`);
  if (s.wabaId) bits.push(`WABA ${s.wabaId}`);
  if (s.custSpaceId) bits.push(`space ${s.custSpaceId}`);
  return bits.join(' · ') || '-';
}

export function errorCodes(errors: readonly HealthError[]): string[] {
  return [...new Set(errors.map((e) => e.ErrorCode))].sort();
}
