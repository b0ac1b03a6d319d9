import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RETRY_DELAYS_MS, type RetryTimers } from '../../../local/sandbox/receipts.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { onboardThroughFunctions } from '../../support/monitor.ts';
import { sandboxForFunctions } from '../../support/sandbox-env.ts';
import { bind, control as controlOf, start } from './helpers.ts';

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
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":0,"msg":"received"}');
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
    expect(await control('PUT', '/__sandbox/receipts', { Url: 'ftp://x' })).toMatchObject({ status: 400, json: { Code: 'InvalidInput', Message: 'Url: must be an http(s) URL, or "" or null to stop pushing' } });
    // Format alone (switching an account to V1) still needs the URL, and is told so, not "Invalid input".
    expect(await control('PUT', '/__sandbox/receipts', { Format: 'V1' })).toMatchObject({ status: 400, json: { Code: 'InvalidInput', Message: 'Url: is required: an http(s) URL, or "" or null to stop pushing' } });
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

  it("a template's review state set with PUT /__sandbox/templates is pushed as a template receipt; an unchanged one is not", async () => {
    const space = await onboardThroughFunctions('299399000401', [{ cc: '86', phone: '13800000401' }]);
    await control('PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US' }] });
    await control('PUT', '/__sandbox/receipts', { Url: receiverUrl });
    const rejected = { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'fail', Reason: 'Promotional content' }] };
    expect(await control('PUT', '/__sandbox/templates', rejected)).toMatchObject({ status: 200 });
    await control('PUT', '/__sandbox/templates', rejected);
    // Registered without a review state: nothing to push.
    await control('PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'welcome', Language: 'en' }] });
    await control('PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'pass' }] });
    await until(() => received.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual(expect.arrayContaining([
      [{ Type: 'template', WabaId: '299399000401', TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'fail', Reason: 'Promotional content' }],
      [{ Type: 'template', WabaId: '299399000401', TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'pass' }],
    ]));
    expect(received).toHaveLength(2);
  });

  it('a template paused or disabled with PUT /__sandbox/templates is pushed as CAMS pushes it: a template receipt with that AuditStatus', async () => {
    const space = await onboardThroughFunctions('299399000403', [{ cc: '86', phone: '13800000403' }]);
    await control('PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'promo', Language: 'en' }] });
    await control('PUT', '/__sandbox/receipts', { Url: receiverUrl });
    const review = (AuditStatus: string, Reason?: string) =>
      control('PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'promo', Language: 'en', AuditStatus, ...(Reason ? { Reason } : {}) }] });
    expect(await review('paused', 'Low quality')).toMatchObject({ status: 200 });
    await until(() => received.length >= 1);
    expect(await review('disabled')).toMatchObject({ status: 200 });
    await until(() => received.length >= 2);
    await review('disabled'); // unchanged: nothing
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual([
      [{ Type: 'template', WabaId: '299399000403', TemplateCode: 'promo', Language: 'en', AuditStatus: 'paused', Reason: 'Low quality' }],
      [{ Type: 'template', WabaId: '299399000403', TemplateCode: 'promo', Language: 'en', AuditStatus: 'disabled' }],
    ]);
  });

  it("a WABA's review status set with PUT /__sandbox/waba or /own-waba is pushed as wabaReviewUpdate; an unchanged one is not", async () => {
    const space = await onboardThroughFunctions('299399000404', [{ cc: '86', phone: '13800000404' }]);
    await control('PUT', '/__sandbox/receipts', { Url: receiverUrl });
    const waba = (AccountReviewStatus: string) => control('PUT', '/__sandbox/waba', { CustSpaceId: space, AccountReviewStatus });
    await waba('APPROVED'); // a bound WABA is APPROVED already
    expect(await waba('REJECTED')).toMatchObject({ status: 200 });
    await until(() => received.length >= 1);
    await waba('REJECTED');
    const own = (body: Record<string, string>) => control('PUT', '/__sandbox/own-waba', { AccessKeyId: 'LTAIsandbox0000000002', ...body });
    await own({ WabaId: '299399000405' }); // another WABA, no review change
    expect(await own({ AccountReviewStatus: 'DISABLED' })).toMatchObject({ status: 200 });
    await until(() => received.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual([
      [{ Type: 'wabaReviewUpdate', WabaId: '299399000404', Status: 'REJECTED' }],
      [{ Type: 'wabaReviewUpdate', WabaId: '299399000405', Status: 'DISABLED' }],
    ]);
  });

  it("a number's quality rating set with PUT /__sandbox/phone is pushed as phoneQualityUpdate; an unchanged one is not", async () => {
    const space = await onboardThroughFunctions('299399000402', [{ cc: '86', phone: '13800000402' }]);
    await control('PUT', '/__sandbox/receipts', { Url: receiverUrl });
    const phone = (body: Record<string, string>) => control('PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000402', ...body });
    await phone({ QualityRating: 'GREEN' }); // a new number is GREEN already
    expect(await phone({ QualityRating: 'YELLOW' })).toMatchObject({ status: 200 });
    await phone({ QualityRating: 'YELLOW', MessagingLimitTier: 'TIER_250' });
    await phone({ Status: 'FLAGGED' });
    await phone({ QualityRating: 'GREEN' });
    await until(() => received.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual(expect.arrayContaining([
      [{ Type: 'phoneQualityUpdate', WabaId: '299399000402', PhoneNumber: '8613800000402', Status: 'YELLOW' }],
      [{ Type: 'phoneQualityUpdate', WabaId: '299399000402', PhoneNumber: '8613800000402', Status: 'GREEN' }],
    ]));
    expect(received).toHaveLength(2);
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

  it("Format V1 pushes ChatAppAudit's V1 form: template reviews only, with no Type; a bad Format is named; off or reset, V2 again", async () => {
    expect(await control('PUT', '/__sandbox/receipts', { Url: receiverUrl, Format: 'V3' })).toMatchObject({ status: 400, json: { Message: expect.stringContaining('Format') } });
    const space = await onboardThroughFunctions('299399000406', [{ cc: '86', phone: '13800000406' }]);
    await control('PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'promo', Language: 'en' }] });
    expect((await control('PUT', '/__sandbox/receipts', { Url: receiverUrl, Format: 'V1' })).json).toMatchObject({ Format: 'V1' });
    // A number's and a WABA's changes: V1 has no receipt for them.
    await control('PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000406', CanSendMessage: 'BLOCKED' });
    await control('PUT', '/__sandbox/phone', { CustSpaceId: space, PhoneNumber: '8613800000406', QualityRating: 'RED' });
    await control('PUT', '/__sandbox/waba', { CustSpaceId: space, AccountReviewStatus: 'REJECTED' });
    await control('PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'promo', Language: 'en', AuditStatus: 'paused', Reason: 'Low quality' }] });
    await until(() => received.length >= 1);
    await control('PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'template', TemplateCode: 't1', Language: 'en', CanSendMessage: 'BLOCKED' });
    await until(() => received.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual([
      [{ WabaId: '299399000406', TemplateCode: 'promo', Language: 'en', AuditStatus: 'paused', Reason: 'Low quality' }],
      [{ WabaId: '299399000406', TemplateCode: 't1', Language: 'en', AuditStatus: 'disabled' }],
    ]);
    await control('PUT', '/__sandbox/receipts', { Url: null });
    expect((await control('GET', '/__sandbox/receipts')).json).toMatchObject({ Format: 'V2' });
  });

  it('reset turns pushing off', async () => {
    await control('PUT', '/__sandbox/receipts', { Url: receiverUrl });
    await control('POST', '/__sandbox/reset');
    expect((await control('GET', '/__sandbox/receipts')).json).toMatchObject({ Url: null });
  });
});

/** A clock and timers moved on by hand: a due retry runs, and is awaited, inside advance(). */
class ManualTime implements RetryTimers {
  t = Date.now();
  private due: Array<{ at: number; fn: () => Promise<unknown> }> = [];
  private onSet: (() => void) | undefined;
  readonly now = (): number => this.t;
  set(fn: () => Promise<unknown>, ms: number): unknown {
    const entry = { at: this.t + ms, fn };
    this.due.push(entry);
    this.onSet?.();
    return entry;
  }
  clear(handle: unknown): void {
    this.due = this.due.filter((e) => e !== handle);
  }
  /** How long until each waiting timer fires. */
  get waiting(): number[] {
    return this.due.map((e) => e.at - this.t).sort((a, b) => a - b);
  }
  /** Resolves at the next set(): a background push's failure is settled by then. */
  nextSet(): Promise<void> {
    return new Promise((r) => (this.onSet = r));
  }
  async advance(ms: number): Promise<void> {
    this.t += ms;
    for (;;) {
      const next = this.due.filter((e) => e.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!next) return;
      this.due = this.due.filter((e) => e !== next);
      await next.fn();
    }
  }
}

/** A receiver answering each push with the next scripted answer (200 once they run out); 'reset' drops the connection. */
/** Answers each push with the next of `answers` (a status, a status and body, or a dropped connection); 200 `{"code":0}` once they run out. */
async function scriptedReceiver(): Promise<{ url: string; bodies: unknown[]; answers: Array<number | 'reset' | [number, string]>; close(): Promise<void> }> {
  const bodies: unknown[] = [];
  const answers: Array<number | 'reset' | [number, string]> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(JSON.parse(body));
      const answer = answers.shift() ?? 200;
      if (answer === 'reset') req.socket.destroy();
      else if (Array.isArray(answer)) res.writeHead(answer[0], { 'content-type': 'application/json' }).end(answer[1]);
      else res.writeHead(answer, { 'content-type': 'application/json' }).end(answer === 204 ? undefined : answer === 200 ? '{"code":0,"msg":"received"}' : '{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb?token=retry-token-0123456789`,
    bodies,
    answers,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe("sandbox receipts: a refused push is retried as CAMS's ChatAppAudit callback page says (1 and 5 min; only 200 with a numeric code is received)", () => {
  let time: ManualTime;
  let sb: RunningSandbox;
  let rx: Awaited<ReturnType<typeof scriptedReceiver>>;
  let dir: string;
  const receipt = [{ Type: 'phoneQualityUpdate', WabaId: '1234567890', PhoneNumber: '8613800000000', Status: 'YELLOW' }];
  const ctl = async (method: string, path: string, body?: unknown) => (await controlOf(sb, method, path, body)).json as Record<string, unknown>;

  beforeEach(async () => {
    time = new ManualTime();
    dir = mkdtempSync(join(tmpdir(), 'cams-sandbox-retry-'));
    rx = await scriptedReceiver();
    sb = await start({ now: time.now, timers: time, dataDir: dir });
    await ctl('PUT', '/__sandbox/receipts', { Url: rx.url });
  });
  afterEach(async () => {
    await sb.close();
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the schedule is the documented one', () => {
    expect(RETRY_DELAYS_MS).toEqual([60_000, 300_000]);
  });

  it('503 twice then 200: delivered by the second retry, then never pushed again', async () => {
    rx.answers.push(503, 503, 200);
    expect(await ctl('POST', '/__sandbox/receipts/push', receipt)).toMatchObject({ ReceiverStatus: 503, Retrying: true });
    expect(time.waiting).toEqual([60_000]);
    await time.advance(59_999);
    expect(rx.bodies).toHaveLength(1);
    await time.advance(1);
    expect(rx.bodies).toHaveLength(2);
    expect(time.waiting).toEqual([300_000]);
    await time.advance(300_000);
    expect(rx.bodies).toEqual([receipt, receipt, receipt]);
    expect(time.waiting).toEqual([]);
    await time.advance(24 * 3600_000);
    expect(rx.bodies).toHaveLength(3);
    expect(await ctl('GET', '/__sandbox/receipts')).toMatchObject({ Retrying: 0, Retried: 2, GivenUp: 0 });
  });

  it('stops after the second retry (3 pushes); any status but 200 and a dropped connection are failures', async () => {
    rx.answers.push(503, 'reset', 500);
    expect(await ctl('POST', '/__sandbox/receipts/push', receipt)).toMatchObject({ ReceiverStatus: 503, Retrying: true });
    await time.advance(60_000);
    expect(time.waiting).toEqual([300_000]);
    await time.advance(300_000);
    expect(rx.bodies).toHaveLength(3);
    expect(time.waiting).toEqual([]);
    await time.advance(24 * 3600_000);
    expect(rx.bodies).toHaveLength(3);
    const view = await ctl('GET', '/__sandbox/receipts');
    expect(view).toMatchObject({ Retrying: 0, Retried: 2, GivenUp: 1, Pushed: 2, Failed: 1 });
    expect(JSON.stringify(view)).not.toContain('retry-token-0123456789');
  });

  it('a 200 whose body has no numeric code (none, the CAMS envelope\'s string Code, a 204) is a failed push, pushed again', async () => {
    rx.answers.push([200, '{"Code":"OK","Success":true}'], [200, 'OK'], 204, [200, '{"code":"0"}']);
    expect(await ctl('POST', '/__sandbox/receipts/push', receipt)).toMatchObject({ ReceiverStatus: 200, Error: expect.stringContaining('numeric "code"'), Retrying: true });
    await time.advance(60_000);
    expect(time.waiting).toEqual([300_000]);
    await time.advance(300_000);
    expect(rx.bodies).toHaveLength(3);
    expect(await ctl('GET', '/__sandbox/receipts')).toMatchObject({ Retrying: 0, GivenUp: 1 });
    // {"code": 0} (any number) is received: never pushed again.
    rx.answers.length = 0;
    rx.answers.push([200, '{"code":7}']);
    expect(await ctl('POST', '/__sandbox/receipts/push', receipt)).toEqual({ Code: 'OK', Receipts: 1, ReceiverStatus: 200 });
    expect(time.waiting).toEqual([]);
  });

  it("a queue's acceptance (201 {MessageId}, as the local host's MNS queue answers) is a delivery, never pushed again; a 201 without a MessageId is not", async () => {
    await ctl('PUT', '/__sandbox/receipts', { Url: `${new URL(rx.url).origin}/__mns/queues/cams-fc-receipts-dev/messages` });
    rx.answers.push([201, '{"MessageId":"5F0C2B3A","RequestId":"r1"}']);
    expect(await ctl('POST', '/__sandbox/receipts/push', receipt)).toEqual({ Code: 'OK', Receipts: 1, ReceiverStatus: 201 });
    expect(time.waiting).toEqual([]);
    rx.answers.push([201, '{}']);
    expect(await ctl('POST', '/__sandbox/receipts/push', receipt)).toMatchObject({ ReceiverStatus: 201, Error: expect.stringContaining('MessageId'), Retrying: true });
  });

  it("a callback URL (not a queue's) answering 201 {MessageId} has not received the push, as CAMS takes only 200 with a numeric code from one: retried", async () => {
    rx.answers.push([201, '{"MessageId":"5F0C2B3A","RequestId":"r1"}']);
    expect(await ctl('POST', '/__sandbox/receipts/push', receipt)).toMatchObject({ ReceiverStatus: 201, Error: expect.stringContaining('callback URL'), Retrying: true });
    expect(time.waiting).toEqual([60_000]);
  });

  it('a push answered 200 is never pushed again', async () => {
    expect(await ctl('POST', '/__sandbox/receipts/push', receipt)).toEqual({ Code: 'OK', Receipts: 1, ReceiverStatus: 200 });
    expect(time.waiting).toEqual([]);
    await time.advance(24 * 3600_000);
    expect(rx.bodies).toEqual([receipt]);
  });

  it("a health change's receipt is retried too", async () => {
    const space = await bind(sb, '1234567890');
    rx.answers.push(503);
    const owed = time.nextSet();
    await ctl('PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'waba', CanSendMessage: 'BLOCKED' });
    await owed;
    await time.advance(60_000);
    const pushed = [{ Type: 'wabaAccountUpdate', WabaId: '1234567890', Status: 'BLOCKED' }];
    expect(rx.bodies).toEqual([pushed, pushed]);
    expect(time.waiting).toEqual([]);
  }, 5000);

  it('a retry owed survives a restart, at its due time', async () => {
    rx.answers.push(503);
    await ctl('POST', '/__sandbox/receipts/push', receipt);
    await sb.close();
    const saved = JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) as { receiptRetries?: unknown[] };
    const dueAtMs = time.t + 60_000;
    expect(saved.receiptRetries).toEqual([{ receipts: receipt, retry: 1, dueAtMs }]);

    // Restarted 40 s later: the retry comes 20 s on, not a fresh minute.
    time = new ManualTime();
    time.t = dueAtMs - 20_000;
    sb = await start({ now: time.now, timers: time, dataDir: dir });
    expect(time.waiting).toEqual([20_000]);
    await time.advance(20_000);
    expect(rx.bodies).toEqual([receipt, receipt]);
    expect((JSON.parse(readFileSync(join(dir, 'sandbox.json'), 'utf8')) as { receiptRetries?: unknown[] }).receiptRetries).toBeUndefined();
  });

  it('turning pushing off (or a reset) drops the retries owed', async () => {
    rx.answers.push(503, 503);
    await ctl('POST', '/__sandbox/receipts/push', receipt);
    await ctl('PUT', '/__sandbox/receipts', { Url: '' });
    expect(time.waiting).toEqual([]);
    await ctl('PUT', '/__sandbox/receipts', { Url: rx.url });
    await ctl('POST', '/__sandbox/receipts/push', receipt);
    await ctl('POST', '/__sandbox/reset');
    expect(time.waiting).toEqual([]);
    await time.advance(24 * 3600_000);
    expect(rx.bodies).toHaveLength(2);
  });
});
