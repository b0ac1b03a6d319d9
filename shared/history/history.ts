import type { AlertSubject } from '../alerts/model.ts';
import type { HealthError } from '../cams/operations.ts';
import type { ObservedStatus } from '../monitor/entity-state.ts';

/** How far back history goes: the status page's bars show this many days. */
export const HISTORY_DAYS = 90;
/** At most this many transitions are kept per node (the oldest go first; the latest always stays). */
export const MAX_TRANSITIONS = 200;
const DAY_MS = 86_400_000;

/** One change of a node's state, or of a number's quality rating within one (LIMITED: YELLOW → GREEN, its tier still dropped). */
export interface Transition {
  /** Epoch ms the new state (or rating) began. */
  at: number;
  from: ObservedStatus;
  to: ObservedStatus;
  errors: HealthError[];
  /** The quality rating, when one is known (a receipt or discovery's listing): as of this transition. */
  quality?: string;
}

/** The worst state a node was seen in on one UTC day. */
export interface DayBucket {
  /** YYYY-MM-DD (UTC). */
  day: string;
  worst: ObservedStatus;
}

/** Everything kept about one node's past, in one store key. */
export interface NodeHistory {
  fingerprint: string;
  subject: AlertSubject;
  node: string;
  /** `quality`: a number's rating when it was first seen (PHONE_QUALITY; absent in a history from before it was kept). */
  firstSeen: { at: number; status: ObservedStatus; quality?: string };
  /** Oldest first. */
  transitions: Transition[];
  /** Oldest first, one per day the node was checked. */
  days: DayBucket[];
  /**
   * A number's rating learnt after the last transition (or firstSeen) had none: a history an earlier
   * version wrote, or a number first seen without one. What the next sync compares with; not shown.
   */
  quality?: string;
}

/** What history needs from the monitor's current view of a node. */
export interface NodeNow {
  fingerprint: string;
  subject: AlertSubject;
  node: string;
  status: ObservedStatus;
  /** Epoch ms the current status began. */
  since: number;
  errors: HealthError[];
  quality?: string;
}

/** How bad each state is: a day's cell, an outage and a group show the worst. */
export const BADNESS: Record<ObservedStatus, number> = { AVAILABLE: 0, LIMITED: 1, ERROR: 2, BLOCKED: 3 };

export function worseOf(a: ObservedStatus, b: ObservedStatus): ObservedStatus {
  return BADNESS[b] > BADNESS[a] ? b : a;
}

const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The part of a mark that says which state (and a number's rating) was recorded. */
const stateMark = (n: Pick<NodeNow, 'status' | 'since' | 'quality'>): string => `|${n.status}|${n.since}${n.quality ? `|${n.quality}` : ''}`;

/**
 * A cheap summary of what history would record for `n` at `now`: when it is the same as the last one
 * written, nothing can have changed (a changed status has a new `since`; a changed rating is in it;
 * a new day a new date). Only a number's quality entity has a rating: every other mark is as before.
 */
export function historyMark(n: Pick<NodeNow, 'status' | 'since' | 'quality'>, now: number): string {
  return `${dayOf(now)}${stateMark(n)}`;
}

/** Whether `mark` (historyMark's, on the entity) is of the state `n`: that state was written to its history. */
export function markRecords(mark: string | undefined, n: Pick<NodeNow, 'status' | 'since' | 'quality'>): boolean {
  return mark !== undefined && mark.endsWith(stateMark(n));
}

/**
 * Brings a node's history up to its current state: a transition when the state differs from the
 * last one recorded, or the number's quality rating does (one LIMITED for both YELLOW and a dropped
 * tier: the rating's return to GREEN is a change the reader must see), so applying it twice records
 * once; the day's worst state; and retention
 * (HISTORY_DAYS, MAX_TRANSITIONS). Returns undefined when nothing changed.
 */
export function syncHistory(h: NodeHistory | undefined, n: NodeNow, now: number): NodeHistory | undefined {
  const today = dayOf(now);
  if (!h) {
    return {
      fingerprint: n.fingerprint,
      subject: n.subject,
      node: n.node,
      firstSeen: { at: n.since, status: n.status, ...(n.quality ? { quality: n.quality } : {}) },
      transitions: [],
      days: [{ day: today, worst: n.status }],
    };
  }
  let changed = false;
  const transitions = [...h.transitions];
  const last = transitions.at(-1)?.to ?? h.firstSeen.status;
  // A rating, once known, stays on the entity: the last transition's (or firstSeen's) is the one recorded.
  const lastQuality = (transitions.length > 0 ? transitions.at(-1)!.quality : h.firstSeen.quality) ?? h.quality;
  // A rating first learnt is no change: every number's history an earlier version wrote would get
  // one (AVAILABLE → AVAILABLE) at the upgrade. It is kept to compare the next one with.
  const rated = n.quality !== undefined && lastQuality !== undefined && n.quality !== lastQuality;
  let learnt: string | undefined = lastQuality === undefined ? n.quality : h.quality;
  if (last !== n.status || rated) {
    // A rating changed within one state began when it was observed (the state's since is older).
    transitions.push({ at: last !== n.status ? n.since : now, from: last, to: n.status, errors: n.errors, ...(n.quality ? { quality: n.quality } : {}) });
    learnt = undefined;
    changed = true;
  }
  if (learnt !== h.quality) changed = true;
  const days = [...h.days];
  // Its own day's bucket, not the last one: a write whose clock was read before midnight can land
  // after one of the next day (another instance's, a compare-and-set retried), and pushed after it,
  // a second bucket of that day hid the first (BLOCKED) from the bars, and the next day got a second too.
  const at = days.findLastIndex((d) => d.day <= today);
  if (days[at]?.day !== today) {
    days.splice(at + 1, 0, { day: today, worst: n.status });
    changed = true;
  } else if (worseOf(days[at]!.worst, n.status) !== days[at]!.worst) {
    days[at] = { day: today, worst: n.status };
    changed = true;
  }
  // A transition caught up late (the check that decided it could not write history; a later day's
  // check does) counts on the day it began too, as the check that saw it would have.
  const began = dayOf(n.since);
  if (last !== n.status && began < today) {
    const i = days.findIndex((d) => d.day >= began); // found: today's bucket is last
    if (days[i]!.day !== began) days.splice(i, 0, { day: began, worst: n.status });
    else if (worseOf(days[i]!.worst, n.status) !== days[i]!.worst) days[i] = { day: began, worst: n.status };
  }
  const kept = retained({ transitions, days }, now);
  if (kept.transitions.length !== transitions.length || kept.days.length !== days.length) changed = true;
  if (!changed) return undefined;
  const { quality: _learnt, ...rest } = h;
  return { ...rest, subject: n.subject, node: n.node, ...kept, ...(learnt ? { quality: learnt } : {}) };
}

/**
 * What retention keeps of a history at `now` (HISTORY_DAYS UTC days, MAX_TRANSITIONS): applied when
 * history is written, and when it is read (a node no check reached for a while was not written since).
 */
export function retained(h: Pick<NodeHistory, 'transitions' | 'days'>, now: number): Pick<NodeHistory, 'transitions' | 'days'> {
  const firstDay = dayOf(now - (HISTORY_DAYS - 1) * DAY_MS);
  const { transitions } = h;
  // Transitions of the same UTC days as the buckets (none on a day history no longer has), but the
  // transition into the current state is kept however old: it says what the node is in and since
  // when (the report's Since), and it is what the next sync compares with (without it, firstSeen's state
  // would stand in, and a recovery after 90 days in one state would go unrecorded). The last one is
  // kept too when a rating changed after it (LIMITED → LIMITED): the next sync compares its rating.
  const entered = transitions.findLastIndex((t) => t.from !== t.to);
  return {
    transitions: transitions.filter((t, i) => dayOf(t.at) >= firstDay || i === transitions.length - 1 || i === entered).slice(-MAX_TRANSITIONS),
    days: h.days.filter((d) => d.day >= firstDay),
  };
}

/**
 * The last HISTORY_DAYS days ending today, oldest first, each with the worst state seen that day, or
 * undefined for a day without a check.
 */
export function dailyBars(h: Pick<NodeHistory, 'days'> | undefined, now: number, count = HISTORY_DAYS): Array<{ day: string; worst?: ObservedStatus }> {
  const byDay = new Map((h?.days ?? []).map((d) => [d.day, d.worst]));
  const start = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate()) - (count - 1) * DAY_MS;
  return Array.from({ length: count }, (_, i) => {
    const day = dayOf(start + i * DAY_MS);
    const worst = byDay.get(day);
    return worst ? { day, worst } : { day };
  });
}
