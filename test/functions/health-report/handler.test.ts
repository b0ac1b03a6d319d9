import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { HealthSweep } from '../../../shared/monitor/sweep.ts';
import { openStore } from '../../../shared/store/index.ts';
import { handler } from '../../../functions/health-report/handler.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';
import { onboardThroughFunctions, RecordingSink, sandboxClient, setHealth, tempFileStore } from '../../support/monitor.ts';
import { CALLER_KEY, sandboxForFunctions } from '../../support/sandbox-env.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { registerWatchTarget } from '../../../shared/monitor/targets.ts';
import { camsEventsHandler } from '../../../shared/services/cams-events.ts';
import { receiptPushEvent } from '../../support/receipt-forwarder.ts';

const RECEIPT_TOKEN = 'receipt-token-0123456789abcdef';

let sandbox: RunningSandbox;
let cleanup: () => Promise<void>;
/** The handler opens its store once per instance: later tests write to that same store. */
let firstUrl = '';

beforeAll(async () => {
  sandbox = await sandboxForFunctions();
});
afterAll(async () => {
  await cleanup?.();
  await sandbox?.close();
  delete process.env['STORE_URL'];
  delete process.env['MONITOR_TARGETS'];
});

describe('GET /health-report', () => {
  it("shows the monitor's view from the store: round, targets, every node with status and errors", async () => {
    const temp = await tempFileStore();
    cleanup = temp.cleanup;
    process.env['STORE_URL'] = temp.url;
    firstUrl = temp.url;
    const space = await onboardThroughFunctions('299399000500', [{ cc: '86', phone: '13800000500' }]);
    const target = { CustSpaceId: space, NodeType: 'phone' as const, PhoneNumber: '8613800000500' };
    process.env['MONITOR_TARGETS'] = JSON.stringify([target]); // as both functions get it in serverless.yml
    await setHealth(sandbox, { ...target, CanSendMessage: 'LIMITED', Errors: [{ ErrorCode: '131042', ErrorDescription: 'Business eligibility payment issue' }] });
    await new HealthSweep({
      store: temp.store,
      cams: sandboxClient(sandbox),
      sinks: [new RecordingSink()],
      policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 },
      envTargets: [target],
      concurrency: 5,
      deadline: Date.now() + 20_000,
    }).run();

    const signed = signRouteRequest({ method: 'GET', path: '/health-report' }, 'h', CALLER_KEY);
    const res = parseReply(await handler(httpEvent(signed, 'api-gateway'), fcContext() as never));
    expect(res.statusCode).toBe(200);
    const data = res.body.Data as { Round: Record<string, unknown>; Nodes: Array<Record<string, unknown>>; NextToken?: string };
    expect(data.Round).toMatchObject({ Checked: 1, Total: 1, CompletedAt: expect.any(String) });
    const phone = data.Nodes.find((n) => n['EntityType'] === 'PHONE_NUMBER');
    expect(phone).toMatchObject({ CanSendMessage: 'LIMITED', Firing: true, Group: 'waba:299399000500', OwedDeliveries: 0, Errors: [expect.objectContaining({ ErrorCode: '131042' })] });
    expect(data.Nodes.map((n) => n['EntityType']).sort()).toEqual(['APP', 'BUSINESS', 'PHONE_NUMBER', 'WABA']);
    expect(data.NextToken).toBeUndefined();

    // Paged: PageSize 3 walks the same four nodes, each once, in two pages.
    const call = async (query: Record<string, string>) =>
      parseReply(await handler(httpEvent(signRouteRequest({ method: 'GET', path: '/health-report', query }, 'h', CALLER_KEY), 'api-gateway'), fcContext() as never));
    const first = await call({ PageSize: '3' });
    const p1 = first.body.Data as { Nodes: Array<Record<string, unknown>>; NextToken?: string };
    expect(p1.Nodes).toHaveLength(3);
    expect(p1.NextToken).toEqual(expect.any(String));
    const p2 = (await call({ PageSize: '3', NextToken: p1.NextToken! })).body.Data as { Nodes: Array<Record<string, unknown>>; NextToken?: string };
    expect(p2.NextToken).toBeUndefined();
    expect([...p1.Nodes, ...p2.Nodes].map((n) => n['EntityType']).sort()).toEqual(['APP', 'BUSINESS', 'PHONE_NUMBER', 'WABA']);

    for (const [query, field] of [[{ PageSize: '0' }, 'PageSize'], [{ PageSize: '1001' }, 'PageSize'], [{ NextToken: 'd2F0Y2gvYQ' }, 'NextToken'], [{ NextToken: 'a b' }, 'NextToken']] as const) {
      const bad = await call(query);
      expect(bad.statusCode).toBe(400);
      expect(bad.body.Code).toBe('InvalidParameter');
      expect(JSON.stringify(bad.body)).toContain(field);
    }
  });

  it('GET /health-report/history: the node\'s transitions (BLOCKED → AVAILABLE) and today\'s worst state', async () => {
    const space = await onboardThroughFunctions('299399000501', [{ cc: '86', phone: '13800000501' }]);
    const target = { CustSpaceId: space, NodeType: 'phone' as const, PhoneNumber: '8613800000501' };
    const store = await openStore(firstUrl);
    let clock = Date.now();
    const sweep = () =>
      new HealthSweep({
        store,
        cams: sandboxClient(sandbox),
        sinks: [new RecordingSink()],
        policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 },
        envTargets: [target],
        concurrency: 5,
        deadline: Date.now() + 20_000,
        alertClock: () => clock,
      }).run();
    await sweep();
    await setHealth(sandbox, { ...target, CanSendMessage: 'BLOCKED', Errors: [{ ErrorCode: '141006', ErrorDescription: 'payment', PossibleSolution: 'Add a payment method' }] });
    clock += 60_000;
    await sweep();
    await setHealth(sandbox, { ...target, CanSendMessage: 'AVAILABLE' });
    clock += 60_000;
    await sweep();
    // An early warning about the same phone: a quality receipt, through cams-events as CAMS pushes it.
    await registerWatchTarget(store, target, 'test');
    const key = DEFAULT_SANDBOX_KEYS[0]!;
    const events = camsEventsHandler({ env: { STORE_URL: firstUrl, CAMS_ENDPOINT: sandbox.url, CAMS_RECEIPT_TOKEN: RECEIPT_TOKEN }, write: () => {} });
    const pushed = (await events(receiptPushEvent([{ Type: 'phoneQualityUpdate', WabaId: '299399000501', PhoneNumber: target.PhoneNumber, Status: 'YELLOW' }], RECEIPT_TOKEN), fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never)) as { statusCode: number };
    expect(pushed.statusCode).toBe(200);
    await store.close();

    const signed = signRouteRequest({ method: 'GET', path: '/health-report/history', query: target }, 'h', CALLER_KEY, { nonce: 'history-1' });
    const res = parseReply(await handler(httpEvent(signed, 'fc-http'), fcContext() as never));
    expect(res.statusCode).toBe(200);
    const nodes = res.body.Data!['Nodes'] as Array<{ EntityType: string; Transitions: Array<{ From: string; To: string; Errors: unknown[] }>; Days: Array<{ Worst: string }> }>;
    // The phone and its quality (the status page draws a bar for each): the node's whole story.
    expect(nodes.map((n) => n.EntityType).sort()).toEqual(['PHONE_NUMBER', 'PHONE_QUALITY']);
    const phone = nodes.find((n) => n.EntityType === 'PHONE_NUMBER')!;
    expect(phone.Transitions.map((t) => `${t.From}→${t.To}`)).toEqual(['AVAILABLE→BLOCKED', 'BLOCKED→AVAILABLE']);
    expect(phone.Days.at(-1)!.Worst).toBe('BLOCKED');
    expect(nodes.find((n) => n.EntityType === 'PHONE_QUALITY')!.Days.at(-1)!.Worst).toBe('LIMITED');

    const missing = signRouteRequest({ method: 'GET', path: '/health-report/history', query: { CustSpaceId: space, NodeType: 'phone' } }, 'h', CALLER_KEY, { nonce: 'history-2' });
    const bad = parseReply(await handler(httpEvent(missing, 'fc-http'), fcContext() as never));
    expect(bad.statusCode).toBe(400);
    expect(bad.body.Fields).toEqual([{ Field: 'PhoneNumber', Message: 'is required when NodeType is phone' }]);
  });

  it('refuses parameters and unsigned calls like every route', async () => {
    const signed = signRouteRequest({ method: 'GET', path: '/health-report', query: { x: '1' } }, 'h', CALLER_KEY);
    expect(parseReply(await handler(httpEvent(signed, 'fc-http'), fcContext() as never)).body.Code).toBe('InvalidParameter');
    delete signed.headers['Authorization'];
    expect(parseReply(await handler(httpEvent(signed, 'fc-http'), fcContext() as never)).statusCode).toBe(401);
  });
});
