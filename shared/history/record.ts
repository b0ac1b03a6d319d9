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
 * or the day changed since the last write (the entity's historyMark), so a steady sweep costs
 * nothing. Safe to repeat: history is synced to the entity, not appended to, and the mark is only
 * set after the history is written, so a crash in between is caught up at the next check.
 */
export async function recordHistory(store: Store, state: EntityState, entityKey: string, now: number): Promise<void> {
  if (state.subject.nodeType === 'monitor') return;
  const mark = historyMark(state, now);
  if (state.historyMark === mark) return;
  const quality = (state as EntityState & { quality?: unknown }).quality;
  await update<NodeHistory>(store, historyKey(state), (h) =>
    syncHistory(h, { ...state, ...(typeof quality === 'string' ? { quality } : {}) }, now),
  );
  await update<EntityState>(store, entityKey, (current) =>
    current && current.status === state.status && current.since === state.since && current.historyMark !== mark ? { ...current, historyMark: mark } : undefined,
  );
}

/** Every stored history of a space (or of all spaces). */
export async function listHistories(store: Store, custSpaceId?: string): Promise<NodeHistory[]> {
  const rows = await store.list<NodeHistory>(HISTORY_PREFIX + (custSpaceId ? `${custSpaceId}/` : ''));
  return rows.map((r) => r.value);
}
