import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { signWebhookBody, verifyWebhookSignature, WebhookSink } from '../../../../shared/alerts/sinks/webhook.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../../support/receivers/index.ts';
import { BLOCKED_ERROR, closedPort, deliveryError, notification } from './fixtures.ts';

let rx: WebhookReceiver | undefined;
afterEach(async () => {
  await rx?.close();
  rx = undefined;
});

describe('WebhookSink', () => {
  it('posts the notification signed (t=, v1=) with X-Alert-Id; the receiver verifies and records it', async () => {
    rx = await startWebhookReceiver();
    const n = notification();
    const at = Date.now();
    const sink = new WebhookSink(rx.url, rx.secret, { now: () => at });
    expect(sink.perMinute).toBe(60);
    await sink.send(n);
    const msg = rx.received[0]!;
    expect(msg.body).toEqual({ id: n.id, group: n.group, severity: n.severity, title: n.title, items: n.items, createdAt: n.createdAt });
    expect(msg.headers['x-alert-id']).toBe(n.id);
    const t = Math.floor(at / 1000);
    const v1 = createHmac('sha256', rx.secret).update(`${t}.${msg.raw}`).digest('hex');
    expect(msg.headers['x-signature']).toBe(`t=${t},v1=${v1}`);
    for (const s of [BLOCKED_ERROR.ErrorCode, BLOCKED_ERROR.ErrorDescription, BLOCKED_ERROR.PossibleSolution]) expect(msg.text).toContain(s);
  });

  it('a re-sent notification (same id) is acknowledged by the receiver without a second record', async () => {
    rx = await startWebhookReceiver();
    const sink = new WebhookSink(rx.url, rx.secret);
    await sink.send(notification());
    await sink.send(notification());
    expect(rx.received).toHaveLength(1);
    expect(rx.duplicates).toEqual([notification().id]);
  });

  it('a wrong secret gets 401: not retryable, and the secret is not in the message', async () => {
    rx = await startWebhookReceiver();
    const err = await deliveryError(new WebhookSink(rx.url, 'wrong-secret-value').send(notification()));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('401');
    expect(err.message).not.toContain('wrong-secret-value');
    expect(rx.received).toHaveLength(0);
  });

  it('a clock more than 5 minutes off is refused by the receiver', async () => {
    rx = await startWebhookReceiver();
    const err = await deliveryError(new WebhookSink(rx.url, rx.secret, { now: () => Date.now() - 6 * 60_000 }).send(notification()));
    expect(err.retryable).toBe(false);
  });

  it('5xx, 429 and network errors are retryable; other 4xx are not', async () => {
    rx = await startWebhookReceiver();
    const sink = new WebhookSink(rx.url, rx.secret);
    for (const [status, retryable] of [[500, true], [502, true], [429, true], [400, false], [404, false], [410, false]] as const) {
      rx.failNext(1, status);
      const err = await deliveryError(sink.send(notification()));
      expect([status, err.retryable]).toEqual([status, retryable]);
    }
    const port = await closedPort();
    expect((await deliveryError(new WebhookSink(`http://127.0.0.1:${port}/x`, 's').send(notification()))).retryable).toBe(true);
    rx.hangNext(1);
    const timeout = await deliveryError(new WebhookSink(rx.url, rx.secret, { timeoutMs: 150 }).send(notification()));
    expect(timeout.retryable).toBe(true);
  });

  it('a reply body too large to keep is still the receiver\'s answer: a 200 is delivered (not re-sent), a 503 retryable', async () => {
    // A receiver that echoes what it got, here with 100 KB more: more than a sink keeps of a reply.
    let status = 200;
    let hits = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits += 1;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ echo: 'x'.repeat(100_000) }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const sink = new WebhookSink(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, 'whsec-0001');
      await sink.send(notification());
      expect(hits).toBe(1);
      status = 503;
      const err = await deliveryError(sink.send(notification()));
      expect([err.retryable, err.message]).toEqual([true, expect.stringContaining('HTTP 503')]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('verifyWebhookSignature', () => {
  const secret = 'whsec-0001';
  const body = JSON.stringify({ id: 'a', items: [], text: 'héllo 号' });
  const now = 1_700_000_000;

  it('accepts the signature it makes, string or bytes', () => {
    const header = signWebhookBody(body, secret, now);
    expect(verifyWebhookSignature(body, header, secret, now)).toBe(true);
    expect(verifyWebhookSignature(Buffer.from(body), header, secret, now + 299)).toBe(true);
    expect(verifyWebhookSignature(body, ` ${header.replace(',', ' , ')} `, secret, now)).toBe(true);
  });

  it('rejects a t older than 5 minutes (or further ahead), or outside a custom tolerance', () => {
    const header = signWebhookBody(body, secret, now);
    expect(verifyWebhookSignature(body, header, secret, now + 301)).toBe(false);
    expect(verifyWebhookSignature(body, header, secret, now - 301)).toBe(false);
    expect(verifyWebhookSignature(body, header, secret, now + 61, 60)).toBe(false);
  });

  it('rejects a tampered body, a wrong secret, a changed t', () => {
    const header = signWebhookBody(body, secret, now);
    expect(verifyWebhookSignature(body.replace('héllo', 'hello'), header, secret, now)).toBe(false);
    expect(verifyWebhookSignature(body + ' ', header, secret, now)).toBe(false);
    expect(verifyWebhookSignature(body, header, 'whsec-0002', now)).toBe(false);
    expect(verifyWebhookSignature(body, header.replace(`t=${now}`, `t=${now + 1}`), secret, now)).toBe(false);
  });

  it('rejects malformed headers', () => {
    const v1 = signWebhookBody(body, secret, now).split(',')[1]!;
    for (const h of [undefined, null, '', 'garbage', `t=${now}`, v1, `t=abc,${v1}`, `t=${now},v1=zz`, `t=${now},t=${now},${v1}`, `t=${now},v1=${'0'.repeat(64)}`]) {
      expect([h, verifyWebhookSignature(body, h, secret, now)]).toEqual([h, false]);
    }
    expect(verifyWebhookSignature(body, signWebhookBody(body, secret, now), '', now)).toBe(false);
  });

  it('accepts any matching v1 among several (secret rotation)', () => {
    const good = signWebhookBody(body, secret, now).split(',')[1]!;
    expect(verifyWebhookSignature(body, `t=${now},v1=${'a'.repeat(64)},${good}`, secret, now)).toBe(true);
  });
});
