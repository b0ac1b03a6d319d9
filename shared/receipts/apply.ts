import type { CamsClient } from '../cams/client.ts';
import { isCamsError } from '../cams/errors.ts';
import { applyObservation, checkTarget, noteTarget, TARGET_INFO_PREFIX, type CheckContext, type TargetInfo } from '../monitor/check.ts';
import { ENTITY_PREFIX } from '../monitor/dispatch.ts';
import { errorCodes, fingerprintOf, type EntityState } from '../monitor/entity-state.ts';
import type { AlertPolicy, Observation } from '../monitor/rules.ts';
import { ROUND_KEY, type SweepRound } from '../monitor/sweep.ts';
import { loadWatchList, registerWatchTarget, REMOVED_PREFIX, targetId, WATCH_PREFIX, type NodeAttributes, type RegisteredTarget, type WatchTarget } from '../monitor/targets.ts';
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
import { countReceipts, isRedelivery, markActedOn, readLastReceipt, receiptKey, type ReceiptStats } from './dedup.ts';
import { receiptObservation } from './observation.ts';
import type { Receipt } from './parse.ts';

export const UNKNOWN_WABA_PREFIX = 'receipts/unknown-waba/';
export const UNKNOWN_RECEIPT_PREFIX = 'receipts/unknown/';
/**
 * A space CAMS would not name the WABA of is asked again after this long: asked at every batch, each
 * push for a WABA nobody watches (CAMS pushes every WABA of the account) spent a call per such space.
 */
const REFUSED_LOOKUP_TTL_MS = 3_600_000;
/** At most this many spaces are looked up per batch (each one CAMS call, once ever). */
const MAX_LOOKUPS = 20;
/** Receipts that are not acted on are kept this long, to be looked at. */
const KEEP_MS = 7 * 24 * 3_600_000;

export interface ReceiptDeps {
  store: Store;
  cams: CamsClient;
  policy: AlertPolicy;
  /** Sink names alerts are owed to. */
  sinks: readonly string[];
  envTargets: readonly WatchTarget[];
  /** Clock for alert decisions and bookkeeping. */
  now: () => number;
  deadline: number;
  log: (rec: Record<string, unknown>) => void;
}

export type ReceiptOutcome =
  | 'processed'
  /** Delivered before: counted, not acted on again. */
  | 'duplicate'
  /** A WABA no watched node belongs to: kept and logged, not alerted. */
  | 'unknown-waba'
  /** A Type or Status the notes do not list: kept and logged; its WABA is still checked. */
  | 'unknown-type'
  /** A node taken off the watch list by hand (DELETE /watch-list): not watched again, not alerted. */
  | 'removed';

export interface ReceiptResult {
  Index: number;
  Outcome: ReceiptOutcome;
  /** The watched node it is about (target id). */
  Node?: string;
  /** Set when the node was not watched before this receipt. */
  Registered?: boolean;
  /** The targeted check: ok, or the CAMS code it failed with (the sweep checks it again). */
  Check?: string;
}

/**
 * Acts on a batch of checked receipts: each new one records an event on its node (putting a node of
 * a watched WABA under watch), feeds the early-warning observation to the monitor's rules, and
 * triggers one immediate GetWhatsappHealthStatus of the node through the same check the sweep
 * runs. Failures outside CAMS are thrown so the delivery is retried; CAMS failures are left to the
 * sweep, the backstop.
 */
export async function applyReceipts(batch: ReadonlyArray<{ index: number; receipt: Receipt }>, deps: ReceiptDeps): Promise<ReceiptResult[]> {
  if (batch.length === 0) return [];
  const { store } = deps;
  if (!(await store.get(WABA_INDEX_BUILT_KEY))) await buildWabaIndex(store, deps.envTargets, deps.now());
  // The batch's WABAs and nodes are read one by one: a push costs what it names, not the account.
  const spaces = new Spaces(store, deps.envTargets);
  const wabaIds = [...new Set(batch.map(({ receipt }) => receipt.wabaId))];
  // Not only a WABA not indexed: one indexed under a space no longer watched may be watched under
  // another now (re-bound), whose targets do not name it; the look-up learns it.
  let unmatched = false;
  for (const wabaId of wabaIds) if (!(await spaces.of(wabaId))) unmatched = true;
  if (unmatched) await lookUpSpaces(spaces, deps);
  // A WABA watched now is no longer one nobody watches: a receipt that came before it was (during its
  // onboarding, say) kept it in the report's UnknownWabas for 7 days.
  for (const wabaId of wabaIds) if (await spaces.of(wabaId)) await store.delete(UNKNOWN_WABA_PREFIX + wabaId);
  const round = (await store.get<SweepRound>(ROUND_KEY))?.value.id ?? 'receipts';
  const ctx: CheckContext = { store, policy: deps.policy, sinks: deps.sinks, now: deps.now, deadline: deps.deadline };
  const run: BatchRun = { results: [], toCheck: new Map(), stats: { received: batch.length }, acted: new Map() };
  for (const { index, receipt } of batch) await recordReceipt(index, receipt, { spaces, round, ctx, deps, run });
  await checkNodes(run.toCheck, round, ctx, deps);
  await markBatchActedOn(run, deps);
  await countReceipts(store, run.stats);
  return run.results;
}

/** What one batch gathers as its receipts are recorded. */
interface BatchRun {
  results: ReceiptResult[];
  /** The nodes to check once each, with the results that named them. */
  toCheck: Map<string, { target: WatchTarget; results: ReceiptResult[] }>;
  stats: Partial<ReceiptStats>;
  /**
   * Per node (or unknown WABA): the last receipt of the batch acted on for it, what dedup read before
   * acting, and the early warning it fed the rules; recorded once the batch is acted on.
   */
  acted: Map<string, ActedOn>;
}

interface ActedOn {
  key: string;
  /** The watched node (target id); absent for a WABA nobody watches. */
  node?: string;
  /** The version of the node's last-receipt record that dedup read (undefined: none). */
  read: string | undefined;
  /** Fingerprints of the entities whose state is part of what is known about the node (nodeState). */
  entities: string[];
  results: ReceiptResult[];
}

const bump = (stats: Partial<ReceiptStats>, k: keyof ReceiptStats, by = 1) => {
  stats[k] = (stats[k] ?? 0) + by;
};

/**
 * One receipt: a redelivery (dedup.ts) is counted; one for a WABA nobody watches is kept and logged;
 * otherwise its node goes under watch, its event is noted and fed to the rules, and the node is
 * queued for a check.
 */
async function recordReceipt(
  index: number,
  receipt: Receipt,
  { spaces, round, ctx, deps, run }: { spaces: Spaces; round: string; ctx: CheckContext; deps: ReceiptDeps; run: BatchRun },
): Promise<void> {
  const { store } = deps;
  const key = receiptKey(receipt.raw);
  const result: ReceiptResult = { Index: index, Outcome: 'processed' };
  run.results.push(result);
  const space = await spaces.of(receipt.wabaId);
  // An unknown Type names no node we understand: its WABA is what gets checked.
  const target = space && (receipt.known ? nodeOf(receipt, space) : space.waba);
  const id = target && targetId(target);
  const watched = id ? await spaces.node(id) : undefined;
  // A quality receipt is judged with the tier discovery last listed for the number (its watch entry).
  const attributes = receipt.type === 'phoneQualityUpdate' ? watched?.attributes : undefined;
  const obs = space && receipt.known ? receiptObservation(receipt, space.custSpaceId, attributes) : undefined;
  if (space && target && id && !watched && (await removedByHand(store, target, id))) {
    // Taken off the watch list by hand: not put back, nor alerted on. Before dedup: a receipt not
    // acted on must not become its node's last one, or the same receipt once the node is posted
    // again (a redelivery, or the same status anew) was a "duplicate", its warning never raised.
    result.Outcome = 'removed';
    result.Node = id;
    bump(run.stats, 'removed');
    deps.log({ level: 'info', msg: 'receipt for a node removed from the watch list; not watched again', node: id, type: receipt.type });
    return;
  }
  if (await redelivered({ key, result, ...(id ? { node: id } : {}), entities: stateEntities(target, receipt.wabaId, obs) }, receipt.wabaId, run, store)) {
    result.Outcome = 'duplicate';
    bump(run.stats, 'duplicates');
    return;
  }
  if (!space || !target || !id) {
    result.Outcome = 'unknown-waba';
    bump(run.stats, 'unknownWaba');
    deps.log({ level: 'warn', msg: 'receipt for a WABA no watched node belongs to; not alerted', wabaId: receipt.wabaId, type: receipt.type });
    await store.put(UNKNOWN_WABA_PREFIX + receipt.wabaId, { WabaId: receipt.wabaId, LastAt: new Date(deps.now()).toISOString(), Receipt: receipt.raw }, { ttlMs: KEEP_MS });
    return;
  }
  if (!receipt.known) {
    result.Outcome = 'unknown-type';
    bump(run.stats, 'unknown');
    deps.log({ level: 'warn', msg: 'receipt with a Type or Status not in the notes; kept as data', type: receipt.type, status: receipt.status ?? receipt.auditStatus, wabaId: receipt.wabaId });
    await store.put(UNKNOWN_RECEIPT_PREFIX + key, { At: new Date(deps.now()).toISOString(), Receipt: receipt.raw }, { ttlMs: KEEP_MS });
  } else {
    bump(run.stats, 'processed');
  }

  result.Node = id;
  if (!watched) {
    try {
      await registerWatchTarget(store, target, `receipt:${receipt.type}`, deps.now());
      spaces.registered(id, target);
      result.Registered = true;
      deps.log({ level: 'info', msg: 'receipt put a node of a watched WABA under watch', node: id });
    } catch (e) {
      if (isStoreFailure(e)) throw e;
      deps.log({ level: 'warn', msg: 'receipt names a node that cannot be watched', node: id, error: (e as Error).message });
      return;
    }
  }
  // The entity the receipt writes is named in its node's reach before it is written (what goes when the node is no longer watched).
  await noteTarget(store, target, { lastReceiptAt: deps.now(), ...(obs ? { reach: [fingerprintOf(obs.subject)] } : {}) });
  // Receipts are events, not samples: they fire on the first one.
  if (obs) await applyObservation(obs, round, false, { ...ctx, policy: { ...deps.policy, minConsecutive: 1 } });
  const pending = run.toCheck.get(id) ?? { target, results: [] };
  pending.results.push(result);
  run.toCheck.set(id, pending);
}

/**
 * Whether the node was taken off the watch list by hand (REMOVED_PREFIX). A WABA named by its id may
 * have been watched, and removed, as the space's own WABA (`waba:<space>:`, no WabaId).
 */
async function removedByHand(store: Store, target: WatchTarget, id: string): Promise<boolean> {
  if (await store.get(REMOVED_PREFIX + id)) return true;
  if (target.NodeType !== 'waba' || target.WabaId === undefined) return false;
  return (await store.get(REMOVED_PREFIX + targetId({ CustSpaceId: target.CustSpaceId, NodeType: 'waba' }))) !== undefined;
}

/**
 * Whether a receipt is a redelivery (the rule and why: dedup.ts). Within one batch: the same receipt
 * again right after itself for its node. Otherwise: the node's record of its last receipt acted on,
 * and what the monitor has found about the node since. A receipt to act on becomes its node's last
 * of the batch. A receipt for a WABA nobody watches has no node: its WABA id stands for one.
 */
async function redelivered(r: Omit<ActedOn, 'read' | 'results'> & { result: ReceiptResult }, wabaId: string, run: BatchRun, store: Store): Promise<boolean> {
  const stream = r.node ?? `unknown-waba:${wabaId}`;
  const inBatch = run.acted.get(stream);
  let read: string | undefined;
  if (inBatch) {
    if (inBatch.key === r.key) return true;
    read = inBatch.read;
  } else {
    const last = await readLastReceipt(store, stream);
    if (last?.value.key === r.key && isRedelivery({ last, status: await nodeState(store, r.node, r.entities) }, r.key)) return true;
    read = last?.version;
  }
  const { result, ...acted } = r;
  run.acted.set(stream, { ...acted, read, results: [result] });
  return false;
}

/**
 * The entities, besides the node's last check, whose state says what the monitor found about a
 * receipt's node: for an early warning, the entity it feeds (a quality or template state discovery
 * or another receipt may have changed since); for a WABA, its WABA entity, which every check of a
 * number or template under it reports too (its own target's record says only what checks of the
 * WABA target found, so a recovery a number's check saw left the WABA's next receipt a "duplicate").
 */
function stateEntities(target: WatchTarget | undefined, wabaId: string, observation: Observation | undefined): string[] {
  const out = observation ? [fingerprintOf(observation.subject)] : [];
  if (target?.NodeType === 'waba') out.push(fingerprintOf({ nodeType: 'waba', entityType: 'WABA', custSpaceId: target.CustSpaceId, wabaId }));
  return out;
}

/**
 * What the monitor last found about what a receipt speaks of: the node's last check (its worst
 * status, from any check of it, the sweep's included) and the state of each of `entities`
 * (stateEntities), with its error codes: a number's YELLOW and RED are both LIMITED, so a listing
 * that saw RED turn YELLOW left the next RED receipt a "duplicate" and the entity YELLOW.
 */
async function nodeState(store: Store, node: string | undefined, entities: readonly string[]): Promise<string> {
  if (!node) return '-';
  const parts = [(await store.get<TargetInfo>(TARGET_INFO_PREFIX + node))?.value.status ?? '-'];
  for (const fp of entities) {
    const state = (await store.get<EntityState>(ENTITY_PREFIX + fp))?.value;
    parts.push(state ? [state.status, ...errorCodes(state.errors)].join(' ') : '-');
  }
  return parts.join('|');
}

/** One check per node, however many receipts named it; a CAMS failure is left to the sweep. */
async function checkNodes(toCheck: BatchRun['toCheck'], round: string, ctx: CheckContext, deps: ReceiptDeps): Promise<void> {
  for (const { target, results } of toCheck.values()) {
    let outcome = 'ok';
    try {
      await checkTarget(deps.cams, target, round, ctx);
    } catch (e) {
      if (!isCamsError(e)) throw e;
      outcome = e.Code;
      deps.log({ level: 'warn', msg: 'targeted check failed; the sweep checks the node again', node: targetId(target), code: e.Code });
    }
    for (const r of results) r.Check = outcome;
  }
}

/**
 * Records, per node, the batch's last receipt acted on for it and what the monitor found after it.
 * One that another delivery of the same receipt recorded first is a duplicate (the rules kept its
 * effects single).
 */
async function markBatchActedOn(run: BatchRun, deps: ReceiptDeps): Promise<void> {
  for (const [stream, acted] of run.acted) {
    const status = await nodeState(deps.store, acted.node, acted.entities);
    if (await markActedOn(deps.store, stream, acted.key, status, deps.now(), acted.read)) continue;
    for (const result of acted.results) {
      if (result.Outcome !== 'processed') continue;
      result.Outcome = 'duplicate';
      bump(run.stats, 'duplicates');
      bump(run.stats, 'processed', -1);
    }
  }
}

interface WabaSpace {
  custSpaceId: string;
  /** The WABA's own watch target (the watched one when there is one). */
  waba: WatchTarget;
}

/** A watched node as a batch read it: its target, and what discovery last listed for it. */
interface WatchedNode {
  target: WatchTarget;
  attributes?: NodeAttributes;
}

/**
 * WabaId → the space it is watched under, and which nodes are watched, read per WABA and per node
 * (the index in waba-space.ts, `watch/<id>`, the env targets), each once per batch. Before, each push
 * loaded the whole watch list and every entity: tens of MB at 10,000 nodes, on a 256 MB function.
 */
class Spaces {
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
    return { custSpaceId, waba: own?.target ?? { CustSpaceId: custSpaceId, NodeType: 'waba', WabaId: wabaId } };
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
        if (stored) return { target: stored.target, ...(stored.attributes ? { attributes: stored.attributes } : {}) };
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
async function buildWabaIndex(store: Store, envTargets: readonly WatchTarget[], now: number): Promise<void> {
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
 * Watched spaces whose targets never named their WABA and that no check has reported yet (a fresh
 * watch list; the pending index, and env targets): their WABA id is asked of CAMS once
 * (QueryChatappBindWaba) and kept in the store. A refusal, or an answer naming no WABA, is kept too,
 * for REFUSED_LOOKUP_TTL_MS; a transient failure (throttled, 5xx, no answer) is asked again at the
 * next batch.
 */
async function lookUpSpaces(spaces: Spaces, deps: ReceiptDeps): Promise<void> {
  const { store } = deps;
  const refuse = (custSpaceId: string, why: string) => store.put<SpaceWaba>(SPACE_WABA_PREFIX + custSpaceId, { Refused: why }, { ttlMs: REFUSED_LOOKUP_TTL_MS });
  const candidates = new Set((await store.list(WABA_PENDING_PREFIX)).map((m) => m.key.slice(WABA_PENDING_PREFIX.length)));
  for (const t of spaces.envTargets) if (!t.WabaId) candidates.add(t.CustSpaceId);
  const unresolved: string[] = [];
  for (const custSpaceId of candidates) {
    const known = (await store.get<SpaceWaba>(SPACE_WABA_PREFIX + custSpaceId))?.value;
    // Learnt since it was marked (a check, another target), or refused within the hour.
    if (known?.WabaId) await store.delete(WABA_PENDING_PREFIX + custSpaceId);
    else if (known) continue;
    else if (await spaces.spaceWatched(custSpaceId)) unresolved.push(custSpaceId);
    // No longer watched: a target registered in it again marks it again.
    else await store.delete(WABA_PENDING_PREFIX + custSpaceId);
  }
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
      deps.log({ level: 'warn', msg: 'cannot learn the WABA of a watched space', custSpaceId, code: e.Code });
      if (!e.retryable) await refuse(custSpaceId, e.Code);
    }
  }
  if (unresolved.length > MAX_LOOKUPS) deps.log({ level: 'warn', msg: 'more watched spaces without a known WABA than one batch looks up', count: unresolved.length });
}

/** The node a known receipt is about. */
function nodeOf(r: Receipt, space: WabaSpace): WatchTarget {
  if (r.templateCode && r.language) return { CustSpaceId: space.custSpaceId, NodeType: 'template', TemplateCode: r.templateCode, Language: r.language };
  if (r.phoneNumber) return { CustSpaceId: space.custSpaceId, NodeType: 'phone', PhoneNumber: r.phoneNumber };
  return space.waba;
}

function isStoreFailure(e: unknown): boolean {
  return e instanceof Error && e.name === 'StoreError';
}
