import { forEachHistory } from '../history/record.ts';
import { ENTITY_PREFIX } from '../monitor/dispatch.ts';
import type { EntityState } from '../monitor/entity-state.ts';
import { ROUND_KEY, type SweepRound } from '../monitor/round-plan.ts';
import { receiptSummary, type ReceiptSummary } from '../receipts/summary.ts';
import { listSilences } from '../silences/store.ts';
import type { Store } from '../store/port.ts';
import { renderStatusPage } from '../status-page/render.ts';
import { buildStatusView, dayWindow, lastDays, type DayWindow, type ReceiptsView, type SweepView } from '../status-page/view.ts';

/** WABAs that receipts named and nothing watches, listed (GET /health-report lists as many). */
const UNKNOWN_WABAS_LISTED = 100;

/** Ended silences the page lists, the last to end first: every one in force is listed, however many ended lately. */
export const ENDED_SILENCES_LISTED = 20;

/** The status page from the monitor's state in the store: nodes, their history, silences. */
export async function statusPageHtml(store: Store, opts: { now: number; only?: string | undefined; refreshSeconds: number }): Promise<string> {
  const [entities, histories, silences, round, receipts] = await Promise.all([
    store.list<EntityState>(ENTITY_PREFIX),
    dayWindows(store, lastDays(opts.now)),
    listSilences(store, opts.now, { ended: ENDED_SILENCES_LISTED }),
    store.get<SweepRound>(ROUND_KEY),
    receiptSummary(store, UNKNOWN_WABAS_LISTED),
  ]);
  const view = buildStatusView({
    now: opts.now,
    entities: entities.map((e) => e.value),
    histories,
    silences: silences.silences,
    moreEndedSilences: silences.moreEnded,
    ...(round ? { sweep: sweepView(round.value) } : {}),
    receipts: receiptsView(receipts),
    ...(opts.only !== undefined ? { only: opts.only } : {}),
  });
  return renderStatusPage(view, { refreshSeconds: opts.refreshSeconds });
}

/** Every node's days on the page, each history kept only as its days (forEachHistory reads them a page at a time). */
async function dayWindows(store: Store, days: readonly string[]): Promise<Map<string, DayWindow>> {
  const out = new Map<string, DayWindow>();
  await forEachHistory(store, undefined, (key, h) => out.set(key, dayWindow(h, days)));
  return out;
}

/** The round as GET /health-report gives it: when it started, completed, and how far it got. */
function sweepView(r: SweepRound): SweepView {
  return { startedAt: r.startedAt, checked: r.checked ?? 0, ...(r.completedAt !== undefined ? { completedAt: r.completedAt } : {}), ...(r.total !== undefined ? { total: r.total } : {}), updatedAt: r.updatedAt ?? r.startedAt };
}

/** The receipts' counts and unknown WABAs; a kept record's WabaId and LastAt as apply.ts writes them. */
function receiptsView(r: ReceiptSummary): ReceiptsView {
  const unknownWabas = r.unknownWabas.map((w) => {
    const lastAt = typeof w['LastAt'] === 'string' ? Date.parse(w['LastAt']) : NaN;
    return { wabaId: String(w['WabaId'] ?? '?'), ...(Number.isFinite(lastAt) ? { lastAt } : {}) };
  });
  return { stats: r.stats, unknownWabas, more: r.moreUnknownWabas };
}
