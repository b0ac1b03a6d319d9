// A deliverer whose store turns slow (a redis-server blocked by DEBUG SLEEP, each command still
// answered within the client's 5 s command timeout) between its lease check and its send: by the
// time the send goes out, the delivery lease may have run out and a second deliverer taken it over
// and sent the same notification. The lease must be checked right before the send, not before the
// store calls that precede it (the sink's rate window), so the notification goes out exactly once.
import { createConnection, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertNotification, AlertSink } from '../../../shared/alerts/model.ts';
import { deliverOwed } from '../../../shared/monitor/dispatch.ts';
import { observeMonitorSubject } from '../../../shared/monitor/monitor-alert.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';

const redisBin = findOnPath('redis-server');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Blocks the server for `s` seconds (DEBUG SLEEP), sent on a connection of its own; not awaited. */
function blockServer(raw: Socket, s: number): void {
  const args = ['DEBUG', 'SLEEP', s.toFixed(3)];
  raw.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
}

/**
 * The store as one deliverer process sees it: the server is blocked before each of its calls until
 * `burnUntilMs` after it took the delivery lease (so its lease has a little over one send's time
 * left when it next checks it), and before each read and write of the sink's rate window (4.5 s,
 * under the 5 s command timeout: slow, not down).
 */
function slowedStore(store: Store, raw: Socket, burnUntilMs: number): { store: Store; leaseAt: () => number } {
  let leaseAt = 0;
  const slow = async (key: string) => {
    const since = leaseAt === 0 ? 0 : Date.now() - leaseAt;
    const s = key.startsWith('monitor/sink/') ? 4.5 : leaseAt > 0 && since < burnUntilMs ? Math.min(4.5, (burnUntilMs - since) / 1000) : 0;
    if (s <= 0) return;
    blockServer(raw, s);
    await sleep(20); // the server takes the DEBUG SLEEP before the call that follows
  };
  const wrapped: Store = {
    get: async (key) => (await slow(key), store.get(key)),
    put: async (key, value, opts) => (await slow(key), store.put(key, value, opts)),
    delete: async (key, opts) => (await slow(key), store.delete(key, opts)),
    list: async (prefix, opts) => (await slow(prefix), store.list(prefix, opts)),
    acquireLease: async (name, ttl, owner) => {
      const lease = await store.acquireLease(name, ttl, owner);
      if (lease && leaseAt === 0) leaseAt = Date.now();
      return lease;
    },
    reserveSlot: (key, i, w) => store.reserveSlot(key, i, w),
    close: () => store.close(),
  };
  return { store: wrapped, leaseAt: () => leaseAt };
}

describe.skipIf(!redisBin)('the deliverer while redis is slow', () => {
  let server: RedisServer;
  let raw: Socket;
  beforeAll(async () => {
    server = await startRedisServer(redisBin!, undefined, ['--enable-debug-command', 'yes']);
    raw = createConnection({ host: '127.0.0.1', port: server.port });
    raw.on('data', () => undefined);
    await new Promise((r) => raw.once('connect', r));
  });
  afterAll(async () => {
    raw?.destroy();
    await server?.stop();
  });

  it('a lease that runs out while the sink rate window is read and written is checked again before the send: one message', async () => {
    const url = `${server.url}?namespace=slow-deliver:`;
    const [a, b] = [await openStore(url), await openStore(url)];
    const sent: Array<{ by: string; id: string }> = [];
    const sink = (by: string): AlertSink => ({
      name: 'test',
      perMinute: 100,
      timeoutMs: 1000,
      send: async (n: AlertNotification) => {
        sent.push({ by, id: n.id });
        await sleep(200);
      },
    });
    try {
      await observeMonitorSubject(a, { nodeType: 'monitor', entityType: 'OnboardingFailed', ref: 'slow-store' }, 'ERROR', [], {
        now: Date.now(),
        round: 'slow-1',
        policy: { minConsecutive: 1, repeatIntervalMs: Number.MAX_SAFE_INTEGER },
      });
      // The lease is 30 s (3 × one send's budget of 1 s + 5 s, at least 30 s); one send's budget is 6 s.
      // A burns 22.5 s in slow calls, so its check before the send finds 7.5 s left and does not renew;
      // the rate window then takes 9 s more, and A's lease has run out when its send would start.
      const slowA = slowedStore(a, raw, 22_500);
      const first = deliverOwed(slowA.store, [sink('A')], Date.now, () => undefined);
      while (slowA.leaseAt() === 0) await sleep(10);
      // B, another instance's deliverer, tries once A's lease has run out (its commands wait
      // behind the server's sleep, as A's do).
      await sleep(slowA.leaseAt() + 30_300 - Date.now());
      const second = deliverOwed(b, [sink('B')], Date.now, () => undefined);
      const reports = await Promise.all([first, second]);
      expect(sent.map((s) => s.id), JSON.stringify({ sent, reports })).toHaveLength(1);
      // Whoever sent it struck it off: nothing is owed any more, and a later flush sends nothing.
      await deliverOwed(b, [sink('B')], Date.now, () => undefined);
      expect(sent).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  }, 90_000);
});
