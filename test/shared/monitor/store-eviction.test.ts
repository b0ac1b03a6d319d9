/**
 * StoreEvicting: the sweep tells the operator when the store's redis may evict our keys (any
 * maxmemory-policy but noeviction), on real redis-servers: a warning once per instance, the monitor's
 * own alert raised and resolved, shown by GET /health-report and the status page; asked once per
 * instance every STORE_LOOK_MS, so most sweeps spend nothing on it; a redis that will not say is no
 * failure.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CamsClient } from '../../../shared/cams/client.ts';
import { STORE_LOOK_MS } from '../../../shared/monitor/store-eviction.ts';
import { HealthSweep } from '../../../shared/monitor/sweep.ts';
import { healthReport } from '../../../shared/services/health-report.ts';
import { statusPageHtml } from '../../../shared/services/status-page.ts';
import { openStore, StoreError, type Store } from '../../../shared/store/index.ts';
import { failInCIWithout } from '../../support/ci.ts';
import { RecordingSink } from '../../support/monitor.ts';
import { storeWith } from '../../support/store.ts';
import { findOnPath, rawCommand, startRedisServer, type RedisServer } from '../store/redis-server.ts';

const redisBin = findOnPath('redis-server');
failInCIWithout(redisBin, 'needs redis-server on PATH when CI is set (CI installs it)', 'redis-server not found on PATH, and CI is set: StoreEvicting cannot be checked');

/** Nothing is watched: the sweep calls no CAMS. */
const cams = {} as CamsClient;

describe.skipIf(!redisBin)('StoreEvicting (real redis-servers)', () => {
  let evicting: RedisServer;
  let silent: RedisServer;
  let store: Store;
  let t: number;
  let logs: Array<Record<string, unknown>>;
  let looks: number;
  beforeAll(async () => {
    [evicting, silent] = await Promise.all([
      startRedisServer(redisBin!, undefined, ['--maxmemory-policy', 'allkeys-lru']),
      startRedisServer(redisBin!, undefined, ['--rename-command', 'INFO', '']),
    ]);
  });
  afterAll(async () => {
    await Promise.all([evicting?.stop(), silent?.stop()]);
  });
  beforeEach(() => {
    t = 1_000_000_000;
    logs = [];
    looks = 0;
  });
  afterEach(async () => store?.close());

  /** One instance's store: a fresh namespace on `server`, its describe() calls counted. */
  async function instance(server: RedisServer): Promise<Store> {
    const inner = await openStore(`${server.url}?namespace=test-${randomBytes(4).toString('hex')}:`);
    return storeWith(inner, { describe: () => (looks++, inner.describe!()) });
  }

  const sweep = (sink: RecordingSink, s: Store = store) =>
    new HealthSweep({
      store: s,
      cams,
      sinks: [sink],
      policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 },
      envTargets: [],
      concurrency: 1,
      deadline: t + 60_000,
      checkBudgetMs: 0,
      now: () => t,
      log: (rec) => logs.push(rec),
    }).run();

  const items = (sink: RecordingSink) => sink.received.flatMap((n) => n.items).map((i) => `${i.subject.entityType}:${i.reason}`);
  const warnings = () => logs.filter((l) => l['level'] === 'warn').map((l) => String(l['msg']));

  it('an allkeys-lru redis: one warning naming it, StoreEvicting raised and shown; asked again only after STORE_LOOK_MS; resolved once it is noeviction', async () => {
    store = await instance(evicting);
    const sink = new RecordingSink();
    await sweep(sink);
    expect(looks).toBe(1);
    expect(warnings()).toEqual([expect.stringMatching(/maxmemory-policy allkeys-lru\): any key can go: .*Set maxmemory-policy noeviction\./)]);
    expect(items(sink)).toEqual(['StoreEvicting:new']);
    const raised = sink.received[0]!.items[0]!;
    expect(raised.severity).toBe('critical');
    expect(raised.errors[0]).toMatchObject({ ErrorCode: 'StoreEvicting', ErrorDescription: expect.stringContaining('maxmemory-policy allkeys-lru') });
    expect(raised.errors[0]!.PossibleSolution).toMatch(/Parameter Settings/);

    // Shown as the monitor's other alerts are.
    const report = await healthReport(store, {}, {}, t);
    expect(report['Nodes']).toEqual([expect.objectContaining({ EntityType: 'StoreEvicting', NodeType: 'monitor', Firing: true })]);
    expect(await statusPageHtml(store, { now: t, refreshSeconds: 60 })).toContain('StoreEvicting');

    // Within STORE_LOOK_MS: not asked, nothing said again, even after the policy is fixed.
    t += STORE_LOOK_MS - 1;
    expect(await rawCommand(evicting.port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction')).toBe('+OK\r\n');
    await sweep(sink);
    expect(looks).toBe(1);
    expect(items(sink)).toEqual(['StoreEvicting:new']);

    // The next look hears noeviction: resolved, with no warning.
    t += 1;
    await sweep(sink);
    expect(looks).toBe(2);
    expect(items(sink)).toEqual(['StoreEvicting:new', 'StoreEvicting:resolved']);
    expect(warnings()).toHaveLength(1);
    await rawCommand(evicting.port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
  });

  it('warns once per instance: a look that hears the same policy again logs nothing more and sends nothing new (the alert stays firing)', async () => {
    store = await instance(evicting);
    const sink = new RecordingSink();
    await sweep(sink);
    t += STORE_LOOK_MS;
    await sweep(sink);
    expect(looks).toBe(2);
    expect(warnings()).toHaveLength(1);
    expect(items(sink)).toEqual(['StoreEvicting:new']);
    expect((await healthReport(store, {}, {}, t))['Nodes']).toEqual([expect.objectContaining({ EntityType: 'StoreEvicting', Firing: true })]);
  });

  it('a redis that refuses INFO is unknown: logged, no alert, the sweep goes on', async () => {
    store = await instance(silent);
    const sink = new RecordingSink();
    const report = await sweep(sink);
    expect(report.roundComplete).toBe(true);
    expect(looks).toBe(1);
    expect(logs.filter((l) => String(l['msg']).includes('would not say what it evicts'))).toHaveLength(1);
    expect(warnings()).toEqual([]);
    expect(sink.received).toEqual([]);
  });

  it("a look whose alert write the store fails (the sweep fails with it) is made again at the next sweep: the policy set right is resolved then, not 10 minutes later, and warned of once", async () => {
    const inner = await instance(evicting);
    let failEntityPut = false;
    store = storeWith(inner, {
      put: (k, v, o) => {
        if (failEntityPut && k.startsWith('monitor/entity/')) {
          failEntityPut = false;
          return Promise.reject(new StoreError('UNAVAILABLE', 'redis store unavailable: EVALSHA: connection reset'));
        }
        return inner.put(k, v, o);
      },
    });
    const sink = new RecordingSink();
    await sweep(sink);
    expect(items(sink)).toEqual(['StoreEvicting:new']);

    // Set right; the look that hears it has its resolution's write fail.
    expect(await rawCommand(evicting.port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction')).toBe('+OK\r\n');
    try {
      t += STORE_LOOK_MS;
      failEntityPut = true;
      await expect(sweep(sink)).rejects.toThrow(/connection reset/);
      expect(looks).toBe(2);
      t += 1;
      await sweep(sink);
      expect(looks).toBe(3);
      expect(items(sink)).toEqual(['StoreEvicting:new', 'StoreEvicting:resolved']);
      // Raised again, its write failing first: raised at the next sweep, warned of once.
      await rawCommand(evicting.port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
      t += STORE_LOOK_MS;
      failEntityPut = true;
      await expect(sweep(sink)).rejects.toThrow(/connection reset/);
      t += 1;
      await sweep(sink);
      expect(items(sink)).toEqual(['StoreEvicting:new', 'StoreEvicting:resolved', 'StoreEvicting:new']);
      expect(warnings().filter((w) => w.includes('maxmemory-policy allkeys-lru'))).toHaveLength(2);
    } finally {
      await rawCommand(evicting.port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    }
  });

  it('a look that fails (redis unreachable for it) is logged and made again at the next sweep, not 10 minutes later', async () => {
    const inner = await instance(evicting);
    let fail = true;
    store = storeWith(inner, { describe: () => (fail ? Promise.reject(new StoreError('UNAVAILABLE', 'redis store unavailable: INFO: connection refused')) : inner.describe!()) });
    const sink = new RecordingSink();
    expect((await sweep(sink)).roundComplete).toBe(true);
    expect(warnings()).toEqual([expect.stringContaining('could not ask the store what it evicts')]);
    fail = false;
    t += 1;
    await sweep(sink);
    expect(items(sink)).toEqual(['StoreEvicting:new']);
  });
});
