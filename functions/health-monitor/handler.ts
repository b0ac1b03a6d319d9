import { eventFunction } from '../../shared/fc/event-function.ts';
import { monitorRuntime, runHealthMonitor } from '../../shared/services/health-monitor.ts';

const runtime = monitorRuntime();

/** Timer trigger (every 5 minutes by default): one sweep of the watch list. */
export const handler = eventFunction({
  name: 'health-monitor',
  run: async (inv) => runHealthMonitor(inv, await runtime()),
  summarize: (r) => ({ round: r.round, targets: r.targets, checked: r.checked, pending: r.pending, skipped: r.skipped, delivered: r.dispatch?.delivered.length ?? 0 }),
});
