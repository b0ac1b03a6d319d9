import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCall } from '../../../local/cli/run-call.ts';
import { parseSandboxCallArgs, SandboxUsageError } from '../../../local/cli/sandbox-call.ts';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import { DEFAULT_SANDBOX_KEYS, startSandbox, type RunningSandbox } from '../../../local/sandbox/server.ts';
import { httpRequest } from '../../../shared/http/request.ts';

// `npm run call -- --sandbox ...` against a real sandbox, which checks the ACS3 signature as CAMS does.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OTHER = { accessKeyId: 'LTAIcli0000000000001', accessKeySecret: 'cliSecret000000000000000000001' };
let sb: RunningSandbox;
beforeAll(async () => {
  sb = await startSandbox({ port: 0, keys: [...DEFAULT_SANDBOX_KEYS, OTHER] });
});
afterAll(async () => {
  await sb.close();
});

async function run(argv: string[], env: Record<string, string | undefined> = { CAMS_SANDBOX_URL: sb.url }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCall(argv, env, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function calls(): Promise<CallRecord[]> {
  return JSON.parse((await httpRequest(`${sb.url}/__sandbox/calls`)).body.toString()) as CallRecord[];
}

describe('parseSandboxCallArgs', () => {
  it('takes METHOD ACTION [JSON] and turns scalar JSON values into the strings CAMS takes', () => {
    expect(parseSandboxCallArgs(['post', 'ChatappBindWaba', '{"WabaId":1234567890}'])).toEqual({ method: 'POST', action: 'ChatappBindWaba', params: { WabaId: '1234567890' } });
    expect(parseSandboxCallArgs(['GET', 'QueryChatappBindWaba'])).toEqual({ method: 'GET', action: 'QueryChatappBindWaba', params: {} });
  });

  it.each([
    [['POST'], /expected METHOD ACTION/],
    [['PUT', 'ChatappBindWaba'], /METHOD must be POST or GET/],
    [['POST', 'DeleteEverything'], /ACTION "DeleteEverything"/],
    [['POST', 'ChatappBindWaba', '{oops'], /not valid JSON/],
    [['POST', 'ChatappBindWaba', '[1]'], /must be an object/],
    [['POST', 'ChatappBindWaba', '{"WabaId":{"a":1}}'], /JSON parameter WabaId/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseSandboxCallArgs(argv as string[])).toThrow(SandboxUsageError);
    expect(() => parseSandboxCallArgs(argv as string[])).toThrow(message);
  });
});

describe('npm run call -- --sandbox', () => {
  it('signs with the default sandbox key: bind, then the other three operations, exit 0', async () => {
    const bound = await run(['--sandbox', 'POST', 'ChatappBindWaba', '{"WabaId":"880000001"}']);
    expect(bound.err).toBe('');
    expect(bound.code).toBe(0);
    expect(bound.out.split('\n')[0]).toMatch(/^HTTP 200 OK {2}POST ChatappBindWaba \(key LTAIsandbox0000000001\) {2}\(x-acs-request-id [0-9A-F-]{36}\)$/);
    const space = (JSON.parse(bound.out.slice(bound.out.indexOf('\n') + 1)) as { Data: { CustSpaceId: string } }).Data.CustSpaceId;

    expect((await run(['--sandbox', 'GET', 'QueryChatappBindWaba', JSON.stringify({ CustSpaceId: space })])).code).toBe(0);
    const name = "Acme & Sons (Café) *!'+";
    expect((await run(['--sandbox', 'POST', 'AddChatappPhoneNumber', JSON.stringify({ CustSpaceId: space, Cc: '65', PhoneNumber: '88001234', VerifiedName: name })])).code).toBe(0);
    const health = await run(['--sandbox', 'POST', 'GetWhatsappHealthStatus', JSON.stringify({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '6588001234' })]);
    expect(health.code).toBe(0);
    expect(health.out).toContain('"CanSendMessage": "AVAILABLE"');

    const mine = (await calls()).filter((c) => c.Params['CustSpaceId'] === space || c.Params['WabaId'] === '880000001');
    expect(mine.map((c) => `${c.Action}:${c.Code}:${c.AccessKeyId}`)).toEqual([
      'ChatappBindWaba:OK:LTAIsandbox0000000001',
      'QueryChatappBindWaba:OK:LTAIsandbox0000000001',
      'AddChatappPhoneNumber:OK:LTAIsandbox0000000001',
      'GetWhatsappHealthStatus:OK:LTAIsandbox0000000001',
    ]);
    expect(mine[2]!.Params['VerifiedName']).toBe(name);
  });

  it('a CAMS error is printed and exits 1: a business error (HTTP 200) and a gateway error', async () => {
    const missing = await run(['--sandbox', 'POST', 'ChatappBindWaba']);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/^HTTP 400 Bad Request/);
    expect(missing.out).toContain('"Code": "MissingParameter"');
    const bound = await run(['--sandbox', 'POST', 'ChatappBindWaba', '{"WabaId":"880000002"}']);
    const space = (JSON.parse(bound.out.slice(bound.out.indexOf('\n') + 1)) as { Data: { CustSpaceId: string } }).Data.CustSpaceId;
    const phone = JSON.stringify({ CustSpaceId: space, Cc: '65', PhoneNumber: '88002345', VerifiedName: 'Acme' });
    expect((await run(['--sandbox', 'POST', 'AddChatappPhoneNumber', phone])).code).toBe(0);
    const again = await run(['--sandbox', 'POST', 'AddChatappPhoneNumber', phone]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/^HTTP 200 OK/);
    expect(again.out).toContain('"Code": "Phone.Exists"');
  });

  it('signs with the first CAMS_SANDBOX_KEYS pair; targets http://127.0.0.1:$CAMS_SANDBOX_PORT when CAMS_SANDBOX_URL is unset', async () => {
    const r = await run(['--sandbox', 'POST', 'ChatappBindWaba', '{"WabaId":"880000003"}'], {
      CAMS_SANDBOX_PORT: String(sb.port),
      CAMS_SANDBOX_KEYS: `${OTHER.accessKeyId}:${OTHER.accessKeySecret}`,
    });
    expect(r.code).toBe(0);
    expect((await calls()).find((c) => c.Params['WabaId'] === '880000003')).toMatchObject({ AccessKeyId: OTHER.accessKeyId, Code: 'OK' });
    // A key the sandbox does not know is refused by it, and the output never shows a secret.
    const unknown = await run(['--sandbox', 'POST', 'ChatappBindWaba', '{"WabaId":"1"}'], { CAMS_SANDBOX_URL: sb.url, CAMS_SANDBOX_KEYS: 'LTAIelsewhere:elsewhereSecret0001' });
    expect(unknown.code).toBe(1);
    expect(unknown.out).toContain('InvalidAccessKeyId.NotFound');
    expect(unknown.out + unknown.err).not.toContain('elsewhereSecret0001');
  });

  it('bad arguments, a bad CAMS_SANDBOX_KEYS or URL, no sandbox: exit 1 with a message naming the problem', async () => {
    const usage = await run(['--sandbox', 'POST']);
    expect(usage).toMatchObject({ code: 1, err: expect.stringContaining('usage: npm run call -- --sandbox METHOD ACTION [JSON]') });
    expect(await run(['--sandbox', 'POST', 'ChatappBindWaba'], { CAMS_SANDBOX_KEYS: 'nocolon' })).toMatchObject({ code: 1, err: expect.stringContaining('CAMS_SANDBOX_KEYS entry 1') });
    expect(await run(['--sandbox', 'POST', 'ChatappBindWaba'], { CAMS_SANDBOX_URL: 'ftp://x' })).toMatchObject({ code: 1, err: expect.stringContaining('CAMS_SANDBOX_URL') });
    const unparsable = await run(['--sandbox', 'POST', 'ChatappBindWaba'], { CAMS_SANDBOX_URL: 'https://u:pa ss-S3cret@sb.example.com:99999' });
    expect(unparsable).toMatchObject({ code: 1, err: expect.stringContaining('CAMS_SANDBOX_URL') });
    expect(unparsable.err).not.toContain('S3cret');
    const down = await run(['--sandbox', 'POST', 'ChatappBindWaba'], { CAMS_SANDBOX_URL: 'http://127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/no reply from the CAMS sandbox at http:\/\/127\.0\.0\.1:1[\s\S]*npm run sandbox/);
  });

  it('--help shows both forms', async () => {
    const r = await run(['--help']);
    expect(r.out).toContain('usage: npm run call -- METHOD PATH [JSON]');
    expect(r.out).toContain('usage: npm run call -- --sandbox METHOD ACTION [JSON]');
  });

  it('as the npm script runs it: a child process, exit code 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli/call.ts', '--sandbox', 'POST', 'ChatappBindWaba', '{"WabaId":"880000004"}'], {
      cwd: ROOT,
      env: { ...process.env, CAMS_SANDBOX_URL: sb.url, CAMS_SANDBOX_KEYS: '' },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(0);
    expect(out).toContain('"WabaId": "880000004"');
  }, 30_000);
});
