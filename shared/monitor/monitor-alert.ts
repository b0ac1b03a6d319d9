import type { AlertSubject } from '../alerts/model.ts';
import type { HealthError } from '../cams/operations.ts';
import type { Store } from '../store/port.ts';
import type { WatchTarget } from './targets.ts';
import { entityKey, updateEntity } from './entity-store.ts';
import { EVERY_SINK, fingerprintOf, type EntityState, type ObservedStatus } from './entity-state.ts';
import { evaluate, type AlertPolicy } from './rules.ts';

/**
 * Monitor alerts about one stored record (a receipt message set aside): `monitor/tied/<fingerprint>`
 * holds the record's key, and the alert is resolved once the record is gone (resolveUntied): a person
 * deleted it after looking, or it expired. Without it such an alert had no way to resolve.
 */
export const TIED_PREFIX = 'monitor/tied/';

/**
 * Records one observation of a monitor-level subject (the monitor's or onboarding's own failures)
 * through the same rules and owed-delivery state as node health, so it is de-duplicated and
 * delivered the same way. These fire on the first bad observation (on the `minConsecutive`th, in as
 * many rounds, when given). Only records: sending is the
 * deliverer's job (deliverOwed, run by the health monitor). A caller that does not know the sinks
 * (onboarding) leaves `sinks` out, and the alert is owed to every sink the deliverer has. With
 * `unlessResolved`, an alert that exists and does not fire (resolved) is left so, and returned as it is.
 */
export async function observeMonitorSubject(
  store: Store,
  subject: AlertSubject,
  status: ObservedStatus,
  errors: HealthError[],
  ctx: { now: number; round: string; policy: AlertPolicy; sinks?: readonly string[]; tiedTo?: string; unlessResolved?: boolean; minConsecutive?: number },
): Promise<EntityState | undefined> {
  const sinks = ctx.sinks ?? [EVERY_SINK];
  // Before the alert: a crash in between leaves a marker whose alert is not firing (dropped).
  if (ctx.tiedTo !== undefined && status !== 'AVAILABLE') await store.put(TIED_PREFIX + fingerprintOf(subject), ctx.tiedTo);
  const result = await updateEntity(store, fingerprintOf(subject), (prev) =>
    // `unlessResolved`: decided in the write itself, so a resolution landing after a read is not written over.
    ctx.unlessResolved && prev && !prev.firing ? undefined : evaluate(prev, { subject, status, errors }, { ...ctx, sinks, policy: { ...ctx.policy, minConsecutive: ctx.minConsecutive ?? 1 }, inhibited: false }),
  );
  // The record read again after the alert: deleted meanwhile, a round's resolveUntied may have resolved
  // the alert and dropped the marker before this write fired it again, for good. The marker put anew
  // has the next round resolve it (a resolveUntied still holding the old one fails its ifVersion delete).
  if (ctx.tiedTo !== undefined && result?.value.firing && (await store.get(ctx.tiedTo)) === undefined) {
    await store.put(TIED_PREFIX + fingerprintOf(subject), ctx.tiedTo);
  }
  return result?.value;
}

/**
 * Resolves each tied alert whose record is gone (the health monitor, once per round) and drops its
 * marker. Returns how many were resolved.
 */
export async function resolveUntied(store: Store, ctx: { now: number; round: string; policy: AlertPolicy; sinks?: readonly string[] }): Promise<number> {
  let resolved = 0;
  for (const m of await store.list<string>(TIED_PREFIX)) {
    if ((await store.get(m.value)) !== undefined) continue;
    const st = (await store.get<EntityState>(entityKey(m.key.slice(TIED_PREFIX.length))))?.value;
    if (st?.firing) {
      await observeMonitorSubject(store, st.subject, 'AVAILABLE', [], ctx);
      resolved++;
    }
    await store.delete(m.key, { ifVersion: m.version });
  }
  return resolved;
}

/** A monitor alert's subject; about one target (TargetRejected, DiscoveryFailed) when `target` is given. */
export function monitorSubject(kind: string, target?: WatchTarget): AlertSubject {
  if (!target) return { nodeType: 'monitor', entityType: kind };
  return {
    nodeType: 'monitor',
    entityType: kind,
    custSpaceId: target.CustSpaceId,
    ...(target.WabaId ? { wabaId: target.WabaId } : {}),
    ...(target.PhoneNumber ? { phoneNumber: target.PhoneNumber } : {}),
    ...(target.TemplateCode ? { templateCode: target.TemplateCode, language: target.Language } : {}),
  };
}

/**
 * A monitor alert resolved, when it fires: TargetRejected after an answered check of its target (the
 * sweep's, or a receipt's targeted check), AuthRefused and CamsUnreachable once CAMS answers. One
 * function for all of them, so the sweep and the receipts resolve alike. A bad state not yet firing
 * (an expired token's AuthRefused, which waits for a second tick) is set back too, so a later one
 * starts counting afresh. Creates no state when there is none; true when one was resolved (a
 * notification is then owed).
 */
export async function resolveMonitorAlert(store: Store, subject: AlertSubject, ctx: { now: number; round: string; policy: AlertPolicy; sinks?: readonly string[] }): Promise<boolean> {
  const st = (await store.get<EntityState>(entityKey(fingerprintOf(subject))))?.value;
  if (!st || (!st.firing && st.status === 'AVAILABLE')) return false;
  await observeMonitorSubject(store, subject, 'AVAILABLE', [], ctx);
  return st.firing;
}
