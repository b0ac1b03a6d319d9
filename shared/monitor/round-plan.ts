import { randomUUID } from 'node:crypto';
import { update, type Store } from '../store/port.ts';
import { TARGET_INFO_PREFIX } from './check.ts';
import { RISKY_PREFIX } from './risk.ts';
import { loadWatchList, type TargetProblem, type WatchTarget } from './targets.ts';

export const ROUND_KEY = 'monitor/round';
/** Target ids per plan page: a resuming tick reads one page, not the whole list. */
export const PLAN_PAGE_SIZE = 1000;
/**
 * Plan positions reserved per write of the round record: a tick that dies leaves at most this many
 * (plus the checks in flight) whose round marks the next tick reads to know whether they were checked.
 */
export const RESERVE_CHUNK = 100;

/** A stored order of target ids: `pages` pages of PLAN_PAGE_SIZE under `monitor/round/<id>/plan/`. */
export interface PlanRef {
  id: string;
  pages: number;
  total: number;
}

/**
 * One pass over the whole watch list; it may take several invocations. Its order (the plan) is the
 * previous round's, stored in pages, so every tick reads the round record and the page it is in,
 * and a node keeps its place from round to round. The watch list itself is listed once per round,
 * beside the round's first checks (scanRound): targets added since the plan was made are checked in
 * this round as retries, and the next round's plan (new targets first) is written then.
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
  /** The watch list was listed in this round: targets added since the plan are among its retries, `next` is the next round's plan. */
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
  /** The previous round's length (alert clock, ms): spaces the risk checks. */
  previousMs?: number;
  /** Risk checks made during this round. */
  riskChecks?: number;
  /** Risk checks the round's own checks have earned and not yet spent (sweep.ts). */
  riskTokens?: number;
}

export const planPageKey = (plan: string, page: number): string => `monitor/round/${plan}/plan/${String(page).padStart(6, '0')}`;
/** A target this round must still check (its check failed transiently, or it was added since the plan): one key each. */
export const retryPrefix = (round: string): string => `monitor/round/${round}/retry/`;

/** Reads one page of a plan (target ids). */
export async function readPlanPage(store: Store, plan: PlanRef, page: number): Promise<string[]> {
  return (await store.get<string[]>(planPageKey(plan.id, page)))?.value ?? [];
}

async function writePlan(store: Store, id: string, order: readonly string[]): Promise<PlanRef> {
  const pages = Math.ceil(order.length / PLAN_PAGE_SIZE);
  for (let k = 0; k < pages; k++) await store.put(planPageKey(id, k), order.slice(k * PLAN_PAGE_SIZE, (k + 1) * PLAN_PAGE_SIZE));
  return { id, pages, total: order.length };
}

async function deletePlan(store: Store, plan: PlanRef): Promise<void> {
  for (let k = 0; k < plan.pages; k++) await store.delete(planPageKey(plan.id, k));
}

/**
 * Starts a round after `previous` (undefined: the first). With a plan to follow (the previous
 * round's next plan, else its own) it reads nothing more: O(1), the checks start at once and
 * scanRound lists the watch list beside them. The first round lists the watch list itself (sorted
 * by target id) and needs no scan. Returns the round now current: this one, or the one another
 * writer started meanwhile.
 */
export async function startRound(
  store: Store,
  envTargets: readonly WatchTarget[],
  previous: SweepRound | undefined,
  at: { id: string; now: number },
): Promise<SweepRound> {
  const follow = previous?.nextPlan ?? previous?.plan;
  let round: SweepRound;
  if (follow) {
    round = { id: at.id, startedAt: at.now, plan: follow, total: follow.total, ...(previous?.problems?.length ? { problems: previous.problems } : {}) };
  } else {
    const { targets, problems } = await loadWatchList(store, envTargets);
    const plan = await writePlan(store, at.id, targets.map((t) => t.id));
    round = { id: at.id, startedAt: at.now, plan, total: plan.total, scanned: true, nextPlan: plan, ...(problems.length ? { problems } : {}) };
  }
  Object.assign(round, {
    checked: 0,
    updatedAt: at.now,
    next: 0,
    // The first tick goes on at once: its first positions are reserved with the round.
    reserved: Math.min(round.total!, RESERVE_CHUNK),
    riskChecks: 0,
    ...(previous?.completedAt !== undefined ? { previousMs: previous.completedAt - previous.startedAt } : {}),
    // Risk tokens carry over: a new round gives no new burst.
    ...(previous?.riskTokens !== undefined ? { riskTokens: previous.riskTokens } : {}),
  });
  const result = await update<SweepRound>(store, ROUND_KEY, (r) => (r?.id === previous?.id ? round : undefined));
  if (result!.value.id !== round.id) {
    if (!follow) await deletePlan(store, round.plan!);
    return result!.value;
  }
  // The plan the previous round followed is read no more (unless this one follows it too).
  if (previous?.plan && previous.plan.id !== follow?.id) await deletePlan(store, previous.plan);
  return round;
}

/**
 * The round's one listing of the watch list (O(N) reads, beside the checks): targets added since
 * the plan get a retry key each and are handed to `onAdded` (the caller checks them in this round), the next round's plan is written (added first, then this plan without the removed ones),
 * and the bookkeeping of removed targets is deleted. Marks the round scanned.
 */
export async function scanRound(
  store: Store,
  envTargets: readonly WatchTarget[],
  round: SweepRound,
  onAdded: (ids: readonly string[]) => void,
): Promise<{ added: string[]; problems: TargetProblem[] }> {
  const { targets, problems } = await loadWatchList(store, envTargets);
  const plan = round.plan!;
  const order: string[] = [];
  for (let k = 0; k < plan.pages; k++) order.push(...(await readPlanPage(store, plan, k)));
  const watched = new Set(targets.map((t) => t.id));
  const inPlan = new Set(order);
  const added = targets.filter((t) => !inPlan.has(t.id)).map((t) => t.id);
  for (const id of added) await store.put(retryPrefix(round.id) + id, 1);
  // Before the round record counts them, so no write of the caller's own count can drop them.
  onAdded(added);
  const removed = order.filter((id) => !watched.has(id));
  const nextPlan = added.length || removed.length ? await writePlan(store, round.id, [...added, ...order.filter((id) => watched.has(id))]) : plan;
  const res = await update<SweepRound>(store, ROUND_KEY, (r) =>
    r?.id === round.id
      ? { ...r, scanned: true, nextPlan, total: plan.total + added.length, retries: (r.retries ?? 0) + added.length, ...(problems.length ? { problems } : { problems: undefined }) }
      : undefined,
  );
  if (res?.value.id !== round.id) return { added: [], problems };
  for (const id of removed) {
    await store.delete(TARGET_INFO_PREFIX + id);
    await store.delete(RISKY_PREFIX + id);
  }
  return { added, problems };
}

export function newRoundId(now: number): string {
  return `${now}-${randomUUID().slice(0, 8)}`;
}
