import { DISCOVERY_PREFIX, markRemoved, REMOVED_PREFIX, type RegisteredTarget, targetId, unpicked, WATCH_PREFIX, wabaIdParts } from '../monitor/targets.ts';
import { indexTarget, knownWabaOf } from '../monitor/waba-space.ts';
import { keyOfNextToken, nextTokenOf } from '../store/next-token.ts';
import { update, type Store, type Versioned } from '../store/port.ts';
import type { WatchEntry } from './entry.ts';

/** Store writes in flight at once for one request: enough to hide latency, few enough for the file store's locks. */
const WRITE_PARALLELISM = 16;

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 100;

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export interface AddResult {
  Added: number;
  Updated: number;
  Unchanged: number;
  /** Per entry, in order, the id of the entry that watches its node. */
  Ids: string[];
}

/**
 * The entries in groups run one after another: a space's waba entries in one group (whether one
 * stands for another's node is read from the space's waba entries, so they must not race), every
 * other entry in a group of its own.
 */
function inGroups(entries: readonly WatchEntry[]): Array<Array<{ e: WatchEntry; i: number }>> {
  const groups: Array<Array<{ e: WatchEntry; i: number }>> = [];
  const wabaGroups = new Map<string, Array<{ e: WatchEntry; i: number }>>();
  entries.forEach((e, i) => {
    if (e.target.NodeType !== 'waba') return void groups.push([{ e, i }]);
    let g = wabaGroups.get(e.target.CustSpaceId);
    if (!g) groups.push((g = []));
    wabaGroups.set(e.target.CustSpaceId, g);
    g.push({ e, i });
  });
  // Named first: the space's own WABA given in both forms in one request is then one entry, the named one.
  for (const g of wabaGroups.values()) g.sort((a, b) => Number(a.e.target.WabaId === undefined) - Number(b.e.target.WabaId === undefined));
  return groups;
}

type StoredEntry = { key: string } & Versioned<RegisteredTarget>;

/**
 * The stored entries that watch a waba entry's node: its own, and the one of its other form. A space
 * has one WABA, so `{CustSpaceId, NodeType: waba}` (the space's own) and the entry naming the WabaId
 * the index knows for the space (waba-space.ts; none known: the space's only named one) are one node.
 * A named entry the index contradicts is another (wrong) node, kept apart so the space's WABA is
 * still checked.
 */
async function wabaEntriesOf(store: Store, e: WatchEntry): Promise<{ exact?: StoredEntry; other?: StoredEntry }> {
  const cs = e.target.CustSpaceId;
  const ownKey = WATCH_PREFIX + targetId({ CustSpaceId: cs, NodeType: 'waba' });
  // `watch/waba:<space>:`: the space's own entry and its named ones (a CustSpaceId has no ':').
  const stored = await store.list<RegisteredTarget>(ownKey);
  const exact = stored.find((r) => r.key === WATCH_PREFIX + e.id);
  const known = await knownWabaOf(store, cs);
  let other: StoredEntry | undefined;
  if (e.target.WabaId !== undefined) {
    const own = stored.find((r) => r.key === ownKey);
    other = own && (known === undefined || known === e.target.WabaId) ? own : undefined;
  } else {
    const named = stored.filter((r) => r.key !== ownKey);
    other = named.find((r) => wabaIdParts(r.key.slice(WATCH_PREFIX.length))?.wabaId === known) ?? (known === undefined && named.length === 1 ? named[0] : undefined);
  }
  return { ...(exact ? { exact } : {}), ...(other ? { other } : {}) };
}

/**
 * Puts entries under watch, one key each, idempotently: posting the same entry again changes
 * nothing. An explicit entry for a node discovery added pins it (discovery will not retire it), and a
 * Discover entry turns discovery on for a WABA watched alone; nothing turns it off but DELETE. A
 * space's WABA is one entry in either form: posted without its WabaId while watched with it, nothing
 * changes (its id is the named entry's); posted with it while watched without, the entry takes the
 * WabaId (Updated: `waba:<space>:` becomes `waba:<space>:<WabaId>`).
 */
export async function addWatchEntries(store: Store, entries: readonly WatchEntry[], source: string, now = Date.now()): Promise<AddResult> {
  const result: AddResult = { Added: 0, Updated: 0, Unchanged: 0, Ids: entries.map((e) => e.id) };
  // The receipts' WABA → space index (waba-space.ts), once per WABA or space of the request, not per entry.
  const indexed = new Map<string, Promise<void>>();
  const addOne = async (e: WatchEntry, i: number) => {
    // Read before this entry indexes its WabaId: what the index knew decides whether the forms are one node.
    const found = e.target.NodeType === 'waba' ? await wabaEntriesOf(store, e) : {};
    // Its own entry stored: as for any node (one of the other form too is the sweep's to check once, round-plan.ts).
    const other = found.exact ? undefined : found.other;
    const space = `${e.target.CustSpaceId}/${e.target.WabaId ?? ''}`;
    if (!indexed.has(space)) indexed.set(space, indexTarget(store, e.target));
    await indexed.get(space);
    if (other && e.target.WabaId === undefined) {
      // Watched with its WabaId: that entry is this node.
      result.Ids[i] = other.key.slice(WATCH_PREFIX.length);
      await store.delete(REMOVED_PREFIX + e.id);
      result.Unchanged++;
      return;
    }
    // Otherwise `other` is the node watched without its WabaId: it moves to this key, keeping how it came to be watched.
    let outcome: Exclude<keyof AddResult, 'Ids'> = 'Unchanged';
    await update<RegisteredTarget>(store, WATCH_PREFIX + e.id, (cur) => {
      if (!cur && other) {
        outcome = 'Updated';
        return { ...other.value, target: e.target, ...(e.discover ? { discover: true as const } : {}) };
      }
      if (!cur) {
        outcome = 'Added';
        return { target: e.target, source, registeredAt: new Date(now).toISOString(), ...(e.discover ? { discover: true as const } : {}) };
      }
      // Discovery's node, or a receipt's (a listing would adopt it): the caller's from now on.
      const pin = unpicked(cur);
      const turnOn = e.discover && !cur.discover;
      if (!pin && !turnOn) {
        outcome = 'Unchanged';
        return undefined;
      }
      outcome = 'Updated';
      const { discoveredBy: _owner, ...rest } = cur;
      return { ...rest, source, ...(e.discover || cur.discover ? { discover: true as const } : {}) };
    });
    // Only as it was read: one changed since stays, and the sweep still checks the two forms once (round-plan.ts).
    if (other) await store.delete(other.key, { ifVersion: other.version });
    // A Discover entry new to this WABA is listed at the monitor's next round: what an entry deleted
    // before it remembers (its last listing, whose nodes the DELETE retired) must not hold it off. The
    // unwatchable nodes it alerted on stay remembered, for that listing to resolve those gone.
    if (e.discover && outcome !== 'Unchanged') {
      const last = await store.get<{ unwatchable?: unknown[] }>(DISCOVERY_PREFIX + e.id);
      if (last?.value.unwatchable) await store.put(DISCOVERY_PREFIX + e.id, { lastRunAt: 0, unwatchable: last.value.unwatchable }, { ifVersion: last.version });
      else if (last) await store.delete(DISCOVERY_PREFIX + e.id, { ifVersion: last.version });
    }
    // Added by hand again: receipts may put it back under watch, as any node of a watched WABA.
    await store.delete(REMOVED_PREFIX + e.id);
    result[outcome]++;
  };
  await forEachLimit(inGroups(entries), WRITE_PARALLELISM, async (group) => {
    for (const { e, i } of group) await addOne(e, i);
  });
  return result;
}

export interface RemoveResult {
  Removed: number;
  Absent: number;
  /** Nodes discovery had added under a removed Discover entry, removed with it. */
  Retired: number;
}

/**
 * Removes entries; a Discover entry (or the WABA entry carrying it) takes the nodes discovered under it
 * along. A space's WABA is removed in either form, whichever form it is watched in (addWatchEntries).
 */
export async function removeWatchEntries(store: Store, entries: readonly WatchEntry[], now = Date.now()): Promise<RemoveResult> {
  const result: RemoveResult = { Removed: 0, Absent: 0, Retired: 0 };
  const roots = new Set<string>();
  const rootSpaces = new Set<string>();
  const removeOne = async (e: WatchEntry) => {
    let stored: StoredEntry[];
    if (e.target.NodeType === 'waba') {
      // The node in either form, both when both are stored.
      const { exact, other } = await wabaEntriesOf(store, e);
      stored = [exact, other].filter((r) => r !== undefined);
    } else {
      const cur = await store.get<RegisteredTarget>(WATCH_PREFIX + e.id);
      stored = cur ? [{ key: WATCH_PREFIX + e.id, ...cur }] : [];
    }
    for (const r of stored) {
      if (!r.value.discover) continue;
      roots.add(r.key.slice(WATCH_PREFIX.length));
      rootSpaces.add(e.target.CustSpaceId);
    }
    // Marked first: a receipt about it between the two would otherwise put it back.
    await markRemoved(store, e.id, now);
    for (const r of stored) if (r.key !== WATCH_PREFIX + e.id) await markRemoved(store, r.key.slice(WATCH_PREFIX.length), now);
    let removed = false;
    for (const r of stored) if (await store.delete(r.key)) removed = true;
    result[removed ? 'Removed' : 'Absent']++;
  };
  await forEachLimit(inGroups(entries), WRITE_PARALLELISM, async (group) => {
    for (const { e } of group) await removeOne(e);
  });
  if (roots.size > 0) {
    // Discovery puts a WABA's nodes in its own space: only the roots' spaces are read, not every space's entries.
    const listed = await Promise.all([...rootSpaces].flatMap((cs) => spacePrefixes(cs).map((p) => store.list<RegisteredTarget>(p))));
    const children = listed.flat().filter((r) => r.value.discoveredBy !== undefined && roots.has(r.value.discoveredBy));
    await forEachLimit(children, WRITE_PARALLELISM, async (c) => {
      if (await store.delete(c.key, { ifVersion: c.version })) result.Retired++;
    });
  }
  return result;
}

export interface WatchPage {
  entries: Array<{ id: string } & RegisteredTarget>;
  nextToken?: string;
}

/**
 * A filtered listing's token carries its CustSpaceId: given with another one, or with none, it is
 * refused, not read as a place in a listing it was not of (which skipped what that filter left out).
 */
const tokenScope = (custSpaceId: string | undefined) => (custSpaceId === undefined ? '' : `${custSpaceId}\n`);

/** The watch key a NextToken names, when the token is of a listing with this CustSpaceId filter (../store/next-token.ts). */
export function decodeNextToken(token: string, custSpaceId?: string): string | undefined {
  const scope = tokenScope(custSpaceId);
  return keyOfNextToken(token, scope + WATCH_PREFIX)?.slice(scope.length);
}

/**
 * The key ranges of one space's entries, in key order: an entry's id is `<NodeType>:<CustSpaceId>:<node>`
 * (targetId), and `phone` < `template` < `waba`.
 */
const spacePrefixes = (custSpaceId: string) => ['phone', 'template', 'waba'].map((t) => `${WATCH_PREFIX}${t}:${custSpaceId}:`);

/**
 * One page of the watch list in key order, after the key NextToken names. An entry added or removed
 * between pages never makes another one appear twice or be skipped. With `custSpaceId`, only that
 * space's key ranges are listed: a page reads its own entries, however many other spaces have.
 */
export async function listWatchPage(store: Store, pageSize: number, after?: string, custSpaceId?: string): Promise<WatchPage> {
  // Store pages of one more than asked (to know whether another page follows): only those entries are read.
  const rest: Array<{ key: string; value: RegisteredTarget }> = [];
  for (const prefix of custSpaceId === undefined ? [WATCH_PREFIX] : spacePrefixes(custSpaceId)) {
    rest.push(...(await store.list<RegisteredTarget>(prefix, { ...(after !== undefined ? { after } : {}), limit: pageSize + 1 - rest.length })));
    if (rest.length > pageSize) break;
  }
  const page = rest.slice(0, pageSize);
  const last = page.at(-1);
  return {
    entries: page.map((r) => ({ id: r.key.slice(WATCH_PREFIX.length), ...r.value })),
    ...(rest.length > pageSize && last ? { nextToken: nextTokenOf(tokenScope(custSpaceId) + last.key) } : {}),
  };
}
