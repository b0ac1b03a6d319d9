import type { AlertSink } from '../alerts/model.ts';
import { sinksFromEnv } from '../alerts/sinks/index.ts';
import { budgetAccount, sharedBudget } from '../cams/budget/shared-budget.ts';
import { CamsClient } from '../cams/client.ts';
import { credentialsFrom } from '../cams/credentials.ts';
import type { EnvSource } from '../config/env.ts';
import { loadMonitorConfig, type MonitorConfig } from '../config/monitor.ts';
import type { EventInvocation } from '../fc/event-function.ts';
import { stdoutLog, writeLogRecord } from '../log/log.ts';
import { HealthSweep, type SweepReport } from '../monitor/sweep.ts';
import { openStore } from '../store/index.ts';
import type { Store } from '../store/port.ts';

/** What one instance keeps between warm invocations: config, store connection, sinks. */
export interface MonitorRuntime {
  config: MonitorConfig;
  store: Store;
  sinks: AlertSink[];
}

export function monitorRuntime(env: EnvSource = process.env): () => Promise<MonitorRuntime> {
  let runtime: Promise<MonitorRuntime> | undefined;
  return () =>
    (runtime ??= (async () => {
      const config = loadMonitorConfig(env);
      return { config, store: await openStore(config.storeUrl), sinks: sinksFromEnv(env) };
    })().catch((e: unknown) => {
      runtime = undefined; // a bad start is retried on the next invocation, not cached
      throw e;
    }));
}

/** Time kept free at the end of the invocation to deliver alerts and write state. */
const WRAP_UP_MS = 3000;

/** One timer tick: a HealthSweep over the watch list within this invocation's time. */
export async function runHealthMonitor(inv: EventInvocation, runtime: MonitorRuntime, alertClock?: () => number): Promise<SweepReport> {
  const { config, store, sinks } = runtime;
  const deadline = inv.deadline - WRAP_UP_MS;
  const cams = new CamsClient({
    endpoint: config.camsEndpoint,
    credentials: () => credentialsFrom(inv.context),
    qps: { GetWhatsappHealthStatus: config.qps },
    deadline,
    // The sweep takes what the account's budget has left, at most MONITOR_QPS.
    budget: sharedBudget(store),
    priority: 'sweep',
    account: budgetAccount(inv.context.accountId),
  });
  const sweep = new HealthSweep({
    store,
    cams,
    sinks,
    policy: { minConsecutive: config.minConsecutive, repeatIntervalMs: config.repeatIntervalMs },
    envTargets: config.targets,
    targetProblems: config.targetProblems,
    concurrency: Math.max(1, Math.ceil(config.qps)),
    deadline,
    deliverBy: inv.deadline,
    discovery: { intervalMs: config.discoveryIntervalMs },
    ...(alertClock ? { alertClock } : {}),
    log: (rec) => writeLogRecord(stdoutLog, { function: 'health-monitor', requestId: inv.requestId, ...rec }),
  });
  return sweep.run();
}
