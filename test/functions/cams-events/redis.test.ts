import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { sinksFromEnv } from '../../../shared/alerts/sinks/index.ts';
import { loadMonitorConfig } from '../../../shared/config/monitor.ts';
import { OWED_PREFIX } from '../../../shared/monitor/entity-store.ts';
import { registerWatchTarget } from '../../../shared/monitor/targets.ts';
import { camsEventsHandler } from '../../../shared/services/cams-events.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { fcContext, fixture } from '../../support/events.ts';
import { onboardThroughFunctions, setHealth } from '../../support/monitor.ts';
import { startReceivers, type Receivers } from '../../support/receivers/index.ts';
import { sandboxForFunctions } from '../../support/sandbox-env.ts';
import { findOnPath, startRedisServer } from '../../shared/store/redis-server.ts';

// The deployed configuration: STORE_URL=redis://…, and a redis that goes away and comes back.
const redisBin = findOnPath('redis-server');
const TOKEN = 'redis-receipt-token-0123456789';
const WABA = '299399000500';
const PHONE = '8613800000500';
let sandbox: RunningSandbox;
let receivers: Receivers;

beforeAll(async () => {
  process.env['LOG_LEVEL'] = 'silent';
  sandbox = await sandboxForFunctions();
  receivers = await startReceivers({ kinds: ['webhook'] });
});
afterAll(async () => {
  delete process.env['LOG_LEVEL'];
  await receivers?.close();
  await sandbox?.close();
});

function httpPush(body: unknown): Buffer {
  const e = fixture<Record<string, unknown> & { requestContext: { http: Record<string, string> } }>('fc3-http-event.json');
  Object.assign(e, { rawPath: '/cams/receipts', headers: { 'Content-Type': 'application/json' }, queryParameters: { token: TOKEN }, body: JSON.stringify(body) });
  Object.assign(e.requestContext.http, { method: 'POST', path: '/cams/receipts' });
  return Buffer.from(JSON.stringify(e));
}

describe.skipIf(!redisBin)('cams-events on redis', () => {
  it('the store goes away: 503 StoreUnavailable (CAMS retries), nothing crashes; it comes back: the retry alerts once', async () => {
    const redis = await startRedisServer(redisBin!);
    let again: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    const storeUrl = `${redis.url}?namespace=receipts-${process.pid}:`;
    const store = await openStore(storeUrl);
    try {
      const space = await onboardThroughFunctions(WABA, [{ cc: '86', phone: '13800000500' }]);
      await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: PHONE }, 'test');
      await setHealth(sandbox, { CustSpaceId: space, NodeType: 'phone', PhoneNumber: PHONE, CanSendMessage: 'BLOCKED' });
      const key = DEFAULT_SANDBOX_KEYS[0]!;
      const ctx = fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;
      const handler = camsEventsHandler({ env: { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, CAMS_RECEIPT_TOKEN: TOKEN, ...receivers.env }, write: () => {} });
      const receipt = [{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'BLOCKED' }];
      // Warm: the instance has its connection before redis goes away (a receipt for a WABA nothing watches).
      expect(((await handler(httpPush([{ Type: 'wabaAccountUpdate', WabaId: '999000111', Status: 'BLOCKED' }]), ctx)) as { statusCode: number }).statusCode).toBe(200);

      await redis.stop();
      const down = (await handler(httpPush(receipt), ctx)) as { statusCode: number; headers: Record<string, string>; body: string };
      expect(down.statusCode).toBe(503);
      expect(JSON.parse(down.body)).toMatchObject({ Code: 'StoreUnavailable' });
      expect(down.headers['retry-after']).toBeDefined();
      expect(receivers.received.webhook).toHaveLength(0);

      again = await startRedisServer(redisBin!, redis.port);
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        // The data did not survive (--save ''): the watch list is written again, as an operator would.
        await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: PHONE }, 'test').catch(() => undefined);
        status = ((await handler(httpPush(receipt), ctx)) as { statusCode: number }).statusCode;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      expect(receivers.received.webhook).toHaveLength(1);
      expect(receivers.received.webhook[0]!.text).toContain(PHONE);
    } finally {
      await store.close();
      await again?.stop();
      await redis.stop().catch(() => undefined);
    }
  }, 60_000);

  it('a push with two receipts for one number (quality RED, then GREEN) retried: both duplicates, nothing sent again', async () => {
    const redis = await startRedisServer(redisBin!);
    const storeUrl = `${redis.url}?namespace=receipts-seq-${process.pid}:`;
    const store = await openStore(storeUrl);
    const phone = '8613800000502';
    try {
      const space = await onboardThroughFunctions('299399000502', [{ cc: '86', phone: '13800000502' }]);
      await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'phone', WabaId: '299399000502', PhoneNumber: phone }, 'test');
      const key = DEFAULT_SANDBOX_KEYS[0]!;
      const ctx = fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;
      const handler = camsEventsHandler({ env: { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, CAMS_RECEIPT_TOKEN: TOKEN, ...receivers.env }, write: () => {} });
      const push = ['RED', 'GREEN'].map((Status) => ({ Type: 'phoneQualityUpdate', WabaId: '299399000502', PhoneNumber: phone, Status }));
      const outcomes = async () => {
        const r = (await handler(httpPush(push), ctx)) as { statusCode: number; body: string };
        expect(r.statusCode).toBe(200);
        return (JSON.parse(r.body) as { Data: { Results: Array<{ Outcome: string }> } }).Data.Results.map((x) => x.Outcome);
      };
      const sentAbout = () => receivers.received.webhook.filter((m) => m.text.includes(phone)).length;
      expect(await outcomes()).toEqual(['processed', 'processed']);
      const sent = sentAbout();
      expect(sent).toBeGreaterThan(0);
      expect(await outcomes()).toEqual(['duplicate', 'duplicate']);
      expect(sentAbout()).toBe(sent);
    } finally {
      await store.close();
      await redis.stop().catch(() => undefined);
    }
  }, 60_000);

  it("redis is killed right after a receipt's alert is recorded, before it is marked owed: CAMS's retry, once redis is back, sends it", async () => {
    // A redis that keeps what it acknowledged (AOF, fsync per write), as a managed one does across a restart.
    const dir = mkdtempSync(join(tmpdir(), 'receipts-aof-'));
    const persist = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    const redis = await startRedisServer(redisBin!, undefined, persist);
    let again: Awaited<ReturnType<typeof startRedisServer>> | undefined;
    const storeUrl = `${redis.url}?namespace=receipts-aof-${process.pid}:`;
    const store = await openStore(storeUrl);
    const phone = '8613800000501';
    try {
      const space = await onboardThroughFunctions('299399000501', [{ cc: '86', phone: '13800000501' }]);
      const target = { CustSpaceId: space, NodeType: 'phone' as const, WabaId: '299399000501', PhoneNumber: phone };
      await registerWatchTarget(store, target, 'test');
      await setHealth(sandbox, { CustSpaceId: space, NodeType: 'phone', PhoneNumber: phone, CanSendMessage: 'BLOCKED' });
      // redis goes away between the entity's write (its alert owed in it) and the owed index's marker.
      let killed = false;
      const dying = new Proxy(store, {
        get(t, prop, recv) {
          if (prop === 'put') {
            return async (k: string, ...rest: unknown[]) => {
              if (!killed && k.startsWith(OWED_PREFIX)) {
                killed = true;
                await redis.stop();
              }
              return (t.put as (...a: unknown[]) => unknown)(k, ...rest);
            };
          }
          const v = Reflect.get(t, prop, recv);
          return typeof v === 'function' ? v.bind(t) : v;
        },
      }) as Store;
      const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, CAMS_RECEIPT_TOKEN: TOKEN, ...receivers.env };
      const handler = camsEventsHandler({ env, write: () => {}, runtime: async () => ({ config: loadMonitorConfig(env), store: dying, sinks: sinksFromEnv(env) }) });
      const key = DEFAULT_SANDBOX_KEYS[0]!;
      const ctx = fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;
      const receipt = [{ Type: 'wabaAccountUpdate', WabaId: '299399000501', PhoneNumber: phone, Status: 'BLOCKED' }];
      const sentAbout = () => receivers.received.webhook.filter((m) => m.text.includes(phone)).length;

      const down = (await handler(httpPush(receipt), ctx)) as { statusCode: number };
      expect(killed).toBe(true);
      expect(down.statusCode).toBe(503);
      expect(sentAbout()).toBe(0);

      again = await startRedisServer(redisBin!, redis.port, persist);
      // CAMS retries the push it got a 503 for; no sweep runs meanwhile.
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = ((await handler(httpPush(receipt), ctx)) as { statusCode: number }).statusCode;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      expect(sentAbout()).toBe(1);
    } finally {
      await store.close();
      await again?.stop();
      await redis.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
