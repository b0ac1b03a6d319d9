import { randomUUID } from 'node:crypto';
import { update, type Store } from '../store/port.ts';
import { UNPLANNED_PREFIX } from './target-info.ts';
import { loadWatchList, sameWabaIds, targetId, wabaInBothForms, WATCH_PREFIX, type TargetProblem, type WatchTarget } from './targets.ts';
import { runUnwatchedPass, unwatchedPassWanted, type UnwatchedOptions } from './unwatched.ts';

export const ROUND_KEY = 'monitor/round';
/** Target ids per plan page: a resuming tick reads one page, not the whole list. */
export const PLAN_PAGE_SIZE = 1000;
/**
 * Plan positions reserved per write of the round record: a tick that dies leaves at most this many
 * (plus the checks in flight) whose round marks the next tick reads to know whether they were checked.
 */
export const RESERVE_CHUNK = 100;

/**
 * A stored order of target ids: `pages` pages of at most PLAN_PAGE_SIZE under
 * `monitor/round/<id>/plan/`. Position p is entry p % PLAN_PAGE_SIZE of page ⌊p / PLAN_PAGE_SIZE⌋;
 * positions up to `end`, of which `count` hold an id (a page appended after a short one leaves a
 * gap, skipped like a removed target).
 */
export interface PlanRef {
  id: string;
  pages: number;
  end: number;
  count: number;
  /** Where the gap before the appended pages begins (it ends at the next page boundary); absent: no gap, or a plan of an older version. */
  gapFrom?: number;
  /**
   * Spaces whose WABA the plan holds in both forms (targets.ts wabaInBothForms): a check of one form
   * in an earlier tick of the round is looked for only for these (sweep.ts checkedInOtherForm).
   */
  bothForms?: string[];
}

/** `plan` naming the spaces whose WABA `ids` (all of its ids) holds in both forms. */
function withBothForms(plan: PlanRef, ids: Iterable<string>): PlanRef {
  const { bothForms: _, ...rest } = plan;
  const spaces = wabaInBothForms(ids);
  return spaces.length ? { ...rest, bothForms: spaces } : rest;
}

/** How many plan positions from `pos` on hold an id (the gap, a page appended after a short one, holds none). */
export function idsFrom(plan: PlanRef, pos: number): number {
  const all = Math.max(0, plan.end - pos);
  if (plan.gapFrom === undefined) return all;
  const gapEnd = Math.ceil(plan.gapFrom / PLAN_PAGE_SIZE) * PLAN_PAGE_SIZE;
  return all - Math.max(0, gapEnd - Math.max(pos, plan.gapFrom));
}

/**
 * One pass over the whole watch list; it may take several invocations. Its order (the plan) is the
 * previous round's, stored in pages, so every tick reads the round record and the page it is in,
 * and a node keeps its place from round to round. The watch list itself is listed once per round,
 * beside the round's first checks (scanRound): targets added since the plan was made are appended
 * to it as tail pages (checked in this round, and in that place in the next ones).
 */
export interface SweepRound {
  id: string;
  startedAt: number;
  completedAt?: number;
  /** Progress as of the last write of the record (so a reader needs one get, not a scan). */
  checked?: number;
  total?: number;
  updatedAt?: number;
  /** The order this round follows (absent: a round of an older version, replaced by a new one). */
  plan?: PlanRef;
  /** The watch list was listed in this round: added targets are in the plan, `nextPlan` is what the next round follows. */
  scanned?: true;
  nextPlan?: PlanRef;
  /** Every plan position below this one has been dealt with (checked, skipped, or set aside for a retry). */
  next?: number;
  /** No plan position at or above this one has been started in this round. */
  reserved?: number;
  /** Invalid stored watch entries seen when the watch list was last listed (reported every tick). */
  problems?: TargetProblem[];
  /** Firing invalid-target problems as of the last tick: their index is listed only when there are some. */
  invalid?: number;
  /** Retry keys (retryPrefix) as of the last write: listed only when there are some. */
  retries?: number;
  /** CAMS answered a check in the round's last tick (sweep.ts observeGivenUp reads it). */
  answered?: boolean;
  /** The previous round's length (alert clock, ms): spaces the risk checks. */
  previousMs?: number;
  /** Risk checks made during this round. */
  riskChecks?: number;
  /** Risk checks the round's own checks have earned and not yet spent (sweep.ts). */
  riskTokens?: number;
}

const planPageKey = (plan: string, page: number): string => `monitor/round/${plan}/plan/${String(page).padStart(6, '0')}`;
/** A target whose check in this round failed transiently: one key each, re-checked at the next tick. */
export const retryPrefix = (round: string): string => `monitor/round/${round}/retry/`;

/** Reads one page of a plan (target ids). */
export async function readPlanPage(store: Store, plan: PlanRef, page: number): Promise<string[]> {
  return (await store.get<string[]>(planPageKey(plan.id, page)))?.value ?? [];
}

/** Writes `ids` as pages `from`… of plan `id`; returns the plan through them. */
async function writePlan(store: Store, id: string, ids: readonly string[], base?: PlanRef): Promise<PlanRef> {
  const from = base?.pages ?? 0;
  const pages = Math.ceil(ids.length / PLAN_PAGE_SIZE);
  for (let k = 0; k < pages; k++) await store.put(planPageKey(id, from + k), ids.slice(k * PLAN_PAGE_SIZE, (k + 1) * PLAN_PAGE_SIZE));
  // One gap at most: a round follows a plan without one (scanRound rewrites a plan that has one) and appends once.
  const gapFrom = base && base.end < from * PLAN_PAGE_SIZE ? { gapFrom: base.end } : base?.gapFrom !== undefined ? { gapFrom: base.gapFrom } : {};
  return { id, pages: from + pages, end: from * PLAN_PAGE_SIZE + ids.length, count: (base?.count ?? 0) + ids.length, ...gapFrom };
}

async function deletePlan(store: Store, plan: PlanRef): Promise<void> {
  for (let k = 0; k < plan.pages; k++) await store.delete(planPageKey(plan.id, k));
}

/**
 * Starts a round after `previous` (undefined: the first). With a plan to follow (the previous
 * round's next plan) it reads nothing more: O(1), the checks start at once and scanRound lists
 * the watch list beside them. The first round's plan is its first page of the watch list (configured
 * targets first): O(page); the scan appends the rest. Returns the round now current: this one, or
 * the one another writer started meanwhile.
 */
export async function startRound(
  store: Store,
  envTargets: readonly WatchTarget[],
  previous: SweepRound | undefined,
  at: { id: string; now: number },
): Promise<SweepRound> {
  const follow = previous?.nextPlan ?? previous?.plan;
  let plan = follow;
  if (!plan) {
    const env = [...new Set(envTargets.map(targetId))].sort();
    const configured = new Set(env);
    const first = (await store.list(WATCH_PREFIX, { limit: PLAN_PAGE_SIZE })).map((e) => e.key.slice(WATCH_PREFIX.length)).filter((id) => !configured.has(id));
    const ids = [...env, ...first];
    // A space's WABA watched both with and without its WabaId is checked once (targets.ts sameWabaIds).
    const same = await sameWabaIds(store, ids);
    const planned = ids.filter((id) => !same.has(id));
    plan = withBothForms(await writePlan(store, at.id, planned), planned);
  }
  const round: SweepRound = {
    id: at.id,
    startedAt: at.now,
    plan,
    total: plan.count,
    ...(previous?.problems?.length ? { problems: previous.problems } : {}),
    checked: 0,
    updatedAt: at.now,
    next: 0,
    // The first tick goes on at once: its first positions are reserved with the round.
    reserved: Math.min(plan.end, RESERVE_CHUNK),
    riskChecks: 0,
    ...(previous?.completedAt !== undefined ? { previousMs: previous.completedAt - previous.startedAt } : {}),
    // Risk tokens carry over: a new round gives no new burst.
    ...(previous?.riskTokens !== undefined ? { riskTokens: previous.riskTokens } : {}),
  };
  const result = await update<SweepRound>(store, ROUND_KEY, (r) => (r?.id === previous?.id ? round : undefined));
  if (result!.value.id !== round.id) {
    if (!follow) await deletePlan(store, plan);
    return result!.value;
  }
  // The plan the previous round followed is read no more (unless this one follows it too).
  if (previous?.plan && previous.plan.id !== plan.id) await deletePlan(store, previous.plan);
  return round;
}

/**
 * The round's one listing of the watch list (O(N) reads, beside the checks). Targets added since
 * the plan was made are appended to it as tail pages (this round checks them; `onPlan` gets the
 * longer plan before the round record has it). The next round follows the same plan, or, when
 * targets were removed, one without them. Marks the round scanned. Then, when targets were removed
 * (from the plan, or before any plan held them: the unplanned markers target-info.ts noteTarget leaves) or a
 * pass is due, what they left is closed out and their bookkeeping deleted (unwatched.ts).
 */
export async function scanRound(
  store: Store,
  envTargets: readonly WatchTarget[],
  round: SweepRound,
  onPlan: (plan: PlanRef) => void,
  unwatched: UnwatchedOptions,
): Promise<{ added: number; removed: number; problems: TargetProblem[] }> {
  const listed = await loadWatchList(store, envTargets);
  const { problems } = listed;
  // A space's WABA watched both with and without its WabaId is one node: the form without it leaves
  // the plan (from the next round) as a removed target would, its own alerts closed out; what the
  // named one reaches (the WABA's entities) stays (targets.ts sameWabaIds).
  const same = await sameWabaIds(store, listed.targets.map((t) => t.id));
  const targets = same.size ? listed.targets.filter((t) => !same.has(t.id)) : listed.targets;
  let plan = round.plan!;
  const order: string[] = [];
  for (let k = 0; k < plan.pages; k++) order.push(...(await readPlanPage(store, plan, k)));
  const watched = new Set(targets.map((t) => t.id));
  const inPlan = new Set(order);
  const added = targets.filter((t) => !inPlan.has(t.id)).map((t) => t.id);
  const had = plan.bothForms?.join();
  // Named again whatever was added: a plan an older version wrote names none, and is followed round after round.
  plan = withBothForms(added.length ? await writePlan(store, plan.id, added, plan) : plan, [...order, ...added]);
  if (added.length || plan.bothForms?.join() !== had) onPlan(plan);
  const removed = order.filter((id) => !watched.has(id));
  const kept = [...order.filter((id) => watched.has(id)), ...added];
  const nextPlan = removed.length || plan.end > plan.count ? withBothForms(await writePlan(store, `${round.id}-next`, kept), kept) : plan;
  const res = await update<SweepRound>(store, ROUND_KEY, (r) =>
    r?.id === round.id ? { ...r, scanned: true, plan, nextPlan, total: plan.count, ...(problems.length ? { problems } : { problems: undefined }) } : undefined,
  );
  if (res?.value.id !== round.id) return { added: 0, removed: 0, problems };
  // Targets whose bookkeeping began outside a round check: still watched, they are in the plan now; gone, they were removed.
  const unplanned = await store.list(UNPLANNED_PREFIX);
  const unplannedGone = unplanned.filter((m) => !watched.has(m.key.slice(UNPLANNED_PREFIX.length)));
  const pass = await unwatchedPassWanted(store, removed.length + unplannedGone.length, unwatched.now());
  if (pass) await runUnwatchedPass(store, new Map(targets.map((t) => [t.id, t.target])), unwatched);
  for (const m of unplanned) {
    // Kept for one added after the listing (not in the plan yet) until a listing has it in the plan or a pass saw it gone.
    const id = m.key.slice(UNPLANNED_PREFIX.length);
    if (watched.has(id) || same.has(id) || (pass && !(await store.get(WATCH_PREFIX + id)))) await store.delete(m.key, { ifVersion: m.version });
  }
  return { added: added.length, removed: removed.length + unplannedGone.length, problems };
}

export function newRoundId(now: number): string {
  return `${now}-${randomUUID().slice(0, 8)}`;
}
