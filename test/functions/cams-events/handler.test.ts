import { spawn } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import type { AlertNotification, AlertSink } from '../../../shared/alerts/model.ts';
import type { Clock } from '../../../shared/cams/limiter.ts';
import { TARGET_INFO_PREFIX, type TargetInfo } from '../../../shared/monitor/target-info.ts';
import { DELIVER_AGAIN, deliverOwed, DELIVERY_LEASE, ENTITY_PREFIX } from '../../../shared/monitor/dispatch.ts';
import { RISKY_PREFIX } from '../../../shared/monitor/risk.ts';
import { TIED_PREFIX } from '../../../shared/monitor/monitor-alert.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { loadWatchList, registerWatchTarget, WATCH_PREFIX, type RegisteredTarget, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { STATS_KEY, type ReceiptStats } from '../../../shared/receipts/dedup.ts';
import { ATTEMPTS_PREFIX, POISON_PREFIX } from '../../../shared/receipts/queue.ts';
import { UNKNOWN_RECEIPT_PREFIX, UNKNOWN_WABA_PREFIX } from '../../../shared/receipts/apply.ts';
import { sinksFromEnv } from '../../../shared/alerts/sinks/index.ts';
import { loadMonitorConfig } from '../../../shared/config/monitor.ts';
import { camsEventsHandler, REPLY_BUDGET_MS } from '../../../shared/services/cams-events.ts';
import { healthReport } from '../../../shared/services/health-report.ts';
import { StoreError, type Store } from '../../../shared/store/port.ts';
import { fcContext, fixture } from '../../support/events.ts';
import { storeWith } from '../../support/store.ts';
import { onboardThroughFunctions, sandboxPerFileStorePerTest, setHealth } from '../../support/monitor.ts';
import { startReceivers, type Receivers } from '../../support/receivers/index.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';
import { fakeClock } from '../../shared/cams/scripted-cams.ts';
import { freePort } from '../../shared/store/redis-server.ts';

const TOKEN = 'receipt-token-0123456789abcdef';
const WABA = '299399000200';
const PHONE = '8613800000200';
let sandbox: RunningSandbox;
let receivers: Receivers;
let store: Store;
let storeUrl: string;
let space: string;
let lines: string[];

sandboxPerFileStorePerTest((parts) => ({ sandbox, store, storeUrl } = parts), { quiet: true });
beforeEach(async () => {
  receivers = await startReceivers({ kinds: ['webhook'] });
  space = await onboardThroughFunctions(WABA, [{ cc: '86', phone: '13800000200' }]);
  lines = [];
});
afterEach(async () => {
  await receivers.close();
});

const phone = (): WatchTarget => ({ CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: PHONE });
const key = DEFAULT_SANDBOX_KEYS[0]!;
const ctx = () => fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;

/** The function as FC runs it: its own serverless.yml environment only. */
function fn(extra: Record<string, string> = {}, alertClock?: () => number, clock?: Clock) {
  const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, CAMS_RECEIPT_TOKEN: TOKEN, LOG_LEVEL: 'debug', ...receivers.env, ...extra };
  return camsEventsHandler({ env, write: (l) => lines.push(l), ...(alertClock ? { alertClock } : {}), ...(clock ? { clock } : {}) });
}

function httpPush(body: unknown, token: string | string[] | null = TOKEN): Buffer {
  const e = fixture<Record<string, unknown> & { requestContext: { http: Record<string, string> } }>('fc3-http-event.json');
  e['rawPath'] = '/cams/receipts';
  e['headers'] = { 'Content-Type': 'application/json' };
  e['queryParameters'] = token === null ? {} : { token };
  e['body'] = typeof body === 'string' ? body : JSON.stringify(body);
  e.requestContext.http['method'] = 'POST';
  e.requestContext.http['path'] = '/cams/receipts';
  return Buffer.from(JSON.stringify(e));
}

function queueEvent(messageBody: string, messageId = 'MSG0001'): Buffer {
  const e = fixture<Record<string, unknown> & { data: Record<string, string> }>('mns-queue-event.json');
  e.data['messageBody'] = messageBody;
  e.data['messageId'] = messageId;
  return Buffer.from(JSON.stringify(e));
}

/** Receipt 0 gives Status twice, receipt 2 a key of its Reason; receipt 1 is a valid one (the push's JSON text, as sent). */
const REPEATED_KEY_BATCH = `[{"Type":"wabaAccountUpdate","WabaId":"${WABA}","PhoneNumber":"${PHONE}","Status":"BLOCKED","Status":"AVAILABLE"},{"Type":"wabaAccountUpdate","WabaId":"${WABA}","PhoneNumber":"${PHONE}","Status":"LIMITED"},{"Type":"wabaReviewUpdate","WabaId":"${WABA}","Status":"APPROVED","Reason":{"Code":1,"Code":2}}]`;

type Reply = { statusCode: number; body: string };
const json = (r: unknown) => JSON.parse((r as Reply).body) as { Code: string; Message?: string; Data?: { Results: Array<Record<string, unknown>>; Errors: Array<{ Index: number; Fields: Array<{ Field: string; Message: string }> }> }; Fields?: Array<{ Field: string }> };
const webhookItems = () => receivers.received.webhook.flatMap((m) => (m.body as { items: Array<{ status: string; severity: string; reason: string; node: string; errors: Array<{ ErrorCode: string; ErrorDescription: string }> }> }).items);

/** The next deliverer (a sweep's flush, say): deliverOwed with the sinks the function has. */
const flush = () => deliverOwed(store, sinksFromEnv(receivers.env), Date.now, () => undefined);
/**
 * A push's own clock (its start, reply budget, checks' deadline, wait for the delivery lease): it
 * moves only when the function sleeps on it or slowCams answers, so what the push decided is seen
 * without timing it. It starts at the real time, as the store and the CAMS budget (real clock) are.
 */
const pushClock = () => fakeClock(Date.now());
/** `work`'s result, and when it was answered by `clock` after it began (the push's startedAt). */
async function byClock<T>(clock: Clock, work: () => Promise<T>): Promise<[T, number]> {
  const startedAt = clock.now();
  const out = await work();
  return [out, clock.now() - startedAt];
}
/** CAMS takes a receipt push not answered within 3 s for failed (its ChatAppStatus receipt page). */
const CAMS_WAITS_MS = 3000;
/** A push answered within its reply budget, by its clock, and so before CAMS stops waiting. */
const expectAnsweredInTime = (answeredAfter: number) => {
  expect(answeredAfter).toBeLessThanOrEqual(REPLY_BUDGET_MS);
  expect(answeredAfter).toBeLessThan(CAMS_WAITS_MS);
};
/**
 * A push that waited for the delivery lease as long as its reply budget let it, by its clock: the
 * wait stops at its first step (at most 1 s) that ends within 1 s of the budget, never past it.
 */
const expectStoppedAtBudget = (answeredAfter: number) => {
  expectAnsweredInTime(answeredAfter);
  expect(answeredAfter).toBeGreaterThan(REPLY_BUDGET_MS - 1000);
};

/** The sandbox behind a loopback front whose every answer takes `ms` by `clock`: a slow CAMS, without a real wait. */
async function slowCams(clock: Clock, ms: number): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(sandbox.url);
  const server = createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      const up = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
        const out: Buffer[] = [];
        reply.on('data', (c: Buffer) => out.push(c));
        reply.on('end', () => void clock.sleep(ms).then(() => res.writeHead(reply.statusCode ?? 502, reply.headers).end(Buffer.concat(out))));
      });
      up.on('error', (e) => res.destroy(e));
      up.end(Buffer.concat(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('cams-events over HTTP', () => {
  it('refuses a missing or wrong token, names the field, and never echoes the token', async () => {
    const handler = fn();
    const missing = (await handler(httpPush([], null), ctx())) as Reply;
    expect(missing.statusCode).toBe(401);
    expect(json(missing).Fields).toEqual([{ Field: 'token', Message: 'is required' }]);
    const wrong = (await handler(httpPush([], 'not-the-token-at-all-000'), ctx())) as Reply;
    expect(wrong.statusCode).toBe(403);
    expect(json(wrong).Code).toBe('InvalidToken');
    expect(wrong.body + lines.join('\n')).not.toContain(TOKEN);
  });

  it('refuses a token key given more than once with a 400 naming token, the same whether or not a value matches', async () => {
    const handler = fn();
    const receipts = [{ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'APPROVED' }];
    // FC hands the values over comma-joined; API Gateway as an array.
    const replies = [];
    for (const token of [`${TOKEN},${TOKEN}`, `${TOKEN},not-the-token-at-all-000`, 'not-the-token-at-all-000,not-the-token-either-00', [TOKEN, 'not-the-token-at-all-000']]) {
      const r = (await handler(httpPush(receipts, token), ctx())) as Reply;
      expect(r.statusCode).toBe(400);
      const body = json(r) as Record<string, unknown>;
      expect(body).toMatchObject({ Code: 'InvalidParameter', Message: 'token: given more than once in the query', Fields: [{ Field: 'token', Message: 'given more than once in the query' }] });
      replies.push({ ...body, RequestId: undefined });
    }
    expect(new Set(replies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(lines.join('\n')).not.toContain(TOKEN);
    expect((await handler(httpPush(receipts), ctx())) as Reply).toMatchObject({ statusCode: 200 });
  });

  it('takes a token whose + the callback URL left unencoded (a base64 token), which the query decoding made a space', async () => {
    const base64 = 'rcpt+token/0123456789=';
    const handler = fn({ CAMS_RECEIPT_TOKEN: base64 });
    // The callback URL as configured in CAMS: ?token=rcpt+token/0123456789=, read as a form reads it.
    const given = new URLSearchParams(`token=${base64}`).get('token')!;
    const r = (await handler(httpPush([{ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'APPROVED' }], given), ctx())) as Reply;
    expect(r.statusCode).toBe(200);
    expect(((await handler(httpPush([], base64.replace('+', '-')), ctx())) as Reply).statusCode).toBe(403);
    // A token that does hold a space is still compared as it is.
    const spaced = fn({ CAMS_RECEIPT_TOKEN: 'rcpt token 0123456789' });
    expect(((await spaced(httpPush([{ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'APPROVED' }], 'rcpt token 0123456789'), ctx())) as Reply).statusCode).toBe(200);
  });

  it('without CAMS_RECEIPT_TOKEN it is misconfigured (500), and the log names the variable', async () => {
    const handler = fn({ CAMS_RECEIPT_TOKEN: '' });
    const r = (await handler(httpPush([]), ctx())) as Reply;
    expect(r.statusCode).toBe(500);
    expect(json(r).Code).toBe('ServiceMisconfigured');
    expect(lines.join('\n')).toContain('CAMS_RECEIPT_TOKEN');
  });

  it('a phone YELLOW then GREEN gives one warning and one resolved, before CanSendMessage changes', async () => {
    await registerWatchTarget(store, phone(), 'test');
    let clock = Date.now();
    const handler = fn({}, () => clock);
    const yellow = (await handler(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }]), ctx())) as Reply;
    expect(yellow.statusCode).toBe(200);
    expect(json(yellow).Data!.Results).toEqual([{ Index: 0, Outcome: 'processed', Node: `phone:${space}:${PHONE}`, Check: 'ok' }]);
    clock += 60_000;
    await handler(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'GREEN' }]), ctx());
    const items = webhookItems();
    expect(items.map((i) => [i.status, i.severity, i.reason])).toEqual([
      ['LIMITED', 'warning', 'new'],
      ['RESOLVED', 'info', 'resolved'],
    ]);
    expect(items[0]!.errors[0]!.ErrorCode).toBe('QualityRating.YELLOW');
    // The phone itself is still AVAILABLE: only the receipt could tell.
    const states = (await store.list<EntityState>(ENTITY_PREFIX)).map((s) => s.value);
    expect(states.find((s) => s.subject.entityType === 'PHONE_NUMBER')?.status).toBe('AVAILABLE');
  });

  it('a batch whose checks would use the whole invocation (a slow CAMS) still sends what it found before the invocation ends', async () => {
    await registerWatchTarget(store, phone(), 'test');
    // Every CAMS reply takes 3 s; the function has 10 s.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { throttleRate: 0, errorRate: 0, latencyMs: 3000, seed: 1 });
    try {
      const short = ctx() as unknown as { function: Record<string, unknown> };
      short.function = { ...short.function, timeout: 10 };
      const templates = ['a', 'b', 'c'].map((t) => ({ Type: 'templateQualityUpdate', WabaId: WABA, TemplateCode: `slow_${t}`, Language: 'en', Status: 'GREEN' }));
      const r = (await fn()(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }, ...templates]), short as never)) as Reply;
      expect(r.statusCode).toBe(200);
      // Before, the checks ran to 2 s before the end, too late for a send: the warning waited for the next sweep tick.
      expect((json(r).Data as unknown as { Delivered: number }).Delivered).toBe(1);
      expect(webhookItems().map((i) => `${i.status} ${i.errors[0]?.ErrorCode}`)).toEqual(['LIMITED QualityRating.YELLOW']);
    } finally {
      await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { throttleRate: 0, errorRate: 0, latencyMs: 0, seed: 1 });
      // The calls the client gave up on land in the sandbox's call log when it answers them: not in a later test's.
      await new Promise((r) => setTimeout(r, 3000));
    }
  }, 30_000);

  it("a batch whose checks would outlast the push's answer (a slow CAMS, a long invocation): answered in time, the warning sent, the nodes not checked left to the sweep; CAMS's re-push is a duplicate", async () => {
    await registerWatchTarget(store, phone(), 'test');
    // Every CAMS answer takes 1.3 s by the push's clock: one check fits before the answer is due, three do not.
    const clock = pushClock();
    const cams = await slowCams(clock, 1300);
    try {
      const long = fcContext({ function: { name: 'cams-events', handler: 'index.handler', memory: 256, timeout: 60 }, credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;
      const batch = [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }, ...['a', 'b'].map((t) => ({ Type: 'templateQualityUpdate', WabaId: WABA, TemplateCode: `slow_${t}`, Language: 'en', Status: 'GREEN' }))];
      const handler = fn({ CAMS_ENDPOINT: cams.url }, undefined, clock);
      const [r, answeredAfter] = (await byClock(clock, () => handler(httpPush(batch), long))) as [Reply, number];
      expect(r.statusCode).toBe(200);
      // Before, the checks had the invocation (60 s): 1.3 s each, the push was answered after 3.9 s.
      expectAnsweredInTime(answeredAfter);
      const results = json(r).Data!.Results;
      expect(results.map((x) => x['Outcome'])).toEqual(['processed', 'processed', 'processed']);
      // The checks stop in time for the answer: the first is answered, the others are not started.
      expect(results.map((x) => x['Check'])).toEqual(['ok', 'DeadlineExceeded', 'DeadlineExceeded']);
      // As the invocation's deadline leaves them: the sweep looks at them first.
      const unchecked = results.filter((x) => x['Check'] === 'DeadlineExceeded').map((x) => x['Node']);
      expect((await store.list(RISKY_PREFIX)).map((e) => e.key.slice(RISKY_PREFIX.length)).sort()).toEqual(unchecked.sort());
      expect(webhookItems().map((i) => `${i.status} ${i.errors[0]?.ErrorCode}`)).toEqual(['LIMITED QualityRating.YELLOW']);
      // CAMS pushes it again (it may have taken the answer for late): nothing is acted on twice.
      const again = (await handler(httpPush(batch), long)) as Reply;
      expect(json(again).Data!.Results.map((x) => x['Outcome'])).toEqual(['duplicate', 'duplicate', 'duplicate']);
      expect(webhookItems()).toHaveLength(1);
    } finally {
      await cams.close();
    }
  }, 30_000);

  it("a template paused with a reason: the alert carries CAMS's Reason, and the template is put under watch", async () => {
    await registerWatchTarget(store, phone(), 'test');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US' }] });
    const reason = 'Template paused because of low quality feedback from users.';
    const r = (await fn()(httpPush([{ Type: 'template', WabaId: WABA, TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'paused', Reason: reason }]), ctx())) as Reply;
    expect(json(r).Data!.Results[0]).toMatchObject({ Outcome: 'processed', Registered: true, Check: 'ok' });
    const item = webhookItems().find((i) => i.node.includes('order_update'));
    expect(item).toMatchObject({ status: 'LIMITED', severity: 'warning' });
    expect(item!.errors[0]!.ErrorDescription).toContain(reason);
    expect(receivers.received.webhook[0]!.text).toContain(reason);
    const { targets } = await loadWatchList(store, []);
    expect(targets.map((t) => t.id)).toContain(`template:${space}:order_update/en_US`);
    // listed by GET /watch-list with the source that put it there, in the documented <kind>:<what> form
    expect((await store.get<RegisteredTarget>(`${WATCH_PREFIX}template:${space}:order_update/en_US`))!.value.source).toBe('receipt:template');
  });

  it('a watch list that never named the WABA (and no sweep yet): the space is looked up once, the receipt acted on', async () => {
    await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'phone', PhoneNumber: PHONE }, 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'BLOCKED' });
    const handler = fn();
    const first = await handler(httpPush([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'BLOCKED' }]), ctx());
    expect(json(first).Data!.Results[0]).toMatchObject({ Outcome: 'processed', Node: `phone:${space}:${PHONE}`, Check: 'ok' });
    expect(webhookItems().map((i) => i.status)).toEqual(['BLOCKED']);
    await handler(httpPush([{ Type: 'phoneNameUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'APPROVED' }]), ctx());
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string }>;
    expect(calls.filter((c) => c.Action === 'QueryChatappBindWaba')).toHaveLength(1);
  });

  it("a watched space CAMS refuses to name the WABA of is asked once, not again at every push for a WABA nobody watches (each spent the account's CAMS budget)", async () => {
    await registerWatchTarget(store, phone(), 'test');
    // A space not bound to this account (a typo, or bound elsewhere): CAMS answers Unknown.ResourceOwnerId.
    await registerWatchTarget(store, { CustSpaceId: 'C99999999999999', NodeType: 'phone', PhoneNumber: '8613800000999' }, 'test');
    const handler = fn();
    // CAMS pushes every WABA of the account: these belong to none that is watched.
    for (let i = 0; i < 3; i++) {
      const r = await handler(httpPush([{ Type: 'wabaAccountUpdate', WabaId: `99900011${i}`, Status: 'BLOCKED' }]), ctx());
      expect(json(r).Data!.Results[0]).toMatchObject({ Outcome: 'unknown-waba' });
    }
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Code: string }>;
    expect(calls.filter((c) => c.Action === 'QueryChatappBindWaba').map((c) => c.Code)).toEqual(['Unknown.ResourceOwnerId']);
  });

  // CAMS's ChatAppAudit HTTP-callback page: a push counts as received only when answered 200 with a
  // JSON body whose `code` is a number ({"code": 0, "msg": "..."}); else it is pushed again.
  it('a push acted on is answered 200 with the numeric code CAMS checks, and no string Code a case-blind reader could take for it', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const r = (await fn()(httpPush([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }]), ctx())) as Reply & { headers: Record<string, string> };
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(r.body) as Record<string, unknown>;
    expect(body).toMatchObject({ code: 0, msg: 'received', Success: true, Data: { Received: 1 } });
    expect(Object.keys(body).filter((k) => k.toLowerCase() === 'code' || k.toLowerCase() === 'msg')).toEqual(['code', 'msg']);
    expect(body).not.toHaveProperty('Message');
    // A refusal keeps the CAMS error envelope: CAMS pushes it again, as for any status but 200.
    const refused = (await fn()(httpPush([{ Type: 'wabaAccountUpdate' }], 'wrong-token-0123456789abcdef'), ctx())) as Reply;
    expect([refused.statusCode, json(refused).Code]).toEqual([403, 'InvalidToken']);
  });

  it('malformed, unknown and valid receipts in one batch: 200, field errors for the bad ones, the valid ones acted on', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'BLOCKED' });
    const batch = [
      { Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'BLOCKED' },
      { Type: 'phoneQualityUpdate', WabaId: 'not-digits', Status: 'RED' },
      'not an object',
      { Type: 'accountAlertsUpdate', WabaId: WABA, Status: 'SOMETHING_NEW' },
      { Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'PURPLE' },
      { Type: 'template', WabaId: '999000111', TemplateCode: 'x', Language: 'en', AuditStatus: 'pass' },
    ];
    const r = (await fn()(httpPush(batch), ctx())) as Reply;
    expect(r.statusCode).toBe(200);
    const data = json(r).Data!;
    expect(data.Results.map((x) => [x['Index'], x['Outcome']])).toEqual([
      [0, 'processed'],
      [3, 'unknown-type'],
      [4, 'unknown-type'],
      [5, 'unknown-waba'],
    ]);
    expect(data.Errors).toEqual([
      { Index: 1, Fields: [{ Field: '[1].WabaId', Message: 'must be the WABA id: 1-32 digits' }, { Field: '[1].PhoneNumber', Message: 'is required' }] },
      { Index: 2, Fields: [{ Field: '[2]', Message: 'must be a JSON object (a ChatAppAudit receipt)' }] },
    ]);
    // The valid one alerted (BLOCKED, critical); the unknown WABA did not; the unknown ones are kept.
    expect(webhookItems().map((i) => [i.status, i.node])).toEqual([['BLOCKED', expect.stringContaining(PHONE)]]);
    expect(await store.get(UNKNOWN_WABA_PREFIX + '999000111')).toBeDefined();
    // Shown, not alerted: the monitor's report lists it.
    const report = await healthReport(store, {});
    expect(report['Receipts']).toMatchObject({ Stats: { unknownWaba: 1 }, UnknownWabas: [{ WabaId: '999000111', Receipt: batch[5] }] });
    expect(await store.list(UNKNOWN_RECEIPT_PREFIX)).toHaveLength(2);
    // received counts every receipt that arrived, the malformed ones too
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 6, invalid: 2, unknown: 2, unknownWaba: 1 });
    expect(lines.some((l) => l.includes('"msg":"receipt for a WABA no watched node belongs to; not alerted"'))).toBe(true);
  });

  // JSON.parse kept the last of a repeated key silently, so a receipt saying BLOCKED and AVAILABLE
  // was acted on as whichever came last; POST /onboardings refuses such a body, naming the key.
  it('a receipt that gives a key twice is malformed, named by its path; the others in the push are acted on', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const r = (await fn()(httpPush(REPEATED_KEY_BATCH), ctx())) as Reply;
    expect(r.statusCode).toBe(200);
    expect(json(r).Data!.Results.map((x) => [x['Index'], x['Outcome']])).toEqual([[1, 'processed']]);
    expect(json(r).Data!.Errors).toEqual([
      { Index: 0, Fields: [{ Field: '[0].Status', Message: 'is given more than once' }] },
      { Index: 2, Fields: [{ Field: '[2].Reason.Code', Message: 'is given more than once' }] },
    ]);
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 3, invalid: 2 });
    // One receipt alone (not in an array) that gives a key twice: nothing valid, 400.
    const alone = (await fn()(httpPush(`{"Type":"wabaReviewUpdate","WabaId":"${WABA}","WabaId":"1","Status":"APPROVED"}`), ctx())) as Reply;
    expect(alone.statusCode).toBe(400);
    expect(json(alone).Fields).toEqual([{ Field: '[0].WabaId', Message: 'is given more than once' }]);
  });

  it("a WABA a receipt came for before it was watched leaves the report's UnknownWabas once one of its receipts is matched", async () => {
    const handler = fn();
    const review = { Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'APPROVED' };
    expect(json(await handler(httpPush([review]), ctx())).Data!.Results[0]).toMatchObject({ Outcome: 'unknown-waba' });
    expect((await healthReport(store, {}))['Receipts']).toMatchObject({ UnknownWabas: [{ WabaId: WABA }] });
    await registerWatchTarget(store, phone(), 'test');
    expect(json(await handler(httpPush([{ ...review, Reason: 'approved again' }]), ctx())).Data!.Results[0]).toMatchObject({ Outcome: 'processed' });
    expect((await healthReport(store, {}))['Receipts']).toMatchObject({ UnknownWabas: [] });
  });

  // The body is read leniently (a byte that is not UTF-8 becomes U+FFFD) so that one bad receipt does
  // not lose its push's others; no id holding one may name a node (a wrong one, or a phantom one).
  it('a receipt whose WabaId, PhoneNumber or TemplateCode holds a byte that is not UTF-8 is refused alone, naming the field and the byte; the others are acted on, no node is made', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const watched = (await store.list(WATCH_PREFIX)).length;
    const ff = '\u00ff'; // stands for the raw byte 0xFF, swapped in below
    const text = JSON.stringify([
      { Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' },
      { Type: 'wabaAccountUpdate', WabaId: `2993${ff}99000200`, PhoneNumber: PHONE, Status: 'BLOCKED' },
      { Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: `86138${ff}00000201`, Status: 'RED' },
      { Type: 'template', WabaId: WABA, TemplateCode: `order${ff}update`, Language: 'en_US', AuditStatus: 'fail' },
    ]);
    const bytes = Buffer.concat(text.split(ff).flatMap((part, i) => (i === 0 ? [Buffer.from(part)] : [Buffer.from([0xff]), Buffer.from(part)])));
    const e = JSON.parse(httpPush('[]').toString()) as Record<string, unknown>;
    e['body'] = bytes.toString('base64');
    e['isBase64Encoded'] = true;
    const r = (await fn()(Buffer.from(JSON.stringify(e)), ctx())) as Reply;
    expect(r.statusCode).toBe(200);
    expect(json(r).Data!.Results.map((x) => [x['Index'], x['Outcome']])).toEqual([[0, 'processed']]);
    const notUtf8 = 'holds a byte that is not UTF-8 (read as U+FFFD)';
    expect(json(r).Data!.Errors).toEqual([
      { Index: 1, Fields: [{ Field: '[1].WabaId', Message: expect.stringContaining(notUtf8) }] },
      { Index: 2, Fields: [{ Field: '[2].PhoneNumber', Message: expect.stringContaining(notUtf8) }] },
      { Index: 3, Fields: [{ Field: '[3].TemplateCode', Message: expect.stringContaining(notUtf8) }] },
    ]);
    // Refused visibly: logged with its fields, counted, and no node or unknown WABA made from a garbled id.
    expect(lines.some((l) => l.includes('"msg":"malformed receipts refused"') && l.includes('[1].WabaId'))).toBe(true);
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 4, invalid: 3, processed: 1 });
    expect(await store.list(WATCH_PREFIX)).toHaveLength(watched);
    expect(await store.list(UNKNOWN_WABA_PREFIX)).toHaveLength(0);
    expect(webhookItems().map((i) => i.status)).toEqual(['LIMITED']);
  });

  it('a push whose body starts with a byte order mark is read as its JSON', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const r = (await fn()(httpPush(`\uFEFF${JSON.stringify([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }])}`), ctx())) as Reply;
    expect(r.statusCode).toBe(200);
    expect(json(r).Data!.Results[0]).toMatchObject({ Outcome: 'processed' });
  });

  it('a batch with nothing valid is 400 with every field named; a body that is not JSON is 400', async () => {
    const r = (await fn()(httpPush([{ WabaId: WABA }]), ctx())) as Reply;
    expect(r.statusCode).toBe(400);
    expect(json(r).Fields).toEqual([{ Field: '[0].Type', Message: 'is required' }]);
    const bad = (await fn()(httpPush('{oops'), ctx())) as Reply;
    expect(bad.statusCode).toBe(400);
    expect(json(bad).Fields).toEqual([{ Field: '(body)', Message: expect.stringMatching(/^is not valid JSON/) }]);
    expect(json(bad).Message).toMatch(/^\(body\): is not valid JSON/);
    // Valid JSON of another shape is told what shape it must have.
    const number = (await fn()(httpPush('42'), ctx())) as Reply;
    expect(number.statusCode).toBe(400);
    expect(json(number).Fields).toEqual([{ Field: '(body)', Message: 'must be a JSON array of receipts' }]);
    const empty = (await fn()(httpPush([]), ctx())) as Reply;
    expect(empty.statusCode).toBe(400);
    expect(json(empty).Fields).toEqual([{ Field: '(body)', Message: 'holds no receipt' }]);
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 1, invalid: 1 });
  });

  it('a push of thousands of malformed receipts is answered with the first 100 named and the rest counted, not megabytes of errors', async () => {
    const junk = Array.from({ length: 5000 }, () => 1);
    const alone = (await fn()(httpPush(junk), ctx())) as Reply;
    expect(alone.statusCode).toBe(400);
    expect(json(alone).Fields).toHaveLength(100);
    expect(json(alone).Message).toMatch(/; and 4900 more malformed receipts$/);
    expect(alone.body.length).toBeLessThan(20_000);
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const beside = (await fn()(httpPush([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }, ...junk]), ctx())) as Reply;
    expect(beside.statusCode).toBe(200);
    expect(json(beside).Data).toMatchObject({ Received: 5001, ErrorsNotListed: 4900 });
    expect(json(beside).Data!.Errors).toHaveLength(100);
    expect(json(beside).Data!.Results).toHaveLength(1);
    // Every malformed one is counted all the same.
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 10_001, invalid: 10_000 });
  });

  it("a refused push's Code is MissingParameter only when every problem is a missing field, counting those past the first 100 named", async () => {
    const missing = { Type: 'phoneQualityUpdate', PhoneNumber: PHONE, Status: 'RED' };
    const codeOf = async (push: unknown[]) => json(await fn()(httpPush(push), ctx())).Code;
    expect(await codeOf([missing, missing])).toBe('MissingParameter');
    expect(await codeOf([missing, 1, { ...missing, WabaId: 'not digits' }])).toBe('InvalidParameter');
    expect(await codeOf([...Array.from({ length: 100 }, () => missing), 1])).toBe('InvalidParameter');
  });

  it('a receipt nested thousands deep is its own field error (400 alone, 200 beside a valid one), never a 500 CAMS would retry forever', async () => {
    await registerWatchTarget(store, phone(), 'test');
    const valid = { Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'RED' };
    const deep = (extra: number) => JSON.stringify({ ...valid, Status: 'YELLOW' }).slice(0, -1) + ',"Extra":' + '['.repeat(extra) + ']'.repeat(extra) + '}';
    const alone = (await fn()(httpPush(`[${deep(60_000)}]`), ctx())) as Reply;
    expect(alone.statusCode).toBe(400);
    expect(json(alone).Fields).toEqual([{ Field: '[0]', Message: 'must not nest more than 32 levels deep' }]);
    const beside = (await fn()(httpPush(`[${JSON.stringify(valid)},${deep(60_000)}]`), ctx())) as Reply;
    expect(beside.statusCode).toBe(200);
    expect(json(beside).Data!.Results.map((x) => [x['Index'], x['Outcome']])).toEqual([[0, 'processed']]);
    expect(json(beside).Data!.Errors).toEqual([{ Index: 1, Fields: [{ Field: '[1]', Message: 'must not nest more than 32 levels deep' }] }]);
  });

  it("a push with nothing valid is still the caller's 400 while the store is down (not a 503 CAMS would retry)", async () => {
    const down = fn({ STORE_URL: `redis://127.0.0.1:${await freePort()}` });
    const r = (await down(httpPush([{ Type: 'x' }]), ctx())) as Reply;
    expect(r.statusCode).toBe(400);
    expect(json(r).Fields).toEqual([{ Field: '[0].WabaId', Message: 'is required' }]);
    expect(lines.some((l) => l.includes('"msg":"malformed receipts not counted: the store failed"'))).toBe(true);
    // one valid receipt needs the store: that push is the 503 CAMS retries
    const valid = (await down(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'RED' }, { Type: 'x' }]), ctx())) as Reply;
    expect([valid.statusCode, json(valid).Code]).toEqual([503, 'StoreUnavailable']);
  });

  it("a push CAMS pushes again after a store failure counts its malformed receipts once, with its valid ones (they were counted again at each push)", async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    // The store goes away once, while the valid receipt is acted on: the push is a 503, pushed again.
    let failures = 1;
    const flaky = storeWith(store, {
      put: async (k, v, o) => {
        if (k.startsWith('monitor/target/') && failures > 0) {
          failures -= 1;
          throw new StoreError('UNAVAILABLE', 'redis store unavailable: connection lost');
        }
        return store.put(k, v, o);
      },
    });
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, CAMS_RECEIPT_TOKEN: TOKEN, ...receivers.env };
    const runtime = async () => ({ config: loadMonitorConfig(env), store: flaky, sinks: sinksFromEnv(env) });
    const handler = camsEventsHandler({ env, write: (l) => lines.push(l), runtime });
    const push = httpPush([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }, { Type: 'wabaAccountUpdate', PhoneNumber: PHONE, Status: 'LIMITED' }]);
    expect([(await handler(push, ctx())) as Reply].map((r) => [r.statusCode, json(r).Code])).toEqual([[503, 'StoreUnavailable']]);
    expect(((await handler(push, ctx())) as Reply).statusCode).toBe(200);
    expect(webhookItems().map((i) => i.status)).toEqual(['LIMITED']);
    // Before, the malformed receipt was counted at the 503 too: received 3, invalid 2.
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 2, processed: 1, invalid: 1, duplicates: 0 });
  });

  it('the same receipt three times: one alert, two duplicates counted', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'BLOCKED' });
    const receipt = { Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'BLOCKED' };
    const handler = fn();
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(json(await handler(httpPush([receipt]), ctx())).Data!.Results[0]!['Outcome']);
    expect(outcomes).toEqual(['processed', 'duplicate', 'duplicate']);
    expect(receivers.received.webhook).toHaveLength(1);
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ processed: 1, duplicates: 2 });
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string }>;
    expect(calls.filter((c) => c.Action === 'GetWhatsappHealthStatus')).toHaveLength(1);
  });
});

/** One health-monitor tick, as FC runs it (its own environment), at the alert clock's time (the default ALERT_REPEAT_INTERVAL, 4 h). */
async function monitorTick(requestId: string, clock: number): Promise<void> {
  const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
  const { runHealthMonitor } = await import('../../../shared/services/health-monitor.ts');
  const inv = { event: fixture('timer-event.json'), context: ctx(), requestId, deadline: Date.now() + 30_000 };
  await runHealthMonitor(inv, { config: loadMonitorConfig(env), store, sinks: sinksFromEnv(env) }, () => clock);
}

describe('a template review alert between receipts', () => {
  const HOUR = 3_600_000;
  const review = () => webhookItems().filter((i) => i.node.startsWith('TEMPLATE_STATUS')).map((i) => `${i.status} ${i.reason}`);

  it.each([
    ['paused', 'LIMITED'],
    ['disabled', 'BLOCKED'],
  ])('a %s template is reminded every ALERT_REPEAT_INTERVAL while no receipt changes it, and not while silenced', async (AuditStatus, status) => {
    const t0 = Date.now();
    let clock = t0;
    await registerWatchTarget(store, phone(), 'test');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US' }] });
    const r = (await fn({}, () => clock)(httpPush([{ Type: 'template', WabaId: WABA, TemplateCode: 'order_update', Language: 'en_US', AuditStatus, Reason: 'quality' }]), ctx())) as Reply;
    expect(json(r).Data!.Results[0]).toMatchObject({ Outcome: 'processed', Registered: true });
    expect(review()).toEqual([`${status} new`]);

    // Its node is checked every round; within the interval nothing more is said.
    clock = t0 + HOUR;
    await monitorTick('tick-1', clock);
    expect(review()).toEqual([`${status} new`]);
    // Past it, the check of the template reminds of its review (before, only a receipt could).
    clock = t0 + 4 * HOUR + 60_000;
    await monitorTick('tick-2', clock);
    expect(review()).toEqual([`${status} new`, `${status} reminder`]);
    clock += HOUR;
    await monitorTick('tick-3', clock);
    expect(review()).toHaveLength(2);

    // Silenced: the next reminder is recorded as silenced, not sent.
    const { createSilence } = await import('../../../shared/silences/store.ts');
    const silence = await createSilence(
      store,
      { Matchers: [{ Name: 'AlertName', Value: 'TEMPLATE_STATUS' }], StartsAt: clock, EndsAt: clock + 24 * HOUR, CreatedBy: 'test', Comment: 'known' },
      clock,
    );
    clock = t0 + 8 * HOUR + 2 * 60_000;
    await monitorTick('tick-4', clock);
    expect(review()).toHaveLength(2);
    const state = (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).find((e) => e.subject.entityType === 'TEMPLATE_STATUS')!;
    expect(state).toMatchObject({ firing: true, status, outbox: [], silenced: { silenceId: silence.SilenceId, item: { reason: 'reminder' } } });
  });
});

/**
 * ChatAppAudit's V1 form: the HTTP callback page's sample push (help.aliyun.com/zh/chatapp/
 * developer-reference/chatappaudit-1), template reviews with no Type; its masked ids made real.
 */
describe("ChatAppAudit's V1 receipts (no Type)", () => {
  const v1 = (TemplateCode: string, AuditStatus: string, extra: Record<string, unknown> = {}) => ({ WabaId: WABA, TemplateCode, Language: 'en_US', AuditStatus, Reason: '', ...extra });
  const review = () => webhookItems().filter((i) => i.node.startsWith('TEMPLATE_STATUS')).map((i) => `${i.status} ${i.reason} ${i.node.includes('order_update') ? 'order_update' : 'welcome'}`);
  beforeEach(async () => {
    await registerWatchTarget(store, phone(), 'test');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', {
      CustSpaceId: space,
      Templates: [
        { TemplateCode: 'order_update', Language: 'en_US' },
        { TemplateCode: 'welcome', Language: 'en_US' },
      ],
    });
  });

  it('over HTTP a V1 paused template fires the template alert, and a V1 pass resolves it, as V2 receipts do', async () => {
    let clock = Date.now();
    const handler = fn({}, () => clock);
    const paused = (await handler(httpPush([v1('order_update', 'paused', { Reason: 'low quality' })]), ctx())) as Reply;
    expect(paused.statusCode).toBe(200);
    expect(json(paused).Data).toMatchObject({ Results: [{ Index: 0, Outcome: 'processed', Node: `template:${space}:order_update/en_US`, Registered: true, Check: 'ok' }], Errors: [] });
    expect(review()).toEqual(['LIMITED new order_update']);
    expect(webhookItems()[0]!.errors[0]!.ErrorDescription).toContain('low quality');
    expect((await store.get<RegisteredTarget>(`${WATCH_PREFIX}template:${space}:order_update/en_US`))!.value.source).toBe('receipt:template');
    // CAMS's retry of it is a duplicate, as a V2 receipt's is.
    expect(json(await handler(httpPush([v1('order_update', 'paused', { Reason: 'low quality' })]), ctx())).Data!.Results[0]).toMatchObject({ Outcome: 'duplicate' });
    clock += 60_000;
    await handler(httpPush([v1('order_update', 'pass')]), ctx());
    expect(review()).toEqual(['LIMITED new order_update', 'RESOLVED resolved order_update']);
  });

  it('a push mixing V1 and V2 receipts: each acted on, the same review in both forms once, a V1 receipt missing a field refused alone naming it', async () => {
    const r = (await fn()(
      httpPush([
        { Type: 'template', WabaId: WABA, TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'paused' },
        v1('welcome', 'disabled'),
        { WabaId: WABA, TemplateCode: 'welcome', Language: 'en_US' },
        { Type: 'template', ...v1('welcome', 'disabled') },
      ]),
      ctx(),
    )) as Reply;
    expect(r.statusCode).toBe(200);
    expect(json(r).Data!.Results.map((x) => [x['Index'], x['Outcome']])).toEqual([
      [0, 'processed'],
      [1, 'processed'],
      [3, 'duplicate'],
    ]);
    expect(json(r).Data!.Errors).toEqual([{ Index: 2, Fields: [{ Field: '[2].AuditStatus', Message: 'is required (a receipt without Type is read as a V1 template receipt)' }] }]);
    expect(review().sort()).toEqual(['BLOCKED new welcome', 'LIMITED new order_update']);
    // Only V1 receipts missing a field: 400, naming each.
    const bad = (await fn()(httpPush([{ WabaId: WABA, Language: 'en_US', AuditStatus: 'pass' }]), ctx())) as Reply;
    expect(bad.statusCode).toBe(400);
    expect(json(bad).Fields).toEqual([{ Field: '[0].TemplateCode', Message: 'is required (a receipt without Type is read as a V1 template receipt)' }]);
  });

  it('from the MNS queue a V1 template receipt fires the alert as over HTTP; a malformed V1 one beside it is refused alone, naming its field', async () => {
    const handler = fn();
    const report = await handler(queueEvent(JSON.stringify([v1('order_update', 'disabled'), v1('welcome', 'pass', { Language: 'en US' })]), 'V1MSG1'), ctx());
    expect(report).toMatchObject({ messages: 1, receipts: 1, invalid: 1, setAside: [] });
    expect(review()).toEqual(['BLOCKED new order_update']);
    expect(lines.find((l) => l.includes('"msg":"malformed receipts in a queue message"'))).toContain('"Field":"[1].Language","Message":"must be a template language code such as en or en_US"');
  });
});

describe("a number's quality alert between receipts", () => {
  const HOUR = 3_600_000;
  const quality = () => webhookItems().filter((i) => i.node.startsWith('PHONE_QUALITY')).map((i) => `${i.status} ${i.reason}`);

  it('a YELLOW number not under a Discover entry is reminded every ALERT_REPEAT_INTERVAL by its check while no receipt changes it, and not while silenced; GREEN ends it', async () => {
    const t0 = Date.now();
    let clock = t0;
    await registerWatchTarget(store, phone(), 'test');
    await fn({}, () => clock)(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }]), ctx());
    expect(quality()).toEqual(['LIMITED new']);

    clock = t0 + HOUR;
    await monitorTick('tick-1', clock);
    expect(quality()).toEqual(['LIMITED new']);
    // Past the interval, the number's check reminds of its quality (before, only a receipt or a listing could).
    clock = t0 + 4 * HOUR + 60_000;
    await monitorTick('tick-2', clock);
    expect(quality()).toEqual(['LIMITED new', 'LIMITED reminder']);
    clock += HOUR;
    await monitorTick('tick-3', clock);
    expect(quality()).toHaveLength(2);

    const { createSilence } = await import('../../../shared/silences/store.ts');
    const silence = await createSilence(
      store,
      { Matchers: [{ Name: 'AlertName', Value: 'PHONE_QUALITY' }], StartsAt: clock, EndsAt: clock + 24 * HOUR, CreatedBy: 'test', Comment: 'known' },
      clock,
    );
    clock = t0 + 8 * HOUR + 2 * 60_000;
    await monitorTick('tick-4', clock);
    expect(quality()).toHaveLength(2);
    const state = (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).find((e) => e.subject.entityType === 'PHONE_QUALITY')!;
    expect(state).toMatchObject({ firing: true, status: 'LIMITED', outbox: [], silenced: { silenceId: silence.SilenceId, item: { reason: 'reminder' } } });

    // GREEN resolves it; its check drops the mark, so later ticks read nothing more for it.
    clock += HOUR;
    await fn({}, () => clock)(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'GREEN' }]), ctx());
    expect((await store.get<TargetInfo>(TARGET_INFO_PREFIX + `phone:${space}:${PHONE}`))?.value.firingUnobserved).toEqual([]);
  });
});

describe('cams-events with several instances at once', () => {
  it('the same receipt to three instances at the same moment, beside a sweep: one alert', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'BLOCKED' });
    const receipt = [{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'BLOCKED' }];
    // Separate instances: each opens its own store connection and keeps its own runtime.
    const instances = [fn(), fn(), fn()];
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const { runHealthMonitor } = await import('../../../shared/services/health-monitor.ts');
    const tick = runHealthMonitor(
      { event: {}, context: ctx(), requestId: 'tick', deadline: Date.now() + 30_000 },
      { config: loadMonitorConfig(env), store, sinks: sinksFromEnv(env) },
    );
    const replies = await Promise.all(instances.map((h) => h(httpPush(receipt), ctx())));
    await tick;
    expect(replies.map((r) => (r as Reply).statusCode)).toEqual([200, 200, 200]);
    const outcomes = replies.map((r) => json(r).Data!.Results[0]!['Outcome']).sort();
    expect(outcomes.filter((o) => o === 'processed')).toHaveLength(1);
    expect(webhookItems().filter((i) => i.node.includes(PHONE))).toHaveLength(1);
    // The counters agree with the outcomes: an instance that lost the race to mark it seen counts a duplicate, not a second processed.
    expect((await store.get<ReceiptStats>(STATS_KEY))?.value).toMatchObject({ received: 3, processed: 1, duplicates: 2 });
  });

  it('two receipts at two instances while the first delivers to a slow channel: the second push is answered within its budget, and its alert goes out once, when the channel answers, not at the next sweep', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US' }] });
    // One channel both instances send to; its first message is answered only when the test says.
    const sent: AlertNotification[] = [];
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    let holding!: () => void;
    const held = new Promise<void>((r) => (holding = r));
    let heldOnce = false;
    const slow: AlertSink = {
      name: 'slow',
      perMinute: 60,
      timeoutMs: 5000,
      async send(n) {
        if (!heldOnce) {
          heldOnce = true;
          holding();
          await answered;
        }
        sent.push(n);
      },
    };
    const env = { STORE_URL: storeUrl, CAMS_RECEIPT_TOKEN: TOKEN, CAMS_ENDPOINT: sandbox.url };
    const instance = (clock?: Clock) => camsEventsHandler({ env, write: (l) => lines.push(l), runtime: async () => ({ config: loadMonitorConfig(env), store, sinks: [slow] }), ...(clock ? { clock } : {}) });
    const first = instance()(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }]), ctx());
    await held;
    // The first instance's send is held until the test answers it: the second is answered without
    // waiting for it, once its wait for the lease reaches its reply budget (before, after 10 s).
    const clock = pushClock();
    const [second, answeredAfter] = (await byClock(clock, () => instance(clock)(httpPush([{ Type: 'template', WabaId: WABA, TemplateCode: 'order_update', Language: 'en_US', AuditStatus: 'paused' }]), ctx()))) as [Reply, number];
    expectStoppedAtBudget(answeredAfter);
    expect(second.statusCode).toBe(200);
    expect((json(second).Data as unknown as { Delivered: number }).Delivered).toBe(0);
    // Its alert stays owed, and the holder is asked to look again.
    expect(await store.get(DELIVER_AGAIN)).toBeDefined();
    answer();
    expect(((await first) as Reply).statusCode).toBe(200);
    const items = sent.flatMap((n) => n.items.map((i) => `${i.subject.entityType} ${i.status}`)).sort();
    expect(items).toEqual(['PHONE_QUALITY LIMITED', 'TEMPLATE_STATUS LIMITED']);
    // Nothing is left for the next deliverer to send again.
    expect(await store.list('monitor/owed/')).toHaveLength(0);
  }, 30_000);

  it('the lease holder takes the ask on: the instance answers then, leaving the alert to that pass, not once the lease is free', async () => {
    await registerWatchTarget(store, phone(), 'test');
    const holder = (await store.acquireLease(DELIVERY_LEASE, 60_000))!;
    // The holder's pass ends 1 s on by the push's clock and it takes the ask on (deletes it) for
    // another; it holds the lease past the push's answer.
    const fake = pushClock();
    const startedAt = fake.now();
    let takenOnAt: number | undefined;
    const clock: Clock = {
      now: fake.now,
      sleep: async (ms) => {
        await fake.sleep(ms);
        if (takenOnAt === undefined && fake.now() - startedAt >= 1000 && (await store.get(DELIVER_AGAIN))) {
          await store.delete(DELIVER_AGAIN);
          takenOnAt = fake.now();
        }
      },
    };
    const [r, answeredAfter] = (await byClock(clock, () => fn({}, undefined, clock)(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }]), ctx()))) as [Reply, number];
    expect(r.statusCode).toBe(200);
    // At its first look after the ask was taken on: not at the end of its budget (nor of the lease).
    expect(takenOnAt).toBeDefined();
    expect(answeredAfter).toBe(takenOnAt! - startedAt);
    expect(answeredAfter).toBeLessThan(REPLY_BUDGET_MS - 1000);
    // The alert is the holder's pass's to send.
    expect((json(r).Data as unknown as { Delivered: number }).Delivered).toBe(0);
    expect(await store.list('monitor/owed/')).toHaveLength(1);
    await holder.release();
  });

  it('the lease holder cannot take the ask on (its last pass) and lets go within the push\'s budget: the instance sends the alert itself', async () => {
    await registerWatchTarget(store, phone(), 'test');
    // Another deliverer at its last pass: it holds the lease for 0.5 s, then lets go without looking
    // at the ask (as deliverOwed does after MAX_PASSES, or when its invocation ends).
    const holder = (await store.acquireLease(DELIVERY_LEASE, 60_000))!;
    const letGo = new Promise((r) => setTimeout(r, 500)).then(() => holder.release());
    const r = (await fn()(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }]), ctx())) as Reply;
    await letGo;
    expect(r.statusCode).toBe(200);
    // Once, it tried for ~3 s and answered Delivered 0: the alert stayed owed until the next sweep tick.
    expect((json(r).Data as unknown as { Delivered: number }).Delivered).toBe(1);
    expect(webhookItems().map((i) => `${i.status} ${i.errors[0]?.ErrorCode}`)).toEqual(['LIMITED QualityRating.YELLOW']);
  }, 30_000);

  it("the lease holder cannot take the ask on and lets go after the push's answer is due: answered within the budget, the alert owed; CAMS's re-push is a duplicate that sends it, once", async () => {
    await registerWatchTarget(store, phone(), 'test');
    // Another deliverer at its last pass holds the lease until after the push is answered.
    const holder = (await store.acquireLease(DELIVERY_LEASE, 60_000))!;
    const receipt = [{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }];
    const clock = pushClock();
    const handler = fn({}, undefined, clock);
    const [r, answeredAfter] = (await byClock(clock, () => handler(httpPush(receipt), ctx()))) as [Reply, number];
    // Before, it waited for the lease up to 10 s, then sent the alert itself: CAMS had given up on the answer long before.
    expectStoppedAtBudget(answeredAfter);
    expect(r.statusCode).toBe(200);
    expect((json(r).Data as unknown as { Delivered: number }).Delivered).toBe(0);
    expect(await store.list('monitor/owed/')).toHaveLength(1);
    expect(await store.get(DELIVER_AGAIN)).toBeDefined();
    await holder.release();
    // CAMS pushes the same receipt again: not acted on twice, and this push, the deliverer now, sends what is owed.
    const again = (await handler(httpPush(receipt), ctx())) as Reply;
    expect(json(again).Data!.Results.map((x) => x['Outcome'])).toEqual(['duplicate']);
    expect((json(again).Data as unknown as { Delivered: number }).Delivered).toBe(1);
    expect((await flush()).delivered).toEqual([]);
    expect(webhookItems().map((i) => `${i.status} ${i.errors[0]?.ErrorCode}`)).toEqual(['LIMITED QualityRating.YELLOW']);
  }, 30_000);
});

describe('cams-events beside a crashed deliverer', () => {
  it('a lease a crashed deliverer left (never let go): the push is answered within its budget, not after a wait for the lease; the next deliverer sends the alert once', async () => {
    await registerWatchTarget(store, phone(), 'test');
    const crashed = (await store.acquireLease(DELIVERY_LEASE, 120_000))!;
    const long = fcContext({ function: { name: 'cams-events', handler: 'index.handler', memory: 256, timeout: 60 }, credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;
    const clock = pushClock();
    const [r, answeredAfter] = (await byClock(clock, () => fn({}, undefined, clock)(httpPush([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }]), long))) as [Reply, number];
    expect(r.statusCode).toBe(200);
    expect((json(r).Data as unknown as { Delivered: number }).Delivered).toBe(0);
    // Before, after a 10 s wait for the lease.
    expectStoppedAtBudget(answeredAfter);
    expect(await store.list('monitor/owed/')).toHaveLength(1);
    expect(await store.get(DELIVER_AGAIN)).toBeDefined();
    // The crashed deliverer's lease runs out: the next deliverer (a sweep's flush) sends it, and only it.
    await crashed.release();
    expect((await flush()).delivered).toEqual([{ sink: 'webhook', group: expect.any(String), items: 1 }]);
    expect((await flush()).delivered).toEqual([]);
    expect(webhookItems().map((i) => `${i.status} ${i.errors[0]?.ErrorCode}`)).toEqual(['LIMITED QualityRating.YELLOW']);
  }, 30_000);
});

describe('cams-events killed at the worst moment', () => {
  it('SIGKILLed after acting on a receipt but before recording it as acted on: the redelivery sends the alert exactly once', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'BLOCKED' });
    const receipt = [{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'BLOCKED' }];
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/receipts-crash-child.ts'], {
      env: {
        ...process.env,
        ...receivers.env,
        STORE_URL: storeUrl,
        CAMS_ENDPOINT: sandbox.url,
        CAMS_RECEIPT_TOKEN: TOKEN,
        ALIBABA_CLOUD_ACCESS_KEY_ID: key.accessKeyId,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET: key.accessKeySecret,
        RECEIPT_EVENT: httpPush(receipt).toString(),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const signal = await new Promise((r) => child.on('close', (_code, sig) => r(sig)));
    expect(signal).toBe('SIGKILL');
    expect(out).toContain('"killing"');
    expect(out).not.toContain('"finished"');
    expect(receivers.received.webhook).toHaveLength(0);

    // CAMS delivers it again (its push got no answer): another instance acts on it and delivers.
    const again = await fn()(httpPush(receipt), ctx());
    expect(json(again).Data!.Results[0]).toMatchObject({ Outcome: 'processed' });
    const third = await fn()(httpPush(receipt), ctx());
    expect(json(third).Data!.Results[0]).toMatchObject({ Outcome: 'duplicate' });
    expect(webhookItems().map((i) => [i.status, i.reason])).toEqual([['BLOCKED', 'new']]);
  }, 30_000);
});

describe('cams-events from the MNS queue trigger', () => {
  it('a queue message is acted on like an HTTP push', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const report = await fn()(queueEvent(JSON.stringify([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }])), ctx());
    expect(report).toMatchObject({ messages: 1, receipts: 1, setAside: [], delivered: 1 });
    expect(webhookItems().map((i) => i.status)).toEqual(['LIMITED']);
  });

  it('a body an MNS SDK wrote base64-encoded (its default) is read as the JSON it encodes', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const body = Buffer.from(JSON.stringify([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }])).toString('base64');
    const report = await fn()(queueEvent(body, 'B64MSG1'), ctx());
    expect(report).toMatchObject({ messages: 1, receipts: 1, setAside: [], delivered: 1 });
    expect(webhookItems().map((i) => i.status)).toEqual(['LIMITED']);
  });

  it('a receipt that gives a key twice is malformed as over HTTP, raw or base64-encoded; the others are acted on', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const handler = fn();
    expect(await handler(queueEvent(REPEATED_KEY_BATCH, 'REPEAT1'), ctx())).toMatchObject({ messages: 1, receipts: 1, invalid: 2, setAside: [] });
    expect(await handler(queueEvent(Buffer.from(REPEATED_KEY_BATCH).toString('base64'), 'REPEAT2'), ctx())).toMatchObject({ messages: 1, receipts: 1, invalid: 2, setAside: [] });
    expect(webhookItems().map((i) => i.status)).toEqual(['LIMITED']);
    const warned = lines.filter((l) => l.includes('"msg":"malformed receipts in a queue message"'));
    expect(warned).toHaveLength(2);
    for (const l of warned) expect(l).toContain('"fields":[{"Field":"[0].Status","Message":"is given more than once"},{"Field":"[2].Reason.Code","Message":"is given more than once"}]');
  });

  // FC 3.0's SMQ/MNS queue trigger is an EventBridge event stream: in event-streaming mode its batch
  // push delivers a JSON array of CloudEvents (the deploy sets event-driven mode, one CloudEvent per
  // invocation: local/host/mns-queue.ts), each with data.messageId and data.messageBody (FC "Simple Message Queue
  // (formerly MNS) queue triggers", https://www.alibabacloud.com/help/en/functioncompute/fc/mns-queue-triggers;
  // the event's fields, https://www.alibabacloud.com/help/en/eventbridge/latest/439527).
  it('a message of thousands of malformed receipts is logged with the first 100 named and the rest counted, not a log line of megabytes', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const junk = Array.from({ length: 5000 }, () => 1);
    const body = JSON.stringify([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }, ...junk]);
    expect(await fn()(queueEvent(body, 'JUNK1'), ctx())).toMatchObject({ receipts: 1, invalid: 5000, setAside: [] });
    expect(webhookItems().map((i) => i.status)).toEqual(['LIMITED']);
    const warned = lines.filter((l) => l.includes('"msg":"malformed receipts in a queue message"'));
    expect(warned).toHaveLength(1);
    const record = JSON.parse(warned[0]!) as { fields: Array<{ Field: string }>; unlisted?: number };
    expect([record.fields.length, record.fields[0]!.Field, record.fields[99]!.Field, record.unlisted]).toEqual([100, '[1]', '[100]', 4900]);
    expect(warned[0]!.length).toBeLessThan(20_000);
    // Every one is counted all the same.
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 5001, invalid: 5000 });
  });

  it('a batch push (a JSON array of CloudEvents): an element that is no readable message is set aside alone, the good messages beside it are acted on', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    const element = (messageId: string, messageBody: unknown) => {
      const e = JSON.parse(queueEvent('', messageId).toString()) as { data: Record<string, unknown> } & Record<string, unknown>;
      e.data['messageBody'] = messageBody;
      return e;
    };
    const good = element('BATCH1', JSON.stringify([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }]));
    const noBody = element('BATCH2', null);
    // No data.messageId, and an event id no store key can hold: nothing to set it aside by.
    const noId = element('', '[]');
    delete noId.data['messageId'];
    noId['id'] = 'not an id: it has spaces';
    const batch = [good, noBody, noId];
    const handler = fn();
    const report = await handler(Buffer.from(JSON.stringify(batch)), ctx());
    expect(report).toMatchObject({ messages: 3, receipts: 1, setAside: ['BATCH2'], unreadable: 1, delivered: 2 });
    expect(report).not.toHaveProperty('ignored');
    expect(webhookItems().map((i) => [i.status, i.node.includes('ReceiptMessageSetAside')])).toEqual(
      expect.arrayContaining([
        ['LIMITED', false],
        ['ERROR', true],
      ]),
    );
    expect(lines.some((l) => l.includes('"msg":"queue batch element unreadable: it has no messageId to set it aside by"') && l.includes('"index":2'))).toBe(true);
    // The same batch redelivered: the set-aside one skipped without a second alert, the receipt a duplicate.
    expect(await handler(Buffer.from(JSON.stringify(batch)), ctx())).toMatchObject({ messages: 3, skipped: ['BATCH2'], setAside: [] });
    expect(webhookItems()).toHaveLength(2);
  });

  it('a batch push with one message failing before a good one: the good one is acted on all the same, the batch redelivered, and the good one passed over then (one alert), the failing one set aside after 3 attempts', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    // The store refuses the WABA review receipt's bookkeeping only (its node's state): the phone's receipt beside it is unaffected.
    const failing = storeWith(store, {
      put: async (k, v, o) => {
        if (k.startsWith('monitor/target/') && !k.includes('phone')) throw new Error('disk full');
        return store.put(k, v, o);
      },
    });
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const runtime = async () => ({ config: loadMonitorConfig(env), store: failing, sinks: sinksFromEnv(env) });
    const handler = camsEventsHandler({ env, write: (l) => lines.push(l), runtime });
    const element = (messageId: string, receipts: unknown[]) => JSON.parse(queueEvent(JSON.stringify(receipts), messageId).toString()) as unknown;
    const batch = Buffer.from(
      JSON.stringify([
        element('FAIL1', [{ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'REJECTED' }]),
        element('GOOD1', [{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }]),
      ]),
    );
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        const r = (await handler(batch, ctx())) as { setAside: string[]; skipped: string[] };
        outcomes.push(r.setAside.length ? `set aside ${r.setAside.join()}` : r.skipped.length ? `skipped ${r.skipped.join()}` : 'ok');
      } catch (e) {
        outcomes.push(`failed: ${(e as Error).message}`);
      }
    }
    // FC's retry (an event stream's too) redelivers the whole batch: the finished message is read again each time.
    expect(outcomes).toEqual(['failed: disk full', 'failed: disk full', 'set aside FAIL1', 'skipped FAIL1']);
    expect(webhookItems().map((i) => [i.status, i.node.includes('ReceiptMessageSetAside (FAIL1)')])).toEqual([
      ['LIMITED', false],
      ['ERROR', true],
    ]);
    // The good one, acted on at the first delivery, is passed over after: its receipt is not counted again.
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 1, processed: 1, duplicates: 0 });
  });

  it('a message acted on, redelivered with its batch for another one\'s failure, is passed over: a failure then cannot set it aside, nor its attempts or malformed receipts be counted again', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    // FAIL1's bookkeeping always fails; GOOD1's first delivery works, and reading its node's last
    // receipt fails from then on (a store timeout): what a redelivery acting on it again would meet.
    let redelivering = false;
    const failing = storeWith(store, {
      put: async (k, v, o) => {
        if (k.startsWith('monitor/target/') && !k.includes('phone')) throw new Error('disk full');
        return store.put(k, v, o);
      },
      get: async (k) => {
        if (redelivering && k.startsWith('receipts/last/') && k.includes('phone')) throw new Error('store timeout');
        return store.get(k);
      },
    });
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const runtime = async () => ({ config: loadMonitorConfig(env), store: failing, sinks: sinksFromEnv(env) });
    const handler = camsEventsHandler({ env, write: (l) => lines.push(l), runtime });
    const element = (messageId: string, receipts: unknown[]) => JSON.parse(queueEvent(JSON.stringify(receipts), messageId).toString()) as unknown;
    const batch = Buffer.from(
      JSON.stringify([
        element('FAIL1', [{ Type: 'wabaReviewUpdate', WabaId: WABA, Status: 'REJECTED' }]),
        // GOOD1 holds a malformed receipt (no WabaId) beside its good one.
        element('GOOD1', [{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }, { Type: 'wabaAccountUpdate', PhoneNumber: PHONE, Status: 'LIMITED' }]),
      ]),
    );
    const outcomes: string[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        const r = (await handler(batch, ctx())) as { setAside: string[]; alreadyActedOn?: string[] };
        outcomes.push(`set aside [${r.setAside.join()}] passed over [${(r.alreadyActedOn ?? []).join()}]`);
      } catch (e) {
        outcomes.push(`failed: ${(e as Error).message}`);
      }
      redelivering = true;
    }
    // Before, GOOD1 failed too from the second delivery on and was set aside at the third, "after 3 attempts".
    expect(outcomes).toEqual(['failed: disk full', 'failed: disk full', 'set aside [FAIL1] passed over [GOOD1]', 'set aside [] passed over [GOOD1]']);
    expect(webhookItems().filter((i) => i.node.includes('ReceiptMessageSetAside')).map((i) => i.node)).toEqual([expect.stringContaining('FAIL1')]);
    expect(await store.get(POISON_PREFIX + 'GOOD1')).toBeUndefined();
    expect((await store.get<{ count: number }>(ATTEMPTS_PREFIX + 'GOOD1'))!.value.count).toBe(1);
    // Its malformed receipt counted once, not once per delivery.
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 2, processed: 1, invalid: 1, duplicates: 0 });
  });

  it('a message retried after a failure counts its malformed receipts once, when its receipts are acted on', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    // The first attempt's bookkeeping fails once (a store hiccup); the retry works.
    let failures = 1;
    const flaky = storeWith(store, {
      put: async (k, v, o) => {
        if (k.startsWith('monitor/target/') && failures > 0) {
          failures -= 1;
          throw new Error('store hiccup');
        }
        return store.put(k, v, o);
      },
    });
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const runtime = async () => ({ config: loadMonitorConfig(env), store: flaky, sinks: sinksFromEnv(env) });
    const handler = camsEventsHandler({ env, write: (l) => lines.push(l), runtime });
    const body = JSON.stringify([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }, { Type: 'wabaAccountUpdate', PhoneNumber: PHONE, Status: 'LIMITED' }]);
    await expect(handler(queueEvent(body, 'RETRY1'), ctx())).rejects.toThrow('store hiccup');
    expect(await handler(queueEvent(body, 'RETRY1'), ctx())).toMatchObject({ receipts: 1, invalid: 1, setAside: [] });
    expect(webhookItems().map((i) => i.status)).toEqual(['LIMITED']);
    // Before, the malformed receipt was counted at each delivery: invalid 2.
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ invalid: 1, processed: 1 });
  });

  it('a message whose first attempt died before acting on it (its attempt counted, the reply lost) counts its malformed receipts at the next', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    // The attempt's count reaches the store, and the connection drops before its answer: the attempt fails there.
    let drops = 1;
    const dropping = storeWith(store, {
      put: async (k, v, o) => {
        const written = await store.put(k, v, o);
        if (k.startsWith(ATTEMPTS_PREFIX) && drops > 0) {
          drops -= 1;
          throw new StoreError('UNAVAILABLE', 'redis store unavailable: connection lost');
        }
        return written;
      },
    });
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const runtime = async () => ({ config: loadMonitorConfig(env), store: dropping, sinks: sinksFromEnv(env) });
    const handler = camsEventsHandler({ env, write: (l) => lines.push(l), runtime });
    const body = JSON.stringify([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }, { Type: 'wabaAccountUpdate', PhoneNumber: PHONE, Status: 'LIMITED' }]);
    await expect(handler(queueEvent(body, 'EARLY1'), ctx())).rejects.toThrow('connection lost');
    expect(await handler(queueEvent(body, 'EARLY1'), ctx())).toMatchObject({ receipts: 1, invalid: 1, setAside: [] });
    expect((await store.get<{ count: number }>(ATTEMPTS_PREFIX + 'EARLY1'))!.value.count).toBe(2);
    // Before, only a first attempt counted them: the second's were lost (invalid 0).
    expect((await store.get<ReceiptStats>(STATS_KEY))!.value).toMatchObject({ received: 2, processed: 1, invalid: 1 });
  });

  it("an element set aside whose alert was never written (the store failed between the kept element and its alert): the redelivery raises it, once", async () => {
    // The first write of an alert entity after the element is kept fails (a connection lost), once.
    let armed = false;
    let failed = false;
    const failing = storeWith(store, {
      put: async (k, v, o) => {
        if (k.startsWith(ENTITY_PREFIX) && armed && !failed) {
          failed = true;
          throw new Error('connection lost');
        }
        if (k.startsWith(POISON_PREFIX)) armed = true;
        return store.put(k, v, o);
      },
    });
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const runtime = async () => ({ config: loadMonitorConfig(env), store: failing, sinks: sinksFromEnv(env) });
    const handler = camsEventsHandler({ env, write: (l) => lines.push(l), runtime });
    const noBody = JSON.parse(queueEvent('', 'NOBODY1').toString()) as { data: Record<string, unknown> };
    delete noBody.data['messageBody'];
    const batch = Buffer.from(JSON.stringify([noBody]));
    await expect(handler(batch, ctx())).rejects.toThrow('connection lost');
    expect(await store.get(POISON_PREFIX + 'NOBODY1')).toBeDefined();
    // Redelivered (FC's retry): the element is kept already, and its alert is raised now; again, not twice.
    expect(await handler(batch, ctx())).toMatchObject({ skipped: ['NOBODY1'], setAside: [] });
    expect(await handler(batch, ctx())).toMatchObject({ skipped: ['NOBODY1'], setAside: [] });
    expect(webhookItems().map((i) => [i.status, i.node])).toEqual([['ERROR', expect.stringContaining('ReceiptMessageSetAside (NOBODY1)')]]);
  });

  it('a message acted on whose done mark cannot be written is acknowledged, not redelivered, nor set aside at its third delivery', async () => {
    await registerWatchTarget(store, phone(), 'test');
    await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
    // Only the done mark's write fails (a store hiccup after the receipts were acted on).
    const noDone = storeWith(store, {
      put: async (k, v, o) => {
        if (k.startsWith('receipts/done/')) throw new Error('store hiccup');
        return store.put(k, v, o);
      },
    });
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const runtime = async () => ({ config: loadMonitorConfig(env), store: noDone, sinks: sinksFromEnv(env) });
    const handler = camsEventsHandler({ env, write: (l) => lines.push(l), runtime });
    const body = JSON.stringify([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'LIMITED' }]);
    // Delivered three times (MNS and FC deliver at least once): each is acted on, none fails.
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      try {
        const r = (await handler(queueEvent(body, 'NODONE1'), ctx())) as { setAside: string[] };
        outcomes.push(`set aside [${r.setAside.join()}]`);
      } catch (e) {
        outcomes.push(`failed: ${(e as Error).message}`);
      }
    }
    // Before, the done mark's failure was the message's: redelivered twice, then set aside (with an alert) at the third.
    expect(outcomes).toEqual(['set aside []', 'set aside []', 'set aside []']);
    expect(await store.get(POISON_PREFIX + 'NODONE1')).toBeUndefined();
    expect(webhookItems().map((i) => i.status)).toEqual(['LIMITED']);
    expect(lines.some((l) => l.includes('done mark not written'))).toBe(true);
  });

  it('a message whose body is not JSON is set aside at once, with one alert', async () => {
    const handler = fn();
    const first = await handler(queueEvent('<xml>not json</xml>', 'POISON1'), ctx());
    expect(first).toMatchObject({ setAside: ['POISON1'] });
    // Redelivered anyway: acknowledged without another alert.
    expect(await handler(queueEvent('<xml>not json</xml>', 'POISON1'), ctx())).toMatchObject({ skipped: ['POISON1'] });
    expect(webhookItems().map((i) => [i.status, i.node])).toEqual([['ERROR', expect.stringContaining('ReceiptMessageSetAside')]]);
  });

  it('a set-aside alert resolves at the health monitor\'s next round once its kept message is deleted (before, it fired with reminders for ever)', async () => {
    await fn()(queueEvent('<xml>not json</xml>', 'POISON2'), ctx());
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const { runHealthMonitor } = await import('../../../shared/services/health-monitor.ts');
    // A round runs when no round is under way: the first tick starts one, the next starts another once it completed.
    const round = (requestId: string) => runHealthMonitor({ event: {}, context: ctx(), requestId, deadline: Date.now() + 30_000 }, { config: loadMonitorConfig(env), store, sinks: sinksFromEnv(env) });
    const setAside = () => webhookItems().filter((i) => i.node.includes('ReceiptMessageSetAside')).map((i) => i.status);

    // Kept: still firing after a round.
    await round('tick-1');
    expect(setAside()).toEqual(['ERROR']);
    // Looked at and deleted: resolved at the next round, once.
    await store.delete(POISON_PREFIX + 'POISON2');
    await round('tick-2');
    await round('tick-3');
    expect(setAside()).toEqual(['ERROR', 'RESOLVED']);
    expect(await store.list(TIED_PREFIX)).toEqual([]);
  });

  it('a message that keeps failing is retried, then set aside after 3 attempts with one alert, and never redelivered forever', async () => {
    await registerWatchTarget(store, phone(), 'test');
    // The store refuses the receipt's bookkeeping (a bug, a full disk): every attempt fails the same way.
    const failing = storeWith(store, {
      put: async (k, v, o) => {
        if (k.startsWith('monitor/target/')) throw new Error('disk full');
        return store.put(k, v, o);
      },
    });
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const runtime = async () => ({ config: loadMonitorConfig(env), store: failing, sinks: sinksFromEnv(env) });
    const handler = camsEventsHandler({ env, write: (l) => lines.push(l), runtime });
    const body = JSON.stringify([{ Type: 'wabaAccountUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'BLOCKED' }]);
    const outcomes: string[] = [];
    // FC's async invocation: the first attempt and its 3 retries.
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        const r = (await handler(queueEvent(body, 'STUCK1'), ctx())) as { setAside: string[]; skipped: string[] };
        outcomes.push(r.setAside.length ? 'set-aside' : r.skipped.length ? 'skipped' : 'ok');
      } catch (e) {
        outcomes.push(`failed: ${(e as Error).message}`);
      }
    }
    expect(outcomes).toEqual(['failed: disk full', 'failed: disk full', 'set-aside', 'skipped']);
    expect((await store.get<{ count: number }>(ATTEMPTS_PREFIX + 'STUCK1'))!.value.count).toBe(3);
    const kept = (await store.get<{ Body: string; Attempts: number; Error: string }>(POISON_PREFIX + 'STUCK1'))!.value;
    expect(kept).toMatchObject({ Body: body, Attempts: 3, Error: 'Error: disk full' });
    const alerts = webhookItems().filter((i) => i.node.includes('ReceiptMessageSetAside'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.errors[0]!.ErrorDescription).toContain('STUCK1');
  });
});
