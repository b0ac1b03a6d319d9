import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LARK_MAX_BYTES, larkBody, LarkSink, larkSign } from '../../../../shared/alerts/sinks/lark.ts';
import { startLarkReceiver, type LarkReceiver } from '../../../support/receivers/index.ts';
import { BLOCKED_ERROR, cannedServer, deliveryError, item, manyItems, notification, RESOLVED } from './fixtures.ts';

let rx: LarkReceiver | undefined;
afterEach(async () => {
  await rx?.close();
  rx = undefined;
});

const FIELDS = ['ErrorCode', BLOCKED_ERROR.ErrorCode, 'ErrorDescription', BLOCKED_ERROR.ErrorDescription, 'PossibleSolution', BLOCKED_ERROR.PossibleSolution, 'BLOCKED', 'NEW'];

describe('LarkSink', () => {
  it('signs with a timestamp in seconds and the bot accepts the interactive card', async () => {
    rx = await startLarkReceiver();
    const at = Date.now();
    await new LarkSink(rx.url, rx.secret!, { now: () => at }).send(notification());
    expect(rx.received).toHaveLength(1);
    const body = rx.received[0]!.body as Record<string, unknown>;
    const ts = Math.floor(at / 1000);
    expect(body['timestamp']).toBe(String(ts));
    expect(body['sign']).toBe(larkSign(rx.secret!, ts));
    expect(body['msg_type']).toBe('interactive');
    expect(body['card']).toMatchObject({ header: { template: 'red', title: { tag: 'plain_text', content: '[CRITICAL] WhatsApp health, WABA 299399: 1 firing' } } });
    for (const s of FIELDS) expect(rx.received[0]!.text).toContain(s);
  });

  it('the sign is HMAC keyed by "timestamp\\nsecret" over an empty message', () => {
    // Reference value computed independently: echo -n "" | openssl dgst -sha256 -hmac $'1700000000\nsecret' -binary | base64
    expect(larkSign('secret', 1_700_000_000)).toBe('fiWS2+gh28DOydAv7hzONH/mDn9+b1Y4Y5ivXWXy8vA=');
  });

  it('can send plain text instead of a card', async () => {
    rx = await startLarkReceiver();
    await new LarkSink(rx.url, rx.secret!, { msgType: 'text' }).send(notification());
    expect(rx.received[0]!.body).toMatchObject({ msg_type: 'text' });
    for (const s of FIELDS) expect(rx.received[0]!.text).toContain(s);
  });

  it('in a text message, a mention tag in CAMS text mentions nobody (Lark text reads <at user_id="all"></at>)', () => {
    const evil = 'Fix it <at user_id="all">everyone</at> now <at id=all></at>';
    const n = notification([item({ node: 'phone <at user_id="all"></at>', errors: [{ ErrorCode: '<at id=all></at>', ErrorDescription: evil, PossibleSolution: evil }] })]);
    const body = larkBody(n, 'text') as { content: { text: string } };
    expect(body.content.text).not.toMatch(/<at\b/);
    expect(body.content.text).toContain('Fix it ＜at user_id="all"＞everyone＜/at＞ now');
  });

  it('in a text message, a [text](url) link or a style tag in CAMS text is shown, not acted on', () => {
    // Lark text messages read `[text](url)` as a link and <b>, <i>, <u>, <s> as styles.
    const evil = 'Rejected. [Fix it here](https://evil.example/login) <b>now</b>';
    const n = notification([item({ node: 'phone [x](https://evil.example)', errors: [{ ErrorCode: 'E', ErrorDescription: evil, PossibleSolution: '[docs](https://evil.example)' }] })]);
    const text = (larkBody(n, 'text') as { content: { text: string } }).content.text;
    expect(text).not.toMatch(/\]\(/);
    expect(text).not.toMatch(/<\/?b>/);
    expect(text).toContain('[Fix it here] (https://evil.example/login) ＜b＞now＜/b＞');
  });

  it('in a card, bold, italic, strike or code in CAMS text is shown as written, not as formatting', () => {
    const evil = '**URGENT** pay *now* ~~not~~ `here`';
    const n = notification([item({ node: `phone **${'VIP'}**`, errors: [{ ErrorCode: '`E1`', ErrorDescription: evil, PossibleSolution: '~~ok~~' }] })]);
    const card = larkBody(n) as { card: { elements: Array<{ text: { content: string } }> } };
    const content = card.card.elements[0]!.text.content;
    // Only our own markup is left: the bold reason-and-node line and the bold status.
    expect(content.replaceAll(/\*\*(NEW · [^*\n]*|BLOCKED)\*\*/g, '')).not.toMatch(/[*~`]/);
    expect(content).toContain('**NEW · phone &#42;&#42;VIP&#42;&#42;**');
    expect(content).toContain('&#42;&#42;URGENT&#42;&#42; pay &#42;now&#42; &#126;&#126;not&#126;&#126; &#96;here&#96;');
  });

  it('an emoji code in CAMS text (:OK:, :DONE:) shows as written, in a card and a text message; times and URLs keep their colons', async () => {
    // Lark shows :OK: as its own emoji; a zero-width space after the opening colon unmakes the code.
    const said = 'Fixed :OK: then :THUMBSUP::DONE: at 08:00:00, see https://x.example/a:b';
    const n = notification([item({ node: 'phone :Fire:', errors: [{ ErrorCode: ':E1:', ErrorDescription: said, PossibleSolution: 's' }] })]);
    for (const type of ['interactive', 'text'] as const) {
      rx = await startLarkReceiver();
      await new LarkSink(rx.url, rx.secret!, { msgType: type }).send(n);
      const text = rx.received[0]!.text;
      await rx.close();
      rx = undefined;
      expect(text, type).not.toMatch(/:[0-9_]*[A-Za-z][A-Za-z0-9_]*:/);
      expect(text, type).toContain('Fixed :\u200BOK: then :\u200BTHUMBSUP::\u200BDONE: at 08:00:00, see https://x.example/a:b');
      expect(text, type).toContain('phone :\u200BFire:');
      // Our own times are untouched.
      expect(text, type).toContain('2025-03-01T08:00:00.000Z');
    }
  });

  it('accepts the older {"StatusCode":0} success reply', async () => {
    rx = await startLarkReceiver({ legacyReply: true });
    await new LarkSink(rx.url, rx.secret!).send(notification());
    expect(rx.received).toHaveLength(1);
  });

  it('a wrong secret or a millisecond timestamp gets 19021: not retryable, no secrets in the message', async () => {
    rx = await startLarkReceiver();
    const err = await deliveryError(new LarkSink(rx.url, 'not-the-secret').send(notification()));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('19021');
    expect(err.message).not.toContain('not-the-secret');
    expect(err.message).not.toContain(rx.hookId);
    expect(rx.received).toHaveLength(0);

    const stale = await deliveryError(new LarkSink(rx.url, rx.secret!, { now: () => Date.now() - 2 * 3_600_000 }).send(notification()));
    expect(stale.retryable).toBe(false);
    expect(rx.rejected.at(-1)!.reason).toMatch(/1 h/);
  });

  it('a missing keyword (19024) or an IP outside the allow-list (19022) names the setting to check, not retryable', async () => {
    // https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot: "Key Words Not Found", "Ip Not Allowed".
    const server = await cannedServer({ status: 200, body: { code: 19024, msg: 'Key Words Not Found' } });
    try {
      const hook = `${server.origin}/open-apis/bot/v2/hook/0f3a2b7c-1d4e-4f5a-9b8c-7d6e5f4a3b2c`;
      for (const [code, msg] of [[19024, 'Key Words Not Found'], [19022, 'Ip Not Allowed']] as const) {
        server.state.reply = { status: 200, body: { code, msg } };
        const err = await deliveryError(new LarkSink(hook, 'lark-secret-0001').send(notification()));
        expect(err.retryable).toBe(false);
        expect(err.message).toContain(String(code));
        expect(err.message).toMatch(/security settings.*keywords and IP allow-list/);
        expect(err.message).not.toContain('0f3a2b7c-1d4e-4f5a-9b8c-7d6e5f4a3b2c');
        expect(err.message).not.toContain('lark-secret-0001');
      }
    } finally {
      await server.close();
    }
  });

  it('the frequency limit (11232) is retryable with a wait', async () => {
    rx = await startLarkReceiver({ throttlePerMinute: 2 });
    const sink = new LarkSink(rx.url, rx.secret!);
    expect(sink.perMinute).toBe(100);
    await sink.send(notification());
    await sink.send(notification());
    const err = await deliveryError(sink.send(notification()));
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(err.message).toContain('11232');
  });

  it('the open platform gateway\'s limit (99991400, HTTP 429 or 400) is retryable, waiting its x-ogw-ratelimit-reset', async () => {
    // Feishu's rate-limit page: the gateway answers 429 (older APIs 400) with code 99991400 and says
    // when to come back in x-ogw-ratelimit-reset (seconds), not in Retry-After.
    let status = 400;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-ogw-ratelimit-limit': '100', 'x-ogw-ratelimit-reset': '52' });
        res.end(JSON.stringify({ code: 99991400, msg: 'request trigger frequency limit' }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const sink = new LarkSink(`http://127.0.0.1:${(server.address() as AddressInfo).port}/open-apis/bot/v2/hook/0123456789abcdef`);
      for (const s of [400, 429]) {
        status = s;
        const err = await deliveryError(sink.send(notification()));
        expect([s, err.retryable, err.retryAfterMs]).toEqual([s, true, 52_000]);
      }
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('HTTP 500 is retryable', async () => {
    rx = await startLarkReceiver();
    rx.failNext(2);
    const sink = new LarkSink(rx.url, rx.secret!);
    expect((await deliveryError(sink.send(notification()))).retryable).toBe(true);
    expect((await deliveryError(sink.send(notification()))).retryable).toBe(true);
    await sink.send(notification());
    expect(rx.received).toHaveLength(1);
  });

  it('keeps the whole body within 20 KB by dropping items ("… and N more"), card and text alike', async () => {
    rx = await startLarkReceiver();
    for (const msgType of ['interactive', 'text'] as const) {
      await new LarkSink(rx.url, rx.secret!, { msgType }).send(notification(manyItems(120)));
      const msg = rx.received.at(-1)!;
      expect(Buffer.byteLength(msg.raw)).toBeLessThanOrEqual(LARK_MAX_BYTES);
      expect(Buffer.byteLength(msg.raw)).toBeGreaterThan(LARK_MAX_BYTES * 0.8); // filled, not emptied
      const m = /… and (\d+) more/.exec(msg.text);
      expect(m).not.toBeNull();
      expect((msg.text.match(/ErrorCode/g) ?? []).length + Number(m![1])).toBe(120);
    }
    expect(rx.rejected).toHaveLength(0);
  });

  it('an all-resolved notification is a green card', async () => {
    rx = await startLarkReceiver({ secret: null });
    await new LarkSink(rx.url).send(notification([RESOLVED], { severity: 'info', title: '[INFO] WhatsApp health, WABA 299399: 1 resolved' }));
    expect(rx.received[0]!.body).toMatchObject({ card: { header: { template: 'green' } } });
    expect(rx.received[0]!.body).not.toHaveProperty('sign');
    expect(rx.received[0]!.text).toContain('RESOLVED');
  });
});
