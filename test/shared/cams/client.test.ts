import { stringify } from 'node:querystring';
import * as openApiUtilModule from '@alicloud/openapi-util';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { CamsClient, encodeForm, hasScheme, resolveEndpoint } from '../../../shared/cams/client.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CAMS_VERSION } from '../../../shared/cams/operations.ts';
import { expectCamsError, fakeClock, gatewayError, ok, startScriptedCams, TEST_KEY, type RecordedCall, type ScriptedCams, type ScriptedReply } from './scripted-cams.ts';

// CommonJS `exports.default` surfaces differently through ESM interop: walk down to the class.
function officialToForm(): (params: object) => string {
  let m = openApiUtilModule as unknown as { toForm?: (p: object) => string; default?: unknown } | undefined;
  while (m && typeof m.toForm !== 'function') m = m.default as typeof m;
  if (!m?.toForm) throw new Error('toForm not found in @alicloud/openapi-util');
  return m.toForm.bind(m);
}
const toForm = officialToForm();

let server: ScriptedCams | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function clientFor(url: string, extra: ConstructorParameters<typeof CamsClient>[0] = {}): CamsClient {
  return new CamsClient({ endpoint: url, credentials: TEST_KEY, budget: new CamsBudget(), ...extra });
}

const HEALTH_DATA = {
  CanSendMessage: 'LIMITED',
  Entities: [
    {
      EntityType: 'PHONE_NUMBER',
      PhoneNumber: '8613800001111',
      WabaId: 'W-1',
      BusinessId: 'B-1',
      CanSendMessage: 'LIMITED',
      Errors: [{ ErrorCode: '141006', ErrorDescription: 'payment method', PossibleSolution: 'add one' }],
      SomethingNew: 42,
    },
  ],
};

describe('CamsClient happy path, signed end to end', () => {
  it('ChatappBindWaba: wire format and result', async () => {
    server = await startScriptedCams((c) => ok({ CustSpaceId: 'CS-' + c.params.WabaId, WabaId: c.params.WabaId }, 'REQ-BIND'));
    const r = await clientFor(server.url).bindWaba({ WabaId: 'waba 1&2' });
    expect(r).toEqual({
      data: { CustSpaceId: 'CS-waba 1&2', WabaId: 'waba 1&2' },
      requestId: 'REQ-BIND',
      body: { RequestId: 'REQ-BIND', Code: 'OK', Message: 'None', Success: true, Data: { CustSpaceId: 'CS-waba 1&2', WabaId: 'waba 1&2' } },
    });
    const call = server.calls[0]!;
    expect(call.verify.ok).toBe(true);
    expect(call.method).toBe('POST');
    expect(call.url).toBe('/');
    expect(call.headers['x-acs-action']).toBe('ChatappBindWaba');
    expect(call.headers['x-acs-version']).toBe(CAMS_VERSION);
    expect(call.headers['accept']).toBe('application/json');
    expect(call.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(call.headers['host']).toBe(new URL(server.url).host);
    expect(call.rawBody).toBe(stringify({ WabaId: 'waba 1&2' }));
    expect(call.headers['x-acs-security-token']).toBeUndefined();
  });

  it('QueryChatappBindWaba: optional params, map field, extra fields kept', async () => {
    const data = {
      Id: '2039', Name: 'Alibaba', AccountReviewStatus: 'APPROVED', Currency: 'USD', MessageTemplateNamespace: 'ns',
      BusinessId: '1929', BusinessName: 'Alibaba', PrimaryBusinessLocation: '"start_time":1721952000',
      AuthInternationalRateEligibility: { test: 'test', test2: 1 }, NewField: true,
    };
    server = await startScriptedCams(() => ok(data, 'REQ-Q'));
    const r = await clientFor(server.url).queryBindWaba({ CustSpaceId: 'CS-9', IsvCode: undefined });
    expect(r.requestId).toBe('REQ-Q');
    expect(r.data).toEqual(data);
    expect(server.calls[0]!.params).toEqual({ CustSpaceId: 'CS-9' });
    expect(server.calls[0]!.verify.ok).toBe(true);
  });

  it('AddChatappPhoneNumber: no Data, Success false with Code OK is still success', async () => {
    server = await startScriptedCams(() => ({ status: 200, body: { AccessDeniedDetail: 'None', Message: 'None', RequestId: 'REQ-ADD', Code: 'OK', Success: false } }));
    const params = { CustSpaceId: 'CS-1', Cc: '86', PhoneNumber: '13800001111', VerifiedName: 'Alibaba Cloud' };
    const r = await clientFor(server.url).addPhoneNumber(params);
    expect(r).toEqual({ data: undefined, requestId: 'REQ-ADD', body: { AccessDeniedDetail: 'None', Message: 'None', RequestId: 'REQ-ADD', Code: 'OK', Success: false } });
    expect(server.calls[0]!.params).toEqual(params);
    expect(server.calls[0]!.action).toBe('AddChatappPhoneNumber');
  });

  it('GetWhatsappHealthStatus: entities with errors', async () => {
    server = await startScriptedCams(() => ok(HEALTH_DATA, 'REQ-H'));
    const r = await clientFor(server.url).getHealthStatus({ CustSpaceId: 'CS-1', NodeType: 'phone', PhoneNumber: '8613800001111' });
    expect(r.requestId).toBe('REQ-H');
    expect(r.data.CanSendMessage).toBe('LIMITED');
    expect(r.data.Entities[0]!.Errors![0]!.ErrorCode).toBe('141006');
    expect(server.calls[0]!.params).toEqual({ CustSpaceId: 'CS-1', NodeType: 'phone', PhoneNumber: '8613800001111' });
  });

  it('generic call() reaches any operation', async () => {
    server = await startScriptedCams((c) => ok({ CustSpaceId: 'X', WabaId: c.params.WabaId }));
    const r = await clientFor(server.url).call('ChatappBindWaba', { WabaId: '77' });
    expect(r.data.WabaId).toBe('77');
    expect(server.calls[0]!.action).toBe('ChatappBindWaba');
  });

  it('STS: the token is sent, signed, and verified', async () => {
    server = await startScriptedCams(() => ok({ CustSpaceId: 'A', WabaId: 'B' }));
    const creds = { ...TEST_KEY, securityToken: 'CAIS-sts-token+/=' };
    await clientFor(server.url, { credentials: async () => creds }).bindWaba({ WabaId: 'B' });
    const call = server.calls[0]!;
    expect(call.headers['x-acs-security-token']).toBe(creds.securityToken);
    expect(call.headers['authorization']).toMatch(/SignedHeaders=[^,]*x-acs-security-token/);
    expect(call.verify).toEqual({ ok: true, accessKeyId: TEST_KEY.accessKeyId, securityToken: creds.securityToken });
  });

  it('a wrong secret is rejected by the verifier (the check can fail)', async () => {
    server = await startScriptedCams(() => ok({ CustSpaceId: 'A', WabaId: 'B' }));
    const err = await expectCamsError(
      clientFor(server.url, { credentials: { ...TEST_KEY, accessKeySecret: 'wrong' } }).bindWaba({ WabaId: 'B' }),
    );
    expect(err.Code).toBe('SignatureDoesNotMatch');
    expect(err.retryable).toBe(false);
    expect(server.calls).toHaveLength(1);
  });
});

describe('CamsClient error forms', () => {
  const cases: Array<{ name: string; reply: ScriptedReply; code: string; status: number; requestId?: string; retryable: boolean }> = [
    { name: 'HTTP 400 gateway body', reply: gatewayError(400, 'Ram.PermissionDeny', 'You are not authorized', 'R-1'), code: 'Ram.PermissionDeny', status: 400, requestId: 'R-1', retryable: false },
    { name: 'HTTP 200 with Code != OK', reply: { status: 200, body: { RequestId: 'R-2', Code: 'Product.Unsubscript', Message: 'not subscribed', Success: false } }, code: 'Product.Unsubscript', status: 200, requestId: 'R-2', retryable: false },
        { name: 'HTTP 404 with HTML body', reply: { status: 404, body: '<html>not found</html>', headers: { 'x-acs-request-id': 'R-3' } }, code: 'HttpError', status: 404, requestId: 'R-3', retryable: false },
    { name: 'HTTP 200 that is not JSON', reply: { status: 200, body: 'oops' }, code: 'InvalidResponse', status: 200, retryable: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      server = await startScriptedCams(() => c.reply);
      const err = await expectCamsError(clientFor(server.url).bindWaba({ WabaId: '1' }));
      expect(err.Code).toBe(c.code);
      expect(err.httpStatus).toBe(c.status);
      expect(err.retryable).toBe(c.retryable);
      if (c.requestId) expect(err.RequestId).toBe(c.requestId);
      expect(err.attempts).toBe(1);
      expect(server.calls).toHaveLength(1);
    });
  }

  it('reads a 429 without a CAMS body (a gateway\'s page) as a throttle, retried, with its Retry-After', async () => {
    server = await startScriptedCams(() => ({ status: 429, body: 'Too Many Requests', headers: { 'retry-after': '3' } }));
    const clock = fakeClock();
    const c = clientFor(server.url, { retry: { maxAttempts: 2, baseDelayMs: 0 }, budget: new CamsBudget({ clock }), now: clock.now, sleep: clock.sleep });
    const err = await expectCamsError(c.bindWaba({ WabaId: '1' }));
    expect(clock.sleeps).toEqual([3000]); // the wait it asked for before the second attempt
    expect(err).toMatchObject({ Code: 'Throttling', httpStatus: 429, retryable: true, retryAfterS: 3, attempts: 2, budgetRefusal: false });
    expect(server.calls).toHaveLength(2);
  });

  it('reads a 4xx body in lower camel case as the official SDK does (code, message, requestId, accessDeniedDetail)', async () => {
    // openapi-client: defaultAny(err["Code"], err["code"]), and so Message, RequestId, AccessDeniedDetail.
    const body = { requestId: 'R-5', hostId: 'cams.ap-southeast-1.aliyuncs.com', code: 'Throttling.User', message: 'Request was denied due to user flow control.', accessDeniedDetail: 'none of it' };
    server = await startScriptedCams(() => ({ status: 400, body }));
    const err = await expectCamsError(clientFor(server.url, { retry: { maxAttempts: 1 } }).bindWaba({ WabaId: '1' }));
    expect(err).toMatchObject({ Code: 'Throttling.User', Message: body.message, RequestId: 'R-5', HostId: body.hostId, AccessDeniedDetail: 'none of it', httpStatus: 400 });
    // A throttle, so retried later (our caller gets 429), not an unreadable HttpError.
    expect(err.retryable).toBe(true);
  });

  it('keeps an AccessDeniedDetail sent as an object (newer gateways, RAM denials) as CAMS sent it', async () => {
    // The SDK's error carries it untouched (accessDeniedDetail: any); RAM's DecodeDiagnosticMessage needs the encoded part verbatim.
    const detail = {
      AuthAction: 'cams:ChatappBindWaba',
      AuthPrincipalType: 'AssumedRoleUser',
      AuthPrincipalOwnerId: '196813200012****',
      AuthPrincipalDisplayName: 'cams-fc-role/fc-session',
      NoPermissionType: 'ImplicitDeny',
      PolicyType: 'AccountLevelIdentityBasedPolicy',
      EncodedDiagnosticMessage: 'AQEAAAAAZBgxr0U1MjA1NTM1LUM4BBktMzE5RS1CODgxLUU1QTI0RDNFQTM1****',
    };
    server = await startScriptedCams(() => ({ status: 400, body: { RequestId: 'R-6', HostId: 'cams.ap-southeast-1.aliyuncs.com', Code: 'Ram.PermissionDeny', Message: 'You are not authorized to perform the operation.', AccessDeniedDetail: detail } }));
    const err = await expectCamsError(clientFor(server.url).bindWaba({ WabaId: '1' }));
    expect(err).toMatchObject({ Code: 'Ram.PermissionDeny', httpStatus: 400, AccessDeniedDetail: detail });
    // An empty object says nothing, as "None" does.
    server.setScript(() => ({ status: 400, body: { RequestId: 'R-7', Code: 'Ram.PermissionDeny', Message: 'm', AccessDeniedDetail: {} } }));
    expect((await expectCamsError(clientFor(server.url).bindWaba({ WabaId: '1' }))).AccessDeniedDetail).toBeUndefined();
  });

  it('keeps HostId, Recommend and Message of the 4xx body', async () => {
    server = await startScriptedCams(() => gatewayError(400, 'Unknown.ResourceOwnerId', 'The resource does not belong to the current user.'));
    const err = await expectCamsError(clientFor(server.url).bindWaba({ WabaId: '1' }));
    expect(err.Message).toBe('The resource does not belong to the current user.');
    expect(err.HostId).toBe('cams.ap-southeast-1.aliyuncs.com');
    expect(err.Recommend).toContain('troubleshoot');
    expect(err.action).toBe('ChatappBindWaba');
    expect(err.message).toContain('Unknown.ResourceOwnerId');
  });

  describe('a reply that echoes the request carries none of our secrets on', () => {
    // A gateway's signature error or a proxy's error page may quote the request it refused.
    const creds = { ...TEST_KEY, securityToken: 'CAIS/sts+token=part2-0001' };
    const echo = (c: RecordedCall) => `headers ${JSON.stringify(c.headers)} token ${encodeURIComponent(creds.securityToken)} secret ${creds.accessKeySecret}`;
    const echoes: Array<{ name: string; reply: (c: RecordedCall) => ScriptedReply }> = [
      { name: 'HTTP 400 gateway body', reply: (c) => ({ status: 400, body: { RequestId: 'R', Code: 'SignatureDoesNotMatch', Message: echo(c), Recommend: echo(c) } }) },
      { name: 'HTTP 200 with Code != OK', reply: (c) => ({ status: 200, body: { RequestId: 'R', Code: 'Biz.Refused', Message: echo(c), AccessDeniedDetail: echo(c) } }) },
      {
        name: 'HTTP 400 with an AccessDeniedDetail object',
        reply: (c) => ({ status: 400, body: { RequestId: 'R', Code: 'Ram.PermissionDeny', Message: 'm', AccessDeniedDetail: { AuthAction: 'cams:ChatappBindWaba', Request: [echo(c)], [creds.accessKeySecret]: 1 } } }),
      },
      { name: 'HTTP 502 HTML page', reply: (c) => ({ status: 502, body: `<pre>${creds.securityToken} ${echo(c)}</pre>` }) },
      { name: 'HTTP 200 not JSON', reply: (c) => ({ status: 200, body: `${creds.securityToken} ${echo(c)}` }) },
    ];
    for (const c of echoes) {
      it(c.name, async () => {
        server = await startScriptedCams(c.reply);
        const err = await expectCamsError(clientFor(server.url, { credentials: creds, retry: { maxAttempts: 1 } }).bindWaba({ WabaId: '1' }));
        expect(server.calls[0]!.headers['x-acs-security-token']).toBe(creds.securityToken);
        const shown = JSON.stringify({ ...err, message: err.message });
        expect(shown).toContain('***');
        for (const secret of [creds.securityToken, encodeURIComponent(creds.securityToken), creds.accessKeySecret]) expect(shown).not.toContain(secret);
      });
    }
  });
});

describe('reply schema', () => {
  const bad: Array<{ name: string; action: 'bind' | 'health' | 'query'; reply: ScriptedReply; path: string }> = [
    { name: 'CanSendMessage not a string', action: 'health', reply: ok({ ...HEALTH_DATA, Entities: [{ ...HEALTH_DATA.Entities[0], CanSendMessage: 2 }] }), path: 'Data.Entities[0].CanSendMessage' },
    { name: 'Errors item without ErrorCode', action: 'health', reply: ok({ ...HEALTH_DATA, Entities: [{ ...HEALTH_DATA.Entities[0], Errors: [{}] }] }), path: 'Data.Entities[0].Errors[0].ErrorCode' },
    { name: 'Entities missing', action: 'health', reply: ok({ CanSendMessage: 'AVAILABLE' }), path: 'Data.Entities' },
    { name: 'WabaId a number', action: 'bind', reply: ok({ CustSpaceId: 'C', WabaId: 12 }), path: 'Data.WabaId' },
    { name: 'Data missing', action: 'bind', reply: ok(undefined), path: 'Data' },
    { name: 'AccountReviewStatus not a string', action: 'query', reply: ok({ AccountReviewStatus: 3 }), path: 'Data.AccountReviewStatus' },
    { name: 'RequestId missing', action: 'bind', reply: { status: 200, body: { Code: 'OK', Data: { CustSpaceId: 'C', WabaId: 'W' } } }, path: 'RequestId' },
  ];
  for (const b of bad) {
    it(`rejects ${b.name}, naming ${b.path}`, async () => {
      server = await startScriptedCams(() => b.reply);
      const client = clientFor(server.url);
      const p =
        b.action === 'bind'
          ? client.bindWaba({ WabaId: 'W' })
          : b.action === 'query'
            ? client.queryBindWaba()
            : client.getHealthStatus({ CustSpaceId: 'C', NodeType: 'waba' });
      const err = await expectCamsError(p);
      expect(err.Code).toBe('InvalidResponse');
      expect(err.retryable).toBe(false);
      expect(err.Message).toContain(`reply field ${b.path}:`);
      expect(server.calls).toHaveLength(1);
    });
  }
});

describe('wire helpers', () => {
  it('encodeForm writes the same bytes as the official SDK (OpenApiUtil.toForm)', () => {
    const value = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('a b', '+/=', "!'()*~", '中文', ''));
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,12}$/), fc.option(value, { nil: undefined }), { noNullPrototype: true }), (params) => {
        expect(encodeForm(params)).toBe(toForm(params));
      }),
      { numRuns: 300 },
    );
  });

  it('encodeForm is querystring.stringify of the values as strings, lone surrogates included', () => {
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('a', ' ', '+', '&', '=', '%', "!'()*~", '中', '\ud83d', '\ude00', '\ud83d\ude00'), fc.string({ maxLength: 1 })) });
    const value = fc.oneof(text, fc.integer(), fc.boolean(), fc.constantFrom(null, undefined, 1.5, -0));
    fc.assert(
      fc.property(fc.dictionary(text, value, { noNullPrototype: true }), (params) => {
        // every entry kept, `__proto__` too (a plain object would swallow it; no CAMS param is named so)
        const flat: Record<string, string> = Object.create(null) as Record<string, string>;
        for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) flat[k] = String(v);
        let expected: string | Error;
        try {
          expected = stringify(flat);
        } catch (e) {
          expected = e as Error;
        }
        if (expected instanceof Error) expect(() => encodeForm(params)).toThrow(expected.constructor as typeof URIError);
        else expect(encodeForm(params)).toBe(expected);
      }),
      { numRuns: 5_000 },
    );
  });

  it('resolveEndpoint: bare host means https, URLs keep their scheme', () => {
    expect(resolveEndpoint('cams.ap-southeast-1.aliyuncs.com').href).toBe('https://cams.ap-southeast-1.aliyuncs.com/');
    expect(resolveEndpoint('http://127.0.0.1:9100').href).toBe('http://127.0.0.1:9100/');
    expect(() => resolveEndpoint('ftp://x')).toThrow(/http/);
  });

  it('endpoint comes from CAMS_ENDPOINT when not given', () => {
    expect(new CamsClient({ env: { CAMS_ENDPOINT: 'http://127.0.0.1:9100' }, credentials: TEST_KEY }).endpoint.host).toBe('127.0.0.1:9100');
    expect(new CamsClient({ env: {}, credentials: TEST_KEY }).endpoint.host).toBe('cams.ap-southeast-1.aliyuncs.com');
  });

  it('missing credentials fail the call with a message naming the env vars', async () => {
    const client = new CamsClient({ endpoint: 'http://127.0.0.1:1', env: {} });
    await expect(client.bindWaba({ WabaId: '1' })).rejects.toThrow(/ALIBABA_CLOUD_ACCESS_KEY_ID/);
  });
});

describe('hasScheme', () => {
  it('is /^[a-z][a-z0-9+.-]*:\\/\\//i', () => {
    const re = /^[a-z][a-z0-9+.-]*:\/\//i;
    for (const v of ['http://x', 'HTTPS://x', 'git+ssh://x', 'a.b-c://', '1http://x', '://x', 'http:/x', 'http//x', 'ht tp://x', 'h\u017ftp://x', '\u212a://x', 'cams.ap-southeast-1.aliyuncs.com', '']) {
      expect(hasScheme(v), v).toBe(re.test(v));
    }
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('h', 'T', '1', '+', '.', '-', ':', '/', ' ', '\u017f', '@'), maxLength: 10 }), (v) => {
        expect(hasScheme(v)).toBe(re.test(v));
      }),
      { numRuns: 20_000 },
    );
  });
});
