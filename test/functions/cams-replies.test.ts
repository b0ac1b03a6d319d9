import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../local/host/host.ts';
import { gatewayError, startScriptedCams, TEST_KEY, type ScriptedCams, type ScriptedReply } from '../shared/cams/scripted-cams.ts';
import { callRoute, type RouteReply } from '../local/host/support.ts';

// What a live CAMS answers and the sandbox cannot provoke (permission and subscription refusals,
// other business codes, unreadable replies, a dropped connection, the seed pages' exact bodies),
// through the local host (serverless.yml, the real functions) pointed by CAMS_ENDPOINT at a scripted
// CAMS on loopback that checks each call's ACS3 signature; and the store row (an unreachable redis).
// README "Status codes", one test per row.

let host: RunningHost;
let cams: ScriptedCams;

/** A loopback port nothing listens on: the state store that is not there. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  process.env['LOG_LEVEL'] = 'silent';
  cams = await startScriptedCams(() => gatewayError(500, 'InternalError'));
  host = await startHost({
    port: 0,
    timers: false,
    env: {
      // The CAMS routes use no store; the reporting route finds it unreachable (the 503 row).
      STORE_URL: `redis://127.0.0.1:${await closedPort()}`,
      CAMS_ENDPOINT: cams.url,
      ALIBABA_CLOUD_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: TEST_KEY.accessKeySecret,
    },
    log: () => {},
  });
});
afterAll(async () => {
  await host?.close();
  await cams?.close();
});

const SPACE = 'C0202939293001';
const ROUTE_CALLS = {
  ChatappBindWaba: { method: 'POST', path: '/waba/bind', body: { WabaId: '293982001' } },
  QueryChatappBindWaba: { method: 'GET', path: '/waba', query: { CustSpaceId: SPACE } },
  AddChatappPhoneNumber: { method: 'POST', path: '/phone-numbers', body: { CustSpaceId: SPACE, Cc: '86', PhoneNumber: '13800000000', VerifiedName: 'Alibaba' } },
  GetWhatsappHealthStatus: { method: 'GET', path: '/health-status', query: { CustSpaceId: SPACE, NodeType: 'phone', PhoneNumber: '8613800000000' } },
} as const;

/** Calls the route with CAMS scripted to answer `reply`; checks CAMS saw a validly signed call. */
async function whenCamsAnswers(reply: ScriptedReply, action: keyof typeof ROUTE_CALLS = 'ChatappBindWaba'): Promise<RouteReply> {
  cams.setScript(() => reply);
  const before = cams.calls.length;
  const res = await callRoute(host.url, ROUTE_CALLS[action]);
  const made = cams.calls.slice(before);
  expect(made.length).toBeGreaterThan(0);
  expect(made.every((c) => c.verify.ok && c.action === action)).toBe(true);
  return res;
}

// The seed pages' success examples, verbatim.
const SEED_REPLIES = {
  ChatappBindWaba: {
    AccessDeniedDetail: 'None',
    Message: 'None',
    RequestId: '90E63D28-E31D-1EB2-8939-A94866411B2O',
    Data: { CustSpaceId: 'C0202939293****', WabaId: '293982****' },
    Code: 'OK',
    Success: true,
  },
  QueryChatappBindWaba: {
    AccessDeniedDetail: 'None\n',
    Message: 'SUCCESS',
    RequestId: '90E63D28-E31D-1EB2-8939-A9486641****',
    Data: {
      AuthInternationalRateEligibility: { test: 'test', test2: 1 },
      BusinessName: 'Alibaba',
      Currency: 'USD',
      Id: '20393988393993***',
      AccountReviewStatus: 'APPROVED',
      MessageTemplateNamespace: '90E63D28-E31D-1EB2-8939-A9486641****',
      BusinessId: '19293988***',
      Name: 'Alibaba',
      PrimaryBusinessLocation: '"start_time":1721952000',
    },
    Code: 'OK',
    Success: true,
  },
  AddChatappPhoneNumber: { AccessDeniedDetail: 'None', Message: 'None', RequestId: '90E63D28-E31D-1EB2-8939-A9486641****', Code: 'OK', Success: false },
  GetWhatsappHealthStatus: {
    AccessDeniedDetail: 'None',
    Message: 'None',
    RequestId: 'DAC72B08-3327-33EF-BEDC-8EC3E83A6575',
    Data: {
      CanSendMessage: 'AVAILABLE',
      Entities: [
        {
          EntityType: 'PHONE_NUMBER',
          TemplateCode: '939928****',
          Errors: [
            {
              ErrorDescription: 'There is an error with the payment method.',
              PossibleSolution: 'There was an error with your payment method. Please add a new payment method to the account.',
              ErrorCode: '141006',
            },
          ],
          Language: 'en',
          CanSendMessage: 'AVAILABLE',
          PhoneNumber: '86138****',
          WabaId: '39939***',
          BusinessId: '3992****',
        },
      ],
    },
    Code: 'OK',
    Success: true,
  },
} as const;

describe('success: the seed example bodies, relayed as CAMS sent them', () => {
  it.each(Object.keys(SEED_REPLIES) as Array<keyof typeof SEED_REPLIES>)('%s', async (action) => {
    const { RequestId: camsRequestId, ...rest } = SEED_REPLIES[action];
    const res = await whenCamsAnswers({ status: 200, body: SEED_REPLIES[action] }, action);
    expect(res.status).toBe(200);
    // Exactly CAMS's fields and values (Message "None"/"SUCCESS", no invented Data), ids named as ours;
    // Success true with Code OK, though AddChatappPhoneNumber's page shows false beside it.
    expect(res.json).toEqual({ ...rest, Success: true, RequestId: res.headers['x-fc-request-id'], CamsRequestId: camsRequestId });
  });
});

describe('CAMS errors → the caller\'s status (README "Status codes")', () => {
  it.each([
    ['Ram.PermissionDeny', 'You are not authorized to perform the operation.'],
    ['Product.Unsubscript', 'You have not subscribed to the specified product.'],
  ])('%s → 403, CAMS\'s error envelope', async (code, message) => {
    const res = await whenCamsAnswers(gatewayError(400, code, message, 'REQ-403'));
    expect(res.status).toBe(403);
    expect(res.json).toEqual({
      RequestId: res.headers['x-fc-request-id'],
      Code: code,
      Message: message,
      Success: false,
      CamsRequestId: 'REQ-403',
      Recommend: 'https://api.aliyun.com/troubleshoot',
    });
  });

  it('Unknown.ResourceOwnerId and other not-found codes → 404', async () => {
    expect((await whenCamsAnswers(gatewayError(400, 'Unknown.ResourceOwnerId'), 'QueryChatappBindWaba')).status).toBe(404);
    const res = await whenCamsAnswers({ status: 200, body: { RequestId: 'R', Code: 'Template.NotFound', Message: 'no such template', Success: false } }, 'GetWhatsappHealthStatus');
    expect(res.status).toBe(404);
    expect(res.json.Code).toBe('Template.NotFound');
  });

  it('*.Exists and other conflicts → 409', async () => {
    for (const code of ['Phone.Exists', 'Waba.AlreadyExists', 'Resource.Conflict']) {
      const res = await whenCamsAnswers({ status: 200, body: { RequestId: 'R', Code: code, Message: 'm', Success: false } }, 'AddChatappPhoneNumber');
      expect([code, res.status]).toEqual([code, 409]);
    }
  });

  it('another business code → 400 with CAMS\'s code, whether CAMS sent it with HTTP 200 or 400', async () => {
    const as200 = await whenCamsAnswers({ status: 200, body: { RequestId: 'R', Code: 'VerifiedName.Invalid', Message: 'the name was refused', Success: false } }, 'AddChatappPhoneNumber');
    expect(as200.status).toBe(400);
    expect(as200.json).toMatchObject({ Code: 'VerifiedName.Invalid', Message: 'the name was refused', Success: false });
    const as400 = await whenCamsAnswers(gatewayError(400, 'InvalidParameter', 'The parameter WabaId is invalid.'));
    expect(as400.status).toBe(400);
    expect(as400.json.Code).toBe('InvalidParameter');
  });

  it('throttling the retries could not absorb (Throttling.User) → 429 with Retry-After', async () => {
    const res = await whenCamsAnswers(gatewayError(400, 'Throttling.User', 'Request was denied due to user flow control.'));
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json.Code).toBe('Throttling.User');
  });

  it('a 429 without CAMS\'s body (a gateway\'s throttle page) → 429 Throttling, with the gateway\'s Retry-After bounded, else 1', async () => {
    const page = (headers: Record<string, string> = {}): ScriptedReply => ({ status: 429, body: '<html>429 Too Many Requests</html>', headers });
    const asked = await whenCamsAnswers(page({ 'retry-after': '7' }));
    expect(asked.status).toBe(429);
    expect(asked.headers['retry-after']).toBe('7');
    expect(asked.json).toMatchObject({ Code: 'Throttling', Success: false });
    const none = await whenCamsAnswers(page(), 'GetWhatsappHealthStatus');
    expect([none.status, none.headers['retry-after'], none.json.Code]).toEqual([429, '1', 'Throttling']);
    const long = await whenCamsAnswers(page({ 'retry-after': '86400' }));
    expect(long.headers['retry-after']).toBe('60');
  });

  it('CAMS 5xx → 502 with CAMS\'s code', async () => {
    const res = await whenCamsAnswers(gatewayError(503, 'ServiceUnavailable'));
    expect(res.status).toBe(502);
    expect(res.json.Code).toBe('ServiceUnavailable');
  });

  it('an unreadable reply (not JSON; not the operation\'s shape) → 502 InvalidResponse', async () => {
    const html = await whenCamsAnswers({ status: 200, body: '<html>gateway</html>' });
    expect(html.status).toBe(502);
    expect(html.json.Code).toBe('InvalidResponse');
    const shape = await whenCamsAnswers({ status: 200, body: { RequestId: 'R', Code: 'OK', Success: true, Data: { CanSendMessage: 7, Entities: [] } } }, 'GetWhatsappHealthStatus');
    expect(shape.status).toBe(502);
    expect(shape.json.Code).toBe('InvalidResponse');
  });

  it('a CanSendMessage value CAMS added since is passed on as CAMS gave it, not refused', async () => {
    const entity = { EntityType: 'PHONE_NUMBER', CanSendMessage: 'RESTRICTED', PhoneNumber: '8613800000001', Errors: [] };
    const res = await whenCamsAnswers({ status: 200, body: { RequestId: 'R', Code: 'OK', Success: true, Data: { CanSendMessage: 'RESTRICTED', Entities: [entity] } } }, 'GetWhatsappHealthStatus');
    expect(res.status).toBe(200);
    expect(res.json.Data).toEqual({ CanSendMessage: 'RESTRICTED', Entities: [entity] });
  });

  it('an AccountReviewStatus value CAMS added since (or an empty one) is passed on as CAMS gave it, not refused', async () => {
    for (const status of ['UNDER_APPEAL', '']) {
      const data = { Id: '1', Name: 'W', AccountReviewStatus: status };
      const res = await whenCamsAnswers({ status: 200, body: { RequestId: 'R', Code: 'OK', Success: true, Data: data } }, 'QueryChatappBindWaba');
      expect(res.status).toBe(200);
      expect(res.json.Data).toEqual(data);
    }
  });

  it('CAMS unreachable (the connection dropped on every attempt) → 502 NetworkError', async () => {
    const res = await whenCamsAnswers({ destroy: true });
    expect(res.status).toBe(502);
    expect(res.json.Code).toBe('NetworkError');
  });

  it('CAMS refusing the function\'s own credentials → 500 (our fault, not the caller\'s), CAMS\'s code', async () => {
    const res = await whenCamsAnswers(gatewayError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.'));
    expect(res.status).toBe(500);
    expect(res.json.Code).toBe('InvalidAccessKeyId.NotFound');
    expect(res.text).not.toContain(TEST_KEY.accessKeySecret);
  });

  it('CAMS not answering within the invocation\'s time (serverless.yml timeout) → 504', async () => {
    const res = await whenCamsAnswers({ hang: true });
    expect(res.status).toBe(504);
    expect(['RequestTimeout', 'DeadlineExceeded']).toContain(res.json.Code);
  }, 40_000);

  it('the state store unreachable → 503 StoreUnavailable with Retry-After (GET /health-report)', async () => {
    const res = await callRoute(host.url, { method: 'GET', path: '/health-report' });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.json).toMatchObject({ Code: 'StoreUnavailable', Success: false });
  });
});
