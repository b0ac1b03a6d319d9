/**
 * The report that found it, end to end through the deployed handlers (watch-list, health-monitor,
 * health-report, status-page) and every sink: watch a phone, CAMS says BLOCKED, sweep, DELETE it
 * from the watch list, sweep twice. The node must leave /health-report and /status, and the alert
 * that fired must be closed out once on every sink, calmly. On the file store and on redis.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { fcContext, fixture, httpEvent, parseReply } from '../../support/events.ts';
import { onboardThroughFunctions, setHealth, tempFileStore } from '../../support/monitor.ts';
import { RECEIVER_KINDS, startReceivers, type Receivers } from '../../support/receivers/index.ts';
import { CALLER_KEY, sandboxControl, sandboxForFunctions } from '../../support/sandbox-env.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../../shared/store/redis-server.ts';

type Handler = (event: unknown, context?: never) => Promise<unknown>;
type HttpHandler = (event: unknown, context?: never) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;

const WABA_ID = '599399000700';
const PHONE = '8613800000001';
const redisBin = findOnPath('redis-server');
let redis: RedisServer | undefined;
let sandbox: RunningSandbox;
/** The file store: the onboarding helpers' functions keep the first STORE_URL they see, so it lives as long as the file. */
let fileStore: Awaited<ReturnType<typeof tempFileStore>>;
let n = 0;

beforeAll(async () => {
  sandbox = await sandboxForFunctions();
  fileStore = await tempFileStore();
  process.env['LOG_LEVEL'] = 'warn';
  process.env['STATUS_PAGE_PUBLIC'] = 'true';
});
afterAll(async () => {
  for (const k of ['LOG_LEVEL', 'STATUS_PAGE_PUBLIC', 'STORE_URL']) delete process.env[k];
  await sandbox?.close();
  await redis?.stop();
  await fileStore?.cleanup();
});

const kinds = ['file', ...(redisBin || process.env['CI'] === 'true' ? ['redis'] : [])];

describe.each(kinds)('a watched BLOCKED phone deleted from the watch list (%s store, deployed handlers)', (kind) => {
  let receivers: Receivers;
  let handlers: { watchList: HttpHandler; healthMonitor: Handler; healthReport: HttpHandler; statusPage: HttpHandler };

  beforeAll(async () => {
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    if (kind === 'file') {
      process.env['STORE_URL'] = fileStore.url;
    } else {
      redis ??= await startRedisServer(redisBin!);
      process.env['STORE_URL'] = `${redis.url}?namespace=removal-${process.pid}`;
    }
    receivers = await startReceivers();
    Object.assign(process.env, receivers.env);
    // Each function keeps its configuration (and store) for its instance's life: a fresh instance per store.
    vi.resetModules();
    handlers = {
      watchList: (await import('../../../functions/watch-list/handler.ts')).handler as HttpHandler,
      healthMonitor: (await import('../../../functions/health-monitor/handler.ts')).handler as Handler,
      healthReport: (await import('../../../functions/health-report/handler.ts')).handler as HttpHandler,
      statusPage: (await import('../../../functions/status-page/handler.ts')).handler as HttpHandler,
    };
  });
  afterAll(async () => {
    for (const k of Object.keys(receivers.env)) delete process.env[k];
    await receivers.close();
  });

  const signed = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
    httpEvent(signRouteRequest({ method, path, ...(body === undefined ? {} : { body }) }, 'h', CALLER_KEY, { nonce: `removal-${process.pid}-${++n}` }), 'fc-http');
  const tick = () => handlers.healthMonitor(Buffer.from(JSON.stringify(fixture('timer-event.json'))), fcContext() as never) as Promise<Record<string, unknown>>;
  async function report(): Promise<Array<Record<string, unknown>>> {
    const res = parseReply(await handlers.healthReport(signed('GET', '/health-report'), fcContext() as never));
    expect(res.statusCode).toBe(200);
    return (res.body.Data as { Nodes: Array<Record<string, unknown>> }).Nodes;
  }
  async function statusPage(): Promise<string> {
    const res = await handlers.statusPage(httpEvent({ method: 'GET', path: '/status', query: {}, headers: {}, body: '' } as never, 'fc-http'), fcContext() as never);
    expect(res.statusCode).toBe(200);
    return res.body;
  }
  const counts = () => Object.fromEntries(RECEIVER_KINDS.map((k) => [k, receivers.received[k].length]));
  const each = (c: number) => Object.fromEntries(RECEIVER_KINDS.map((k) => [k, c]));

  it('leaves /health-report and /status, and each sink is told once that it is no longer watched', async () => {
    const space = await onboardThroughFunctions(WABA_ID, [{ cc: '86', phone: '13800000001' }]);
    const target = { CustSpaceId: space, NodeType: 'phone', PhoneNumber: PHONE };
    expect(parseReply(await handlers.watchList(signed('POST', '/watch-list', { Targets: [target] }), fcContext() as never)).body.Data).toMatchObject({ Added: 1 });
    await setHealth(sandbox, { ...target, CanSendMessage: 'BLOCKED' });
    expect(await tick()).toMatchObject({ checked: 1, roundComplete: true });
    expect((await report()).find((x) => x['EntityType'] === 'PHONE_NUMBER')).toMatchObject({ CanSendMessage: 'BLOCKED', Firing: true });
    expect(await statusPage()).toContain('Open incidents (1)');
    expect(counts()).toEqual(each(1));

    expect(parseReply(await handlers.watchList(signed('DELETE', '/watch-list', { Targets: [target] }), fcContext() as never)).body.Data).toMatchObject({ Removed: 1 });
    await tick();
    await tick();

    expect(await report()).toEqual([]);
    const html = await statusPage();
    expect(html).not.toContain(PHONE);
    expect(html).toContain('Open incidents (0)');
    // One more message per sink, and it is the close-out: info, "no longer watched", not BLOCKED news.
    expect(counts()).toEqual(each(2));
    for (const k of RECEIVER_KINDS) {
      const text = receivers.received[k][1]!.text;
      expect(text.toLowerCase(), k).toContain('no longer watched');
      expect(text, k).toContain(PHONE);
      expect(text, k).toContain('INFO');
      expect(text, k).not.toContain('CRITICAL');
    }
    const item = (receivers.received.webhook[1]!.body as { items: Array<Record<string, unknown>> }).items[0];
    expect(item).toMatchObject({ reason: 'unwatched', status: 'RESOLVED', severity: 'info' });

    // Nothing more later.
    await tick();
    expect(counts()).toEqual(each(2));
  }, 60_000);
});
