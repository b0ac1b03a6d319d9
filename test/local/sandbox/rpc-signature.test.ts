import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import { rpcSignature, rpcStringToSign } from '../../../local/sandbox/rpc-signature.ts';
import type { RunningSandbox, SandboxKey } from '../../../local/sandbox/server.ts';
import { CAMS_VERSION } from '../../../shared/cams/operations.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { control, formString, KEY_A, start } from './helpers.ts';

// The legacy RPC signature's checks one by one, on requests built by hand (the SDKs themselves are in
// rpc-sdk.test.ts). The sandbox's clock is injected, so the window is tested without waiting.
const NOW = Date.parse('2026-03-01T12:00:00Z');
let sb: RunningSandbox;
beforeAll(async () => {
  sb = await start({ now: () => NOW });
});
afterAll(async () => {
  await sb.close();
});

function signed(params: Record<string, string>, o: { key?: SandboxKey; method?: string; at?: number } = {}): Record<string, string> {
  const key = o.key ?? KEY_A;
  const p: Record<string, string> = {
    Action: 'ChatappBindWaba',
    Version: CAMS_VERSION,
    Format: 'JSON',
    AccessKeyId: key.accessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: randomUUID(),
    Timestamp: new Date(o.at ?? NOW).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...params,
  };
  return { ...p, Signature: rpcSignature(o.method ?? 'POST', p, key.accessKeySecret) };
}

async function send(params: Record<string, string>, o: { method?: 'GET' | 'POST'; headers?: Record<string, string> } = {}) {
  const method = o.method ?? 'POST';
  const form = formString(params);
  const res = await httpRequest(method === 'GET' ? `${sb.url}/?${form}` : `${sb.url}/`, {
    method,
    headers: { ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...o.headers },
    ...(method === 'POST' ? { body: form } : {}),
  });
  return { status: res.status, json: JSON.parse(res.body.toString()) as Record<string, unknown> };
}

describe('legacy RPC signature (SignatureVersion 1.0)', () => {
  it('the string to sign is METHOD&%2F&enc(sorted k=v), Signature left out', () => {
    expect(rpcStringToSign('post', { b: '2 3', a: '*', Signature: 'x' })).toBe('POST&%2F&a%3D%252A%26b%3D2%25203');
  });

  it('a correct signature passes, in the query or a form body', async () => {
    expect((await send(signed({ WabaId: '910001' }))).json['Code']).toBe('OK');
    expect((await send(signed({ WabaId: '910002' }, { method: 'GET' }), { method: 'GET' })).json['Code']).toBe('OK');
  });

  it.each(['AccessKeyId', 'Signature', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'Timestamp'])('without %s: IncompleteSignature naming it', async (name) => {
    const p = signed({ WabaId: '910003' });
    delete p[name];
    const r = await send(name === 'Signature' ? { ...p, Signature: '' } : p);
    expect(r.status).toBe(400);
    expect(r.json['Code']).toBe('IncompleteSignature');
    expect(String(r.json['Message'])).toContain(name);
  });

  it('another method or version, a malformed Timestamp: IncompleteSignature', async () => {
    const changes: Record<string, string>[] = [{ SignatureMethod: 'HMAC-SHA256' }, { SignatureVersion: '2.0' }, { Timestamp: '2026-03-01 12:00:00' }];
    for (const change of changes) {
      const r = await send(signed({ WabaId: '910004', ...change }));
      expect(r.json['Code'], JSON.stringify(change)).toBe('IncompleteSignature');
      expect(String(r.json['Message'])).toContain(Object.keys(change)[0]!);
    }
  });

  it('a Timestamp more than 15 minutes off, either way, is InvalidTimeStamp.Expired; 14 minutes is fine', async () => {
    const stale = await send(signed({ WabaId: '910005' }, { at: NOW - 16 * 60_000 }));
    expect(stale.json['Code']).toBe('InvalidTimeStamp.Expired');
    expect(stale.json['Message']).toBe('Specified time stamp or date value is expired. Timestamp 2026-03-01T11:44:00Z is outside the 15-minute window.');
    expect((await send(signed({ WabaId: '910005' }, { at: NOW + 16 * 60_000 }))).json['Code']).toBe('InvalidTimeStamp.Expired');
    expect((await send(signed({ WabaId: '910005' }, { at: NOW - 14 * 60_000 }))).json['Code']).toBe('OK');
  });

  it('a wrong secret, a changed parameter, a signature for another method: SignatureDoesNotMatch (400)', async () => {
    const wrong = await send(signed({ WabaId: '910006' }, { key: { ...KEY_A, accessKeySecret: 'wrong' } }));
    expect(wrong).toMatchObject({ status: 400, json: { Code: 'SignatureDoesNotMatch', Message: 'Specified signature is not matched with our calculation.' } });
    expect((await send({ ...signed({ WabaId: '910006' }), WabaId: '910007' })).json['Code']).toBe('SignatureDoesNotMatch');
    expect((await send({ ...signed({ WabaId: '910006' }), Extra: '1' })).json['Code']).toBe('SignatureDoesNotMatch');
    expect((await send(signed({ WabaId: '910006' }, { method: 'GET' }))).json['Code']).toBe('SignatureDoesNotMatch');
    const unknown = await send(signed({ WabaId: '910006' }, { key: { accessKeyId: 'LTAInobody', accessKeySecret: 'x' } }));
    expect(unknown).toMatchObject({ status: 404, json: { Code: 'InvalidAccessKeyId.NotFound' } });
  });

  it('a nonce is spent once, and only by a request that proves the key', async () => {
    const good = signed({ WabaId: '910008' });
    // A forger with the right nonce but no secret does not burn it.
    const forged = signed({ WabaId: '910008', SignatureNonce: good['SignatureNonce']! }, { key: { ...KEY_A, accessKeySecret: 'forger' } });
    expect((await send(forged)).json['Code']).toBe('SignatureDoesNotMatch');
    expect((await send(good)).json['Code']).toBe('OK');
    const replay = await send(good);
    expect(replay).toMatchObject({ status: 400, json: { Code: 'SignatureNonceUsed' } });
  });

  it('an unsigned x-acs-action or x-acs-version header cannot override the signed parameters', async () => {
    const r = await send(signed({ WabaId: '910009' }), { headers: { 'x-acs-action': 'AddChatappPhoneNumber' } });
    expect(r.json['Code']).toBe('IncompleteSignature');
    expect(String(r.json['Message'])).toContain('x-acs-action');
    const v = await send(signed({ WabaId: '910009' }), { headers: { 'x-acs-version': '2017-01-01' } });
    expect(v.json['Code']).toBe('IncompleteSignature');
    expect((await send(signed({ WabaId: '910009' }), { headers: { 'x-acs-action': 'ChatappBindWaba' } })).json['Code']).toBe('OK');
  });

  it('Version and Action are checked after the signature, as for ACS3', async () => {
    expect((await send(signed({ WabaId: '910010', Version: '2017-01-01' }))).json['Code']).toBe('InvalidVersion');
    expect((await send(signed({ WabaId: '910010', Action: 'DeleteEverything' }))).json['Code']).toBe('InvalidAction.NotFound');
  });

  it('the call log names the claimed key of a refused call and shows no signature parameters', async () => {
    const calls = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
    const refused = calls.find((c) => c.Code === 'SignatureDoesNotMatch')!;
    expect(refused.AccessKeyId).toBe(KEY_A.accessKeyId);
    for (const c of calls) expect(Object.keys(c.Params).filter((k) => k.startsWith('Signature') || k === 'AccessKeyId')).toEqual([]);
  });
});
