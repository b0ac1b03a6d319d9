import type { EntityState } from '../monitor/entity-state.ts';
import { ENTITY_PREFIX } from '../monitor/entity-store.ts';
import { ROUND_KEY, type SweepRound } from '../monitor/sweep.ts';
import { parseMonitorTargets } from '../monitor/targets.ts';
import { receiptSummary } from '../receipts/summary.ts';
import { silenceState } from '../silences/silence.ts';
import { listSilences } from '../silences/store.ts';
import { silencedNow } from '../status-page/view.ts';
import { keyOfNextToken, nextTokenOf } from '../store/next-token.ts';
import type { Store } from '../store/port.ts';

export const REPORT_MAX_PAGE_SIZE = 1000;
const REPORT_DEFAULT_PAGE_SIZE = 500;
/** The most entities one read past unwatched ones takes. */
const READ_ON_MAX = 2000;
/** Unknown WABAs shown (they expire after a week; the report stays bounded however many there are). */
const REPORT_UNKNOWN_WABAS = 100;

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The entity key a NextToken names (../store/next-token.ts). */
export function decodeReportToken(token: string): string | undefined {
  return keyOfNextToken(token, ENTITY_PREFIX);
}

/**
 * The monitor's current view, read from the store, one page at a time so it stays small and fast at
 * any size: the round's progress (one key the sweep updates each tick) and a page of node states in
 * store order, with the push receipts' counts. A page reads only its own entities (and reads on past
 * unwatched ones: no watched target reaches them, and they are deleted once their close-out is sent);
 * the watch list itself is paged by GET /watch-list.
 */
export async function healthReport(
  store: Store,
  page: { pageSize?: number; after?: string } = {},
  env: Record<string, string | undefined> = process.env,
  now: number = Date.now(),
): Promise<Record<string, unknown>> {
  const pageSize = page.pageSize ?? REPORT_DEFAULT_PAGE_SIZE;
  const { problems } = parseMonitorTargets(env['MONITOR_TARGETS']);
  // One more than the page, to know whether another page follows.
  const batch = (after: string | undefined, limit = pageSize + 1) => store.list<EntityState>(ENTITY_PREFIX, { ...(after !== undefined ? { after } : {}), limit });
  // The silences in force, read once per page (not per node), for what each node has held back.
  const [round, first, receipts, inForce] = await Promise.all([
    store.get<SweepRound>(ROUND_KEY),
    batch(page.after),
    receiptSummary(store, REPORT_UNKNOWN_WABAS),
    listSilences(store, now),
  ]);
  const active = inForce.silences.filter((x) => silenceState(x, now) === 'active');
  const entities = first.filter((e) => e.value.unwatchedAt === undefined);
  // Reading on past unwatched entities (many while a sink is down and their close-outs wait), twice
  // as many each time: round trips grow with the log of how many, not with how many ÷ PageSize.
  for (let read = first, limit = pageSize + 1; entities.length <= pageSize && read.length === limit; ) {
    limit = Math.min(Math.max(limit * 2, pageSize + 1), READ_ON_MAX);
    read = await batch(read.at(-1)!.key, limit);
    entities.push(...read.filter((e) => e.value.unwatchedAt === undefined));
  }
  const shown = entities.slice(0, pageSize);
  const last = shown.at(-1);
  const r = round?.value;
  return {
    GeneratedAt: new Date(now).toISOString(),
    Round: r
      ? { Id: r.id, StartedAt: iso(r.startedAt), CompletedAt: iso(r.completedAt), Checked: r.checked ?? 0, Total: r.total ?? null, UpdatedAt: iso(r.updatedAt) }
      : null,
    TargetProblems: problems.map(({ where, message }) => ({ where, message })),
    // Push receipts (cams-events): counts, and WABAs receipts named that nothing watched belongs to
    // (not alerted; the first REPORT_UNKNOWN_WABAS, and whether more are kept).
    Receipts: { Stats: receipts.stats, UnknownWabas: receipts.unknownWabas, ...(receipts.moreUnknownWabas ? { MoreUnknownWabas: true } : {}) },
    Nodes: shown.map(({ value: s }) => {
      const silencedBy = silencedNow(s, active);
      return {
        Node: s.node,
        Group: s.group,
        EntityType: s.subject.entityType,
        NodeType: s.subject.nodeType,
        CanSendMessage: s.status,
        Since: iso(s.since),
        Errors: s.errors,
        Firing: s.firing,
        LastCheckedAt: iso(s.lastCheckedAt),
        LastNotifiedAt: iso(s.lastNotifiedAt),
        OwedDeliveries: s.outbox.reduce((n, e) => n + e.pendingSinks.length, 0),
        // From the entity itself (no read of its WABA): the rules' own mark of a notification held back because its WABA is BLOCKED.
        HeldBack: s.held !== undefined,
        ...(s.held !== undefined ? { HeldSince: iso(s.held) } : {}),
        // As the status page tags it: an active silence holding back an alert of it.
        ...(silencedBy ? { SilencedBy: silencedBy } : {}),
        ...(s.quality !== undefined ? { Quality: s.quality } : {}),
      };
    }),
    PageSize: pageSize,
    ...(entities.length > pageSize && last ? { NextToken: nextTokenOf(last.key) } : {}),
  };
}
