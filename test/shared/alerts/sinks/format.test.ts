import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chars, clean, cutToFit, DIALECTS, fitText, markdown, plain, titleOf, utf8Bytes, viewOf, type Rendered } from '../../../../shared/alerts/sinks/format.ts';
import { BLOCKED_ERROR, item, manyItems, notification, RESOLVED } from './fixtures.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('alert formatter', () => {
  const n = notification([item(), item({ reason: 'changed', status: 'LIMITED', severity: 'warning', node: 'WABA 299399', errors: [] }), RESOLVED]);

  for (const [name, render] of [
    ...Object.entries(DIALECTS).map(([k, d]) => [k, () => markdown(viewOf(n), d)] as const),
    ['plain', () => plain(viewOf(n))] as const,
  ]) {
    it(`${name}: every item shows reason, node, status, since and each error's code, description and solution`, () => {
      const r = render();
      const text = [r.head, ...r.items].join(r.sep);
      expect(r.items).toHaveLength(3);
      expect(r.head).toContain('CRITICAL');
      expect(r.head).toContain('WABA 299399');
      expect(r.items[0]).toContain('NEW');
      expect(r.items[0]).toContain('PHONE_NUMBER phone 8613800000000');
      expect(r.items[0]).toContain('BLOCKED');
      expect(r.items[0]).toContain('2025-03-01T08:00:00.000Z');
      for (const label of ['ErrorCode', 'ErrorDescription', 'PossibleSolution']) expect(r.items[0]).toContain(label);
      expect(r.items[0]).toContain(BLOCKED_ERROR.ErrorCode);
      expect(r.items[0]).toContain(BLOCKED_ERROR.ErrorDescription);
      expect(r.items[0]).toContain(BLOCKED_ERROR.PossibleSolution);
      expect(r.items[1]).toContain('CHANGED');
      expect(r.items[1]).toContain('LIMITED');
      expect(r.items[2]).toContain('RESOLVED');
      expect(text).not.toContain('undefined');
    });
  }

  it('a close-out reads as one: NO LONGER WATCHED, and how long the node had been down when it left the watch list', () => {
    const closeOut = item({ reason: 'unwatched', status: 'RESOLVED', severity: 'info', outage: { worst: 'BLOCKED', from: '2025-03-01T08:00:00.000Z', durationMs: 134 * 60_000 } });
    const v = viewOf(notification([closeOut], { severity: 'info', title: 'WhatsApp health, WABA 299399: 1 no longer watched' }));
    expect(v.allResolved).toBe(false);
    for (const text of [plain(v).items[0]!, ...Object.values(DIALECTS).map((d) => markdown(v, d).items[0]!)]) {
      expect(text).toContain('NO LONGER WATCHED');
      expect(text).toContain('Down until unwatched: ');
      expect(text).toContain('BLOCKED for 2 h 14 min');
      expect(text).not.toContain('Was down');
    }
  });

  it('the title always says severity and group, even when the composer left them out', () => {
    expect(titleOf(notification())).toBe('[CRITICAL] WhatsApp health, WABA 299399: 1 firing');
    const t = titleOf({ title: 'Phone blocked', severity: 'warning', group: 'waba:42' });
    expect(t).toContain('WARNING');
    expect(t).toContain('WABA 42');
    expect(titleOf({ title: 'monitor cannot reach CAMS', severity: 'critical', group: 'monitor' })).toContain('CRITICAL');
    expect(titleOf({ title: 'x'.repeat(500), severity: 'info', group: 'space:cs1' }).length).toBeLessThanOrEqual(150);
  });

  it('newlines and markup in CAMS text cannot break the message structure', () => {
    const v = viewOf(notification([item({ errors: [{ ErrorCode: '1\n# x', ErrorDescription: 'a\n\n### injected <!channel>', PossibleSolution: 's' }] })]));
    const slack = markdown(v, DIALECTS.slack).items[0]!;
    expect(slack).not.toContain('<!channel>');
    expect(slack).toContain('&lt;!channel&gt;');
    expect(markdown(v, DIALECTS.dingtalk).items[0]).not.toMatch(/\n#/);
  });

  it('links, images, tags and mentions in CAMS text are shown, not acted on, in every markdown flavour', () => {
    const evil = 'Rejected. [Fix it here](https://evil.example/login) ![](https://evil.example/px.png) <@all> <@zhangsan> <font color="info">OK</font> <at id=all></at>';
    const v = viewOf(notification([item({ errors: [{ ErrorCode: 'Template.Rejected', ErrorDescription: evil, PossibleSolution: '[docs](https://evil.example)' }] })]));
    for (const name of ['dingtalk', 'wecom', 'lark', 'slack'] as const) {
      const text = markdown(v, DIALECTS[name]).items[0]!;
      // No [text](url) or ![alt](url): the link text could hide where it goes; an image loads by itself.
      // (Slack's mrkdwn has no such links: its links are <url|text>, and < is escaped.)
      if (name !== 'slack') expect(text, name).not.toMatch(/\]\(/);
      // No tag: WeCom's <@userid> notifies that user, <font> restyles, Lark's <at id=all> notifies everyone.
      expect(text, name).not.toMatch(/<(@|at\b)/);
      expect(text, name).not.toContain('<font color="info">OK');
      // The words are all still there.
      expect(text, name).toContain('Fix it here');
      expect(text, name).toContain('https://evil.example/login');
    }
    // WeCom's own markup (the status colour) is untouched.
    expect(markdown(v, DIALECTS.wecom).items[0]).toContain('<font color="warning">');
  });

  it('lists at most 5 errors per item and counts the rest', () => {
    const errors = Array.from({ length: 8 }, (_, i) => ({ ErrorCode: `E${i}`, ErrorDescription: 'd', PossibleSolution: 's' }));
    const r = plain(viewOf(notification([item({ errors })])));
    expect(r.items[0]).toContain('E4');
    expect(r.items[0]).not.toContain('E5');
    expect(r.items[0]).toContain('and 3 more errors');
  });

  it('fitText keeps as many whole items as fit and says how many were left out', () => {
    const r = markdown(viewOf(notification(manyItems(40))), DIALECTS.wecom);
    const fitted = fitText(r, utf8Bytes, 4096);
    expect(utf8Bytes(fitted.text)).toBeLessThanOrEqual(4096);
    expect(fitted.truncated).toBe(true);
    expect(fitted.shown).toBeGreaterThan(0);
    expect(fitted.text).toContain(`… and ${40 - fitted.shown} more`);
    // Maximal: one more item would not have fitted.
    const oneMore = [r.head, ...r.items.slice(0, fitted.shown + 1), r.more(40 - fitted.shown - 1)].join(r.sep);
    expect(utf8Bytes(oneMore)).toBeGreaterThan(4096);
  });

  it('fitText cuts a single item that is too big alone, and still counts the others', () => {
    const big = manyItems(3, 400).map((i) => ({ ...i, errors: Array.from({ length: 5 }, () => i.errors[0]!) }));
    const r = markdown(viewOf(notification(big)), DIALECTS.wecom);
    expect(utf8Bytes(r.items[0]!)).toBeGreaterThan(4096);
    const fitted = fitText(r, utf8Bytes, 4096);
    expect(utf8Bytes(fitted.text)).toBeLessThanOrEqual(4096);
    expect(fitted.text).toContain('ErrorCode');
    expect(fitted.text).toContain('… and 2 more');
    expect(fitted.text).not.toMatch(LONE_SURROGATE);
  });

  it('fitText on a message that fits changes nothing', () => {
    const r: Rendered = { head: 'h', items: ['aaa', 'bbb'], more: (k) => `+${k}`, sep: '\n' };
    expect(fitText(r, utf8Bytes, 9)).toEqual({ text: 'h\naaa\nbbb', shown: 2, truncated: false });
    expect(fitText(r, utf8Bytes, 8)).toEqual({ text: 'h\naaa\n+1', shown: 1, truncated: true });
    expect(fitText(r, utf8Bytes, 7).text).toBe('h\n+2');
    expect(fitText({ ...r, items: ['a'.repeat(50)] }, utf8Bytes, 12).text).toBe('h\naaaaaaa…');
  });

  it('cutToFit in UTF-8 bytes never exceeds the limit and never cuts a character in half', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.integer({ min: 4, max: 400 }), (s, max) => {
        const out = cutToFit(s, utf8Bytes, max);
        expect(utf8Bytes(out)).toBeLessThanOrEqual(max);
        expect(out).not.toMatch(LONE_SURROGATE);
        if (utf8Bytes(s) <= max) expect(out).toBe(s);
        else {
          expect(out.endsWith('…')).toBe(true);
          expect(s.startsWith(out.slice(0, -1))).toBe(true);
        }
      }),
    );
    expect(cutToFit('ab😀cdef', utf8Bytes, 8)).toBe('ab…'); // the emoji (4 bytes) would not fit with "…" (3 bytes)
    expect(cutToFit('ab😀cdef', utf8Bytes, 9)).toBe('ab😀…');
  });

  it('cutToFit never splits an escape, a tag or a character (a flag, an emoji sequence), in characters or in UTF-8 bytes', () => {
    const segments = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    const bounds = (s: string) => new Set([0, ...Array.from(segments.segment(s), (g) => g.index + g.segment.length)]);
    const text = fc.array(fc.constantFrom('&', '<', '>', 'a', ' ', 'é', 'e\u0301', '号', '😀', '🇨🇳', '👩‍👩‍👧', '👍🏽'), { maxLength: 120 }).map((a) => a.join(''));
    for (const [name, d] of [['slack', DIALECTS.slack], ['lark', DIALECTS.lark], ['wecom', DIALECTS.wecom]] as const) {
      fc.assert(
        fc.property(text, fc.integer({ min: 1, max: 400 }), fc.constantFrom(chars, utf8Bytes), (raw, max, size) => {
          const s = d.escape(raw);
          const out = cutToFit(s, size, max);
          expect(size(out)).toBeLessThanOrEqual(max);
          if (size(s) <= max) {
            expect(out).toBe(s);
            return;
          }
          const kept = out.endsWith('…') ? out.slice(0, -1) : out;
          expect(s.startsWith(kept)).toBe(true);
          // Slack and Lark cards write "&" as "&amp;" (WeCom leaves it be).
          if (name !== 'wecom') expect(kept).not.toMatch(/&(?!(amp|lt|gt);)/);
          expect(bounds(s).has(kept.length), JSON.stringify([s, kept])).toBe(true);
        }),
      );
    }
    expect(cutToFit('a &amp;&amp; b', chars, 9)).toBe('a &amp;…');
    expect(cutToFit('🇨🇳🇨🇳🇨🇳', chars, 10)).toBe('🇨🇳🇨🇳…');
  });

  it('cutToFit keeps a tag of ours whole: a WeCom <font>, a Slack <url|text> link', () => {
    expect(cutToFit('Status: <font color="warning">BLOCKED</font> since', chars, 24)).toBe('Status: …');
    expect(cutToFit('Status: <font color="warning">BLOCKED</font> since', chars, 34)).toBe('Status: <font color="warning">BLO…');
    expect(cutToFit('see <https://x.example/a|the docs> now', chars, 20)).toBe('see …');
  });

  it('fitText cutting an item closes every markup of ours it cut inside (bold, code, a WeCom <font>), in every dialect and at every limit', () => {
    // Each line of ours pairs its markup; CAMS text adds none (the dialect escapes it; inside our code
    // span, where Slack and WeCom read no markup, a * is the code's own and is not counted).
    const balanced = (name: string, line: string) => {
      const count = (re: RegExp, text = line) => (text.match(re) ?? []).length;
      expect(count(/<font\b/g), line).toBe(count(/<\/font>/g));
      expect(count(/`/g) % 2, line).toBe(0);
      expect(count(name === 'slack' ? /\*/g : /\*\*/g, line.replace(/`[^`]*`/g, '``')) % 2, line).toBe(0);
    };
    for (const [name, d] of Object.entries(DIALECTS)) {
      const word = fc.array(fc.constantFrom('a', 'z', ' ', '号', '🚫', '<', '&', '*', '`', '_', '~'), { maxLength: 40 }).map((a) => a.join(''));
      const errorOf = fc.record({ ErrorCode: word, ErrorDescription: word, PossibleSolution: word });
      fc.assert(
        fc.property(word, fc.array(errorOf, { minLength: 1, maxLength: 3 }), fc.nat(2000), fc.constantFrom(chars, utf8Bytes), (node, errors, room, size) => {
          const r = markdown(viewOf(notification([item({ node, errors }), item({ fingerprint: 'fp-2' })])), d);
          const limit = size(r.head) + room;
          const { text } = fitText(r, size, limit);
          if (size(text) > limit) return; // nothing fits this limit: fitText says so by going over
          for (const line of text.split('\n')) balanced(name, line);
        }),
        { numRuns: 300 },
      );
    }
    // The cut line keeps what it opened, with "…" inside it.
    const r = markdown(viewOf(notification([item({ node: 'n'.repeat(100) }), item()])), DIALECTS.wecom);
    expect(fitText(r, chars, r.head.length + 40).text).toMatch(/\*\*NEW · n+…\*\*\n\n… and 1 more$/);
    expect(fitText(r, chars, r.head.length + 185).text).toMatch(/> Status: <font color="warning">BLOCKED<\/font> since 2025…\n\n… and 1 more$/);
  });

  it('fitText cutting the head (a limit under its size) closes the heading it cut inside: Slack\'s *title…*, at every limit', () => {
    const n = notification([item(), item({ fingerprint: 'fp-2' })], { title: `${'x'.repeat(100)} & *y*` });
    const r = markdown(viewOf(n), DIALECTS.slack);
    // Room for part of the title, its closing "*" and "… and 2 more".
    expect(fitText(r, chars, 60)).toEqual({ text: `*[CRITICAL] ${'x'.repeat(32)}…*\n\n… and 2 more`, shown: 0, truncated: true });
    // The title alone once "… and 2 more" no longer fits with it.
    expect(fitText(r, chars, 12).text).toBe('*[CRITICAL…*');
    expect(fitText(r, chars, 2).text).toBe('…');
    for (const [name, d] of Object.entries(DIALECTS)) {
      const rd = markdown(viewOf(n), d);
      for (let limit = 1; limit < chars(rd.head) + 20; limit += 1) {
        const { text } = fitText(rd, chars, limit);
        expect(chars(text), name).toBeLessThanOrEqual(limit);
        for (const line of text.split('\n')) expect((line.match(name === 'slack' ? /\*/g : /\*\*/g) ?? []).length % 2, `${name} ${limit}: ${line}`).toBe(0);
      }
    }
  });

  it('a field cut at its length keeps flags and emoji sequences whole', () => {
    const family = '👩‍👩‍👧'; // 5 code points
    expect(clean(family.repeat(3), 12)).toBe(`${family.repeat(2)}…`);
    expect(clean('🇨🇳🇨🇳🇨🇳', 4)).toBe('🇨🇳…');
    expect(Array.from(clean('x'.repeat(1000))).length).toBe(600);
  });
});
