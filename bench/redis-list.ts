/**
 * redis-list: what a store listing costs on redis at 10,000 watched nodes, with another account's
 * 10,000 on the same server, against the store as it was before its per-bucket index (a SCAN of
 * every key; bench/baselines/scan-list.ts), run side by side on the same data:
 *   1. `list(monitor/risky/)`, the listing every tick makes (20 risky nodes): ratio ≤ 0.1;
 *   2. `list(watch/)`, the round's listing of all 10,000 watch entries: ratio ≤ 1;
 *   3. what the index costs a write: one put at a time (a round trip each), ratio ≤ 1.5.
 * Each namespace holds 3 keys per node (watch entry, entity, target record), as the sweep leaves them.
 */
import { performance } from 'node:perf_hooks';
import { openStore } from '../shared/store/index.ts';
import { RedisConnection } from '../shared/store/redis-connection.ts';
import { findOnPath, startRedisServer } from '../test/shared/store/redis-server.ts';
import { putWithoutIndex, scanList } from './baselines/scan-list.ts';
import { median, ratio, round } from './lib/stats.ts';
import { goal, type Benchmark, type BenchResult } from './lib/types.ts';

const NODES = 10_000;
const RISKY = 20;
const BATCH = 1_000;
const PUTS_PER_ROUND = 200;

/** Times `fn` once; ms. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export const redisList: Benchmark = {
  name: 'redis-list',
  description: 'redis store at 10,000 nodes (+10,000 of another account): list(monitor/risky/) and list(watch/) via the index vs a SCAN of every key; a put with its index update vs without',
  issue: 'scale',
  async run({ runs, log }): Promise<BenchResult> {
    const startedAt = new Date();
    const bin = findOnPath('redis-server');
    if (!bin) throw new Error('redis-server is not on PATH (apt-get install redis-server)');
    const server = await startRedisServer(bin);
    const ours = 'bench-ours:';
    const url = `${server.url}?namespace=${ours}`;
    const store = await openStore(url);
    const other = await openStore(`${server.url}?namespace=bench-other:`);
    const conn = await RedisConnection.open({ host: '127.0.0.1', port: server.port, db: 0, connectTimeoutMs: 3000, commandTimeoutMs: 30_000 });
    try {
      log(`redis-list: writing ${NODES} nodes × 3 keys in each of two namespaces`);
      for (const s of [store, other]) {
        for (let i = 0; i < NODES; i += BATCH) {
          await Promise.all(
            Array.from({ length: BATCH }, (_, j) => {
              const id = `template:C${String(i + j).padStart(6, '0')}:tpl/en`;
              return Promise.all([
                s.put(`watch/${id}`, { Type: 'template', Id: id }),
                s.put(`monitor/entity/${id}`, { status: 'AVAILABLE', round: 'r1' }),
                s.put(`monitor/target/${id}`, { round: 'r1', at: Date.now() }),
              ]);
            }),
          );
        }
        for (let i = 0; i < RISKY; i += 1) await s.put(`monitor/risky/template:C${String(i * 7).padStart(6, '0')}:tpl/en`, { why: 'BLOCKED' });
      }
      const rounds = runs ?? 15;
      const samples = { riskyIndex: [] as number[], riskyScan: [] as number[], watchIndex: [] as number[], watchScan: [] as number[], putIndex: [] as number[], putPlain: [] as number[] };
      const plainPut = await putWithoutIndex(conn, 'bench-plain:');
      let risky = 0;
      let watched = 0;
      for (let r = 0; r < rounds + 1; r += 1) {
        const keep = r > 0; // the first round warms both sides up
        const pairs: Array<[keyof typeof samples, () => Promise<unknown>]> = [
          ['riskyIndex', async () => (risky = (await store.list('monitor/risky/')).length)],
          ['riskyScan', () => scanList(conn, ours, 'monitor/risky/')],
          ['watchIndex', async () => (watched = (await store.list('watch/')).length)],
          ['watchScan', () => scanList(conn, ours, 'watch/')],
          ['putIndex', async () => { for (let i = 0; i < PUTS_PER_ROUND; i += 1) await store.put(`bench/put/${i}`, { i, r }); }],
          ['putPlain', async () => { for (let i = 0; i < PUTS_PER_ROUND; i += 1) await plainPut(`bench/put/${i}`, { i, r }); }],
        ];
        // alternate which side goes first, so neither always runs on a warmer server
        if (r % 2 === 1) for (let i = 0; i < pairs.length; i += 2) [pairs[i], pairs[i + 1]] = [pairs[i + 1]!, pairs[i]!];
        for (const [name, fn] of pairs) {
          const ms = await timed(fn);
          if (keep) samples[name].push(ms);
        }
      }
      if (risky !== RISKY || watched !== NODES) throw new Error(`the store listed ${risky} risky nodes and ${watched} watch entries, expected ${RISKY} and ${NODES}`);
      const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)])) as Record<keyof typeof samples, number>;
      const riskyRatio = ratio(m.riskyIndex, m.riskyScan);
      const watchRatio = ratio(m.watchIndex, m.watchScan);
      const putRatio = ratio(m.putIndex / PUTS_PER_ROUND, m.putPlain / PUTS_PER_ROUND);
      return {
        name: 'redis-list',
        description: redisList.description,
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - startedAt.getTime(),
        tables: [
          {
            title: `medians of ${rounds} alternating rounds; the server holds ${2 * (3 * NODES + RISKY)} data keys in two namespaces`,
            columns: ['operation', 'index ms', 'SCAN / no index ms', 'ratio'],
            rows: [
              [`list(monitor/risky/) → ${RISKY}`, round(m.riskyIndex, 2), round(m.riskyScan, 2), round(riskyRatio, 3)],
              [`list(watch/) → ${NODES}`, round(m.watchIndex, 1), round(m.watchScan, 1), round(watchRatio, 3)],
              ['one put (a round trip)', round((m.putIndex / PUTS_PER_ROUND) * 1000), round((m.putPlain / PUTS_PER_ROUND) * 1000), round(putRatio, 3)],
            ],
          },
        ],
        goals: [
          goal('list(monitor/risky/): index ÷ SCAN', round(riskyRatio, 3), 0.1, 'x', undefined, 3),
          goal('list(watch/): index ÷ SCAN', round(watchRatio, 3), 1, 'x', undefined, 3),
          goal('put: with index ÷ without', round(putRatio, 3), 1.5, 'x', undefined, 3),
        ],
        notes: ['put times are µs per put, one at a time over loopback. The SCAN side walks every key on the server, the other namespace included, as the store did before its index.'],
        data: { medians: m, riskyRatio, watchRatio, putRatio, rounds },
      };
    } finally {
      await conn.quit();
      await store.close();
      await other.close();
      await server.stop();
    }
  },
};
