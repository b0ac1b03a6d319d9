import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmCall, startNpmHost, type NpmHost } from '../npm-start.ts';
import { callRoute } from './support.ts';

// `npm start` as a child process (node --import tsx local/host/main.ts, exactly what the script
// runs), driven over HTTP, then `npm run call` as a child process against it.
let host: NpmHost;
let url: string;
let output: string;

const runCli = (args: string[]) => npmCall(url, args);

beforeAll(async () => {
  host = await startNpmHost();
  url = host.url;
  output = host.output();
}, 40_000);

afterAll(() => host?.stop());

describe('npm start (child process)', () => {
  it('prints its URL, routes, the sandbox, the default key pair and an example command', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output).toMatch(/POST \/waba\/bind\s+-> bind-waba/);
    expect(output).toMatch(/GET \/health-status\s+-> get-health-status/);
    expect(output).toMatch(/CAMS sandbox: http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toContain('local-caller:local-caller-secret-0001');
    expect(output).toContain(`try: CAMS_FC_URL=${url} npm run call -- POST /waba/bind '{"WabaId":"1234567890"}'`);
  });

  it('binds a WABA, adds a phone number and reads its health over HTTP', async () => {
    const bound = await callRoute(url, { method: 'POST', path: '/waba/bind', body: { WabaId: '400000000000001' } });
    expect(bound.status).toBe(200);
    expect(bound.json).toMatchObject({ Code: 'OK', Success: true, Data: { WabaId: '400000000000001' } });
    const space = bound.json.Data!['CustSpaceId'] as string;

    const added = await callRoute(url, { method: 'POST', path: '/phone-numbers', body: { CustSpaceId: space, Cc: '86', PhoneNumber: '13900000001', VerifiedName: 'Acme Shop' } });
    expect(added.status).toBe(200);
    expect(added.json).not.toHaveProperty('Data'); // CAMS sends none for AddChatappPhoneNumber

    const health = await callRoute(url, { method: 'GET', path: '/health-status', query: { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613900000001' } });
    expect(health.status).toBe(200);
    expect(health.json.Data).toMatchObject({ CanSendMessage: 'AVAILABLE' });
    expect(health.json.RequestId).toBe(health.headers['x-fc-request-id']);
  });

  it('npm run call: signs with the default pair, prints the status line and pretty JSON, exit 0 on 2xx', async () => {
    const { code, stdout, stderr } = await runCli(['POST', '/waba/bind', '{"WabaId":"400000000000002"}']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [status, ...rest] = stdout.trimEnd().split('\n');
    expect(status).toMatch(/^HTTP 200 OK {2}POST \/waba\/bind {2}\(x-fc-request-id 1-[0-9a-f]+-[0-9a-f]{24}\)$/);
    const json = JSON.parse(rest.join('\n'));
    expect(json).toMatchObject({ Code: 'OK', Success: true, Data: { WabaId: '400000000000002' } });
    expect(rest[1]).toBe(`  "RequestId": "${json.RequestId}",`); // pretty-printed
  });

  it('npm run call: a query in PATH, exit 1 on a non-2xx reply and on bad arguments', async () => {
    const q = await runCli(['GET', '/waba?CustSpaceId=not-mine']);
    expect(q.code).toBe(1);
    expect(q.stdout).toMatch(/^HTTP 404 Not Found {2}GET \/waba\?CustSpaceId=not-mine/);
    expect(JSON.parse(q.stdout.slice(q.stdout.indexOf('{')))).toMatchObject({ Code: 'Unknown.ResourceOwnerId' });

    const bad = await runCli(['POST', '/waba/bind', '{not json']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/JSON is not valid JSON[\s\S]*usage: npm run call -- METHOD PATH \[JSON\]/);
  });

  it('stops cleanly on SIGTERM', async () => {
    host.child.kill('SIGTERM');
    expect(await host.exited).toBe(0);
    expect(host.output()).toContain('local host: SIGTERM, stopping');
  });
});
