import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../local/client/route-request.ts';
import type { RunningSandbox } from '../../local/sandbox/server.ts';
import { handler as addPhoneNumber } from '../../functions/add-phone-number/handler.ts';
import { handler as bindWaba } from '../../functions/bind-waba/handler.ts';
import { handler as getHealthStatus } from '../../functions/get-health-status/handler.ts';
import { handler as queryWaba } from '../../functions/query-waba/handler.ts';
import { fcContext, fixture } from '../support/events.ts';
import { CALLER_KEY, sandboxForFunctions } from '../support/sandbox-env.ts';

type Handler = (event: unknown, context?: never) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;
const RUNS = 5000;
const routes: Array<{ name: string; handler: Handler; method: string; path: string }> = [
  { name: 'bind-waba', handler: bindWaba as Handler, method: 'POST', path: '/waba/bind' },
  { name: 'query-waba', handler: queryWaba as Handler, method: 'GET', path: '/waba' },
  { name: 'add-phone-number', handler: addPhoneNumber as Handler, method: 'POST', path: '/phone-numbers' },
  { name: 'get-health-status', handler: getHealthStatus as Handler, method: 'GET', path: '/health-status' },
];

let sandbox: RunningSandbox;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);

beforeAll(async () => {
  sandbox = await sandboxForFunctions();
  process.env['LOG_LEVEL'] = 'silent';
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  delete process.env['LOG_LEVEL'];
  await sandbox?.close();
});

const text = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('', '{', '{"WabaId":', 'null', '[]', '"x"', '%zz', '%E0%A4%A', '\uFFFD\u0000', 'a=b&a=c', '=&=&', 'WabaId=1&WabaId=2'),
);
const huge = fc.constantFrom('x'.repeat(300 * 1024), '9'.repeat(70_000));
const weird = fc.oneof(fc.anything({ maxDepth: 2 }), text);
const params = fc.dictionary(
  fc.constantFrom('WabaId', 'CustSpaceId', 'Cc', 'PhoneNumber', 'VerifiedName', 'NodeType', 'TemplateCode', 'Language', 'IsvCode', '__proto__', 'constructor', 'x'),
  fc.oneof({ weight: 6, arbitrary: weird }, { weight: 1, arbitrary: huge }),
  { maxKeys: 6 },
);
const contentType = fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=latin1', '', 'multipart/form-data; boundary=x');

/** Events built around a route: garbage, broken FC shapes, and signed requests with bad contents. */
function malformedEvent(route: (typeof routes)[number]) {
  const garbage = fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    text.map((t) => Buffer.from(t)),
  );
  const brokenShape = fc
    .record({
      fields: fc.dictionary(
        fc.constantFrom('version', 'rawPath', 'path', 'httpMethod', 'headers', 'queryParameters', 'pathParameters', 'body', 'isBase64Encoded', 'requestContext'),
        weird,
        { maxKeys: 5 },
      ),
      base: fc.constantFrom('fc3-http-event.json', 'apigw-event.json'),
    })
    .map(({ fields, base }) => Buffer.from(JSON.stringify({ ...fixture(base), ...fields })));
  const signedBad = fc
    .record({
      p: params,
      ct: contentType,
      rawBody: fc.option(text, { nil: undefined }),
      dropHeader: fc.option(fc.constantFrom('authorization', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256', 'host', 'content-type'), { nil: undefined }),
      base64: fc.constantFrom(true, false, 'yes'),
      badBase64: fc.boolean(),
      trigger: fc.constantFrom('fc3-http-event.json', 'apigw-event.json'),
      inQuery: fc.boolean(),
    })
    .map((r) => {
      const isGet = route.method === 'GET';
      const query = isGet || r.inQuery ? Object.fromEntries(Object.entries(r.p).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v) ?? ''])) : {};
      const signed = signRouteRequest({ method: route.method, path: route.path, query, body: isGet || r.inQuery ? undefined : r.p }, 'fuzz.example', CALLER_KEY);
      let body = r.rawBody ?? signed.body;
      const headers: Record<string, unknown> = { ...signed.headers };
      if (r.ct) headers['content-type'] = r.ct;
      if (r.dropHeader) for (const k of Object.keys(headers)) if (k.toLowerCase() === r.dropHeader) delete headers[k];
      if (r.base64 === true) body = r.badBase64 ? '!!not base64!!' : Buffer.from(body).toString('base64');
      const e = fixture(r.trigger);
      const fields = r.trigger.startsWith('fc3')
        ? { rawPath: route.path, requestContext: { http: { method: route.method, path: route.path } } }
        : { path: route.path, httpMethod: route.method };
      return Buffer.from(JSON.stringify({ ...e, ...fields, headers, queryParameters: signed.query, body, isBase64Encoded: r.base64 }));
    });
  return fc.oneof(garbage, brokenShape, signedBad);
}

describe.each(routes)('fuzzing $name with malformed events', (route) => {
  it(`answers ${RUNS} malformed events with a client-error envelope, never a 5xx`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(malformedEvent(route), async (event) => {
        const res = await route.handler(event, fcContext() as never);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode).toBeLessThan(500);
        const body = JSON.parse(res.body) as Record<string, unknown>;
        expect(typeof body['RequestId']).toBe('string');
        expect(typeof body['Code']).toBe('string');
        expect(typeof body['Success']).toBe('boolean');
        if (res.statusCode >= 400) expect(body['Success']).toBe(false);
      }),
      { numRuns: RUNS },
    );
    expect(unhandled).toEqual([]);
    // The generator reached past decoding: auth and validation rejections both occurred.
    expect([...statuses.keys()].some((s) => s === 401 || s === 403)).toBe(true);
    expect(statuses.get(400)).toBeGreaterThan(0);
  });
});
