/**
 * monitor-scale (issue #14): the health monitor's sweep at 10,000 watched nodes and 100 QPS, on the
 * file store and on redis. The watch list is in the store (10,000 `watch/` keys: templates of one
 * WABA, so every check also reports the WABA and its BUSINESS), the sandbox's GetWhatsappHealthStatus
 * limit is 100 QPS (as a raised CAMS quota), and each invocation runs alone in a child process
 * (bench/entries/sweep-invocation.ts) so its peak RSS is its own. Per store:
 *   - one invocation over 1,000, 4,000 and 10,000 targets: time ÷ (targets ÷ QPS), throttled calls,
 *     errors, store operations per check, peak RSS;
 *   - 10,000 targets over invocations of a 20 s timeout each until the round completes: the sum of
 *     their active time ÷ (targets ÷ QPS), and every target checked exactly once in the round;
 *   - GET /health-report's server time on that store (first page and a middle page of 500 nodes).
 * The sandbox runs in its own process, as CAMS is another machine. Throttled calls and errors come
 * from its counters (GET /__sandbox/stats, before and after); per-target call counts of the split case
 * from its call log, read incrementally (`?after=` the last Seq) while the sweeps run. Polling the whole
 * log (10,000 records) from the sandbox's own process stalled it 40-190 ms, which bunched the arrival
 * times it stamps and throttled calls that had been sent on time.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { LoggedCall } from '../local/sandbox/calls.ts';
import { DEFAULT_SANDBOX_KEYS, type RunningSandbox } from '../local/sandbox/server.ts';
import { httpRequest } from '../shared/http/request.ts';
import { intervalForQps, QPS_HEADROOM } from '../shared/cams/limiter.ts';
import { ENTITY_PREFIX } from '../shared/monitor/entity-store.ts';
import { registerWatchTarget, type WatchTarget } from '../shared/monitor/targets.ts';
import type { SweepReport } from '../shared/monitor/sweep.ts';
import { healthReport } from '../shared/services/health-report.ts';
import { FileStore } from '../shared/store/file-store.ts';
import { openStore } from '../shared/store/index.ts';
import type { Store } from '../shared/store/port.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../test/shared/store/redis-server.ts';
import { tempDir } from './lib/bundle.ts';
import { sandboxCalls, sandboxStats, setupClient, spawnSandbox, statsDelta, THROTTLED_CODE } from './lib/sandbox.ts';
import { median, round } from './lib/stats.ts';
import { goal, type Benchmark, type BenchResult, type Goal } from './lib/types.ts';

const HEALTH = 'GetWhatsappHealthStatus';
const WABA_ID = '109100000000014';
const QPS = 100;
const GOAL_RATIO = 1.05;
// MONITOR_SCALE_SIZES / MONITOR_SCALE_SPLIT (0: no split case) / MONITOR_SCALE_STORES: a quick try of
// the bench itself, or one case measured again.
const SIZES = (process.env['MONITOR_SCALE_SIZES'] ?? '1000,4000,10000').split(',').map(Number);
const SPLIT_TIMEOUT_MS = 20_000;
const SPLIT_TARGETS = Number(process.env['MONITOR_SCALE_SPLIT'] ?? 10_000);
const STORES = (process.env['MONITOR_SCALE_STORES'] ?? 'file,redis').split(',');

interface Invocation {
  elapsedMs: number;
  /** From the sweep's start to its first CAMS call, and to the end of its last one (ms). */
  firstCallMs: number;
  lastCallEndMs: number;
  report: SweepReport;
  ops: { get: number; put: number; delete: number; list: number; listed: number };
  maxRssKb: number;
  /** The invocation's own warnings (stderr JSON lines at level warn: the budget's store fallback, say). */
  warnings: string[];
  /** Its slot grants (sweep-invocation.ts): the first, time lost against the client's spacing in the ramp (first 100) and after. */
  pace: {
    slots: number;
    firstSlotMs: number;
    lastSlotMs: number;
    rampLostMs: number;
    steadyLostMs: number;
    lateSlots: number;
    worstGaps: Array<[number, number]>;
    /** The budget store's answer times to slot reservations (ramp: the first 100). */
    reserve: { rampMaxMs: number; rampOver5: number; maxMs: number; over5: number; p50Ms: number };
    /** Event-loop delay in the ramp and after it. */
    loopDelay: { ramp?: { maxMs: number; p99Ms: number }; after: { maxMs: number; p99Ms: number } };
  };
  /** Store operations started before the first slot: [op, key, start ms, end ms]. */
  startOps: Array<[string, string, number, number]>;
}

function invoke(args: Record<string, unknown>): Promise<Invocation> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/entries/sweep-invocation.ts', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] ?? '' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) reject(new Error(`sweep invocation exited ${code}: ${err.slice(-2000)}`));
      else resolve({ ...(JSON.parse(line) as Omit<Invocation, 'warnings'>), warnings: err.split('\n').filter((l) => l.includes('"level":"warn"')) });
    });
  });
}

/**
 * The sandbox's health calls from start() on, read incrementally: each poll asks only for the calls
 * after the last Seq it saw (~1,000 records per 10 s at 100 QPS), well before the bounded log (10,000)
 * could drop one; a gap in Seq would mean lost records and fails the case.
 */
class CallLog {
  private calls: LoggedCall[] = [];
  private timer: NodeJS.Timeout | undefined;
  private cursor = 0;
  private polling: Promise<void> = Promise.resolve();
  constructor(private readonly sandbox: RunningSandbox) {}
  private poll(): Promise<void> {
    // Chained, so polls never overlap and stop() reads after the last one.
    this.polling = this.polling.catch(() => undefined).then(async () => {
      const got = await sandboxCalls(this.sandbox, this.cursor);
      if (got.length > 0 && got[0]!.Seq !== this.cursor + 1) throw new Error(`the sandbox's call log dropped calls ${this.cursor + 1}..${got[0]!.Seq - 1} before they were read`);
      for (const c of got) if (c.Action === HEALTH) this.calls.push(c);
      if (got.length > 0) this.cursor = got[got.length - 1]!.Seq;
    });
    return this.polling;
  }
  /** Collects the calls from now on (the log still holds earlier cases' calls). */
  start(): void {
    this.calls = [];
    this.polling = sandboxStats(this.sandbox).then((s) => void (this.cursor = s.LastSeq));
    this.timer = setInterval(() => void this.poll().catch(() => undefined), 10_000);
  }
  async stop(): Promise<LoggedCall[]> {
    clearInterval(this.timer);
    await this.poll();
    return this.calls;
  }
}

interface StoreKind {
  name: 'file' | 'redis';
  /** A fresh, empty store URL. */
  fresh(id: string): string;
  /** A fast handle for setup writes (file: no fsync). */
  setup(url: string): Promise<Store>;
}

async function prepare(sandbox: RunningSandbox, store: Store, space: string, n: number): Promise<void> {
  const targets: WatchTarget[] = Array.from({ length: n }, (_, i) => ({ CustSpaceId: space, NodeType: 'template', TemplateCode: `tpl_${i}`, Language: 'en' }));
  // The sandbox takes up to 1,000 templates per call.
  for (let i = 0; i < targets.length; i += 1000) {
    const chunk = targets.slice(i, i + 1000).map((t) => ({ TemplateCode: t.TemplateCode, Language: t.Language }));
    const res = await httpRequest(new URL('/__sandbox/templates', sandbox.url), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ CustSpaceId: space, Templates: chunk }) });
    if (res.status !== 200) throw new Error(`sandbox templates → ${res.status}: ${res.body.toString().slice(0, 200)}`);
  }
  for (let i = 0; i < targets.length; i += 64) await Promise.all(targets.slice(i, i + 64).map((t) => registerWatchTarget(store, t, 'bench')));
}

export const monitorScale: Benchmark = {
  name: 'monitor-scale',
  issue: '#14',
  description: 'the sweep at 1,000-10,000 targets @ 100 QPS (file, redis): ratio to the bound, throttled, errors, store ops per check, peak RSS; 10,000 over 20 s invocations; health-report time',
  async run({ log }): Promise<BenchResult> {
    const startedAt = new Date();
    const key = DEFAULT_SANDBOX_KEYS[0]!;
    const sandbox = await spawnSandbox({ qps: { [HEALTH]: QPS } });
    const redisBin = STORES.includes('redis') ? findOnPath('redis-server') : undefined;
    const redis: RedisServer | undefined = redisBin ? await startRedisServer(redisBin) : undefined;
    const rows: (string | number)[][] = [];
    const splitRows: (string | number)[][] = [];
    const reportRows: (string | number)[][] = [];
    const goals: Goal[] = [];
    const notes: string[] = [];
    const data: Record<string, unknown> = { qps: QPS, headroom: QPS_HEADROOM, limiterFloorPerCall: intervalForQps(QPS), sandboxPrioritised: sandbox.prioritised };
    if (!sandbox.prioritised) notes.push('the sandbox could not be raised in priority (not root): on a loaded machine a stall of its process > 40 ms throttles calls sent on time.');
    const calls = new CallLog(sandbox);
    try {
      const { data: bound } = await setupClient(sandbox, key).bindWaba({ WabaId: WABA_ID });
      const space = bound.CustSpaceId;
      const kinds: StoreKind[] = [];
      if (STORES.includes('file')) kinds.push({ name: 'file', fresh: (id) => `file:${tempDir(`scale-${id}`)}`, setup: (url) => FileStore.open(url.slice('file:'.length), { fsync: false }) });
      if (redis) kinds.push({ name: 'redis', fresh: (id) => `${redis.url}?namespace=${id}:`, setup: (url) => openStore(url) });
      else if (STORES.includes('redis')) notes.push('redis-server is not on PATH: the redis rows are missing.');

      for (const kind of kinds) {
        for (const n of SIZES) {
          const id = `${kind.name}-${n}`;
          const url = kind.fresh(id);
          const setup = await kind.setup(url);
          log(`${id}: registering ${n} targets`);
          await prepare(sandbox, setup, space, n);
          await setup.close();
          log(`${id}: one invocation`);
          const before = await sandboxStats(sandbox);
          const inv = await invoke({ storeUrl: url, endpoint: sandbox.url, key, qps: QPS, deadlineMs: 600_000 });
          const codes = statsDelta(before, await sandboxStats(sandbox), HEALTH);
          const ideal = (n / QPS) * 1000;
          const throttled = codes[THROTTLED_CODE] ?? 0;
          const errors = Object.entries(codes).reduce((t, [code, k]) => (code === 'OK' || code === THROTTLED_CODE ? t : t + k), 0);
          const opsTotal = inv.ops.get + inv.ops.put + inv.ops.delete + inv.ops.list;
          const perCheck = opsTotal / Math.max(1, inv.report.checked);
          const ratio = inv.elapsedMs / ideal;
          rows.push([kind.name, n, round(inv.elapsedMs / 1000, 2), round(ratio, 3), `${inv.report.checked}/${n}`, throttled, errors + inv.report.transientFailures, round(perCheck, 2), `${inv.ops.get}/${inv.ops.put}/${inv.ops.delete}/${inv.ops.list}`, round(inv.ops.listed / Math.max(1, inv.report.checked), 2), round(inv.maxRssKb / 1024, 1)]);
          data[id] = { ...inv, ideal, throttled, errors, perCheck, codes };
          // A throttle or a slow case is explained here when the sweep saw why (e.g. the budget fell back to its per-instance limit).
          for (const w of new Set(inv.warnings)) notes.push(`${id}: the invocation warned: ${w.slice(0, 300)}${inv.warnings.length > 1 ? ` (${inv.warnings.length} warnings)` : ''}`);
          if (n === SIZES[SIZES.length - 1]) {
            goals.push(goal(`${kind.name} 10,000 @ ${QPS} QPS: sweep time ÷ (targets ÷ QPS)`, round(ratio, 3), GOAL_RATIO, 'x', ratio > GOAL_RATIO ? `the client's spacing alone is ${(1 + QPS_HEADROOM).toFixed(2)}× (QPS_HEADROOM); the rest is the sweep's own work` : undefined, 3));
            goals.push(goal(`${kind.name} 10,000: throttled calls`, throttled, 0, 'calls'));
            goals.push(goal(`${kind.name} 10,000: errors (failed calls + transient failures)`, errors + inv.report.transientFailures, 0, 'calls'));
            // Report time on this store, now holding ~10,000 entities.
            const s = await openStore(url);
            const times: number[] = [];
            const mid: number[] = [];
            let middle: string | undefined;
            for (let i = 0; i < 5; i++) {
              let t = performance.now();
              const first = await healthReport(s, { pageSize: 500 }, {});
              times.push(performance.now() - t);
              middle ??= `${ENTITY_PREFIX}8`;
              t = performance.now();
              await healthReport(s, { pageSize: 500, after: middle }, {});
              mid.push(performance.now() - t);
              if (i === 0 && (first['Nodes'] as unknown[]).length !== 500) notes.push(`${kind.name}: the report's first page held ${(first['Nodes'] as unknown[]).length} nodes, not 500`);
            }
            await s.close();
            reportRows.push([kind.name, round(median(times), 1), round(median(mid), 1)]);
            goals.push(goal(`${kind.name}: GET /health-report server time at 10,000 nodes (page of 500, median of 5)`, round(Math.max(median(times), median(mid)), 1), 300, 'ms'));
          }
        }
        const perCheckCosts = rows.filter((r) => r[0] === kind.name).map((r) => Number(r[7]));
        goals.push(goal(`${kind.name}: store ops per check, 10,000 ÷ 1,000 targets`, round(perCheckCosts[perCheckCosts.length - 1]! / perCheckCosts[0]!, 3), 1.05, 'x', undefined, 3));

        // The same 10,000 over invocations of SPLIT_TIMEOUT_MS each.
        if (SPLIT_TARGETS <= 0) continue;
        const id = `${kind.name}-split`;
        const url = kind.fresh(id);
        const setup = await kind.setup(url);
        log(`${id}: registering ${SPLIT_TARGETS} targets`);
        await prepare(sandbox, setup, space, SPLIT_TARGETS);
        await setup.close();
        calls.start();
        const invs: Invocation[] = [];
        for (let i = 0; i < 40; i++) {
          log(`${id}: invocation ${i + 1}`);
          const inv = await invoke({ storeUrl: url, endpoint: sandbox.url, key, qps: QPS, deadlineMs: SPLIT_TIMEOUT_MS });
          invs.push(inv);
          if (inv.report.roundComplete) break;
        }
        const got = await calls.stop();
        const active = invs.reduce((t, x) => t + x.elapsedMs, 0);
        const ideal = (SPLIT_TARGETS / QPS) * 1000;
        const perTarget = new Map<string, number>();
        for (const c of got) if (c.Code === 'OK') perTarget.set(String(c.Params['TemplateCode']), (perTarget.get(String(c.Params['TemplateCode'])) ?? 0) + 1);
        const once = [...perTarget.values()].filter((v) => v === 1).length;
        const twice = [...perTarget.values()].filter((v) => v > 1).length;
        const throttled = got.filter((c) => c.Code === THROTTLED_CODE).length;
        const rounds = new Set(invs.map((x) => x.report.round));
        const checked = invs.reduce((t, x) => t + x.report.checked, 0);
        splitRows.push([kind.name, invs.length, round(active / 1000, 2), round(ideal / 1000, 2), round(active / ideal, 3), `${checked}/${SPLIT_TARGETS}`, once, twice, SPLIT_TARGETS - perTarget.size, throttled, rounds.size, round(Math.max(...invs.map((x) => x.maxRssKb)) / 1024, 1)]);
        // The sweep's own time per invocation: before its first CAMS call, after its last one.
        const before = invs.reduce((t, x) => t + Math.max(0, x.firstCallMs), 0);
        const after = invs.reduce((t, x) => t + Math.max(0, x.elapsedMs - x.lastCallEndMs), 0);
        // Between: the slots' pace against the client's spacing, in the ramp (first 100 slots) and after.
        const sum = (f: (x: Invocation) => number) => round(invs.reduce((t, x) => t + f(x), 0), 0);
        const lostRamp = sum((x) => x.pace.rampLostMs);
        const lostSteady = sum((x) => x.pace.steadyLostMs);
        data[id] = {
          invocations: invs.map((x) => ({ elapsedMs: round(x.elapsedMs, 1), firstCallMs: round(x.firstCallMs, 1), afterLastCallMs: round(x.elapsedMs - x.lastCallEndMs, 1), checked: x.report.checked, pending: x.report.pending, ops: x.ops, maxRssKb: x.maxRssKb, pace: x.pace, startOps: x.startOps })),
          active,
          ideal,
          beforeFirstCallMs: round(before, 0),
          afterLastCallMs: round(after, 0),
          firstSlotMs: sum((x) => x.pace.firstSlotMs),
          rampLostMs: lostRamp,
          steadyLostMs: lostSteady,
        };
        notes.push(
          `${kind.name} split: of ${round(active / 1000, 2)} s active, ${round(before / 1000, 2)} s went before the invocations' first CAMS calls and ${round(after / 1000, 2)} s after their last ones (the sweep's own work); against the client's spacing the slots lost ${round(lostRamp / 1000, 2)} s in the invocations' first 100 and ${round(lostSteady / 1000, 2)} s after; the rest is the checks at the client's pace.`,
        );
        goals.push(goal(`${kind.name} 10,000 over ${SPLIT_TIMEOUT_MS / 1000} s invocations: active time ÷ (targets ÷ QPS)`, round(active / ideal, 3), GOAL_RATIO, 'x', undefined, 3));
        goals.push(goal(`${kind.name} split: targets not checked exactly once in the round`, SPLIT_TARGETS - once, 0, 'targets'));
      }
      notes.push(
        `store ops = get + put + delete + list calls of the sweeping process (lease and dispatch included) ÷ targets checked; "listed/check" = entries returned by list() ÷ checks (the per-tick scans of the watch list and the checked marks).`,
        `the client spaces calls ${intervalForQps(QPS)} ms apart (1/${QPS} s + ${QPS_HEADROOM * 100} % QPS_HEADROOM), so ${(1 + QPS_HEADROOM).toFixed(2)}× is the floor of every ratio.`,
        `peak RSS: the child process running one invocation (node + tsx + the sweep), not the sandbox.`,
      );
    } finally {
      await sandbox.close();
      await redis?.stop();
    }
    return {
      name: monitorScale.name,
      description: monitorScale.description,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      tables: [
        { title: `one invocation @ ${QPS} QPS`, columns: ['store', 'targets', 'elapsed s', 'ratio', 'checked', 'throttled', 'errors', 'ops/check', 'get/put/del/list', 'listed/check', 'peak RSS MB'], rows },
        { title: `${SPLIT_TARGETS} targets over ${SPLIT_TIMEOUT_MS / 1000} s invocations`, columns: ['store', 'invocations', 'active s', 'ideal s', 'ratio', 'checked', 'checked once', 'more than once', 'never', 'throttled', 'rounds', 'peak RSS MB'], rows: splitRows },
        { title: 'GET /health-report service time, 10,000 nodes, page of 500 (ms, median of 5)', columns: ['store', 'first page', 'middle page'], rows: reportRows },
      ],
      goals,
      notes,
      data,
    };
  },
};
