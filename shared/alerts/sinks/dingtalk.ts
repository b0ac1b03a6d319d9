// DingTalk custom robot. Signed ("加签") when a secret is configured:
//   sign = urlencode(base64(HMAC-SHA256(key = secret, timestamp_ms + "\n" + secret)))
// appended as &timestamp=..&sign=.. to the webhook URL (which carries access_token). The robot
// answers HTTP 200 with {"errcode":0,"errmsg":"ok"}; any other errcode is a failure. Error codes:
// https://open.dingtalk.com/document/orgapp/custom-robots-send-group-messages
import { createHmac } from 'node:crypto';
import { SinkDeliveryError, type AlertNotification, type AlertSink } from '../model.ts';
import { DEFAULT_TIMEOUT_MS, excerpt, httpStatusFailure, isRecord, postJson, redactUrl, secretsOfUrl, unknownCodeFailure, type SinkOptions } from './deliver.ts';
import { DIALECTS, fitText, markdown, utf8Bytes, viewOf } from './format.ts';

/** Over 20 messages a minute the robot is throttled for 10 minutes. */
const DINGTALK_THROTTLED = 130101;
/** The same throttle as the current send API documents it ("发送速度太快而限流"). */
const DINGTALK_RATE_LIMITED = 410100;
/** Signature, keyword or IP allow-list check failed. */
const DINGTALK_SECURITY_FAILED = 310000;
/**
 * The webhook itself no longer reaches a robot: 300001 / 400101 no such access_token, 400102 the
 * robot is disabled, 400106 no such robot, 400013 its group was dissolved.
 */
const DINGTALK_WEBHOOK_GONE = new Set([300001, 400101, 400102, 400106, 400013]);
const THROTTLE_MS = 10 * 60_000;
/** DingTalk's documented ceiling for one message is 20000 bytes. */
export const DINGTALK_MAX_BYTES = 20_000;

/** The signature DingTalk expects, before URL encoding. */
export function dingTalkSign(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

/** The webhook URL with &timestamp=..&sign=.. appended (the rest of the URL left as written). */
export function signDingTalkUrl(webhook: string, secret: string, timestampMs: number): string {
  const sep = webhook.includes('?') ? '&' : '?';
  return `${webhook}${sep}timestamp=${timestampMs}&sign=${encodeURIComponent(dingTalkSign(secret, timestampMs))}`;
}

/**
 * `title` is the preview DingTalk shows in the chat list, as plain text (it renders no markdown
 * there): folded to one line by viewOf, not escaped, since an escape would show as written.
 */
type DingTalkBody = { msgtype: 'markdown'; markdown: { title: string; text: string } };

/**
 * The request body for a notification: markdown, cut by whole items until the whole JSON body is
 * within DingTalk's size limit (JSON escaping makes every line break two bytes).
 */
export function dingTalkBody(n: AlertNotification): DingTalkBody {
  const view = viewOf(n);
  const build = (text: string): DingTalkBody => ({ msgtype: 'markdown', markdown: { title: view.title, text } });
  const { text } = fitText(markdown(view, DIALECTS.dingtalk), (t) => utf8Bytes(JSON.stringify(build(t))), DINGTALK_MAX_BYTES);
  return build(text);
}

export class DingTalkSink implements AlertSink {
  readonly name = 'dingtalk';
  readonly perMinute = 20;
  readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly webhook: string,
    private readonly secret?: string,
    opts: SinkOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  /** False for a robot without "加签" (it must then use keyword or IP allow-list security). */
  get signed(): boolean {
    return !!this.secret;
  }

  async send(notification: AlertNotification): Promise<void> {
    const url = new URL(this.secret ? signDingTalkUrl(this.webhook, this.secret, this.now()) : this.webhook);
    const secrets = this.secret ? [this.secret] : [];
    const reply = await postJson(this.name, url, JSON.stringify(dingTalkBody(notification)), { timeoutMs: this.timeoutMs, secrets });
    const json = isRecord(reply.json) ? reply.json : undefined;
    const errcode = json && typeof json['errcode'] === 'number' ? json['errcode'] : undefined;
    if (errcode === undefined) {
      throw (
        httpStatusFailure(this.name, url, reply, secrets) ??
        new SinkDeliveryError(this.name, `unexpected reply from ${redactUrl(url)} (HTTP ${reply.status}, no errcode): ${excerpt(reply.text, [...secretsOfUrl(url), ...secrets])}`, false, undefined, `HTTP ${reply.status}`)
      );
    }
    if (errcode === 0) return;
    const errmsg = excerpt(String(json?.['errmsg'] ?? ''), [...secretsOfUrl(url), ...secrets]);
    if (errcode === DINGTALK_THROTTLED || errcode === DINGTALK_RATE_LIMITED) {
      throw new SinkDeliveryError(this.name, `throttled (errcode ${errcode}: ${errmsg}); DingTalk holds the robot for 10 minutes`, true, THROTTLE_MS);
    }
    if (errcode === DINGTALK_SECURITY_FAILED) {
      throw new SinkDeliveryError(
        this.name,
        `rejected by the robot's security settings (errcode ${errcode}: ${errmsg}); check ALERT_DINGTALK_SECRET, the robot's keywords and IP allow-list`,
        false,
        undefined,
        String(errcode),
      );
    }
    if (DINGTALK_WEBHOOK_GONE.has(errcode)) {
      throw new SinkDeliveryError(this.name, `the webhook reaches no robot (errcode ${errcode}: ${errmsg}); check ALERT_DINGTALK_WEBHOOK`, false, undefined, String(errcode));
    }
    // -1: "system busy"; everything else (a bad body, content the robot refuses) will not get better by itself.
    throw unknownCodeFailure(this.name, `errcode ${errcode} (HTTP ${reply.status}) from ${redactUrl(url)}: ${errmsg}`, reply, errcode === -1, errcode);
  }
}
