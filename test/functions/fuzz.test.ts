import { stringify as toFormString } from 'node:querystring';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../local/client/route-request.ts';
import { signAcs3Request } from '../../shared/acs3/index.ts';
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
  // Keys that reach Object's machinery, in JSON (at depth) and form bodies, and repeated form keys.
  fc.constantFrom(
    '{"__proto__":{"polluted":1}}',
    '{"WabaId":"1","constructor":{"prototype":{"polluted":1}}}',
    '{"Templates":[{"Name":"t","__proto__":{"polluted":1}}]}',
    '{"toString":"x","hasOwnProperty":1,"valueOf":null}',
    '__proto__=x&WabaId=1',
    'constructor=x&prototype=y',
    'WabaId=1&WabaId=1',
    'toString=1&valueOf=2',
  ),
);
const huge = fc.constantFrom('x'.repeat(300 * 1024), '9'.repeat(70_000));
const weird = fc.oneof(fc.anything({ maxDepth: 2 }), text);
const params = fc.dictionary(
  fc.constantFrom(
    ...['WabaId', 'CustSpaceId', 'Cc', 'PhoneNumber', 'VerifiedName', 'NodeType', 'TemplateCode', 'Language', 'IsvCode', 'x'],
    ...['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'],
  ),
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
      asForm: fc.boolean(),
    })
    .map((r) => {
      const isGet = route.method === 'GET';
      const query = isGet || r.inQuery ? Object.fromEntries(Object.entries(r.p).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v) ?? ''])) : {};
      const signed = signRouteRequest({ method: route.method, path: route.path, query, body: isGet || r.inQuery ? undefined : r.p }, 'fuzz.example', CALLER_KEY);
      let body = r.rawBody ?? (r.asForm && signed.body ? toFormString(JSON.parse(signed.body) as Record<string, string>) : signed.body);
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
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

const RESERVED = ['__proto__', 'constructor', 'prototype'] as const;

/** A correctly signed request carrying one reserved key, in the query, a form body or JSON at any depth. */
function hostileRequest(route: (typeof routes)[number]) {
  return fc
    .record({
      key: fc.constantFrom(...RESERVED),
      where: route.method === 'GET' ? fc.constant('query' as const) : fc.constantFrom('query' as const, 'form' as const, 'json' as const),
      path: fc.array(fc.constantFrom('Templates', 'Meta', '0', 'x'), { maxLength: 4 }),
      value: fc.oneof(fc.string({ maxLength: 10 }), fc.constant({ polluted: 1 })),
      other: fc.dictionary(fc.constantFrom('WabaId', 'CustSpaceId', 'Cc', 'PhoneNumber'), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
      trigger: fc.constantFrom('fc3-http-event.json', 'apigw-event.json'),
    })
    .map((r) => {
      let query: Record<string, string> = {};
      let body = '';
      let type = 'application/json';
      let field: string = r.key;
      if (r.where === 'query') query = Object.fromEntries([...Object.entries(r.other), [r.key, String(r.value)]]);
      else if (r.where === 'form') {
        type = 'application/x-www-form-urlencoded';
        body = `${toFormString(r.other)}&${encodeURIComponent(r.key)}=${encodeURIComponent(String(r.value))}`;
      } else {
        // JSON text, since a literal or JSON.stringify would not keep "__proto__" as a key.
        let inner = `{${JSON.stringify(r.key)}:${JSON.stringify(r.value)}}`;
        for (const seg of [...r.path].reverse()) inner = `{${JSON.stringify(seg)}:${inner}}`;
        body = r.path.length ? inner : `{${Object.entries(r.other).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)},`).join('')}${inner.slice(1)}`;
        field = [...r.path, r.key].join('.');
      }
      const headers = signAcs3Request(
        { method: route.method, path: route.path, query, headers: { host: 'fuzz.example', ...(body ? { 'content-type': type } : {}) }, body },
        CALLER_KEY,
      );
      const e = fixture(r.trigger);
      const fields = r.trigger.startsWith('fc3')
        ? { rawPath: route.path, requestContext: { http: { method: route.method, path: route.path } } }
        : { path: route.path, httpMethod: route.method };
      return { field, event: Buffer.from(JSON.stringify({ ...e, ...fields, headers, queryParameters: query, body, isBase64Encoded: false })) };
    });
}

describe.each(routes)('hostile keys against $name', (route) => {
  it('a signed request with __proto__, constructor or prototype anywhere is a 400 naming that field', async () => {
    await fc.assert(
      fc.asyncProperty(hostileRequest(route), async ({ field, event }) => {
        const res = await route.handler(event, fcContext() as never);
        const body = JSON.parse(res.body) as { Code: string; Fields?: Array<{ Field: string }> };
        expect([res.statusCode, body.Code, body.Fields?.[0]?.Field]).toEqual([400, 'InvalidParameter', field]);
      }),
      { numRuns: 300 },
    );
    expect(unhandled).toEqual([]);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});
