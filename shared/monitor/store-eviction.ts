import type { HealthError } from '../cams/operations.ts';
import type { Store } from '../store/port.ts';
import { monitorSubject, observeMonitorSubject, resolveMonitorAlert } from './monitor-alert.ts';
import type { AlertPolicy } from './rules.ts';

/** The monitor's own alert while the store's backend may evict our keys when it is full (a silence may name it: ALERT_NAMES). */
const storeEvicting = monitorSubject('StoreEvicting');

/**
 * How often an instance asks the store what it may evict. A policy changes by hand (the console's
 * parameter settings), so the alert resolves within this of the change, and most sweeps ask nothing
 * and write nothing for it.
 */
export const STORE_LOOK_MS = 10 * 60_000;

/** Per store (one per instance): when it was last asked (once what it gave was written), and the policy it gave. */
const lookedAt = new WeakMap<Store, { at?: number; policy: string }>();

/**
 * Ask the store, when this instance has not for STORE_LOOK_MS (`now`: wall clock), what it evicts, and
 * raise StoreEvicting for any policy but `noeviction`, resolve it for `noeviction`; `unknown` leaves
 * it as it is. A warning is logged the first time an instance hears an evicting policy (and again if
 * the policy changes). A store with nothing to say (file, memory) costs nothing; a look costs a
 * command on no key of ours, and one get (no alert firing) or one alert write. True when an alert
 * was raised or resolved (a delivery is owed). A failed look is logged and tried at the next sweep;
 * so is a look whose alert write failed (thrown).
 */
export async function observeStoreEviction(
  store: Store,
  ctx: { now: number; alertNow: number; round: string; policy: AlertPolicy; sinks: readonly string[]; log: (rec: Record<string, unknown>) => void },
): Promise<boolean> {
  if (!store.describe) return false;
  const last = lookedAt.get(store);
  if (last?.at !== undefined && ctx.now >= last.at && ctx.now - last.at < STORE_LOOK_MS) return false;
  let policy: string;
  try {
    policy = (await store.describe()).evictionPolicy;
  } catch (e) {
    ctx.log({ level: 'warn', msg: "could not ask the store what it evicts; asked again at the next sweep", error: e instanceof Error ? e.message : String(e) });
    return false;
  }
  // The policy heard is kept (warned of once), the look counted once its alert is written: a write the
  // store failed (the sweep fails with it) is made again at the next sweep, not STORE_LOOK_MS later
  // (a redis set right to noeviction stayed StoreEvicting for 10 minutes more).
  lookedAt.set(store, { policy });
  const looked = <T>(result: T): T => {
    lookedAt.set(store, { at: ctx.now, policy });
    return result;
  };
  const alertCtx = { now: ctx.alertNow, round: ctx.round, policy: ctx.policy, sinks: ctx.sinks };
  if (policy === 'noeviction') return looked(await resolveMonitorAlert(store, storeEvicting, alertCtx));
  if (policy !== last?.policy) {
    ctx.log(
      policy === 'unknown'
        ? { level: 'info', msg: "the store would not say what it evicts (INFO refused, or no maxmemory_policy): StoreEvicting is neither raised nor resolved" }
        : { level: 'warn', msg: `the store's redis evicts keys when full (maxmemory-policy ${policy}): ${risksOf(policy)} Set maxmemory-policy noeviction.`, evictionPolicy: policy },
    );
  }
  if (policy === 'unknown') return looked(false);
  await observeMonitorSubject(store, storeEvicting, 'ERROR', [evictingError(policy)], alertCtx);
  return looked(true);
}

/** What a full redis under `policy` may drop of ours, and what follows. */
function risksOf(policy: string): string {
  const leases =
    'leases (the sweep, deliveries, onboarding), replay nonces, receipts\' last-seen records and CAMS budget slots can go before they run out, so a second sweep, deliverer or onboarding run can start beside the first, and the CAMS budget can be overspent.';
  if (policy.startsWith('volatile-')) return `keys with a TTL go first: ${leases}`;
  return `any key can go: alert states, owed deliveries, onboarding records and silences (alerts lost or sent again, onboarding run again), and ${leases}`;
}

function evictingError(policy: string): HealthError {
  return {
    ErrorCode: 'StoreEvicting',
    ErrorDescription: `The state store's redis evicts keys when it is full (maxmemory-policy ${policy}): ${risksOf(policy)}`,
    PossibleSolution:
      'Set the redis maxmemory-policy to noeviction (ApsaraDB / Tair for Redis: the instance\'s Parameter Settings, maxmemory-policy; self-hosted: CONFIG SET maxmemory-policy noeviction and redis.conf). Full under noeviction, redis refuses writes and the functions fail and are retried instead. This resolves at the monitor\'s next look, within 10 minutes.',
  };
}
