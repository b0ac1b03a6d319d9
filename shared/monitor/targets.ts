import type { Store } from '../store/port.ts';
import { HealthNode, targetProblems } from '../validation/health-target.ts';
import { indexTarget } from './waba-space.ts';

export type WatchTarget = HealthNode;

export const WATCH_PREFIX = 'watch/';
/**
 * Nodes taken off the watch list by hand (DELETE /watch-list), one key each: a receipt about one
 * does not put it back under watch. Cleared when it is added again (POST /watch-list, an onboarding).
 */
export const REMOVED_PREFIX = 'watch-removed/';

/**
 * What discovery remembers per Discover entry (its watch id; discovery.ts): deleted with the entry's
 * other bookkeeping (unwatched.ts), and when a Discover entry is posted anew (watch-list/store.ts).
 */
export const DISCOVERY_PREFIX = 'monitor/discovery/';

/** Stable identity of a target: what it watches, not how it was written. */
export function targetId(t: WatchTarget): string {
  // A waba target without WabaId means the space's own WABA: one node per space.
  const node =
    t.NodeType === 'waba' ? (t.WabaId ?? '') : t.NodeType === 'phone' ? t.PhoneNumber : `${t.TemplateCode}/${t.Language}`;
  return `${t.NodeType}:${t.CustSpaceId}:${node}`;
}

export interface TargetProblem {
  /** Where it came from: `MONITOR_TARGETS[3]` or a store key. */
  where: string;
  message: string;
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
    else problems.push({ where: `MONITOR_TARGETS[${i}]`, message: targetProblems(r.error.issues).map((x) => `${x.path.join('.') || '(target)'}: ${x.message}`).join('; ') });
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

/** Puts a target under watch (idempotent: the same node registers once). */
export async function registerWatchTarget(store: Store, target: WatchTarget, source: string, now = Date.now()): Promise<string> {
  const parsed = HealthNode.parse(target);
  const id = targetId(parsed);
  // A receipt finds the node's space through this index (waba-space.ts), not the whole watch list.
  await indexTarget(store, parsed);
  await store.put<RegisteredTarget>(WATCH_PREFIX + id, { target: parsed, source, registeredAt: new Date(now).toISOString() }, { ifAbsent: true });
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
    const r = HealthNode.safeParse(entry.value?.target);
    if (r.success) byId.set(targetId(r.data), r.data);
    else problems.push({ where: entry.key, message: 'stored target is not valid' });
  }
  const targets = [...byId.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, target]) => ({ id, target }));
  return { targets, problems };
}
