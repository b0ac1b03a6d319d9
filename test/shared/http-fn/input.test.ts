import * as z from '../../../shared/validation/schema.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { signAcs3Request } from '../../../shared/acs3/index.ts';
import { canonicalRequest, hmacSha256Hex, sha256Hex, stringToSign } from '../../../shared/acs3/canonical.ts';
import { joinedQuery } from '../../../local/host/http-trigger.ts';
import { httpFunction } from '../../../shared/http-fn/http-function.ts';
import type { SignedRouteRequest } from '../../../local/client/route-request.ts';
import { fcContext, httpEvent, parseReply, type Trigger } from '../../support/events.ts';

const KEY = { accessKeyId: 'input-key', accessKeySecret: 'input-secret' };
const env = { API_KEYS: `${KEY.accessKeyId}:${KEY.accessKeySecret}` };
const RESERVED = ['__proto__', 'constructor', 'prototype'] as const;
const FORM = 'application/x-www-form-urlencoded';

/** The real stack around a probe service that records the params it was given. */
function probe() {
  const seen: unknown[] = [];
  const handler = httpFunction({
    name: 'probe',
    routes: [
      { method: 'POST', path: '/probe' },
      { method: 'GET', path: '/probe' },
    ],
    schema: z.strictObject({ WabaId: z.optional(z.string()), Name: z.optional(z.string()), Templates: z.optional(z.unknown()) }),
    service: async ({ params }) => {
      seen.push(params);
      return { data: { ok: true } };
    },
    env,
    write: () => {},
  });
  return { seen, call: async (event: Buffer) => parseReply(await handler(event, fcContext() as never)) };
}

/** Signs any query, body and content type with the real signer, as a caller would. */
function signed(opts: { method?: string; query?: Record<string, string>; body?: string; type?: string; extraHeaders?: Record<string, string> }): SignedRouteRequest {
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
  const query = opts.query ?? {};
  const body = opts.body ?? '';
  const base: Record<string, string> = { host: 'fn.example', ...opts.extraHeaders };
  if (body) base['content-type'] = opts.type ?? 'application/json';
  const headers = signAcs3Request({ method, path: '/probe', query, headers: base, body }, KEY);
  return { method, path: '/probe', query, headers, body, url: '/probe' };
}

/** A query map holding key as an own property, whatever its name. */
const queryWith = (pairs: Array<[string, string]>) => Object.fromEntries(pairs) as Record<string, string>;

afterAll(() => {
  // Nothing above may have reached Object.prototype.
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
});

describe.each<Trigger>(['fc-http', 'api-gateway'])('hostile and repeated keys, signed, through the %s event', (trigger) => {
  const expectRefused = (res: ReturnType<typeof parseReply>, field: string, why: string) => {
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatchObject({ Code: 'InvalidParameter', Success: false, Fields: [{ Field: field, Message: expect.stringContaining(why) }] });
    expect(res.body.Message).toContain(field);
  };

  it('control: the same routes accept JSON, form and query params', async () => {
    const { call, seen } = probe();
    expect((await call(httpEvent(signed({ body: '{"WabaId":"1","Templates":[{"a":1}]}' }), trigger))).statusCode).toBe(200);
    expect((await call(httpEvent(signed({ body: 'WabaId=2&Name=x', type: FORM }), trigger))).statusCode).toBe(200);
    expect((await call(httpEvent(signed({ query: { WabaId: '3' } }), trigger))).statusCode).toBe(200);
    expect(seen).toEqual([{ WabaId: '1', Templates: [{ a: 1 }] }, { WabaId: '2', Name: 'x' }, { WabaId: '3' }]);
  });

  it('a body that is not JSON, or JSON but not an object, is refused with (body) in Fields, as every problem names its field', async () => {
    const { call, seen } = probe();
    expectRefused(await call(httpEvent(signed({ body: '{"WabaId":' }), trigger)), '(body)', 'is not valid JSON');
    for (const body of ['[{"WabaId":"1"}]', 'null', '"1"']) expectRefused(await call(httpEvent(signed({ body }), trigger)), '(body)', 'must be a JSON object of parameters');
    expect(seen).toEqual([]);
  });

  it('a JSON body with a leading byte order mark is read as its JSON (the signature covers the bytes as sent)', async () => {
    const { call, seen } = probe();
    expect((await call(httpEvent(signed({ body: '\uFEFF{"WabaId":"7"}' }), trigger))).statusCode).toBe(200);
    expect(seen).toEqual([{ WabaId: '7' }]);
  });

  it('a body whose bytes are not UTF-8 is refused naming (body), and a form escape that is not UTF-8 naming its field: neither is read with U+FFFD in its place', async () => {
    const { call, seen } = probe();
    // Bytes go as FC hands over a body that is not text: base64.
    const bytesEvent = (body: Buffer, type: string) => {
      const headers = signAcs3Request({ method: 'POST', path: '/probe', query: {}, headers: { host: 'fn.example', 'content-type': type }, body }, KEY);
      const e = JSON.parse(httpEvent({ method: 'POST', path: '/probe', query: {}, headers, body: '', url: '/probe' }, trigger).toString()) as Record<string, unknown>;
      return Buffer.from(JSON.stringify({ ...e, body: body.toString('base64'), isBase64Encoded: true }));
    };
    // `Café` in Latin-1 (0xE9), in a JSON body and in a form body's raw bytes.
    const latin1 = (text: string) => Buffer.from(text, 'latin1');
    expectRefused(await call(bytesEvent(latin1('{"Name":"Caf\u00e9"}'), 'application/json')), '(body)', 'not valid UTF-8');
    expectRefused(await call(bytesEvent(latin1('Name=Caf\u00e9'), FORM)), '(body)', 'not valid UTF-8');
    // Percent-escaped Latin-1 in a form value, and in a form name.
    expectRefused(await call(httpEvent(signed({ body: 'WabaId=1&Name=Caf%E9', type: FORM }), trigger)), 'Name', 'not valid UTF-8');
    expectRefused(await call(httpEvent(signed({ body: 'WabaId=1&N%E9=x', type: FORM }), trigger)), 'N\uFFFD', 'not valid UTF-8');
    expect(seen).toEqual([]);
    // Control: UTF-8 as bytes and as escapes, a U+FFFD sent as such, and a stray `%`, as URLSearchParams reads them.
    expect((await call(bytesEvent(Buffer.from('{"Name":"Caf\u00e9"}'), 'application/json'))).statusCode).toBe(200);
    expect((await call(httpEvent(signed({ body: 'Name=Caf%C3%A9+%EF%BF%BD%zz%', type: FORM }), trigger))).statusCode).toBe(200);
    expect((await call(httpEvent(signed({ body: 'Name=\uFFFD&WabaId=1%2', type: FORM }), trigger))).statusCode).toBe(200);
    expect(seen).toEqual([{ Name: 'Caf\u00e9' }, { Name: 'Caf\u00e9 \uFFFD%zz%' }, { Name: '\uFFFD', WabaId: '1%2' }]);
  });

  it('a query escape that is not UTF-8 is refused naming its key, not answered 403: the signature over the bytes sent cannot hold once they are decoded', async () => {
    const { call, seen } = probe();
    // Signed over the query as sent (the canonical query of one key is its pair as sent); the event
    // carries what the local host's decoder, as FC's, makes of it.
    const rawSigned = (rawQuery: string) => {
      const headers = signAcs3Request({ method: 'GET', path: '/probe', query: {}, headers: { host: 'fn.example' } }, KEY);
      const signedHeaders = ['host', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce'];
      const canonical = canonicalRequest({ method: 'GET', path: '/probe', query: undefined, canonicalQuery: rawQuery, headers, signedHeaders, hashedPayload: sha256Hex('') });
      headers['Authorization'] = `ACS3-HMAC-SHA256 Credential=${KEY.accessKeyId},SignedHeaders=${signedHeaders.join(';')},Signature=${hmacSha256Hex(KEY.accessKeySecret, stringToSign(canonical))}`;
      return httpEvent({ method: 'GET', path: '/probe', query: joinedQuery(rawQuery), headers, body: '', url: `/probe?${rawQuery}` }, trigger);
    };
    expectRefused(await call(rawSigned('Name=Caf%E9')), 'Name', 'not valid UTF-8');
    expectRefused(await call(rawSigned('N%E9=x')), 'N\uFFFD', 'not valid UTF-8');
    expect(seen).toEqual([]);
    // Control: the same, its escapes UTF-8, passes the same signature check.
    expect((await call(rawSigned('Name=Caf%C3%A9'))).statusCode).toBe(200);
    expect(seen).toEqual([{ Name: 'Caf\u00e9' }]);
  });

  it.each(RESERVED)('refuses %s by name as a top-level JSON key', async (key) => {
    const { call, seen } = probe();
    expectRefused(await call(httpEvent(signed({ body: `{"WabaId":"1","${key}":{"polluted":true}}` }), trigger)), key, 'reserved name');
    expect(seen).toEqual([]);
  });

  it.each(RESERVED)('refuses %s by name deep inside a JSON value, with its path', async (key) => {
    const { call } = probe();
    const body = `{"Templates":[{"Name":"t"},{"Name":"u","Meta":{"${key}":{"polluted":true}}}]}`;
    expectRefused(await call(httpEvent(signed({ body }), trigger)), `Templates.1.Meta.${key}`, 'reserved name');
  });

  it.each(RESERVED)('refuses %s by name as a form key', async (key) => {
    const { call } = probe();
    expectRefused(await call(httpEvent(signed({ body: `WabaId=1&${key}=x`, type: FORM }), trigger)), key, 'reserved name');
  });

  it.each(RESERVED)('refuses %s by name as a query key (the signature holds: the key is not mangled)', async (key) => {
    const { call } = probe();
    expectRefused(await call(httpEvent(signed({ query: queryWith([['WabaId', '1'], [key, 'x']]) }), trigger)), key, 'reserved name');
  });

  it('refuses a repeated form key by name instead of binding the last value', async () => {
    const { call, seen } = probe();
    expectRefused(await call(httpEvent(signed({ body: 'WabaId=1&Name=a&WabaId=2', type: FORM }), trigger)), 'WabaId', 'more than once');
    // Even the same value twice: one key, one value.
    expectRefused(await call(httpEvent(signed({ body: 'Name=a&Name=a', type: FORM }), trigger)), 'Name', 'more than once');
    expect(seen).toEqual([]);
  });

  it('refuses a key repeated in one JSON object by its path instead of binding the last value', async () => {
    const { call, seen } = probe();
    expectRefused(await call(httpEvent(signed({ body: '{"WabaId":"1","Name":"a","WabaId":"2"}' }), trigger)), 'WabaId', 'more than once');
    // Spelled differently, the same key once decoded.
    expectRefused(await call(httpEvent(signed({ body: '{"Name":"a","N\\u0061me":"a"}' }), trigger)), 'Name', 'more than once');
    const nested = '{"Templates":[{"Name":"t","Meta":{"a":1}},{"Name":"u","Meta":{"a":[1,{"a":2}],"b":"a,\\"a\\":{","a":3}}]}';
    expectRefused(await call(httpEvent(signed({ body: nested }), trigger)), 'Templates.1.Meta.a', 'more than once');
    expect(seen).toEqual([]);
    // Control: the same key in sibling objects, in values and in strings is not a repeat.
    const siblings = '{"WabaId":"1","Templates":[{"Name":"WabaId","x":{"Name":1}},{"Name":"{\\"Name\\":1,"},{}],"Name":"[{"}';
    expect((await call(httpEvent(signed({ body: siblings }), trigger))).statusCode).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('control: other Object member names stay plain keys in the query and the headers', async () => {
    const { call, seen } = probe();
    // Not parameters of the probe: refused by the schema, by name, after the signature held.
    const toString = await call(httpEvent(signed({ query: queryWith([['toString', 'x'], ['hasOwnProperty', 'y']]) }), trigger));
    expect(toString.statusCode).toBe(400);
    expect(toString.body['Fields']).toEqual(
      expect.arrayContaining([expect.objectContaining({ Field: 'toString' }), expect.objectContaining({ Field: 'hasOwnProperty' })]),
    );
    const withHeaders = signed({ query: { WabaId: '7' }, extraHeaders: { constructor: 'c', 'x-acs-valueof': 'v' } });
    expect((await call(httpEvent(withHeaders, trigger))).statusCode).toBe(200);
    expect(seen).toEqual([{ WabaId: '7' }]);
  });
});
