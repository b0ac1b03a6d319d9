/**
 * Which watched space a receipt's WABA belongs to, and which of its nodes are watched: read per WABA
 * and per node through the WABA → space index (../monitor/waba-space.ts), `watch/<id>` and the env
 * targets; the index built once for a store written before it; and the spaces no target named the
 * WABA of, looked up with QueryChatappBindWaba.
 */
import type { CamsClient } from '../cams/client.ts';
import { HTTP_ERROR, INVALID_RESPONSE, isCamsError, isExpiredToken, isOwnCallRefusal, isPermissionRefusal } from '../cams/errors.ts';
import { ENTITY_PREFIX } from '../monitor/entity-store.ts';
import type { EntityState } from '../monitor/entity-state.ts';
import { loadWatchList, targetId, WATCH_PREFIX, type NodeAttributes, type RegisteredTarget, type WatchTarget } from '../monitor/targets.ts';
import { withoutOtherTypesFields } from '../validation/health-target.ts';
import {
  noteWabaSpace,
  SPACE_WABA_PREFIX,
  WABA_INDEX_BUILT_KEY,
  WABA_PENDING_PREFIX,
  WABA_SPACE_PREFIX,
  writeWabaSpace,
  type SpaceWaba,
  type WabaSpaceEntry,
} from '../monitor/waba-space.ts';
import type { Store } from '../store/port.ts';

/**
 * A space CAMS would not name the WABA of is asked again after this long: asked at every batch, each
 * push for a WABA nobody watches (CAMS pushes every WABA of the account) spent a call per such space.
 */
const REFUSED_LOOKUP_TTL_MS = 3_600_000;
/** At most this many spaces are looked up per batch (each one CAMS call, once ever). */
const MAX_LOOKUPS = 20;
/** At most this many pending spaces are read per batch (a get each, and a few lists for one not refused). */
const MAX_PENDING_READS = 3 * MAX_LOOKUPS;

/** What a look-up needs of the batch's dependencies (apply.ts ReceiptDeps). */
export interface LookUpDeps {
  store: Store;
  cams: CamsClient;
  deadline: number;
  log: (rec: Record<string, unknown>) => void;
}

export interface WabaSpace {
  custSpaceId: string;
  /** The WABA's own watch target (the watched one when there is one). */
  waba: WatchTarget;
  /** The WABA's watch entry id when it is a Discover entry: a node a receipt puts under watch is its. */
  discoverRoot?: string;
}

/** A watched node as a batch read it: its target, and what discovery last listed for it. */
interface WatchedNode {
  target: WatchTarget;
  attributes?: NodeAttributes;
  discover?: true;
}

/**
 * WabaId → the space it is watched under, and which nodes are watched, read per WABA and per node
 * (the index in waba-space.ts, `watch/<id>`, the env targets), each once per batch, never the whole
 * watch list and every entity: tens of MB at 10,000 nodes, on a 256 MB function.
 */
export class Spaces {
  private readonly envById = new Map<string, WatchTarget>();
  private readonly envWaba = new Map<string, string>();
  private readonly envSpaces = new Set<string>();
  private readonly nodes = new Map<string, Promise<WatchedNode | undefined>>();
  private readonly wabas = new Map<string, Promise<WabaSpace | undefined>>();
  private readonly indexed = new Map<string, string | undefined>();
  private readonly watchedSpaces = new Map<string, Promise<boolean>>();

  constructor(
    private readonly store: Store,
    readonly envTargets: readonly WatchTarget[],
  ) {
    for (const t of envTargets) {
      this.envById.set(targetId(t), t);
      this.envSpaces.add(t.CustSpaceId);
      if (t.WabaId) this.envWaba.set(t.WabaId, t.CustSpaceId);
    }
  }

  private async spaceIdOf(wabaId: string): Promise<string | undefined> {
    if (!this.indexed.has(wabaId)) {
      const cs = this.envWaba.get(wabaId) ?? (await this.store.get<WabaSpaceEntry>(WABA_SPACE_PREFIX + wabaId))?.value.CustSpaceId;
      this.indexed.set(wabaId, cs);
    }
    return this.indexed.get(wabaId);
  }

  /** A look-up named the WABA of a space. */
  learnt(wabaId: string, custSpaceId: string): void {
    this.indexed.set(wabaId, custSpaceId);
    this.wabas.delete(wabaId);
  }

  /** The watched space of a WABA: undefined when no node of its space is watched (or none is known). */
  of(wabaId: string): Promise<WabaSpace | undefined> {
    let p = this.wabas.get(wabaId);
    if (!p) this.wabas.set(wabaId, (p = this.resolve(wabaId)));
    return p;
  }

  private async resolve(wabaId: string): Promise<WabaSpace | undefined> {
    const custSpaceId = await this.spaceIdOf(wabaId);
    if (custSpaceId === undefined) return undefined;
    // The WABA's watched target: named by its id, else the space's own (no WabaId), as the sorted
    // watch list made it before.
    const own = (await this.node(targetId({ CustSpaceId: custSpaceId, NodeType: 'waba', WabaId: wabaId }))) ?? (await this.node(targetId({ CustSpaceId: custSpaceId, NodeType: 'waba' })));
    if (!own && !(await this.spaceWatched(custSpaceId))) return undefined;
    if (!own) return { custSpaceId, waba: { CustSpaceId: custSpaceId, NodeType: 'waba', WabaId: wabaId } };
    return { custSpaceId, waba: own.target, ...(own.discover ? { discoverRoot: targetId(own.target) } : {}) };
  }

  /** Whether any node of the space is watched: an env target, else the first key of each of its id ranges. */
  spaceWatched(custSpaceId: string): Promise<boolean> {
    let p = this.watchedSpaces.get(custSpaceId);
    if (!p) {
      p = (async () => {
        if (this.envSpaces.has(custSpaceId)) return true;
        for (const type of ['waba', 'phone', 'template']) {
          // Ids are `<type>:<space>:…` and a CustSpaceId has no ':', so this range is the space's alone.
          if ((await this.store.list(`${WATCH_PREFIX}${type}:${custSpaceId}:`, { limit: 1 })).length > 0) return true;
        }
        return false;
      })();
      this.watchedSpaces.set(custSpaceId, p);
    }
    return p;
  }

  /** The node when it is watched (its stored entry, else an env target). */
  node(id: string): Promise<WatchedNode | undefined> {
    let p = this.nodes.get(id);
    if (!p) {
      p = (async () => {
        const stored = (await this.store.get<RegisteredTarget>(WATCH_PREFIX + id))?.value;
        // An entry an earlier version stored with a field of another NodeType is checked without it, as the sweep checks it.
        if (stored) return { target: withoutOtherTypesFields(stored.target), ...(stored.attributes ? { attributes: stored.attributes } : {}), ...(stored.discover ? { discover: true as const } : {}) };
        const env = this.envById.get(id);
        return env ? { target: env } : undefined;
      })();
      this.nodes.set(id, p);
    }
    return p;
  }

  /** The batch put the node under watch. */
  registered(id: string, target: WatchTarget): void {
    this.nodes.set(id, Promise.resolve({ target }));
  }
}

/**
 * The index built from the full scan, once, for a store written before it existed (the watch list's
 * WabaIds, the WABAs checks reported, earlier look-ups; the spaces none names marked pending). After
 * that, the writers keep it (waba-space.ts).
 */
export async function buildWabaIndex(store: Store, envTargets: readonly WatchTarget[], now: number): Promise<void> {
  const { targets } = await loadWatchList(store, envTargets);
  const bySpace = new Map<string, Set<string>>();
  for (const { target } of targets) {
    const s = bySpace.get(target.CustSpaceId) ?? new Set<string>();
    bySpace.set(target.CustSpaceId, s);
    if (target.WabaId) s.add(target.WabaId);
  }
  for (const { value } of await store.list<EntityState>(ENTITY_PREFIX)) {
    const { custSpaceId, wabaId, nodeType } = value.subject;
    if (nodeType !== 'monitor' && custSpaceId && wabaId) bySpace.get(custSpaceId)?.add(wabaId);
  }
  const refused = new Set<string>();
  for (const { key, value } of await store.list<SpaceWaba>(SPACE_WABA_PREFIX)) {
    const cs = key.slice(SPACE_WABA_PREFIX.length);
    if (value?.WabaId) bySpace.get(cs)?.add(value.WabaId);
    else refused.add(cs);
  }
  for (const [custSpaceId, wabaIds] of bySpace) {
    for (const wabaId of wabaIds) await noteWabaSpace(store, wabaId, custSpaceId);
    if (wabaIds.size === 0) await store.put(WABA_PENDING_PREFIX + custSpaceId, 1);
  }
  await store.put(WABA_INDEX_BUILT_KEY, { BuiltAt: new Date(now).toISOString() });
}

/**
 * A look-up failure that says nothing about the space: the function's own credentials or grant (the
 * role lacks cams:QueryChatappBindWaba, a disabled key, no subscription), which every space's look-up
 * meets alike, or a reply we could not read. Kept as the space's refusal, it left the space's receipts
 * `unknown-waba` for up to an hour after the role was fixed.
 */
function refusesTheCaller(code: string): boolean {
  // `Forbidden.*` is the gateway refusing the calling account or key (a disabled key, RAM, risk
  // control, an account not activated), never one space: CAMS refuses a space by its own codes.
  return isOwnCallRefusal(code) || isPermissionRefusal(code) || code === 'Product.Unsubscript' || code.startsWith('Forbidden.');
}
const NO_READABLE_ANSWER = new Set([INVALID_RESPONSE, HTTP_ERROR]);

/**
 * Watched spaces whose targets never named their WABA and that no check has reported yet (a fresh
 * watch list; the pending index, and env targets): their WABA id is asked of CAMS once
 * (QueryChatappBindWaba) and kept in the store. A refusal of the space, or an answer naming no WABA, is
 * kept too, for REFUSED_LOOKUP_TTL_MS; a transient failure (throttled, 5xx, no answer), a reply we could
 * not read, or a refusal of the function's own credentials or grant (refusesTheCaller) is asked again at
 * the next batch: the last ends the batch's look-ups (the others would meet it too) and is logged as an
 * error. Returns how many look-ups the function's credentials or grant lost (the receipts' lookUpRefused
 * count). At most MAX_PENDING_READS pending spaces are read per batch, from a random one on, so spaces
 * refused within the hour do not cost every push a read each, nor hide the others for ever.
 */
export async function lookUpSpaces(spaces: Spaces, deps: LookUpDeps, random: () => number = Math.random): Promise<number> {
  const { store } = deps;
  const refuse = (custSpaceId: string, why: string) => store.put<SpaceWaba>(SPACE_WABA_PREFIX + custSpaceId, { Refused: why }, { ttlMs: REFUSED_LOOKUP_TTL_MS });
  const candidates = new Set((await store.list(WABA_PENDING_PREFIX)).map((m) => m.key.slice(WABA_PENDING_PREFIX.length)));
  for (const t of spaces.envTargets) if (!t.WabaId) candidates.add(t.CustSpaceId);
  const all = [...candidates];
  const from = Math.floor(random() * all.length);
  const read = all.length > MAX_PENDING_READS ? [...all.slice(from), ...all.slice(0, from)].slice(0, MAX_PENDING_READS) : all;
  const unresolved: string[] = [];
  for (const custSpaceId of read) {
    if (unresolved.length > MAX_LOOKUPS) break; // enough to look up, and to say more are waiting
    const known = (await store.get<SpaceWaba>(SPACE_WABA_PREFIX + custSpaceId))?.value;
    // Learnt since it was marked (a check, another target), or refused within the hour.
    if (known?.WabaId) await store.delete(WABA_PENDING_PREFIX + custSpaceId);
    else if (known) continue;
    else if (await spaces.spaceWatched(custSpaceId)) unresolved.push(custSpaceId);
    // No longer watched: a target registered in it again marks it again.
    else await store.delete(WABA_PENDING_PREFIX + custSpaceId);
  }
  let callerRefused = 0;
  for (const custSpaceId of unresolved.slice(0, MAX_LOOKUPS)) {
    try {
      const { data } = await deps.cams.queryBindWaba({ CustSpaceId: custSpaceId }, { deadline: deps.deadline });
      const wabaId = data.Id;
      if (!wabaId) {
        await refuse(custSpaceId, 'no WABA bound');
        continue;
      }
      await writeWabaSpace(store, wabaId, custSpaceId);
      spaces.learnt(wabaId, custSpaceId);
    } catch (e) {
      if (!isCamsError(e)) throw e;
      // The invocation's STS token ran out: every look-up left would be refused for it alike. Nothing
      // is kept or counted (nothing to fix: the next invocation's token is fresh); asked again then.
      if (isExpiredToken(e.Code)) {
        deps.log({ level: 'warn', msg: "the function's STS token expired during the push's WABA look-ups; asked again at the next push", custSpaceId, code: e.Code });
        break;
      }
      if (!e.retryable && refusesTheCaller(e.Code)) {
        callerRefused++;
        deps.log({ level: 'error', msg: "CAMS refused the function's own look-up of a space's WABA: grant cams:QueryChatappBindWaba to the cams-events role (or fix its credentials); asked again at the next push", custSpaceId, code: e.Code });
        break;
      }
      deps.log({ level: 'warn', msg: 'cannot learn the WABA of a watched space', custSpaceId, code: e.Code });
      if (!e.retryable && !NO_READABLE_ANSWER.has(e.Code)) await refuse(custSpaceId, e.Code);
    }
  }
  if (unresolved.length > MAX_LOOKUPS || read.length < all.length) deps.log({ level: 'warn', msg: 'more watched spaces without a known WABA than one batch looks up', pending: all.length });
  return callerRefused;
}
