// Slack incoming webhook: POST {"text", "blocks"}; the reply is "ok". The path after /services/ is
// the credential. 429 comes with Retry-After. Block Kit limits: 50 blocks, header text 150
// characters, section text 3000 characters. Every mrkdwn text object is `verbatim`: by default
// Slack parses "certain mentions" (@channel, @here) and channel names in its plain text
// (https://docs.slack.dev/reference/block-kit/composition-objects/text-object), so a node name or
// error description saying "@channel" would notify the whole channel.
import { SinkDeliveryError, type AlertNotification, type AlertSink } from '../model.ts';
import { DEFAULT_TIMEOUT_MS, excerpt, httpStatusFailure, isRecord, postJson, redactUrl, secretsOfUrl, type SinkOptions } from './deliver.ts';
import { chars, cutLines, cutToFit, DIALECTS, fitText, markdown, markdownLines, metaLine, moreLine, viewOf } from './format.ts';

export const SLACK_MAX_BLOCKS = 50;
const SLACK_SECTION_MAX_CHARS = 3000;
const SLACK_HEADER_MAX_CHARS = 150;
/** The fallback text is what notifications show; Slack cuts long ones anyway. */
const TEXT_MAX_CHARS = 3000;
/** Item text across all sections, to keep the message readable and well under Slack's message size. */
const ITEMS_MAX_CHARS = 12_000;

type Block = Record<string, unknown>;

/** Markup still works (*bold*, `code`); plain-text mentions and channel names are left as text. */
const mrkdwn = (text: string) => ({ type: 'mrkdwn', text, verbatim: true });

export function slackBody(n: AlertNotification): { text: string; blocks: Block[] } {
  const view = viewOf(n);
  const d = DIALECTS.slack;
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: cutToFit(view.title, chars, SLACK_HEADER_MAX_CHARS), emoji: false } },
    { type: 'context', elements: [mrkdwn(metaLine(view, d))] },
  ];
  // Room for the header, the context and a closing "… and N more".
  const maxItems = SLACK_MAX_BLOCKS - blocks.length - 1;
  let used = 0;
  let shown = 0;
  for (const item of view.items) {
    if (shown >= maxItems) break;
    const text = cutLines(markdownLines(item, d), d.lineSep, chars, SLACK_SECTION_MAX_CHARS);
    if (shown > 0 && used + text.length > ITEMS_MAX_CHARS) break;
    blocks.push({ type: 'section', text: mrkdwn(text) });
    used += text.length;
    shown += 1;
  }
  if (shown < view.items.length) blocks.push({ type: 'context', elements: [mrkdwn(moreLine(view.items.length - shown))] });
  const { text } = fitText(markdown(view, d), chars, TEXT_MAX_CHARS);
  return { text, blocks };
}

export class SlackSink implements AlertSink {
  readonly name = 'slack';
  readonly perMinute = 60;
  /** about 1 message/s */
  readonly minIntervalMs = 1000;
  readonly timeoutMs: number;

  constructor(
    private readonly webhook: string,
    opts: SinkOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async send(notification: AlertNotification): Promise<void> {
    const url = new URL(this.webhook);
    const reply = await postJson(this.name, url, JSON.stringify(slackBody(notification)), { timeoutMs: this.timeoutMs });
    const failure = httpStatusFailure(this.name, url, reply);
    if (failure) throw failure;
    // Slack answers "ok"; an explicit {"ok": false} from a Slack-like endpoint is still a failure.
    if (isRecord(reply.json) && reply.json['ok'] === false) {
      throw new SinkDeliveryError(this.name, `rejected by ${redactUrl(url)}: ${excerpt(reply.text, secretsOfUrl(url))}`, false, undefined, 'ok: false');
    }
  }
}
