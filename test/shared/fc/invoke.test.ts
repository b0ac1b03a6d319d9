// FC 3.0's InvokeFunction as onboarding-api sends it: a real loopback server checks each request
// with the real ACS3 verifier (the gateway's rules), then answers as FC 3.0 does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryNonceRegistry, verifyAcs3Request, type VerifyResult } from '../../../shared/acs3/index.ts';
import { fc3Endpoint, fc3InvocationsPath, FcInvokeError, invokeFc3 } from '../../../shared/fc/invoke.ts';

const KEY = { accessKeyId: 'STS.caller', accessKeySecret: 'caller-secret-0001' };
interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  verdict: VerifyResult;
}
const seen: Seen[] = [];
let reply: (res: http.ServerResponse) => void = (res) => {
  res.writeHead(202, { 'x-fc-request-id': 'fc-req-1' });
  res.end();
};
let server: http.Server;
let endpoint: string;

beforeAll(async () => {
  const nonces = new InMemoryNonceRegistry();
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url!, 'http://x');
      void verifyAcs3Request(
        { method: req.method!, path: url.pathname, query: Object.fromEntries(url.searchParams), headers: req.headers, body },
        { lookupSecret: (id) => (id === KEY.accessKeyId ? KEY.accessKeySecret : undefined), nonces },
      ).then((verdict) => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: body.toString('utf8'), verdict });
        reply(res);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('invokeFc3', () => {
  it('sends an ACS3-signed async InvokeFunction the verifier accepts, and answers FC request id', async () => {
    seen.length = 0;
    const payload = JSON.stringify({ OnboardingId: 'ob-1', Payload: { WabaId: '1' } });
    const res = await invokeFc3({ endpoint, functionName: 'cams-fc-prod-onboarding', payload, async: true, credentials: { ...KEY, securityToken: 'sts-token' } });
    expect(res).toMatchObject({ status: 202, requestId: 'fc-req-1' });
    const [req] = seen;
    expect(req!.verdict).toEqual({ ok: true, accessKeyId: KEY.accessKeyId, securityToken: 'sts-token' });
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/2023-03-30/functions/cams-fc-prod-onboarding/invocations');
    expect(req!.body).toBe(payload);
    expect(req!.headers).toMatchObject({
      'x-fc-invocation-type': 'Async',
      'x-acs-action': 'InvokeFunction',
      'x-acs-version': '2023-03-30',
      'content-type': 'application/octet-stream',
      'x-acs-security-token': 'sts-token',
    });
    expect(req!.headers.authorization).toMatch(/^ACS3-HMAC-SHA256 Credential=STS\.caller,SignedHeaders=content-type;host;x-acs-/);
  });

  it('signs the qualifier and an encoded name; sync says so', async () => {
    seen.length = 0;
    await invokeFc3({ endpoint, functionName: 'a b', qualifier: 'LATEST', payload: '', async: false, credentials: KEY });
    expect(seen[0]!.url).toBe('/2023-03-30/functions/a%20b/invocations?qualifier=LATEST');
    expect(seen[0]!.headers['x-fc-invocation-type']).toBe('Sync');
    expect(seen[0]!.verdict.ok).toBe(true);
  });

  it("a wrong secret is refused by the verifier: the signature is over what is sent", async () => {
    seen.length = 0;
    await invokeFc3({ endpoint, functionName: 'f', payload: 'x', async: true, credentials: { ...KEY, accessKeySecret: 'wrong' } });
    expect(seen[0]!.verdict).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
  });

  it("FC's error reply becomes an FcInvokeError with its status, Code and Message", async () => {
    reply = (res) => {
      res.writeHead(404, { 'content-type': 'application/json', 'x-fc-request-id': 'fc-req-2' });
      res.end(JSON.stringify({ Code: 'FunctionNotFound', Message: 'function not found', RequestId: 'fc-req-2' }));
    };
    const err = await invokeFc3({ endpoint, functionName: 'nope', payload: '{}', async: true, credentials: KEY }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FcInvokeError);
    expect(err).toMatchObject({ status: 404, code: 'FunctionNotFound', requestId: 'fc-req-2' });
    expect((err as Error).message).toBe('FC InvokeFunction answered 404 FunctionNotFound: function not found');
    expect((err as Error).message).not.toContain(KEY.accessKeySecret);

    reply = (res) => {
      res.writeHead(502);
      res.end('bad gateway');
    };
    await expect(invokeFc3({ endpoint, functionName: 'f', payload: '{}', async: true, credentials: KEY })).rejects.toMatchObject({ status: 502, code: 'HTTP502', message: expect.stringContaining('bad gateway') });
  });

  it('builds FC 3.0 public endpoint and path', () => {
    expect(fc3Endpoint('1234567890123456', 'ap-southeast-1')).toBe('https://1234567890123456.ap-southeast-1.fc.aliyuncs.com');
    expect(fc3InvocationsPath("o'n*")).toBe('/2023-03-30/functions/o%27n%2A/invocations');
  });
});
