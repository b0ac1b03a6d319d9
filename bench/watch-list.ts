/**
 * watch-list (issue #15). Two measurements, both per entry:
 *   1. POST /watch-list: 10,000 targets in batches of 1,000 through the real watch-list handler
 *      (ACS3-signed FC HTTP events, validation, the file store, STORE_URL=file:… in a temp dir),
 *      against the baseline of writing the same 10,000 keys straight into a file store
 *      (`put` set-if-absent, the same parallelism): ratio ≤ 2. The store calls one entry costs are
 *      counted on a second, counted run of the same batches (addWatchEntries over a counting store).
 *   2. One sweep's store cost at 10,000 watched entries: a HealthSweep (discovery on, nothing due)
 *      over 10,000 template targets of one bound WABA, against the loopback sandbox with its limits
 *      raised (we measure the store, not CAMS's 5 QPS), on a counting in-memory store: store calls and
 *      bytes written per entry. The store kind changes the time per call, not the count.
 * `--runs N` is ignored: each measurement runs once (10,000 entries is the point).
 */
import { performance } from 'node:perf_hooks';
import { signRouteRequest } from '../local/client/route-request.ts';
import type { RunningSandbox } from '../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS, startSandbox } from '../local/sandbox/server.ts';
import { CamsClient } from '../shared/cams/client.ts';
import { CamsBudget } from '../shared/cams/budget/budget.ts';
import { httpRequest } from '../shared/http/request.ts';
import { HealthSweep } from '../shared/monitor/sweep.ts';
import { targetId, WATCH_PREFIX, type RegisteredTarget, type WatchTarget } from '../shared/monitor/targets.ts';
import { openStore } from '../shared/store/index.ts';
import type { Store } from '../shared/store/port.ts';
import { WatchEntries } from '../shared/watch-list/entry.ts';
import { addWatchEntries } from '../shared/watch-list/store.ts';
import { fcContext, httpEvent } from '../test/support/events.ts';
import { tempDir } from './lib/bundle.ts';
import { BENCH_CALLER_KEY, HIGH_QPS, ROUTE_HOST, setupClient } from './lib/sandbox.ts';
import { round } from './lib/stats.ts';
import { goal, type Benchmark, type BenchResult } from './lib/types.ts';

const ENTRIES = 10_000;
const BATCH = 1_000;
const SPACE = 'C10910000000001';
const GOAL_POST_RATIO = 2;

/** Counts what callers ask of a store: calls per kind, entries listed, bytes written. */
export class CountingStore implements Store {
  counts = { get: 0, put: 0, delete: 0, list: 0, listed: 0, bytesWritten: 0 };
  constructor(private readonly inner: Store) {}
  get<T>(key: string) {
    this.counts.get++;
    return this.inner.get<T>(key);
  }
  put<T>(key: string, value: T, opts?: Parameters<Store['put']>[2]) {
    this.counts.put++;
    this.counts.bytesWritten += key.length + JSON.stringify(value).length;
    return this.inner.put<T>(key, value, opts);
  }
  delete(key: string, opts?: Parameters<Store['delete']>[1]) {
    this.counts.delete++;
    return this.inner.delete(key, opts);
  }
  reserveSlot(key: string, intervalMs: number, maxWaitMs: number) {
    return this.inner.reserveSlot(key, intervalMs, maxWaitMs);
  }
  async list<T>(prefix: string) {
    this.counts.list++;
    const out = await this.inner.list<T>(prefix);
    this.counts.listed += out.length;
    return out;
  }
  acquireLease(name: string, ttlMs: number, owner?: string) {
    return this.inner.acquireLease(name, ttlMs, owner);
  }
  close() {
    return this.inner.close();
  }
}

function phoneTargets(n: number): WatchTarget[] {
  return Array.from({ length: n }, (_, i) => ({ CustSpaceId: SPACE, NodeType: 'phone', PhoneNumber: `86139${String(i).padStart(8, '0')}` }));
}

async function postThroughHandler(log: (l: string) => void): Promise<{ ms: number; baselineMs: number; counts: CountingStore['counts'] }> {
  const targets = phoneTargets(ENTRIES);
  const storeUrl = `file:${tempDir('watch-post')}`;
  Object.assign(process.env, { API_KEYS: `${BENCH_CALLER_KEY.accessKeyId}:${BENCH_CALLER_KEY.accessKeySecret}`, STORE_URL: storeUrl, LOG_LEVEL: 'silent' });
  const { handler } = await import('../functions/watch-list/handler.ts');
  let nonce = 0;
  const t0 = performance.now();
  for (let i = 0; i < ENTRIES; i += BATCH) {
    const req = signRouteRequest({ method: 'POST', path: '/watch-list', body: { Targets: targets.slice(i, i + BATCH) } }, ROUTE_HOST, BENCH_CALLER_KEY, { nonce: `wl-bench-${++nonce}` });
    const res = await handler(httpEvent(req, 'fc-http'), fcContext() as never);
    if (res.statusCode !== 200) throw new Error(`POST /watch-list → ${res.statusCode}: ${res.body.slice(0, 300)}`);
    const data = (JSON.parse(res.body) as { Data: { Added: number } }).Data;
    if (data.Added !== Math.min(BATCH, ENTRIES - i)) throw new Error(`POST /watch-list added ${data.Added} of ${BATCH}`);
  }
  const ms = performance.now() - t0;
  log(`POST: ${ENTRIES} entries in ${Math.round(ms)} ms`);

  // Baseline: the same keys and values written straight into a fresh file store, 16 at a time,
  // its opening timed as the handler's first request times its own.
  const b0 = performance.now();
  const raw = await openStore(`file:${tempDir('watch-raw')}`);
  let next = 0;
  const now = new Date().toISOString();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < targets.length) {
        const t = targets[next++]!;
        await raw.put<RegisteredTarget>(WATCH_PREFIX + targetId(t), { target: t, source: 'bench', registeredAt: now }, { ifAbsent: true });
      }
    }),
  );
  const baselineMs = performance.now() - b0;
  await raw.close();
  log(`baseline: ${ENTRIES} puts in ${Math.round(baselineMs)} ms`);

  // The store calls of the same batches, counted.
  const counted = new CountingStore(await openStore('memory:'));
  for (let i = 0; i < ENTRIES; i += BATCH) await addWatchEntries(counted, WatchEntries.parse(targets.slice(i, i + BATCH)), 'bench');
  await counted.close();
  return { ms, baselineMs, counts: counted.counts };
}

async function sweepAt10k(log: (l: string) => void): Promise<{ ms: number; counts: CountingStore['counts']; checked: number }> {
  const key = DEFAULT_SANDBOX_KEYS[0]!;
  const sandbox: RunningSandbox = await startSandbox({ host: '127.0.0.1', port: 0, qps: HIGH_QPS });
  const store = new CountingStore(await openStore('memory:'));
  try {
    const { data } = await setupClient(sandbox, key).bindWaba({ WabaId: '109100000000015' });
    const space = data.CustSpaceId;
    const targets: WatchTarget[] = Array.from({ length: ENTRIES }, (_, i) => ({ CustSpaceId: space, NodeType: 'template', TemplateCode: `tpl_${i}`, Language: 'en' }));
    for (let i = 0; i < ENTRIES; i += BATCH) {
      const templates = targets.slice(i, i + BATCH).map((t) => ({ TemplateCode: t.TemplateCode, Language: t.Language }));
      await httpRequest(new URL('/__sandbox/templates', sandbox.url), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ CustSpaceId: space, Templates: templates }) });
      await addWatchEntries(store, WatchEntries.parse(targets.slice(i, i + BATCH)), 'bench');
    }
    store.counts = { get: 0, put: 0, delete: 0, list: 0, listed: 0, bytesWritten: 0 };
    const cams = new CamsClient({ endpoint: sandbox.url, credentials: key, qps: HIGH_QPS, budget: new CamsBudget({ qps: HIGH_QPS }) });
    const sweep = new HealthSweep({
      store,
      cams,
      sinks: [],
      policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 },
      envTargets: [],
      concurrency: 16,
      deadline: Date.now() + 30 * 60_000,
      discovery: { intervalMs: 3_600_000 },
    });
    const t0 = performance.now();
    const report = await sweep.run();
    const ms = performance.now() - t0;
    if (report.skipped) throw new Error(`the sweep was skipped: ${report.skipped}`);
    log(`sweep: ${report.checked} of ${report.targets} checked in ${Math.round(ms)} ms`);
    return { ms, counts: store.counts, checked: report.checked };
  } finally {
    await store.close();
    await sandbox.close();
  }
}

export const watchList: Benchmark = {
  name: 'watch-list',
  issue: '#15 watch list',
  description: `POST ${ENTRIES} targets in batches of ${BATCH} (÷ raw store puts), and one sweep's store cost at ${ENTRIES} entries, per entry`,
  async run({ log }): Promise<BenchResult> {
    const startedAt = new Date();
    // The handler reads its configuration from process.env, as on FC; the benches after this one
    // must not inherit it.
    const savedEnv = { ...process.env };
    let post: Awaited<ReturnType<typeof postThroughHandler>>;
    let sweep: Awaited<ReturnType<typeof sweepAt10k>>;
    try {
      post = await postThroughHandler(log);
      sweep = await sweepAt10k(log);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
      Object.assign(process.env, savedEnv);
    }
    const per = (n: number, digits = 2) => round(n / ENTRIES, digits);
    const ratio = post.ms / post.baselineMs;
    return {
      name: 'watch-list',
      description: this.description,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      tables: [
        {
          title: `per entry, ${ENTRIES} entries`,
          columns: ['measurement', 'ms/entry', 'gets', 'puts', 'deletes', 'lists', 'entries listed', 'bytes written'],
          rows: [
            ['POST /watch-list (handler, file store)', per(post.ms, 3), per(post.counts.get), per(post.counts.put), per(post.counts.delete), per(post.counts.list, 4), per(post.counts.listed), per(post.counts.bytesWritten, 0)],
            ['baseline: raw put ifAbsent (file store)', per(post.baselineMs, 3), 0, 1, 0, 0, 0, '-'],
            ['one sweep at 10,000 entries (memory store)', per(sweep.ms, 3), per(sweep.counts.get), per(sweep.counts.put), per(sweep.counts.delete), per(sweep.counts.list, 4), per(sweep.counts.listed), per(sweep.counts.bytesWritten, 0)],
          ],
        },
      ],
      goals: [
        goal('POST /watch-list time ÷ raw store puts', round(ratio, 2), GOAL_POST_RATIO, 'x'),
        goal('store writes per posted entry', per(post.counts.put), 1, 'puts'),
        goal(
          'bytes written per entry in one sweep',
          round(sweep.counts.bytesWritten / ENTRIES / 1024, 1),
          10,
          'KB',
          'puts per entry: 1 round record + 1 per entity the reply reports (a template: itself, its WABA, BUSINESS and APP); the bytes are the round record, rewritten whole on each check',
        ),
        goal('entries listed per entry in one sweep', per(sweep.counts.listed), 5, 'reads'),
      ],
      notes: [
        `sweep: ${sweep.checked} of ${ENTRIES} checked. Bytes written per entry in the sweep are dominated by the round record (monitor/round), whose \`done\` list is rewritten on every check: O(n) per check, O(n²) per round.`,
        'The sweep lists the whole watch list (loadWatchList) and discovery lists it once more; GET /watch-list reads the whole list per page (store.list has no cursor).',
      ],
      data: { entries: ENTRIES, batch: BATCH, postMs: post.ms, baselineMs: post.baselineMs, postCounts: post.counts, sweepMs: sweep.ms, sweepCounts: sweep.counts, checked: sweep.checked },
    };
  },
};
