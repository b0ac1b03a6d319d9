/**
 * The status page at the scale the README promises (10,000 watched nodes, 90 days of history each)
 * within the heap a 256 MB function has: rendered in a process of its own, on a real redis-server,
 * with a 64 MB old space. Holding every history record at once took more than 96 MB. With them,
 * 2,000 silences in force and 5,000 that ended in the last 7 days: every one in force is listed,
 * the 20 that ended last, and a word that GET /silences lists the rest.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusFixture } from '../../../bench/lib/status-fixture.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/entity-store.ts';
import { ENDED_SILENCES_LISTED } from '../../../shared/services/status-page.ts';
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
