import { HISTORY_PREFIX } from '../history/record.ts';
import type { NodeHistory } from '../history/history.ts';
import { ENTITY_PREFIX } from '../monitor/dispatch.ts';
import type { EntityState } from '../monitor/entity-state.ts';
import { listSilences } from '../silences/store.ts';
import type { Store } from '../store/port.ts';
import { renderStatusPage } from '../status-page/render.ts';
import { buildStatusView } from '../status-page/view.ts';

/** The status page from the monitor's state in the store: nodes, their history, silences. */
export async function statusPageHtml(store: Store, opts: { now: number; only?: string | undefined; refreshSeconds: number }): Promise<string> {
  const [entities, histories, silences] = await Promise.all([
    store.list<EntityState>(ENTITY_PREFIX),
    store.list<NodeHistory>(HISTORY_PREFIX),
    listSilences(store, opts.now),
  ]);
  const view = buildStatusView({
    now: opts.now,
    entities: entities.map((e) => e.value),
    histories: new Map(histories.map((h) => [h.key, h.value])),
    silences,
    ...(opts.only !== undefined ? { only: opts.only } : {}),
  });
  return renderStatusPage(view, { refreshSeconds: opts.refreshSeconds });
}
