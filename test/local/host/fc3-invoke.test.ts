// The host in its default mode, FC 3.0: the functions know no service, so onboarding-api invokes
// `onboarding` through FC 3.0's InvokeFunction (shared/fc/invoke.ts, ACS3-signed) at this host,
// which verifies the signature and runs it with FC's async retries. Real serverless.yml, workers,
// sandbox and HTTP on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signAcs3Request } from '../../../shared/acs3/index.ts';
import { FcInvokeError, invokeFc3 } from '../../../shared/fc/invoke.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { DEFAULT_API_KEY } from '../../../local/host/defaults.ts';
import { startHost, type RunningHost } from '../../../local/host/host.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { callRoute, eventually, httpTriggerEvent } from './support.ts';

let host: RunningHost;
let storeDir: string;
const lines: string[] = [];

beforeAll(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-fc3-'));
  host = await startHost({ port: 0, sandbox: { port: 0 }, timers: false, env: { STORE_URL: `file:${storeDir}` }, log: (l) => lines.push(l), functionOutput: () => {} });
});
afterAll(async () => {
  await host?.close();
  rmSync(storeDir, { recursive: true, force: true });
});

const sandboxKey = DEFAULT_SANDBOX_KEYS[0]!;
const invoke = (functionName: string, payload: string, opts: { async?: boolean; key?: { accessKeyId: string; accessKeySecret: string }; qualifier?: string } = {}) =>
  invokeFc3({ endpoint: host.url, functionName, payload, async: opts.async ?? false, credentials: opts.key ?? DEFAULT_API_KEY, ...(opts.qualifier ? { qualifier: opts.qualifier } : {}) });

describe('the host runs functions as FC 3.0 by default', () => {
  it('no service in their environment; the banner says which FC and both invoke APIs', () => {
    expect(host.fcVersion).toBe('3');
    expect(host.environments['onboarding-api']).not.toHaveProperty('FC_SERVICE_NAME');
    expect(host.environments['onboarding-api']).toMatchObject({ FC_ENDPOINT: host.url, FC_ACCOUNT_ID: host.accountId, ONBOARDING_FUNCTION: 'onboarding' });
    const banner = host.banner().join('\n');
    expect(banner).toContain('functions run as FC 3.0');
    expect(banner).toContain(`POST ${host.url}/2023-03-30/functions/{function}/invocations  (ACS3-signed, as onboarding-api sends it)`);
    expect(banner).toMatch(/FC 2\.0: POST .*\(@alicloud\/fc2 with endpoint \S+\)$/m);
  });

  it('POST /onboardings → FC 3.0 async invoke at this host → onboarding runs → GET shows done', async () => {
    const body = { WabaId: '300000000000130', Cc: '86', PhoneNumber: '13800000130', VerifiedName: 'Acme Shop' };
    const post = await callRoute(host.url, { method: 'POST', path: '/onboardings', body });
    expect(post.status).toBe(202);
    const id = post.json.Data!['OnboardingId'] as string;
    const invocationId = post.json.Data!['InvocationId'] as string;
    expect(invocationId).toMatch(/^1-[0-9a-f]+-[0-9a-f]{24}$/);
    const line = await eventually(() => lines.find((l) => l.startsWith('POST /2023-03-30/functions/onboarding/invocations -> invoke Async')), 10_000, 'the FC 3.0 async invoke');
    expect(line.endsWith(invocationId)).toBe(true);
    expect(lines.some((l) => l.startsWith('POST /2016-08-15/'))).toBe(false);
    await eventually(() => lines.some((l) => l.startsWith(`async onboarding ${invocationId}: attempt 1/4 succeeded`)), 20_000, 'the onboarding run');
    const got = await callRoute(host.url, { method: 'GET', path: `/onboardings/${id}` });
    expect(got.status).toBe(200);
    expect(got.json.Data).toMatchObject({ OnboardingId: id, Status: 'done', AccountReviewStatus: 'APPROVED' });
  });
});

describe("FC 3.0's InvokeFunction on the host", () => {
  it('sync, with a caller key or the functions own credentials, by name or by its dist/s.yaml name, LATEST', async () => {
    for (const [fn, key, wabaId] of [
      ['bind-waba', DEFAULT_API_KEY, '300000000000140'],
      ['cams-fc-dev-bind-waba', sandboxKey, '300000000000141'],
    ] as const) {
      const res = await invoke(fn, httpTriggerEvent(host.accountId, '/waba/bind', { WabaId: wabaId }), { key, qualifier: 'LATEST' });
      expect(res.status).toBe(200);
      const reply = JSON.parse(res.body.toString()) as { statusCode: number; body: string };
      expect(reply.statusCode).toBe(200);
      expect(JSON.parse(reply.body)).toMatchObject({ Code: 'OK', Data: { WabaId: wabaId }, RequestId: res.requestId });
    }
  });

  it('refuses a wrong secret, an unknown key, a replayed request; names an unknown function or alias', async () => {
    const event = httpTriggerEvent(host.accountId, '/waba/bind', { WabaId: '300000000000150' });
    await expect(invoke('bind-waba', event, { key: { ...DEFAULT_API_KEY, accessKeySecret: 'wrong-secret' } })).rejects.toMatchObject({ status: 403, code: 'SignatureNotMatch' });
    await expect(invoke('bind-waba', event, { key: { accessKeyId: 'nobody', accessKeySecret: 'x' } })).rejects.toMatchObject({ status: 403, code: 'InvalidAccessKeyID' });
    await expect(invoke('no-such-function', event)).rejects.toMatchObject({ status: 404, code: 'FunctionNotFound' });
    await expect(invoke('bind-waba', event, { qualifier: 'prod' })).rejects.toMatchObject({ status: 404, code: 'AliasNotFound' });

    // The same signed request twice: the second is a replay.
    const path = '/2023-03-30/functions/bind-waba/invocations';
    const url = new URL(path, host.url);
    const headers = signAcs3Request({ method: 'POST', path, headers: { host: url.host, 'content-type': 'application/octet-stream', 'x-fc-invocation-type': 'Async' }, body: event }, DEFAULT_API_KEY);
    expect((await httpRequest(url, { method: 'POST', headers, body: event })).status).toBe(202);
    const replay = await httpRequest(url, { method: 'POST', headers, body: event });
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.body.toString())).toMatchObject({ Code: 'SignatureNonceUsed', RequestId: replay.headers['x-fc-request-id'] });

    // A body changed after signing, and an unsigned request.
    const other = signAcs3Request({ method: 'POST', path, headers: { host: url.host, 'content-type': 'application/octet-stream' }, body: '{}' }, DEFAULT_API_KEY);
    const tampered = await httpRequest(url, { method: 'POST', headers: other, body: '{"x":1}' });
    expect(tampered.status).toBe(403);
    expect(JSON.parse(tampered.body.toString()).Code).toBe('SignatureNotMatch');
    const unsigned = await httpRequest(url, { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(403);
    expect(JSON.parse(unsigned.body.toString())).toMatchObject({ Code: 'AccessDenied', Message: expect.stringContaining('Authorization') });
  });

  it('answers a wrong method or path with PathNotSupported, in FC 3.0 error shape', async () => {
    const res = await httpRequest(`${host.url}/2023-03-30/functions`, { method: 'GET' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toEqual({ Code: 'PathNotSupported', Message: expect.any(String), RequestId: res.headers['x-fc-request-id'] });
  });

  it("an async payload over FC's 128 KB is refused before anything runs", async () => {
    const err = await invoke('bind-waba', 'x'.repeat(128 * 1024 + 1), { async: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FcInvokeError);
    expect(err).toMatchObject({ status: 400, code: 'EntityTooLarge' });
  });
});
