// One formatter for every chat sink: a notification becomes a view (cleaned, capped fields), the
// view becomes markdown in a channel's dialect or plain text, and fitText() makes the result fit
// the channel's size limit by dropping whole items ("… and N more") and, only when one item alone
// is too big, cutting it inside one line's text (see cutLines(): our markup around it stays whole)
// between atoms (see atoms(): never inside an escape, a tag or a character).
import { formatDuration } from '../duration.ts';
import type { AlertItem, AlertNotification, Severity } from '../model.ts';

/** Longest value of one field (node, ErrorDescription, …) before it is cut with "…". */
const FIELD_MAX_CHARS = 600;
/** Errors listed per item; the rest are counted. */
const ERRORS_MAX = 5;
/** Slack's header block takes at most 150 characters; the other channels show short titles best too. */
const TITLE_MAX_CHARS = 150;

export interface ErrorView {
  code: string;
  description: string;
  solution: string;
}

export interface ItemView {
  reason: AlertItem['reason'];
  node: string;
  status: string;
  severity: Severity;
  since: string;
  errors: ErrorView[];
  /** Errors not listed (over ERRORS_MAX). */
  moreErrors: number;
  /** On a recovery: how long the node was down, e.g. "BLOCKED for 2 h 14 min (since …)". */
  outage?: string;
}

export interface NotificationView {
  id: string;
  /** Always says the severity and the group. */
  title: string;
  severity: Severity;
  group: string;
  groupLabel: string;
  createdAt: string;
  /** True when every item is a resolution. */
  allResolved: boolean;
  items: ItemView[];
}

const NONE = '—';

/** Half of a surrogate pair on its own: JSON can carry it (`"\ud800"`), UTF-8 cannot. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * One line, whitespace collapsed, at most `max` characters (code points), well-formed: a lone
 * surrogate becomes U+FFFD, as WeCom wants its content in UTF-8 and would refuse it every time.
 * A cut falls between two characters as a reader sees them (graphemes: a flag, an emoji sequence).
 */
export function clean(value: unknown, max = FIELD_MAX_CHARS): string {
  const s = String(value ?? '').replace(LONE_SURROGATE, '\uFFFD').replace(/\s+/g, ' ').trim();
  if (Array.from(s).length <= max) return s;
  let kept = '';
  let n = 0;
  for (const g of graphemes(s)) {
    const len = Array.from(g).length;
    if (n + len > max - 1) break;
    kept += g;
    n += len;
  }
  return kept + '…';
}

const SEGMENTER = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
/** Longer clusters (stacked combining marks) are split into code points: no one character hides a field. */
const GRAPHEME_MAX_UNITS = 16;

/** `text` in graphemes, each a whole surrogate pair at least. */
function graphemes(text: string): string[] {
  const out: string[] = [];
  for (const { segment } of SEGMENTER.segment(text)) {
    if (segment.length > GRAPHEME_MAX_UNITS) out.push(...Array.from(segment));
    else out.push(segment);
  }
  return out;
}

/**
 * A dialect's escapes (`&amp;`, `&#42;`) and tags (WeCom's `<font color="…">`, a Slack `<url|text>`
 * link): CAMS text cannot make either (every dialect escapes or replaces its `&`, `<` and `>`), so
 * each is whole markup of ours, and half of one would show as garbage or break what follows.
 */
const MARKUP = /&(?:[A-Za-z][A-Za-z0-9]{0,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});|<[^<>\n]{1,500}>/g;

/** What a cut must keep whole: an escape, a tag, or a grapheme. */
export function atoms(text: string): string[] {
  const out: string[] = [];
  let last = 0;
  for (const m of text.matchAll(MARKUP)) {
    out.push(...graphemes(text.slice(last, m.index)), m[0]);
    last = m.index + m[0].length;
  }
  out.push(...graphemes(text.slice(last)));
  return out;
}

function groupLabel(group: string): string {
  if (group === 'monitor') return 'the health monitor';
  return group.replace(/^waba:/, 'WABA ').replace(/^space:/, 'space ');
}

/** The notification's title, made to say its severity and its group whatever the composer wrote. */
export function titleOf(n: Pick<AlertNotification, 'title' | 'severity' | 'group'>): string {
  const sev = n.severity.toUpperCase();
  const label = groupLabel(n.group);
  let title = clean(n.title, 1000) || 'WhatsApp health alert';
  if (!title.toUpperCase().includes(sev)) title = `[${sev}] ${title}`;
  if (!title.includes(label) && !title.includes(n.group)) title = `${title} (${label})`;
  return clean(title, TITLE_MAX_CHARS);
}

export function viewOf(n: AlertNotification): NotificationView {
  const items = n.items.map<ItemView>((i) => {
    const errors = i.errors ?? [];
    return {
      reason: i.reason,
      node: clean(i.node) || NONE,
      status: clean(i.status, 40),
      severity: i.severity,
      since: clean(i.since, 40) || NONE,
      errors: errors.slice(0, ERRORS_MAX).map((e) => ({
        code: clean(e.ErrorCode, 80) || NONE,
        description: clean(e.ErrorDescription) || NONE,
        solution: clean(e.PossibleSolution) || NONE,
      })),
      moreErrors: Math.max(0, errors.length - ERRORS_MAX),
      ...(i.outage ? { outage: outageText(i.outage) } : {}),
    };
  });
  return {
    id: n.id,
    title: titleOf(n),
    severity: n.severity,
    group: clean(n.group, 200),
    groupLabel: clean(groupLabel(n.group), 200),
    createdAt: clean(n.createdAt, 40),
    allResolved: items.length > 0 && items.every((i) => i.reason === 'resolved'),
    items,
  };
}

/** "BLOCKED for 2 h 14 min (since 2025-03-01T08:00:00.000Z)": what a recovery message says about the outage. */
export function outageText(o: NonNullable<AlertItem['outage']>): string {
  return `${clean(o.worst, 40)} for ${formatDuration(o.durationMs)} (since ${clean(o.from, 40)})`;
}

export const REASON_LABEL: Record<AlertItem['reason'], string> = {
  new: 'NEW',
  changed: 'CHANGED',
  reminder: 'REMINDER',
  resolved: 'RESOLVED',
  unwatched: 'NO LONGER WATCHED',
};

/** The outage line's label: a recovery's node is back; a close-out's was still down when it left the watch list. */
const outageLabel = (i: ItemView): string => (i.reason === 'unwatched' ? 'Down until unwatched' : 'Was down');

/**
 * One line of an item: our markup (`open`, `close`: a label, `**`, a `<font>`, a backquote) around
 * one piece of text (`text`, escaped already). A cut shortens only the text, so that no markup of
 * ours is left open to run on into what follows ("… and N more", the next line).
 */
export interface Line {
  open: string;
  text: string;
  close: string;
}

export const lineText = (l: Line): string => l.open + l.text + l.close;

/** Stands for the text while a dialect's template is split into its open and close markup. */
const HOLE = '\u0000';

/** The line `template` makes of `text`, its markup split off (a template is ours and holds no NUL). */
function around(template: (s: string) => string, text: string): Line {
  const [open = '', close = ''] = template(HOLE).split(HOLE);
  return { open, text, close };
}

/** A rendered message in parts, so that fitText can drop items from the end. */
export interface Rendered {
  head: string;
  items: string[];
  /**
   * The head and the items as lines (head is lines.head joined by lines.headSep, items[i] is
   * lines.items[i] joined by lines.sep), for a cut that keeps our markup whole.
   */
  lines?: { head: Line[]; headSep: string; items: Line[][]; sep: string };
  /** The line standing for items left out. */
  more: (omitted: number) => string;
  sep: string;
}

export const moreLine = (omitted: number): string => `… and ${omitted} more`;

/** How one markdown flavour writes things. */
export interface Dialect {
  heading(title: string): string;
  bold(s: string): string;
  code(s: string): string;
  /** Neutralises what the flavour would otherwise read as markup or mentions. */
  escape(s: string): string;
  /**
   * The same for CAMS text inside our `code` span (the ErrorCode): where the flavour reads no markup
   * in a code span, only what would end the span or still acts there, so a code copied from the
   * message is the code as CAMS wrote it.
   */
  codeEscape(s: string): string;
  /** One "label: value" line of an item. */
  field(label: string, value: string): string;
  /** The status, possibly coloured. */
  status(item: ItemView): string;
  /** Between the lines of one item. */
  lineSep: string;
  /** Between items (and after the head). */
  itemSep: string;
}

const plainEscape = (s: string) => s;
/**
 * `[text](url)` and `![alt](url)` are links and images in every flavour here: a space between `]`
 * and `(` unmakes them (CommonMark and the older parsers alike), and the text still reads the same.
 */
const noLinks = (s: string) => s.replaceAll('](', '] (');
const htmlish = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/**
 * DingTalk and WeCom read `<font color>` and WeCom `<@userid>` (a mention that notifies); whether
 * they decode entities is not documented, so `<` and `>` become their full-width forms, which read
 * the same and are no markup anywhere.
 */
const fullWidthAngles = (s: string) => s.replaceAll('<', '\uFF1C').replaceAll('>', '\uFF1E');
/** Whether `text[from, to)` has a letter or a digit on both sides (two units: a letter may be a surrogate pair). */
const insideWord = (text: string, from: number, to: number) => /[\p{L}\p{N}]$/u.test(text.slice(Math.max(0, from - 2), from)) && /^[\p{L}\p{N}]/u.test(text.slice(to, to + 2));
/**
 * DingTalk reads `**bold**` and `*italic*` (and, like any markdown, may read `_italic_` and
 * `~~strike~~`), WeCom `**bold**` and `` `code` ``, Slack `*bold*`, `_italic_`, `~strike~` and
 * `` `code` ``; none documents an escape for them (a backslash may well show as written, Slack
 * escapes only `&`, `<`, `>`): `*`, `~` and `` ` `` become their full-width forms `＊`, `～`, `｀`,
 * as `<` and `>` do, which read the same and are markup nowhere. (A zero-width space next to a
 * marker would not do: CommonMark takes it for neither space nor punctuation, so `*…*` around it is
 * still emphasis, and in Slack it is the common way to make a `*` bold inside a word, not to stop it.)
 * `_` opens or closes emphasis only at a word's edge, in CommonMark and Slack alike: a run of `_`
 * between two letters or digits (`order_update`, `A__B`) is left as written, so that a template
 * code copied from the message is still right; a run at an edge (`_italic_`, `__init__`) is `＿`.
 * Headings, quotes and lists (`#`, `>`, `-`, `1.`) are read only at a line's start, where CAMS text
 * never is: every field is one line, after our label.
 */
const noEmphasis = (s: string) =>
  s
    .replace(/_+/g, (run, at: number, text: string) => (insideWord(text, at, at + run.length) ? run : '\uFF3F'.repeat(run.length)))
    .replaceAll('*', '\uFF0A')
    .replaceAll('~', '\uFF5E')
    .replaceAll('`', '\uFF40');
const robotEscape = (s: string) => noEmphasis(fullWidthAngles(noLinks(s)));
/** A backquote would end our code span early: its full-width form reads the same. */
const noBackquote = (s: string) => s.replaceAll('`', '\uFF40');
/**
 * Lark shows `:OK:`, `:DONE:`… (an emoji code: a name with a letter in it between two colons) as its
 * own emoji: a zero-width space after the opening colon unmakes the code and reads the same. Colons
 * elsewhere (`08:00:00`, `https://`, `Error: x`) are left as they are.
 */
const noEmojiCodes = (s: string) => s.replace(/:(?=[0-9_]*[A-Za-z][A-Za-z0-9_]*:)/g, ':\u200B');
/**
 * Lark's plain text messages read `<at user_id="all"></at>` as a mention of everyone, `<b>`, `<i>`…
 * as styles and `[text](url)` as a link, and show entities as written: `<` and `>` become their
 * full-width forms there too, links are unmade, and so are emoji codes.
 */
export const larkTextEscape = (s: string) => noEmojiCodes(fullWidthAngles(noLinks(s)));
/**
 * Lark card markdown (lark_md) reads `**bold**`, `*italic*`, `~~strike~~` and `` `code` ``, and
 * decodes entities: those characters are written as entities, which show as themselves. Emoji codes
 * are unmade as in text messages (an entity colon, `&#58;`, might be decoded before they are read).
 */
const larkMdEscape = (s: string) => noEmojiCodes(noLinks(htmlish(s)).replaceAll('*', '&#42;').replaceAll('~', '&#126;').replaceAll('`', '&#96;'));

export const DIALECTS = {
  // DingTalk: headings, bold, lists; a bare "\n" is not always a line break, list items are.
  dingtalk: {
    heading: (t) => `### ${t}`,
    bold: (s) => `**${s}**`,
    code: (s) => `\`${s}\``,
    escape: robotEscape,
    // DingTalk documents no code span: what it makes of `…` is not known, so the code is escaped as any text.
    codeEscape: robotEscape,
    field: (l, v) => `- ${l}: ${v}`,
    status: (i) => `**${i.status}**`,
    lineSep: '\n',
    itemSep: '\n\n',
  },
  // WeCom: headings, bold, quotes, <font color="info|comment|warning">; no lists.
  wecom: {
    heading: (t) => `### ${t}`,
    bold: (s) => `**${s}**`,
    code: (s) => `\`${s}\``,
    escape: robotEscape,
    // WeCom documents the `code` span, where markdown reads no *, _ or ~; < and > stay full-width
    // (whether a <@userid> mention is read inside one is not documented).
    codeEscape: (s) => noBackquote(fullWidthAngles(s)),
    field: (l, v) => `> ${l}: ${v}`,
    status: (i) => `<font color="${i.reason === 'resolved' ? 'info' : i.severity === 'info' ? 'comment' : 'warning'}">${i.status}</font>`,
    lineSep: '\n',
    itemSep: '\n\n',
  },
  // Lark card lark_md: bold, italic, strike, code, links, <at>, <font>, :emoji:; "<", ">", "*", "~"
  // and "`" are written as entities, links and emoji codes unmade.
  lark: {
    heading: (t) => `**${t}**`,
    bold: (s) => `**${s}**`,
    code: (s) => s,
    escape: larkMdEscape,
    codeEscape: larkMdEscape,
    field: (l, v) => `${l}: ${v}`,
    status: (i) => `**${i.status}**`,
    lineSep: '\n',
    itemSep: '\n\n',
  },
  // Slack mrkdwn: *bold*, `code`; &, <, > must be escaped, and CAMS text's *, _, ~ and ` are
  // made no markup as in DingTalk's.
  slack: {
    heading: (t) => `*${t}*`,
    bold: (s) => `*${s}*`,
    code: (s) => `\`${s}\``,
    escape: (s) => noEmphasis(htmlish(s)),
    // Slack formats nothing inside `code`, but still reads its entities.
    codeEscape: (s) => noBackquote(htmlish(s)),
    field: (l, v) => `${l}: ${v}`,
    status: (i) => `*${i.status}*`,
    lineSep: '\n',
    itemSep: '\n\n',
  },
} satisfies Record<string, Dialect>;

export function metaLine(v: NotificationView, d?: Pick<Dialect, 'escape'>): string {
  const e = d?.escape ?? plainEscape;
  return `Severity: ${v.severity.toUpperCase()} · Group: ${e(v.groupLabel)} · ${e(v.createdAt)}`;
}

/** One item in markdown, by lines: reason and node, status and since, then each error's three fields. */
export function markdownLines(i: ItemView, d: Dialect): Line[] {
  const e = d.escape;
  const field = (label: string) => (s: string) => d.field(label, s);
  const lines = [
    around((s) => d.bold(`${REASON_LABEL[i.reason]} · ${s}`), e(i.node)),
    around((s) => d.field('Status', `${d.status({ ...i, status: e(i.status) })} since ${s}`), e(i.since)),
  ];
  if (i.outage) lines.push(around(field(outageLabel(i)), e(i.outage)));
  if (i.errors.length === 0) lines.push(around(field('Errors'), 'none reported'));
  for (const err of i.errors) {
    lines.push(around((s) => d.field('ErrorCode', d.code(s)), d.codeEscape(err.code)));
    lines.push(around(field('ErrorDescription'), e(err.description)));
    lines.push(around(field('PossibleSolution'), e(err.solution)));
  }
  if (i.moreErrors > 0) lines.push(around(field('…'), `and ${i.moreErrors} more errors`));
  return lines;
}

/** Rendered from the head and the items as lines: their text, and the lines for a cut. */
function rendered(head: Line[], headSep: string, items: Line[][], lineSep: string, sep: string): Rendered {
  const join = (ls: Line[], by: string) => ls.map(lineText).join(by);
  return { head: join(head, headSep), items: items.map((ls) => join(ls, lineSep)), lines: { head, headSep, items, sep: lineSep }, more: moreLine, sep };
}

/** A line with no markup of ours around its text. */
const bare = (text: string): Line => ({ open: '', text, close: '' });

export function markdown(v: NotificationView, d: Dialect, opts: { heading?: boolean } = {}): Rendered {
  const head = [...(opts.heading === false ? [] : [around(d.heading, d.escape(v.title))]), bare(metaLine(v, d))];
  return rendered(head, '\n\n', v.items.map((i) => markdownLines(i, d)), d.lineSep, d.itemSep);
}

function plainLines(i: ItemView, e: (s: string) => string): Line[] {
  const line = (open: string, text: string): Line => ({ open, text, close: '' });
  const lines = [line(`${REASON_LABEL[i.reason]} · `, e(i.node)), line(`  Status: ${e(i.status)} since `, e(i.since))];
  if (i.outage) lines.push(line(`  ${outageLabel(i)}: `, e(i.outage)));
  if (i.errors.length === 0) lines.push(line('  Errors: ', 'none reported'));
  for (const err of i.errors) {
    lines.push(line('  ErrorCode: ', e(err.code)), line('  ErrorDescription: ', e(err.description)), line('  PossibleSolution: ', e(err.solution)));
  }
  if (i.moreErrors > 0) lines.push(line('  … ', `and ${i.moreErrors} more errors`));
  return lines;
}

/** Plain text; `escape` neutralises what the receiving channel would read as markup in CAMS text. */
export function plain(v: NotificationView, escape: (s: string) => string = plainEscape): Rendered {
  return rendered([bare(escape(v.title)), bare(metaLine(v, { escape }))], '\n', v.items.map((i) => plainLines(i, escape)), '\n', '\n\n');
}

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
export const chars = (s: string): number => s.length;

function compose(r: Rendered, shown: number): string {
  const parts = [r.head, ...r.items.slice(0, shown)];
  if (shown < r.items.length) parts.push(r.more(r.items.length - shown));
  return parts.filter((p) => p !== '').join(r.sep);
}

/**
 * The longest prefix of `text` (whole atoms: no half escape, tag or character) such that `wrap(prefix + suffix)` measures at
 * most `limit`; `wrap` places the cut text in its context (the rest of the message, a JSON body).
 */
export function cutToFit(text: string, size: (s: string) => number, limit: number, suffix = '…', wrap: (cut: string) => string = (c) => c): string {
  if (size(wrap(text)) <= limit) return wrap(text);
  return wrap(cutAtoms(text, suffix, (cut) => size(wrap(cut)) <= limit));
}

/** The longest prefix of `text` in whole atoms, with `suffix`, that `fits`; the suffix alone, or nothing, when none does. */
function cutAtoms(text: string, suffix: string, fits: (cut: string) => boolean): string {
  const parts = atoms(text);
  let lo = 0;
  let hi = parts.length;
  // Largest m with the first m atoms (+ suffix) fitting; m = 0 is the floor.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(parts.slice(0, mid).join('') + suffix)) lo = mid;
    else hi = mid - 1;
  }
  return parts.slice(0, lo).join('') + (lo > 0 || fits(suffix) ? suffix : '');
}

/**
 * `lines` joined by `sep`, cut like cutToFit but only ever inside one line's text: the lines before
 * it whole (each kept only when the next still has room for its markup and "…"), and the cut line
 * with its markup on both sides (`**NEW · node…**`, `<font …>BLOCKED</font> since …`), never half of it.
 */
export function cutLines(lines: Line[], sep: string, size: (s: string) => number, limit: number, wrap: (cut: string) => string = (c) => c): string {
  const whole = lines.map(lineText).join(sep);
  if (lines.length === 0 || size(wrap(whole)) <= limit) return wrap(whole);
  const stub = (l: Line) => `${l.open}…${l.close}`;
  let kept = '';
  let j = 0;
  while (j < lines.length - 1 && size(wrap(kept + lineText(lines[j]!) + sep + stub(lines[j + 1]!))) <= limit) {
    kept += lineText(lines[j]!) + sep;
    j += 1;
  }
  const l = lines[j]!;
  return wrap(kept + l.open + cutAtoms(l.text, '…', (cut) => size(wrap(kept + l.open + cut + l.close)) <= limit) + l.close);
}

/**
 * The head cut like an item (cutLines: Slack's `*[CRITICAL] title…*` keeps its closing `*`), with
 * "… and N more" after it while that fits, else without; "…" alone (or nothing) when not even the
 * first line's markup fits with "…" (an empty `**` says nothing). Without lines, the whole text is cut.
 */
function cutHead(r: Rendered, size: (text: string) => number, limit: number): string {
  if (!r.lines) return cutToFit(compose(r, 0), size, limit);
  const first = r.lines.head[0];
  const markup = first ? first.open.length + first.close.length : 0;
  const tail = r.items.length > 0 ? r.sep + r.more(r.items.length) : '';
  for (const after of [tail, '']) {
    const cut = cutLines(r.lines.head, r.lines.headSep, size, limit, (c) => c + after);
    if (size(cut) <= limit && cut.length > markup + after.length) return cut;
  }
  return size('…') <= limit ? '…' : '';
}

export interface Fitted {
  text: string;
  /** Items shown in full. */
  shown: number;
  truncated: boolean;
}

/**
 * The rendered message with as many whole items as fit `size(text) <= limit` (then "… and N more");
 * if not even one item fits whole, the first one is cut so that the reader still sees something.
 * `size` measures what the channel measures (UTF-8 bytes of the content, bytes of the JSON body, …).
 */
export function fitText(r: Rendered, size: (text: string) => number, limit: number): Fitted {
  const n = r.items.length;
  const fits = (k: number) => size(compose(r, k)) <= limit;
  if (fits(n)) return { text: compose(r, n), shown: n, truncated: false };
  // Even the head alone is too big (only with a tiny limit): cut the head.
  if (!fits(0)) return { text: cutHead(r, size, limit), shown: 0, truncated: true };
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  if (lo > 0) return { text: compose(r, lo), shown: lo, truncated: true };
  // Not even the first item fits whole: show as much of it as fits.
  const head = r.head === '' ? '' : r.head + r.sep;
  const tail = n > 1 ? r.sep + r.more(n - 1) : '';
  const place = (cut: string) => head + cut + tail;
  const first = r.lines ? cutLines(r.lines.items[0]!, r.lines.sep, size, limit, place) : cutToFit(r.items[0]!, size, limit, '…', place);
  if (size(first) <= limit && first.length > head.length + tail.length + 1) return { text: first, shown: 0, truncated: true };
  return { text: compose(r, 0), shown: 0, truncated: true };
}
