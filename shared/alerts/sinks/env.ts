// The sinks the environment turns on: each one only when its variables are set. A URL that is not
// http(s) is a ConfigError naming the variable (never echoing the value: it holds a credential).
import * as z from '../../validation/schema.ts';
import { ConfigError, readEnv, urlString, type EnvSource } from '../../config/env.ts';
import { stdoutLog, writeLogRecord } from '../../log/log.ts';
import type { AlertSink } from '../model.ts';
import type { SinkOptions } from './deliver.ts';
import { DingTalkSink } from './dingtalk.ts';
import { LarkSink } from './lark.ts';
import { SlackSink } from './slack.ts';
import { WebhookSink } from './webhook.ts';
import { WeComSink } from './wecom.ts';

export const ALERT_ENV = {
  dingtalkWebhook: 'ALERT_DINGTALK_WEBHOOK',
  dingtalkSecret: 'ALERT_DINGTALK_SECRET',
  larkWebhook: 'ALERT_LARK_WEBHOOK',
  larkSecret: 'ALERT_LARK_SECRET',
  wecomWebhook: 'ALERT_WECOM_WEBHOOK',
  slackWebhook: 'ALERT_SLACK_WEBHOOK',
  webhookUrl: 'ALERT_WEBHOOK_URL',
  webhookSecret: 'ALERT_WEBHOOK_SECRET',
} as const;

export interface SinksFromEnvOptions extends SinkOptions {
  /** Where configuration notes go (an unsigned robot, a secret without its URL); default: a warn log line. */
  warn?: (message: string, variable: string) => void;
}

const optionalUrl = z.optional(urlString);
const optionalSecret = z.optional(z.string());

const defaultWarn = (message: string, variable: string) => writeLogRecord(stdoutLog, { level: 'warn', msg: message, variable });

function url(env: EnvSource, name: string, requiredParam?: string): string | undefined {
  const value = readEnv(env, name, optionalUrl)?.trim();
  if (value && requiredParam && !new URL(value).searchParams.get(requiredParam)) {
    throw new ConfigError(name, `must carry the robot's ${requiredParam} (…?${requiredParam}=…)`);
  }
  return value;
}

function secret(env: EnvSource, name: string): string | undefined {
  return readEnv(env, name, optionalSecret)?.trim() || undefined;
}

/** The configured sinks, in a fixed order: dingtalk, lark, wecom, slack, webhook. */
export function sinksFromEnv(env: EnvSource = process.env, opts: SinksFromEnvOptions = {}): AlertSink[] {
  const warn = opts.warn ?? defaultWarn;
  const sinkOpts: SinkOptions = { ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}), ...(opts.now ? { now: opts.now } : {}) };
  const sinks: AlertSink[] = [];
  const E = ALERT_ENV;

  const dingtalk = url(env, E.dingtalkWebhook, 'access_token');
  const dingtalkSecret = secret(env, E.dingtalkSecret);
  if (dingtalk) {
    if (!dingtalkSecret) warn(`${E.dingtalkSecret} is not set: DingTalk messages go unsigned (the robot must then use keyword or IP allow-list security)`, E.dingtalkSecret);
    sinks.push(new DingTalkSink(dingtalk, dingtalkSecret, sinkOpts));
  } else if (dingtalkSecret) warn(`${E.dingtalkSecret} is set but ${E.dingtalkWebhook} is not: no DingTalk alerts`, E.dingtalkWebhook);

  const lark = url(env, E.larkWebhook);
  const larkSecret = secret(env, E.larkSecret);
  if (lark) {
    if (!larkSecret) warn(`${E.larkSecret} is not set: Lark messages go unsigned (the bot must then use keyword or IP allow-list security)`, E.larkSecret);
    sinks.push(new LarkSink(lark, larkSecret, sinkOpts));
  } else if (larkSecret) warn(`${E.larkSecret} is set but ${E.larkWebhook} is not: no Lark alerts`, E.larkWebhook);

  const wecom = url(env, E.wecomWebhook, 'key');
  if (wecom) sinks.push(new WeComSink(wecom, sinkOpts));

  const slack = url(env, E.slackWebhook);
  if (slack) sinks.push(new SlackSink(slack, sinkOpts));

  const webhook = url(env, E.webhookUrl);
  const webhookSecret = secret(env, E.webhookSecret);
  if (webhook) {
    // The generic webhook is always signed: its receivers verify X-Signature.
    if (!webhookSecret) throw new ConfigError(E.webhookSecret, `is required when ${E.webhookUrl} is set (the webhook is always signed)`);
    sinks.push(new WebhookSink(webhook, webhookSecret, sinkOpts));
  } else if (webhookSecret) warn(`${E.webhookSecret} is set but ${E.webhookUrl} is not: no webhook alerts`, E.webhookUrl);

  return sinks;
}
