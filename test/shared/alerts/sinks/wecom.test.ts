import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from '../../../../shared/http/request.ts';
import { WECOM_MAX_CONTENT_BYTES, WeComSink, weComBody } from '../../../../shared/alerts/sinks/wecom.ts';
import { startWeComReceiver, type WeComReceiver } from '../../../support/receivers/index.ts';
import { BLOCKED_ERROR, CAMS_MARKDOWN, CAMS_MARKDOWN_SHOWN, deliveryError, item, manyItems, notification } from './fixtures.ts';

let rx: WeComReceiver | undefined;
afterEach(async () => {
  await rx?.close();
  rx = undefined;
});

describe('WeComSink', () => {
  it('posts markdown the robot accepts, with every error field', async () => {
    rx = await startWeComReceiver();
    const sink = new WeComSink(rx.url);
    expect(sink.perMinute).toBe(20);
    await sink.send(notification());
    const msg = rx.received[0]!;
    expect(msg.body).toMatchObject({ msgtype: 'markdown' });
    for (const s of ['CRITICAL', 'WABA 299399', 'ErrorCode', BLOCKED_ERROR.ErrorCode, 'ErrorDescription', BLOCKED_ERROR.ErrorDescription, 'PossibleSolution', BLOCKED_ERROR.PossibleSolution, 'BLOCKED', 'NEW', '2025-03-01T08:00:00.000Z']) {
      expect(msg.text).toContain(s);
    }
  });

  it('half a character in CAMS text (a lone surrogate JSON can carry) is replaced, not a message the robot refuses every time', async () => {
    // https://work.weixin.qq.com/api/doc/90000/90136/91770: content "必须是utf8编码"; a lone surrogate has no UTF-8 form.
    rx = await startWeComReceiver();
    await new WeComSink(rx.url).send(notification([item({ node: 'phone \uDC00 8613800000000', errors: [{ ErrorCode: '131\uD800', ErrorDescription: 'cut \uD83D here', PossibleSolution: 'fine 🚫' }] })]));
    expect(rx.rejected).toEqual([]);
    const text = rx.received[0]!.text;
    for (const s of ['phone \uFFFD 8613800000000', '131\uFFFD', 'cut \uFFFD here', 'fine 🚫']) expect(text).toContain(s);
  });

  it('markdown in CAMS text shows as written, not as formatting: bold, code, headings, quotes, links, tags', async () => {
    // WeCom reads **bold**, `code`, # headings, > quotes, [text](url) links and <font color>; it documents no escape.
    rx = await startWeComReceiver();
    await new WeComSink(rx.url).send(notification([item({ node: 'phone **VIP**', errors: [{ ErrorCode: '`E1`', ErrorDescription: CAMS_MARKDOWN, PossibleSolution: '> quote' }] })]));
    const text = rx.received[0]!.text;
    // Only our own markup is left: the bold reason-and-node line, the coloured status, the code span of the ErrorCode.
    const ours = text
      .replaceAll(/\*\*NEW · [^*\n]*\*\*/g, '')
      .replace('<font color="warning">BLOCKED</font>', '')
      .replaceAll(/ErrorCode: `[^`\n]*`/g, '')
      .replaceAll(/^> /gm, '');
    expect(ours.replace('order_update', '')).not.toMatch(/[*`<>_~]|\]\(/);
    expect(text).toContain('**NEW · phone ＊＊VIP＊＊**');
    expect(text).toContain('> ErrorCode: `｀E1｀`');
    expect(text).toContain(`> ErrorDescription: ${CAMS_MARKDOWN_SHOWN}`);
    // Every line starts with our own markup: CAMS text never begins one (where # and > are read).
    for (const line of text.split('\n').filter(Boolean)) expect(line).toMatch(/^(### |Severity: |\*\*NEW · |> )/);
  });

  it('an ErrorCode shows in its code span as CAMS wrote it (markdown reads no *, _ or ~ there): only ` and <, > made safe', async () => {
    rx = await startWeComReceiver();
    await new WeComSink(rx.url).send(notification([item({ errors: [{ ErrorCode: '_Waba*Code~1_ `x` <@all>', ErrorDescription: 'd', PossibleSolution: 's' }] })]));
    // A backquote would end the span early, and whether WeCom reads a <@userid> mention inside one is not documented.
    expect(rx.received[0]!.text).toContain('> ErrorCode: `_Waba*Code~1_ ｀x｀ ＜@all＞`');
  });

  it('keeps content within 4096 BYTES of multi-byte text, cut between characters, with "… and N more"', async () => {
    rx = await startWeComReceiver();
    await new WeComSink(rx.url).send(notification(manyItems(30)));
    expect(rx.rejected).toEqual([]);
    const content = rx.received[0]!.text;
    const bytes = Buffer.byteLength(content);
    expect(bytes).toBeLessThanOrEqual(WECOM_MAX_CONTENT_BYTES);
    expect(bytes).toBeGreaterThan(WECOM_MAX_CONTENT_BYTES - 1200); // as much as fits, not a token message
    const m = /… and (\d+) more/.exec(content);
    expect((content.match(/ErrorCode:/g) ?? []).length + Number(m![1])).toBe(30);
  });

  it('one item too big on its own is cut on a character boundary and still delivered', async () => {
    rx = await startWeComReceiver();
    const emoji = '🚫号'.repeat(300);
    const huge = item({ errors: Array.from({ length: 5 }, (_, i) => ({ ErrorCode: `E${i}`, ErrorDescription: emoji, PossibleSolution: emoji })) });
    const content = weComBody(notification([huge, item()])).markdown.content;
    expect(Buffer.byteLength(content)).toBeLessThanOrEqual(WECOM_MAX_CONTENT_BYTES);
    expect(content).toContain('… and 1 more');
    await new WeComSink(rx.url).send(notification([huge, item()]));
    expect(rx.rejected).toEqual([]);
    expect(rx.received[0]!.text).toBe(content);
  });

  it('a cut inside our markup closes it: an ErrorCode cut at the limit keeps its closing backquote', async () => {
    // The head and the node fill most of the 4096 bytes, so the cut falls inside `ErrorCode: `…``: left
    // open, the backquote would make code of everything after it, "… and 1 more" included.
    rx = await startWeComReceiver();
    const wide = '🚫';
    const n = notification([item({ node: wide.repeat(560), errors: [{ ErrorCode: wide.repeat(80), ErrorDescription: 'd', PossibleSolution: 's' }] }), item()], {
      group: `space:${wide.repeat(190)}`,
      title: wide.repeat(150),
    });
    await new WeComSink(rx.url).send(n);
    expect(rx.rejected).toEqual([]);
    const content = rx.received[0]!.text;
    expect(Buffer.byteLength(content)).toBeLessThanOrEqual(WECOM_MAX_CONTENT_BYTES);
    expect(content).toMatch(new RegExp(`\\n> ErrorCode: \`(${wide})+…\`\\n\\n… and 1 more$`, 'u'));
  });

  it('the receiver really enforces the limit (content over 4096 bytes gets 40058)', async () => {
    rx = await startWeComReceiver();
    const res = await httpRequest(rx.url, { method: 'POST', body: JSON.stringify({ msgtype: 'markdown', markdown: { content: '号'.repeat(1366) } }) });
    expect(JSON.parse(res.body.toString())).toMatchObject({ errcode: 40058 });
  });

  it('a wrong key (93000) is not retryable and the key never appears in the message', async () => {
    rx = await startWeComReceiver();
    const wrong = rx.url.replace(rx.key, '11111111-2222-3333-4444-555555555555');
    const err = await deliveryError(new WeComSink(wrong).send(notification()));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('93000');
    expect(err.message).not.toContain('11111111-2222-3333-4444-555555555555');
    expect(err.message).not.toContain(rx.key);
  });

  it('the rate limit (45009) is retryable with a wait; HTTP 500 is retryable', async () => {
    rx = await startWeComReceiver({ throttlePerMinute: 1 });
    const sink = new WeComSink(rx.url);
    await sink.send(notification());
    const limited = await deliveryError(sink.send(notification()));
    expect(limited.retryable).toBe(true);
    expect(limited.retryAfterMs).toBeGreaterThan(0);
    expect(limited.message).toContain('45009');
    rx.failNext(1);
    const err = await deliveryError(sink.send(notification()));
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain(rx.key);
  });
});
