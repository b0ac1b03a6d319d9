import { createRequire } from 'node:module';
import * as $OpenApi from '@alicloud/openapi-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import type { RunningSandbox, SandboxKey } from '../../../local/sandbox/server.ts';
import { CAMS_VERSION } from '../../../shared/cams/operations.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { unwrapDefault } from '../../support/official-sdk.ts';
import { control, KEY_A, KEY_B, start, UUID_UPPER } from './helpers.ts';

// The two official clients that still sign RPC calls the legacy way (SignatureVersion 1.0, HMAC-SHA1,
// everything in parameters): @alicloud/pop-core, and @alicloud/openapi-client with signatureAlgorithm 'v2'.
const require = createRequire(import.meta.url);
type PopJson = Record<string, unknown>;
interface PopClient {
  request(action: string, params: Record<string, string>, opts?: { method?: 'GET' | 'POST'; timeout?: number }): Promise<PopJson | [PopJson, { url: string }]>;
}
const PopCore = require('@alicloud/pop-core') as new (config: Record<string, unknown>, verbose?: boolean) => PopClient;
const Client = unwrapDefault<typeof $OpenApi.default.default>($OpenApi);
type SdkClient = InstanceType<typeof Client>;
type Runtime = Parameters<SdkClient['callApi']>[2];

let sb: RunningSandbox;
beforeAll(async () => {
  sb = await start({ qps: { ChatappBindWaba: 100, QueryChatappBindWaba: 100, AddChatappPhoneNumber: 100, GetWhatsappHealthStatus: 100 } });
});
afterAll(async () => {
  await sb.close();
});

function pop(key: SandboxKey, extra: Record<string, unknown> = {}, verbose = false): PopClient {
  // Phone.Exists is an answer, not an exception, as for the other SDK.
  return new PopCore({ accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret, endpoint: sb.url, apiVersion: CAMS_VERSION, codes: ['Phone.Exists'], ...extra }, verbose);
}

function v2(key: SandboxKey, securityToken?: string): SdkClient {
  return new Client(
    new $OpenApi.Config({
      accessKeyId: key.accessKeyId,
      accessKeySecret: key.accessKeySecret,
      ...(securityToken ? { securityToken } : {}),
      endpoint: `127.0.0.1:${sb.port}`,
      protocol: 'HTTP',
      signatureAlgorithm: 'v2',
    }),
  );
}

async function v2Call(client: SdkClient, action: string, params: Record<string, string>, where: 'query' | 'body'): Promise<PopJson> {
  const request = new $OpenApi.OpenApiRequest(where === 'query' ? { query: params } : { body: params });
  const apiParams = new $OpenApi.Params({ action, version: CAMS_VERSION, protocol: 'HTTP', pathname: '/', method: 'POST', authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json' });
  const res = await client.callApi(apiParams, request, {} as Runtime);
  return res.body as PopJson;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String((err as { code?: string }).code);
  }
  throw new Error('expected the SDK call to throw');
}

// Reserved and non-ASCII characters, where the SDKs' encodings and ours could part ways.
const ODD_NAME = "Acme & Sons (Café) *!'+=~ 日本";

type Caller = (action: string, params: Record<string, string>) => Promise<PopJson>;

/** All four operations with every parameter their seed page lists. */
async function allFour(callApi: Caller, n: string, key: SandboxKey): Promise<void> {
  const wabaId = `7300000000${n}`;
  const bound = await callApi('ChatappBindWaba', { WabaId: wabaId });
  expect(bound).toMatchObject({ Code: 'OK', Message: 'None', Success: true, AccessDeniedDetail: 'None', Data: { WabaId: wabaId } });
  expect(bound['RequestId']).toMatch(UUID_UPPER);
  const space = (bound['Data'] as { CustSpaceId: string }).CustSpaceId;

  const queried = await callApi('QueryChatappBindWaba', { CustSpaceId: space, IsvCode: 'aksik93kdkkxmwol93939' });
  expect(queried).toMatchObject({ Code: 'OK', Message: 'SUCCESS', Data: { Id: wabaId, AccountReviewStatus: 'APPROVED' } });
  const own = await callApi('QueryChatappBindWaba', {});
  expect(own).toMatchObject({ Code: 'OK', Data: { Id: expect.stringMatching(/^\d+$/) } });
  expect((own['Data'] as { Id: string }).Id).not.toBe(wabaId);

  const phone = `9123${n}00`;
  const added = await callApi('AddChatappPhoneNumber', { CustSpaceId: space, Cc: '65', PhoneNumber: phone, VerifiedName: ODD_NAME, PreValidateId: '1020' });
  expect(added).toMatchObject({ Code: 'OK', Message: 'None', Success: true });
  expect(added).not.toHaveProperty('Data');
  expect((await callApi('AddChatappPhoneNumber', { CustSpaceId: space, Cc: '65', PhoneNumber: phone, VerifiedName: ODD_NAME }))['Code']).toBe('Phone.Exists');

  await control(sb, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: '399299', Language: 'en' }] });
  const health = await callApi('GetWhatsappHealthStatus', { CustSpaceId: space, NodeType: 'phone', PhoneNumber: `65${phone}`, WabaId: wabaId });
  expect(health).toMatchObject({ Code: 'OK', Message: 'None', Data: { CanSendMessage: 'AVAILABLE' } });
  const tpl = await callApi('GetWhatsappHealthStatus', { CustSpaceId: space, NodeType: 'template', TemplateCode: '399299', Language: 'en', WabaId: wabaId });
  expect((tpl['Data'] as { Entities: { EntityType: string }[] }).Entities.map((e) => e.EntityType)).toEqual(['MESSAGE_TEMPLATE', 'WABA', 'BUSINESS', 'APP']);
  const waba = await callApi('GetWhatsappHealthStatus', { CustSpaceId: space, NodeType: 'waba', WabaId: wabaId });
  expect((waba['Data'] as { Entities: { EntityType: string; Errors: unknown[] }[] }).Entities).toEqual([
    expect.objectContaining({ EntityType: 'WABA', Errors: [] }),
    expect.objectContaining({ EntityType: 'BUSINESS', Errors: [] }),
    expect.objectContaining({ EntityType: 'APP', Errors: [] }),
  ]);

  // The sandbox saw them as this key's calls, with the name intact and no signature machinery in Params.
  const log = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
  const mine = log.filter((c) => c.Params['WabaId'] === wabaId || c.Params['CustSpaceId'] === space);
  expect(mine.length).toBe(7);
  for (const c of mine) {
    expect(c).toMatchObject({ AccessKeyId: key.accessKeyId, HttpStatus: 200 });
    for (const p of ['Signature', 'SignatureNonce', 'AccessKeyId', 'SecurityToken']) expect(c.Params).not.toHaveProperty(p);
  }
  expect(mine.find((c) => c.Action === 'AddChatappPhoneNumber')!.Params['VerifiedName']).toBe(ODD_NAME);
}

describe('@alicloud/pop-core (RPC, HMAC-SHA1) against the sandbox', () => {
  it('all four operations with every seed parameter, GET (params in the query)', async () => {
    const client = pop(KEY_A);
    await allFour((a, p) => client.request(a, p, { method: 'GET' }) as Promise<PopJson>, '1', KEY_A);
  });

  it('all four operations with every seed parameter, POST (params in a form body), second account', async () => {
    const client = pop(KEY_B);
    await allFour((a, p) => client.request(a, p, { method: 'POST' }) as Promise<PopJson>, '2', KEY_B);
  });

  it('with an STS token: accepted, logged masked, never in full', async () => {
    const token = `CAIS-pop-${Math.random().toString(36).slice(2)}`;
    const client = pop(KEY_A, { securityToken: token });
    const r = (await client.request('ChatappBindWaba', { WabaId: '7300000003' }, { method: 'POST' })) as PopJson;
    expect(r['Code']).toBe('OK');
    const log = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
    expect(log.find((c) => c.Params['WabaId'] === '7300000003')).toMatchObject({ SecurityToken: 'CAIS****', AccessKeyId: KEY_A.accessKeyId });
    expect(JSON.stringify(log)).not.toContain(token);
  });

  it('a wrong secret is SignatureDoesNotMatch; an unknown key InvalidAccessKeyId.NotFound', async () => {
    expect(await codeOf(pop({ ...KEY_A, accessKeySecret: 'not-the-secret' }).request('ChatappBindWaba', { WabaId: '1' }, { method: 'POST' }))).toBe('SignatureDoesNotMatch');
    expect(await codeOf(pop({ ...KEY_A, accessKeySecret: 'not-the-secret' }).request('ChatappBindWaba', { WabaId: '1' }, { method: 'GET' }))).toBe('SignatureDoesNotMatch');
    expect(await codeOf(pop({ accessKeyId: 'LTAInobody', accessKeySecret: 'x' }).request('ChatappBindWaba', { WabaId: '1' }))).toBe('InvalidAccessKeyId.NotFound');
  });

  it('the exact request the SDK sent, replayed, is SignatureNonceUsed', async () => {
    const [first, entry] = (await pop(KEY_A, {}, true).request('ChatappBindWaba', { WabaId: '7300000004' }, { method: 'GET' })) as [PopJson, { url: string }];
    expect(first['Code']).toBe('OK');
    expect(entry.url).toContain('SignatureNonce=');
    const replay = await httpRequest(entry.url, { method: 'GET' });
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body.toString())['Code']).toBe('SignatureNonceUsed');
  });
});

describe("@alicloud/openapi-client with signatureAlgorithm 'v2' against the sandbox", () => {
  it('all four operations with every seed parameter, params in the query', async () => {
    const client = v2(KEY_A);
    await allFour((a, p) => v2Call(client, a, p, 'query'), '5', KEY_A);
  });

  it('all four operations with every seed parameter, params in a form body, with an STS token', async () => {
    const client = v2(KEY_B, 'STS.v2-token-abcdef');
    await allFour((a, p) => v2Call(client, a, p, 'body'), '6', KEY_B);
    const log = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
    expect(JSON.stringify(log)).not.toContain('v2-token-abcdef');
  });

  it('a wrong secret is SignatureDoesNotMatch (400), in query and body', async () => {
    const client = v2({ ...KEY_A, accessKeySecret: 'nope' });
    expect(await codeOf(v2Call(client, 'ChatappBindWaba', { WabaId: '1' }, 'query'))).toBe('SignatureDoesNotMatch');
    expect(await codeOf(v2Call(client, 'ChatappBindWaba', { WabaId: '1' }, 'body'))).toBe('SignatureDoesNotMatch');
  });
});
