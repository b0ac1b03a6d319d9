/**
 * The account's budget across processes while redis is frozen (SIGSTOP for 3 s, as a stalled or
 * failing-over server is): 3 instances of interactive demand above 10 QPS. The fallback's own
 * limits are budget.test.ts's; this is what a real outage does to the instances' schedules: no
 * caller is admitted past its latest start, and once every instance has found the store back, the
 * sum is within the limit in every sliding second again (fallback slots granted during the outage
 * ran beside the store's whole budget for seconds after it was back: 13 calls in a second).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intervalForQps } from '../../../../shared/cams/limiter.ts';
import { findOnPath, freePort } from '../../store/redis-server.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const WORKER = 'test/shared/cams/budget/fixtures/acquire-worker.ts';
const LIMIT = 10; // ChatappBindWaba
const WORKERS = 3;
const DURATION_MS = 9000;
const redisBin = findOnPath('redis-server');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Report {
  admitted: number[];
  pastLatestStart: number;
  changes: Array<{ at: number; level: string }>;
}

describe.skipIf(!redisBin)('one CAMS budget for 3 processes while redis is frozen for 3 s', () => {
  let redis: ChildProcess;
  let url: string;
  let dir: string;
  beforeAll(async () => {
    const port = await freePort();
    redis = spawn(redisBin!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    url = `redis://127.0.0.1:${port}/0?namespace=outage:`;
    dir = await mkdtemp(join(tmpdir(), 'budget-outage-'));
    await sleep(300);
  });
  afterAll(async () => {
    redis?.kill('SIGCONT');
    redis?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('no caller admitted past its latest start; within the limit in every second once every instance has found the store back', async () => {
    const start = Date.now() + 5000;
    const runs = Array.from({ length: WORKERS }, (_, i) => {
      const out = join(dir, `w${i}.json`);
      const env = { PATH: process.env.PATH ?? '', STORE_URL: url, WORKER_START: String(start), WORKER_DURATION_MS: String(DURATION_MS), WORKER_LOOPS: '5', WORKER_OUT: out };
      return new Promise<Report>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', WORKER], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('exit', async (code) => (code === 0 ? resolve(JSON.parse(await readFile(out, 'utf8')) as Report) : reject(new Error(`worker ${i} exited ${code}: ${err.slice(-2000)}`))));
      });
    });
    await sleep(start + 2500 - Date.now());
    redis.kill('SIGSTOP');
    await sleep(3000);
    redis.kill('SIGCONT');
    const reports = await Promise.all(runs);

    expect(reports.map((r) => r.pastLatestStart).filter((ms) => ms > 5)).toEqual([]);
    // The outage was seen (else this tested nothing), and every instance that saw it found the store back.
    expect(reports.some((r) => r.changes.some((c) => c.level === 'warn'))).toBe(true);
    for (const r of reports) expect(r.changes.at(-1)?.level ?? 'info').toBe('info');
    const allBack = Math.max(...reports.flatMap((r) => r.changes.filter((c) => c.level === 'info').map((c) => c.at)));
    const after = reports.flatMap((r) => r.admitted).filter((t) => t >= allBack).sort((a, b) => a - b);
    expect(after.length).toBeGreaterThan(LIMIT);
    let most = 0;
    for (let i = 0, j = 0; i < after.length; i++) {
      while (after[i]! - after[j]! >= 1000) j++;
      most = Math.max(most, i - j + 1);
    }
    expect({ most, ceiling: 1000 / intervalForQps(LIMIT) }).toEqual({ most: Math.min(most, LIMIT), ceiling: 1000 / intervalForQps(LIMIT) });
  }, 60_000);
});
