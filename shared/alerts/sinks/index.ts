export { sinksFromEnv, ALERT_ENV, type SinksFromEnvOptions } from './env.ts';
export { DingTalkSink, dingTalkSign, signDingTalkUrl, dingTalkBody, DINGTALK_MAX_BYTES, DINGTALK_SECURITY_FAILED, DINGTALK_THROTTLED } from './dingtalk.ts';
export { LarkSink, larkSign, larkBody, LARK_BAD_SIGNATURE, LARK_FREQUENCY_LIMIT, LARK_MAX_BYTES, type LarkMessageType } from './lark.ts';
export { WeComSink, weComBody, WECOM_MAX_CONTENT_BYTES, WECOM_RATE_LIMITED, WECOM_INVALID_KEY, WECOM_CONTENT_TOO_LONG } from './wecom.ts';
export { SlackSink, slackBody, SLACK_MAX_BLOCKS, SLACK_SECTION_MAX_CHARS, SLACK_HEADER_MAX_CHARS } from './slack.ts';
export {
  WebhookSink,
  verifyWebhookSignature,
  signWebhookBody,
  webhookPayload,
  SIGNATURE_HEADER,
  ALERT_ID_HEADER,
  DEFAULT_TOLERANCE_S,
  type WebhookPayload,
} from './webhook.ts';
export { redactUrl, DEFAULT_TIMEOUT_MS, type SinkOptions } from './deliver.ts';
