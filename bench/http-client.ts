/**
 * http-client (issue #11: outbound HTTP without node:http). Warm, steady state: shared/http/request.ts
 * (HTTP/1.1 over node:net, its own keep-alive pool) against the node:http client it replaced
 * (bench/baselines/node-http-request.ts: a keep-alive Agent, 64 sockets), side by side in this
 * process, alternating rounds, against one node:http server in a child process on loopback (so the
 * server's work is not on this process's clock). Each request is what a CAMS call sends and gets:
 * a signed-size form POST and a JSON reply with its request id header.
 *   - sequential: one request after another; latency per request (median of rounds' p50) and CPU
 *     time per request;
 *   - concurrent: the same number with 64 in flight (the pool's limit); CPU time per request.
 * Goal: the new client costs no more CPU per request than node:http (ratio ≤ 1), in both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { httpRequest as ours } from '../shared/http/request.ts';
import { httpRequest as nodeHttp } from './baselines/node-http-request.ts';
import { median, quantile, round } from './lib/stats.ts';
import { goal, type Benchmark, type BenchResult } from './lib/types.ts';

const DEFAULT_ROUNDS = 8;
const PER_ROUND = 1000;
const IN_FLIGHT = 64;
export const GOAL_RATIO = 1;

type Request = (url: string, opts: { method: string; headers: Record<string, string>; body: string; timeoutMs: number }) => Promise<{ status: number; body: Buffer }>;
const CLIENTS: Array<[string, Request]> = [
  ['ours (node:net)', ours],
  ['node:http Agent', nodeHttp],
];

// A CAMS-sized exchange: ~300 bytes of form, ~200 bytes of JSON with x-acs-request-id.
const SERVER = `
const http = require('node:http');
const reply = JSON.stringify({ RequestId: '0F6C7E2A-1B3D-4C5E-8F90-A1B2C3D4E5F6', Code: 'OK', Data: { Status: 'AVAILABLE', QualityRating: 'GREEN', CustSpaceId: 'cams-12345' } });
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json;charset=utf-8', 'x-acs-request-id': '0F6C7E2A-1B3D-4C5E-8F90-A1B2C3D4E5F6' }).end(reply));
}).listen(0, '127.0.0.1', function () { process.stdout.write(this.address().port + '\\n'); });
`;
const FORM = `Action=GetWhatsappHealthStatus&CustSpaceId=cams-12345&NodeType=PHONE_NUMBER&PhoneNumber=6591234567&WabaId=123456789012345&${'x'.repeat(160)}`;
const HEADERS = { 'content-type': 'application/x-www-form-urlencoded', 'x-acs-action': 'GetWhatsappHealthStatus', authorization: `ACS3-HMAC-SHA256 Credential=LTAIbench,SignedHeaders=host;x-acs-action,Signature=${'a'.repeat(64)}` };

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function sequential(req: Request, url: string, n: number): Promise<{ p50us: number; cpuUsPerReq: number }> {
  const lat: number[] = [];
  const c0 = cpuMs();
  for (let i = 0; i < n; i += 1) {
    const t = performance.now();
    const r = await req(url, { method: 'POST', headers: HEADERS, body: FORM, timeoutMs: 5000 });
    lat.push((performance.now() - t) * 1000);
    if (r.status !== 200) throw new Error(`status ${r.status}`);
  }
  return { p50us: quantile(lat, 0.5), cpuUsPerReq: ((cpuMs() - c0) * 1000) / n };
}

async function concurrent(req: Request, url: string, n: number): Promise<{ cpuUsPerReq: number; wallMs: number }> {
  const c0 = cpuMs();
  const t = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next += 1;
      const r = await req(url, { method: 'POST', headers: HEADERS, body: FORM, timeoutMs: 10_000 });
      if (r.status !== 200) throw new Error(`status ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return { cpuUsPerReq: ((cpuMs() - c0) * 1000) / n, wallMs: performance.now() - t };
}

export const httpClient: Benchmark = {
  name: 'http-client',
  issue: '#11',
  description: 'warm: shared/http/request.ts (HTTP/1.1 over node:net) vs the node:http keep-alive client it replaced, sequential and 64 in flight, against a node:http server in a child process',
  async run({ runs, log }): Promise<BenchResult> {
    const startedAt = new Date();
    const rounds = runs ?? DEFAULT_ROUNDS;
    const server: ChildProcess = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(server.stdout!, 'data')) as [Buffer];
      const url = `http://127.0.0.1:${line.toString().trim()}/`;
      // Warm-up: JIT both paths and open both pools before anything is timed.
      for (const [, req] of CLIENTS) {
        await sequential(req, url, 300);
        await concurrent(req, url, 600);
      }
      const seq = new Map<string, { p50: number[]; cpu: number[] }>(CLIENTS.map(([n]) => [n, { p50: [], cpu: [] }]));
      const con = new Map<string, { cpu: number[]; wall: number[] }>(CLIENTS.map(([n]) => [n, { cpu: [], wall: [] }]));
      for (let r = 0; r < rounds; r += 1) {
        // Order alternates by round, so neither side always runs right after the other.
        const order = r % 2 === 0 ? CLIENTS : [...CLIENTS].reverse();
        for (const [name, req] of order) {
          const s = await sequential(req, url, PER_ROUND);
          seq.get(name)!.p50.push(s.p50us);
          seq.get(name)!.cpu.push(s.cpuUsPerReq);
          const c = await concurrent(req, url, PER_ROUND * 2);
          con.get(name)!.cpu.push(c.cpuUsPerReq);
          con.get(name)!.wall.push(c.wallMs);
        }
        log(`http-client: round ${r + 1}/${rounds}`);
      }
      const [oursName, baseName] = CLIENTS.map(([n]) => n) as [string, string];
      const rows = CLIENTS.map(([name]) => [name, round(median(seq.get(name)!.p50), 1), round(median(seq.get(name)!.cpu), 1), round(median(con.get(name)!.cpu), 1), round(median(con.get(name)!.wall), 1)]);
      const seqRatio = median(seq.get(oursName)!.cpu) / median(seq.get(baseName)!.cpu);
      const conRatio = median(con.get(oursName)!.cpu) / median(con.get(baseName)!.cpu);
      const latRatio = median(seq.get(oursName)!.p50) / median(seq.get(baseName)!.p50);
      return {
        name: this.name,
        description: this.description,
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - startedAt.getTime(),
        tables: [
          {
            title: `medians over ${rounds} rounds; sequential: ${PER_ROUND} requests, concurrent: ${PER_ROUND * 2} with ${IN_FLIGHT} in flight`,
            columns: ['client', 'seq p50 µs', 'seq CPU µs/req', `${IN_FLIGHT} in flight CPU µs/req`, `${IN_FLIGHT} in flight wall ms`],
            rows,
          },
        ],
        goals: [
          goal('sequential: CPU per request, ours / node:http', round(seqRatio, 3), GOAL_RATIO, 'x', undefined, 3),
          goal(`${IN_FLIGHT} in flight: CPU per request, ours / node:http`, round(conRatio, 3), GOAL_RATIO, 'x', undefined, 3),
          goal('sequential: p50 latency, ours / node:http', round(latRatio, 3), GOAL_RATIO, 'x', undefined, 3),
        ],
        data: {
          rounds,
          sequential: Object.fromEntries(CLIENTS.map(([n]) => [n, { p50us: seq.get(n)!.p50, cpuUsPerReq: seq.get(n)!.cpu }])),
          concurrent: Object.fromEntries(CLIENTS.map(([n]) => [n, { cpuUsPerReq: con.get(n)!.cpu, wallMs: con.get(n)!.wall }])),
        },
        notes: [
          'the server is a node:http server in a child process on loopback, the same for both clients; CPU time is this process\'s (user + system), so the server\'s work is not in it.',
          'what it does not show: the first request of a fresh process, where node:http costs ~8 ms more CPU than node:net (function-cold-start shows that).',
        ],
      };
    } finally {
      server.kill();
    }
  },
};
