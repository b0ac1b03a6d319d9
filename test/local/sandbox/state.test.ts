import http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import type { HealthEntity } from '../../../shared/cams/operations.ts';
import { acsEncode, signAcs3Request } from '../../../shared/acs3/index.ts';
import { bind, call, control, KEY_A, KEY_B, start, type Reply } from './helpers.ts';

let sb: RunningSandbox;
beforeAll(async () => {
  // Generous limits: these tests are about state, not throttling.
  sb = await start({ qps: { ChatappBindWaba: 1000, QueryChatappBindWaba: 1000, AddChatappPhoneNumber: 1000, GetWhatsappHealthStatus: 1000 } });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(async () => {
  expect((await control(sb, 'POST', '/__sandbox/reset')).status).toBe(200);
});

const addPhone = (params: Record<string, string>, key = KEY_A) => call(sb, { action: 'AddChatappPhoneNumber', params, key, where: 'body' });
const health = (params: Record<string, string>, key = KEY_A) => call(sb, { action: 'GetWhatsappHealthStatus', params, key });
const healthData = (r: Reply) => r.json['Data'] as { CanSendMessage: string; Entities: HealthEntity[] };

function expectError(r: Reply, status: number, code: string, mentions?: string) {
  expect(r.status).toBe(status);
  expect(r.json['Code']).toBe(code);
  if (mentions) expect(String(r.json['Message'])).toContain(mentions);
}

describe('ChatappBindWaba / QueryChatappBindWaba', () => {
  it('binding is idempotent per account and exclusive across accounts', async () => {
    const first = await bind(sb, '111111');
    expect(await bind(sb, '111111')).toBe(first);
    expect(await bind(sb, '222222')).not.toBe(first);
    expectError(await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '111111' }, key: KEY_B }), 400, 'Unknown.ResourceOwnerId');
  });

  it('WabaId is required and must be digits', async () => {
    expectError(await call(sb, { action: 'ChatappBindWaba', params: {} }), 400, 'MissingParameter', 'WabaId');
    expectError(await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '12ab' } }), 400, 'InvalidParameter', 'WabaId');
  });

  it('query returns the bound WABA; a foreign or unknown space is Unknown.ResourceOwnerId', async () => {
    const space = await bind(sb, '333333');
    const r = await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: space } });
    expect(r.status).toBe(200);
    const data = r.json['Data'] as Record<string, unknown>;
    expect(data).toMatchObject({ Id: '333333', AccountReviewStatus: 'APPROVED', Currency: 'USD' });
    for (const f of ['Name', 'MessageTemplateNamespace', 'BusinessId', 'BusinessName', 'PrimaryBusinessLocation']) {
      expect(typeof data[f]).toBe('string');
    }
    expect(typeof data['AuthInternationalRateEligibility']).toBe('object');
    expectError(await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: space }, key: KEY_B }), 400, 'Unknown.ResourceOwnerId');
    expectError(await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: 'C99999999999999' } }), 400, 'Unknown.ResourceOwnerId');
  });

  it("without CustSpaceId: the account's own WABA, one per account, set through PUT /__sandbox/own-waba", async () => {
    const query = async (params: Record<string, string>, key = KEY_A) => {
      const r = await call(sb, { action: 'QueryChatappBindWaba', params, key });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ Code: 'OK', Message: 'SUCCESS', Success: true, AccessDeniedDetail: 'None' });
      return r.json['Data'] as Record<string, unknown>;
    };
    const ownA = await query({});
    const ownB = await query({}, KEY_B);
    expect(ownA).toMatchObject({ Id: expect.stringMatching(/^\d+$/), AccountReviewStatus: 'APPROVED', Currency: 'USD' });
    expect(ownB['Id']).not.toBe(ownA['Id']);
    // IsvCode is optional and taken as it is; an empty CustSpaceId counts as absent.
    expect(await query({ IsvCode: 'aksik93kdkkxmwol93939' })).toEqual(ownA);
    expect(await query({ CustSpaceId: '' })).toEqual(ownA);

    const put = await control(sb, 'PUT', '/__sandbox/own-waba', { AccessKeyId: KEY_A.accessKeyId, WabaId: '20393988393993', Name: 'Alibaba', AccountReviewStatus: 'PENDING' });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ AccessKeyId: KEY_A.accessKeyId, WabaId: '20393988393993', AccountReviewStatus: 'PENDING' });
    expect(await query({})).toMatchObject({ Id: '20393988393993', Name: 'Alibaba', AccountReviewStatus: 'PENDING' });
    expect((await query({}, KEY_B))['Id']).toBe(ownB['Id']);
    const listed = (await control(sb, 'GET', '/__sandbox/own-waba')).json as Array<Record<string, string>>;
    expect(listed.map((w) => [w['AccessKeyId'], w['WabaId']])).toEqual([
      [KEY_A.accessKeyId, '20393988393993'],
      [KEY_B.accessKeyId, ownB['Id']],
    ]);

    for (const [body, field] of [
      [{ AccessKeyId: 'LTAInobody', WabaId: '1' }, 'AccessKeyId'],
      [{ AccessKeyId: KEY_A.accessKeyId, WabaId: '12ab' }, 'WabaId'],
      [{ AccessKeyId: KEY_A.accessKeyId, AccountReviewStatus: 'MAYBE' }, 'AccountReviewStatus'],
      [{ WabaId: '1' }, 'AccessKeyId'],
    ] as const) {
      const r = await control(sb, 'PUT', '/__sandbox/own-waba', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((r.json as { Message: string }).Message).toContain(field);
    }
    // reset brings back the default
    await control(sb, 'POST', '/__sandbox/reset');
    expect(await query({})).toEqual(ownA);
  });

  it('the review status can be steered through the control API', async () => {
    const space = await bind(sb, '333334');
    expect((await control(sb, 'PUT', '/__sandbox/waba', { CustSpaceId: space, AccountReviewStatus: 'PENDING' })).status).toBe(200);
    const r = await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: space } });
    expect((r.json['Data'] as Record<string, unknown>)['AccountReviewStatus']).toBe('PENDING');
  });
});

describe('AddChatappPhoneNumber', () => {
  it('validates every field and names it', async () => {
    const space = await bind(sb, '444444');
    const good = { CustSpaceId: space, Cc: '86', PhoneNumber: '13800001111', VerifiedName: 'Alibaba' };
    for (const field of ['CustSpaceId', 'Cc', 'PhoneNumber', 'VerifiedName']) {
      const { [field]: _gone, ...rest } = good as Record<string, string>;
      expectError(await addPhone(rest), 400, 'MissingParameter', field);
    }
    const bad: [Partial<typeof good>, string][] = [
      [{ Cc: '+86' }, 'Cc'],
      [{ Cc: '8612' }, 'Cc'],
      [{ Cc: 'ab' }, 'Cc'],
      [{ PhoneNumber: '138-0000' }, 'PhoneNumber'],
      [{ PhoneNumber: '1380000111122223' }, 'PhoneNumber'], // 2 + 16 digits
      [{ Cc: '861', PhoneNumber: '1380000111122' }, 'PhoneNumber'], // 3 + 13 = 16 digits
      [{ VerifiedName: 'ab' }, 'VerifiedName'],
      [{ VerifiedName: 'x'.repeat(513) }, 'VerifiedName'],
    ];
    for (const [change, field] of bad) expectError(await addPhone({ ...good, ...change }), 400, 'InvalidParameter', field);

    // Boundaries that are fine: 15 digits in all, names of 3 and 512 characters.
    expect((await addPhone({ ...good, Cc: '86', PhoneNumber: '1380000111122' })).json['Code']).toBe('OK');
    expect((await addPhone({ ...good, PhoneNumber: '13800002222', VerifiedName: 'abc' })).json['Code']).toBe('OK');
    expect((await addPhone({ ...good, PhoneNumber: '13800003333', VerifiedName: 'n'.repeat(512) })).json['Code']).toBe('OK');
  });

  it('a duplicate number is a business failure (HTTP 200, Phone.Exists), in any space of any account', async () => {
    const spaceA = await bind(sb, '555555');
    const spaceA2 = await bind(sb, '555556');
    const spaceB = await bind(sb, '555557', KEY_B);
    const phone = { Cc: '65', PhoneNumber: '91234567', VerifiedName: 'Acme' };
    const ok = await addPhone({ ...phone, CustSpaceId: spaceA });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ Code: 'OK', Success: true });
    for (const [space, key] of [[spaceA, KEY_A], [spaceA2, KEY_A], [spaceB, KEY_B]] as const) {
      const dup = await addPhone({ ...phone, CustSpaceId: space }, key);
      expect(dup.status).toBe(200);
      expect(dup.json).toMatchObject({ Code: 'Phone.Exists', Success: false });
    }
  });

  it("another account's space or an unknown one is Unknown.ResourceOwnerId", async () => {
    const spaceB = await bind(sb, '666666', KEY_B);
    const phone = { Cc: '65', PhoneNumber: '81234567', VerifiedName: 'Acme' };
    expectError(await addPhone({ ...phone, CustSpaceId: spaceB }), 400, 'Unknown.ResourceOwnerId');
    expectError(await addPhone({ ...phone, CustSpaceId: 'Cnope' }), 400, 'Unknown.ResourceOwnerId');
    // And the failed attempts did not reserve the number.
    expect((await addPhone({ ...phone, CustSpaceId: spaceB }, KEY_B)).json['Code']).toBe('OK');
  });

  it('a chunked form body without Content-Length is read in full', async () => {
    const space = await bind(sb, '777777');
    const params = { CustSpaceId: space, Cc: '44', PhoneNumber: '7700900123', VerifiedName: 'Chunky Ltd' };
    const body = Object.entries(params).map(([k, v]) => `${acsEncode(k)}=${acsEncode(v)}`).join('&');
    const headers = signAcs3Request(
      {
        method: 'POST',
        path: '/',
        headers: {
          host: `127.0.0.1:${sb.port}`,
          'x-acs-action': 'AddChatappPhoneNumber',
          'x-acs-version': '2020-06-06',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body,
      },
      KEY_A,
    );
    const reply = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; json: Record<string, unknown> }>((resolve, reject) => {
      const req = http.request(`${sb.url}/`, { method: 'POST', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      req.on('error', reject);
      // Three writes, no Content-Length: node sends Transfer-Encoding: chunked.
      req.write(body.slice(0, 10));
      setTimeout(() => {
        req.write(body.slice(10, 30));
        setTimeout(() => req.end(body.slice(30)), 20);
      }, 20);
    });
    expect(reply.status).toBe(200);
    expect(reply.json['Code']).toBe('OK');
    const dup = await addPhone(params);
    expect(dup.json['Code']).toBe('Phone.Exists');
  });
});

describe('GetWhatsappHealthStatus', () => {
  it('reports the node and the entities above it, AVAILABLE by default', async () => {
    const space = await bind(sb, '888888');
    const waba = healthData(await health({ CustSpaceId: space, NodeType: 'waba' }));
    expect(waba.CanSendMessage).toBe('AVAILABLE');
    // Meta: the WABA, business and app are always included, for a WABA node too.
    expect(waba.Entities.map((e) => e.EntityType)).toEqual(['WABA', 'BUSINESS', 'APP']);
    expect(waba.Entities[0]).toMatchObject({ WabaId: '888888', BusinessId: expect.stringMatching(/^\d+$/), CanSendMessage: 'AVAILABLE' });
    // As the seed shows it: an Errors array on every entity, empty when there is nothing wrong.
    for (const e of waba.Entities) expect(e.Errors).toEqual([]);

    // A template exists once registered (CAMS creates templates through operations the sandbox does not have).
    expectError(await health({ CustSpaceId: space, NodeType: 'template', TemplateCode: 'T1', Language: 'en' }), 400, 'Unknown.ResourceOwnerId');
    const reg = await control(sb, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'T1', Language: 'en' }] });
    expect(reg.status).toBe(200);
    const tpl = healthData(await health({ CustSpaceId: space, NodeType: 'template', TemplateCode: 'T1', Language: 'en' }));
    expect(tpl.Entities.map((e) => e.EntityType)).toEqual(['MESSAGE_TEMPLATE', 'WABA', 'BUSINESS', 'APP']);
    expect(tpl.Entities[0]).toMatchObject({ TemplateCode: 'T1', Language: 'en' });

    // WabaId, when given, must be the space's.
    expect((await health({ CustSpaceId: space, NodeType: 'waba', WabaId: '888888' })).json['Code']).toBe('OK');
    expectError(await health({ CustSpaceId: space, NodeType: 'waba', WabaId: '123' }), 400, 'Unknown.ResourceOwnerId');
    // A blank WabaId is a missing one, as a blank value is for every other param: the space's WABA.
    for (const WabaId of ['', ' ', '\t']) expect((await health({ CustSpaceId: space, NodeType: 'waba', WabaId })).json['Code'], JSON.stringify(WabaId)).toBe('OK');
    // The same template in another language, and a phone never added, do not exist either.
    expectError(await health({ CustSpaceId: space, NodeType: 'template', TemplateCode: 'T1', Language: 'fr' }), 400, 'Unknown.ResourceOwnerId');
    expectError(await health({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800009999' }), 400, 'Unknown.ResourceOwnerId');
    expect((await addPhone({ CustSpaceId: space, Cc: '86', PhoneNumber: '13800009999', VerifiedName: 'Alibaba' })).json['Code']).toBe('OK');
    const phone = await health({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800009999' });
    expect(phone.json).toMatchObject({ Code: 'OK', Message: 'None', Success: true });
  });

  it('PUT /__sandbox/templates: names the bad field; a phone must be added before its health is set', async () => {
    const space = await bind(sb, '888890');
    for (const [body, field] of [
      [{ CustSpaceId: 'Cnope', Templates: [{ TemplateCode: 'T', Language: 'en' }] }, 'CustSpaceId'],
      [{ CustSpaceId: space, Templates: [] }, 'Templates'],
      [{ CustSpaceId: space, Templates: [{ TemplateCode: 'T' }] }, 'Language'],
      [{ CustSpaceId: space, Templates: [{ TemplateCode: ' ', Language: 'en' }] }, 'TemplateCode'],
    ] as const) {
      const r = await control(sb, 'PUT', '/__sandbox/templates', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((r.json as { Message: string }).Message).toContain(field);
    }
    const r = await control(sb, 'PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800001234', CanSendMessage: 'BLOCKED' });
    expect(r.status).toBe(400);
    expect((r.json as { Message: string }).Message).toContain('PhoneNumber');
  });

  it('checks the params each node type needs', async () => {
    const space = await bind(sb, '888889');
    expectError(await health({ CustSpaceId: space }), 400, 'MissingParameter', 'NodeType');
    expectError(await health({ NodeType: 'waba' }), 400, 'MissingParameter', 'CustSpaceId');
    expectError(await health({ CustSpaceId: space, NodeType: 'app' }), 400, 'InvalidParameter', 'NodeType');
    expectError(await health({ CustSpaceId: space, NodeType: 'phone' }), 400, 'MissingParameter', 'PhoneNumber');
    expectError(await health({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: 'abc' }), 400, 'InvalidParameter', 'PhoneNumber');
    expectError(await health({ CustSpaceId: space, NodeType: 'template', Language: 'en' }), 400, 'MissingParameter', 'TemplateCode');
    expectError(await health({ CustSpaceId: space, NodeType: 'template', TemplateCode: 'T' }), 400, 'MissingParameter', 'Language');
    expectError(await health({ CustSpaceId: space, NodeType: 'waba' }, KEY_B), 400, 'Unknown.ResourceOwnerId');
  });

  it('health set per node through the control API; the overall value is the worst entity', async () => {
    const space = await bind(sb, '999999');
    expect((await addPhone({ CustSpaceId: space, Cc: '86', PhoneNumber: '13800001111', VerifiedName: 'Alibaba' })).json['Code']).toBe('OK');
    const errs = [{ ErrorCode: '141006', ErrorDescription: 'There is an error with the payment method.', PossibleSolution: 'Add a payment method.' }];

    // Set through the national number: it resolves to the space's phone with its Cc.
    const put = await control(sb, 'PUT', '/__sandbox/health', {
      CustSpaceId: space,
      NodeType: 'phone',
      PhoneNumber: '13800001111',
      CanSendMessage: 'LIMITED',
      Errors: errs,
    });
    expect(put.status).toBe(200);

    const phone = healthData(await health({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800001111' }));
    expect(phone.CanSendMessage).toBe('LIMITED');
    expect(phone.Entities[0]).toMatchObject({ EntityType: 'PHONE_NUMBER', PhoneNumber: '8613800001111', CanSendMessage: 'LIMITED', Errors: errs });
    expect(phone.Entities[1]).toMatchObject({ EntityType: 'WABA', CanSendMessage: 'AVAILABLE' });
    // Other nodes are untouched.
    expect(healthData(await health({ CustSpaceId: space, NodeType: 'waba' })).CanSendMessage).toBe('AVAILABLE');
    expect((await addPhone({ CustSpaceId: space, Cc: '86', PhoneNumber: '13800002222', VerifiedName: 'Alibaba' })).json['Code']).toBe('OK');
    expect(healthData(await health({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800002222' })).CanSendMessage).toBe('AVAILABLE');

    // A blocked WABA makes every node under it BLOCKED overall, though the node itself is only LIMITED.
    await control(sb, 'PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'waba', CanSendMessage: 'BLOCKED' });
    const again = healthData(await health({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '+8613800001111' }));
    expect(again.CanSendMessage).toBe('BLOCKED');
    expect(again.Entities.map((e) => e.CanSendMessage)).toEqual(['LIMITED', 'BLOCKED', 'AVAILABLE', 'AVAILABLE']);
    expect(healthData(await health({ CustSpaceId: space, NodeType: 'waba' })).CanSendMessage).toBe('BLOCKED');

    // Templates are keyed by code and language.
    await control(sb, 'PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'waba', CanSendMessage: 'AVAILABLE' });
    await control(sb, 'PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'template', TemplateCode: 'T9', Language: 'en', CanSendMessage: 'BLOCKED' });
    expect(healthData(await health({ CustSpaceId: space, NodeType: 'template', TemplateCode: 'T9', Language: 'en' })).CanSendMessage).toBe('BLOCKED');
    await control(sb, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'T9', Language: 'fr' }] });
    expect(healthData(await health({ CustSpaceId: space, NodeType: 'template', TemplateCode: 'T9', Language: 'fr' })).CanSendMessage).toBe('AVAILABLE');
  });
});
