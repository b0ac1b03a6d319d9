import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseCallArgs, runCall, UsageError } from '../../../local/cli/run-call.ts';
import { InMemoryNonceRegistry, verifyAcs3Request } from '../../../shared/acs3/index.ts';

// A stand-in for the host: verifies the ACS3 signature the way the routes do and records the call.
interface Seen {
  method: string;
  url: string;
  body: string;
  verified: string;
}
let server: http.Server;
let base: string;
let seen: Seen[] = [];
let replyStatus = 200;
const KEYS: Record<string, string> = { 'local-caller': 'local-caller-secret-0001', 'k-one': 'k-one-secret-0001', 'k-two': 'k-two-secret-0002' };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const [path, search = ''] = (req.url ?? '/').split('?') as [string, string?];
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(',') : (v ?? '');
      const result = await verifyAcs3Request(
        { method: req.method!, path, query: Object.fromEntries(new URLSearchParams(search)), headers, body },
        { lookupSecret: (id) => KEYS[id], nonces: new InMemoryNonceRegistry(), requiredSignedHeaders: ['x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce', ...(body.length ? ['content-type'] : [])] },
      );
      seen.push({ method: req.method!, url: req.url!, body: body.toString(), verified: result.ok ? result.accessKeyId : result.code });
      res.writeHead(replyStatus, { 'content-type': 'application/json', 'x-fc-request-id': 'req-1' });
      res.end(JSON.stringify({ RequestId: 'req-1', Code: replyStatus === 200 ? 'OK' : 'Nope', Success: replyStatus === 200 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen = [];
  replyStatus = 200;
});

async function run(argv: string[], env: Record<string, string | undefined> = { CAMS_FC_URL: base }) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCall(argv, env, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('parseCallArgs', () => {
  it('splits a query off PATH and parses the JSON body', () => {
    expect(parseCallArgs(['get', '/health-status?CustSpaceId=cs%201&NodeType=waba'])).toEqual({
      method: 'GET',
      path: '/health-status',
      query: { CustSpaceId: 'cs 1', NodeType: 'waba' },
    });
    expect(parseCallArgs(['POST', '/waba/bind', '{"WabaId":"1"}'])).toEqual({ method: 'POST', path: '/waba/bind', query: {}, body: { WabaId: '1' } });
  });

  it('joins a repeated query key with commas; a key named like an Object property is just a key', () => {
    expect(parseCallArgs(['GET', '/watch-list?A=1&A=2&constructor=x&toString=y&__proto__=z']).query).toEqual(
      Object.fromEntries([['A', '1,2'], ['constructor', 'x'], ['toString', 'y'], ['__proto__', 'z']]),
    );
    expect(Object.keys(parseCallArgs(['GET', '/watch-list?__proto__=z']).query)).toEqual(['__proto__']);
  });

  it.each([
    [[], /expected METHOD PATH/],
    [['POST'], /expected METHOD PATH/],
    [['POST', '/a', '{}', 'extra'], /expected METHOD PATH/],
    [['FETCH', '/a'], /not an HTTP method/],
    [['GET', 'waba'], /must start with \//],
    [['POST', '/a', '{oops'], /not valid JSON/],
    [['POST', '/a', '[1,2]'], /must be an object/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCallArgs(argv as string[])).toThrow(UsageError);
    expect(() => parseCallArgs(argv as string[])).toThrow(message);
  });
});

describe('runCall', () => {
  it('signs with the default pair when API_KEYS is unset, as the routes require', async () => {
    const r = await run(['POST', '/waba/bind', '{"WabaId":"1234567890"}']);
    expect(r.code).toBe(0);
    expect(seen).toEqual([{ method: 'POST', url: '/waba/bind', body: '{"WabaId":"1234567890"}', verified: 'local-caller' }]);
    expect(r.out.split('\n')[0]).toBe('HTTP 200 OK  POST /waba/bind  (x-fc-request-id req-1)');
    expect(r.out).toContain('{\n  "RequestId": "req-1",\n  "Code": "OK",\n  "Success": true\n}');
  });

  it('signs with the first API_KEYS pair, sends the query, and exits 1 on a non-2xx reply', async () => {
    replyStatus = 404;
    const r = await run(['GET', '/waba?CustSpaceId=a b&x=1'], { CAMS_FC_URL: base, API_KEYS: 'k-one:k-one-secret-0001,k-two:k-two-secret-0002' });
    expect(r.code).toBe(1);
    expect(seen).toEqual([{ method: 'GET', url: '/waba?CustSpaceId=a%20b&x=1', body: '', verified: 'k-one' }]);
    expect(r.out.split('\n')[0]).toMatch(/^HTTP 404 Not Found {2}GET \/waba\?CustSpaceId=a%20b&x=1/);
  });

  it('targets http://127.0.0.1:$PORT when CAMS_FC_URL is unset', async () => {
    const r = await run(['GET', '/waba'], { PORT: new URL(base).port });
    expect(r.code).toBe(0);
    expect(seen).toHaveLength(1);
  });

  it('keeps a path prefix of CAMS_FC_URL (a gateway mount point)', async () => {
    await run(['GET', '/waba'], { CAMS_FC_URL: `${base}/prefix/` });
    expect(seen[0]).toMatchObject({ url: '/prefix/waba', verified: 'local-caller' });
  });

  it('bad arguments, a bad API_KEYS or CAMS_FC_URL, and an unreachable host: exit 1 with a clear message', async () => {
    const usage = await run(['GET']);
    expect(usage.code).toBe(1);
    expect(usage.err).toContain('usage: npm run call -- METHOD PATH [JSON]');
    const keys = await run(['GET', '/waba'], { CAMS_FC_URL: base, API_KEYS: 'nocolon' });
    expect(keys).toMatchObject({ code: 1, err: expect.stringContaining('API_KEYS: entry 1') });
    const target = await run(['GET', '/waba'], { CAMS_FC_URL: 'ftp://x' });
    expect(target).toMatchObject({ code: 1, err: expect.stringContaining('CAMS_FC_URL') });
    // A URL that does not parse is named, never echoed: a gateway URL may carry a password.
    const unparsable = await run(['GET', '/waba'], { CAMS_FC_URL: 'https://gw:pa ss-S3cret@gw.example.com:99999' });
    expect(unparsable).toMatchObject({ code: 1, err: expect.stringContaining('CAMS_FC_URL') });
    expect(unparsable.err).not.toContain('S3cret');
    const down = await run(['GET', '/waba'], { CAMS_FC_URL: 'http://127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/no reply from http:\/\/127\.0\.0\.1:1[\s\S]*npm start/);
    expect(seen).toEqual([]);
  });

  it('--help prints the usage', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('usage: npm run call');
    // HEAD is accepted (every GET route answers it: uptime probes), so the usage lists it.
    expect(r.out).toContain('METHOD  GET, HEAD, POST, PUT, PATCH, DELETE');
    expect(parseCallArgs(['HEAD', '/health-report']).method).toBe('HEAD');
  });
});
