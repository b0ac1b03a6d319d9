import * as z from '../../../shared/validation/schema.ts';
import { describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { httpFunction } from '../../../shared/http-fn/http-function.ts';
import { fcContext, fixture, httpEvent, parseReply, type Trigger } from '../../support/events.ts';

const KEY = { accessKeyId: 'limit-key', accessKeySecret: 'limit-secret' };
const MAX = 1024;

function probe() {
  const handler = httpFunction({
    name: 'probe',
    routes: [{ method: 'POST', path: '/probe' }],
    schema: z.strictObject({ Name: z.string() }),
    service: async ({ params }) => ({ data: { length: Buffer.byteLength(params.Name) } }),
    env: { API_KEYS: `${KEY.accessKeyId}:${KEY.accessKeySecret}`, MAX_BODY_BYTES: String(MAX) },
    write: () => {},
  });
  return async (event: Buffer) => parseReply(await handler(event, fcContext() as never));
}

/** A signed JSON body of exactly `bytes` bytes, its name made of `unit`. */
function bodyOf(bytes: number, unit = 'a') {
  const frame = Buffer.byteLength('{"Name":""}');
  const unitBytes = Buffer.byteLength(unit);
  const fill = bytes - frame;
  const name = unit.repeat(Math.floor(fill / unitBytes)) + 'a'.repeat(fill % unitBytes);
  const req = signRouteRequest({ method: 'POST', path: '/probe', body: { Name: name } }, 'fn.example', KEY);
  expect(Buffer.byteLength(req.body)).toBe(bytes);
  return req;
}

describe.each<Trigger>(['fc-http', 'api-gateway'])('the body limit in the decoder (%s event)', (trigger) => {
  it('base64: accepts up to MAX_BODY_BYTES decoded and refuses one byte more, for every padding', async () => {
    const call = probe();
    for (const n of [MAX - 2, MAX - 1, MAX]) {
      const res = await call(httpEvent(bodyOf(n), trigger, { base64: true }));
      expect([n, res.statusCode]).toEqual([n, 200]);
    }
    for (const n of [MAX + 1, MAX + 2, MAX + 3]) {
      const res = await call(httpEvent(bodyOf(n), trigger, { base64: true }));
      expect([n, res.statusCode, res.body.Code]).toEqual([n, 413, 'RequestEntityTooLarge']);
    }
  });

  it('base64: an oversized body is refused from its length, before it is checked or decoded', async () => {
    const call = probe();
    const req = bodyOf(100);
    // Not base64 at all: a decoder that looked at the contents first would answer 400.
    const event = JSON.parse(httpEvent(req, trigger).toString()) as Record<string, unknown>;
    Object.assign(event, { body: '!'.repeat(Math.ceil(((MAX + 1) * 4) / 3)), isBase64Encoded: true });
    expect((await call(Buffer.from(JSON.stringify(event)))).body.Code).toBe('RequestEntityTooLarge');
    event['body'] = '!'.repeat(Math.floor((MAX * 4) / 3));
    expect((await call(Buffer.from(JSON.stringify(event)))).body.Code).toBe('InvalidEvent');
  });

  it('plain: measures bytes, not characters', async () => {
    const call = probe();
    const atLimit = bodyOf(MAX, 'é');
    expect(atLimit.body.length).toBeLessThan(MAX);
    expect(await call(httpEvent(atLimit, trigger))).toMatchObject({ statusCode: 200, body: { Data: { length: MAX - 11 } } });
    const over = bodyOf(MAX + 1, 'é');
    expect(over.body.length).toBeLessThan(MAX);
    expect((await call(httpEvent(over, trigger))).statusCode).toBe(413);
  });

  it('an invocation payload too large to hold an allowed body is refused before it is parsed', async () => {
    const call = probe();
    const base = fixture(trigger === 'fc-http' ? 'fc3-http-event.json' : 'apigw-event.json');
    // A 31 MB body as FC would pass it: refused with 413, not buffered into a 31 MB decode.
    const big = Buffer.from(JSON.stringify({ ...base, body: 'x'.repeat(31 * 1024 * 1024) }));
    expect((await call(big)).body).toMatchObject({ Code: 'RequestEntityTooLarge', Success: false });
    // Not even JSON: parsing first would have answered 400 InvalidEvent.
    const garbage = Buffer.alloc(6 * MAX + 1024 * 1024 + 1, 0x7b);
    expect((await call(garbage)).statusCode).toBe(413);
    expect((await call(Buffer.alloc(1000, 0x7b))).body.Code).toBe('InvalidEvent');
  });
});
