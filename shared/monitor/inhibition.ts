import type { AlertSubject } from '../alerts/model.ts';
import type { Store } from '../store/port.ts';
import { fingerprintOf, type EntityState } from './entity-state.ts';
import { entityKey, loadHeld, updateEntity } from './entity-store.ts';
import { releaseHold, type AlertPolicy } from './rules.ts';

/**
 * Inhibition (Alertmanager's): a phone's or template's alerts are held back while its WABA is
 * BLOCKED, since the WABA's alert covers them (the check decides it per reply: check.ts). The rules
 * remember what they held back on the entity (`held`, indexed by WABA group); this is where the hold
 * ends: when a write takes the WABA entity out of BLOCKED, each entity it held back is decided again
 * without the hold, so its alert is owed at once and goes out with the WABA's recovery, in the same
 * flush. One held back that recovered meanwhile owes nothing. A process that dies between the WABA's
 * write and this leaves them held until their own next check, which decides them without the hold.
 */
export function holdsChildren(state: EntityState | undefined): boolean {
  return state?.subject.entityType === 'WABA' && state.status === 'BLOCKED';
}

/** The entity types a BLOCKED WABA holds back. */
export const CHILD_TYPES: ReadonlySet<string> = new Set(['PHONE_NUMBER', 'MESSAGE_TEMPLATE']);

/**
 * Whether the WABA of a phone or template is BLOCKED now, as the monitor last saw it: then the
 * WABA's alert covers it. Asked where no reply is at hand (a silence lifted: shared/silences/apply.ts);
 * `cache` keeps one read per WABA.
 */
export async function heldByBlockedWaba(store: Store, subject: AlertSubject, cache: Map<string, boolean> = new Map()): Promise<boolean> {
  if (!CHILD_TYPES.has(subject.entityType) || !subject.wabaId) return false;
  // The WABA entity as check.ts writes it: nodeType waba, whichever target reported it.
  const fp = fingerprintOf({ nodeType: 'waba', entityType: 'WABA', custSpaceId: subject.custSpaceId, wabaId: subject.wabaId });
  let holds = cache.get(fp);
  if (holds === undefined) {
    holds = holdsChildren((await store.get<EntityState>(entityKey(fp)))?.value);
    cache.set(fp, holds);
  }
  return holds;
}

export interface ReleaseContext {
  store: Store;
  policy: AlertPolicy;
  sinks: readonly string[];
  now: () => number;
  /** The sweep's per-process entity writes (check.ts EntityWrites), so a release queues behind a check's write of the same entity. */
  writes?: { queue<T>(fingerprint: string, write: () => Promise<T>): Promise<T> };
  onOwed?: () => void;
}

/**
 * The WABA of `group` is no longer BLOCKED: what it held back is owed now. Returns how many were
 * released. `skip`: entities the caller is about to decide from a fresh observation (the same reply
 * reports them), which a release would decide from their last one first.
 */
export async function releaseHeld(group: string, ctx: ReleaseContext, skip?: ReadonlySet<string>): Promise<number> {
  let released = 0;
  for (const { fingerprint } of await loadHeld(ctx.store, group)) {
    if (skip?.has(fingerprint)) continue;
    const write = async () => {
      let owes = false;
      await updateEntity(ctx.store, fingerprint, (prev) => {
        owes = false;
        if (prev?.held === undefined) return undefined;
        const next = releaseHold(prev, { now: ctx.now(), policy: ctx.policy, sinks: ctx.sinks });
        owes = next.outbox.length > prev.outbox.length;
        return next;
      });
      if (owes) {
        released++;
        ctx.onOwed?.();
      }
    };
    await (ctx.writes ? ctx.writes.queue(fingerprint, write) : write());
  }
  return released;
}
