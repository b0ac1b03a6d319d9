import { afterEach, describe, expect, it } from 'vitest';
import { SLACK_MAX_BLOCKS, SlackSink } from '../../../../shared/alerts/sinks/slack.ts';
import { startSlackReceiver, type SlackReceiver } from '../../../support/receivers/index.ts';
import { BLOCKED_ERROR, CAMS_MARKDOWN, deliveryError, item, manyItems, notification } from './fixtures.ts';

let rx: SlackReceiver | undefined;
afterEach(async () => {
  await rx?.close();
  rx = undefined;
});

const TOKEN = 's3cr3tSlackWebhookToken42';

describe('SlackSink', () => {
  it('posts text and blocks; Slack answers ok', async () => {
    rx = await startSlackReceiver({ hookPath: `T0TESTTEAM/B0TESTHOOK/${TOKEN}` });
    const sink = new SlackSink(rx.url);
    expect(sink.perMinute).toBe(60);
    await sink.send(notification());
    const body = rx.received[0]!.body as { text: string; blocks: Array<Record<string, unknown>> };
    expect(body.text).toContain('CRITICAL');
    expect(body.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text', text: '[CRITICAL] WhatsApp health, WABA 299399: 1 firing' } });
    for (const s of ['ErrorCode', BLOCKED_ERROR.ErrorCode, 'ErrorDescription', BLOCKED_ERROR.ErrorDescription, 'PossibleSolution', BLOCKED_ERROR.PossibleSolution, 'BLOCKED', 'NEW']) {
      expect(JSON.stringify(body.blocks)).toContain(s);
    }
  });

  it('"@channel" or "@here" in CAMS text notifies nobody: every mrkdwn text object is verbatim', async () => {
    // https://docs.slack.dev/reference/block-kit/composition-objects/text-object: without verbatim,
    // "certain mentions will be automatically parsed" in a mrkdwn text's plain text.
    rx = await startSlackReceiver();
    const evil = 'Ask @channel and @here in #general';
    await new SlackSink(rx.url).send(notification([item({ node: 'phone @everyone', errors: [{ ErrorCode: '@here', ErrorDescription: evil, PossibleSolution: evil }] }), item({ fingerprint: 'fp-2' })], { group: 'space:@channel' }));
    const body = rx.received[0]!.body as { blocks: Array<{ type: string; text?: Record<string, unknown>; elements?: Array<Record<string, unknown>> }> };
    const objects = body.blocks.flatMap((b) => [...(b.text ? [b.text] : []), ...(b.elements ?? [])]).filter((o) => o['type'] === 'mrkdwn');
    expect(objects.length).toBeGreaterThanOrEqual(3); // the context line and both items
    for (const o of objects) expect(o, String(o['text'])).toMatchObject({ verbatim: true });
    // The words are still all there.
    expect(rx.received[0]!.text).toContain(evil);
    expect(rx.received[0]!.text).toContain('phone @everyone');
  });

  it('markdown in CAMS text shows as written, not as formatting: bold, italic, strike, code; a template code keeps its "_"', async () => {
    // Slack mrkdwn reads *bold*, _italic_, ~strike~ and `code`, and documents escapes only for &, < and >.
    rx = await startSlackReceiver();
    const title = '*Phone* _blocked_ ~now~ `x`';
    await new SlackSink(rx.url).send(notification([item({ node: 'phone *VIP* _ops_', errors: [{ ErrorCode: 'order_update', ErrorDescription: CAMS_MARKDOWN, PossibleSolution: '`fix` __it__' }] })], { title }));
    const body = rx.received[0]!.body as { text: string; blocks: Array<{ type: string; text?: { text: string }; elements?: Array<{ text: string }> }> };
    // The header is plain_text: shown as written, no markup read.
    expect(body.blocks[0]!.text!.text).toBe(`[CRITICAL] ${title} (WABA 299399)`);
    const section = body.blocks.find((b) => b.type === 'section')!.text!.text;
    const shown = '＊＊URGENT＊＊ pay ＊now＊ ｀here｀ ＿soon＿ ～～never～～ ～x～ order_update # heading &gt; quote - item 1. item [a](http://b) &lt;font color="info"&gt;x&lt;/font&gt;';
    for (const text of [section, body.text]) {
      expect(text).toContain('*NEW · phone ＊VIP＊ ＿ops＿*');
      expect(text).toContain('ErrorCode: `order_update`');
      expect(text).toContain(`ErrorDescription: ${shown}`);
      expect(text).toContain('PossibleSolution: ｀fix｀ ＿＿it＿＿');
      // Only our own markup is left: the bold heading, reason-and-node line and status, the ErrorCode's code span.
      const ours = text.replace('*[CRITICAL] ＊Phone＊ ＿blocked＿ ～now～ ｀x｀ (WABA 299399)*', '').replace(/\*NEW · [^*\n]*\*/, '').replace('*BLOCKED*', '').replace('`order_update`', '');
      expect(ours).not.toMatch(/[*`~]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/u);
    }
    expect(body.text).toMatch(/^\*\[CRITICAL\] ＊Phone＊ ＿blocked＿ ～now～ ｀x｀ \(WABA 299399\)\*\n/);
  });

  it('an ErrorCode shows in its code span as CAMS wrote it (Slack formats nothing there): *, _ and ~ as they are, only ` and &, <, > made safe', async () => {
    rx = await startSlackReceiver();
    await new SlackSink(rx.url).send(notification([item({ errors: [{ ErrorCode: '_Waba*Code~1_ `x` a&b<c>', ErrorDescription: 'd', PossibleSolution: 's' }] })]));
    const body = rx.received[0]!.body as { text: string; blocks: Array<{ type: string; text?: { text: string } }> };
    const section = body.blocks.find((b) => b.type === 'section')!.text!.text;
    // A backquote would end the span early: it alone is full-width; Slack decodes its entities in code too.
    for (const text of [section, body.text]) expect(text).toContain('ErrorCode: `_Waba*Code~1_ ｀x｀ a&amp;b&lt;c&gt;`');
  });

  it('a section or fallback text cut at its limit never splits an escape (&amp;), a character (a flag, a surrogate pair) or a link, and closes the bold it cut in', async () => {
    // "&" is 5 characters escaped: 600 of them (a field's most) are 3000, so the item's section and
    // the fallback text are both cut, inside the run of "&amp;".
    rx = await startSlackReceiver();
    const node = `${'&'.repeat(599)}x`;
    const flags = '🇨🇳👩‍👩‍👧'.repeat(200);
    await new SlackSink(rx.url).send(notification([item({ node, errors: [{ ErrorCode: 'E1', ErrorDescription: flags, PossibleSolution: flags }] }), item({ node: flags, fingerprint: 'fp-2', errors: Array.from({ length: 5 }, () => ({ ErrorCode: 'E2', ErrorDescription: flags, PossibleSolution: flags })) })]));
    expect(rx.rejected).toEqual([]);
    const body = rx.received[0]!.body as { text: string; blocks: Array<{ type: string; text?: { text: string } }> };
    const sections = body.blocks.filter((b) => b.type === 'section').map((b) => b.text!.text);
    // The first is cut inside its bold "*NEW · node*" line, and closes the bold: an open "*" would
    // run on into what follows (in the fallback text, "… and 1 more").
    expect(sections[0]).toMatch(/&amp;…\*$/);
    expect(sections[1]).toMatch(/…$/);
    expect(body.text).toMatch(/&amp;…\*\n\n… and 1 more$/);
    for (const t of [body.text, ...sections]) {
      expect(t.length).toBeLessThanOrEqual(3000);
      expect(t, t.slice(-20)).not.toMatch(/&(?!(amp|lt|gt);)/);
      // Flags and the family emoji only whole: a cut between two regional indicators or inside a ZWJ sequence shows other characters.
      const rest = t.replaceAll('🇨🇳', '').replaceAll('👩‍👩‍👧', '');
      expect(rest, t.slice(-20)).not.toMatch(/[\u{1F1E6}-\u{1F1FF}\u200D]|\u{1F467}|\u{1F469}/u);
    }
  });

  it('429 with Retry-After is retryable with retryAfterMs', async () => {
    rx = await startSlackReceiver();
    rx.rateLimitNext(1, 30);
    const sink = new SlackSink(rx.url);
    const err = await deliveryError(sink.send(notification()));
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(30_000);
    expect(err.message).toContain('429');
    await sink.send(notification());
    expect(rx.received).toHaveLength(1);
  });

  it('a wrong webhook token (403) is not retryable and the path secret is redacted', async () => {
    rx = await startSlackReceiver({ hookPath: `T0TESTTEAM/B0TESTHOOK/${TOKEN}` });
    const wrong = rx.url.replace(TOKEN, 'wrongTokenWrongToken0000');
    const err = await deliveryError(new SlackSink(wrong).send(notification()));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('403');
    expect(err.message).toContain('invalid_token');
    expect(err.message).not.toContain('wrongTokenWrongToken0000');
    expect(err.message).toContain('/services/***');
  });

  it('HTTP 500 is retryable', async () => {
    rx = await startSlackReceiver();
    rx.failNext(1, 503);
    const err = await deliveryError(new SlackSink(rx.url).send(notification()));
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain(TOKEN);
  });

  it('many items stay within Block Kit limits (50 blocks, 3000-character sections), with "… and N more"', async () => {
    rx = await startSlackReceiver();
    await new SlackSink(rx.url).send(notification(manyItems(120)));
    expect(rx.rejected).toEqual([]);
    const body = rx.received[0]!.body as { text: string; blocks: Array<{ type: string; text?: { text: string }; elements?: Array<{ text: string }> }> };
    expect(body.blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
    const sections = body.blocks.filter((b) => b.type === 'section');
    const more = /… and (\d+) more/.exec(body.blocks.at(-1)!.elements![0]!.text);
    expect(sections.length + Number(more![1])).toBe(120);
    expect(body.text.length).toBeLessThanOrEqual(3000);
  });
});
