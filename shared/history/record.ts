import type { EntityState } from '../monitor/entity-state.ts';
import { update, type Store } from '../store/port.ts';
import { historyMark, syncHistory, type NodeHistory } from './history.ts';

export const HISTORY_PREFIX = 'history/';

/** The store key of a node's history: per space, so one space's nodes are listed together. */
export function historyKey(s: Pick<EntityState, 'fingerprint' | 'subject'>): string {
  return historyKeyIn(s.subject.custSpaceId, s.fingerprint);
}

/** The same key from the space and the entity's fingerprint. */
export function historyKeyIn(custSpaceId: string | undefined, fingerprint: string): string {
  return `${HISTORY_PREFIX}${custSpaceId ?? '-'}/${fingerprint}`;
}

/**
 * Writes a node's history after its state was decided. Nothing is read or written unless the state
 * (or a number's rating) or the day changed since the last write (the entity's historyMark), so a steady sweep costs
 * nothing. Safe to repeat: history is synced to the entity, not appended to, and the mark is only
 * set after the history is written, so a crash in between is caught up at the next check.
 */
export async function recordHistory(store: Store, state: EntityState, entityKey: string, now: number): Promise<void> {
  if (state.subject.nodeType === 'monitor') return;
  const mark = historyMark(state, now);
  if (state.historyMark === mark) return;
  await update<NodeHistory>(store, historyKey(state), (h) => syncHistory(h, state, now));
  await update<EntityState>(store, entityKey, (current) =>
    current && current.status === state.status && current.since === state.since && current.quality === state.quality && current.historyMark !== mark
      ? { ...current, historyMark: mark }
      : undefined,
  );
}

/**
 * Histories are read this many at a time: a history of 90 days is about 4 KB of JSON, and a space of
 * 10,000 nodes held at once (as records) took more than a function's 256 MB.
 */
export const HISTORY_PAGE = 500;

/** Visits every stored history of a space (or of all spaces), a page at a time. */
export async function forEachHistory(store: Store, custSpaceId: string | undefined, visit: (key: string, h: NodeHistory) => void): Promise<void> {
  const prefix = HISTORY_PREFIX + (custSpaceId ? `${custSpaceId}/` : '');
  for (let after: string | undefined; ; ) {
    const page = await store.list<NodeHistory>(prefix, { limit: HISTORY_PAGE, ...(after !== undefined ? { after } : {}) });
    for (const r of page) visit(r.key, r.value);
    if (page.length < HISTORY_PAGE) return;
    after = page.at(-1)!.key;
  }
}

/** The stored histories of a space (or of all spaces) that `keep` accepts; only those are held. */
export async function listHistories(store: Store, custSpaceId?: string, keep: (h: NodeHistory) => boolean = () => true): Promise<NodeHistory[]> {
  const out: NodeHistory[] = [];
  await forEachHistory(store, custSpaceId, (_key, h) => {
    if (keep(h)) out.push(h);
  });
  return out;
}
