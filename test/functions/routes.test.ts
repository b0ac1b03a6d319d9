import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signRouteRequest, type RouteRequest, type SignedRouteRequest } from '../../local/client/route-request.ts';
import { canonicalRequest, hmacSha256Hex, isSignableHeader, sha256Hex, stringToSign } from '../../shared/acs3/canonical.ts';
import type { RunningSandbox } from '../../local/sandbox/server.ts';
import { handler as addPhoneNumber } from '../../functions/add-phone-number/handler.ts';
import { handler as bindWaba } from '../../functions/bind-waba/handler.ts';
import { handler as getHealthStatus } from '../../functions/get-health-status/handler.ts';
import { handler as queryWaba } from '../../functions/query-waba/handler.ts';
import { fcContext, httpEvent, parseReply, type Trigger } from '../support/events.ts';
import { signedRepeatedQuery } from '../support/repeated-query.ts';
import { CALLER_KEY, sandboxControl, sandboxForFunctions } from '../support/sandbox-env.ts';

const HOST = 'cams-fc-dev.ap-southeast-1.fcapp.run';
type Handler = (event: unknown, context?: never) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;
let sandbox: RunningSandbox;
let nonce = 0;

async function call(handler: Handler, req: RouteRequest, trigger: Trigger = 'fc-http', opts: { key?: typeof CALLER_KEY; base64?: boolean; date?: Date; context?: Record<string, unknown> } = {}) {
  const signed = signRouteRequest(req, HOST, opts.key ?? CALLER_KEY, { nonce: `route-test-${process.pid}-${++nonce}`, ...(opts.date ? { date: opts.date } : {}) });
  return parseReply(await handler(httpEvent(signed, trigger, { base64: opts.base64 ?? false }), fcContext(opts.context ?? {}) as never));
}

beforeAll(async () => {
  sandbox = await sandboxForFunctions();
});
afterAll(async () => sandbox?.close());
beforeEach(async () => {
  await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
});

describe.each<Trigger>(['fc-http', 'api-gateway'])('every route through the %s event', (trigger) => {
  it('binds a WABA, queries it, adds a phone number and reads its health', async () => {
    const bound = await call(bindWaba as Handler, { method: 'POST', path: '/waba/bind', body: { WabaId: '200000000000001' } }, trigger);
    expect(bound.statusCode).toBe(200);
    expect(bound.body).toMatchObject({ Code: 'OK', Success: true, RequestId: fcContext()['requestId'] });
    expect(bound.body.CamsRequestId).toMatch(/^[0-9A-F-]{36}$/);
    const space = bound.body.Data!['CustSpaceId'] as string;
    expect(space).toBeTruthy();
    expect(bound.body.Data!['WabaId']).toBe('200000000000001');

    const queried = await call(queryWaba as Handler, { method: 'GET', path: '/waba', query: { CustSpaceId: space } }, trigger);
    expect(queried.statusCode).toBe(200);
    expect(queried.body.Data).toMatchObject({ Id: '200000000000001', AccountReviewStatus: expect.stringMatching(/^(PENDING|APPROVED|REJECTED|DISABLED)$/) });

    const added = await call(
      addPhoneNumber as Handler,
      { method: 'POST', path: '/phone-numbers', body: { CustSpaceId: space, Cc: '86', PhoneNumber: '13800000001', VerifiedName: 'Acme Shop' } },
      trigger,
      { base64: true },
    );
    expect(added.statusCode).toBe(200);
    // CAMS's AddChatappPhoneNumber reply has no Data, so neither has ours.
    expect(added.body).not.toHaveProperty('Data');
    expect(added.body).toMatchObject({ Code: 'OK', CamsRequestId: expect.stringMatching(/^[0-9A-F-]{36}$/) });

    const health = await call(
      getHealthStatus as Handler,
      { method: 'GET', path: '/health-status', query: { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000001' } },
      trigger,
    );
    expect(health.statusCode).toBe(200);
    expect(health.body.Data!['CanSendMessage']).toBe('AVAILABLE');
    expect((health.body.Data!['Entities'] as unknown[]).length).toBeGreaterThan(0);

    // The sandbox saw exactly these four CAMS calls, made with the functions' credentials.
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Code: string }>;
    expect(calls.map((c) => `${c.Action}:${c.Code}`)).toEqual([
      'ChatappBindWaba:OK',
      'QueryChatappBindWaba:OK',
      'AddChatappPhoneNumber:OK',
      'GetWhatsappHealthStatus:OK',
    ]);
  });
});

describe('caller authentication', () => {
  const req: RouteRequest = { method: 'POST', path: '/waba/bind', body: { WabaId: '200000000000002' } };

  it('rejects an unsigned call with 401 IncompleteSignature', async () => {
    const signed = signRouteRequest(req, HOST, CALLER_KEY);
    delete signed.headers['Authorization'];
    const res = parseReply(await bindWaba(httpEvent(signed, 'fc-http'), fcContext() as never));
    expect(res.statusCode).toBe(401);
    expect(res.body).toMatchObject({ Code: 'IncompleteSignature', Success: false });
  });

  it('rejects a forged signature with 403 SignatureDoesNotMatch', async () => {
    const res = await call(bindWaba as Handler, req, 'fc-http', { key: { ...CALLER_KEY, accessKeySecret: 'not-the-secret' } });
    expect(res.statusCode).toBe(403);
    expect(res.body.Code).toBe('SignatureDoesNotMatch');
  });

  it('rejects a tampered body with 403', async () => {
    const signed = signRouteRequest(req, HOST, CALLER_KEY, { nonce: 'tamper-1' });
    signed.body = signed.body.replace('200000000000002', '200000000000003');
    const res = parseReply(await bindWaba(httpEvent(signed, 'api-gateway'), fcContext() as never));
    expect(res.statusCode).toBe(403);
    expect(res.body.Code).toBe('SignatureDoesNotMatch');
  });

  it('rejects an unknown key with 401 InvalidAccessKeyId.NotFound', async () => {
    const res = await call(bindWaba as Handler, req, 'fc-http', { key: { accessKeyId: 'nobody', accessKeySecret: 'whatever-secret' } });
    expect(res.statusCode).toBe(401);
    expect(res.body.Code).toBe('InvalidAccessKeyId.NotFound');
  });

  it('rejects a stale call with 401 InvalidTimeStamp.Expired', async () => {
    const res = await call(bindWaba as Handler, req, 'fc-http', { date: new Date(Date.now() - 20 * 60_000) });
    expect(res.statusCode).toBe(401);
    expect(res.body.Code).toBe('InvalidTimeStamp.Expired');
  });

  /** The request signed right by CALLER_KEY, but with the header `omit` neither sent nor signed. */
  function signedWithout(r: RouteRequest, omit: string): SignedRouteRequest {
    const signed = signRouteRequest(r, HOST, CALLER_KEY, { nonce: `route-test-${process.pid}-${++nonce}` });
    const headers = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k.toLowerCase() !== omit && k !== 'Authorization'));
    const signedHeaders = Object.keys(headers).map((k) => k.toLowerCase()).filter(isSignableHeader).sort();
    const canonical = canonicalRequest({ method: r.method, path: r.path, query: signed.query, headers, signedHeaders, hashedPayload: sha256Hex(signed.body) });
    const signature = hmacSha256Hex(CALLER_KEY.accessKeySecret, stringToSign(canonical));
    headers['Authorization'] = `ACS3-HMAC-SHA256 Credential=${CALLER_KEY.accessKeyId},SignedHeaders=${signedHeaders.join(';')},Signature=${signature}`;
    return { ...signed, headers };
  }

  // DESIGN.md: "for these routes the signed headers must include host, x-acs-date,
  // x-acs-signature-nonce, x-acs-content-sha256 and, with a body, content-type".
  it.each([
    ['a body', req, ['host', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256', 'content-type']],
    ['no body', { method: 'GET', path: '/waba' } as RouteRequest, ['host', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256']],
  ])('with %s, a signature that leaves out a header the routes require is 401 IncompleteSignature naming it; CAMS is not called', async (_, r, required) => {
    const handler = (r.method === 'GET' ? queryWaba : bindWaba) as Handler;
    for (const name of required) {
      const res = parseReply(await handler(httpEvent(signedWithout(r, name), 'fc-http'), fcContext() as never));
      expect(res, name).toMatchObject({ statusCode: 401, body: { Code: 'IncompleteSignature', Success: false } });
      expect(res.body.Message, name).toContain(name);
    }
    expect(await sandboxControl(sandbox, 'GET', '/__sandbox/calls')).toEqual([]);
    // Control: the same signer, leaving out only a header nobody requires, is accepted.
    const accepted = parseReply(await handler(httpEvent(signedWithout(r, 'accept'), 'fc-http'), fcContext() as never));
    expect(accepted.statusCode).toBe(200);
  });

  it('rejects a replayed call with 401 SignatureNonceUsed, and CAMS is called once', async () => {
    const signed = signRouteRequest(req, HOST, CALLER_KEY, { nonce: 'replay-1' });
    const first = parseReply(await bindWaba(httpEvent(signed, 'fc-http'), fcContext() as never));
    const second = parseReply(await bindWaba(httpEvent(signed, 'fc-http'), fcContext() as never));
    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(401);
    expect(second.body.Code).toBe('SignatureNonceUsed');
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as unknown[];
    expect(calls).toHaveLength(1);
  });
});

describe('request shape', () => {
  it('answers 413 for a body over the limit, before verifying anything', async () => {
    const res = await call(bindWaba as Handler, { method: 'POST', path: '/waba/bind', body: { WabaId: '1', Pad: 'x'.repeat(300 * 1024) } });
    expect(res.statusCode).toBe(413);
    expect(res.body.Code).toBe('RequestEntityTooLarge');
  });

  it('answers 404 for an unknown path and 405 for a wrong method, with Allow', async () => {
    expect((await call(bindWaba as Handler, { method: 'POST', path: '/waba/unbind', body: {} })).statusCode).toBe(404);
    const wrong = await call(bindWaba as Handler, { method: 'GET', path: '/waba/bind' });
    expect(wrong.statusCode).toBe(405);
    expect(wrong.headers['allow']).toBe('POST');
  });

  it.each<Trigger>(['fc-http', 'api-gateway'])('answers 400 naming the parameter whose query name or value holds an unpaired surrogate (%s event)', async (trigger) => {
    // The event is JSON, which can carry `\ud800`; no URL can, so such a query was never signed.
    for (const [name, value] of [['CustSpaceId', 'C1\ud800'], ['Cust\udc00', 'C1']] as const) {
      const signed = signRouteRequest({ method: 'GET', path: '/waba', query: { CustSpaceId: 'C1' } }, HOST, CALLER_KEY, { nonce: `surrogate-${trigger}-${name}-${process.pid}` });
      const event = JSON.parse(httpEvent(signed, trigger).toString('utf8')) as Record<string, unknown>;
      event['queryParameters'] = { [name]: value };
      const res = parseReply(await queryWaba(Buffer.from(JSON.stringify(event)), fcContext() as never));
      expect(res).toMatchObject({ statusCode: 400, body: { Code: 'InvalidParameter', Fields: [{ Field: name, Message: expect.stringContaining('surrogate') }] } });
    }
  });

  it('answers 400 InvalidEvent for an invocation payload that is not an HTTP event', async () => {
    const res = parseReply(await bindWaba(Buffer.from('{"triggerTime":"2023-12-26T07:49:00Z","triggerName":"timer"}'), fcContext() as never));
    expect(res.statusCode).toBe(400);
    expect(res.body.Code).toBe('InvalidEvent');
  });
});

describe('CAMS errors map to documented statuses', () => {
  it('Unknown.ResourceOwnerId → 404 with the CAMS code and CamsRequestId', async () => {
    const res = await call(queryWaba as Handler, { method: 'GET', path: '/waba', query: { CustSpaceId: 'not-mine' } });
    expect(res.statusCode).toBe(404);
    expect(res.body).toMatchObject({ Code: 'Unknown.ResourceOwnerId', Success: false });
    expect(res.body['CamsRequestId']).toBeTruthy();
  });

  it('a business error (duplicate phone) → 409 passing the CAMS Code through', async () => {
    const bound = await call(bindWaba as Handler, { method: 'POST', path: '/waba/bind', body: { WabaId: '200000000000009' } });
    const space = bound.body.Data!['CustSpaceId'];
    const body = { CustSpaceId: space, Cc: '1', PhoneNumber: '4155550101', VerifiedName: 'Acme Shop' };
    expect((await call(addPhoneNumber as Handler, { method: 'POST', path: '/phone-numbers', body })).statusCode).toBe(200);
    const dup = await call(addPhoneNumber as Handler, { method: 'POST', path: '/phone-numbers', body });
    expect(dup.statusCode).toBe(409);
    expect(dup.body.Code).toBe('Phone.Exists');
  });

  it('System.LimitControl that outlasts the retries → 429 with Retry-After', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { throttleRate: 1 });
    const res = await call(bindWaba as Handler, { method: 'POST', path: '/waba/bind', body: { WabaId: '200000000000004' } }, 'fc-http', {
      context: { function: { name: 'bind-waba', timeout: 2 } },
    });
    expect(res.statusCode).toBe(429);
    expect(res.body.Code).toBe('System.LimitControl');
    expect(res.headers['retry-after']).toBe('1');
  });

  it('CAMS 5xx that outlasts the retries → 502 with its code', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { errorRate: 1 });
    const res = await call(bindWaba as Handler, { method: 'POST', path: '/waba/bind', body: { WabaId: '200000000000005' } }, 'fc-http', {
      context: { function: { name: 'bind-waba', timeout: 2 } },
    });
    expect(res.statusCode).toBe(502);
    expect(res.body.Success).toBe(false);
    expect(['ServiceUnavailable', 'InternalError']).toContain(res.body.Code);
  });

  it('CAMS slower than the invocation allows → 504', async () => {
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { latencyMs: 3000 });
    const res = await call(bindWaba as Handler, { method: 'POST', path: '/waba/bind', body: { WabaId: '200000000000006' } }, 'fc-http', {
      context: { function: { name: 'bind-waba', timeout: 1 } },
    });
    expect(res.statusCode).toBe(504);
    expect(['RequestTimeout', 'DeadlineExceeded']).toContain(res.body.Code);
  });
});

describe('a query key given more than once', () => {
  // FC's HTTP trigger joins a repeated key's values with commas; the caller signed the pairs it sent.
  const twice = (nonce: string, key = CALLER_KEY) =>
    signedRepeatedQuery('/health-status', [['CustSpaceId', 'C100'], ['NodeType', 'waba'], ['CustSpaceId', 'C200']], HOST, key, { nonce: `${nonce}-${process.pid}` });
  const send = async (signed: SignedRouteRequest, trigger: Trigger = 'fc-http') =>
    parseReply(await getHealthStatus(httpEvent(signed, trigger), fcContext() as never));
  const camsCalls = async () => (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as unknown[];

  it.each<Trigger>(['fc-http', 'api-gateway'])('signed right, it is 400 InvalidParameter naming the key, not 403 (%s event)', async (trigger) => {
    const res = await send(twice(`twice-${trigger}`), trigger);
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatchObject({ Code: 'InvalidParameter', Success: false, Fields: [{ Field: 'CustSpaceId', Message: 'given more than once in the query' }] });
    expect(res.body.Message).toContain('CustSpaceId');
    expect(await camsCalls()).toEqual([]);
  });

  it('API Gateway\'s arrays for a repeated key are read the same way', async () => {
    const signed = twice('twice-array');
    const event = JSON.parse(httpEvent(signed, 'api-gateway').toString('utf8')) as Record<string, unknown>;
    event['queryParameters'] = { CustSpaceId: ['C100', 'C200'], NodeType: 'waba' };
    const res = parseReply(await getHealthStatus(Buffer.from(JSON.stringify(event)), fcContext() as never));
    expect(res).toMatchObject({ statusCode: 400, body: { Code: 'InvalidParameter', Fields: [{ Field: 'CustSpaceId' }] } });
  });

  it('a client that signed the key\'s values sorted gets the same 400', async () => {
    const signed = twice('twice-sorted');
    signed.query['CustSpaceId'] = 'C200,C100'; // sent C200 first, signed sorted
    const res = await send(signed);
    expect(res).toMatchObject({ statusCode: 400, body: { Code: 'InvalidParameter', Fields: [{ Field: 'CustSpaceId' }] } });
  });

  it('its nonce is spent: the same request again is 401 SignatureNonceUsed', async () => {
    const signed = twice('twice-replay');
    expect((await send(signed)).statusCode).toBe(400);
    expect(await send(signed)).toMatchObject({ statusCode: 401, body: { Code: 'SignatureNonceUsed' } });
  });

  it('badly signed or unsigned, it is still 403 or 401, naming nothing', async () => {
    const forged = await send(twice('twice-forged', { ...CALLER_KEY, accessKeySecret: 'not-the-secret' }));
    expect(forged).toMatchObject({ statusCode: 403, body: { Code: 'SignatureDoesNotMatch' } });
    const unsigned = twice('twice-unsigned');
    delete unsigned.headers['Authorization'];
    const refused = await send(unsigned);
    expect(refused).toMatchObject({ statusCode: 401, body: { Code: 'IncompleteSignature' } });
    // A request signed over other values than those sent (tampered) is 403 too.
    const tampered = twice('twice-tampered');
    tampered.query['CustSpaceId'] = 'C100,C300';
    expect(await send(tampered)).toMatchObject({ statusCode: 403, body: { Code: 'SignatureDoesNotMatch' } });
    for (const res of [forged, refused]) {
      expect(res.body).not.toHaveProperty('Fields');
      expect(JSON.stringify(res.body)).not.toContain('CustSpaceId');
    }
    expect(await camsCalls()).toEqual([]);
  });

  it('a value holding a comma, signed as one value, passes the signature and is judged as a value', async () => {
    const res = await call(getHealthStatus as Handler, { method: 'GET', path: '/health-status', query: { CustSpaceId: 'C100,C200', NodeType: 'waba' } });
    expect(res).toMatchObject({ statusCode: 400, body: { Code: 'InvalidParameter', Fields: [{ Field: 'CustSpaceId' }] } });
    expect((res.body['Fields'] as Array<{ Message: string }>)[0]!.Message).not.toContain('more than once');
  });
});
