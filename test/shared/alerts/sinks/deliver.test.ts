/**
 * A chat API that answers with an error code the sink does not know is still judged by its HTTP
 * status: a 429 or 5xx is retryable and holds the sink for the Retry-After it gave; any other
 * status with an unknown code is a rejection. User info in a webhook URL is sent as Basic auth.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertSink } from '../../../../shared/alerts/model.ts';
import { DingTalkSink } from '../../../../shared/alerts/sinks/dingtalk.ts';
import { LarkSink } from '../../../../shared/alerts/sinks/lark.ts';
import { WebhookSink } from '../../../../shared/alerts/sinks/webhook.ts';
import { WeComSink } from '../../../../shared/alerts/sinks/wecom.ts';
import { cannedServer, deliveryError, notification } from './fixtures.ts';

const sinks: Array<[string, (origin: string) => AlertSink, (code: number) => unknown]> = [
  ['dingtalk', (o) => new DingTalkSink(`${o}/robot/send?access_token=abc`), (c) => ({ errcode: c, errmsg: 'busy' })],
  ['wecom', (o) => new WeComSink(`${o}/cgi-bin/webhook/send?key=11111111-2222-3333-4444-555555555555`), (c) => ({ errcode: c, errmsg: 'busy' })],
  ['lark', (o) => new LarkSink(`${o}/open-apis/bot/v2/hook/0123456789abcdef`), (c) => ({ code: c, msg: 'busy' })],
];

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe.each(sinks)('an unknown error code (%s)', (_name, make, body) => {
  it('with HTTP 429 or 503 and a Retry-After: retryable, held for that long', async () => {
    const server = await cannedServer({ status: 429, headers: { 'retry-after': '30' }, body: body(777001) });
    close = server.close;
    for (const status of [429, 503]) {
      server.state.reply = { ...server.state.reply, status };
      const err = await deliveryError(make(server.origin).send(notification()));
      expect([status, err.retryable, err.retryAfterMs]).toEqual([status, true, 30_000]);
      expect(err.message).toContain('777001');
    }
  });

  it('with HTTP 200 or 400: a rejection, no hold', async () => {
    const server = await cannedServer({ status: 200, body: body(777001) });
    close = server.close;
    for (const status of [200, 400]) {
      server.state.reply = { ...server.state.reply, status };
      const err = await deliveryError(make(server.origin).send(notification()));
      expect([status, err.retryable, err.retryAfterMs]).toEqual([status, false, undefined]);
    }
  });
});

describe('credentials in the webhook URL', () => {
  it('user:password in the URL is sent as HTTP Basic auth (as curl and node:http send it) and named in no error', async () => {
    const seen: Array<string | undefined> = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(req.headers['authorization']);
        res.writeHead(req.headers['authorization'] === `Basic ${Buffer.from('alerts:p@ss:wörd').toString('base64')}` ? 200 : 401);
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => new Promise<void>((r) => server.close(() => r()));
    const { port } = server.address() as AddressInfo;
    await new WebhookSink(`http://alerts:p%40ss%3Aw%C3%B6rd@127.0.0.1:${port}/hook`, 'whsec-0001').send(notification());
    expect(seen).toHaveLength(1);
    const err = await deliveryError(new WebhookSink(`http://alerts:wrongpass@127.0.0.1:${port}/hook`, 'whsec-0001').send(notification()));
    expect(err.message).toContain('401');
    expect(err.message).not.toContain('wrongpass');
    expect(err.message).not.toContain(Buffer.from('alerts:wrongpass').toString('base64'));
  });

  it('a receiver that echoes the request in its error reply does not hand the Basic credentials back into the message', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`auth=${req.headers['authorization']}`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => new Promise<void>((r) => server.close(() => r()));
    const { port } = server.address() as AddressInfo;
    const err = await deliveryError(new WebhookSink(`http://alerts:s3cret-pass@127.0.0.1:${port}/hook`, 'whsec-0001').send(notification()));
    expect(err.message).toContain('auth=Basic ***');
    expect(err.message).not.toContain(Buffer.from('alerts:s3cret-pass').toString('base64'));
  });
});
