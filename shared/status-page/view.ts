import type { HealthError } from '../cams/operations.ts';
import type { ReceiptStats } from '../receipts/dedup.ts';
import { BADNESS, dailyBars, HISTORY_DAYS, worseOf, type NodeHistory } from '../history/history.ts';
import { historyKey } from '../history/record.ts';
import { CHECKS_UNANSWERED_ALERTS, type EntityState, type ObservedStatus } from '../monitor/entity-state.ts';
import { matches, silenceState, type Silence, type SilenceState } from '../silences/silence.ts';

/** A group lists its healthy phones and templates one by one up to this many; above it, it counts them. */
export const HEALTHY_LISTED_MAX = 12;
/** A page of more nodes than this lists only what needs a look in every group (hundreds of small WABAs stay one short page). */
export const PAGE_LISTED_MAX = 500;
/**
 * Open incidents listed at the top of the page, worst and oldest first; the rest are counted (every
 * firing node is listed under its WABA anyway), so 2,000 LIMITED templates stay a page, not megabytes.
 */
export const INCIDENTS_LISTED_MAX = 100;

/** Consecutive days in the same state: one element, so 90 days of a quiet node cost one cell. */
export interface BarRun {
  from: string;
  to: string;
  days: number;
  state?: ObservedStatus;
}

export interface NodeView {
  label: string;
  entityType: string;
  status: ObservedStatus;
  since: number;
  lastCheckedAt: number;
  errors: HealthError[];
  /** Held back because its WABA is BLOCKED. */
  inhibited: boolean;
  silencedBy?: string;
  firing: boolean;
  bar: BarRun[];
}

export interface GroupView {
  id: string;
  label: string;
  /** The worst current state in the group. */
  worst: ObservedStatus;
  counts: Record<ObservedStatus, number>;
  /** The WABA's own entity (and BUSINESS/APP) first, then phones and templates. */
  nodes: NodeView[];
  /** Healthy nodes only counted (the group is large); `?waba=<id>` lists them. */
  healthyNotListed: number;
  /** The oldest last check among the group's nodes. */
  oldestCheck: number;
  bar: BarRun[];
}

export interface IncidentView {
  node: string;
  status: ObservedStatus;
  since: number;
  durationMs: number;
  silencedBy?: string;
  monitor: boolean;
  /** The monitor's own: its errors, as it is listed under no WABA (a node's are on its row there). */
  errors?: HealthError[];
}

export interface SilenceView {
  id: string;
  state: SilenceState;
  matchers: string;
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
  suppressed: number;
}

/** The monitor's sweep round (its record in the store): the page's states are as fresh as it. */
export interface SweepView {
  startedAt: number;
  /** Absent while the round is in progress. */
  completedAt?: number;
  checked: number;
  total?: number;
  /** Its last progress. */
  updatedAt: number;
}

/** The push receipts as GET /health-report gives them (receipts/summary.ts). */
export interface ReceiptsView {
  stats: ReceiptStats;
  /** WABAs receipts named that nothing watches: not alerted. */
  unknownWabas: Array<{ wabaId: string; lastAt?: number }>;
  /** More of them are kept than are listed. */
  more: boolean;
}

export interface StatusView {
  now: number;
  receipts?: ReceiptsView;
  /** Absent before the first sweep. */
  sweep?: SweepView;
  groups: GroupView[];
  /**
   * The monitor's own (listed nowhere else), then the worst and oldest, INCIDENTS_LISTED_MAX in all;
   * each but the monitor's is also listed under its WABA.
   */
  incidents: IncidentView[];
  /** How many are firing, listed or not. */
  incidentCount: number;
  silences: SilenceView[];
  /** Some that ended in the last 7 days are not listed (GET /silences lists them). */
  moreEndedSilences: boolean;
  counts: Record<ObservedStatus, number>;
  /**
   * The headline: the worst of the nodes' states and the monitor's own firing alerts' (ERROR), so a
   * page whose checks get no answer does not read AVAILABLE from the states they left.
   */
  overall: ObservedStatus;
  /** The monitor's own firing alerts by name (AuthRefused: 1, TargetRejected: 3), as the headline names them. */
  monitorAlerts: Array<{ name: string; count: number }>;
  /**
   * Set while an alert saying no check is answered fires (CHECKS_UNANSWERED_ALERTS): which, and since
   * when (the earliest began): every state on the page is from before and may be stale.
   */
  stale?: { since: number; alerts: string[] };
  /** Set when the page shows one WABA in full (`?waba=`). */
  only?: string;
}

export interface StatusInput {
  now: number;
  entities: readonly EntityState[];
  /**
   * Each node's history by its store key: the record itself, or only its days on the page as
   * dayWindow gives them (what statusPageHtml reads, so a page of 10,000 nodes keeps 90 bytes of
   * each history, not the record).
   */
  histories: ReadonlyMap<string, Pick<NodeHistory, 'days'> | DayWindow>;
  silences: readonly Silence[];
  /** Some that ended lately were left out of `silences`. */
  moreEndedSilences?: boolean;
  /** Show this group in full (every healthy node). */
  only?: string;
  sweep?: SweepView;
  receipts?: ReceiptsView;
}

const CHILD = new Set(['PHONE_NUMBER', 'MESSAGE_TEMPLATE']);
const zero = (): Record<ObservedStatus, number> => ({ AVAILABLE: 0, LIMITED: 0, BLOCKED: 0, ERROR: 0 });
const RANK: Record<ObservedStatus, number> = { BLOCKED: 0, ERROR: 1, LIMITED: 2, AVAILABLE: 3 };

/** The last HISTORY_DAYS UTC days ending with `now`'s, oldest first (computed once per page). */
export function lastDays(now: number): string[] {
  return dailyBars(undefined, now, HISTORY_DAYS).map((d) => d.day);
}

/**
 * A node's worst state on each of the page's days, as BADNESS (−1: not checked that day), in the
 * order of `days`.
 */
export type DayWindow = Int8Array;

/** A history's days on the page (both lists are sorted: one walk). */
export function dayWindow(h: Pick<NodeHistory, 'days'> | DayWindow | undefined, days: readonly string[]): DayWindow {
  if (h instanceof Int8Array) return h;
  const w = new Int8Array(days.length).fill(-1);
  let i = 0;
  for (const d of h?.days ?? []) {
    while (i < days.length && days[i]! < d.day) i++;
    if (i === days.length) break;
    if (days[i] === d.day) w[i] = BADNESS[d.worst] ?? -1;
  }
  return w;
}

const STATES: readonly ObservedStatus[] = ['AVAILABLE', 'LIMITED', 'ERROR', 'BLOCKED'];

/** A node's bar: its state on each of the page's days, equal neighbours merged. */
export function barRuns(h: Pick<NodeHistory, 'days'> | DayWindow | undefined, days: readonly string[]): BarRun[] {
  const w = dayWindow(h, days);
  const runs: BarRun[] = [];
  days.forEach((day, i) => {
    const state = w[i]! >= 0 ? STATES[w[i]!] : undefined;
    const last = runs.at(-1);
    if (last && last.state === state) {
      last.to = day;
      last.days++;
    } else runs.push(state ? { from: day, to: day, days: 1, state } : { from: day, to: day, days: 1 });
  });
  return runs;
}

/**
 * The day-by-day worst of several nodes (a WABA group's bar), and which of them had a bad day, in
 * numbers, as it runs for every day of every node on the page.
 */
function mergeDays(ws: readonly DayWindow[], days: readonly string[]): { merged: DayWindow; bad: boolean[] } {
  const merged = new Int8Array(days.length).fill(-1);
  const bad = ws.map((w) => {
    let hadBad = false;
    for (let i = 0; i < days.length; i++) {
      if (w[i]! > 0) hadBad = true;
      if (w[i]! > merged[i]!) merged[i] = w[i]!;
    }
    return hadBad;
  });
  return { merged, bad };
}

/** A node's row in its WABA's group: the WABA goes without saying, which phone or template does not. */
function label(s: EntityState): string {
  const sub = s.subject;
  const phone = `phone ${sub.phoneNumber ?? '?'}`;
  const template = `template ${sub.templateCode ?? '?'}${sub.language ? ` (${sub.language})` : ''}`;
  if (sub.entityType === 'PHONE_NUMBER') return phone;
  if (sub.entityType === 'MESSAGE_TEMPLATE') return template;
  if (sub.entityType === 'WABA') return `WABA ${sub.wabaId ?? ''}`.trim();
  // The rating is the row's value: "phone X quality: GREEN", not a "quality GREEN" tag beside "phone X quality".
  if (sub.entityType === 'PHONE_QUALITY') return `${phone} quality${s.quality !== undefined ? `: ${s.quality}` : ''}`;
  if (sub.entityType === 'TEMPLATE_STATUS') return `${template} status`;
  if (sub.entityType === 'WABA_REVIEW') return sub.wabaId ? `WABA ${sub.wabaId} review` : 'WABA review';
  if (sub.phoneNumber) return `${phone} ${sub.entityType}`;
  if (sub.templateCode) return `${template} ${sub.entityType}`;
  return sub.entityType;
}

/**
 * Everything the page shows, from the monitor's state: grouped by WABA, worst first. Unwatched entities
 * (no watched target reaches them; their close-out may still be owed) are not shown or counted.
 */
export function buildStatusView(input: StatusInput): StatusView {
  const { now } = input;
  const days = lastDays(now);
  const active = input.silences.filter((s) => silenceState(s, now) === 'active');
  const byGroup = new Map<string, EntityState[]>();
  const incidents: IncidentView[] = [];
  const counts = zero();
  const monitor = new Map<string, number>();
  let overall: ObservedStatus = 'AVAILABLE';
  let stale: StatusView['stale'];
  for (const e of input.entities) {
    if (e.unwatchedAt !== undefined) continue;
    if (e.firing) incidents.push(incidentView(e, now, active));
    if (e.subject.nodeType === 'monitor') {
      // Silenced or not: a silence holds back the message, it does not make the states fresh.
      if (!e.firing) continue;
      overall = worseOf(overall, e.status);
      monitor.set(e.subject.entityType, (monitor.get(e.subject.entityType) ?? 0) + 1);
      if (CHECKS_UNANSWERED_ALERTS.has(e.subject.entityType)) {
        const since = e.badSince ?? e.since;
        stale = { since: Math.min(since, stale?.since ?? since), alerts: [...(stale?.alerts ?? []), e.subject.entityType].sort() };
      }
      continue;
    }
    overall = worseOf(overall, e.status);
    counts[e.status]++;
    const list = byGroup.get(e.group);
    if (list) list.push(e);
    else byGroup.set(e.group, [e]);
  }
  // The monitor's own first: they are listed under no WABA, so one cut here would be on the page nowhere.
  incidents.sort((a, b) => Number(b.monitor) - Number(a.monitor) || RANK[a.status] - RANK[b.status] || a.since - b.since);

  const groups: GroupView[] = [];
  for (const [id, members] of byGroup) {
    const wabaId = id.startsWith('waba:') ? id.slice(5) : undefined;
    if (input.only !== undefined && (wabaId ?? id) !== input.only) continue;
    groups.push(groupView(id, wabaId, members, { input, days, active, listQuiet: counts.AVAILABLE + counts.LIMITED + counts.BLOCKED + counts.ERROR <= PAGE_LISTED_MAX }));
  }
  groups.sort((a, b) => RANK[a.worst] - RANK[b.worst] || (a.label < b.label ? -1 : 1));
  return {
    now,
    ...(input.sweep ? { sweep: input.sweep } : {}),
    ...(input.receipts ? { receipts: input.receipts } : {}),
    groups,
    incidents: incidents.slice(0, INCIDENTS_LISTED_MAX),
    incidentCount: incidents.length,
    silences: silenceViews(input),
    moreEndedSilences: input.moreEndedSilences ?? false,
    counts,
    overall,
    monitorAlerts: [...monitor].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, count]) => ({ name, count })),
    ...(stale ? { stale } : {}),
    ...(input.only !== undefined ? { only: input.only } : {}),
  };
}

function incidentView(e: EntityState, now: number, active: readonly Silence[]): IncidentView {
  const since = e.badSince ?? e.since;
  const silencedBy = silencedNow(e, active);
  return {
    node: e.node,
    status: e.status,
    since,
    durationMs: Math.max(0, now - since),
    ...(silencedBy ? { silencedBy } : {}),
    monitor: e.subject.nodeType === 'monitor',
    ...(e.subject.nodeType === 'monitor' && e.errors.length > 0 ? { errors: e.errors } : {}),
  };
}

/**
 * The silence holding a node's alert back: recorded by the deliverer, or an active one covering a node
 * that has an alert for it to hold back (firing: its reminders, changes and resolution are struck; or
 * held by its BLOCKED WABA: struck when the hold ends). The group and the incidents agree. A quiet node
 * a silence covers (a WabaId silence over a WABA's AVAILABLE numbers) has nothing held back, so it is
 * not "silenced". Only an active silence holds anything back, as GET /silences counts: a record of one
 * that has ended (its alert is owed again at the next flush, or held by a BLOCKED WABA) does not make
 * the node silenced.
 */
export function silencedNow(e: EntityState, active: readonly Silence[]): string | undefined {
  const recorded = e.silenced && active.find((s) => s.SilenceId === e.silenced!.silenceId);
  if (recorded) return recorded.SilenceId;
  if (!e.firing && e.held === undefined) return undefined;
  return active.find((s) => matches(s, e.subject))?.SilenceId;
}

/** What every group of one page shares: the page's days, the silences active now, and whether the page is small enough to list quiet nodes. */
interface PageContext {
  input: StatusInput;
  days: readonly string[];
  active: readonly Silence[];
  listQuiet: boolean;
}

/** One WABA's (or space's) group: its counts, its bar, and the nodes it lists. */
function groupView(id: string, wabaId: string | undefined, members: readonly EntityState[], page: PageContext): GroupView {
  const { input, days, active } = page;
  const blocked = members.some((m) => m.subject.entityType === 'WABA' && m.status === 'BLOCKED');
  const counts = zero();
  let worst: ObservedStatus = 'AVAILABLE';
  for (const m of members) {
    counts[m.status]++;
    worst = worseOf(worst, m.status);
  }
  const histories = members.map((m) => dayWindow(input.histories.get(historyKey(m)), days));
  const { merged, bad } = mergeDays(histories, days);
  const children = members.filter((m) => CHILD.has(m.subject.entityType)).length;
  const listAll = input.only !== undefined || (page.listQuiet && children <= HEALTHY_LISTED_MAX);
  const nodes: NodeView[] = [];
  let healthyNotListed = 0;
  let oldestCheck = Infinity;
  members.forEach((m, i) => {
    oldestCheck = Math.min(oldestCheck, m.lastCheckedAt);
    // A large group lists what needs a look; its quiet nodes are counted (the group's bar covers them).
    if (!listAll && m.status === 'AVAILABLE' && !m.firing && !m.silenced && !bad[i]) {
      healthyNotListed++;
      return;
    }
    const silencedBy = silencedNow(m, active);
    nodes.push({
      label: label(m),
      entityType: m.subject.entityType,
      status: m.status,
      since: m.since,
      lastCheckedAt: m.lastCheckedAt,
      errors: m.errors,
      inhibited: blocked && CHILD.has(m.subject.entityType) && m.status !== 'AVAILABLE',
      ...(silencedBy ? { silencedBy } : {}),
      firing: m.firing,
      bar: barRuns(histories[i], days),
    });
  });
  nodes.sort((a, b) => Number(CHILD.has(a.entityType)) - Number(CHILD.has(b.entityType)) || RANK[a.status] - RANK[b.status] || (a.label < b.label ? -1 : 1));
  return {
    id: wabaId ?? id,
    label: wabaId ? `WABA ${wabaId}` : id.replace(/^space:/, 'space '),
    worst,
    counts,
    nodes,
    healthyNotListed,
    bar: barRuns(merged, days),
    oldestCheck,
  };
}

/** Every silence with its state now and how many nodes it holds back (an ended or pending one: none, as GET /silences says). */
function silenceViews(input: StatusInput): SilenceView[] {
  const suppressed = new Map<string, number>();
  for (const e of input.entities) if (e.silenced && e.unwatchedAt === undefined) suppressed.set(e.silenced.silenceId, (suppressed.get(e.silenced.silenceId) ?? 0) + 1);
  return input.silences.map((s) => ({
    id: s.SilenceId,
    state: silenceState(s, input.now),
    matchers: s.Matchers.map((m) => `${m.Name}=${m.Value}`).join(', '),
    startsAt: s.StartsAt,
    endsAt: s.EndsAt,
    createdBy: s.CreatedBy,
    comment: s.Comment,
    suppressed: silenceState(s, input.now) === 'active' ? (suppressed.get(s.SilenceId) ?? 0) : 0,
  }));
}
