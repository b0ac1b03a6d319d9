import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_API_KEY } from '../../../local/host/defaults.ts';
import { startHost, type RunningHost } from '../../../local/host/host.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { recorded } from './fixtures/shared.ts';
import { eventually, fc2Client } from './support.ts';

// A fixture serverless.yml whose functions (test/local/host/fixtures/functions) record what they
// get: the event, context and environment, timers, async retries, crashes, timeouts, load failures.
// Each runs in its own worker, so they report through files in stateDir (fixtures/shared.ts).
let host: RunningHost;
let stateDir: string;
const lines: string[] = [];
const CAMS = 'http://127.0.0.1:1'; // CAMS_ENDPOINT set: no sandbox

type FlakyAttempt = { retryCount: number; requestId: string; event: string; fn: string };
const flakyAttempts = (requestId?: string) => recorded<FlakyAttempt>(stateDir, 'flaky').filter((a) => requestId === undefined || a.requestId === requestId);

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'cams-fc-fixture-'));
  host = await startHost({
    port: 0,
    configPath: fileURLToPath(new URL('./fixtures/serverless.yml', import.meta.url)),
    functionsDir: fileURLToPath(new URL('./fixtures/functions', import.meta.url)),
    env: {
      CAMS_ENDPOINT: CAMS,
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'fixture-ak',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'fixture-secret',
      API_KEYS: 'fixture-caller:fixture-caller-secret',
      STORE_URL: 'memory:',
      FIXTURE_STATE_DIR: stateDir,
    },
    timers: true,
    asyncRetryDelaysMs: [20, 40, 60],
    log: (l) => lines.push(l),
  });
});
afterAll(async () => {
  await host?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

const fixtureKey = { accessKeyId: 'fixture-caller', accessKeySecret: 'fixture-caller-secret' };

describe('start-up with CAMS_ENDPOINT set', () => {
  it('starts no sandbox, gives the functions the env credentials, and names what is missing or broken', () => {
    expect(host.sandboxUrl).toBeUndefined();
    expect(host.camsEndpoint).toBe(CAMS);
    expect(host.credentials).toEqual({ accessKeyId: 'fixture-ak', accessKeySecret: 'fixture-secret' });
    expect(host.usingDefaultApiKeys).toBe(false);
    expect(host.serviceName).toBe('fixture-dev');
    expect(host.missing).toEqual(['ghost']);
    expect(host.broken.map((b) => b.name)).toEqual(['broken']);
    const banner = host.banner();
    expect(banner.filter((l) => l.includes('ghost') && l.includes('does not exist'))).toHaveLength(1);
    expect(banner.join('\n')).toContain('FAILED TO LOAD: broken');
    expect(banner.join('\n')).not.toContain('fixture-caller-secret');
    expect(banner.join('\n')).not.toContain('CAMS sandbox');
    expect(banner.join('\n')).toContain('note: memory: is per function here');
    expect(banner.join('\n')).toMatch(/sls_timer_tick\s+"@every 1s" \(UTC\) -> tick\s+\[next /);
    expect(banner.join('\n')).toMatch(/sls_timer_tick_2 .*\[off: enable: false\]/);
    expect(banner.join('\n')).toMatch(/sls_timer_ghost .*\[off: function not implemented\]/);
  });
});

describe('FC 3.0 HTTP trigger events', () => {
  it('builds the event and context FC would, and writes the reply back', async () => {
    const res = await rawRequest(`${host.url}/echo/a%20b?x=1&x=2&y=%C3%A9`, 'POST', ['X-Multi', 'one', 'x-multi', 'two', 'Content-Type', 'application/json', 'User-Agent', 'fixture-agent'], '{"hello":"wörld"}');
    expect(res.status).toBe(201);
    expect(res.headers['x-echo']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    const requestId = res.headers['x-fc-request-id'];
    const { event, context, env, isBuffer } = JSON.parse(res.body.toString());
    expect(isBuffer).toBe(true);
    expect(event).toMatchObject({
      version: 'v1',
      rawPath: '/echo/a%20b',
      body: '{"hello":"wörld"}',
      isBase64Encoded: false,
      queryParameters: { x: '1,2', y: 'é' },
      requestContext: {
        accountId: host.accountId,
        domainName: '127.0.0.1',
        domainPrefix: 'echo',
        http: { method: 'POST', path: '/echo/a b', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'fixture-agent' },
        requestId,
      },
    });
    expect(event.headers['X-Multi']).toBe('one,two');
    expect(event.headers['Content-Type']).toBe('application/json');
    expect(event.requestContext.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(Number(event.requestContext.timeEpoch) - Date.now())).toBeLessThan(10_000);
    expect(context).toEqual({
      requestId,
      credentials: { accessKeyId: 'fixture-ak', accessKeySecret: 'fixture-secret' },
      function: { name: 'echo', handler: 'index.handler', memory: 512, timeout: 5 },
      // FC 3.0 (the host's default) has no services: no service name in the context or the environment.
      service: { logProject: '', logStore: '', qualifier: 'LATEST', versionId: '' },
      region: 'cn-hangzhou',
      accountId: host.accountId,
      retryCount: 0,
      tracing: {},
    });
    // Exactly provider + its own environment, plus what the host supplies: no other function's
    // variables (peer's FIXTURE_PEER_SECRET), no API_KEYS (echo does not declare it), nothing of the host's process.
    expect(env).toEqual({
      FIXTURE_GREETING: 'hello',
      FIXTURE_ECHO: 'echo-cn-hangzhou-dev',
      FIXTURE_STATE_DIR: stateDir,
      // a Worker refuses it in its env: the worker puts it in its process.env (function-runtime.ts)
      NODE_OPTIONS: '--use-openssl-ca',
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'fixture-ak',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'fixture-secret',
      STORE_URL: 'memory:',
      CAMS_ENDPOINT: CAMS,
      FC_ENDPOINT: host.url,
      FC_FUNCTION_NAME: 'echo',
      FC_REGION: 'cn-hangzhou',
      FC_ACCOUNT_ID: host.accountId,
    });
    expect(env).toEqual(host.environments['echo']);
    // The host never writes the functions' environment into its own process.
    expect(process.env['FC_ENDPOINT']).toBeUndefined();
    expect(process.env['FIXTURE_ECHO']).toBeUndefined();
  });

  it("a function's own variable is seen by it and by no other function", async () => {
    const FC = fc2Client(host.url, host.accountId, fixtureKey);
    expect((await FC.invokeFunction('fixture-dev', 'peer', '{}')).data).toEqual({ peerSecret: 'peer-only', echo: null });
    const echo = JSON.parse((await httpRequest(`${host.url}/echo/1`)).body.toString());
    expect(echo.env['FIXTURE_PEER_SECRET']).toBeUndefined();
  });

  it('a body that is not UTF-8 arrives base64-encoded; GET with no body is empty text', async () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80]);
    const res = await httpRequest(`${host.url}/echo/1`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    const { event } = JSON.parse(res.body.toString());
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body, 'base64')).toEqual(bytes);
    const get = JSON.parse((await httpRequest(`${host.url}/echo/2/`)).body.toString());
    expect(get.event).toMatchObject({ body: '', isBase64Encoded: false, rawPath: '/echo/2/' });
  });

  it('a base64 reply is decoded', async () => {
    const res = await httpRequest(`${host.url}/results?kind=http-binary`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.body).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  });

  it('a handler that throws is a 502 envelope and a log line; a listed function without code is 501', async () => {
    const crash = await httpRequest(`${host.url}/crash`, { method: 'POST', body: '{}' });
    expect(crash.status).toBe(502);
    const body = JSON.parse(crash.body.toString());
    expect(body).toEqual({ RequestId: crash.headers['x-fc-request-id'], Code: 'FunctionError', Message: 'Function crash failed: TypeError.', Success: false });
    expect(lines).toContain(`crash ${crash.headers['x-fc-request-id']}: TypeError: fixture crash: secret-looking detail stays in the log`);

    const ghost = await httpRequest(`${host.url}/ghost`);
    expect(ghost.status).toBe(501);
    expect(JSON.parse(ghost.body.toString())).toMatchObject({ Code: 'FunctionNotImplemented', Success: false, RequestId: ghost.headers['x-fc-request-id'] });

    const broken = await httpRequest(`${host.url}/broken`);
    expect(broken.status).toBe(500);
    expect(JSON.parse(broken.body.toString())).toMatchObject({ Code: 'FunctionLoadError' });
  });

  it('a handler past its timeout is a 502 FunctionTimeout', async () => {
    const res = await httpRequest(`${host.url}/slow`);
    expect(res.status).toBe(502);
    expect(JSON.parse(res.body.toString())).toMatchObject({ Code: 'FunctionTimeout' });
  });
});

describe('FC invoke API result shapes', () => {
  const client = () => fc2Client(host.url, host.accountId, fixtureKey);

  it('a Buffer as is, a string as is, an object as JSON (callback-style handler)', async () => {
    const FC = fc2Client(host.url, host.accountId, fixtureKey);
    expect((await FC.invokeFunction('fixture-dev', 'results', 'string')).data).toBe('plain text');
    expect((await FC.invokeFunction('fixture-dev', 'results', 'object')).data).toEqual({ answer: 42 });
    const raw = await httpRequest(`${host.url}/2016-08-15/services/fixture-dev/functions/results/invocations`, {
      method: 'POST',
      headers: signedInvokeHeaders('/2016-08-15/services/fixture-dev/functions/results/invocations'),
      body: 'buffer',
    });
    expect(raw.status).toBe(200);
    expect(raw.body).toEqual(Buffer.from([0xff, 0x00, 0x01]));
  });

  it('a handler error is 200 with x-fc-error-type and {errorMessage, errorType}', async () => {
    const res = await client().invokeFunction('fixture-dev', 'results', 'error');
    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(res.data).toEqual({ errorMessage: 'callback error', errorType: 'RangeError' });
  });

  it('a listed function without code is 501, an unknown one 404, the old key not accepted', async () => {
    await expect(client().invokeFunction('fixture-dev', 'ghost', '{}')).rejects.toMatchObject({ code: 'FunctionNotImplemented' });
    await expect(client().invokeFunction('fixture-dev', 'nope', '{}')).rejects.toMatchObject({ code: 'FunctionNotFound' });
    await expect(fc2Client(host.url, host.accountId, DEFAULT_API_KEY).invokeFunction('fixture-dev', 'results', 'string')).rejects.toMatchObject({ code: 'InvalidAccessKeyID' });
    // the functions' own credentials are accepted
    expect((await fc2Client(host.url, host.accountId, { accessKeyId: 'fixture-ak', accessKeySecret: 'fixture-secret' }).invokeFunction('fixture-dev', 'results', 'string')).data).toBe('plain text');
  });

  it('async: a failing invocation is retried 3 times with backoff, retryCount counting up, then given up', async () => {
    const res = await client().invokeFunction('fixture-dev', 'flaky', '10:payload-1', { 'x-fc-invocation-type': 'Async' });
    const requestId = res.headers['x-fc-request-id']!;
    await eventually(() => lines.some((l) => l.includes(`async flaky ${requestId}: attempt 4/4 failed`)), 5_000, 'the last attempt');
    const attempts = flakyAttempts(requestId);
    expect(attempts.map((a) => a.retryCount)).toEqual([0, 1, 2, 3]);
    expect(attempts.every((a) => a.event === '10:payload-1')).toBe(true);
    expect(attempts.every((a) => a.fn === 'flaky')).toBe(true); // run in flaky's own worker
    const log = lines.filter((l) => l.startsWith(`async flaky ${requestId}`));
    expect(log).toEqual([
      `async flaky ${requestId}: attempt 1/4 failed (Error: flaky failure, retryCount 0); retrying in 20 ms`,
      `async flaky ${requestId}: attempt 2/4 failed (Error: flaky failure, retryCount 1); retrying in 40 ms`,
      `async flaky ${requestId}: attempt 3/4 failed (Error: flaky failure, retryCount 2); retrying in 60 ms`,
      `async flaky ${requestId}: attempt 4/4 failed (Error: flaky failure, retryCount 3); giving up`,
    ]);
  });

  it('async: a retry that succeeds stops the retries', async () => {
    const res = await client().invokeFunction('fixture-dev', 'flaky', '1:payload-2', { 'x-fc-invocation-type': 'Async' });
    const requestId = res.headers['x-fc-request-id']!;
    await eventually(() => lines.some((l) => l.startsWith(`async flaky ${requestId}: attempt 2/4 succeeded`)), 5_000, 'the retry');
    await new Promise((r) => setTimeout(r, 150));
    expect(flakyAttempts(requestId).map((a) => a.retryCount)).toEqual([0, 1]);
  });

  it('async payloads over 128 KiB are refused', async () => {
    const before = flakyAttempts().length;
    await expect(client().invokeFunction('fixture-dev', 'flaky', `0:${'x'.repeat(128 * 1024)}`, { 'x-fc-invocation-type': 'Async' })).rejects.toMatchObject({ code: 'EntityTooLarge' });
    await new Promise((r) => setTimeout(r, 150));
    expect(flakyAttempts().length).toBe(before);
  });
});

describe('instances', () => {
  const client = () => fc2Client(host.url, host.accountId, fixtureKey);

  it('a function that blocks its thread past its timeout is answered FunctionTimeout, and its instance is replaced', async () => {
    const res = await client().invokeFunction('fixture-dev', 'spin', 'spin');
    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(res.data).toMatchObject({ errorType: 'FunctionTimeout' });
    expect(lines).toContain('spin: instance recycled after a timeout');
    expect((await client().invokeFunction('fixture-dev', 'spin', 'ping')).data).toBe('alive');
  });

  it('a function that exits its process fails that invocation; the next one gets a new instance', async () => {
    const res = await client().invokeFunction('fixture-dev', 'exiter', 'exit');
    expect(res.data).toMatchObject({ errorType: 'FunctionInstanceExited' });
    expect((await client().invokeFunction('fixture-dev', 'exiter', 'ping')).data).toBe('alive');
    // the host itself is unaffected
    expect((await httpRequest(`${host.url}/echo/3`)).status).toBe(201);
  });

  it('a function past its memorySize loses its instance, not the host', async () => {
    const res = await client().invokeFunction('fixture-dev', 'hog', 'hog');
    expect(res.data).toMatchObject({ errorType: 'FunctionInstanceExited' });
    expect(lines.some((l) => l.startsWith('hog: instance failed: ') && l.includes('memory limit'))).toBe(true);
    expect((await client().invokeFunction('fixture-dev', 'hog', 'ping')).data).toBe('alive');
  });
});

describe('timers', () => {
  it('fires the FC timer event on the cron, with the trigger name and payload', async () => {
    await eventually(() => recorded(stateDir, 'tick').length >= 2, 5_000, 'two ticks');
    const [a, b] = recorded<{ event: { triggerTime: string; triggerName: string; payload: string }; retryCount: number; fn: string }>(stateDir, 'tick');
    expect(a!.fn).toBe('tick'); // run in tick's own worker
    expect(a!.event).toEqual({ triggerTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), triggerName: 'sls_timer_tick', payload: 'tick-payload' });
    const gap = Date.parse(b!.event.triggerTime) - Date.parse(a!.event.triggerTime);
    expect(gap % 1000 === 0 && gap >= 1000).toBe(true); // 1 s apart (more only if the machine stalled)
    expect(a!.retryCount).toBe(0);
    expect(lines.some((l) => /^timer sls_timer_tick -> tick 1-\S+: ok/.test(l))).toBe(true);
  });
});

describe('mns queues', () => {
  it('delivers a posted message as the deployed trigger does: one CloudEvent (not an array), the body as sent in data.messageBody, under the MessageId it answered', async () => {
    const body = '[{"Type":"wabaAccountUpdate","Status":"LIMITED"}]';
    const res = await httpRequest(`${host.url}/__mns/queues/fixture-queue/messages`, { method: 'POST', body });
    expect(res.status).toBe(201);
    const { MessageId } = JSON.parse(res.body.toString()) as { MessageId: string };
    expect(MessageId).toMatch(/^[0-9A-F]{32}$/);
    const [got] = await eventually(() => {
      const r = recorded<{ event: unknown; retryCount: number; fn: string }>(stateDir, 'queued');
      return r.length > 0 && r;
    }, 5_000, 'the queued delivery');
    expect(got!.fn).toBe('queued');
    expect(got!.retryCount).toBe(0);
    // serverless/ deploys the trigger in event-driven mode (runOptions.mode): one message per event.
    expect(Array.isArray(got!.event)).toBe(false);
    expect(got!.event).toMatchObject({
      source: 'acs:mns',
      specversion: '1.0',
      type: 'mns:Queue:SendMessage',
      subject: 'acs:mns:cn-hangzhou:' + host.accountId + ':queues/fixture-queue',
      data: { messageId: MessageId, messageBody: body },
    });
    expect(host.banner().join('\n')).toContain(`${host.url}/__mns/queues/fixture-queue/messages -> queued`);
  });
});

/** A request with repeated headers (the header map of httpRequest cannot send those). */
function rawRequest(url: string, method: string, rawHeaders: string[], body: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: ['Host', new URL(url).host, ...rawHeaders, 'Content-Length', String(Buffer.byteLength(body))] }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Signs an invoke request by hand, with fc2's own signing function. */
function signedInvokeHeaders(path: string): Record<string, string> {
  const FC = createRequire(import.meta.url)('@alicloud/fc2') as { getSignature(id: string, secret: string, m: string, p: string, h: Record<string, string>, q: null): string };
  const headers: Record<string, string> = { date: new Date().toUTCString(), 'content-type': 'application/octet-stream', 'x-fc-account-id': host.accountId };
  headers['authorization'] = FC.getSignature(fixtureKey.accessKeyId, fixtureKey.accessKeySecret, 'POST', path, headers, null);
  return headers;
}
