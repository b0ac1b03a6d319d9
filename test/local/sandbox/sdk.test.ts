import * as $OpenApi from '@alicloud/openapi-client';
import * as openApiUtilModule from '@alicloud/openapi-util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import type { RunningSandbox, SandboxKey } from '../../../local/sandbox/server.ts';
import { CAMS_VERSION } from '../../../shared/cams/operations.ts';
import { unwrapDefault } from '../../support/official-sdk.ts';
import { control, KEY_A, KEY_B, start, UUID_UPPER } from './helpers.ts';

// CommonJS with exports.default: Node and vitest's loader surface it differently, so unwrap once.
const Client = unwrapDefault<typeof $OpenApi.default.default>($OpenApi);
const OpenApiUtil = unwrapDefault<{ query(filter: Record<string, unknown>): Record<string, string> }>(openApiUtilModule);
type SdkClient = InstanceType<typeof Client>;
type Runtime = Parameters<SdkClient['callApi']>[2];

let sb: RunningSandbox;
beforeAll(async () => {
  sb = await start();
});
afterAll(async () => {
  await sb.close();
});

function sdk(key: SandboxKey, securityToken?: string): SdkClient {
  return new Client(
    new $OpenApi.Config({
      accessKeyId: key.accessKeyId,
      accessKeySecret: key.accessKeySecret,
      ...(securityToken ? { securityToken } : {}),
      endpoint: `127.0.0.1:${sb.port}`,
      protocol: 'HTTP',
    }),
  );
}

type Where = 'query' | 'body';

async function sdkCall(client: SdkClient, action: string, params: Record<string, string>, where: Where) {
  const request =
    where === 'query'
      ? new $OpenApi.OpenApiRequest({ query: OpenApiUtil.query(params) })
      : new $OpenApi.OpenApiRequest({ body: params });
  const apiParams = new $OpenApi.Params({
    action,
    version: CAMS_VERSION,
    protocol: 'HTTP',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });
  // RuntimeOptions is a plain model; an empty one means the SDK defaults (no retry, 3 s read timeout).
  const res = await client.callApi(apiParams, request, {} as Runtime);
  return { status: res.statusCode as number, body: res.body as Record<string, unknown>, headers: res.headers as Record<string, string> };
}

async function sdkError(p: Promise<unknown>): Promise<{ code: string; statusCode: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; data?: { statusCode?: number } };
    return { code: String(e.code), statusCode: Number(e.data?.statusCode) };
  }
  throw new Error('expected the SDK call to throw');
}

// Characters the SDK's querystring encoding and ACS3's RFC 3986 encoding treat differently.
const ODD_NAME = "Acme & Sons (Café) *!'+=~ 日本";

const cases: { where: Where; sts: boolean; n: string }[] = [
  { where: 'query', sts: false, n: '1' },
  { where: 'body', sts: false, n: '2' },
  { where: 'query', sts: true, n: '3' },
  { where: 'body', sts: true, n: '4' },
];

describe('official SDK (@alicloud/openapi-client callApi) against the sandbox', () => {
  for (const { where, sts, n } of cases) {
    it(`all four operations, params in ${where}, ${sts ? 'with' : 'without'} an STS token`, async () => {
      const token = sts ? `CAIS-sts-token-${n}-${Math.random().toString(36).slice(2)}` : undefined;
      const client = sdk(KEY_A, token);
      const wabaId = `7000000000${n}`;

      const bound = await sdkCall(client, 'ChatappBindWaba', { WabaId: wabaId }, where);
      expect(bound.status).toBe(200);
      expect(bound.body['Code']).toBe('OK');
      expect(bound.body['Success']).toBe(true);
      expect(bound.body['RequestId']).toMatch(UUID_UPPER);
      expect(bound.headers['x-acs-request-id']).toBe(bound.body['RequestId']);
      const data = bound.body['Data'] as { CustSpaceId: string; WabaId: string };
      expect(data.WabaId).toBe(wabaId);
      expect(data.CustSpaceId).toMatch(/^C\d{14}$/);
      const space = data.CustSpaceId;

      const queried = await sdkCall(client, 'QueryChatappBindWaba', { CustSpaceId: space }, where);
      expect(queried.body['Code']).toBe('OK');
      expect(queried.body['Data']).toMatchObject({
        Id: wabaId,
        AccountReviewStatus: 'APPROVED',
        Currency: 'USD',
        Name: expect.any(String),
        MessageTemplateNamespace: expect.any(String),
        BusinessId: expect.stringMatching(/^\d+$/),
        BusinessName: expect.any(String),
        PrimaryBusinessLocation: expect.any(String),
        AuthInternationalRateEligibility: expect.any(Object),
      });

      const phone = `6591234${n}00`;
      const added = await sdkCall(
        client,
        'AddChatappPhoneNumber',
        { CustSpaceId: space, Cc: '65', PhoneNumber: phone, VerifiedName: ODD_NAME },
        where,
      );
      expect(added.body).toMatchObject({ Code: 'OK', Success: true });
      expect(added.body).not.toHaveProperty('Data');

      const health = await sdkCall(
        client,
        'GetWhatsappHealthStatus',
        { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '65' + phone },
        where,
      );
      expect(health.body['Code']).toBe('OK');
      const h = health.body['Data'] as { CanSendMessage: string; Entities: { EntityType: string; PhoneNumber?: string; WabaId: string }[] };
      expect(h.CanSendMessage).toBe('AVAILABLE');
      expect(h.Entities.map((e) => e.EntityType)).toEqual(['PHONE_NUMBER', 'WABA', 'BUSINESS', 'APP']);
      expect(h.Entities[0]!.PhoneNumber).toBe('65' + phone);
      expect(h.Entities.every((e) => e.WabaId === wabaId)).toBe(true);

      // The log shows the four calls under this key, with the token masked (never in full) for STS.
      const log = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
      const mine = log.filter((c) => c.Params['WabaId'] === wabaId || c.Params['CustSpaceId'] === space);
      expect(mine.map((c) => c.Action)).toEqual(['ChatappBindWaba', 'QueryChatappBindWaba', 'AddChatappPhoneNumber', 'GetWhatsappHealthStatus']);
      expect(mine[2]!.Params['VerifiedName']).toBe(ODD_NAME);
      for (const c of mine) {
        expect(c.AccessKeyId).toBe(KEY_A.accessKeyId);
        expect(c.HttpStatus).toBe(200);
        if (token) expect(c.SecurityToken).toBe(token.slice(0, 4) + '****');
        else expect(c).not.toHaveProperty('SecurityToken');
      }
      expect(JSON.stringify(log)).not.toContain(token ?? KEY_A.accessKeySecret);
    });
  }

  it('a business failure comes back as HTTP 200 with Code != OK, without an exception', async () => {
    const client = sdk(KEY_A);
    const bound = await sdkCall(client, 'ChatappBindWaba', { WabaId: '7100000001' }, 'body');
    const space = (bound.body['Data'] as { CustSpaceId: string }).CustSpaceId;
    const params = { CustSpaceId: space, Cc: '1', PhoneNumber: '4155550100', VerifiedName: 'Acme' };
    expect((await sdkCall(client, 'AddChatappPhoneNumber', params, 'body')).body['Code']).toBe('OK');
    const again = await sdkCall(client, 'AddChatappPhoneNumber', params, 'query');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ Code: 'Phone.Exists', Success: false });
  });

  it('a wrong secret gets SignatureDoesNotMatch (400)', async () => {
    const err = await sdkError(sdkCall(sdk({ ...KEY_A, accessKeySecret: 'not-the-secret' }), 'ChatappBindWaba', { WabaId: '1' }, 'query'));
    expect(err).toEqual({ code: 'SignatureDoesNotMatch', statusCode: 400 });
  });

  it('a wrong secret with an STS token gets SignatureDoesNotMatch too', async () => {
    const err = await sdkError(sdkCall(sdk({ ...KEY_A, accessKeySecret: 'nope' }, 'tok'), 'ChatappBindWaba', { WabaId: '1' }, 'body'));
    expect(err.code).toBe('SignatureDoesNotMatch');
  });

  it('an unknown key gets InvalidAccessKeyId.NotFound (404)', async () => {
    const err = await sdkError(
      sdkCall(sdk({ accessKeyId: 'LTAIunknown', accessKeySecret: 'whatever' }), 'ChatappBindWaba', { WabaId: '1' }, 'query'),
    );
    expect(err).toEqual({ code: 'InvalidAccessKeyId.NotFound', statusCode: 404 });
  });

  it('an unknown action gets InvalidAction.NotFound (404); gateway errors throw with err.code', async () => {
    const client = sdk(KEY_A);
    expect(await sdkError(sdkCall(client, 'SendChatappMessage', {}, 'query'))).toEqual({ code: 'InvalidAction.NotFound', statusCode: 404 });
    expect(await sdkError(sdkCall(client, 'QueryChatappBindWaba', { CustSpaceId: 'C00000000000000' }, 'query'))).toEqual({
      code: 'Unknown.ResourceOwnerId',
      statusCode: 400,
    });
    expect(await sdkError(sdkCall(client, 'ChatappBindWaba', {}, 'body'))).toEqual({ code: 'MissingParameter', statusCode: 400 });
  });

  it("denials (PUT /__sandbox/faults) answer the seed pages' Ram.PermissionDeny and Product.Unsubscript, 400, to the key and action named", async () => {
    const put = await control(sb, 'PUT', '/__sandbox/faults', {
      denials: [
        { code: 'Ram.PermissionDeny', accessKeyId: KEY_A.accessKeyId, action: 'ListChatappTemplate' },
        { code: 'Product.Unsubscript', accessKeyId: KEY_B.accessKeyId },
      ],
    });
    expect(put.status).toBe(200);
    try {
      expect(await sdkError(sdkCall(sdk(KEY_A), 'ListChatappTemplate', {}, 'query'))).toEqual({ code: 'Ram.PermissionDeny', statusCode: 400 });
      // Another action of the same key, and any action of the unsubscribed one.
      expect((await sdkCall(sdk(KEY_A), 'QueryChatappBindWaba', {}, 'query')).body['Code']).toBe('OK');
      expect(await sdkError(sdkCall(sdk(KEY_B), 'QueryChatappBindWaba', {}, 'body'))).toEqual({ code: 'Product.Unsubscript', statusCode: 400 });
      const log = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
      expect(log.at(-1)).toMatchObject({ AccessKeyId: KEY_B.accessKeyId, HttpStatus: 400, Code: 'Product.Unsubscript' });
      // A key the sandbox does not have is named.
      const bad = await control(sb, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', accessKeyId: 'LTAInobody' }] });
      expect(bad).toMatchObject({ status: 400, json: { Code: 'InvalidInput', Message: expect.stringContaining('denials.0.accessKeyId') } });
    } finally {
      await control(sb, 'PUT', '/__sandbox/faults', {});
    }
  });
});
