import { HISTORY_PREFIX } from '../history/record.ts';
import type { NodeHistory } from '../history/history.ts';
import { ENTITY_PREFIX } from '../monitor/dispatch.ts';
import type { EntityState } from '../monitor/entity-state.ts';
import { listSilences } from '../silences/store.ts';
import type { Store } from '../store/port.ts';
import { renderStatusPage } from '../status-page/render.ts';
import { buildStatusView, dayWindow, lastDays, type DayWindow } from '../status-page/view.ts';

/** Histories are read this many at a time, each kept only as its days on the page. */
export const HISTORY_PAGE = 500;

/** The status page from the monitor's state in the store: nodes, their history, silences. */
export async function statusPageHtml(store: Store, opts: { now: number; only?: string | undefined; refreshSeconds: number }): Promise<string> {
  const [entities, histories, silences] = await Promise.all([store.list<EntityState>(ENTITY_PREFIX), dayWindows(store, lastDays(opts.now)), listSilences(store, opts.now)]);
  const view = buildStatusView({
    now: opts.now,
    entities: entities.map((e) => e.value),
    histories,
    silences,
    ...(opts.only !== undefined ? { only: opts.only } : {}),
  });
  return renderStatusPage(view, { refreshSeconds: opts.refreshSeconds });
}

/**
 * Every node's days on the page, read a page of histories at a time: a history of 90 days is about
 * 4 KB of JSON, so 10,000 of them held at once (as records) took more than the function's 256 MB.
 */
async function dayWindows(store: Store, days: readonly string[]): Promise<Map<string, DayWindow>> {
  const out = new Map<string, DayWindow>();
  let after: string | undefined;
  for (;;) {
    const page = await store.list<NodeHistory>(HISTORY_PREFIX, { limit: HISTORY_PAGE, ...(after !== undefined ? { after } : {}) });
    for (const h of page) out.set(h.key, dayWindow(h.value, days));
    if (page.length < HISTORY_PAGE) return out;
    after = page.at(-1)!.key;
  }
}
