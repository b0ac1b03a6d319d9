import { historyKey } from '../history/record.ts';
import { update, type Store, type Versioned } from '../store/port.ts';
import { UNOBSERVED_TYPES, type EntityState } from './entity-state.ts';
import { SPACE_WABA_PREFIX, WABA_SPACE_PREFIX, writeWabaSpace, type SpaceWaba, type WabaSpaceEntry } from './waba-space.ts';

export const ENTITY_PREFIX = 'monitor/entity/';
/**
 * The owed-delivery index: one marker per entity whose outbox may hold something, keyed by its
 * fingerprint, so the deliverer reads the owing entities instead of listing every entity. A marker
 * is written after each write that adds to an outbox (and after any other write that leaves it
 * owing, when the marker is missing: a writer that failed between its entity write and the marker,
 * as when redis went away right then, has it written by the retry) and removed (compare-and-delete)
 * only by the deliverer once that outbox is empty, so an entry added meanwhile always keeps or
 * renews its marker.
 */
export const OWED_PREFIX = 'monitor/owed/';
/**
 * A write to one entity that loses this many compare-and-set races in a row gives up (StoreError
 * CONFLICT); the sweep then counts its target as a transient failure and re-checks it next tick.
 */
const ENTITY_CAS_ATTEMPTS = 8;
/** Firing invalid-target alerts, one marker each, so resolving them does not list every entity. */
export const INVALID_PREFIX = 'monitor/invalid/';
/**
 * Entities holding a silenced notification (`silenced`), one marker each: the deliverer re-owes them
 * when their silence ends, without listing every entity. Written when a write records `silenced` (or finds it so with no marker);
 * a marker whose entity no longer has it is removed by the reader (compare-and-delete).
 */
export const SILENCED_PREFIX = 'monitor/silenced/';

/**
 * Entities holding a notification their BLOCKED WABA held back (`held`), one marker each, its value
 * the entity's group (its WABA): the end of that WABA's hold reads its group's held entities, not
 * every entity. Written when a write sets `held` (or finds it set with no marker); a marker whose entity no longer has it is removed
 * by the reader (compare-and-delete).
 */
export const HELD_PREFIX = 'monitor/held/';

export const entityKey = (fingerprint: string): string => ENTITY_PREFIX + fingerprint;

/**
 * The one read-modify-write of an entity state (compare-and-set, bounded retries with jittered
 * backoff). Indexes the entity as owing when the write added an outbox entry, and as silenced when
 * it recorded a silenced notification.
 */
export async function updateEntity(
  store: Store,
  fingerprint: string,
  fn: (prev: EntityState | undefined) => EntityState | undefined,
  maxAttempts = ENTITY_CAS_ATTEMPTS,
): Promise<Versioned<EntityState> | undefined> {
  // Per index: whether this write made the entity need its marker (written, renewing it), and
  // whether it needs one at all (written if missing: a writer that failed between its entity write
  // and the marker, as when redis went away right then, has it written by the retry).
  let owed = { fresh: false, wanted: false };
  let silenced = { fresh: false, wanted: false };
  let held = { fresh: false, wanted: false };
  let group = '';
  const result = await update<EntityState>(
    store,
    entityKey(fingerprint),
    (prev) => {
      const next = fn(prev);
      const had = new Set(prev?.outbox.map((e) => e.id));
      owed = { fresh: !!next && next.outbox.some((e) => !had.has(e.id)), wanted: !!next && next.outbox.length > 0 };
      silenced = { fresh: !!next?.silenced && !prev?.silenced, wanted: !!next?.silenced };
      held = { fresh: next?.held !== undefined && prev?.held === undefined, wanted: next?.held !== undefined };
      group = next?.group ?? '';
      return next;
    },
    { maxAttempts },
  );
  await ensureMarker(store, OWED_PREFIX + fingerprint, 1, owed);
  await ensureMarker(store, SILENCED_PREFIX + fingerprint, 1, silenced);
  await ensureMarker(store, HELD_PREFIX + fingerprint, group, held);
  return result;
}

async function ensureMarker(store: Store, key: string, value: unknown, need: { fresh: boolean; wanted: boolean }): Promise<void> {
  if (need.fresh) await store.put(key, value);
  else if (need.wanted && !(await store.get(key))) await store.put(key, value, { ifAbsent: true });
}

/** The entities of `group` the held index names that still hold a notification back; stale markers are removed. */
export async function loadHeld(store: Store, group: string): Promise<Array<{ fingerprint: string } & Versioned<EntityState>>> {
  const out: Array<{ fingerprint: string } & Versioned<EntityState>> = [];
  for (const m of await store.list<string>(HELD_PREFIX)) {
    if (m.value !== group) continue;
    const fingerprint = m.key.slice(HELD_PREFIX.length);
    const entity = await store.get<EntityState>(ENTITY_PREFIX + fingerprint);
    if (entity?.value.held !== undefined) out.push({ fingerprint, ...entity });
    else await store.delete(m.key, { ifVersion: m.version });
  }
  return out;
}

/**
 * The entities the silenced index names that still hold a silenced notification; stale markers are
 * removed, unless `prune` is false (a reader that must not write: GET /silences).
 */
export async function loadSilenced(store: Store, opts: { prune?: boolean } = {}): Promise<Array<{ key: string } & Versioned<EntityState>>> {
  const out: Array<{ key: string } & Versioned<EntityState>> = [];
  for (const m of await store.list<number>(SILENCED_PREFIX)) {
    const key = ENTITY_PREFIX + m.key.slice(SILENCED_PREFIX.length);
    const entity = await store.get<EntityState>(key);
    if (entity?.value.silenced) out.push({ key, ...entity });
    else if (opts.prune !== false) await store.delete(m.key, { ifVersion: m.version });
  }
  return out;
}

/** An entity that owes deliveries, with its owed-index marker's version. */
export type OwingEntity = { key: string; marker: string } & Versioned<EntityState>;

/** The entities the owed index names that still owe something; stale markers are removed (and unwatched entities that owe nothing). */
export async function loadOwing(store: Store): Promise<OwingEntity[]> {
  const out: OwingEntity[] = [];
  for (const m of await store.list<number>(OWED_PREFIX)) {
    const key = ENTITY_PREFIX + m.key.slice(OWED_PREFIX.length);
    const entity = await store.get<EntityState>(key);
    if (entity && entity.value.outbox.length > 0) out.push({ key, marker: m.version, ...entity });
    else {
      if (entity) await deleteUnwatched(store, key, entity);
      await store.delete(m.key, { ifVersion: m.version });
    }
  }
  return out;
}

/**
 * Drops the marker of an entity whose outbox is now empty (unless a writer renewed it since `marker`);
 * an unwatched entity whose close-out was the last thing it owed goes with it.
 */
export async function dropOwedMarker(store: Store, entityKeyName: string, marker: string): Promise<void> {
  const entity = await store.get<EntityState>(entityKeyName);
  if (entity && entity.value.outbox.length > 0) return;
  if (entity) await deleteUnwatched(store, entityKeyName, entity);
  await store.delete(OWED_PREFIX + entityKeyName.slice(ENTITY_PREFIX.length), { ifVersion: marker });
}

/**
 * Deletes an unwatched entity (no watched target reaches it: shared/monitor/unwatched.ts) that owes
 * nothing any more, and its history, so it is in no report, page or listing. Compare-and-delete: an
 * entity observed again since `entity` was read is left as it is (its history gone: it starts afresh,
 * as one watched again does). The history goes first, so a process that dies between the two leaves the
 * entity, which the next round deletes, never history nothing points at. Its index markers are removed
 * by their readers (a marker whose entity is gone is stale). True when it was deleted.
 */
export async function deleteUnwatched(store: Store, entityKeyName: string, entity: Versioned<EntityState>): Promise<boolean> {
  if (entity.value.unwatchedAt === undefined || entity.value.outbox.length > 0) return false;
  await store.delete(historyKey(entity.value));
  return store.delete(entityKeyName, { ifVersion: entity.version });
}

/**
 * Rebuilds the indexes (owed, invalid-target, silenced, held) from every entity: the one full scan, run once per round (a writer that died
 * between its entity write and its marker loses no delivery for longer than a round). An unwatched
 * entity that owes nothing (a deliverer died before deleting it) is deleted. Returns how many
 * markers it added. The WABA → space index (waba-space.ts) gets the WABAs checks reported for spaces
 * whose targets never named theirs, so receipts find them without a look-up, and a space's WABA as
 * checks reported it replaces one a target named wrongly. Only entities a check's reply reported
 * teach it: the others (UNOBSERVED_TYPES) may carry a WabaId a Discover entry's poster typed wrong.
 */
export async function reindexEntities(store: Store): Promise<number> {
  const marked = new Set(
    [...(await store.list(OWED_PREFIX)), ...(await store.list(INVALID_PREFIX)), ...(await store.list(SILENCED_PREFIX)), ...(await store.list(HELD_PREFIX))].map((m) => m.key),
  );
  // One entry per WABA: a few hundred at most, against 10,000 entities.
  const wabas = new Map((await store.list<WabaSpaceEntry>(WABA_SPACE_PREFIX)).map((m) => [m.key.slice(WABA_SPACE_PREFIX.length), m.value?.CustSpaceId]));
  // Space → WABA (one per space): a posted target's WabaId is taken while nothing better is known,
  // so what a check reported (CAMS's word) puts right a wrong one.
  const spaceWabas = new Map((await store.list<SpaceWaba>(SPACE_WABA_PREFIX)).map((m) => [m.key.slice(SPACE_WABA_PREFIX.length), m.value?.WabaId]));
  let added = 0;
  const mark = async (key: string, value: unknown = 1) => {
    if (marked.has(key)) return;
    await store.put(key, value, { ifAbsent: true });
    added++;
  };
  for (const e of await store.list<EntityState>(ENTITY_PREFIX)) {
    const fp = e.key.slice(ENTITY_PREFIX.length);
    if (await deleteUnwatched(store, e.key, e)) continue;
    const { custSpaceId, wabaId, nodeType, entityType } = e.value.subject;
    // A check CAMS answered vouches for its WabaId (it refuses a node named with a WABA not of its
    // space); a discovered number's quality names the WabaId of the entry that listed it, whatever it is.
    if (nodeType !== 'monitor' && !UNOBSERVED_TYPES.has(entityType) && custSpaceId && wabaId && (!wabas.has(wabaId) || (wabas.get(wabaId) === custSpaceId && spaceWabas.get(custSpaceId) !== wabaId))) {
      await writeWabaSpace(store, wabaId, custSpaceId);
      wabas.set(wabaId, custSpaceId);
      spaceWabas.set(custSpaceId, wabaId);
    }
    if (e.value.outbox.length > 0) await mark(OWED_PREFIX + fp);
    if (e.value.firing && e.value.subject.nodeType === 'monitor' && e.value.subject.entityType === 'InvalidTarget') await mark(INVALID_PREFIX + fp);
    if (e.value.silenced) await mark(SILENCED_PREFIX + fp);
    if (e.value.held !== undefined) await mark(HELD_PREFIX + fp, e.value.group);
  }
  return added;
}
