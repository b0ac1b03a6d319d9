// Lark / Feishu custom bot. Signed when a secret is configured: timestamp in SECONDS,
//   sign = base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = empty))
// both sent in the body. Success is {"code":0} (older bots: {"StatusCode":0}); 19021 is a bad
// signature or stale timestamp, 19022 an IP outside the bot's allow-list, 19024 a message without
// any of the bot's keywords (https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot),
// 11232 the bot's frequency limit, and 99991400 the open platform
// gateway's (HTTP 429, or 400 on older APIs, with x-ogw-ratelimit-reset in seconds rather than
// Retry-After). Request bodies are at most 20 KB.
import { createHmac } from 'node:crypto';
import { SinkDeliveryError, type AlertNotification, type AlertSink } from '../model.ts';
import { DEFAULT_TIMEOUT_MS, excerpt, httpStatusFailure, isRecord, postJson, redactUrl, retryAfterMs, secretsOfUrl, unknownCodeFailure, type SinkOptions } from './deliver.ts';
import { DIALECTS, fitText, larkTextEscape, markdown, plain, utf8Bytes, viewOf, type NotificationView } from './format.ts';

const LARK_BAD_SIGNATURE = 19021;
const LARK_IP_NOT_ALLOWED = 19022;
const LARK_KEYWORD_MISSING = 19024;
const LARK_FREQUENCY_LIMIT = 11232;
const LARK_GATEWAY_LIMIT = 99991400;
/** 20 KB, counted in decimal to keep a margin. */
export const LARK_MAX_BYTES = 20_000;
/** Lark counts 100 messages a minute: waiting a minute after its limit is enough. */
const FREQUENCY_WAIT_MS = 60_000;

export type LarkMessageType = 'interactive' | 'text';

export function larkSign(secret: string, timestampS: number): string {
  return createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64');
}

function template(v: NotificationView): string {
  if (v.allResolved) return 'green';
  return v.severity === 'critical' ? 'red' : v.severity === 'warning' ? 'orange' : 'blue';
}

/**
 * The request body for a notification (signature fields included when `signature` is given), with
 * items dropped from the end ("… and N more") until the whole JSON body is within 20 KB.
 */
export function larkBody(n: AlertNotification, type: LarkMessageType = 'interactive', signature?: { timestamp: string; sign: string }): Record<string, unknown> {
  const view = viewOf(n);
  const build = (text: string): Record<string, unknown> =>
    type === 'text'
      ? { ...signature, msg_type: 'text', content: { text } }
      : {
          ...signature,
          msg_type: 'interactive',
          card: {
            config: { wide_screen_mode: true },
            header: { template: template(view), title: { tag: 'plain_text', content: view.title } },
            elements: [{ tag: 'div', text: { tag: 'lark_md', content: text } }],
          },
        };
  const rendered = type === 'text' ? plain(view, larkTextEscape) : markdown(view, DIALECTS.lark, { heading: false });
  const { text } = fitText(rendered, (t) => utf8Bytes(JSON.stringify(build(t))), LARK_MAX_BYTES);
  return build(text);
}

export class LarkSink implements AlertSink {
  readonly name = 'lark';
  readonly perMinute = 100;
  /** 5 messages/s */
  readonly minIntervalMs = 200;
  readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly type: LarkMessageType;

  constructor(
    private readonly webhook: string,
    private readonly secret?: string,
    opts: SinkOptions & { msgType?: LarkMessageType } = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
    this.type = opts.msgType ?? 'interactive';
  }

  get signed(): boolean {
    return !!this.secret;
  }

  async send(notification: AlertNotification): Promise<void> {
    const url = new URL(this.webhook);
    let signature: { timestamp: string; sign: string } | undefined;
    if (this.secret) {
      const ts = Math.floor(this.now() / 1000);
      signature = { timestamp: String(ts), sign: larkSign(this.secret, ts) };
    }
    const secrets = [...secretsOfUrl(url), ...(this.secret ? [this.secret] : [])];
    const reply = await postJson(this.name, url, JSON.stringify(larkBody(notification, this.type, signature)), { timeoutMs: this.timeoutMs, secrets });
    const json = isRecord(reply.json) ? reply.json : undefined;
    const raw = json?.['code'] ?? json?.['StatusCode'];
    const code = typeof raw === 'number' ? raw : undefined;
    if (code === undefined) {
      throw (
        httpStatusFailure(this.name, url, reply, secrets) ??
        new SinkDeliveryError(this.name, `unexpected reply from ${redactUrl(url)} (HTTP ${reply.status}, no code): ${excerpt(reply.text, secrets)}`, false, undefined, `HTTP ${reply.status}`)
      );
    }
    if (code === 0 && reply.status >= 200 && reply.status < 300) return;
    const msg = excerpt(String(json?.['msg'] ?? json?.['StatusMessage'] ?? ''), secrets);
    if (code === LARK_BAD_SIGNATURE) {
      throw new SinkDeliveryError(this.name, `bad signature or stale timestamp (code ${code}: ${msg}); check ALERT_LARK_SECRET and the clock`, false, undefined, String(code));
    }
    if (code === LARK_IP_NOT_ALLOWED || code === LARK_KEYWORD_MISSING) {
      throw new SinkDeliveryError(this.name, `rejected by the bot's security settings (code ${code}: ${msg}); check the bot's keywords and IP allow-list`, false, undefined, String(code));
    }
    if (code === LARK_FREQUENCY_LIMIT || code === LARK_GATEWAY_LIMIT || reply.status === 429) {
      const wait = retryAfterMs(reply.headers['retry-after']) ?? retryAfterMs(reply.headers['x-ogw-ratelimit-reset']) ?? FREQUENCY_WAIT_MS;
      throw new SinkDeliveryError(this.name, `frequency limit (code ${code}: ${msg})`, true, wait);
    }
    throw unknownCodeFailure(this.name, `code ${code} (HTTP ${reply.status}) from ${redactUrl(url)}: ${msg}`, reply, false, code);
  }
}
