// `npm run call` as the real process, its stdout a pipe read by someone slower than it writes.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const ITEMS = Array.from({ length: 4_000 }, (_, i) => ({ Id: `node-${i}`, Status: 'AVAILABLE', Note: 'x'.repeat(40) }));
let server: http.Server;
let base: string;
let answered: () => void;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ RequestId: 'r', Items: ITEMS }), () => answered());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

it('prints a reply larger than a pipe holds in full, even when the reader is slow (| jq)', async () => {
  const sent = new Promise<void>((r) => (answered = r));
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/cli/call.ts', 'GET', '/health-report'], {
    cwd: REPO,
    env: { ...process.env, CAMS_FC_URL: base },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pause(); // a reader that has not got round to it yet
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const closed = new Promise((r) => child.stdout.once('close', r));
  await sent;
  // Without the flush, the call exits as soon as it has the reply, and the pipe keeps only 64 KB.
  // With it, the call waits for the reader: give it the time to exit early if it would.
  const early = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 1_000))]);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  child.stdout.resume();
  const code = await exited;
  await closed;
  const out = Buffer.concat(chunks).toString('utf8');
  const [status, ...body] = out.split('\n');
  expect(status).toMatch(/^HTTP 200 OK {2}GET \/health-report/);
  expect(out.length).toBeGreaterThan(200_000);
  expect(JSON.parse(body.join('\n'))).toMatchObject({ Items: ITEMS });
  expect({ code, early }).toEqual({ code: 0, early: false });
});
