import net from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { bind, call, control, KEY_A, prepareCall, start } from './helpers.ts';

let sb: RunningSandbox;
const lines: string[] = [];
beforeAll(async () => {
  sb = await start({ maxBodyBytes: 64 * 1024, qps: { GetWhatsappHealthStatus: 1000, ChatappBindWaba: 1000 }, log: (l) => lines.push(l) });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(async () => {
  await control(sb, 'POST', '/__sandbox/reset');
});

const healthCall = (space: string) => call(sb, { action: 'GetWhatsappHealthStatus', params: { CustSpaceId: space, NodeType: 'waba' } });

describe('PUT /__sandbox/health validation', () => {
  it('rejects bad input with 400 and a message naming the problem', async () => {
    const space = await bind(sb, '123123');
    const base = { CustSpaceId: space, NodeType: 'waba', CanSendMessage: 'BLOCKED' };
    const cases: [unknown, string][] = [
      ['{not json', 'JSON'],
      ['[]', '(body)'],
      [{ ...base, CanSendMessage: 'MAYBE' }, 'CanSendMessage'],
      [{ CustSpaceId: space, NodeType: 'waba' }, 'CanSendMessage'],
      [{ ...base, NodeType: 'app' }, 'NodeType'],
      [{ ...base, CustSpaceId: 'Cunknown' }, 'CustSpaceId'],
      [{ ...base, WabaId: '999' }, 'WabaId'],
      [{ ...base, NodeType: 'phone' }, 'PhoneNumber'],
      [{ ...base, NodeType: 'phone', PhoneNumber: 'x1' }, 'PhoneNumber'],
      [{ ...base, NodeType: 'template', TemplateCode: 'T' }, 'Language'],
      [{ ...base, Errors: [{ ErrorDescription: 'no code' }] }, 'ErrorCode'],
      [{ ...base, Typo: 1 }, 'Typo: is not a field'],
      [{ ...base, Errors: [{ ErrorCode: '1', Colour: 'red' }] }, 'Errors.0.Colour: is not a field'],
    ];
    for (const [body, mention] of cases) {
      const r = await control(sb, 'PUT', '/__sandbox/health', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((r.json as { Code: string }).Code).toBe('InvalidInput');
      expect((r.json as { Message: string }).Message).toContain(mention);
    }
    // None of them changed anything.
    expect(((await healthCall(space)).json['Data'] as { CanSendMessage: string }).CanSendMessage).toBe('AVAILABLE');
    // A numeric ErrorCode is accepted and reported as the string CAMS uses.
    const ok = await control(sb, 'PUT', '/__sandbox/health', { ...base, Errors: [{ ErrorCode: 131049 }] });
    expect(ok.status).toBe(200);
    const data = (await healthCall(space)).json['Data'] as { Entities: { Errors?: { ErrorCode: unknown }[] }[] };
    expect(data.Entities[0]!.Errors).toEqual([{ ErrorCode: '131049' }]);
  });
});

describe('PUT /__sandbox/faults', () => {
  it('validates its input', async () => {
    for (const body of [{ throttleRate: 1.5 }, { errorRate: -0.1 }, { latencyMs: -1 }, { latencyMs: 'slow' }, { chaos: true }, 'nope']) {
      expect((await control(sb, 'PUT', '/__sandbox/faults', body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await control(sb, 'GET', '/__sandbox/faults')).json).toEqual({ throttleRate: 0, errorRate: 0, latencyMs: 0, seed: 1 });
  });

  it('throttleRate 1: every call is System.LimitControl (400), whatever the real limit', async () => {
    const space = await bind(sb, '200001');
    expect((await control(sb, 'PUT', '/__sandbox/faults', { throttleRate: 1 })).status).toBe(200);
    const replies = await Promise.all(Array.from({ length: 10 }, () => healthCall(space)));
    for (const r of replies) {
      expect(r.status).toBe(400);
      expect(r.json['Code']).toBe('System.LimitControl');
    }
  });

  it('errorRate 1: every call is a 5xx ServiceUnavailable/InternalError; the sequence replays for a seed', async () => {
    const space = await bind(sb, '200002');
    await control(sb, 'PUT', '/__sandbox/faults', { errorRate: 1, seed: 7 });
    const first: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await healthCall(space);
      expect([500, 503]).toContain(r.status);
      expect(r.json['Code']).toBe(r.status === 503 ? 'ServiceUnavailable' : 'InternalError');
      first.push(String(r.json['Code']));
    }
    expect(new Set(first)).toEqual(new Set(['ServiceUnavailable', 'InternalError']));

    await control(sb, 'PUT', '/__sandbox/faults', { errorRate: 0.5, seed: 99 });
    const a: string[] = [];
    for (let i = 0; i < 30; i++) a.push(String((await healthCall(space)).json['Code']));
    await control(sb, 'PUT', '/__sandbox/faults', { errorRate: 0.5, seed: 99 });
    const b: string[] = [];
    for (let i = 0; i < 30; i++) b.push(String((await healthCall(space)).json['Code']));
    expect(b).toEqual(a);
    expect(a).toContain('OK');
    expect(a.some((c) => c !== 'OK')).toBe(true);
  });

  it('latencyMs delays every CAMS reply', async () => {
    const space = await bind(sb, '200003');
    await control(sb, 'PUT', '/__sandbox/faults', { latencyMs: 250 });
    const t = Date.now();
    expect((await healthCall(space)).json['Code']).toBe('OK');
    expect(Date.now() - t).toBeGreaterThanOrEqual(240);
  });
});

describe('GET /__sandbox/calls and POST /__sandbox/reset', () => {
  it('logs every call with its outcome; reset clears state, faults and the log', async () => {
    const space = await bind(sb, '300001');
    await call(sb, { action: 'NoSuchAction', params: { X: '1' } });
    await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '1' }, key: { ...KEY_A, accessKeySecret: 'bad' } });
    const log = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
    expect(log.map((c) => [c.Action, c.HttpStatus, c.Code])).toEqual([
      ['ChatappBindWaba', 200, 'OK'],
      ['NoSuchAction', 404, 'InvalidAction.NotFound'],
      ['ChatappBindWaba', 400, 'SignatureDoesNotMatch'],
    ]);
    expect(log[0]).toMatchObject({ AccessKeyId: KEY_A.accessKeyId, Params: { WabaId: '300001' } });
    expect(Date.parse(log[0]!.At)).toBeGreaterThan(Date.now() - 60_000);

    await control(sb, 'PUT', '/__sandbox/faults', { throttleRate: 1 });
    const reset = await control(sb, 'POST', '/__sandbox/reset');
    expect(reset.status).toBe(200);
    expect((await control(sb, 'GET', '/__sandbox/calls')).json).toEqual([]);
    expect((await control(sb, 'GET', '/__sandbox/faults')).json).toMatchObject({ throttleRate: 0 });
    const after = await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: space } });
    expect(after.json['Code']).toBe('Unknown.ResourceOwnerId');
  });

  it('GET /__sandbox/stats counts what the log holds, throttled calls included; ?after= gives only newer calls', async () => {
    const space = await bind(sb, '300002');
    await healthCall(space);
    await control(sb, 'PUT', '/__sandbox/faults', { throttleRate: 1 });
    await healthCall(space);
    await healthCall(space);
    await control(sb, 'PUT', '/__sandbox/faults', {});
    const first = (await control(sb, 'GET', '/__sandbox/calls')).json as (CallRecord & { Seq: number })[];
    await healthCall(space);
    await call(sb, { action: 'NoSuchAction', params: {} });

    const log = (await control(sb, 'GET', '/__sandbox/calls')).json as (CallRecord & { Seq: number })[];
    const counted: Record<string, Record<string, number>> = {};
    for (const c of log) ((counted[c.Action] ??= {})[c.Code] = (counted[c.Action]?.[c.Code] ?? 0) + 1);
    const stats = (await control(sb, 'GET', '/__sandbox/stats')).json as { LastSeq: number; Calls: number; ByAction: Record<string, Record<string, number>> };
    expect(stats).toEqual({ LastSeq: log.at(-1)!.Seq, Calls: log.length, ByAction: counted });
    expect(stats.ByAction['GetWhatsappHealthStatus']).toEqual({ OK: 2, 'System.LimitControl': 2 });

    const newer = (await control(sb, 'GET', `/__sandbox/calls?after=${first.at(-1)!.Seq}`)).json as CallRecord[];
    expect(newer.map((c) => [c.Action, c.Code])).toEqual([
      ['GetWhatsappHealthStatus', 'OK'],
      ['NoSuchAction', 'InvalidAction.NotFound'],
    ]);
    for (const bad of ['-1', 'x', '1.5', '']) {
      const r = await control(sb, 'GET', `/__sandbox/calls?after=${bad}`);
      expect(r.status).toBe(400);
      expect((r.json as { Message: string }).Message).toMatch(/^after: /);
    }
  });

  it('no log line carries a secret', () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).not.toContain(KEY_A.accessKeySecret);
  });
});

describe('robustness', () => {
  it('unknown paths and methods get 404/405 JSON, never a crash', async () => {
    const r1 = await httpRequest(`${sb.url}/nope`, { method: 'GET' });
    expect(r1.status).toBe(404);
    expect(JSON.parse(r1.body.toString())['Code']).toBe('InvalidAction.NotFound');
    const r2 = await httpRequest(`${sb.url}/`, { method: 'DELETE' });
    expect(r2.status).toBe(404);
    const r3 = await control(sb, 'GET', '/__sandbox/unknown');
    expect(r3.status).toBe(404);
    expect((r3.json as { Code: string }).Code).toBe('NotFound');
    const r4 = await httpRequest(`${sb.url}/__sandbox/reset`, { method: 'GET' });
    expect(r4.status).toBe(405);
    expect(r4.headers['allow']).toBe('POST');
  });

  it('bodies over the limit get 413, with and without Content-Length, on both APIs', async () => {
    const huge = 'x'.repeat(200 * 1024);
    const c = await httpRequest(`${sb.url}/__sandbox/health`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: huge });
    expect(c.status).toBe(413);
    expect(JSON.parse(c.body.toString())['Code']).toBe('RequestEntityTooLarge');

    const p = prepareCall(sb, { action: 'ChatappBindWaba', params: { WabaId: '1' } });
    const r = await httpRequest(p.url, { method: 'POST', headers: { ...p.headers, 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=' + huge });
    expect(r.status).toBe(413);
    const log = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
    expect(log.at(-1)).toMatchObject({ HttpStatus: 413, Code: 'RequestEntityTooLarge', Action: 'ChatappBindWaba' });

    // Chunked: no Content-Length to refuse up front, the limit applies while reading.
    const status = await new Promise<number>((resolve, reject) => {
      const sock = net.connect(sb.port, '127.0.0.1', () => {
        sock.write('PUT /__sandbox/faults HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n');
        const chunk = 'y'.repeat(16 * 1024);
        for (let i = 0; i < 8; i++) sock.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      });
      let text = '';
      sock.on('data', (d) => {
        text += d.toString();
        const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
        if (m) {
          resolve(Number(m[1]));
          sock.destroy();
        }
      });
      sock.on('error', reject);
    });
    expect(status).toBe(413);

    // Still serving.
    expect((await control(sb, 'GET', '/__sandbox/faults')).status).toBe(200);
  });

  it('garbage on the socket and abandoned requests do not take the server down', async () => {
    await new Promise<void>((resolve) => {
      const sock = net.connect(sb.port, '127.0.0.1', () => sock.end('NOT HTTP AT ALL\r\n\r\n'));
      sock.on('close', () => resolve());
      sock.on('error', () => resolve());
      sock.resume();
    });
    await new Promise<void>((resolve) => {
      const sock = net.connect(sb.port, '127.0.0.1', () => {
        sock.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc');
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 50);
      });
      sock.on('error', () => resolve());
    });
    const space = await bind(sb, '400001');
    expect((await healthCall(space)).json['Code']).toBe('OK');
  });
});
