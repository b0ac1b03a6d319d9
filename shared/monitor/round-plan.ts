import { randomUUID } from 'node:crypto';
import { update, type Store } from '../store/port.ts';
import { TARGET_INFO_PREFIX } from './check.ts';
import { RISKY_PREFIX } from './risk.ts';
import { loadWatchList, type TargetProblem, type WatchTarget } from './targets.ts';

export const ROUND_KEY = 'monitor/round';
/** Target ids per plan page: a resuming tick reads one page, not the whole list. */
export const PLAN_PAGE_SIZE = 1000;

/**
 * One pass over the whole watch list; it may take several invocations. Its order (the plan) is
 * fixed when it starts and stored in pages (`monitor/round/<id>/plan/<k>`), so every tick reads the
 * round record and the page it is in, and a node keeps its place from round to round.
 */
export interface SweepRound {
  id: string;
  startedAt: number;
  completedAt?: number;
  /** Progress as of the last write of the record (so a reader needs one get, not a scan). */
  checked?: number;
  total?: number;
  updatedAt?: number;
  /** Plan pages (absent: a round of an older version, replaced by a new one). */
  pages?: number;
  pageSize?: number;
  /** Every plan position below this one has been dealt with (checked, skipped, or set aside for a retry). */
  next?: number;
  /** No plan position at or above this one has been started in this round. */
  reserved?: number;
  /** Invalid stored watch entries seen when the plan was made (reported every tick of the round). */
  problems?: TargetProblem[];
  /** The previous round's length (alert clock, ms): spaces the risk checks. */
  previousMs?: number;
  /** Risk checks made during this round (bounded to a share of the round). */
  riskChecks?: number;
  /** Firing invalid-target problems as of the last tick: their index is listed only when there are some. */
  invalid?: number;
  /** Retry keys (retryPrefix) as of the last write: listed only when there are some. */
  retries?: number;
  /** Risk checks the round's own checks have earned and not yet spent (sweep.ts). */
  riskTokens?: number;
}

/**
 * Plan positions reserved per write of the round record: a tick that dies leaves at most this many
 * (plus the checks in flight) whose round marks the next tick reads to know whether they were checked.
 */
export const RESERVE_CHUNK = 100;

export const planPageKey = (round: string, page: number): string => `monitor/round/${round}/plan/${String(page).padStart(6, '0')}`;
/** A target whose check in this round failed transiently: one key each, re-checked at the next tick. */
export const retryPrefix = (round: string): string => `monitor/round/${round}/retry/`;

/** Reads one page of a round's plan (target ids). */
export async function readPlanPage(store: Store, round: SweepRound, page: number): Promise<string[]> {
  return (await store.get<string[]>(planPageKey(round.id, page)))?.value ?? [];
}

/**
 * Starts a round: lists the watch list (the one O(N) read of a round), keeps the previous plan's
 * order (read page by page) with new targets first, writes the new plan's pages, then the round
 * record. Targets that left the watch list lose their bookkeeping here. Returns the new round and
 * its first page, or the round another writer started meanwhile.
 */
export async function startRound(
  store: Store,
  envTargets: readonly WatchTarget[],
  previous: SweepRound | undefined,
  at: { id: string; now: number },
): Promise<{ round: SweepRound; firstPage?: string[] }> {
  const { targets, problems } = await loadWatchList(store, envTargets);
  const watched = new Set(targets.map((t) => t.id));
  const before: string[] = [];
  for (let k = 0; k < (previous?.pages ?? 0); k++) before.push(...(await readPlanPage(store, previous!, k)));
  const known = new Set(before);
  // Least recently swept first: targets new to the list (never swept), then last round's order.
  const order = [...targets.filter((t) => !known.has(t.id)).map((t) => t.id), ...before.filter((id) => watched.has(id))];
  const pages = Math.ceil(order.length / PLAN_PAGE_SIZE);
  for (let k = 0; k < pages; k++) await store.put(planPageKey(at.id, k), order.slice(k * PLAN_PAGE_SIZE, (k + 1) * PLAN_PAGE_SIZE));
  const round: SweepRound = {
    id: at.id,
    startedAt: at.now,
    checked: 0,
    total: order.length,
    updatedAt: at.now,
    pages,
    pageSize: PLAN_PAGE_SIZE,
    next: 0,
    // The first tick goes on at once: its first positions are reserved with the round.
    reserved: Math.min(order.length, RESERVE_CHUNK),
    riskChecks: 0,
    ...(problems.length ? { problems } : {}),
    ...(previous?.completedAt !== undefined ? { previousMs: previous.completedAt - previous.startedAt } : {}),
    // Risk tokens carry over: a new round gives no new burst.
    ...(previous?.riskTokens !== undefined ? { riskTokens: previous.riskTokens } : {}),
  };
  const result = await update<SweepRound>(store, ROUND_KEY, (r) => (r?.id === previous?.id ? round : undefined));
  if (result!.value.id !== round.id) {
    for (let k = 0; k < pages; k++) await store.delete(planPageKey(at.id, k));
    return { round: result!.value };
  }
  // The previous plan is no longer read; bookkeeping of targets no longer watched goes with it.
  if (previous?.pages) for (let k = 0; k < previous.pages; k++) await store.delete(planPageKey(previous.id, k));
  for (const id of before) {
    if (watched.has(id)) continue;
    await store.delete(TARGET_INFO_PREFIX + id);
    await store.delete(RISKY_PREFIX + id);
  }
  return { round, firstPage: order.slice(0, PLAN_PAGE_SIZE) };
}

export function newRoundId(now: number): string {
  return `${now}-${randomUUID().slice(0, 8)}`;
}
