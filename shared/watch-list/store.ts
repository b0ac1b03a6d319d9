import { DISCOVERY_PREFIX, markRemoved, REMOVED_PREFIX, type RegisteredTarget, WATCH_PREFIX } from '../monitor/targets.ts';
import { indexTarget } from '../monitor/waba-space.ts';
import { keyOfNextToken, nextTokenOf } from '../store/next-token.ts';
import { update, type Store } from '../store/port.ts';
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
}

/**
 * Puts entries under watch, one key each, idempotently: posting the same entry again changes
 * nothing. An explicit entry for a node discovery added pins it (discovery will not retire it), and a
 * Discover entry turns discovery on for a WABA already watched alone; nothing turns it off but DELETE.
 */
export async function addWatchEntries(store: Store, entries: readonly WatchEntry[], source: string, now = Date.now()): Promise<AddResult> {
  const result: AddResult = { Added: 0, Updated: 0, Unchanged: 0 };
  // The receipts' WABA → space index (waba-space.ts), once per WABA or space of the request, not per entry.
  const indexed = new Map<string, Promise<void>>();
  await forEachLimit(entries, WRITE_PARALLELISM, async (e) => {
    const space = `${e.target.CustSpaceId}/${e.target.WabaId ?? ''}`;
    if (!indexed.has(space)) indexed.set(space, indexTarget(store, e.target));
    await indexed.get(space);
    let outcome: keyof AddResult = 'Unchanged';
    await update<RegisteredTarget>(store, WATCH_PREFIX + e.id, (cur) => {
      if (!cur) {
        outcome = 'Added';
        return { target: e.target, source, registeredAt: new Date(now).toISOString(), ...(e.discover ? { discover: true as const } : {}) };
      }
      const pin = cur.discoveredBy !== undefined;
      const turnOn = e.discover && !cur.discover;
      if (!pin && !turnOn) {
        outcome = 'Unchanged';
        return undefined;
      }
      outcome = 'Updated';
      const { discoveredBy: _owner, ...rest } = cur;
      return { ...rest, source, ...(e.discover || cur.discover ? { discover: true as const } : {}) };
    });
    // A Discover entry new to this WABA is listed at the monitor's next round: what an entry deleted
    // before it remembers (its last listing, whose nodes the DELETE retired) must not hold it off.
    if (e.discover && outcome !== 'Unchanged') await store.delete(DISCOVERY_PREFIX + e.id);
    // Added by hand again: receipts may put it back under watch, as any node of a watched WABA.
    await store.delete(REMOVED_PREFIX + e.id);
    result[outcome]++;
  });
  return result;
}

export interface RemoveResult {
  Removed: number;
  Absent: number;
  /** Nodes discovery had added under a removed Discover entry, removed with it. */
  Retired: number;
}

/** Removes entries; a Discover entry (or the WABA entry carrying it) takes the nodes discovered under it along. */
export async function removeWatchEntries(store: Store, entries: readonly WatchEntry[], now = Date.now()): Promise<RemoveResult> {
  const result: RemoveResult = { Removed: 0, Absent: 0, Retired: 0 };
  const roots = new Set<string>();
  const rootSpaces = new Set<string>();
  await forEachLimit(entries, WRITE_PARALLELISM, async (e) => {
    const cur = await store.get<RegisteredTarget>(WATCH_PREFIX + e.id);
    if (cur?.value.discover) {
      roots.add(e.id);
      rootSpaces.add(e.target.CustSpaceId);
    }
    // Marked first: a receipt about it between the two would otherwise put it back.
    await markRemoved(store, e.id, now);
    if (cur && (await store.delete(WATCH_PREFIX + e.id))) result.Removed++;
    else result.Absent++;
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
