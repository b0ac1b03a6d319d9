// Two deliverer processes race on the same owed notification, round after round, against a real
// loopback webhook receiver: the receiver must see each notification exactly once. Run on the file
// store (cross-process file locks) and on a real redis-server.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeMonitorSubject } from '../../../shared/monitor/monitor-alert.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/receivers/index.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';

const ROUNDS = 50;
const redisBin = findOnPath('redis-server');

interface Deliverer {
  ask(line: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

async function startDeliverer(env: NodeJS.ProcessEnv): Promise<Deliverer> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/deliver-child.ts'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines: Interface = createInterface({ input: child.stdout });
  const waiting: Array<(v: Record<string, unknown>) => void> = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  lines.on('line', (l) => waiting.shift()?.(JSON.parse(l) as Record<string, unknown>));
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      waiting.push(resolve);
      void exited.then(() => reject(new Error(`deliverer exited: ${stderr}`)));
    });
  const ready = await next();
  if (!ready['ready']) throw new Error(`deliverer did not start: ${JSON.stringify(ready)} ${stderr}`);
  return {
    ask: (line) => {
      const answer = next();
      child.stdin.write(line + '\n');
      return answer;
    },
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

function raceSuite(kind: string, setup: () => Promise<{ url: string; cleanup: () => Promise<void> }>) {
  describe(`two deliverer processes on the ${kind} store`, () => {
    let receiver: WebhookReceiver;
    let store: Store;
    let deliverers: Deliverer[] = [];
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      receiver = await startWebhookReceiver();
      const s = await setup();
      cleanup = s.cleanup;
      store = await openStore(s.url);
      // Each process with only the health monitor's environment: the store and its one sink.
      const env = { PATH: process.env['PATH'], STORE_URL: s.url, ALERT_WEBHOOK_URL: receiver.url, ALERT_WEBHOOK_SECRET: receiver.secret, LOG_LEVEL: 'silent' };
      deliverers = await Promise.all([startDeliverer(env), startDeliverer(env)]);
    }, 60_000);
    afterAll(async () => {
      await Promise.all(deliverers.map((d) => d.stop()));
      await store?.close();
      await receiver?.close();
      await cleanup?.();
    });

    it(`${ROUNDS} rounds: each owed notification reaches the receiver exactly once`, async () => {
      const start = Date.now();
      for (let round = 0; round < ROUNDS; round++) {
        // One new owed alert, recorded as onboarding records it: without knowing the sinks.
        await observeMonitorSubject(store, { nodeType: 'monitor', entityType: 'OnboardingFailed', ref: `race-${kind}-${round}` }, 'ERROR', [], {
          now: start,
          round: `race-${round}`,
          policy: { minConsecutive: 1, repeatIntervalMs: Number.MAX_SAFE_INTEGER },
        });
        // Both deliver at once; the alert clock moves a minute a round so the sink's budget never defers.
        const clock = start + round * 61_000;
        const answers = await Promise.all(deliverers.map((d) => d.ask(`deliver ${clock}`)));
        expect(answers.filter((a) => a['error'])).toEqual([]);
        expect(answers.reduce((n, a) => n + Number(a['delivered']), 0)).toBe(1);
        expect(receiver.received).toHaveLength(round + 1);
      }
      const refs = receiver.received.map((m) => (m.body as { items: Array<{ subject: { ref: string } }> }).items.map((i) => i.subject.ref));
      expect(refs).toEqual(Array.from({ length: ROUNDS }, (_, i) => [`race-${kind}-${i}`]));
      expect(receiver.duplicates).toEqual([]);
      expect(receiver.rejected).toEqual([]);
      expect(receiver.requests).toBe(ROUNDS);
    }, 180_000);
  });
}

raceSuite('file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cams-fc-race-'));
  return { url: `file:${dir}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

if (redisBin) {
  let server: RedisServer | undefined;
  raceSuite('redis', async () => {
    server = await startRedisServer(redisBin);
    return { url: `${server.url}?namespace=race:`, cleanup: async () => server?.stop() };
  });
} else {
  describe.skip('two deliverer processes on the redis store — SKIPPED: redis-server not found on PATH', () => {
    it.skip('needs redis-server', () => {});
  });
}
