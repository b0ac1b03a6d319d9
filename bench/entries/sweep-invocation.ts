/**
 * One health-monitor invocation, alone in its process (so its peak RSS is its own): a HealthSweep
 * over the watch list in the store, as runHealthMonitor builds it, with the store wrapped to count
 * operations (the CAMS budget's slot reservations are not counted: they are the budget's, not the sweep's). Argument: JSON {storeUrl, endpoint, key, qps, deadlineMs}. Prints one JSON line.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { sharedBudget } from '../../shared/cams/budget/shared-budget.ts';
import { CamsClient } from '../../shared/cams/client.ts';
import { intervalForQps } from '../../shared/cams/limiter.ts';
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
// The store operations started before the first slot was granted: [op, key (ids cut), start ms, end ms from the sweep's start].
const startOps: Array<[string, string, number, number]> = [];
const traced = <T,>(op: string, key: string, p: Promise<T>): Promise<T> => {
  if (slots.length > 0 || startOps.length >= 60) return p;
  const at = performance.now() - t0;
  const row: [string, string, number, number] = [op, key.replace(/[^/]*$/, (m) => (m.length > 12 ? '…' : m)), round1(at), -1];
  startOps.push(row);
  return p.finally(() => (row[3] = round1(performance.now() - t0)));
};
const store: Store = {
  get: (k) => (ops.get++, traced('get', k, inner.get(k))),
  put: (k, v, o) => (ops.put++, traced('put', k, inner.put(k, v, o))),
  delete: (k, o) => (ops.delete++, traced('delete', k, inner.delete(k, o))),
  list: async <T,>(p: string, o?: ListOptions) => {
    ops.list++;
    const out = await traced('list', p, inner.list<T>(p, o));
    ops.listed += out.length;
    return out;
  },
  close: () => inner.close(),
  acquireLease: (n, t, o) => traced('lease', n, inner.acquireLease(n, t, o)),
  reserveSlot: (k, i, w) => inner.reserveSlot(k, i, w),
};
// As runHealthMonitor builds it: the account's budget in the store (CAMS_QPS raised to the bench's
// quota), the sweep's priority, MONITOR_QPS as its share.
let t0 = performance.now();
// How long the budget's store took to answer each slot reservation (ms), and the event loop's delay,
// in the ramp (the first 100 slots) and after: why a slot came late.
const reserveMs: number[] = [];
const reserveSlot = inner.reserveSlot.bind(inner);
inner.reserveSlot = async (k, i, w) => {
  const at = performance.now();
  try {
    return await reserveSlot(k, i, w);
  } finally {
    reserveMs.push(performance.now() - at);
  }
};
const loop = monitorEventLoopDelay({ resolution: 2 });
let rampLoop: { maxMs: number; p99Ms: number } | undefined;
const budget = sharedBudget(inner, { ...CAMS_QPS, GetWhatsappHealthStatus: args.qps });
// When each slot was granted (ms from the sweep's start): the pace the checks actually got.
const slots: number[] = [];
const acquire = budget.acquire.bind(budget);
budget.acquire = async (req) => {
  const a = await acquire(req);
  if (a.ok) {
    slots.push(performance.now() - t0);
    if (slots.length === 100) {
      rampLoop = { maxMs: round1(loop.max / 1e6), p99Ms: round1(loop.percentile(99) / 1e6) };
      loop.reset();
    }
  }
  return a;
};
const cams = new CamsClient({
  endpoint: args.endpoint,
  credentials: args.key,
  qps: { GetWhatsappHealthStatus: args.qps },
  budget,
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
loop.enable();
const report = await sweep.run();
loop.disable();
const elapsedMs = performance.now() - t0;
await inner.close();
process.stdout.write(`${JSON.stringify({ elapsedMs, firstCallMs: calls.first, lastCallEndMs: calls.lastEnd, report, ops, maxRssKb: process.resourceUsage().maxRSS, pace: pace(), startOps })}\n`);

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/**
 * Where the checks' time went, from the slot grants: the first slot, the time lost against the
 * client's spacing over the first 100 slots (the ramp) and over the rest, and the largest gaps.
 */
function pace(): Record<string, unknown> {
  const interval = intervalForQps(args.qps);
  const lost = (from: number, to: number) => (to > from ? slots[to]! - slots[from]! - (to - from) * interval : 0);
  const ramp = Math.min(100, slots.length - 1);
  const gaps = slots.slice(1).map((t, i) => [i + 1, t - slots[i]! - interval] as const).sort((a, b) => b[1] - a[1]).slice(0, 8);
  return {
    slots: slots.length,
    firstSlotMs: round1(slots[0] ?? -1),
    lastSlotMs: round1(slots[slots.length - 1] ?? -1),
    rampLostMs: round1(lost(0, ramp)),
    steadyLostMs: round1(lost(ramp, slots.length - 1)),
    lateSlots: budget.lateSlots,
    worstGaps: gaps.map(([i, g]) => [i, round1(g)]),
    reserve: { rampMaxMs: round1(Math.max(0, ...reserveMs.slice(0, 100))), rampOver5: reserveMs.slice(0, 100).filter((x) => x > 5).length, maxMs: round1(Math.max(0, ...reserveMs)), over5: reserveMs.filter((x) => x > 5).length, p50Ms: round1([...reserveMs].sort((a, b) => a - b)[Math.floor(reserveMs.length / 2)] ?? 0) },
    loopDelay: { ramp: rampLoop, after: { maxMs: round1(loop.max / 1e6), p99Ms: round1(loop.percentile(99) / 1e6) } },
  };
}
