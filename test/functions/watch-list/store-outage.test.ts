import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { handler } from '../../../functions/watch-list/handler.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';
import { CALLER_KEY } from '../../support/sandbox-env.ts';
import { findOnPath, freePort, rawCommand, startRedisServer, type RedisServer } from '../../shared/store/redis-server.ts';

// The watch-list function on redis (the deployed store) that goes away and comes back: 503
// StoreUnavailable while it is gone, no crash, and the same instance works again once it is back.
const redisBin = findOnPath('redis-server');
let redis: RedisServer | undefined;
let port: number;
let n = 0;

beforeAll(async () => {
  if (!redisBin) return;
  port = await freePort();
  redis = await startRedisServer(redisBin, port);
  Object.assign(process.env, { API_KEYS: `${CALLER_KEY.accessKeyId}:${CALLER_KEY.accessKeySecret}`, STORE_URL: redis.url, LOG_LEVEL: 'silent' });
});
afterAll(async () => {
  delete process.env['STORE_URL'];
  delete process.env['LOG_LEVEL'];
  await redis?.stop();
});

async function post(targets: unknown[]) {
  const req = signRouteRequest({ method: 'POST', path: '/watch-list', body: { Targets: targets } }, 'h', CALLER_KEY, { nonce: `outage-${process.pid}-${++n}` });
  return parseReply(await handler(httpEvent(req, 'fc-http'), fcContext() as never));
}

describe.skipIf(!redisBin)('watch-list when the store goes away and comes back', () => {
  it('200, then 503 StoreUnavailable with Retry-After, then 200 again from the same instance', async () => {
    const target = { CustSpaceId: 'C12345678901234', NodeType: 'phone', PhoneNumber: '8613800000000' };
    expect((await post([target])).statusCode).toBe(200);
    await redis!.stop();
    const down = await post([target]);
    expect(down.statusCode).toBe(503);
    expect(down.body.Code).toBe('StoreUnavailable');
    expect(down.headers['retry-after']).toBeDefined();
    redis = await startRedisServer(redisBin!, port);
    let back = await post([target]);
    for (let i = 0; i < 20 && back.statusCode !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      back = await post([target]);
    }
    expect(back.statusCode).toBe(200);
    // A fresh redis (no persistence): the entry is added again, not found.
    expect(back.body.Data).toMatchObject({ Added: 1 });
  }, 60_000);
});

// A redis that is up but refuses writes for now is an outage too (503 with Retry-After, as for a
// lost connection), not a 500 InternalError: full under `maxmemory` with noeviction, or a replica
// after a failover (READONLY) until the address points at the new master again.
describe.skipIf(!redisBin)('watch-list when redis answers but cannot write', () => {
  let master: RedisServer | undefined;
  const cli = (...args: string[]) => rawCommand(port, ...args);
  afterAll(async () => {
    await master?.stop();
  });

  it.each(['full (maxmemory, noeviction)', 'a read-only replica'] as const)('%s: 503 StoreUnavailable with Retry-After, then 200 once it takes writes again', async (how) => {
    const target = { CustSpaceId: 'C12345678901235', NodeType: 'phone', PhoneNumber: `86138${how.length}00001` };
    expect((await post([target])).statusCode).toBe(200);
    if (how === 'a read-only replica') {
      master = await startRedisServer(redisBin!);
      expect(await cli('REPLICAOF', '127.0.0.1', String(master.port))).toBe('+OK\r\n');
    } else {
      expect(await cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')).toBe('+OK\r\n');
      expect(await cli('CONFIG', 'SET', 'maxmemory', '1')).toBe('+OK\r\n');
    }
    try {
      const refused = await post([{ ...target, PhoneNumber: `86139${how.length}00002` }]);
      expect(refused.statusCode).toBe(503);
      expect(refused.body.Code).toBe('StoreUnavailable');
      expect(refused.headers['retry-after']).toBeDefined();
      expect(JSON.stringify(refused.body)).not.toMatch(/OOM|READONLY|maxmemory|redis/i);
    } finally {
      await cli(...(how === 'a read-only replica' ? ['REPLICAOF', 'NO', 'ONE'] : ['CONFIG', 'SET', 'maxmemory', '0']));
    }
    expect((await post([{ ...target, PhoneNumber: `86139${how.length}00002` }])).statusCode).toBe(200);
  }, 60_000);
});
