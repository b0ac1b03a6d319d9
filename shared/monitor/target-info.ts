import { update, type Store, type Versioned } from '../store/port.ts';
import type { ObservedStatus } from './entity-state.ts';
import { markedRisky, RISKY_PREFIX } from './risk.ts';
import { targetId, type WatchTarget } from './targets.ts';

/**
 * Per-target bookkeeping, one key per target (`monitor/target/<targetId>`): the round that last
 * checked it (the sweep's progress marker: a check writes only its own key, O(1) however long the
 * watch list), when it was last checked and how it was (the risk checks read these), when a receipt
 * named it, and which entities it has produced (`reach`: what goes when it is no longer watched,
 * unwatched.ts). The one source of truth for "last checked".
 */
export const TARGET_INFO_PREFIX = 'monitor/target/';
export interface TargetInfo {
  /** The sweep round that last checked it. */
  round?: string;
  /** Epoch ms of the last check (alert clock), by the sweep or a receipt. */
  lastCheckedAt?: number;
  /** The worst CanSendMessage of the last check. */
  status?: ObservedStatus;
  lastReceiptAt?: number;
  /**
   * Fingerprints of every entity written on this target's behalf: its checks' entities (the node and
   * the WABA, business and app above it), its rejection alert, its receipts' and discovery's quality,
   * template-status and WABA-review entities. A union, sorted. Written with the check's other bookkeeping (after
   * its entity writes), or before the entity where nothing else is written (receipts, discovery).
   */
  reach?: string[];
  /**
   * The fingerprints of `reach` that no check observes (a receipt's or discovery's PHONE_QUALITY,
   * TEMPLATE_STATUS or WABA_REVIEW) and that may be firing: the target's check reads these, and only these, to remind
   * of them, so a target with none costs its check nothing more. Marked by applyUnobserved, dropped by
   * the check that finds the entity no longer firing. Absent on a record written before it was kept:
   * that record's next check reads once every entity of its reach the reply did not name, and records it.
   */
  firingUnobserved?: string[];
}

/**
 * Targets whose bookkeeping was started outside a round check (a receipt's check, discovery), one
 * marker each: such a target may be removed before any listing of the watch list put it in a round's
 * plan, where removal is detected otherwise. The round's listing reads and clears them (round-plan.ts).
 */
export const UNPLANNED_PREFIX = 'monitor/unplanned/';

/**
 * Updates a target's bookkeeping, and the risky index with it (risk.ts): its one writer. `reach` is
 * added to the fingerprints already recorded; a patch that changes nothing writes nothing. A record
 * started outside a round check is marked unplanned first. True when it began the record.
 */
export async function noteTarget(store: Store, target: WatchTarget, patch: TargetInfo): Promise<boolean> {
  return (await recordTarget(store, target, patch)).begun;
}

/** How recordTarget treats the record's marks of firing unobserved entities (firingUnobserved). */
export interface RecordMarks {
  /** Mark this fingerprint as possibly firing. */
  mark?: string;
  /** Write the record even when nothing changes: its version moves (applyUnobserved, after a firing write). */
  force?: boolean;
  /** `patch.reach` is all the check's reply observed: a record from before the marks that reaches nothing else has none. */
  observed?: boolean;
}

/** noteTarget, also giving the record as it is stored afterwards (its version too). */
export async function recordTarget(store: Store, target: WatchTarget, patch: TargetInfo, marks: RecordMarks = {}): Promise<{ begun: boolean; info: Versioned<TargetInfo> | undefined }> {
  const id = targetId(target);
  let was = false;
  let is = false;
  let changed = false;
  let begun = false;
  const info = await update<TargetInfo>(store, TARGET_INFO_PREFIX + id, async (cur) => {
    begun = !cur;
    if (!cur && patch.round === undefined) await store.put(UNPLANNED_PREFIX + id, 1);
    const reach = patch.reach ? unionReach(cur?.reach, patch.reach) : cur?.reach;
    // A new record starts with none marked; one from before the marks stays unknown (absent) until its check.
    let firing = cur ? cur.firingUnobserved : [];
    if (!firing && marks.observed && patch.reach && reach?.length === new Set(patch.reach).size) firing = [];
    if (firing && marks.mark !== undefined) firing = unionReach(firing, [marks.mark]);
    const next: TargetInfo = { ...cur, ...patch, ...(reach ? { reach } : {}), ...(firing ? { firingUnobserved: firing } : {}) };
    changed = !cur || JSON.stringify(next) !== JSON.stringify(cur);
    was = markedRisky(cur);
    is = markedRisky(next);
    return changed || marks.force ? next : undefined;
  });
  if (!changed) return { begun: false, info };
  // After the record: a crash in between leaves a stale marker (the reader drops it) or a missing
  // one (written again at the node's next check while it is risky).
  if (is) await store.put(RISKY_PREFIX + id, 1);
  else if (was && !is) await store.delete(RISKY_PREFIX + id);
  return { begun, info };
}

/** `had` with `more` added, sorted; `had` itself (the same array) when nothing is new. */
function unionReach(had: readonly string[] | undefined, more: readonly string[]): string[] {
  const all = new Set(had);
  const before = all.size;
  for (const fp of more) all.add(fp);
  if (had && all.size === before) return had as string[];
  return [...all].sort();
}
