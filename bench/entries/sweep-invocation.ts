/**
 * One health-monitor invocation, alone in its process (so its peak RSS is its own): a HealthSweep
 * over the watch list in the store, as runHealthMonitor builds it, with the store wrapped to count
 * operations (the CAMS budget's slot reservations are not counted: they are the budget's, not the sweep's). Argument: JSON {storeUrl, endpoint, key, qps, deadlineMs}. Prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { sharedBudget } from '../../shared/cams/budget/shared-budget.ts';
import { CamsClient } from '../../shared/cams/client.ts';
import { CAMS_QPS } from '../../shared/cams/operations.ts';
import { HealthSweep } from '../../shared/monitor/sweep.ts';
import { openStore } from '../../shared/store/index.ts';
import type { ListOptions, Store } from '../../shared/store/port.ts';

interface Args {
  storeUrl: string;
  endpoint: string;
  key: { accessKeyId: string; accessKeySecret: string };
  qps: number;
  /** The invocation's timeout; the sweep gets it minus the function's 3 s wrap-up, as runHealthMonitor does. */
  deadlineMs: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const started = Date.now();
const inner = await openStore(args.storeUrl);
const ops = { get: 0, put: 0, delete: 0, list: 0, listed: 0 };
const store: Store = {
  get: (k) => (ops.get++, inner.get(k)),
  put: (k, v, o) => (ops.put++, inner.put(k, v, o)),
  delete: (k, o) => (ops.delete++, inner.delete(k, o)),
  list: async <T,>(p: string, o?: ListOptions) => {
    ops.list++;
    const out = await inner.list<T>(p, o);
    ops.listed += out.length;
    return out;
  },
  close: () => inner.close(),
  acquireLease: (n, t, o) => inner.acquireLease(n, t, o),
  reserveSlot: (k, i, w) => inner.reserveSlot(k, i, w),
};
// As runHealthMonitor builds it: the account's budget in the store (CAMS_QPS raised to the bench's
// quota), the sweep's priority, MONITOR_QPS as its share.
let t0 = performance.now();
const cams = new CamsClient({
  endpoint: args.endpoint,
  credentials: args.key,
  qps: { GetWhatsappHealthStatus: args.qps },
  budget: sharedBudget(inner, { ...CAMS_QPS, GetWhatsappHealthStatus: args.qps }),
  priority: 'sweep',
});
// When the first CAMS call starts and the last one ends (ms from the sweep's start): the sweep's own work before and after its checks.
const calls = { first: -1, lastEnd: -1 };
const getHealthStatus = cams.getHealthStatus.bind(cams);
cams.getHealthStatus = (...a: Parameters<CamsClient['getHealthStatus']>) => {
  if (calls.first < 0) calls.first = performance.now() - t0;
  return getHealthStatus(...a).finally(() => (calls.lastEnd = performance.now() - t0));
};
const sweep = new HealthSweep({
  store,
  cams,
  sinks: [],
  policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 },
  envTargets: [],
  concurrency: Math.max(1, Math.ceil(args.qps)),
  deadline: started + args.deadlineMs - 3000,
});
t0 = performance.now();
const report = await sweep.run();
const elapsedMs = performance.now() - t0;
await inner.close();
process.stdout.write(`${JSON.stringify({ elapsedMs, firstCallMs: calls.first, lastCallEndMs: calls.lastEnd, report, ops, maxRssKb: process.resourceUsage().maxRSS })}\n`);
