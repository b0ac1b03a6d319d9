import * as $OpenApi from '@alicloud/openapi-client';
import * as openApiUtilModule from '@alicloud/openapi-util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox, SandboxKey } from '../../../local/sandbox/server.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CAMS_VERSION } from '../../../shared/cams/operations.ts';
import { unwrapDefault } from '../../support/official-sdk.ts';
import { bind, call, control, KEY_A, KEY_B, prepareCall, send, start } from './helpers.ts';

const Client = unwrapDefault<typeof $OpenApi.default.default>($OpenApi);
const OpenApiUtil = unwrapDefault<{ query(filter: Record<string, unknown>): Record<string, string>; arrayToStringWithSpecifiedStyle(a: unknown, p: string, s: string): string }>(
  openApiUtilModule,
);
type SdkClient = InstanceType<typeof Client>;
type Runtime = Parameters<SdkClient['callApi']>[2];

let sb: RunningSandbox;
let space: string;
beforeAll(async () => {
  sb = await start();
});
afterAll(async () => {
  await sb.close();
});
beforeEach(async () => {
  await control(sb, 'POST', '/__sandbox/reset');
  space = await bind(sb, '7700001');
  for (const phone of ['13800000001', '13800000002']) {
    const r = await call(sb, { action: 'AddChatappPhoneNumber', params: { CustSpaceId: space, Cc: '86', PhoneNumber: phone, VerifiedName: 'Acme Shop' } });
    expect(r.json['Code']).toBe('OK');
  }
  await control(sb, 'PUT', '/__sandbox/templates', {
    CustSpaceId: space,
    Templates: [
      { TemplateCode: 'order_update', Language: 'en_US' },
      { TemplateCode: 'order_update', Language: 'zh_CN', AuditStatus: 'auditing' },
      { TemplateCode: 'welcome', Language: 'en', AuditStatus: 'fail', Reason: 'INVALID_FORMAT', Category: 'MARKETING' },
    ],
  });
});

/** The call exactly as the official SDK's ListChatappTemplate / QueryChatappPhoneNumbers make it (RPC, params in the query). */
async function sdkCall(key: SandboxKey, action: string, query: Record<string, unknown>) {
  const client = new Client(new $OpenApi.Config({ accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret, endpoint: `127.0.0.1:${sb.port}`, protocol: 'HTTP' }));
  const params = new $OpenApi.Params({ action, version: CAMS_VERSION, protocol: 'HTTP', pathname: '/', method: 'POST', authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json' });
  const res = await client.callApi(params, new $OpenApi.OpenApiRequest({ query: OpenApiUtil.query(query) }), {} as Runtime);
  return res.body as Record<string, unknown>;
}

describe('QueryChatappPhoneNumbers', () => {
  it('lists the space\'s numbers with the reference page\'s fields, beside Code (no Data); control API sets quality, tier and status', async () => {
    const body = await sdkCall(KEY_A, 'QueryChatappPhoneNumbers', { CustSpaceId: space });
    expect(body['Code']).toBe('OK');
    expect(body['Data']).toBeUndefined();
    const phones = body['PhoneNumbers'] as Array<Record<string, string>>;
    expect(phones.map((p) => p['PhoneNumber'])).toEqual(['8613800000001', '8613800000002']);
    expect(phones[0]).toMatchObject({ VerifiedName: 'Acme Shop', Status: 'CONNECTED', QualityRating: 'GREEN', MessagingLimitTier: 'TIER_1K' });

    const set = await control(sb, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000002', QualityRating: 'YELLOW', MessagingLimitTier: 'TIER_250', Status: 'FLAGGED' });
    expect(set.status).toBe(200);
    const after = (await sdkCall(KEY_A, 'QueryChatappPhoneNumbers', { CustSpaceId: space }))['PhoneNumbers'] as Array<Record<string, string>>;
    expect(after[1]).toMatchObject({ PhoneNumber: '8613800000002', QualityRating: 'YELLOW', MessagingLimitTier: 'TIER_250', Status: 'FLAGGED' });
    // TIER_2K (Meta's step after TIER_250 now) is a tier the number can report, as the monitor ranks it.
    expect((await control(sb, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000002', MessagingLimitTier: 'TIER_2K' })).status).toBe(200);
    const twoK = (await sdkCall(KEY_A, 'QueryChatappPhoneNumbers', { CustSpaceId: space }))['PhoneNumbers'] as Array<Record<string, string>>;
    expect(twoK[1]).toMatchObject({ PhoneNumber: '8613800000002', MessagingLimitTier: 'TIER_2K' });
    // Status filters.
    const flagged = (await sdkCall(KEY_A, 'QueryChatappPhoneNumbers', { CustSpaceId: space, Status: 'FLAGGED' }))['PhoneNumbers'] as unknown[];
    expect(flagged).toHaveLength(1);

    // A removed number is gone from the list and may be added again.
    expect((await control(sb, 'DELETE', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000001' })).status).toBe(200);
    const left = (await sdkCall(KEY_A, 'QueryChatappPhoneNumbers', { CustSpaceId: space }))['PhoneNumbers'] as Array<Record<string, string>>;
    expect(left.map((p) => p['PhoneNumber'])).toEqual(['8613800000002']);
  });

  it('bad control input names the field; another account\'s space is Unknown.ResourceOwnerId', async () => {
    const bad = await control(sb, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000001', QualityRating: 'BLUE' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain('QualityRating');
    const unknown = await control(sb, 'PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613899999999', QualityRating: 'RED' });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.json)).toContain('PhoneNumber');
    const foreign = await call(sb, { action: 'QueryChatappPhoneNumbers', params: { CustSpaceId: space }, key: KEY_B });
    expect(foreign.json['Code']).toBe('Unknown.ResourceOwnerId');
  });
});

describe('ListChatappTemplate', () => {
  it('pages with the SDK\'s JSON Page param, filters by AuditStatus, and reports Total', async () => {
    const page = OpenApiUtil.arrayToStringWithSpecifiedStyle({ Index: 1, Size: 2 }, 'Page', 'json');
    expect(page).toBe('{"Index":1,"Size":2}');
    const first = await sdkCall(KEY_A, 'ListChatappTemplate', { CustSpaceId: space, Page: page });
    expect(first['Code']).toBe('OK');
    expect(first['Total']).toBe(3);
    const list = first['ListTemplate'] as Array<Record<string, string>>;
    expect(list.map((t) => `${t['TemplateCode']}/${t['Language']}/${t['AuditStatus']}`)).toEqual(['order_update/en_US/pass', 'order_update/zh_CN/auditing']);
    const second = await sdkCall(KEY_A, 'ListChatappTemplate', { CustSpaceId: space, Page: '{"Index":2,"Size":2}' });
    expect((second['ListTemplate'] as Array<Record<string, string>>)[0]).toMatchObject({ TemplateCode: 'welcome', AuditStatus: 'fail', Reason: 'INVALID_FORMAT', Category: 'MARKETING', TemplateType: 'WHATSAPP' });
    const passed = await sdkCall(KEY_A, 'ListChatappTemplate', { CustSpaceId: space, AuditStatus: 'pass' });
    expect(passed['Total']).toBe(1);

    // The control API changes a template's status and removes templates.
    await control(sb, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'zh_CN', AuditStatus: 'pass' }] });
    expect((await sdkCall(KEY_A, 'ListChatappTemplate', { CustSpaceId: space, AuditStatus: 'pass' }))['Total']).toBe(2);
    await control(sb, 'DELETE', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'welcome', Language: 'en' }] });
    expect((await sdkCall(KEY_A, 'ListChatappTemplate', { CustSpaceId: space }))['Total']).toBe(2);
  });

  it('a template paused or disabled (PUT /__sandbox/templates) is listed as pass: the listing documents four review states', async () => {
    const put = await control(sb, 'PUT', '/__sandbox/templates', {
      CustSpaceId: space,
      Templates: [
        { TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'paused' },
        { TemplateCode: 'order_update', Language: 'zh_CN', AuditStatus: 'disabled' },
      ],
    });
    expect(put.status).toBe(200);
    const body = await sdkCall(KEY_A, 'ListChatappTemplate', { CustSpaceId: space, AuditStatus: 'pass' });
    const list = body['ListTemplate'] as Array<Record<string, string>>;
    expect(list.map((t) => `${t['TemplateCode']}/${t['Language']}/${t['AuditStatus']}`)).toEqual(['order_update/en_US/pass', 'order_update/zh_CN/pass']);
  });

  it('a malformed Page or AuditStatus is InvalidParameter naming it', async () => {
    const badPage = await call(sb, { action: 'ListChatappTemplate', params: { CustSpaceId: space, Page: 'one' } });
    expect(badPage.json['Code']).toBe('InvalidParameter');
    expect(String(badPage.json['Message'])).toContain('Page');
    const badSize = await call(sb, { action: 'ListChatappTemplate', params: { CustSpaceId: space, Page: '{"Size":0}' } });
    expect(String(badSize.json['Message'])).toContain('Page.Size');
    const badAudit = await call(sb, { action: 'ListChatappTemplate', params: { CustSpaceId: space, AuditStatus: 'ok' } });
    expect(String(badAudit.json['Message'])).toContain('AuditStatus');
  });

  it('is limited to 5 QPS per account (QueryChatappPhoneNumbers to 10)', async () => {
    const burst = async (action: string, n: number, params: Record<string, string>) => {
      const prepared = Array.from({ length: n }, () => prepareCall(sb, { action, params }));
      const started = Date.now();
      const replies = await Promise.all(prepared.map(send));
      return { ok: replies.filter((r) => r.json['Code'] === 'OK').length, throttled: replies.filter((r) => r.json['Code'] === 'System.LimitControl').length, ms: Date.now() - started };
    };
    const t = await burst('ListChatappTemplate', 20, { CustSpaceId: space });
    expect(t.ok + t.throttled).toBe(20);
    if (t.ms < 1000) expect(t.ok).toBeLessThanOrEqual(5);
    expect(t.throttled).toBeGreaterThanOrEqual(5);
    const p = await burst('QueryChatappPhoneNumbers', 30, { CustSpaceId: space });
    if (p.ms < 1000) expect(p.ok).toBeLessThanOrEqual(10);
    expect(p.throttled).toBeGreaterThanOrEqual(10);
  });
});

describe('our CamsClient reads both replies', () => {
  it('listTemplates and queryPhoneNumbers parse the top-level lists', async () => {
    const client = new CamsClient({ endpoint: sb.url, credentials: KEY_A, budget: new CamsBudget() });
    const phones = await client.queryPhoneNumbers({ CustSpaceId: space });
    expect(phones.data.PhoneNumbers.map((p) => p.QualityRating)).toEqual(['GREEN', 'GREEN']);
    const templates = await client.listTemplates({ CustSpaceId: space, Page: JSON.stringify({ Index: 1, Size: 10 }) });
    expect(templates.data.Total).toBe(3);
    expect(templates.data.ListTemplate.map((t) => t.TemplateCode)).toEqual(['order_update', 'order_update', 'welcome']);
  });
});

describe('state across restarts', () => {
  it('quality, tier, status and template review states survive a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sandbox-disc-'));
    try {
      let s = await start({ dataDir: dir });
      const cs = await bind(s, '7700002');
      await call(s, { action: 'AddChatappPhoneNumber', params: { CustSpaceId: cs, Cc: '65', PhoneNumber: '90001234', VerifiedName: 'Acme Shop' } });
      await control(s, 'PUT', '/__sandbox/phone', { CustSpaceId: cs, PhoneNumber: '6590001234', QualityRating: 'RED', MessagingLimitTier: 'TIER_50' });
      await control(s, 'PUT', '/__sandbox/templates', { CustSpaceId: cs, Templates: [{ TemplateCode: 'tpl', Language: 'en', AuditStatus: 'unaudit' }] });
      await s.close();
      s = await start({ dataDir: dir });
      const phones = (await call(s, { action: 'QueryChatappPhoneNumbers', params: { CustSpaceId: cs } })).json['PhoneNumbers'] as Array<Record<string, string>>;
      expect(phones[0]).toMatchObject({ QualityRating: 'RED', MessagingLimitTier: 'TIER_50' });
      const templates = (await call(s, { action: 'ListChatappTemplate', params: { CustSpaceId: cs } })).json['ListTemplate'] as Array<Record<string, string>>;
      expect(templates[0]).toMatchObject({ TemplateCode: 'tpl', AuditStatus: 'unaudit' });
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
