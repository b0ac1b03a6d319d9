import type { AlertSubject } from '../alerts/model.ts';
import type { HealthError } from '../cams/operations.ts';
import type { Store } from '../store/port.ts';
import { updateEntity } from './entity-store.ts';
import { EVERY_SINK, fingerprintOf, type EntityState, type ObservedStatus } from './entity-state.ts';
import { evaluate, type AlertPolicy } from './rules.ts';

/**
 * Records one observation of a monitor-level subject (the monitor's or onboarding's own failures)
 * through the same rules and owed-delivery state as node health, so it is de-duplicated and
 * delivered the same way. These fire on the first bad observation. Only records: sending is the
 * deliverer's job (deliverOwed, run by the health monitor). A caller that does not know the sinks
 * (onboarding) leaves `sinks` out, and the alert is owed to every sink the deliverer has.
 */
export async function observeMonitorSubject(
  store: Store,
  subject: AlertSubject,
  status: ObservedStatus,
  errors: HealthError[],
  ctx: { now: number; round: string; policy: AlertPolicy; sinks?: readonly string[] },
): Promise<EntityState | undefined> {
  const sinks = ctx.sinks ?? [EVERY_SINK];
  const result = await updateEntity(store, fingerprintOf(subject), (prev) =>
    evaluate(prev, { subject, status, errors }, { ...ctx, sinks, policy: { ...ctx.policy, minConsecutive: 1 }, inhibited: false }),
  );
  return result?.value;
}
