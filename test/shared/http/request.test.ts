import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, HttpTimeoutError } from '../../../shared/http/request.ts';

let server: http.Server;
let base: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 500);
    if (req.url === '/big') return void res.end(Buffer.alloc(2048, 1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(JSON.stringify({ method: req.method, len: req.headers['content-length'], body: Buffer.concat(chunks).toString() })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('httpRequest', () => {
  it('sends the body with its length and returns status, headers and body', async () => {
    const res = await httpRequest(`${base}/echo`, { method: 'POST', body: 'héllo' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ method: 'POST', len: '6', body: 'héllo' });
  });

  it('times out with HttpTimeoutError', async () => {
    await expect(httpRequest(`${base}/slow`, { timeoutMs: 50 })).rejects.toBeInstanceOf(HttpTimeoutError);
  });

  it('refuses a reply over maxBodyBytes', async () => {
    await expect(httpRequest(`${base}/big`, { maxBodyBytes: 1024 })).rejects.toThrow(/exceeds 1024 bytes/);
  });

  it('loads https on demand (a closed port gives the network error, not a loader error)', async () => {
    const closed = `https://127.0.0.1:${(server.address() as AddressInfo).port + 1}/`;
    await expect(httpRequest(closed, { timeoutMs: 2000 })).rejects.toMatchObject({ code: expect.stringMatching(/ECONNREFUSED|EPROTO|ECONNRESET/) });
  });

  it('rejects other protocols', async () => {
    await expect(httpRequest('ftp://127.0.0.1/')).rejects.toThrow(/unsupported protocol/);
  });
});
