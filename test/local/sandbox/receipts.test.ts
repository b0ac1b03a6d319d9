import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { onboardThroughFunctions } from '../../support/monitor.ts';
import { sandboxForFunctions } from '../../support/sandbox-env.ts';

let sandbox: RunningSandbox;
let receiver: http.Server;
let receiverUrl: string;
let received: unknown[][];

async function control(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await httpRequest(new URL(path, sandbox.url), { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, json: JSON.parse(res.body.toString()) as Record<string, unknown> };
}

beforeAll(async () => {
  process.env['LOG_LEVEL'] = 'warn';
  sandbox = await sandboxForFunctions();
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as unknown[]);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/cb?token=t`;
});
afterAll(async () => {
  delete process.env['LOG_LEVEL'];
  await sandbox?.close();
  await new Promise((r) => receiver.close(r));
});
beforeEach(async () => {
  await control('POST', '/__sandbox/reset');
  received = [];
});

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('sandbox receipts', () => {
  it('PUT /__sandbox/receipts checks its body and names the field', async () => {
    expect(await control('PUT', '/__sandbox/receipts', { Url: 'ftp://x' })).toMatchObject({ status: 400, json: { Code: 'InvalidInput', Message: expect.stringContaining('Url') } });
    expect(await control('PUT', '/__sandbox/receipts', { Url: receiverUrl, DropRate: 2 })).toMatchObject({ status: 400, json: { Message: expect.stringContaining('DropRate') } });
    expect(await control('POST', '/__sandbox/receipts/push', [{ Type: 'x' }])).toMatchObject({ status: 400, json: { Message: expect.stringContaining('Url') } });
  });

  it('every health change is pushed as a receipt; an unchanged one is not', async () => {
    const space = await onboardThroughFunctions('299399000400', [{ cc: '86', phone: '13800000400' }]);
    await control('PUT', '/__sandbox/receipts', { Url: receiverUrl });
    const blocked = { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000400', CanSendMessage: 'BLOCKED', Errors: [{ ErrorCode: '1', ErrorDescription: 'Payment issue' }] };
    await control('PUT', '/__sandbox/health', blocked);
    await control('PUT', '/__sandbox/health', blocked);
    await control('PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'template', TemplateCode: 't1', Language: 'en', CanSendMessage: 'LIMITED', Errors: [{ ErrorCode: '2', ErrorDescription: 'Low quality' }] });
    await until(() => received.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    // Pushed in the background, so in either order; the unchanged second PUT pushed nothing.
    expect(received).toHaveLength(2);
    expect(received).toEqual(expect.arrayContaining([
      [{ Type: 'wabaAccountUpdate', WabaId: '299399000400', PhoneNumber: '8613800000400', Status: 'BLOCKED', Reason: 'Payment issue' }],
      [{ Type: 'template', WabaId: '299399000400', TemplateCode: 't1', Language: 'en', AuditStatus: 'paused', Reason: 'Low quality' }],
    ]));
  });

  it('raw receipts are pushed as given and the receiver status returned; DropRate 1 drops them all', async () => {
    await control('PUT', '/__sandbox/receipts', { Url: receiverUrl });
    const raw = [{ Type: 'whatever', odd: true }, 'not even an object'];
    expect(await control('POST', '/__sandbox/receipts/push', raw)).toMatchObject({ status: 200, json: { Receipts: 2, ReceiverStatus: 200 } });
    expect(received).toEqual([raw]);
    await control('PUT', '/__sandbox/receipts', { Url: receiverUrl, DropRate: 1 });
    expect(await control('POST', '/__sandbox/receipts/push', raw)).toMatchObject({ json: { Dropped: true } });
    expect((await control('GET', '/__sandbox/receipts')).json).toMatchObject({ Dropped: 1, Pushed: 0 });
    expect(received).toHaveLength(1);
  });

  it('never shows the receiver token: not in the settings, not in a failed push', async () => {
    const closed = 'http://127.0.0.1:9/cb?token=secret-token-value';
    expect((await control('PUT', '/__sandbox/receipts', { Url: closed })).json['Url']).toBe('http://127.0.0.1:9/cb?token=***');
    const r = await control('POST', '/__sandbox/receipts/push', [{ Type: 'x' }]);
    expect(r.json['Error']).toBeDefined();
    expect(JSON.stringify(r.json)).not.toContain('secret-token-value');
  });

  it('reset turns pushing off', async () => {
    await control('PUT', '/__sandbox/receipts', { Url: receiverUrl });
    await control('POST', '/__sandbox/reset');
    expect((await control('GET', '/__sandbox/receipts')).json).toMatchObject({ Url: null });
  });
});
