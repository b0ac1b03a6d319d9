import type { CamsClient } from '../cams/client.ts';
import { isCamsError } from '../cams/errors.ts';
import { applyUnobserved, checkTarget, type CheckContext } from '../monitor/check.ts';
import { noteTarget, TARGET_INFO_PREFIX, type TargetInfo } from '../monitor/target-info.ts';
import { ENTITY_PREFIX } from '../monitor/dispatch.ts';
import { errorCodes, fingerprintOf, type EntityState } from '../monitor/entity-state.ts';
import type { AlertPolicy, Observation } from '../monitor/rules.ts';
import { monitorSubject, resolveMonitorAlert } from '../monitor/monitor-alert.ts';
import { ROUND_KEY, type SweepRound } from '../monitor/sweep.ts';
import { WABA_INDEX_BUILT_KEY } from '../monitor/waba-space.ts';
import { keptOff, registerWatchTarget, removedRecord, targetId, type WatchTarget } from '../monitor/targets.ts';
import type { Store } from '../store/port.ts';
import { countReceipts, isRedelivery, markActedOn, readLastReceipt, receiptKey, type ReceiptStats } from './dedup.ts';
import { receiptObservation } from './observation.ts';
import { PHONE_TYPES, TEMPLATE_TYPES, type Receipt } from './parse.ts';
import { buildWabaIndex, lookUpSpaces, Spaces, type WabaSpace } from './spaces.ts';
import { UNKNOWN_WABA_PREFIX } from './summary.ts';

export { UNKNOWN_WABA_PREFIX };
export const UNKNOWN_RECEIPT_PREFIX = 'receipts/unknown/';
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
export async function applyReceipts(batch: ReadonlyArray<{ index: number; receipt: Receipt }>, deps: ReceiptDeps, malformed = 0): Promise<ReceiptResult[]> {
  // The delivery's malformed receipts are counted in the batch's one write of its counts, once it is
  // acted on: a delivery that fails before then (a 503 CAMS pushes again, a queue message
  // redelivered) counts nothing, so its retry counts them once.
  const counted = { received: batch.length + malformed, invalid: malformed };
  if (batch.length === 0) {
    await countReceipts(deps.store, counted);
    return [];
  }
  // What its receipts say was so when it came, not when each is applied (a listing's read in between is newer).
  const receivedAt = deps.now();
  const { store } = deps;
  if (!(await store.get(WABA_INDEX_BUILT_KEY))) await buildWabaIndex(store, deps.envTargets, deps.now());
  // The batch's WABAs and nodes are read one by one: a push costs what it names, not the account.
  const spaces = new Spaces(store, deps.envTargets);
  const wabaIds = [...new Set(batch.map(({ receipt }) => receipt.wabaId))];
  // Not only a WABA not indexed: one indexed under a space no longer watched may be watched under
  // another now (re-bound), whose targets do not name it; the look-up learns it.
  let unmatched = false;
  for (const wabaId of wabaIds) if (!(await spaces.of(wabaId))) unmatched = true;
  const lookUpRefused = unmatched ? await lookUpSpaces(spaces, deps) : 0;
  // A WABA watched now is no longer one nobody watches: a receipt that came before it was (during its
  // onboarding, say) kept it in the report's UnknownWabas for 7 days.
  for (const wabaId of wabaIds) if (await spaces.of(wabaId)) await store.delete(UNKNOWN_WABA_PREFIX + wabaId);
  const round = (await store.get<SweepRound>(ROUND_KEY))?.value.id ?? 'receipts';
  const ctx: CheckContext = { store, policy: deps.policy, sinks: deps.sinks, now: deps.now, deadline: deps.deadline };
  const streams = await pushStreams(batch, spaces);
  const run: BatchRun = { receivedAt, results: [], toCheck: new Map(), stats: { ...counted, lookUpRefused }, acted: new Map(), streams, redelivered: new Set() };
  for (const { index, receipt } of batch) await recordReceipt(index, receipt, { spaces, round, ctx, deps, run });
  await checkNodes(run.toCheck, round, ctx, deps);
  await markBatchActedOn(run, deps);
  await countReceipts(store, run.stats);
  return run.results;
}

/** What one batch gathers as its receipts are recorded. */
interface BatchRun {
  /** When the batch came (alert clock): when what its receipts say was read (Observation.receivedAt). */
  receivedAt: number;
  results: ReceiptResult[];
  /** The nodes to check once each, with the results that named them. */
  toCheck: Map<string, { target: WatchTarget; results: ReceiptResult[] }>;
  stats: Partial<ReceiptStats>;
  /**
   * Per node (or unknown WABA): the receipts of the batch acted on for it, what dedup read before
   * acting, and the early warning it fed the rules; recorded once the batch is acted on.
   */
  acted: Map<string, ActedOn>;
  /** Per node (or unknown WABA): the push's receipts for it, judged as one (pushStreams). */
  streams: Map<string, PushStream>;
  /** The nodes whose receipts in this push are a redelivery, every one of them. */
  redelivered: Set<string>;
}

/** A push's receipts for one node: their keys in order (one repeated right after itself once), and what they speak of. */
interface PushStream {
  keys: string[];
  /** Every receipt's stateEntities, once each. */
  entities: string[];
}

interface ActedOn {
  /** The batch's receipts acted on for the node, in order. */
  keys: string[];
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
  const key = receiptKey(receipt.content);
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
  if (space && target && id && !watched && (await removedByHand(store, target, id, deps.now()))) {
    // Taken off the watch list by hand: not put back, nor alerted on. Before dedup: a receipt not
    // acted on must not become its node's last one, or the same receipt once the node is posted
    // again (a redelivery, or the same status anew) was a "duplicate", its warning never raised.
    result.Outcome = 'removed';
    result.Node = id;
    bump(run.stats, 'removed');
    deps.log({ level: 'info', msg: 'receipt for a node removed from the watch list; not watched again', node: id, type: receipt.type });
    return;
  }
  const stream = streamOf(id, receipt.wabaId);
  if (await redelivered({ stream, key, result, ...(id ? { node: id } : {}), entities: run.streams.get(stream)!.entities }, run, store)) {
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
  let watchForm = watched?.target ?? target;
  if (!watched) {
    try {
      // With the receipt's WabaId, as onboarding and discovery watch a number or template: its own
      // alerts (TargetRejected) then carry it, and a `WabaId` silence holds them. Under a Discover
      // entry the node is its, as if listed: deleting the entry retires it too.
      watchForm = target.NodeType === 'waba' ? target : { ...target, WabaId: receipt.wabaId };
      await registerWatchTarget(store, watchForm, `receipt:${receipt.type}`, deps.now(), space.discoverRoot);
      spaces.registered(id, watchForm);
      result.Registered = true;
      deps.log({ level: 'info', msg: 'receipt put a node of a watched WABA under watch', node: id });
    } catch (e) {
      if (isStoreFailure(e)) throw e;
      deps.log({ level: 'warn', msg: 'receipt names a node that cannot be watched', node: id, error: (e as Error).message });
      return;
    }
  }
  // The entity the receipt writes is named in its node's reach before it is written (what goes when
  // the node is no longer watched), and marked while it fires (what the node's check reminds of).
  // Receipts are events, not samples: they fire on the first one.
  const noted: TargetInfo = { lastReceiptAt: deps.now() };
  if (obs) await applyUnobserved(target, { ...obs, receivedAt: run.receivedAt }, round, { ...ctx, policy: { ...deps.policy, minConsecutive: 1 } }, noted);
  else await noteTarget(store, target, noted);
  // Checked as watched (with its WabaId), as the sweep checks it: the receipt's form lacks it, and
  // the node's TargetRejected alert is keyed by the watched form.
  const pending = run.toCheck.get(id) ?? { target: watchForm, results: [] };
  pending.results.push(result);
  run.toCheck.set(id, pending);
}

/**
 * Whether the node was taken off the watch list by hand (a live removal record, targets.ts). A WABA named by its id may
 * have been watched, and removed, as the space's own WABA (`waba:<space>:`, no WabaId).
 */
async function removedByHand(store: Store, target: WatchTarget, id: string, now: number): Promise<boolean> {
  let r = await removedRecord(store, id, now);
  if (!r && target.NodeType === 'waba' && target.WabaId !== undefined) r = await removedRecord(store, targetId({ CustSpaceId: target.CustSpaceId, NodeType: 'waba' }), now);
  // Still named by receipts: kept off for REMOVED_KEEP_MS more.
  if (r) await keptOff(store, r, now);
  return r !== undefined;
}

/** The dedup stream of a receipt: its node, or for a WABA nobody watches its WABA id standing for one. */
const streamOf = (node: string | undefined, wabaId: string): string => node ?? `unknown-waba:${wabaId}`;

/**
 * The push's receipts per node, in order, read before any is acted on (the batch's spaces and nodes,
 * already read, so no store work of their own): a retried push is judged by all it holds for a node.
 */
async function pushStreams(batch: ReadonlyArray<{ receipt: Receipt }>, spaces: Spaces): Promise<Map<string, PushStream>> {
  const out = new Map<string, PushStream>();
  for (const { receipt } of batch) {
    const space = await spaces.of(receipt.wabaId);
    const target = space && (receipt.known ? nodeOf(receipt, space) : space.waba);
    const obs = space && receipt.known ? receiptObservation(receipt, space.custSpaceId) : undefined;
    const stream = streamOf(target && targetId(target), receipt.wabaId);
    const s = out.get(stream) ?? { keys: [], entities: [] };
    out.set(stream, s);
    const key = receiptKey(receipt.content);
    if (s.keys.at(-1) !== key) s.keys.push(key);
    for (const e of stateEntities(target, receipt.wabaId, obs)) if (!s.entities.includes(e)) s.entities.push(e);
  }
  return out;
}

/**
 * Whether a receipt is a redelivery (the rule and why: dedup.ts). Within one batch: the same receipt
 * again right after itself for its node, or one of a node whose receipts in this push were judged a
 * redelivery. Otherwise: the push's receipts for the node, in order, against the node's record of the
 * receipts last acted on, and what the monitor has found about the node since. A receipt to act on
 * joins its node's receipts of the batch. A receipt for a WABA nobody watches has no node: its WABA id
 * stands for one.
 */
async function redelivered(r: { stream: string; key: string; node?: string; entities: string[]; result: ReceiptResult }, run: BatchRun, store: Store): Promise<boolean> {
  const { stream } = r;
  if (run.redelivered.has(stream)) return true;
  const inBatch = run.acted.get(stream);
  if (inBatch) {
    if (inBatch.keys.at(-1) === r.key) return true;
    inBatch.keys.push(r.key);
    inBatch.results.push(r.result);
    return false;
  }
  const last = await readLastReceipt(store, stream);
  const keys = run.streams.get(stream)!.keys;
  if (last && isRedelivery({ last, status: await nodeState(store, r.node, r.entities) }, keys)) {
    run.redelivered.add(stream);
    return true;
  }
  run.acted.set(stream, { keys: [r.key], ...(r.node ? { node: r.node } : {}), read: last?.version, entities: r.entities, results: [r.result] });
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
      // CAMS answered for the node: a rejection alert of it is over, as after the sweep's check.
      await resolveMonitorAlert(deps.store, monitorSubject('TargetRejected', target), { now: ctx.now(), round, policy: deps.policy, sinks: deps.sinks });
    } catch (e) {
      if (!isCamsError(e)) throw e;
      outcome = e.Code;
      deps.log({ level: 'warn', msg: 'targeted check failed; the sweep checks the node again', node: targetId(target), code: e.Code });
    }
    for (const r of results) r.Check = outcome;
  }
}

/**
 * Records, per node, the batch's receipts acted on for it and what the monitor found after them.
 * Those another delivery of the same push recorded first are duplicates, every one (the rules kept
 * their effects single).
 */
async function markBatchActedOn(run: BatchRun, deps: ReceiptDeps): Promise<void> {
  for (const [stream, acted] of run.acted) {
    const status = await nodeState(deps.store, acted.node, acted.entities);
    if (await markActedOn(deps.store, stream, acted.keys, status, deps.now(), acted.read)) continue;
    for (const result of acted.results) {
      if (result.Outcome !== 'processed') continue;
      result.Outcome = 'duplicate';
      bump(run.stats, 'duplicates');
      bump(run.stats, 'processed', -1);
    }
  }
}

/**
 * The node a known receipt is about, by its Type (notes/receipts.md): read by which fields are filled,
 * a number's or WABA's receipt that also carried TemplateCode and Language put its warning on that
 * template and the template under watch (as a wabaReviewUpdate with a PhoneNumber did its number).
 */
function nodeOf(r: Receipt, space: WabaSpace): WatchTarget {
  if (TEMPLATE_TYPES.has(r.type)) return { CustSpaceId: space.custSpaceId, NodeType: 'template', TemplateCode: r.templateCode!, Language: r.language! };
  // The notes fill PhoneNumber for the phone types and wabaAccountUpdate (a number's account change).
  if (r.phoneNumber && (PHONE_TYPES.has(r.type) || r.type === 'wabaAccountUpdate')) return { CustSpaceId: space.custSpaceId, NodeType: 'phone', PhoneNumber: r.phoneNumber };
  return space.waba;
}

function isStoreFailure(e: unknown): boolean {
  return e instanceof Error && e.name === 'StoreError';
}
