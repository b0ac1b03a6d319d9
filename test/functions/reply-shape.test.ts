/**
 * DESIGN.md, "Runtime contract": HTTP functions return `{statusCode, headers, body, isBase64Encoded}`.
 * FC's HTTP trigger and API Gateway read exactly these; every other test parses the reply and would
 * not notice one of them gone. Every function serverless.yml gives an HTTP event is called here,
 * through both event shapes, on a success, a refusal of its own and an unsigned (or tokenless) call.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { signRouteRequest, type RouteRequest } from '../../local/client/route-request.ts';
import { handler as addPhoneNumber } from '../../functions/add-phone-number/handler.ts';
import { handler as bindWaba } from '../../functions/bind-waba/handler.ts';
import { handler as camsEvents } from '../../functions/cams-events/handler.ts';
import { handler as getHealthStatus } from '../../functions/get-health-status/handler.ts';
import { handler as healthReport } from '../../functions/health-report/handler.ts';
import { handler as onboardingApi } from '../../functions/onboarding-api/handler.ts';
import { handler as queryWaba } from '../../functions/query-waba/handler.ts';
import { handler as silences } from '../../functions/silences/handler.ts';
import { handler as statusPage } from '../../functions/status-page/handler.ts';
import { handler as watchList } from '../../functions/watch-list/handler.ts';
import { fcContext, httpEvent, type Trigger } from '../support/events.ts';
import { sandboxAndStorePerFile } from '../support/monitor.ts';
import { CALLER_KEY } from '../support/sandbox-env.ts';

type Handler = (event: Buffer, context: never) => Promise<unknown>;
const RECEIPT_TOKEN = 'reply-shape-receipt-token-0001';
const STATUS_TOKEN = 'reply-shape-status-token-0001';
let n = 0;

sandboxAndStorePerFile(() => {});
beforeAll(() => {
  Object.assign(process.env, { CAMS_RECEIPT_TOKEN: RECEIPT_TOKEN, STATUS_PAGE_TOKEN: STATUS_TOKEN });
  return () => {
    delete process.env['CAMS_RECEIPT_TOKEN'];
    delete process.env['STATUS_PAGE_TOKEN'];
  };
});

interface Case {
  fn: string;
  handler: unknown;
  /** Signed with CALLER_KEY unless `unsigned`; status expected. */
  calls: Array<{ req: RouteRequest; status: number; unsigned?: boolean; headers?: Record<string, string> }>;
}

const ONBOARDING = 'ob-000000000000000000000000';
const CASES: Case[] = [
  { fn: 'bind-waba', handler: bindWaba, calls: [{ req: { method: 'POST', path: '/waba/bind', body: { WabaId: '700000000000001' } }, status: 200 }, { req: { method: 'POST', path: '/waba/bind', body: {} }, status: 400 }] },
  { fn: 'query-waba', handler: queryWaba, calls: [{ req: { method: 'GET', path: '/waba' }, status: 200 }, { req: { method: 'HEAD', path: '/waba' }, status: 200 }] },
  { fn: 'add-phone-number', handler: addPhoneNumber, calls: [{ req: { method: 'POST', path: '/phone-numbers', body: { Cc: '86' } }, status: 400 }] },
  { fn: 'get-health-status', handler: getHealthStatus, calls: [{ req: { method: 'GET', path: '/health-status', query: { CustSpaceId: 'C1' } }, status: 400 }] },
  { fn: 'health-report', handler: healthReport, calls: [{ req: { method: 'GET', path: '/health-report' }, status: 200 }, { req: { method: 'GET', path: '/health-report/history', query: { CustSpaceId: 'C1', NodeType: 'waba' } }, status: 200 }] },
  { fn: 'silences', handler: silences, calls: [{ req: { method: 'GET', path: '/silences' }, status: 200 }, { req: { method: 'DELETE', path: '/silences/sil-000000000000000000000000' }, status: 404 }] },
  { fn: 'onboarding-api', handler: onboardingApi, calls: [{ req: { method: 'GET', path: `/onboardings/${ONBOARDING}` }, status: 404 }] },
  { fn: 'watch-list', handler: watchList, calls: [{ req: { method: 'GET', path: '/watch-list' }, status: 200 }, { req: { method: 'PUT', path: '/watch-list' }, status: 405 }] },
  {
    fn: 'status-page',
    handler: statusPage,
    calls: [
      { req: { method: 'GET', path: '/status' }, status: 200, unsigned: true, headers: { authorization: `Bearer ${STATUS_TOKEN}` } },
      { req: { method: 'GET', path: '/status' }, status: 401, unsigned: true },
    ],
  },
  {
    fn: 'cams-events',
    handler: camsEvents,
    calls: [
      { req: { method: 'POST', path: '/cams/receipts', query: { token: RECEIPT_TOKEN }, body: [] }, status: 400, unsigned: true },
      { req: { method: 'POST', path: '/cams/receipts', query: { token: 'not-the-receipt-token' }, body: [] }, status: 403, unsigned: true },
    ],
  },
];

it('covers every function serverless.yml gives an HTTP event', () => {
  const sls = parse(readFileSync(new URL('../../serverless.yml', import.meta.url), 'utf8')) as { functions: Record<string, { events?: Array<Record<string, unknown>> }> };
  const http = Object.entries(sls.functions).filter(([, f]) => f.events?.some((e) => 'http' in e)).map(([name]) => name);
  expect(CASES.map((c) => c.fn).sort()).toEqual(http.sort());
});

describe.each<Trigger>(['fc-http', 'api-gateway'])('every HTTP function answers {statusCode, headers, body, isBase64Encoded} (%s event)', (trigger) => {
  it.each(CASES.map((c) => [c.fn, c] as const))('%s', async (_, c) => {
    const requests = [...c.calls];
    // Every signed route refuses an unsigned call in the same shape.
    if (c.calls.some((x) => !x.unsigned)) requests.push({ req: c.calls[0]!.req, status: 401, unsigned: true });
    for (const { req, status, unsigned, headers } of requests) {
      const signed = signRouteRequest(req, 'fn.example', CALLER_KEY, { nonce: `reply-shape-${process.pid}-${++n}` });
      if (unsigned) {
        for (const k of Object.keys(signed.headers)) if (k === 'Authorization' || k.startsWith('x-acs-')) delete signed.headers[k];
      }
      Object.assign(signed.headers, headers);
      const reply = (await (c.handler as Handler)(httpEvent(signed, trigger), fcContext() as never)) as Record<string, unknown>;
      const what = `${req.method} ${req.path}${unsigned ? ' (unsigned)' : ''}`;
      expect(Object.keys(reply).sort(), what).toEqual(['body', 'headers', 'isBase64Encoded', 'statusCode']);
      expect(reply, what).toMatchObject({ statusCode: status, isBase64Encoded: false, body: expect.any(String) });
      const replyHeaders = reply['headers'] as Record<string, unknown>;
      expect(Object.values(replyHeaders).every((v) => typeof v === 'string'), what).toBe(true);
      expect(replyHeaders['content-type'], what).toMatch(req.path === '/status' ? /^text\/html/ : /^application\/json/);
    }
  });
});
