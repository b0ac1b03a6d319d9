import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { signAcs3Request } from '../../../shared/acs3/index.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { call, control, KEY_A, KEY_B, prepareCall, send, start, UUID_UPPER } from './helpers.ts';

let sb: RunningSandbox;
beforeAll(async () => {
  sb = await start();
});
afterAll(async () => {
  await sb.close();
});

function expectGatewayError(r: { status: number; json: Record<string, unknown>; headers: Record<string, unknown> }, status: number, code: string) {
  expect(r.status).toBe(status);
  expect(r.json['Code']).toBe(code);
  expect(r.json['RequestId']).toMatch(UUID_UPPER);
  expect(r.headers['x-acs-request-id']).toBe(r.json['RequestId']);
  expect(r.json['HostId']).toEqual(expect.any(String));
  expect(r.json['Recommend']).toContain(String(r.json['RequestId']));
  expect(r.json['Message']).toEqual(expect.any(String));
}

describe('ACS3 checks on CAMS calls', () => {
  it('a correctly signed call succeeds, with query or form body', async () => {
    const q = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '800001' } });
    expect(q.status).toBe(200);
    expect(q.json['Code']).toBe('OK');
    const b = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '800002' }, where: 'body' });
    expect(b.json['Code']).toBe('OK');
  });

  it('the same signed request sent twice: the second is SignatureNonceUsed', async () => {
    const p = prepareCall(sb, { action: 'ChatappBindWaba', params: { WabaId: '800003' } });
    const first = await send(p);
    expect(first.json['Code']).toBe('OK');
    const replay = await send(p);
    expectGatewayError(replay, 400, 'SignatureNonceUsed');
  });

  it('a date outside the 15-minute window is InvalidTimeStamp.Expired, in both directions', async () => {
    const old = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '800004' }, date: new Date(Date.now() - 16 * 60_000) });
    expectGatewayError(old, 400, 'InvalidTimeStamp.Expired');
    // The gateway's own sentence first (OpenAPI common error codes), then which header and window.
    expect(old.json['Message']).toMatch(/^Specified time stamp or date value is expired\. x-acs-date \S+ is outside the 15-minute window\.$/);
    const future = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '800004' }, date: new Date(Date.now() + 16 * 60_000) });
    expectGatewayError(future, 400, 'InvalidTimeStamp.Expired');
    const fine = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '800004' }, date: new Date(Date.now() - 10 * 60_000) });
    expect(fine.json['Code']).toBe('OK');
  });

  it('a wrong secret is SignatureDoesNotMatch; an unknown key is InvalidAccessKeyId.NotFound (404)', async () => {
    const wrong = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '800005' }, key: { ...KEY_A, accessKeySecret: 'x' } });
    expectGatewayError(wrong, 400, 'SignatureDoesNotMatch');
    // The gateway's wording; "does not conform to ... standards" is IncompleteSignature's.
    expect(wrong.json['Message']).toBe('Specified signature is not matched with our calculation.');
    const unknown = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '800005' }, key: { accessKeyId: 'LTAInobody', accessKeySecret: 'x' } });
    expectGatewayError(unknown, 404, 'InvalidAccessKeyId.NotFound');
  });

  it('tampering after signing breaks the signature: a changed query value, a changed body', async () => {
    const p = prepareCall(sb, { action: 'ChatappBindWaba', params: { WabaId: '800006' } });
    expectGatewayError(await send({ ...p, url: p.url.replace('800006', '800007') }), 400, 'SignatureDoesNotMatch');
    const b = prepareCall(sb, { action: 'ChatappBindWaba', params: { WabaId: '800008' }, where: 'body' });
    expectGatewayError(await send({ ...b, body: 'WabaId=800009' }), 400, 'SignatureDoesNotMatch');
  });

  it('no Authorization, or an unsigned x-acs-action, is IncompleteSignature', async () => {
    const p = prepareCall(sb, { action: 'ChatappBindWaba', params: { WabaId: '800010' } });
    const { Authorization: _drop, ...unsigned } = p.headers;
    expectGatewayError(await send({ ...p, headers: unsigned }), 400, 'IncompleteSignature');

    // Signed without x-acs-action, then the header added: the action must not be swappable.
    const headers = signAcs3Request(
      { method: 'POST', path: '/', query: { WabaId: '800010' }, headers: { host: `127.0.0.1:${sb.port}`, 'x-acs-version': '2020-06-06' } },
      KEY_A,
    );
    const auth = headers['Authorization']!;
    expect(auth).not.toContain('x-acs-action');
    const res = await httpRequest(`${sb.url}/?WabaId=800010`, { method: 'POST', headers: { ...headers, 'x-acs-action': 'ChatappBindWaba' } });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())['Code']).toBe('IncompleteSignature');
  });

  it('Action and Version as signed query params work when the headers are absent', async () => {
    const headers = signAcs3Request(
      {
        method: 'POST',
        path: '/',
        query: { Action: 'ChatappBindWaba', Version: '2020-06-06', WabaId: '800011' },
        headers: { host: `127.0.0.1:${sb.port}` },
      },
      KEY_A,
    );
    const res = await httpRequest(`${sb.url}/?Action=ChatappBindWaba&Version=2020-06-06&WabaId=800011`, { method: 'POST', headers });
    const json = JSON.parse(res.body.toString()) as Record<string, unknown>;
    expect(res.status).toBe(200);
    expect(json['Data']).toMatchObject({ WabaId: '800011' });
  });

  it('a wrong version is InvalidVersion; an unknown action InvalidAction.NotFound (404)', async () => {
    expectGatewayError(await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '1' }, version: '2017-06-01' }), 400, 'InvalidVersion');
    const r = await call(sb, { action: 'DeleteEverything', params: {} });
    expectGatewayError(r, 404, 'InvalidAction.NotFound');
    expect(r.json['Message']).toBe('Specified api is not found, please check your url and method.');
  });

  it('an STS token is accepted for a known key and attributed to that key; its account is the key', async () => {
    const space = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '800012' }, key: KEY_B, securityToken: 'STS.abcdef' });
    expect(space.json['Code']).toBe('OK');
    // Same account without the token sees the space; the other account does not.
    const spaceId = (space.json['Data'] as { CustSpaceId: string }).CustSpaceId;
    expect((await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: spaceId }, key: KEY_B })).json['Code']).toBe('OK');
    expect((await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: spaceId }, key: KEY_A })).json['Code']).toBe(
      'Unknown.ResourceOwnerId',
    );
    const calls = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
    const rec = calls.find((c) => c.Params['WabaId'] === '800012')!;
    expect(rec).toMatchObject({ AccessKeyId: KEY_B.accessKeyId, SecurityToken: 'STS.****', HttpStatus: 200 });
  });

  it('rejected calls are in the call log with their code, and no secret is anywhere in it', async () => {
    const calls = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
    const codes = new Set(calls.map((c) => c.Code));
    for (const code of ['SignatureNonceUsed', 'InvalidTimeStamp.Expired', 'SignatureDoesNotMatch', 'InvalidAccessKeyId.NotFound', 'IncompleteSignature']) {
      expect(codes).toContain(code);
    }
    const text = JSON.stringify(calls);
    expect(text).not.toContain(KEY_A.accessKeySecret);
    expect(text).not.toContain(KEY_B.accessKeySecret);
    expect(text).not.toContain('STS.abcdef');
  });
});
