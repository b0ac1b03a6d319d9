import { openSharedStore, type Store } from '../../store/index.ts';
import type { CamsAction } from '../operations.ts';
import { CamsBudget } from './budget.ts';
import { budgetQps } from './qps.ts';

const byUrl = new Map<string, CamsBudget>();
const byStore = new WeakMap<Store, Map<string, CamsBudget>>();
let local: Map<string, CamsBudget> | undefined;

/**
 * The instance's CAMS budget: on a store (a STORE_URL, or a store the function already opened), so
 * every instance and function on it shares one schedule; without one, this process alone. One budget
 * per (store, limits), so every client of the instance shares the same schedule and fallback.
 * `qps` defaults to CAMS_QPS over the documented limits (a bad CAMS_QPS throws a ConfigError naming it).
 */
export function sharedBudget(store: string | Store | undefined, qps: Record<CamsAction, number> = budgetQps()): CamsBudget {
  const id = JSON.stringify(qps);
  const memo =
    store === undefined ? (local ??= new Map()) : typeof store === 'string' ? byUrl : (byStore.get(store) ?? byStore.set(store, new Map()).get(store)!);
  const key = typeof store === 'string' ? `${store}\n${id}` : id;
  let budget = memo.get(key);
  if (!budget) {
    const source = typeof store === 'string' ? { store: () => openSharedStore(store) } : store ? { store } : {};
    budget = new CamsBudget({ qps, ...source });
    memo.set(key, budget);
  }
  return budget;
}

/** Whose budget: CAMS_ACCOUNT_ID (an override, for tests), else FC's context.accountId (the host's locally). */
export function budgetAccount(contextAccountId: string | undefined, env: Record<string, string | undefined> = process.env): string | undefined {
  return env['CAMS_ACCOUNT_ID'] || contextAccountId || undefined;
}
