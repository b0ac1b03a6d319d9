import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../shared/store/index.ts';
import { findOnPath, startRedisServer, type RedisServer } from './redis-server.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

const redisBin = findOnPath('redis-server');

describe.skipIf(!redisBin)('redis store while redis is unreachable (real redis-server behind a TCP proxy)', () => {
  let server: RedisServer;
  let proxy: TcpProxy;
  beforeAll(async () => {
    server = await startRedisServer(redisBin!);
    proxy = await startTcpProxy(server.port);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  // Default timeouts (connect 3 s, command 5 s): a failed command must come back within the connect
  // bound, not wait for a reply that will never come or for redis to return.
  it.each(['reset', 'blackhole'] as const)('%s: every command fails with UNAVAILABLE within 4.5 s, then works again once redis is back', async (mode) => {
    const store = await openStore(`redis://127.0.0.1:${proxy.port}?namespace=outage-${randomBytes(3).toString('hex')}:`);
    try {
      await store.put('k', 1);
      proxy.cut(mode);
      for (let i = 0; i < 3; i++) {
        const outcome = await Promise.race([
          store.put('k', 2).then(() => 'written', (e: unknown) => e),
          new Promise((r) => setTimeout(() => r('still waiting after 4.5 s'), 4_500)),
        ]);
        expect(outcome).toMatchObject({ name: 'StoreError', code: 'UNAVAILABLE' });
      }
      proxy.restore();
      await store.put('k', 3);
      expect((await store.get('k'))?.value).toBe(3);
    } finally {
      proxy.restore();
      await store.close();
    }
  }, 40_000);
});
