/**
 * receipt-latency (issue #12: push receipts). Detection latency: from a change of a watched node's
 * health to its alert at a loopback webhook receiver, through the local host (serverless.yml, the
 * embedded sandbox at CAMS's real limits: GetWhatsappHealthStatus 5 QPS), no timer.
 *
 *   A. receipts: NODES (default 10,000) watched templates of one account; 20 changes at random moments
 *      in a 30 s window, each pushed by the sandbox as CAMS would (PUT /__sandbox/receipts). Measured:
 *      p50 / p99 from the change to the alert. Beside it, polling alone for the same 20 changes,
 *      COMPUTED (not run: one round of 10,000 nodes takes 10,000 × the client's 5 QPS spacing ≈
 *      2,200 s): the delay is the time the sweep needs to reach the node from where it is, drawn
 *      with the same seeded random moments.
 *   B. 50 % of receipts dropped (the sandbox's DropRate), SCALED DOWN so that it runs: 60 nodes and a
 *      sweep looping back to back at MONITOR_QPS 3, on the account's shared budget with the receipts'
 *      checks (they go first). Measured: every change alerted, and the slowest one within one
 *      sweep round (the longest measured round, the one the last alert came in included).
 *
 * BENCH_RECEIPT_CASES=B (or A) runs one case; BENCH_RECEIPT_NODES scales case A; BENCH_RECEIPT_FLUSH_MS
 * sets B's sweep's flush delay (default FLUSH_DELAY_MS).
 *
 * Store: redis (a throw-away redis-server) when it is on PATH, as deployed; else the file store.
 * `--runs` is ignored (one pass of each case).
 */
import { seeded } from '../local/sandbox/receipts.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHost, type RunningHost } from '../local/host/host.ts';
import { DEFAULT_SANDBOX_KEYS } from '../local/sandbox/server.ts';
import { sinksFromEnv } from '../shared/alerts/sinks/index.ts';
import { CamsClient } from '../shared/cams/client.ts';
import { intervalForQps } from '../shared/cams/limiter.ts';
import { CamsBudget } from '../shared/cams/budget/budget.ts';
import { budgetAccount, sharedBudget } from '../shared/cams/budget/shared-budget.ts';
import { httpRequest } from '../shared/http/request.ts';
import { FLUSH_DELAY_MS } from '../shared/monitor/flush.ts';
import { HealthSweep, ROUND_KEY, type SweepRound } from '../shared/monitor/sweep.ts';
import { registerWatchTarget, type WatchTarget } from '../shared/monitor/targets.ts';
import { openStore } from '../shared/store/index.ts';
import type { Store } from '../shared/store/port.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../test/shared/store/redis-server.ts';
import { tempDir } from './lib/bundle.ts';
import { quantile, round } from './lib/stats.ts';
import { goal, type Benchmark, type BenchResult, type Goal } from './lib/types.ts';

const NODES = Number(process.env['BENCH_RECEIPT_NODES'] || 10_000);
/** BENCH_RECEIPT_CASES=B (or A): only that case, to iterate on one. */
const CASES = (process.env['BENCH_RECEIPT_CASES'] || 'A,B').toUpperCase().split(',');
/** BENCH_RECEIPT_FLUSH_MS: B's sweep flushes findings this often instead of FLUSH_DELAY_MS (to weigh a shorter one). */
const FLUSH_MS = process.env['BENCH_RECEIPT_FLUSH_MS'] ? Number(process.env['BENCH_RECEIPT_FLUSH_MS']) : undefined;
const CHANGES = 20;
const WINDOW_MS = 30_000;
const DROP_NODES = 60;
const DROP_SWEEP_QPS = 3;
/** How long each sweep run starts checks for (the rest of its deadline is the check budget). */
const RUN_CHECKS_MS = 3000;
const REAL_QPS = 5;
const TOKEN = 'bench-receipt-token-0123456789';
const WABA = '109200000000001';
const GOAL_P99_MS = 5000;

interface Receiver {
  url: string;
  /** First arrival (epoch ms) of a firing item per node text. */
  firstSeen(needle: string): number | undefined;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const seen: Array<{ at: number; node: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const at = Date.now();
      try {
        for (const i of (JSON.parse(body) as { items: Array<{ node: string; status: string }> }).items) if (i.status !== 'RESOLVED') seen.push({ at, node: i.node });
      } catch {
        // not an alert
      }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    firstSeen: (needle) => seen.find((s) => s.node.includes(needle))?.at,
    close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

interface World {
  host: RunningHost;
  store: Store;
  receiver: Receiver;
  space: string;
  env: Record<string, string>;
  codes: string[];
  close(): Promise<void>;
}

async function sandboxCall(host: RunningHost, method: string, path: string, body: unknown): Promise<void> {
  const res = await httpRequest(new URL(path, host.sandboxUrl), { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), timeoutMs: 30_000 });
  if (res.status >= 300) throw new Error(`sandbox ${method} ${path} → ${res.status}: ${res.body.toString()}`);
}

async function startWorld(nodes: number, storeUrl: string, log: (l: string) => void): Promise<World> {
  const receiver = await startReceiver();
  const env = { STORE_URL: storeUrl, CAMS_RECEIPT_TOKEN: TOKEN, ALERT_WEBHOOK_URL: receiver.url, ALERT_WEBHOOK_SECRET: 'bench-webhook-secret' };
  // With a redis store the host keeps the sandbox's state in <cwd>/.data/<stage>: a fresh directory
  // per world, so the bench neither reads nor clobbers a developer's local sandbox.
  const cwd = process.cwd();
  process.chdir(tempDir('receipt-world'));
  let host: RunningHost;
  try {
    host = await startHost({ port: 0, sandbox: { port: 0 }, timers: false, env, log: () => {} });
  } finally {
    process.chdir(cwd);
  }
  const store = await openStore(storeUrl);
  try {
    const key = DEFAULT_SANDBOX_KEYS[0]!;
    const client = new CamsClient({ endpoint: host.sandboxUrl!, credentials: key, budget: new CamsBudget() });
    const space = (await client.bindWaba({ WabaId: WABA })).data.CustSpaceId;
    const codes = Array.from({ length: nodes }, (_, i) => `tpl_${String(i).padStart(5, '0')}`);
    for (let i = 0; i < nodes; i += 1000) {
      await sandboxCall(host, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: codes.slice(i, i + 1000).map((c) => ({ TemplateCode: c, Language: 'en' })) });
    }
    log(`watching ${nodes} templates`);
    for (let i = 0; i < nodes; i += 500) {
      await Promise.all(codes.slice(i, i + 500).map((c) => registerWatchTarget(store, { CustSpaceId: space, NodeType: 'template', TemplateCode: c, Language: 'en' } as WatchTarget, 'bench')));
    }
    return {
      host,
      store,
      receiver,
      space,
      env,
      codes,
      close: async () => {
        await host.close();
        await store.close();
        await receiver.close();
      },
    };
  } catch (e) {
    await host.close();
    await store.close();
    await receiver.close();
    throw e;
  }
}

/** Injects `n` changes at random moments of `windowMs` on distinct random nodes; resolves with each change's start time. */
async function injectChanges(w: World, random: () => number, n: number, windowMs: number): Promise<Array<{ code: string; at: number }>> {
  const picked = new Set<number>();
  while (picked.size < n) picked.add(Math.floor(random() * w.codes.length));
  const plan = [...picked].map((i) => ({ code: w.codes[i]!, offset: random() * windowMs })).sort((a, b) => a.offset - b.offset);
  const out: Array<{ code: string; at: number }> = [];
  await Promise.all(
    plan.map(async (p) => {
      await new Promise((r) => setTimeout(r, p.offset));
      const at = Date.now();
      out.push({ code: p.code, at });
      await sandboxCall(w.host, 'PUT', '/__sandbox/health', {
        CustSpaceId: w.space,
        NodeType: 'template',
        TemplateCode: p.code,
        Language: 'en',
        CanSendMessage: 'BLOCKED',
        Errors: [{ ErrorCode: '132016', ErrorDescription: 'Template disabled for low quality.' }],
      });
    }),
  );
  return out;
}

async function waitForAlerts(w: World, changes: Array<{ code: string; at: number }>, timeoutMs: number): Promise<Array<number | undefined>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const lat = changes.map((c) => {
      const seen = w.receiver.firstSeen(`template ${c.code}/`);
      return seen === undefined ? undefined : seen - c.at;
    });
    if (lat.every((x) => x !== undefined) || Date.now() > until) return lat;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const q = (xs: number[], p: number) => (xs.length ? quantile(xs, p) : NaN);

export const receiptLatency: Benchmark = {
  name: 'receipt-latency',
  issue: '#12 push receipts',
  description: `change → alert at a loopback webhook: receipts (${NODES} watched nodes, real 5 QPS) vs polling alone; 50 % receipts dropped (scaled: ${DROP_NODES} nodes)`,
  async run({ log }): Promise<BenchResult> {
    const startedAt = new Date();
    const goals: Goal[] = [];
    const notes: string[] = [];
    const data: Record<string, unknown> = { nodes: NODES, changes: CHANGES };
    const savedLevel = process.env['LOG_LEVEL'];
    process.env['LOG_LEVEL'] = 'silent';
    const redisBin = findOnPath('redis-server');
    let redis: RedisServer | undefined;
    const storeUrl = async (name: string) => {
      if (!redisBin) return `file:${tempDir(name)}`;
      redis ??= await startRedisServer(redisBin);
      return `${redis.url}?namespace=${name}-${Date.now()}:`;
    };
    data['store'] = redisBin ? 'redis' : 'file';
    try {
      // ---- A: receipts at 10,000 nodes, vs polling alone (computed) ----
      const random = seeded(12);
      const rowsA: (string | number)[][] = [];
      const interval = intervalForQps(REAL_QPS);
      const roundMs = NODES * interval;
      if (CASES.includes('A')) {
        const a = await startWorld(NODES, await storeUrl('receipts'), log);
        let latA: Array<number | undefined>;
        let changesA: Array<{ code: string; at: number }>;
        try {
          await sandboxCall(a.host, 'PUT', '/__sandbox/receipts', { Url: `${a.host.url}/cams/receipts?token=${TOKEN}` });
          log(`A: ${CHANGES} changes over ${WINDOW_MS / 1000} s`);
          changesA = await injectChanges(a, random, CHANGES, WINDOW_MS);
          latA = await waitForAlerts(a, changesA, 60_000);
        } finally {
          await a.close();
        }
        const gotA = latA.filter((x): x is number => x !== undefined);
        // Polling alone: the sweep is at a uniformly random place in its round when the change happens.
        const poll = changesA.map(() => Math.floor(random() * NODES) * interval);
        rowsA.push(
          [`receipts (measured, ${NODES} nodes)`, round(q(gotA, 0.5) / 1000, 2), round(q(gotA, 0.99) / 1000, 2), round(Math.max(...gotA) / 1000, 2), `${gotA.length}/${CHANGES}`],
          [`polling alone (computed, round ${round(roundMs / 1000, 0)} s)`, round(q(poll, 0.5) / 1000, 1), round(q(poll, 0.99) / 1000, 1), round(Math.max(...poll) / 1000, 1), `${CHANGES}/${CHANGES}`],
        );
        goals.push(goal(`A: receipts p99, change → alert (${NODES} nodes)`, round(q(gotA, 0.99), 0), GOAL_P99_MS, 'ms'));
        goals.push(goal('A: changes not alerted within 60 s', CHANGES - gotA.length, 0, 'changes'));
        data['A'] = { latenciesMs: latA, pollingModelMs: poll, roundMs };
      }

      // ---- B: 50 % of receipts dropped, sweep as the backstop (scaled) ----
      const rowsB: (string | number)[][] = [];
      if (CASES.includes('B')) {
        const b = await startWorld(DROP_NODES, await storeUrl('drop'), log);
        try {
          await sandboxCall(b.host, 'PUT', '/__sandbox/receipts', { Url: `${b.host.url}/cams/receipts?token=${TOKEN}`, DropRate: 0.5, Seed: 7 });
          const rounds: number[] = [];
          let stop = false;
          // The sweep's client as health-monitor builds it: the account's budget in the store the
          // functions use (the receipts' checks take their slots from it at 'background', above the
          // sweep), at most MONITOR_QPS for the sweep. A budget of its own would not see the
          // receipts' checks: together they went over CAMS's 5 QPS, and the sandbox throttled.
          const cams = new CamsClient({
            endpoint: b.host.camsEndpoint,
            credentials: DEFAULT_SANDBOX_KEYS[0]!,
            qps: { GetWhatsappHealthStatus: DROP_SWEEP_QPS },
            budget: sharedBudget(b.store),
            priority: 'sweep',
            account: budgetAccount(b.host.accountId, b.host.environments['cams-events'] ?? {}),
          });
          // The sweep's own view: each check's CAMS call (how it ended, after the client's retries) and each run's report.
          const sweepCalls: Array<{ code: string; start: number; end: number; error?: string; attempts?: number }> = [];
          const getHealth = cams.getHealthStatus.bind(cams);
          cams.getHealthStatus = async (params, opts) => {
            const rec: (typeof sweepCalls)[number] = { code: params.TemplateCode ?? '', start: Date.now(), end: 0 };
            sweepCalls.push(rec);
            try {
              return await getHealth(params, opts);
            } catch (e) {
              rec.error = (e as { Code?: string }).Code ?? String(e);
              rec.attempts = (e as { attempts?: number }).attempts;
              throw e;
            } finally {
              rec.end = Date.now();
            }
          };
          const reports: Array<Record<string, unknown>> = [];
          const sinks = sinksFromEnv(b.env);
          const loop = (async () => {
            while (!stop) {
              // Invocations as on FC: bounded, each delivering what it finds while it sweeps (a flush delay after a
              // finding, FLUSH_DELAY_MS) and at its end. FC's 280 s against a 10,000-node round of
              // ~2,080 s is ~13 %; here ~3 s of checks per run.
              const startedRun = Date.now();
              const r = await new HealthSweep({ store: b.store, cams, sinks, policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, envTargets: [], concurrency: DROP_SWEEP_QPS, deadline: Date.now() + RUN_CHECKS_MS + 6000, ...(FLUSH_MS !== undefined ? { flushDelayMs: FLUSH_MS } : {}) }).run();
              reports.push({ at: startedRun, ms: Date.now() - startedRun, round: r.round, checked: r.checked, riskChecks: r.riskChecks, transient: r.transientFailures, pending: r.pending, complete: r.roundComplete });
              // A round may span several runs (throttled checks stay pending): its own record has its length.
              const rec = (await b.store.get<SweepRound>(ROUND_KEY))?.value;
              if (r.roundComplete && rec?.completedAt) rounds.push(rec.completedAt - rec.startedAt);
            }
          })();
          // One round first, so the sweep is mid-stream (as in production) when the changes come.
          while (rounds.length === 0) await new Promise((r) => setTimeout(r, 100));
          const roundB = rounds[0]!;
          log(`B: round ${round(roundB / 1000, 1)} s; ${CHANGES} changes over one round, 50 % of receipts dropped`);
          const changesB = await injectChanges(b, seeded(34), CHANGES, roundB);
          const latB = await waitForAlerts(b, changesB, 3 * roundB);
          // The round the last alert came in is measured too: it ends before the sweep stops.
          const roundsSoFar = rounds.length;
          const until = Date.now() + 3 * roundB;
          while (rounds.length === roundsSoFar && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
          stop = true;
          await loop;
          const stats = await httpRequest(new URL('/__sandbox/receipts', b.host.sandboxUrl)).then((r) => JSON.parse(r.body.toString()) as { Dropped: number; Pushed: number });
          const calls = await httpRequest(new URL('/__sandbox/calls', b.host.sandboxUrl)).then((r) => JSON.parse(r.body.toString()) as Array<{ Code: string; At: string; Action: string; Params: Record<string, string> }>);
          // Where each change's time went: to the first check that saw it (a receipt's or the sweep's), then to the alert.
          const firstCheck = changesB.map((c) => {
            const at = calls.filter((x) => x.Action === 'GetWhatsappHealthStatus' && x.Code === 'OK' && x.Params['TemplateCode'] === c.code).map((x) => Date.parse(x.At)).filter((t) => t >= c.at);
            return at.length ? Math.min(...at) - c.at : undefined;
          });
          const throttled = calls.filter((c) => c.Code === 'System.LimitControl').length;
          const gotB = latB.filter((x): x is number => x !== undefined);
          // Rounds during the changes are longer than the first (receipts' checks share the 5 QPS).
          const worstRound = Math.max(...rounds);
          rowsB.push([`${DROP_NODES} nodes, sweep ${DROP_SWEEP_QPS} QPS`, round(worstRound / 1000, 1), `${stats.Pushed}/${stats.Dropped}`, `${gotB.length}/${CHANGES}`, round(q(gotB, 0.5) / 1000, 2), round(Math.max(...gotB) / 1000, 2), throttled]);
          goals.push(goal('B: changes never alerted (50 % receipts dropped)', CHANGES - gotB.length, 0, 'changes'));
          goals.push(
            goal(
              'B: slowest change → alert ÷ the longest sweep round',
              round(Math.max(...gotB) / worstRound, 3),
              1,
              'x',
              `rounds measured (the one the last alert came in included): ${rounds.map((r) => round(r / 1000, 1)).join(', ')} s. What bounds it: a round keeps its order from round to round (the node is checked again at most one round later), risky nodes (non-AVAILABLE, a receipt whose check failed) are extra checks paid from a share of the round's own (RISK_SHARE), and a finding is delivered ${FLUSH_MS ?? FLUSH_DELAY_MS} ms after its check (FLUSH_DELAY_MS, or BENCH_RECEIPT_FLUSH_MS). data.B.toFirstCheckMs: each change to the first check that saw it.`,
              3,
            ),
          );
          // The sweep's own bound, without the delivery after the check: the round keeps its order, so the
          // check that sees a change comes at most one round after it, whatever the flush adds.
          const seen = firstCheck.filter((x): x is number => x !== undefined);
          goals.push(
            goal(
              'B: slowest change → the first check that saw it ÷ the longest sweep round',
              round(Math.max(...seen) / worstRound, 3),
              1,
              'x',
              `check → alert: max ${round(Math.max(...latB.map((l, i) => (l ?? NaN) - (firstCheck[i] ?? NaN)).filter(Number.isFinite)), 0)} ms (the flush, FLUSH_DELAY_MS after the last one). Throttled calls: ${throttled}; sweep checks that failed after the client's attempts: ${sweepCalls.filter((c) => c.error).length} (each re-checked in its tick, recheck.ts).`,
              3,
            ),
          );
          const t0 = reports[0]?.['at'] as number;
          const slowest = changesB[latB.indexOf(Math.max(...gotB))]!;
          data['B'] = {
            ...(FLUSH_MS !== undefined ? { flushDelayMs: FLUSH_MS } : {}),
            latenciesMs: latB,
            toFirstCheckMs: firstCheck,
            roundsMs: rounds,
            pushed: stats.Pushed,
            dropped: stats.Dropped,
            throttled,
            throttledCalls: calls.filter((c) => c.Code === 'System.LimitControl').map((c) => ({ atMs: Date.parse(c.At) - t0, code: c.Params['TemplateCode'] })),
            sweepFailures: sweepCalls.filter((c) => c.error).map((c) => ({ atMs: c.start - t0, ms: c.end - c.start, code: c.code, error: c.error, attempts: c.attempts })),
            slowest: { code: slowest.code, changeAtMs: slowest.at - t0, sweepCalls: sweepCalls.filter((c) => c.code === slowest.code).map((c) => ({ atMs: c.start - t0, ms: c.end - c.start, error: c.error })) },
            runs: reports.map((r) => ({ ...r, at: (r['at'] as number) - t0 })),
          };
        } finally {
          await b.close();
        }
      }

      notes.push(
        `store: ${data['store']}; the local host with no timer, the sandbox at its default (real) limits; one account.`,
        `A's polling row is computed, not run: ${NODES} nodes × ${interval} ms (5 QPS + the client's head-room) = ${round(roundMs / 1000, 0)} s per round; each change waits for the sweep to reach its node from a uniformly random place.`,
        `B is scaled down (${DROP_NODES} nodes) so that a sweep round takes seconds, not half an hour; the bound it shows, one round, is what 10,000 nodes get at their round length. The sweep there runs at MONITOR_QPS ${DROP_SWEEP_QPS} on the account's shared CAMS budget, where the receipts' checks go first.`,
      );
      return {
        name: receiptLatency.name,
        description: receiptLatency.description,
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - startedAt.getTime(),
        tables: [
          { title: 'A: change → alert', columns: ['path', 'p50 s', 'p99 s', 'max s', 'alerted'], rows: rowsA },
          { title: 'B: 50 % of receipts dropped; the sweep is the backstop', columns: ['case', 'longest round s', 'pushed/dropped', 'alerted', 'p50 s', 'max s', 'throttled calls'], rows: rowsB },
        ],
        goals,
        notes,
        data,
      };
    } finally {
      if (savedLevel === undefined) delete process.env['LOG_LEVEL'];
      else process.env['LOG_LEVEL'] = savedLevel;
      await redis?.stop();
    }
  },
};
