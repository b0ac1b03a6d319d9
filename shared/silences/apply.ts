import type { EntityState } from '../monitor/entity-state.ts';
import { EVERY_SINK } from '../monitor/entity-state.ts';
import { ENTITY_PREFIX, updateEntity } from '../monitor/entity-store.ts';
import { heldByBlockedWaba } from '../monitor/inhibition.ts';
import type { Store } from '../store/port.ts';
import { silencing, type Silence } from './silence.ts';
import { listSilences } from './store.ts';

/**
 * Silences, applied by the deliverer before it sends (under its lease, so nothing is sent twice):
 * - an owed notification matching an active silence is struck, not sent, and recorded on its
 *   entity (`silenced`: which silence, when, the item, the sinks it was still owed to), which the
 *   status page shows;
 * - when no silence covers a recorded entity any more (ended, deleted) and its alert still fires,
 *   the recorded item is owed again to those sinks, so the alert is notified then, unless a newer notification of
 *   it is already owed (that one says how it is now). Owed items up to a resolution are struck: they
 *   are about an incident nobody was told of. If it resolved meanwhile, the record is simply cleared;
 * - a phone or template whose WABA is BLOCKED keeps its record until the WABA's hold ends: the WABA's
 *   alert covers it (../monitor/inhibition.ts), as it would have had no silence been set.
 * Returns true when it changed an entity (the caller re-reads what is owed).
 */
export async function applySilences(
  store: Store,
  entities: ReadonlyArray<{ key: string; value: EntityState }>,
  now: number,
  log: (rec: Record<string, unknown>) => void,
): Promise<boolean> {
  const silences = await listSilences(store, now);
  const blockedWabas = new Map<string, boolean>();
  let changed = false;
  for (const { key, value } of entities) {
    const hit = silencing(silences, value.subject, now);
    const owesMatched = hit && value.outbox.length > 0;
    const lifted = !hit && value.silenced;
    if (!owesMatched && !lifted) continue;
    const held = !hit && value.firing && (await heldByBlockedWaba(store, value.subject, blockedWabas));
    // Through updateEntity: a lifted silence re-owes its alert, which the owed index must name.
    let wrote = false;
    await updateEntity(store, key.slice(ENTITY_PREFIX.length), (current) => {
      const next = current ? rewrite(current, silences, now, held, log) : undefined;
      wrote = next !== undefined;
      return next;
    });
    changed ||= wrote;
  }
  return changed;
}

function rewrite(s: EntityState, silences: readonly Silence[], now: number, heldByWaba: boolean, log: (rec: Record<string, unknown>) => void): EntityState | undefined {
  const hit = silencing(silences, s.subject, now);
  if (hit && s.outbox.length > 0) {
    const latest = s.outbox.at(-1)!;
    log({ level: 'info', msg: 'alert silenced: recorded, not sent', silence: hit.SilenceId, node: s.node, items: s.outbox.length });
    const next: EntityState = { ...s, outbox: [] };
    // The sinks still owed something: one that had the alert before the silence must not get it again.
    const sinks = [...new Set(s.outbox.flatMap((e) => e.pendingSinks))].sort();
    if (s.firing) next.silenced = { silenceId: hit.SilenceId, at: now, item: latest.item, sinks };
    else delete next.silenced;
    return next;
  }
  if (!hit && s.silenced) {
    if (s.firing && heldByWaba && s.outbox.length === 0) return undefined;
    const next: EntityState = { ...s };
    delete next.silenced;
    // Everything owed since the record was struck with it concerns the silenced incident: up to its
    // resolution, nobody was told of it.
    const resolvedAt = s.outbox.findLastIndex((e) => e.item.reason === 'resolved');
    if (resolvedAt >= 0) next.outbox = s.outbox.slice(resolvedAt + 1);
    const owedTo = s.silenced.sinks ?? [EVERY_SINK];
    if (s.firing && next.outbox.length === 0 && owedTo.length > 0) {
      const seq = s.seq + 1;
      next.seq = seq;
      // Owed to the sinks the silence kept it from.
      next.outbox = [{ id: `${s.fingerprint}.${seq}`, group: s.group, item: s.silenced.item, pendingSinks: owedTo, createdAt: now }];
      log({ level: 'info', msg: 'silence over while the alert fires: notifying it', silence: s.silenced.silenceId, node: s.node });
    }
    return next;
  }
  return undefined;
}
