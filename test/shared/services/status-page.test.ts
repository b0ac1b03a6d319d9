/**
 * The status page at the scale the README promises (10,000 watched nodes, 90 days of history each)
 * within the heap a 256 MB function has: rendered in a process of its own, on a real redis-server,
 * with a 64 MB old space. Holding every history record at once took more than 96 MB. With them,
 * 2,000 silences in force and 5,000 that ended in the last 7 days: every one in force is listed,
 * the 20 that ended last, and a word that GET /silences lists the rest.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusFixture } from '../../../bench/lib/status-fixture.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/entity-store.ts';
import { observeMonitorSubject } from '../../../shared/monitor/monitor-alert.ts';
import { ROUND_KEY, type SweepRound } from '../../../shared/monitor/sweep.ts';
import { STATS_KEY } from '../../../shared/receipts/dedup.ts';
import { UNKNOWN_WABA_PREFIX } from '../../../shared/receipts/summary.ts';
import { ENDED_SILENCES_LISTED, statusPageHtml } from '../../../shared/services/status-page.ts';
import { createSilence } from '../../../shared/silences/store.ts';
import { openStore } from '../../../shared/store/index.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';

const redisBin = findOnPath('redis-server');
const NOW = Date.UTC(2026, 11, 1, 12);
const NODES = 10_000;
const IN_FORCE = 2_000;
const ENDED = 5_000;

function render(storeUrl: string, heapMb: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, '--import', 'tsx', 'test/fixtures/status-page-child.ts'], {
      env: { PATH: process.env['PATH'], STORE_URL: storeUrl, NOW: String(NOW) },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => resolve({ code, out, err: err.slice(-500) }));
  });
}

describe.skipIf(!redisBin && process.env['CI'] !== 'true')('the status page of 10,000 nodes', () => {
  let server: RedisServer;
  let url: string;
  let incidents: number;
  beforeAll(async () => {
    server = await startRedisServer(redisBin!);
    url = `${server.url}?namespace=page-scale:`;
    const store = await openStore(url);
    const f = statusFixture(NODES, NOW);
    incidents = f.entities.filter((e) => e.firing).length;
    const writes = [...f.entities.map((e) => [ENTITY_PREFIX + e.fingerprint, e] as const), ...f.histories];
    for (let i = 0; i < writes.length; i += 500) await Promise.all(writes.slice(i, i + 500).map(([k, v]) => store.put(k, v)));
    // Made an hour ago, for an hour (ended) or for a day; each for a number no node has.
    const silence = (i: number) =>
      createSilence(
        store,
        { Matchers: [{ Name: 'PhoneNumber', Value: `8619${String(i).padStart(9, '0')}` }], StartsAt: NOW - 3_600_000, EndsAt: NOW + (i < ENDED ? -(i + 1) : 86_400_000), CreatedBy: 'ops', Comment: `silence ${i}` },
        NOW - 3_600_000,
      );
    for (let i = 0; i < IN_FORCE + ENDED; i += 500) await Promise.all(Array.from({ length: Math.min(500, IN_FORCE + ENDED - i) }, (_, j) => silence(i + j)));
    await store.close();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('renders with a 64 MB heap: histories are read a page at a time and kept as their 90 days', async () => {
    const r = await render(url, 64);
    expect(r.code, r.err).toBe(0);
    const page = JSON.parse(r.out) as { bytes: number; incidents: string; silences: Record<string, number>; moreEnded: boolean };
    expect(Number(page.incidents)).toBe(incidents);
    expect(page.bytes).toBeGreaterThan(100_000);
    expect(page.silences).toEqual({ active: IN_FORCE, expired: ENDED_SILENCES_LISTED });
    expect(page.moreEnded).toBe(true);
  }, 60_000);
});

describe("the status page's headline from the store, as the sweep records the monitor's own health (file store)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'status-headline-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('AuthRefused, recorded as the sweep records it, turns a page of AVAILABLE nodes into ERROR "monitoring impaired"; resolved, back to AVAILABLE', async () => {
    const store = await openStore(`file:${dir}`);
    try {
      for (const e of statusFixture(3, NOW).entities) await store.put(ENTITY_PREFIX + e.fingerprint, e);
      const render = () => statusPageHtml(store, { now: NOW, refreshSeconds: 0 });
      expect(await render()).toContain('<title>WhatsApp health: AVAILABLE</title>');

      const refused = { ErrorCode: 'InvalidAccessKeyId.NotFound', ErrorDescription: 'Specified access key is not found.', PossibleSolution: 'Check the credentials.' };
      const ctx = { round: 'r1', policy: { minConsecutive: 3, repeatIntervalMs: 3_600_000 } };
      await observeMonitorSubject(store, { nodeType: 'monitor', entityType: 'AuthRefused' }, 'ERROR', [refused], { ...ctx, now: NOW - 300_000 });
      const impaired = await render();
      expect(impaired).toContain('<title>WhatsApp health: ERROR (monitoring impaired)</title>');
      expect(impaired).toContain('<b>Monitoring impaired</b> since 2026-12-01 11:55 UTC (AuthRefused): no check is being answered, so the states below may be stale since then.');
      expect(impaired).toContain('3 nodes: 3 AVAILABLE');

      await observeMonitorSubject(store, { nodeType: 'monitor', entityType: 'AuthRefused' }, 'AVAILABLE', [], { ...ctx, round: 'r2', now: NOW - 60_000 });
      const back = await render();
      expect(back).toContain('<title>WhatsApp health: AVAILABLE</title>');
      expect(back).not.toContain('Monitoring impaired');
    } finally {
      await store.close();
    }
  });

  // GET /health-report gives the round (when it started, completed, how far it got); the page said
  // nothing of it, so a sweep that had stopped running left every state looking as fresh as ever.
  it('the sweep as GET /health-report gives it: none yet, the last one completed and how long ago, or one in progress and its last progress', async () => {
    const store = await openStore(`file:${dir}-sweep`);
    try {
      for (const e of statusFixture(3, NOW).entities) await store.put(ENTITY_PREFIX + e.fingerprint, e);
      const sweepLine = async () => /<p id="sweep">(.*?)<\/p>/.exec(await statusPageHtml(store, { now: NOW, refreshSeconds: 0 }))?.[1];
      expect(await sweepLine()).toBe('No sweep has run yet.');
      const done: SweepRound = { id: 'r1', startedAt: NOW - 3 * 3_600_000 - 60_000, completedAt: NOW - 3 * 3_600_000, checked: 3, total: 3, updatedAt: NOW - 3 * 3_600_000 };
      await store.put(ROUND_KEY, done);
      expect(await sweepLine()).toBe('Last sweep completed 2026-12-01 09:00 UTC, 3 h ago: 3 of 3 targets checked.');
      await store.put(ROUND_KEY, { id: 'r2', startedAt: NOW - 600_000, checked: 1, total: 3, updatedAt: NOW - 300_000 } satisfies SweepRound);
      expect(await sweepLine()).toBe('Sweep in progress since 2026-12-01 11:50 UTC: 1 of 3 targets checked, last progress 5 min ago.');
    } finally {
      await store.close();
      rmSync(`${dir}-sweep`, { recursive: true, force: true });
    }
  });

  // GET /health-report gives the push receipts' counts and the WABAs receipts named that nothing
  // watches (not alerted: a WABA left out of the watch list); the page said nothing of either.
  it('the push receipts as GET /health-report gives them: every count, and the WABAs receipts named that nothing watches (escaped), saying when more are kept', async () => {
    const store = await openStore(`file:${dir}-receipts`);
    try {
      const section = async () => /<section id="receipts">(.*?)<\/section>/.exec(await statusPageHtml(store, { now: NOW, refreshSeconds: 0 }))?.[1];
      expect(await section()).toBe('<h2>Push receipts</h2><p class="muted">None received yet.</p>');
      await store.put(STATS_KEY, { received: 9, processed: 4, duplicates: 2, invalid: 1, unknown: 0, unknownWaba: 2 });
      await store.put(`${UNKNOWN_WABA_PREFIX}111`, { WabaId: '111', LastAt: '2026-12-01T10:00:00.000Z', Receipt: {} });
      await store.put(`${UNKNOWN_WABA_PREFIX}<b>`, { WabaId: '<b>', LastAt: '2026-12-01T11:00:00.000Z', Receipt: {} });
      const html = (await section())!;
      expect(html).toContain('<p id="receipt-counts">9 received: 4 processed · 2 duplicates · 1 invalid · 0 unknown · 2 unknownWaba · 0 removed.</p>');
      // none refused: no line (a record without lookUpRefused, as an earlier version wrote, reads 0)
      expect(html).not.toContain('lookups-refused');
      expect(html).toContain('<p id="unknown-wabas">Named by receipts, watched by nothing (not alerted): WABA 111 (last 2026-12-01 10:00 UTC), WABA &lt;b&gt; (last 2026-12-01 11:00 UTC).</p>');
      await store.put(STATS_KEY, { received: 9, processed: 4, duplicates: 2, invalid: 1, unknown: 0, unknownWaba: 2, lookUpRefused: 3 });
      expect(await section()).toContain(
        `<p class="err" id="lookups-refused">3 WABA look-ups refused by CAMS for the function's own credentials or grant (lookUpRefused): grant cams:QueryChatappBindWaba to the cams-events role; their receipts wait as unknownWaba until it is.</p>`,
      );
      for (let i = 0; i < 100; i++) await store.put(`${UNKNOWN_WABA_PREFIX}${500 + i}`, { WabaId: String(500 + i), LastAt: '2026-12-01T10:00:00.000Z', Receipt: {} });
      expect(await section()).toMatch(/WABA 598 \(last 2026-12-01 10:00 UTC\) and more the page does not list\.<\/p>$/);
    } finally {
      await store.close();
      rmSync(`${dir}-receipts`, { recursive: true, force: true });
    }
  });
});
