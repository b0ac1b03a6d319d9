import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as z from '../../../shared/validation/schema.ts';
import { describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { InMemoryNonceRegistry } from '../../../shared/acs3/index.ts';
import { httpFunction } from '../../../shared/http-fn/http-function.ts';
import { fcContext, httpEvent, parseReply, type Trigger } from '../../support/events.ts';

const KEY = { accessKeyId: 'replay-key', accessKeySecret: 'replay-secret' };
const T0 = Date.parse('2026-03-01T12:00:00Z');
const MIN = 60_000;

describe.each<Trigger>(['fc-http', 'api-gateway'])('replay protection through the stack (%s event)', (trigger) => {
  it('a full replay cache refuses new requests with 503 System.NonceCacheFull and still refuses replays, until nonces expire', async () => {
    const clock = { t: T0 };
    const lines: string[] = [];
    const handler = httpFunction({
      name: 'probe',
      routes: [{ method: 'GET', path: '/probe' }],
      schema: z.strictObject({}),
      service: async () => ({ data: { ok: true } }),
      env: { API_KEYS: `${KEY.accessKeyId}:${KEY.accessKeySecret}` },
      write: (l) => lines.push(l),
      now: () => clock.t,
      nonces: new InMemoryNonceRegistry(2, () => clock.t),
    });
    const send = async (nonce: string, at = clock.t) => {
      const req = signRouteRequest({ method: 'GET', path: '/probe' }, 'fn.example', KEY, { date: new Date(at), nonce });
      return parseReply(await handler(httpEvent(req, trigger), fcContext() as never));
    };

    expect((await send('a')).statusCode).toBe(200);
    clock.t += MIN;
    expect((await send('b')).statusCode).toBe(200);
    const full = await send('c');
    expect(full).toMatchObject({ statusCode: 503, body: { Code: 'System.NonceCacheFull', Success: false } });
    expect(full.headers['retry-after']).toBe('1');
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ status: 503, code: 'System.NonceCacheFull', caller: null });
    // The captured first request is still known: a replay is a replay, not a fresh start.
    clock.t = T0 + 14 * MIN;
    expect((await send('a', T0)).body.Code).toBe('SignatureNonceUsed');
    expect((await send('a', T0)).statusCode).toBe(401);

    // Once "a" expires there is room again; "b" is still remembered.
    clock.t = T0 + 15 * MIN + 2000;
    expect((await send('c')).statusCode).toBe(200);
    expect((await send('b', T0 + MIN)).body.Code).toBe('SignatureNonceUsed');
  });
});

describe('replay across instances (two function instances sharing STORE_URL)', () => {
  const probe = (env: Record<string, string>) =>
    httpFunction({
      name: 'probe',
      routes: [{ method: 'GET', path: '/probe' }],
      schema: z.strictObject({}),
      service: async () => ({ data: { ok: true } }),
      env: { API_KEYS: `${KEY.accessKeyId}:${KEY.accessKeySecret}`, ...env },
      write: () => {},
    });
  const send = async (handler: ReturnType<typeof probe>, nonce: string) => {
    const req = signRouteRequest({ method: 'GET', path: '/probe' }, 'fn.example', KEY, { date: new Date(), nonce });
    return parseReply(await handler(httpEvent(req, 'fc-http'), fcContext() as never));
  };

  it('a request replayed to another instance is refused (file store shared by both)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'replay-'));
    try {
      const env = { STORE_URL: `file:${dir}` };
      const [a, b] = [probe(env), probe(env)];
      const nonce = randomUUID();
      expect((await send(a, nonce)).statusCode).toBe(200);
      const replay = await send(b, nonce);
      expect(replay).toMatchObject({ statusCode: 401, body: { Code: 'SignatureNonceUsed' } });
      // A fresh nonce still passes on either instance.
      expect((await send(b, randomUUID())).statusCode).toBe(200);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('without STORE_URL each instance only knows its own nonces (what the store adds)', async () => {
    const [a, b] = [probe({}), probe({})];
    const nonce = randomUUID();
    expect((await send(a, nonce)).statusCode).toBe(200);
    expect((await send(a, nonce)).statusCode).toBe(401);
    expect((await send(b, nonce)).statusCode).toBe(200);
  });
});
