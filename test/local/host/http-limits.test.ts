import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../../local/host/host.ts';
import { callRoute } from './support.ts';

// What the host refuses before a function runs, and what it passes through verbatim: the real
// serverless.yml and functions, in this process, on free ports, no timers, default limits.
let host: RunningHost;
let storeDir: string;
const lines: string[] = [];

beforeAll(async () => {
  process.env['LOG_LEVEL'] = 'warn';
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-limits-'));
  host = await startHost({ port: 0, sandbox: { port: 0 }, timers: false, env: { STORE_URL: `file:${storeDir}` }, log: (l) => lines.push(l) });
});
afterAll(async () => {
  await host?.close();
  rmSync(storeDir, { recursive: true, force: true });
});

function rawRequest(path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${host.url}${path}`, { headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the host\'s request limits', () => {
  it('headers over 16 KiB get 431 RequestHeaderFieldsTooLarge in the CAMS envelope, not a bare 400', async () => {
    const res = await rawRequest('/health-report', { 'x-padding': 'p'.repeat(20 * 1024) });
    expect(res.status).toBe(431);
    expect(res.headers['content-type']).toContain('application/json');
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ Code: 'RequestHeaderFieldsTooLarge', Success: false, Message: expect.stringContaining('16384') });
    expect(body.RequestId).toBe(res.headers['x-fc-request-id']);
    // The host still serves.
    expect((await callRoute(host.url, { method: 'GET', path: '/health-report' })).status).toBe(200);
  });

  it('a body of exactly the function\'s MAX_BODY_BYTES (262144) reaches it; one byte more is 413 from the host', async () => {
    const padFor = (size: number) => 'x'.repeat(size - JSON.stringify({ WabaId: '1', Pad: '' }).length);
    const atLimit = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '1', Pad: padFor(262_144) } });
    // The function answered (it refuses the unknown parameter by name), so the host let it through.
    expect(atLimit.status).toBe(400);
    expect(atLimit.text).toContain('Pad');

    const before = lines.length;
    const over = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: '1', Pad: padFor(262_145) } });
    expect(over.status).toBe(413);
    expect(over.json).toMatchObject({ Code: 'RequestEntityTooLarge', Success: false, Message: 'The request body exceeds 262144 bytes.' });
    expect(over.headers['connection']).toBe('close');
    // Refused by the host: the request line names no function.
    expect(lines.slice(before).join('\n')).toMatch(/POST \/waba\/bind -> 413 \(/);
  });

  it('query keys named like Object members reach the function verbatim (a refusal by name, not a broken signature)', async () => {
    const res = await callRoute(host.url, { method: 'GET', path: '/waba', query: { CustSpaceId: 'cs-1', constructor: 'x' } });
    expect(res.status).toBe(400);
    expect(res.text).toContain('constructor');
    expect(res.text).not.toContain('function Object');
  });

  it('credentials in a logged URL are redacted', async () => {
    const before = lines.length;
    const res = await rawRequest('/hooks/https://bot:t0ps3cret@example.com/x', {});
    expect(res.status).toBe(404);
    const logged = lines.slice(before).join('\n');
    expect(logged).toContain('https://***@example.com/x');
    expect(logged).not.toContain('t0ps3cret');
  });

  it('the banner shows a STORE_URL without its password', async () => {
    const redisHost = await startHost({
      port: 0,
      sandbox: { port: 0 },
      timers: false,
      env: { STORE_URL: 'redis://:Banner5ecret@127.0.0.1:1/0' },
      log: () => {},
    });
    try {
      const banner = redisHost.banner().join('\n');
      expect(banner).toContain('store: redis://***@127.0.0.1:1/0');
      expect(banner).not.toContain('Banner5ecret');
    } finally {
      await redisHost.close();
    }
  });
});
