import { afterAll, describe, expect, it } from 'vitest';
import { handler } from '../../../functions/status-page/handler.ts';
import { fcContext, httpEvent } from '../../support/events.ts';
import { findOnPath, freePort, startRedisServer, type RedisServer } from '../../shared/store/redis-server.ts';

const bin = findOnPath('redis-server');
let redis: RedisServer | undefined;

afterAll(async () => {
  await redis?.stop();
  for (const k of ['STORE_URL', 'STATUS_PAGE_PUBLIC']) delete process.env[k];
});

const get = async () => handler(httpEvent({ method: 'GET', path: '/status', query: {}, headers: {}, body: '' } as never, 'fc-http'), fcContext() as never);

describe.skipIf(!bin && process.env['CI'] !== 'true')('GET /status with its store going away and coming back (real redis-server)', () => {
  it('answers 503 StoreUnavailable as an HTML page while the store is down, then the page once it is back', async () => {
    const port = await freePort();
    process.env['STORE_URL'] = `redis://127.0.0.1:${port}`;
    process.env['STATUS_PAGE_PUBLIC'] = 'true';
    const down = await get();
    expect(down.statusCode).toBe(503);
    expect(down.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(down.body).toContain('StoreUnavailable');
    expect(down.headers['retry-after']).toBe('5');

    redis = await startRedisServer(bin!, port);
    const up = await get();
    expect(up.statusCode).toBe(200);
    expect(up.body).toContain('No node has been checked yet.');

    await redis.stop();
    expect((await get()).statusCode).toBe(503);
    redis = await startRedisServer(bin!, port);
    let back = await get();
    for (let i = 0; i < 20 && back.statusCode !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      back = await get();
    }
    expect(back.statusCode).toBe(200);
  }, 60_000);
});
