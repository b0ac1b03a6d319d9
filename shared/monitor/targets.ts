import { createHash } from 'node:crypto';
import { update, type Store, type Versioned } from '../store/port.ts';
import { HealthNode, parseStoredNode, targetProblems } from '../validation/health-target.ts';
import { indexTarget, knownWabaOf } from './waba-space.ts';

export type WatchTarget = HealthNode;

export const WATCH_PREFIX = 'watch/';
/**
 * Nodes taken off the watch list by hand (DELETE /watch-list), one key each (`RemovedRecord`): a
 * receipt about one, or its Discover entry's listing, does not put it back under watch. Cleared when
 * it is added again (POST /watch-list, an onboarding); otherwise it expires REMOVED_KEEP_MS after it
 * last kept the node off (markRemoved, removedRecord, keptOff).
 */
export const REMOVED_PREFIX = 'watch-removed/';
/**
 * How long a removal record outlives the last time it kept its node off. Well past the 7 days a
 * receipt can come late (FC keeps an async event up to 7 days, an SMQ queue a message up to 7 days),
 * so a retry of a receipt sent before the removal is still refused. A node still listed under its
 * Discover entry, or still named by receipts, renews it: only a node nothing brings back lets it go.
 */
export const REMOVED_KEEP_MS = 30 * 24 * 3_600_000;
/** keptOff renews a record at most this often: a Discover entry listed hourly writes once a day per removed node. */
const REMOVED_RENEW_MS = 24 * 3_600_000;

export interface RemovedRecord {
  RemovedAt: string;
  /** When it last kept the node off (epoch ms); RemovedAt until then. Its expiry counts from here. */
  KeptOffAt?: number;
}

/** Remembers a node taken off the watch list by hand, until REMOVED_KEEP_MS from `now`. */
export async function markRemoved(store: Store, id: string, now: number): Promise<void> {
  await store.put<RemovedRecord>(REMOVED_PREFIX + id, { RemovedAt: new Date(now).toISOString(), KeptOffAt: now }, { ttlMs: REMOVED_KEEP_MS });
}

const keptOffAt = (r: RemovedRecord) => r.KeptOffAt ?? Date.parse(r.RemovedAt);

/**
 * A record past its time by the caller's clock counts as absent, and is deleted (the store's TTL
 * removes it too; a record an earlier version wrote has none). Undefined when the record is not live.
 */
async function liveRecord(store: Store, r: { key: string } & Versioned<RemovedRecord>, now: number): Promise<({ key: string } & Versioned<RemovedRecord>) | undefined> {
  if (now - keptOffAt(r.value) < REMOVED_KEEP_MS) return r;
  await store.delete(r.key, { ifVersion: r.version });
  return undefined;
}

/** The node's removal record, when it is live at `now`. */
export async function removedRecord(store: Store, id: string, now: number): Promise<({ key: string } & Versioned<RemovedRecord>) | undefined> {
  const r = await store.get<RemovedRecord>(REMOVED_PREFIX + id);
  return r && liveRecord(store, { key: REMOVED_PREFIX + id, ...r }, now);
}

/**
 * The live removal records of one space's phones and templates, by target id: the nodes a Discover
 * entry lists are all in its space, so a listing reads its own space's records, not every space's.
 */
export async function removedInSpace(store: Store, custSpaceId: string, now: number): Promise<Map<string, { key: string } & Versioned<RemovedRecord>>> {
  const out = new Map<string, { key: string } & Versioned<RemovedRecord>>();
  for (const type of ['phone', 'template']) {
    for (const r of await store.list<RemovedRecord>(`${REMOVED_PREFIX}${type}:${custSpaceId}:`)) {
      const live = await liveRecord(store, r, now);
      if (live) out.set(r.key.slice(REMOVED_PREFIX.length), live);
    }
  }
  return out;
}

/**
 * A record that just kept its node off is renewed (at most once per REMOVED_RENEW_MS), only if it is
 * still the one read: a node posted again meanwhile (its record deleted) is not marked removed again.
 */
export async function keptOff(store: Store, r: { key: string } & Versioned<RemovedRecord>, now: number): Promise<void> {
  if (now - keptOffAt(r.value) < REMOVED_RENEW_MS) return;
  await store.put<RemovedRecord>(r.key, { ...r.value, KeptOffAt: now }, { ifVersion: r.version, ttlMs: REMOVED_KEEP_MS });
}

/**
 * What discovery remembers per Discover entry (its watch id; discovery.ts): deleted with the entry's
 * other bookkeeping (unwatched.ts), and when a Discover entry is posted anew (watch-list/store.ts).
 */
export const DISCOVERY_PREFIX = 'monitor/discovery/';

/** Set once the removal records an earlier version wrote (no expiry) were given theirs. */
export const REMOVED_EXPIRING_KEY = 'monitor/removed-expiring';

/**
 * Once per store: a removal record an earlier version wrote (no KeptOffAt, no TTL) gets the TTL it
 * would have had, or goes if that has passed; read in pages, so the one walk holds little in memory.
 */
export async function expireOldRemovals(store: Store, now: number): Promise<void> {
  if (await store.get(REMOVED_EXPIRING_KEY)) return;
  let after: string | undefined;
  for (;;) {
    const page = await store.list<RemovedRecord>(REMOVED_PREFIX, { limit: 1000, ...(after !== undefined ? { after } : {}) });
    for (const r of page) {
      if (r.value.KeptOffAt !== undefined) continue;
      const at = keptOffAt(r.value);
      if (now - at < REMOVED_KEEP_MS) await store.put<RemovedRecord>(r.key, { ...r.value, KeptOffAt: at }, { ifVersion: r.version, ttlMs: REMOVED_KEEP_MS - (now - at) });
      else await store.delete(r.key, { ifVersion: r.version });
    }
    if (page.length < 1000) break;
    after = page.at(-1)!.key;
  }
  await store.put(REMOVED_EXPIRING_KEY, { at: now });
}

/** Stable identity of a target: what it watches, not how it was written. */
export function targetId(t: WatchTarget): string {
  // A waba target without WabaId means the space's own WABA: one node per space.
  const node =
    t.NodeType === 'waba' ? (t.WabaId ?? '') : t.NodeType === 'phone' ? t.PhoneNumber : `${t.TemplateCode}/${t.Language}`;
  return `${t.NodeType}:${t.CustSpaceId}:${node}`;
}

/** The space and WabaId of a waba target's id (`waba:<CustSpaceId>:<WabaId>`; WabaId '' for the space's own WABA). */
export function wabaIdParts(id: string): { custSpaceId: string; wabaId: string } | undefined {
  if (!id.startsWith('waba:')) return undefined;
  const at = id.indexOf(':', 5);
  return at < 0 ? undefined : { custSpaceId: id.slice(5, at), wabaId: id.slice(at + 1) };
}

/**
 * The ids among `ids` of waba targets without WabaId (the space's own WABA) whose WABA another id
 * names: one with the WabaId the index knows for the space (waba-space.ts). A space has one WABA, so
 * the two are one node, checked (and alerted on) once, as the named one. While the index knows no
 * WABA for the space, or another one (the named target is then wrong, and rejected), both stay.
 */
export async function sameWabaIds(store: Store, ids: Iterable<string>): Promise<Set<string>> {
  const own = new Set<string>();
  const named = new Map<string, Set<string>>();
  for (const id of ids) {
    const p = wabaIdParts(id);
    if (!p) continue;
    if (p.wabaId === '') own.add(p.custSpaceId);
    else named.set(p.custSpaceId, (named.get(p.custSpaceId) ?? new Set()).add(p.wabaId));
  }
  const covered = new Set<string>();
  for (const cs of own) {
    const wabas = named.get(cs);
    if (!wabas) continue;
    const known = await knownWabaOf(store, cs);
    if (known !== undefined && wabas.has(known)) covered.add(targetId({ CustSpaceId: cs, NodeType: 'waba' }));
  }
  return covered;
}

/**
 * The spaces whose WABA `ids` holds in both forms, without a WabaId and with one (sameWabaIds left
 * both: the index knew no WABA for the space, or another one). Reads nothing.
 */
export function wabaInBothForms(ids: Iterable<string>): string[] {
  const own = new Set<string>();
  const named = new Set<string>();
  for (const id of ids) {
    const p = wabaIdParts(id);
    if (p) (p.wabaId === '' ? own : named).add(p.custSpaceId);
  }
  return [...own].filter((cs) => named.has(cs)).sort();
}

export interface TargetProblem {
  /** Where it came from: `MONITOR_TARGETS[3]` or a store key. */
  where: string;
  message: string;
  /**
   * What the bad entry is, when `where` is not (a MONITOR_TARGETS index moves when the list is
   * reordered): its InvalidTarget alert is keyed by this, so reordering neither resolves nor doubles it.
   */
  ref?: string;
}

/** The longest entry a ref spells out in full; a longer one is cut and told apart by a hash. */
const REF_TEXT_MAX = 160;

/** A bad MONITOR_TARGETS entry's identity: its JSON with keys sorted (how it was written, spaced or ordered, does not count). */
function entryRef(entry: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
  const text = JSON.stringify(sorted(entry)) ?? String(entry);
  if (text.length <= REF_TEXT_MAX) return `MONITOR_TARGETS ${text}`;
  return `MONITOR_TARGETS ${text.slice(0, REF_TEXT_MAX)}… #${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
}

/** MONITOR_TARGETS: a JSON array of targets; each bad entry is reported, the good ones are kept. */
export function parseMonitorTargets(raw: string | undefined): { targets: WatchTarget[]; problems: TargetProblem[] } {
  if (raw === undefined || raw.trim() === '') return { targets: [], problems: [] };
  let list: unknown;
  try {
    list = JSON.parse(raw);
  } catch {
    return { targets: [], problems: [{ where: 'MONITOR_TARGETS', message: 'is not valid JSON (expected an array of targets)' }] };
  }
  if (!Array.isArray(list)) return { targets: [], problems: [{ where: 'MONITOR_TARGETS', message: 'must be a JSON array of targets' }] };
  const targets: WatchTarget[] = [];
  const problems: TargetProblem[] = [];
  list.forEach((entry, i) => {
    const r = HealthNode.safeParse(entry);
    if (r.success) targets.push(r.data);
    else problems.push({ where: `MONITOR_TARGETS[${i}]`, message: targetProblems(r.error.issues).map((x) => `${x.path.join('.') || '(target)'}: ${x.message}`).join('; '), ref: entryRef(entry) });
  });
  return { targets, problems };
}

/** What discovery last learnt about a node (QueryChatappPhoneNumbers / ListChatappTemplate). */
export interface NodeAttributes {
  QualityRating?: string;
  MessagingLimitTier?: string;
  /** The highest tier seen for the number: a tier below it is a drop. */
  PeakMessagingLimitTier?: string;
  Status?: string;
  AuditStatus?: string;
  /** Epoch ms discovery last saw the node. */
  SeenAt?: number;
}

/** One watched node, one store key (`watch/<targetId>`): a change never rewrites another entry. */
export interface RegisteredTarget {
  target: WatchTarget;
  source: string;
  registeredAt: string;
  /** A waba entry that also stands for every number and template under it. */
  discover?: true;
  /** Set on nodes discovery added: the id of the Discover entry that owns them (it may retire them). */
  discoveredBy?: string;
  attributes?: NodeAttributes;
}

/**
 * Puts a target under watch (idempotent: the same node registers once), owned by `discoveredBy` (a
 * Discover entry's id) when given. An entry already there is
 * left as it is, with or without a WabaId: an alert's fingerprint holds its target's WabaId, so
 * giving it one would leave an alert firing under the old form that no check resolves.
 */
export async function registerWatchTarget(store: Store, target: WatchTarget, source: string, now = Date.now(), discoveredBy?: string): Promise<string> {
  const parsed = HealthNode.parse(target);
  const id = targetId(parsed);
  // A receipt finds the node's space through this index (waba-space.ts), not the whole watch list.
  await indexTarget(store, parsed);
  await store.put<RegisteredTarget>(WATCH_PREFIX + id, { target: parsed, source, registeredAt: new Date(now).toISOString(), ...(discoveredBy ? { discoveredBy } : {}) }, { ifAbsent: true });
  return id;
}

/**
 * A node no caller named: one a Discover entry owns, or one a receipt added (a listing adopts it).
 * Named by hand (POST /watch-list, an onboarding), it becomes the caller's: no Discover entry retires it.
 */
export function unpicked(cur: RegisteredTarget): boolean {
  return cur.discoveredBy !== undefined || cur.source.startsWith('receipt:');
}

/**
 * Puts a target under watch as a caller asked for it by name (an onboarding's watch step): registered
 * as registerWatchTarget does, and a node a Discover entry owns, or a receipt added (which a listing
 * adopts), is taken over under `source`, as POST /watch-list pins it: deleting that Discover entry
 * then does not retire what the caller put under watch.
 */
export async function registerPinnedTarget(store: Store, target: WatchTarget, source: string, now = Date.now()): Promise<string> {
  const id = await registerWatchTarget(store, target, source, now);
  await update<RegisteredTarget>(store, WATCH_PREFIX + id, (cur) => {
    if (!cur || !unpicked(cur)) return undefined;
    const { discoveredBy: _owner, ...rest } = cur;
    return { ...rest, source };
  });
  return id;
}

/** Stored targets validated per turn of the event loop by loadWatchList. */
const VALIDATE_SLICE = 500;

/** The watch list: env targets plus registered ones, de-duplicated and in a stable order. */
export async function loadWatchList(store: Store, envTargets: readonly WatchTarget[]): Promise<{ targets: Array<{ id: string; target: WatchTarget }>; problems: TargetProblem[] }> {
  const byId = new Map<string, WatchTarget>();
  for (const t of envTargets) byId.set(targetId(t), t);
  const problems: TargetProblem[] = [];
  const entries = await store.list<RegisteredTarget>(WATCH_PREFIX);
  for (let i = 0; i < entries.length; i++) {
    // The round's scan runs beside its first checks: validating 10,000 entries in one turn of the
    // event loop held it ~60 ms and made their slots late, so a turn is given every slice (~2 ms).
    if (i > 0 && i % VALIDATE_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const entry = entries[i]!;
    const r = parseStoredNode(entry.value?.target);
    if (r.success) byId.set(targetId(r.data), r.data);
    else problems.push({ where: entry.key, message: 'stored target is not valid' });
  }
  const targets = [...byId.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, target]) => ({ id, target }));
  return { targets, problems };
}
