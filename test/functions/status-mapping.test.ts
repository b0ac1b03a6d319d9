import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_API_KEY } from '../../local/host/defaults.ts';
import { startHost, type RunningHost } from '../../local/host/host.ts';
import type { CallRecord } from '../../local/sandbox/calls.ts';
import { signAcs3Request } from '../../shared/acs3/index.ts';
import { httpRequest } from '../../shared/http/request.ts';
import { sandboxControl } from '../support/sandbox-env.ts';
import { callRoute } from '../local/host/support.ts';

// README "Status codes", the rows the CAMS sandbox can provoke, through the local host (serverless.yml,
// the real functions, the embedded sandbox as CAMS). The rows only a live CAMS gives (403, other
// business codes, unreadable replies, ...) are in cams-replies.test.ts, against a scripted CAMS.

let host: RunningHost;
let storeDir: string;
const MAX_BODY = 16 * 1024;

const sandbox = (method: string, path: string, body?: unknown) => sandboxControl({ url: host.sandboxUrl! }, method, path, body);
const calls = async () => (await sandbox('GET', '/__sandbox/calls')) as CallRecord[];

beforeAll(async () => {
  process.env['LOG_LEVEL'] = 'silent';
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-status-'));
  host = await startHost({ port: 0, sandbox: { port: 0 }, timers: false, maxBodyBytes: MAX_BODY, env: { STORE_URL: `file:${storeDir}` }, log: () => {} });
});
afterAll(async () => {
  await host?.close();
  rmSync(storeDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await sandbox('POST', '/__sandbox/reset');
});

async function bind(WabaId: string): Promise<string> {
  const bound = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId } });
  expect(bound.status).toBe(200);
  return bound.json.Data!['CustSpaceId'] as string;
}

describe('success: CAMS body as CAMS sent it, the ids named as ours', () => {
  it('200 with CAMS Code, Message, AccessDeniedDetail, Success and Data; RequestId ours, CamsRequestId CAMS\'s', async () => {
    const res = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '320000000000001' } });
    expect(res.status).toBe(200);
    const [call] = await calls();
    expect(res.json.RequestId).toBe(res.headers['x-fc-request-id']);
    expect(res.json['CamsRequestId']).toBe(call!.RequestId);
    expect(res.json.RequestId).not.toBe(call!.RequestId);
    expect(Object.keys(res.json).sort()).toEqual(['AccessDeniedDetail', 'CamsRequestId', 'Code', 'Data', 'Message', 'RequestId', 'Success']);
    expect(res.json).toMatchObject({ Code: 'OK', Success: true, Data: { WabaId: '320000000000001', CustSpaceId: expect.any(String) } });
  });

  it('AddChatappPhoneNumber: no Data, because CAMS sends none', async () => {
    const space = await bind('320000000000002');
    const res = await callRoute(host.url, { method: 'POST', path: '/phone-numbers', body: { CustSpaceId: space, Cc: '65', PhoneNumber: '90001234', VerifiedName: 'Acme Shop' } });
    expect(res.status).toBe(200);
    expect(res.json).not.toHaveProperty('Data');
    expect(res.json).toMatchObject({ Code: 'OK', CamsRequestId: expect.any(String) });
  });
});

describe('status codes through the local host', () => {
  it('a bad parameter → 400 InvalidParameter naming it, a missing one → 400 MissingParameter', async () => {
    const bad = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '12ab' } });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ Code: 'InvalidParameter', Success: false, Fields: [{ Field: 'WabaId' }] });
    const missing = await callRoute(host.url, { method: 'GET', path: '/health-status', query: { CustSpaceId: 'C1' } });
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ Code: 'MissingParameter', Fields: [{ Field: 'NodeType', Message: 'is required' }] });
    expect(await calls()).toEqual([]);
  });

  it('a body over the limit → 413 RequestEntityTooLarge', async () => {
    const res = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '1', pad: 'x'.repeat(MAX_BODY) } });
    expect(res.status).toBe(413);
  });

  it('a content type other than JSON or form → 415 UnsupportedMediaType', async () => {
    const base = new URL(host.url);
    const body = 'WabaId=1';
    const headers = signAcs3Request({ method: 'POST', path: '/waba/bind', query: {}, headers: { host: base.host, 'content-type': 'text/plain' }, body }, DEFAULT_API_KEY);
    const res = await httpRequest(new URL('/waba/bind', base), { method: 'POST', headers, body });
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body.toString())).toMatchObject({ Code: 'UnsupportedMediaType' });
  });

  it('CAMS *.Exists (Phone.Exists) → 409 with CAMS\'s code and CamsRequestId', async () => {
    const space = await bind('320000000000003');
    const body = { CustSpaceId: space, Cc: '1', PhoneNumber: '4155550101', VerifiedName: 'Acme Shop' };
    expect((await callRoute(host.url, { method: 'POST', path: '/phone-numbers', body })).status).toBe(200);
    const dup = await callRoute(host.url, { method: 'POST', path: '/phone-numbers', body });
    expect(dup.status).toBe(409);
    expect(dup.json).toMatchObject({ Code: 'Phone.Exists', Success: false, RequestId: dup.headers['x-fc-request-id'] });
    expect(dup.json['CamsRequestId']).toBe((await calls()).at(-1)!.RequestId);
  });

  it('CAMS Unknown.ResourceOwnerId → 404', async () => {
    const res = await callRoute(host.url, { method: 'GET', path: '/waba', query: { CustSpaceId: 'C00000000000000' } });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ Code: 'Unknown.ResourceOwnerId', Success: false });
  });

  it('CAMS System.LimitControl that the retries could not absorb → 429 with Retry-After', async () => {
    await sandbox('PUT', '/__sandbox/faults', { throttleRate: 1 });
    const res = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '320000000000004' } });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json).toMatchObject({ Code: 'System.LimitControl', Success: false });
    expect((await calls()).length).toBeGreaterThan(1); // retried first
  });

  it('CAMS 5xx that the retries could not absorb → 502 with CAMS\'s code', async () => {
    await sandbox('PUT', '/__sandbox/faults', { errorRate: 1 });
    const res = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '320000000000005' } });
    expect(res.status).toBe(502);
    expect(['ServiceUnavailable', 'InternalError']).toContain(res.json.Code);
    expect((await calls()).every((c) => c.HttpStatus >= 500)).toBe(true);
  });
});
