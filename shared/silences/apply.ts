import type { EntityState } from '../monitor/entity-state.ts';
import { EVERY_SINK } from '../monitor/entity-state.ts';
import { ENTITY_PREFIX, updateEntity } from '../monitor/entity-store.ts';
import type { Store } from '../store/port.ts';
import { silencing, type Silence } from './silence.ts';
import { listSilences } from './store.ts';

/**
 * Silences, applied by the deliverer before it sends (under its lease, so nothing is sent twice):
 * - an owed notification matching an active silence is struck, not sent, and recorded on its
 *   entity (`silenced`: which silence, when, the item), which the status page shows;
 * - when no silence covers a recorded entity any more (ended, deleted) and its alert still fires,
 *   the recorded item is owed again, so the alert is notified then; if it resolved meanwhile,
 *   the record is simply cleared (nobody was told it fired).
 * Returns true when it changed an entity (the caller re-reads what is owed).
 */
export async function applySilences(
  store: Store,
  entities: ReadonlyArray<{ key: string; value: EntityState }>,
  now: number,
  log: (rec: Record<string, unknown>) => void,
): Promise<boolean> {
  const silences = await listSilences(store, now);
  let changed = false;
  for (const { key, value } of entities) {
    const hit = silencing(silences, value.subject, now);
    const owesMatched = hit && value.outbox.length > 0;
    const lifted = !hit && value.silenced;
    if (!owesMatched && !lifted) continue;
    // Through updateEntity: a lifted silence re-owes its alert, which the owed index must name.
    await updateEntity(store, key.slice(ENTITY_PREFIX.length), (current) => (current ? rewrite(current, silences, now, log) : undefined));
    changed = true;
  }
  return changed;
}

function rewrite(s: EntityState, silences: readonly Silence[], now: number, log: (rec: Record<string, unknown>) => void): EntityState | undefined {
  const hit = silencing(silences, s.subject, now);
  if (hit && s.outbox.length > 0) {
    const latest = s.outbox.at(-1)!;
    log({ level: 'info', msg: 'alert silenced: recorded, not sent', silence: hit.SilenceId, node: s.node, items: s.outbox.length });
    const next: EntityState = { ...s, outbox: [] };
    if (s.firing) next.silenced = { silenceId: hit.SilenceId, at: now, item: latest.item };
    else delete next.silenced;
    return next;
  }
  if (!hit && s.silenced) {
    const next: EntityState = { ...s };
    delete next.silenced;
    if (s.firing) {
      const seq = s.seq + 1;
      next.seq = seq;
      // Owed to every sink the deliverer has: the silence kept it from all of them.
      next.outbox = [...s.outbox, { id: `${s.fingerprint}.${seq}`, group: s.group, item: s.silenced.item, pendingSinks: [EVERY_SINK], createdAt: now }];
      log({ level: 'info', msg: 'silence over while the alert fires: notifying it', silence: s.silenced.silenceId, node: s.node });
    }
    return next;
  }
  return undefined;
}
