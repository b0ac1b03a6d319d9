// WeCom (企业微信) group robot. No signing: the `key` in the webhook URL is the credential, so it is
// kept out of every message. Markdown content is at most 4096 BYTES of UTF-8; 45009 is the
// 20-messages-a-minute limit.
import { SinkDeliveryError, type AlertNotification, type AlertSink } from '../model.ts';
import { DEFAULT_TIMEOUT_MS, excerpt, httpStatusFailure, isRecord, postJson, redactUrl, secretsOfUrl, unknownCodeFailure, type SinkOptions } from './deliver.ts';
import { DIALECTS, fitText, markdown, utf8Bytes, viewOf } from './format.ts';

export const WECOM_MAX_CONTENT_BYTES = 4096;
const WECOM_RATE_LIMITED = 45009;
const WECOM_INVALID_KEY = 93000;
const RATE_WAIT_MS = 60_000;

export function weComBody(n: AlertNotification): { msgtype: 'markdown'; markdown: { content: string } } {
  const { text } = fitText(markdown(viewOf(n), DIALECTS.wecom), utf8Bytes, WECOM_MAX_CONTENT_BYTES);
  return { msgtype: 'markdown', markdown: { content: text } };
}

export class WeComSink implements AlertSink {
  readonly name = 'wecom';
  readonly perMinute = 20;
  readonly timeoutMs: number;

  constructor(
    private readonly webhook: string,
    opts: SinkOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async send(notification: AlertNotification): Promise<void> {
    const url = new URL(this.webhook);
    const secrets = secretsOfUrl(url);
    const reply = await postJson(this.name, url, JSON.stringify(weComBody(notification)), { timeoutMs: this.timeoutMs });
    const json = isRecord(reply.json) ? reply.json : undefined;
    const errcode = json && typeof json['errcode'] === 'number' ? json['errcode'] : undefined;
    if (errcode === undefined) {
      throw (
        httpStatusFailure(this.name, url, reply) ??
        new SinkDeliveryError(this.name, `unexpected reply from ${redactUrl(url)} (HTTP ${reply.status}, no errcode): ${excerpt(reply.text, secrets)}`, false, undefined, `HTTP ${reply.status}`)
      );
    }
    if (errcode === 0) return;
    const errmsg = excerpt(String(json?.['errmsg'] ?? ''), secrets);
    if (errcode === WECOM_RATE_LIMITED) throw new SinkDeliveryError(this.name, `rate limited (errcode ${errcode}: ${errmsg})`, true, RATE_WAIT_MS);
    if (errcode === WECOM_INVALID_KEY) {
      throw new SinkDeliveryError(this.name, `the webhook key is not valid (errcode ${errcode}); check ALERT_WECOM_WEBHOOK`, false, undefined, String(errcode));
    }
    throw unknownCodeFailure(this.name, `errcode ${errcode} (HTTP ${reply.status}) from ${redactUrl(url)}: ${errmsg}`, reply, errcode === -1, errcode);
  }
}
