/**
 * cams-budget (issue #10): the account's CAMS budget.
 * 1. Utilisation with a sweep running: one CAMS sandbox at the real limits (GetWhatsappHealthStatus 5
 *    QPS); on one budget (redis when redis-server is on PATH, else the file store): a MONITOR_QPS sweep
 *    (5 loops, priority sweep) and on-demand interactive calls (every 400 ms, deadline 3 s) for
 *    DURATION_S. Utilisation = calls ÷ (limit × time); throttled = the sandbox's System.LimitControl;
 *    interactive wait = time from asking the budget to being let through, p50/p99.
 * 2. Cost of one acquire: store.reserveSlot round trips in a row (µs), redis and file.
 * 3. Cold start: a fresh process requiring the get-health-status bundle built from this tree vs the
 *    same function built from the commit before the budget (BENCH_BUDGET_BASE, default fd5162e),
 *    alternating, medians: what the budget and the store-backed replay cache add to loading the
 *    function (the store itself is opened on the first CAMS call, not at start).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_SANDBOX_KEYS } from '../local/sandbox/server.ts';
import { CamsBudget, type SlotRequest } from '../shared/cams/budget/budget.ts';
import { CamsClient } from '../shared/cams/client.ts';
import { isCamsError } from '../shared/cams/errors.ts';
import { openStore, type Store } from '../shared/store/index.ts';
import { findOnPath, startRedisServer } from '../test/shared/store/redis-server.ts';
import { bundleCjs, REPO_ROOT, tempDir } from './lib/bundle.ts';
import { sandboxCalls, sandboxStats, spawnSandbox, THROTTLED_CODE } from './lib/sandbox.ts';
import { alternate, timedNode } from './lib/spawn.ts';
import { median, overhead, quantile, round } from './lib/stats.ts';
import { kb } from './lib/table.ts';
import { goal, type Benchmark, type BenchResult, type Goal } from './lib/types.ts';

const DURATION_S = 20;
const LIMIT = 5;
const ACQUIRES = 500;

async function withStores<T>(fn: (stores: Array<{ name: string; url: string }>) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-budget-'));
  const bin = findOnPath('redis-server');
  const redis = bin ? await startRedisServer(bin) : undefined;
  try {
    return await fn([...(redis ? [{ name: 'redis', url: `${redis.url}/0?namespace=bench-budget:` }] : []), { name: 'file', url: `file:${dir}` }]);
  } finally {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function utilisation(storeUrl: string, log: (l: string) => void) {
  // In its own process, as CAMS is another machine (see spawnSandbox).
  const sandbox = await spawnSandbox();
  const key = DEFAULT_SANDBOX_KEYS[0]!;
  const store = await openStore(storeUrl);
  try {
    const budget = new CamsBudget({ store });
    const waits: number[] = [];
    const timed = Object.assign(Object.create(budget) as CamsBudget, {
      acquire: async (r: SlotRequest) => {
        const t0 = performance.now();
        const a = await budget.acquire(r);
        if (r.priority === 'interactive' && a.ok) waits.push(performance.now() - t0);
        return a;
      },
    });
    const client = (priority: 'interactive' | 'sweep') =>
      new CamsClient({ endpoint: sandbox.url, credentials: key, budget: priority === 'interactive' ? timed : budget, priority, account: 'bench', ...(priority === 'sweep' ? { qps: { GetWhatsappHealthStatus: LIMIT } } : {}) });
    const custSpaceId = (await client('interactive').bindWaba({ WabaId: '1234567890' })).data.CustSpaceId;
    const params = { CustSpaceId: custSpaceId, NodeType: 'waba' as const };
    const before = (await sandboxStats(sandbox)).LastSeq;
    const start = Date.now();
    const end = start + DURATION_S * 1000;
    let refused = 0;
    const sweep = client('sweep');
    const loops = Array.from({ length: LIMIT }, async () => {
      while (Date.now() < end) await sweep.getHealthStatus(params, { deadline: end + 3000 }).catch(() => undefined);
    });
    const interactive = client('interactive');
    const pending: Array<Promise<unknown>> = [];
    while (Date.now() < end) {
      pending.push(interactive.getHealthStatus(params, { deadline: Date.now() + 3000 }).catch((e: unknown) => (isCamsError(e) && e.budgetRefusal ? refused++ : undefined)));
      await new Promise((r) => setTimeout(r, 400));
    }
    await Promise.all([...loops, ...pending]);
    const calls = (await sandboxCalls(sandbox, before)).filter((c) => c.Action === 'GetWhatsappHealthStatus');
    const inRun = calls.filter((c) => Date.parse(c.At) >= start + 1000 && Date.parse(c.At) < end);
    const util = inRun.length / (LIMIT * (end - start - 1000) / 1000);
    log(`  ${storeUrl.split(':')[0]}: ${inRun.length} calls, utilisation ${util.toFixed(3)}`);
    return { utilisation: util, throttled: calls.filter((c) => c.Code === THROTTLED_CODE).length, p50: quantile(waits, 0.5), p99: quantile(waits, 0.99), interactive: waits.length, refused, late: budget.lateSlots };
  } finally {
    await store.close();
    await sandbox.close();
  }
}

async function acquireCost(url: string): Promise<{ p50: number; p99: number }> {
  const store: Store = await openStore(url);
  try {
    const us: number[] = [];
    for (let i = 0; i < ACQUIRES + 20; i++) {
      const t0 = performance.now();
      await store.reserveSlot('bench/acquire', 0.001, Infinity);
      if (i >= 20) us.push((performance.now() - t0) * 1000);
    }
    return { p50: quantile(us, 0.5), p99: quantile(us, 0.99) };
  } finally {
    await store.close();
  }
}

export const camsBudget: Benchmark = {
  name: 'cams-budget',
  issue: '#10',
  description: `account CAMS budget: utilisation/throttling/interactive wait with a sweep running (${DURATION_S} s at 5 QPS), µs per acquire (redis, file), cold-start cost of its modules`,
  async run({ runs, log }): Promise<BenchResult> {
    const startedAt = new Date();
    const rows: (string | number)[][] = [];
    const costRows: (string | number)[][] = [];
    const goals: Goal[] = [];
    const data: Record<string, unknown> = {};
    await withStores(async (stores) => {
      for (const s of stores) {
        const u = await utilisation(s.url, log);
        rows.push([s.name, round(u.utilisation, 3), u.throttled, u.interactive, u.refused, round(u.p50), round(u.p99), u.late]);
        goals.push(goal(`${s.name}: 1 − utilisation (calls ÷ limit × time)`, round(1 - u.utilisation, 3), 0.05, 'x', undefined, 3));
        goals.push(goal(`${s.name}: throttled calls`, u.throttled, 0, 'calls'));
        goals.push(goal(`${s.name}: interactive p99 wait`, round(u.p99), 3000, 'ms'));
        const c = await acquireCost(s.url);
        costRows.push([s.name, round(c.p50, 0), round(c.p99, 0)]);
        data[s.name] = { ...u, acquireUs: c };
      }
    });
    // Cold start: the function now vs the function before the budget, loading only.
    const dir = tempDir('budget');
    const base = process.env['BENCH_BUDGET_BASE'] ?? 'fd5162e';
    // Under bench/results/ (ignored by git) so the old tree resolves this repo's node_modules.
    const baseTree = join(REPO_ROOT, 'bench/results/.budget-base');
    rmSync(baseTree, { recursive: true, force: true });
    mkdirSync(baseTree, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${base} functions shared | tar -x -C ${JSON.stringify(baseTree)}`], { cwd: REPO_ROOT });
    const now = await bundleCjs('functions/get-health-status/handler.ts', join(dir, 'now.js'));
    const before = await bundleCjs('bench/results/.budget-base/functions/get-health-status/handler.ts', join(dir, 'before.js'));
    rmSync(baseTree, { recursive: true, force: true });
    const load = (file: string) => () => timedNode({ args: ['-e', `require(${JSON.stringify(file)})`], env: {}, cwd: REPO_ROOT });
    const samples = await alternate(
      [
        { name: 'bare', run: () => timedNode({ args: ['-e', '0'], env: {}, cwd: REPO_ROOT }) },
        { name: 'before', run: load(before.file) },
        { name: 'now', run: load(now.file) },
      ],
      { rounds: runs ?? 30, warmupRounds: 2, log },
    );
    const wall = (v: string) => samples[v]!.map((s) => s.wallMs);
    const added = median(wall('now')) - median(wall('before'));
    goals.push(goal(`cold start the budget adds to get-health-status (load, vs ${base})`, round(added), 2, 'ms'));
    data['coldStart'] = { bareMs: median(wall('bare')), beforeMs: median(wall('before')), nowMs: median(wall('now')), addedMs: added, beforeKb: kb(before.bytes), nowKb: kb(now.bytes), overNodeBefore: overhead(wall('before'), wall('bare')) };
    return {
      name: 'cams-budget',
      description: camsBudget.description,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      tables: [
        { title: 'with a sweep running (5 sweep loops + interactive every 400 ms)', columns: ['store', 'utilisation', 'throttled', 'interactive ok', 'interactive refused', 'wait p50 ms', 'wait p99 ms', 'late slots'], rows },
        { title: `one acquire (store.reserveSlot), ${ACQUIRES} in a row`, columns: ['store', 'p50 µs', 'p99 µs'], rows: costRows },
        {
          title: 'cold start: require(dist bundle of get-health-status), fresh process',
          columns: ['variant', 'wall ms (median)', 'bundle KB'],
          rows: [
            ['node -e 0', round(median(wall('bare'))), '—'],
            [`before the budget (${base})`, round(median(wall('before'))), round(kb(before.bytes), 1)],
            ['with the budget (this tree)', round(median(wall('now'))), round(kb(now.bytes), 1)],
          ],
        },
      ],
      goals,
      notes: [
        'GCRA in one Lua script per acquire: rate-limiter-flexible is not installed (no new dependencies); our script is one EVALSHA round trip, the same as its RateLimiterRedis consume, and its state is one number.',
        'The HTTP function opens the store on its first CAMS call, not at start: the cold-start figure is module loading only.',
      ],
      data,
    };
  },
};
