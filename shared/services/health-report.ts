import { ENTITY_PREFIX } from '../monitor/dispatch.ts';
import type { EntityState } from '../monitor/entity-state.ts';
import { ROUND_KEY, type SweepRound } from '../monitor/sweep.ts';
import { loadWatchList } from '../monitor/targets.ts';
import { parseMonitorTargets } from '../monitor/targets.ts';
import { UNKNOWN_WABA_PREFIX } from '../receipts/apply.ts';
import { STATS_KEY, type ReceiptStats } from '../receipts/dedup.ts';
import type { Store } from '../store/port.ts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The monitor's current view, read from the store: the watch list, the round, every node's state. */
export async function healthReport(store: Store, env: Record<string, string | undefined> = process.env): Promise<Record<string, unknown>> {
  const { targets: envTargets } = parseMonitorTargets(env['MONITOR_TARGETS']);
  const [{ targets, problems }, round, entities, receiptStats, unknownWabas] = await Promise.all([
    loadWatchList(store, envTargets),
    store.get<SweepRound>(ROUND_KEY),
    store.list<EntityState>(ENTITY_PREFIX),
    store.get<ReceiptStats>(STATS_KEY),
    store.list<Record<string, unknown>>(UNKNOWN_WABA_PREFIX),
  ]);
  const done = new Set(round?.value.done ?? []);
  return {
    GeneratedAt: new Date().toISOString(),
    Round: round
      ? { Id: round.value.id, StartedAt: iso(round.value.startedAt), CompletedAt: iso(round.value.completedAt), Checked: done.size, Total: targets.length }
      : null,
    Targets: targets.map(({ id, target }) => ({ Id: id, ...target, CheckedThisRound: done.has(id) })),
    TargetProblems: problems,
    // Push receipts (cams-events): counts, and WABAs receipts named that nothing watched belongs to (not alerted).
    Receipts: { Stats: receiptStats?.value ?? null, UnknownWabas: unknownWabas.map((e) => e.value) },
    Nodes: entities
      .map(({ value: s }) => ({
        Node: s.node,
        Group: s.group,
        EntityType: s.subject.entityType,
        NodeType: s.subject.nodeType,
        CanSendMessage: s.status,
        Since: iso(s.since),
        Errors: s.errors,
        Firing: s.firing,
        LastCheckedAt: iso(s.lastCheckedAt),
        LastNotifiedAt: iso(s.lastNotifiedAt),
        OwedDeliveries: s.outbox.reduce((n, e) => n + e.pendingSinks.length, 0),
      }))
      .sort((a, b) => (a.Group + a.Node < b.Group + b.Node ? -1 : 1)),
  };
}
