import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_API_KEY, DEFAULT_API_KEYS } from '../../../local/host/defaults.ts';
import { fcAuthorization, fcStringToSign } from '../../../local/host/fc-signature.ts';
import { startHost, type RunningHost } from '../../../local/host/host.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { callRoute, eventually, fc2Client, httpTriggerEvent } from './support.ts';

// The real serverless.yml and functions, each in its own worker, on free ports; no timers; as FC 2.0.
let host: RunningHost;
let storeDir: string;
const lines: string[] = [];
const functionOutput: string[] = [];
const MAX_BODY = 64 * 1024;

type CallRecord = { Action: string; AccessKeyId: string; Params: Record<string, string>; Code: string };

async function sandboxCalls(): Promise<CallRecord[]> {
  const res = await httpRequest(`${host.sandboxUrl}/__sandbox/calls`);
  return JSON.parse(res.body.toString()) as CallRecord[];
}

const signedHttpEvent = (path: string, body: unknown) => httpTriggerEvent(host.accountId, path, body);

beforeAll(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-host-'));
  host = await startHost({
    port: 0,
    sandbox: { port: 0 },
    timers: false,
    // FC 2.0: onboarding-api invokes through @alicloud/fc2 (FC 3.0 mode: ./fc3-invoke.test.ts).
    fcVersion: '2',
    env: { STORE_URL: `file:${storeDir}` },
    maxBodyBytes: MAX_BODY,
    log: (l) => lines.push(l),
    functionOutput: (fn, _stream, text) => functionOutput.push(`${fn}: ${text}`),
  });
});
afterAll(async () => {
  await host?.close();
  rmSync(storeDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await httpRequest(`${host.sandboxUrl}/__sandbox/reset`, { method: 'POST' });
});

describe('start-up', () => {
  it('uses the default key pair, the sandbox and its first key, and says so', () => {
    expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(host.serviceName).toBe('cams-fc-dev');
    expect(host.usingDefaultApiKeys).toBe(true);
    expect(host.apiKeys).toEqual([DEFAULT_API_KEY]);
    expect(DEFAULT_API_KEYS).toBe('local-caller:local-caller-secret-0001');
    expect(host.credentials).toEqual(DEFAULT_SANDBOX_KEYS[0]);
    expect(host.camsEndpoint).toBe(host.sandboxUrl);
    // The functions' variables stay in their workers, never in the host's process.
    expect(process.env['CAMS_ENDPOINT']).toBeUndefined();
    expect(process.env['FC_ENDPOINT']).toBeUndefined();

    const banner = host.banner().join('\n');
    expect(banner).toContain(`listening on ${host.url}`);
    // As FC 2.0, onboarding-api invokes through FC 2.0's API, and the banner says so there only.
    expect(banner).toMatch(/FC 2\.0: POST .*\(@alicloud\/fc2 with endpoint \S+, as onboarding-api sends it\)/);
    expect(banner).toMatch(/FC 3\.0: POST .*\(ACS3-signed\)$/m);
    expect(banner).toMatch(/POST \/waba\/bind\s+-> bind-waba/);
    expect(banner).toMatch(/GET \/onboardings\/\{id\}\s+-> onboarding-api/);
    expect(banner).toContain(`CAMS sandbox: ${host.sandboxUrl}`);
    expect(banner).toContain('local-caller:local-caller-secret-0001');
    expect(banner).toContain(`npm run call -- POST /waba/bind '{"WabaId":"1234567890"}'`);
    expect(banner).toMatch(/sls_timer_health_monitor\s+"0 \*\/5 \* \* \* \*" \(UTC\) -> health-monitor\s+\[off: HOST_TIMERS=off\]/);
  });
});

describe('each function gets exactly its serverless.yml environment', () => {
  it('provider + its own variables, the host-supplied ones, and no other function\'s', () => {
    const envs = host.environments;
    expect(Object.keys(envs).sort()).toEqual(['add-phone-number', 'bind-waba', 'cams-events', 'get-health-status', 'health-monitor', 'health-report', 'onboarding', 'onboarding-api', 'query-waba', 'silences', 'status-page', 'watch-list']);
    const supplied = ['CAMS_ENDPOINT', 'STORE_URL', 'CAMS_QPS', 'NODE_OPTIONS', 'SSL_CERT_DIR', 'SSL_CERT_FILE', 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'FC_ENDPOINT', 'FC_SERVICE_NAME', 'FC_FUNCTION_NAME', 'FC_REGION', 'FC_ACCOUNT_ID'];
    const alertVars = ['ALERT_REPEAT_INTERVAL', 'ALERT_MIN_CONSECUTIVE', 'ALERT_DINGTALK_WEBHOOK', 'ALERT_DINGTALK_SECRET', 'ALERT_LARK_WEBHOOK', 'ALERT_LARK_SECRET', 'ALERT_WECOM_WEBHOOK', 'ALERT_SLACK_WEBHOOK', 'ALERT_WEBHOOK_URL', 'ALERT_WEBHOOK_SECRET'];
    expect(Object.keys(envs['health-monitor']!).sort()).toEqual([...supplied, 'MONITOR_TARGETS', 'MONITOR_QPS', 'DISCOVERY_INTERVAL', ...alertVars].sort());
    // The other deliverer: receipts' alerts go out at once, through the same deliverOwed and lease.
    expect(Object.keys(envs['cams-events']!).sort()).toEqual([...supplied, 'CAMS_RECEIPT_TOKEN', 'MONITOR_TARGETS', 'MONITOR_QPS', ...alertVars].sort());
    expect(Object.keys(envs['onboarding']!).sort()).toEqual([...supplied].sort());
    expect(Object.keys(envs['onboarding-api']!).sort()).toEqual([...supplied, 'API_KEYS', 'ONBOARDING_FUNCTION'].sort());
    expect(Object.keys(envs['health-report']!).sort()).toEqual([...supplied, 'API_KEYS', 'MONITOR_TARGETS'].sort());
    for (const fn of ['bind-waba', 'query-waba', 'add-phone-number', 'get-health-status']) expect(Object.keys(envs[fn]!).sort(), fn).toEqual([...supplied, 'API_KEYS'].sort());
    for (const [fn, env] of Object.entries(envs)) {
      expect(env['CAMS_ENDPOINT'], fn).toBe(host.sandboxUrl);
      expect(env['STORE_URL'], fn).toBe(`file:${storeDir}`);
      expect(env['FC_FUNCTION_NAME'], fn).toBe(fn);
      if ('API_KEYS' in env) expect(env['API_KEYS'], fn).toBe(DEFAULT_API_KEYS);
    }
  });
});

describe('HTTP routes', () => {
  it('bind → query → add phone → health, through FC 3.0 HTTP trigger events, CAMS calls made with the sandbox key', async () => {
    const bound = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '300000000000001' } });
    expect(bound.status).toBe(200);
    expect(bound.json).toMatchObject({ Code: 'OK', Success: true });
    expect(bound.json.RequestId).toBe(bound.headers['x-fc-request-id']);
    const space = bound.json.Data!['CustSpaceId'] as string;

    const queried = await callRoute(host.url, { method: 'GET', path: '/waba', query: { CustSpaceId: space } });
    expect(queried.status).toBe(200);
    expect(queried.json.Data).toMatchObject({ Id: '300000000000001' });

    const added = await callRoute(host.url, { method: 'POST', path: '/phone-numbers', body: { CustSpaceId: space, Cc: '86', PhoneNumber: '13800000002', VerifiedName: 'Acme Shop' } });
    expect(added.status).toBe(200);

    const health = await callRoute(host.url, { method: 'GET', path: '/health-status', query: { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000002' } });
    expect(health.status).toBe(200);
    expect(health.json.Data!['CanSendMessage']).toBe('AVAILABLE');

    const calls = await sandboxCalls();
    expect(calls.map((c) => `${c.Action}:${c.Code}:${c.AccessKeyId}`)).toEqual([
      `ChatappBindWaba:OK:${DEFAULT_SANDBOX_KEYS[0]!.accessKeyId}`,
      `QueryChatappBindWaba:OK:${DEFAULT_SANDBOX_KEYS[0]!.accessKeyId}`,
      `AddChatappPhoneNumber:OK:${DEFAULT_SANDBOX_KEYS[0]!.accessKeyId}`,
      `GetWhatsappHealthStatus:OK:${DEFAULT_SANDBOX_KEYS[0]!.accessKeyId}`,
    ]);
  });

  it('every implemented route reaches its function', async () => {
    const implemented = host.routes.filter((r) => r.implemented);
    expect(implemented.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(['POST /waba/bind', 'GET /waba', 'POST /phone-numbers', 'GET /health-status']));
    for (const r of implemented) {
      const path = r.path.replace(/\{[^}]+\}/g, 'ob-000000000000000000000000');
      const before = lines.length;
      const res = await callRoute(host.url, { method: r.method, path, ...(r.method === 'POST' ? { body: {} } : {}) });
      if (r.functionName === 'status-page') {
        // An HTML page, not the CAMS envelope; off (404) without STATUS_PAGE_TOKEN/STATUS_PAGE_PUBLIC.
        expect(res.headers['x-request-id']).toBe(res.headers['x-fc-request-id']);
        expect(res.status).toBe(404);
        expect(lines.slice(before).join('\n')).toContain(`-> 404 status-page`);
        continue;
      }
      // The function answered (its CAMS envelope, with the host's request id), not the host.
      expect(res.json.RequestId, `${r.method} ${r.path}`).toBe(res.headers['x-fc-request-id']);
      expect(['NotFound', 'MethodNotAllowed', 'FunctionNotImplemented', 'FunctionError', 'FunctionLoadError', 'FunctionTimeout']).not.toContain(res.json.Code);
      expect(lines.slice(before).join('\n')).toContain(`-> ${res.status} ${r.functionName}`);
    }
  });

  it('passes the caller signature through: the function rejects an unsigned or forged call', async () => {
    const res = await httpRequest(`${host.url}/waba/bind`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"WabaId":"1"}' });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body.toString())).toMatchObject({ Code: 'IncompleteSignature', Success: false });
    const forged = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '300000000000002' } }, { ...DEFAULT_API_KEY, accessKeySecret: 'not-the-secret' });
    expect(forged.status).toBe(403);
    expect(forged.json.Code).toBe('SignatureDoesNotMatch');
    expect(await sandboxCalls()).toEqual([]);
  });

  it('an unknown route is a 404 envelope, a wrong method 405 with Allow', async () => {
    const res = await callRoute(host.url, { method: 'GET', path: '/nope' });
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ Code: 'NotFound', Success: false, RequestId: res.headers['x-fc-request-id'] });
    const wrong = await callRoute(host.url, { method: 'DELETE', path: '/waba/bind' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers['allow']).toBe('POST');
  });

  it('a path parameter that is not valid URL encoding reaches its function, which names it (400), not the host\'s 404', async () => {
    const res = await httpRequest(`${host.url}/silences/%E9`, { method: 'DELETE' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toMatchObject({ Code: 'InvalidParameter', Fields: [{ Field: 'id' }] });
    expect(lines.join('\n')).toContain('DELETE /silences/%E9 -> 400 silences');
    // With a method its route does not take, too: the function names the parameter before it would
    // answer 405, as on FC.
    const get = await httpRequest(`${host.url}/silences/%E9`, { method: 'GET' });
    expect(get.status).toBe(400);
    expect(JSON.parse(get.body.toString())).toMatchObject({ Code: 'InvalidParameter', Fields: [{ Field: 'id' }] });
  });

  it('HEAD on a GET route is answered by its function as GET is, without the body; HEAD elsewhere is 405', async () => {
    const get = await callRoute(host.url, { method: 'GET', path: '/health-report' });
    const head = await callRoute(host.url, { method: 'HEAD', path: '/health-report' });
    expect(get.status).toBe(200);
    expect(head).toMatchObject({ status: 200, text: '' });
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    // The page answers for itself (404 here: no STATUS_PAGE_TOKEN, so no page), not the host's 405.
    const page = await httpRequest(`${host.url}/status`, { method: 'HEAD' });
    expect(page.status).toBe(404);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const post = await callRoute(host.url, { method: 'HEAD', path: '/waba/bind' });
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('POST');
  });

  it('a body over the limit is 413 and never reaches the function', async () => {
    const before = lines.length;
    const res = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '1', Pad: 'x'.repeat(MAX_BODY) } });
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ Code: 'RequestEntityTooLarge', Success: false });
    expect(lines.slice(before).join('\n')).not.toContain('bind-waba');
    // the host is still fine afterwards
    expect((await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '300000000000003' } })).status).toBe(200);
  });
});

describe('FC 2.0 invoke API, driven by @alicloud/fc2', () => {
  it('sync: the raw body is the event, the reply is the function result', async () => {
    const client = fc2Client(host.url, host.accountId, DEFAULT_API_KEY);
    const res = await client.invokeFunction('cams-fc-dev', 'bind-waba', signedHttpEvent('/waba/bind', { WabaId: '300000000000010' }));
    expect(res.headers['x-fc-request-id']).toMatch(/^1-[0-9a-f]+-[0-9a-f]{24}$/);
    const reply = res.data as { statusCode: number; headers: Record<string, string>; body: string };
    expect(reply.statusCode).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ Code: 'OK', Data: { WabaId: '300000000000010' }, RequestId: res.headers['x-fc-request-id'] });
    expect((await sandboxCalls()).map((c) => c.Params['WabaId'])).toEqual(['300000000000010']);
  });

  it('accepts the functions own credentials and a LATEST qualifier', async () => {
    const client = fc2Client(host.url, host.accountId, DEFAULT_SANDBOX_KEYS[0]!);
    const res = await client.invokeFunction('cams-fc-dev', 'bind-waba', signedHttpEvent('/waba/bind', { WabaId: '300000000000011' }), {}, 'LATEST');
    expect((res.data as { statusCode: number }).statusCode).toBe(200);
  });

  it('rejects a wrong secret, an unknown key, an unknown service or function', async () => {
    const event = signedHttpEvent('/waba/bind', { WabaId: '300000000000012' });
    await expect(fc2Client(host.url, host.accountId, { ...DEFAULT_API_KEY, accessKeySecret: 'wrong-secret' }).invokeFunction('cams-fc-dev', 'bind-waba', event)).rejects.toMatchObject({
      code: 'SignatureNotMatch',
      message: expect.stringContaining('failed with 403'),
    });
    await expect(fc2Client(host.url, host.accountId, { accessKeyId: 'nobody', accessKeySecret: 'x' }).invokeFunction('cams-fc-dev', 'bind-waba', event)).rejects.toMatchObject({
      code: 'InvalidAccessKeyID',
    });
    const client = fc2Client(host.url, host.accountId, DEFAULT_API_KEY);
    await expect(client.invokeFunction('cams-fc-prod', 'bind-waba', event)).rejects.toMatchObject({ code: 'ServiceNotFound', message: expect.stringContaining('404') });
    await expect(client.invokeFunction('cams-fc-dev', 'no-such-function', event)).rejects.toMatchObject({ code: 'FunctionNotFound' });
    await expect(client.invokeFunction('cams-fc-dev', 'bind-waba', event, {}, 'prod')).rejects.toMatchObject({ code: 'AliasNotFound' });
    expect(await sandboxCalls()).toEqual([]);
  });

  it('rejects a request dated outside 15 minutes, and unsigned requests', async () => {
    const path = '/2016-08-15/services/cams-fc-dev/functions/bind-waba/invocations';
    const headers: Record<string, string> = { date: new Date(Date.now() - 16 * 60_000).toUTCString(), 'content-type': 'application/octet-stream', 'x-fc-account-id': host.accountId };
    headers['authorization'] = fcAuthorization(DEFAULT_API_KEY.accessKeyId, DEFAULT_API_KEY.accessKeySecret, fcStringToSign('POST', path, headers, null));
    const stale = await httpRequest(host.url + path, { method: 'POST', headers, body: '{}' });
    expect(stale.status).toBe(403);
    expect(JSON.parse(stale.body.toString())).toMatchObject({ ErrorCode: 'RequestTimeTooSkewed' });
    expect(stale.headers['x-fc-request-id']).toBeTruthy();

    const unsigned = await httpRequest(host.url + path, { method: 'POST', headers: { date: new Date().toUTCString() }, body: '{}' });
    expect(unsigned.status).toBe(403);
    expect(JSON.parse(unsigned.body.toString()).ErrorCode).toBe('AccessDenied');

    const wrongPath = await httpRequest(`${host.url}/2016-08-15/services`, { method: 'GET' });
    expect(wrongPath.status).toBe(400);
    expect(JSON.parse(wrongPath.body.toString()).ErrorCode).toBe('PathNotSupported');
  });

  it('a function invoking another through FC_ENDPOINT (onboarding-api → onboarding, async) is served by this host', async () => {
    const post = await callRoute(host.url, {
      method: 'POST',
      path: '/onboardings',
      body: { WabaId: '300000000000030', Cc: '86', PhoneNumber: '13800000030', VerifiedName: 'Acme Shop' },
    });
    expect(post.status).toBe(202);
    const id = post.json.Data!['OnboardingId'] as string;
    expect(id).toMatch(/^ob-[0-9a-f]{24}$/);
    const invoke = await eventually(() => lines.find((l) => l.startsWith('POST /2016-08-15/services/cams-fc-dev/functions/onboarding/invocations -> invoke Async')), 10_000, 'the async invoke');
    const requestId = invoke.split(' ').pop()!;
    await eventually(() => lines.some((l) => l.startsWith(`async onboarding ${requestId}: attempt 1/4 succeeded`)), 20_000, 'the onboarding run');
    const got = await callRoute(host.url, { method: 'GET', path: `/onboardings/${id}` });
    expect(got.status).toBe(200);
    expect(got.json.Data).toMatchObject({ OnboardingId: id, Status: 'done', CustSpaceId: expect.any(String), AccountReviewStatus: 'APPROVED', CanSendMessage: 'AVAILABLE' });
    expect(Object.keys(got.json.Data!['Steps'] as object)).toEqual(['bind', 'addPhone', 'query', 'health', 'watch']);

    // Posting the same onboarding again is answered from its record: no second invoke, no second bind.
    const again = await callRoute(host.url, { method: 'POST', path: '/onboardings', body: { WabaId: '300000000000030', Cc: '86', PhoneNumber: '13800000030', VerifiedName: 'Acme Shop' } });
    expect(again.status).toBe(202);
    expect(again.json.Data).toMatchObject({ OnboardingId: id, Status: 'done' });
    expect((await sandboxCalls()).filter((c) => c.Params['WabaId'] === '300000000000030' && c.Action === 'ChatappBindWaba')).toHaveLength(1);

    const bad = await callRoute(host.url, { method: 'POST', path: '/onboardings', body: { WabaId: 'x', Cc: '86', PhoneNumber: '13800000030', VerifiedName: 'Acme Shop' } });
    expect(bad.status).toBe(400);
    expect(bad.json.Fields).toEqual([expect.objectContaining({ Field: 'WabaId' })]);
    const unknown = await callRoute(host.url, { method: 'GET', path: '/onboardings/ob-000000000000000000000000' });
    expect(unknown.status).toBe(404);
  });

  it('async: 202 at once, then the invocation runs in the background', async () => {
    const client = fc2Client(host.url, host.accountId, DEFAULT_API_KEY);
    const res = await client.invokeFunction('cams-fc-dev', 'bind-waba', signedHttpEvent('/waba/bind', { WabaId: '300000000000020' }), { 'x-fc-invocation-type': 'Async' });
    expect(res.data).toBe('');
    const requestId = res.headers['x-fc-request-id']!;
    const call = await eventually(async () => (await sandboxCalls()).find((c) => c.Params['WabaId'] === '300000000000020'), 10_000, 'the async bind');
    expect(call).toMatchObject({ Action: 'ChatappBindWaba', Code: 'OK', AccessKeyId: DEFAULT_SANDBOX_KEYS[0]!.accessKeyId });
    await eventually(() => lines.some((l) => l.includes(`async bind-waba ${requestId}: attempt 1/4 succeeded`)), 5_000, 'the async log line');
  });
});
