import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failInCIWithout } from '../../support/ci.ts';
import { until } from '../../support/until.ts';
import { connectionsReceived, findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { BindWabaParams } from '../../../functions/bind-waba/schema.ts';
import { preconnectCams } from '../../../shared/http-fn/cams.ts';
import { httpFunction } from '../../../shared/http-fn/http-function.ts';
import { bindWaba } from '../../../shared/services/cams-operations.ts';
import { ok, startScriptedCams, TEST_KEY, type ScriptedCams } from '../cams/scripted-cams.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';

// The HTTP stack opens its connections before anything else (openConnections): the store's, which the
// nonce and the CAMS budget then use, and CAMS's, which the call then goes out on, so their connects
// and handshakes run beside decoding and the caller's signature. This is bind-waba as
// functions/bind-waba/handler.ts builds it, with its environment passed in.

const CALLER = { accessKeyId: 'preconnect-caller', accessKeySecret: 'preconnect-caller-secret' };
let cams: ScriptedCams;
const redisBin = findOnPath('redis-server');
let redis: RedisServer | undefined;
let raw: Redis | undefined;

beforeAll(async () => {
  cams = await startScriptedCams(() => ok({ CustSpaceId: 'C0202939293001', WabaId: '293982001' }));
  if (redisBin) {
    redis = await startRedisServer(redisBin);
    raw = new Redis(redis.port, '127.0.0.1');
  }
});
afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
  await cams?.close();
});

function bindWabaFunction(env: Record<string, string>, lines: string[] = []) {
  return httpFunction({ name: 'bind-waba', routes: [{ method: 'POST', path: '/waba/bind' }], schema: BindWabaParams, service: bindWaba, preconnect: preconnectCams, env, write: (l) => lines.push(l) });
}

const ENV = () => ({ API_KEYS: `${CALLER.accessKeyId}:${CALLER.accessKeySecret}`, CAMS_ENDPOINT: cams.url });
/** The function role's STS credentials, as FC hands them to an invocation. */
const CONTEXT = { ...fcContext(), credentials: { ...TEST_KEY, securityToken: '' } } as never;

function bindEvent(key: { accessKeyId: string; accessKeySecret: string }): Buffer {
  return httpEvent(signRouteRequest({ method: 'POST', path: '/waba/bind', body: { WabaId: '293982001' } }, 'h.example', key), 'fc-http');
}


describe('the connections of an HTTP function', () => {
  failInCIWithout(redisBin, 'needs redis-server on PATH when CI is set (CI installs it)', 'redis-server not found on PATH, and CI is set: the store connection cannot be checked');

  it("CAMS's is opened before the caller's signature is checked, and the call then goes out on it", async () => {
    const handler = bindWabaFunction(ENV());
    // A caller CAMS never hears of: refused by our own signature check, after the connection was started.
    const refused = parseReply(await handler(bindEvent({ accessKeyId: 'stranger', accessKeySecret: 'x' }), CONTEXT));
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toMatchObject({ Code: 'InvalidAccessKeyId.NotFound' });
    await until(() => cams.connections() === 1);
    expect(cams.calls).toHaveLength(0);

    const bound = parseReply(await handler(bindEvent(CALLER), CONTEXT));
    expect(bound.statusCode, JSON.stringify(bound.body)).toBe(200);
    expect(cams.calls.map((c) => c.action)).toEqual(['ChatappBindWaba']);
    // the same connection: preconnecting added none
    expect(cams.connections()).toBe(1);
  });

  it.skipIf(!redisBin)("the store's is opened before the caller's signature is checked; the nonce and the budget then use it", async () => {
    const storeConnections = () => connectionsReceived(raw!);
    const handler = bindWabaFunction({ ...ENV(), STORE_URL: `${redis!.url}?namespace=connections-${randomBytes(4).toString('hex')}:` });
    const before = await storeConnections();
    const refused = parseReply(await handler(bindEvent({ accessKeyId: 'stranger', accessKeySecret: 'x' }), CONTEXT));
    expect(refused.statusCode).toBe(401);
    while ((await storeConnections()) === before) await new Promise((r) => setImmediate(r));

    const bound = parseReply(await handler(bindEvent(CALLER), CONTEXT));
    expect(bound.statusCode, JSON.stringify(bound.body)).toBe(200);
    // the nonce was stored and the budget drawn on, over that one connection
    expect(await raw!.keys('connections-*')).toEqual(expect.arrayContaining([expect.stringMatching(/acs3-nonce/)]));
    expect(await storeConnections()).toBe(before + 1);
  });

  it('a function whose service never calls CAMS (no preconnect: the status page, the watch list, reports) opens no connection to it', async () => {
    const socketsOpenedBy = async (preconnect?: typeof preconnectCams): Promise<number> => {
      const handler = httpFunction({ name: 'no-cams', routes: [{ method: 'POST', path: '/waba/bind' }], schema: BindWabaParams, service: async () => ({}), preconnect, env: ENV(), write: () => {} });
      let opened = 0;
      const count = () => (opened += 1);
      subscribe('net.client.socket', count);
      try {
        expect((await handler(bindEvent(CALLER), CONTEXT)).statusCode).toBe(200);
      } finally {
        unsubscribe('net.client.socket', count);
      }
      return opened;
    };
    expect(await socketsOpenedBy()).toBe(0);
    // the same function told to preconnect does (on a fresh origin: none idle there)
    const other = await startScriptedCams(() => ok());
    try {
      expect(await socketsOpenedBy((config) => preconnectCams({ ...config, camsEndpoint: other.url }))).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('an endpoint that cannot be read is left to the configuration check: the same answer and log line as before', async () => {
    const lines: string[] = [];
    const handler = bindWabaFunction({ ...ENV(), CAMS_ENDPOINT: 'not a url' }, lines);
    const res = parseReply(await handler(bindEvent(CALLER), CONTEXT));
    expect(res.statusCode).toBe(500);
    expect(res.body).toMatchObject({ Code: 'ServiceMisconfigured' });
    expect(lines).toHaveLength(1);
    // the invocation was stamped and logged as any other: the failed preconnect did not cut it short
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', requestId: fcContext()['requestId'], code: 'ServiceMisconfigured', error: { message: expect.stringContaining('CAMS_ENDPOINT') } });
  });
});
