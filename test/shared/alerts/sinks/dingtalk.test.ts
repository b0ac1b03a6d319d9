import { afterEach, describe, expect, it } from 'vitest';
import { DINGTALK_MAX_BYTES, DingTalkSink, dingTalkSign, signDingTalkUrl } from '../../../../shared/alerts/sinks/dingtalk.ts';
import { startDingTalkReceiver, type DingTalkReceiver } from '../../../support/receivers/index.ts';
import { BLOCKED_ERROR, CAMS_MARKDOWN, CAMS_MARKDOWN_SHOWN, cannedServer, closedPort, deliveryError, item, manyItems, notification } from './fixtures.ts';

let rx: DingTalkReceiver | undefined;
afterEach(async () => {
  await rx?.close();
  rx = undefined;
});

describe('DingTalkSink', () => {
  it('signs per DingTalk (timestamp ms + HMAC) and the robot accepts the markdown message', async () => {
    rx = await startDingTalkReceiver();
    const at = Date.now();
    await new DingTalkSink(rx.url, rx.secret!, { now: () => at }).send(notification());
    expect(rx.received).toHaveLength(1);
    const msg = rx.received[0]!;
    expect(msg.query['access_token']).toBe(rx.accessToken);
    expect(msg.query['timestamp']).toBe(String(at));
    expect(msg.query['sign']).toBe(dingTalkSign(rx.secret!, at));
    expect(msg.body).toMatchObject({ msgtype: 'markdown', markdown: { title: '[CRITICAL] WhatsApp health, WABA 299399: 1 firing' } });
    for (const s of ['ErrorCode', BLOCKED_ERROR.ErrorCode, 'ErrorDescription', BLOCKED_ERROR.ErrorDescription, 'PossibleSolution', BLOCKED_ERROR.PossibleSolution, 'BLOCKED', 'NEW', '2025-03-01T08:00:00.000Z']) {
      expect(msg.text).toContain(s);
    }
  });

  it('the title is the conversation-list preview, plain text: one line, no markdown escapes that would show', async () => {
    // DingTalk shows markdown.title as written in the chat list ("首屏会话透出的展示内容"); it renders
    // no markdown there, so a backslash or a full-width stand-in would show as it is.
    rx = await startDingTalkReceiver();
    await new DingTalkSink(rx.url, rx.secret!).send(notification(undefined, { title: '[CRITICAL] **VIP** <b>\n# WABA 299399_x' }));
    const title = (rx.received[0]!.body as { markdown: { title: string } }).markdown.title;
    expect(title).toBe('[CRITICAL] **VIP** <b> # WABA 299399_x');
  });

  it('markdown in CAMS text shows as written, not as formatting: bold, italic, strike, code, headings, quotes, lists, links, tags; a template code keeps its "_"', async () => {
    // DingTalk reads **bold**, *italic*, # headings, > quotes, - and 1. lists, [text](url) links (and,
    // like any markdown, may read _italic_ and ~~strike~~); it documents no escape.
    rx = await startDingTalkReceiver();
    await new DingTalkSink(rx.url, rx.secret!).send(notification([item({ node: 'phone **VIP**', errors: [{ ErrorCode: '`E1`', ErrorDescription: CAMS_MARKDOWN, PossibleSolution: '# heading' }] })]));
    const text = (rx.received[0]!.body as { markdown: { text: string } }).markdown.text;
    // Only our own markup is left: the bold reason-and-node line, the bold status, the code span of the ErrorCode.
    const ours = text.replaceAll(/\*\*(NEW · [^*\n]*|BLOCKED)\*\*/g, '').replaceAll(/ErrorCode: `[^`\n]*`/g, '');
    expect(ours.replace('order_update', '')).not.toMatch(/[*`<>_~]|\]\(/);
    expect(text).toContain('**NEW · phone ＊＊VIP＊＊**');
    expect(text).toContain('- ErrorCode: `｀E1｀`');
    expect(text).toContain(`- ErrorDescription: ${CAMS_MARKDOWN_SHOWN}`);
    // Every line starts with our own markup: CAMS text never begins one (where #, >, - and 1. are read).
    for (const line of text.split('\n').filter(Boolean)) expect(line).toMatch(/^(### |Severity: |\*\*NEW · |- )/);
  });

  it('the sign matches the documented recipe computed independently (HMAC-SHA256 keyed by the secret over "timestamp\\nsecret", base64, url-encoded)', () => {
    // https://open.dingtalk.com/document/group/custom-robot-access ("加签") gives the recipe, not a value; this one is from
    // printf '1700000000000\nSECsecret' | openssl dgst -sha256 -hmac SECsecret -binary | base64, and the docs' Python sample (quote_plus).
    expect(dingTalkSign('SECsecret', 1_700_000_000_000)).toBe('0QWYb8Ux63Sm4BhHaJNL3lv5mqW1sLFoks7vu+HFFi4=');
    expect(signDingTalkUrl('https://oapi.dingtalk.com/robot/send?access_token=abc', 'SECsecret', 1_700_000_000_000)).toBe(
      'https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000&sign=0QWYb8Ux63Sm4BhHaJNL3lv5mqW1sLFoks7vu%2BHFFi4%3D',
    );
  });

  it('url-encodes the signature (base64 "+", "/" and "=")', () => {
    // Find a timestamp whose signature has all three characters that need encoding.
    let ts = 1_700_000_000_000;
    while (!/[+/]/.test(dingTalkSign('s', ts))) ts += 1;
    const url = signDingTalkUrl('https://oapi.dingtalk.com/robot/send?access_token=abc', 's', ts);
    expect(url).toMatch(/&timestamp=\d{13}&sign=[A-Za-z0-9%]+$/);
    expect(url).not.toMatch(/sign=.*[+/=]/);
    expect(new URL(url).searchParams.get('sign')).toBe(dingTalkSign('s', ts));
  });

  it('a wrong secret is refused by the robot (310000) and surfaces as a non-retryable error without secrets', async () => {
    rx = await startDingTalkReceiver();
    const err = await deliveryError(new DingTalkSink(rx.url, 'SECwrong-secret').send(notification()));
    expect(err.retryable).toBe(false);
    expect(err.sink).toBe('dingtalk');
    expect(err.message).toContain('310000');
    expect(err.message).not.toContain(rx.accessToken);
    expect(err.message).not.toContain('SECwrong-secret');
    expect(rx.received).toHaveLength(0);
    expect(rx.rejected[0]!.reason).toBe('bad sign');
  });

  it('an unsigned sink is refused by a robot with signing on, and accepted by one without', async () => {
    rx = await startDingTalkReceiver();
    expect((await deliveryError(new DingTalkSink(rx.url).send(notification()))).retryable).toBe(false);
    await rx.close();
    rx = await startDingTalkReceiver({ secret: null });
    const sink = new DingTalkSink(rx.url);
    expect(sink.signed).toBe(false);
    await sink.send(notification());
    expect(rx.received).toHaveLength(1);
  });

  it('a timestamp more than 1 h off is refused', async () => {
    rx = await startDingTalkReceiver();
    const err = await deliveryError(new DingTalkSink(rx.url, rx.secret!, { now: () => Date.now() - 2 * 3_600_000 }).send(notification()));
    expect(err.retryable).toBe(false);
    expect(rx.rejected[0]!.reason).toMatch(/1 h/);
  });

  it('over 20 messages a minute the robot throttles (130101): retryable, retry after 10 minutes', async () => {
    rx = await startDingTalkReceiver({ throttlePerMinute: 20 });
    const sink = new DingTalkSink(rx.url, rx.secret!);
    expect(sink.perMinute).toBe(20);
    for (let i = 0; i < 20; i++) await sink.send(notification());
    const err = await deliveryError(sink.send(notification()));
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(10 * 60_000);
    expect(err.message).toContain('130101');
    expect(rx.received).toHaveLength(20);
  });

  it('the send API\'s own throttle code (410100) is the same throttle: retryable, retry after 10 minutes', async () => {
    // https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages lists 410100 "发送速度太快而限流".
    const server = await cannedServer({ status: 200, body: { errcode: 410100, errmsg: '发送速度太快而限流' } });
    try {
      const err = await deliveryError(new DingTalkSink(`${server.origin}/robot/send?access_token=dtTOKEN0123456789`, 'SECx').send(notification()));
      expect(err.retryable).toBe(true);
      expect(err.retryAfterMs).toBe(10 * 60_000);
      expect(err.message).toContain('410100');
      expect(err.message).not.toContain('dtTOKEN0123456789');
    } finally {
      await server.close();
    }
  });

  it('a webhook that reaches no robot (wrong access_token, robot disabled or gone, group dissolved) names ALERT_DINGTALK_WEBHOOK', async () => {
    rx = await startDingTalkReceiver();
    const wrong = await deliveryError(new DingTalkSink(rx.url.replace(rx.accessToken, 'dtWRONGTOKEN0123456789'), rx.secret!).send(notification()));
    expect(wrong.retryable).toBe(false);
    expect(wrong.message).toContain('300001');
    expect(wrong.message).toContain('ALERT_DINGTALK_WEBHOOK');
    expect(wrong.message).not.toContain('dtWRONGTOKEN0123456789');
    // https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages
    const server = await cannedServer({ status: 200, body: {} });
    try {
      for (const [errcode, errmsg] of [[400101, 'access_token不存在'], [400102, '机器人已停用'], [400106, '机器人不存在'], [400013, '群已被解散']] as const) {
        server.state.reply = { status: 200, body: { errcode, errmsg } };
        const err = await deliveryError(new DingTalkSink(`${server.origin}/robot/send?access_token=dtTOKEN0123456789`, 'SECx').send(notification()));
        expect([errcode, err.retryable]).toEqual([errcode, false]);
        expect(err.message).toContain(`errcode ${errcode}`);
        expect(err.message).toContain('check ALERT_DINGTALK_WEBHOOK');
        expect(err.message).not.toContain('dtTOKEN0123456789');
      }
    } finally {
      await server.close();
    }
  });

  it('HTTP 500 is retryable, and the next send goes through', async () => {
    rx = await startDingTalkReceiver();
    rx.failNext(1);
    const sink = new DingTalkSink(rx.url, rx.secret!);
    const err = await deliveryError(sink.send(notification()));
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('HTTP 500');
    expect(err.message).not.toContain(rx.accessToken);
    await sink.send(notification());
    expect(rx.received).toHaveLength(1);
  });

  it('a refused connection and a timeout are retryable and name no token', async () => {
    const port = await closedPort();
    const token = 'dtSECRETTOKEN0123456789';
    const refused = await deliveryError(new DingTalkSink(`http://127.0.0.1:${port}/robot/send?access_token=${token}`, 'SECx').send(notification()));
    expect(refused.retryable).toBe(true);
    expect(refused.message).toContain('ECONNREFUSED');
    expect(refused.message).not.toContain(token);

    rx = await startDingTalkReceiver();
    rx.hangNext(1);
    const started = Date.now();
    const timeout = await deliveryError(new DingTalkSink(rx.url, rx.secret!, { timeoutMs: 200 }).send(notification()));
    expect(Date.now() - started).toBeLessThan(3000);
    expect(timeout.retryable).toBe(true);
    expect(timeout.message).toMatch(/within 200 ms/);
    expect(timeout.message).not.toContain(rx.accessToken);
  });

  it('a large notification is cut by whole items to DingTalk\'s size and says how many are left out', async () => {
    rx = await startDingTalkReceiver();
    await new DingTalkSink(rx.url, rx.secret!).send(notification(manyItems(80)));
    const msg = rx.received[0]!;
    expect(Buffer.byteLength(msg.raw)).toBeLessThanOrEqual(DINGTALK_MAX_BYTES);
    const m = /… and (\d+) more/.exec(msg.text);
    expect(m).not.toBeNull();
    const shown = (msg.text.match(/ErrorCode:/g) ?? []).length;
    expect(shown + Number(m![1])).toBe(80);
  });

  it('many short items (lines JSON escapes as \\n) still fit: the whole request body is within 20000 bytes', async () => {
    rx = await startDingTalkReceiver();
    const items = Array.from({ length: 200 }, (_, i) => item({ fingerprint: `fp-${i}`, node: `phone 86138${String(i).padStart(8, '0')}`, errors: [] }));
    await new DingTalkSink(rx.url, rx.secret!).send(notification(items));
    const msg = rx.received[0]!;
    expect(Buffer.byteLength(msg.raw)).toBeLessThanOrEqual(DINGTALK_MAX_BYTES);
    const m = /… and (\d+) more/.exec(msg.text);
    expect((msg.text.match(/NEW · /g) ?? []).length + Number(m![1])).toBe(200);
  });
});
