/**
 * Which space a WABA is watched under, kept as an index so that a receipt (which names only its
 * WabaId) finds its space with one read, not by loading the whole watch list and every entity (tens
 * of MB at 10,000 nodes, on every push). Written where the mapping is learnt: a target registered
 * with its WabaId, a check's reply naming the WABA of a space (the round's entity scan:
 * reindexEntities), a QueryChatappBindWaba reply (the receipts' look-up, a Discover listing's); and
 * built once from the full scan for a store an earlier version wrote (shared/receipts/spaces.ts).
 */
import type { Store } from '../store/port.ts';

/**
 * WabaId → `{CustSpaceId}`. An entry for a space no longer watched is harmless: readers check the
 * space, and look a WABA whose space is not watched up again (it may be watched under another now).
 */
export const WABA_SPACE_PREFIX = 'monitor/waba-space/';
/**
 * CustSpaceId → its WabaId; or why CAMS named none (`Refused`: its code, or no WABA bound), kept an
 * hour by the receipts' look-up. The key is the one earlier versions kept their look-ups under.
 */
export const SPACE_WABA_PREFIX = 'receipts/space-waba/';
/**
 * Spaces a target was registered in without its WabaId while no WABA was known for the space, one
 * marker each: the spaces a receipt for an unknown WABA may belong to (looked up), without listing
 * the watch list. Removed once the space's WABA is known.
 */
export const WABA_PENDING_PREFIX = 'monitor/waba-pending/';
/** Set once the index was built from the full scan (stores written before the index existed). */
export const WABA_INDEX_BUILT_KEY = 'monitor/waba-space-built';

export interface WabaSpaceEntry {
  CustSpaceId: string;
}

export interface SpaceWaba {
  WabaId?: string;
  Refused?: string;
}

/** Records that `wabaId` is the WABA of `custSpaceId` (both ways), and that the space is no longer pending. */
export async function writeWabaSpace(store: Store, wabaId: string, custSpaceId: string): Promise<void> {
  await store.put<SpaceWaba>(SPACE_WABA_PREFIX + custSpaceId, { WabaId: wabaId });
  await store.put<WabaSpaceEntry>(WABA_SPACE_PREFIX + wabaId, { CustSpaceId: custSpaceId });
  await store.delete(WABA_PENDING_PREFIX + custSpaceId);
}

/** writeWabaSpace unless the index already says so (one read in the usual case). */
export async function noteWabaSpace(store: Store, wabaId: string, custSpaceId: string): Promise<void> {
  if ((await store.get<WabaSpaceEntry>(WABA_SPACE_PREFIX + wabaId))?.value.CustSpaceId === custSpaceId) return;
  await writeWabaSpace(store, wabaId, custSpaceId);
}

/**
 * Before a target is written (so a writer that dies between the two leaves at most an index entry,
 * which is harmless): its WABA indexed, or, naming none in a space whose WABA is not known, the space
 * marked pending.
 */
export async function indexTarget(store: Store, target: { CustSpaceId: string; WabaId?: string | undefined }): Promise<void> {
  if (target.WabaId !== undefined) {
    const { WabaId: wabaId, CustSpaceId: custSpaceId } = target;
    if ((await store.get<WabaSpaceEntry>(WABA_SPACE_PREFIX + wabaId))?.value.CustSpaceId === custSpaceId) return;
    // A target's WabaId is its poster's word: it names the space of that WABA (for receipts), and the
    // WABA of the space only while none is known. What a check or a look-up learnt (CAMS's word) is
    // not overwritten by it: the watch list tells a space's WABA posted without its WabaId apart from
    // a wrong WabaId by it (shared/watch-list/store.ts).
    const known = await knownWabaOf(store, custSpaceId);
    if (known !== undefined && known !== wabaId) return void (await store.put<WabaSpaceEntry>(WABA_SPACE_PREFIX + wabaId, { CustSpaceId: custSpaceId }));
    return writeWabaSpace(store, wabaId, custSpaceId);
  }
  if ((await store.get<SpaceWaba>(SPACE_WABA_PREFIX + target.CustSpaceId))?.value.WabaId) return;
  await store.put(WABA_PENDING_PREFIX + target.CustSpaceId, 1);
}

/** The WABA the index knows for a space (a check's reply, a look-up, a target that named it), if any. */
export async function knownWabaOf(store: Store, custSpaceId: string): Promise<string | undefined> {
  return (await store.get<SpaceWaba>(SPACE_WABA_PREFIX + custSpaceId))?.value.WabaId;
}
