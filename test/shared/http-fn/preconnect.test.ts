import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { BindWabaParams } from '../../../functions/bind-waba/schema.ts';
import { httpFunction } from '../../../shared/http-fn/http-function.ts';
import { bindWaba } from '../../../shared/services/cams-operations.ts';
import { ok, startScriptedCams, TEST_KEY, type ScriptedCams } from '../cams/scripted-cams.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';

// The HTTP stack opens its CAMS connection before anything else (preconnectCams), so the connect and
// TLS handshake run beside decoding, the caller's signature and the nonce's store round trip. This is
// bind-waba as functions/bind-waba/handler.ts builds it, with its environment passed in.

const CALLER = { accessKeyId: 'preconnect-caller', accessKeySecret: 'preconnect-caller-secret' };
let cams: ScriptedCams;

beforeAll(async () => {
  cams = await startScriptedCams(() => ok({ CustSpaceId: 'C0202939293001', WabaId: '293982001' }));
});
afterAll(() => cams?.close());

function bindWabaFunction(env: Record<string, string>, lines: string[] = []) {
  return httpFunction({ name: 'bind-waba', routes: [{ method: 'POST', path: '/waba/bind' }], schema: BindWabaParams, service: bindWaba, env, write: (l) => lines.push(l) });
}

const ENV = () => ({ API_KEYS: `${CALLER.accessKeyId}:${CALLER.accessKeySecret}`, CAMS_ENDPOINT: cams.url });
/** The function role's STS credentials, as FC hands them to an invocation. */
const CONTEXT = { ...fcContext(), credentials: { ...TEST_KEY, securityToken: '' } } as never;

function bindEvent(key: { accessKeyId: string; accessKeySecret: string }): Buffer {
  return httpEvent(signRouteRequest({ method: 'POST', path: '/waba/bind', body: { WabaId: '293982001' } }, 'h.example', key), 'fc-http');
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

describe('the CAMS connection of an HTTP function', () => {
  it("is opened before the caller's signature is checked, and the call then goes out on it", async () => {
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
