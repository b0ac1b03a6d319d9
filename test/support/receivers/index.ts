// All five chat/webhook receivers at once, for end-to-end tests: `env` feeds sinksFromEnv,
// `received` shows what each channel accepted, `failNext` scripts 500s for retry paths.
import { startDingTalkReceiver, type DingTalkReceiver, type DingTalkReceiverOptions } from './dingtalk.ts';
import type { ReceivedMessage, ReceiverKind } from './harness.ts';
import { startLarkReceiver, type LarkReceiver, type LarkReceiverOptions } from './lark.ts';
import { startSlackReceiver, type SlackReceiver, type SlackReceiverOptions } from './slack.ts';
import { startWebhookReceiver, type WebhookReceiver, type WebhookReceiverOptions } from './webhook.ts';
import { startWeComReceiver, type WeComReceiver, type WeComReceiverOptions } from './wecom.ts';

export * from './harness.ts';
export * from './dingtalk.ts';
export * from './lark.ts';
export * from './wecom.ts';
export * from './slack.ts';
export * from './webhook.ts';

export const RECEIVER_KINDS: readonly ReceiverKind[] = ['dingtalk', 'lark', 'wecom', 'slack', 'webhook'];

export interface ReceiversOptions {
  /** Receivers to start (default: all five). */
  kinds?: readonly ReceiverKind[];
  /** Shared receiver clock (epoch ms). */
  now?: () => number;
  dingtalk?: DingTalkReceiverOptions;
  lark?: LarkReceiverOptions;
  wecom?: WeComReceiverOptions;
  slack?: SlackReceiverOptions;
  webhook?: WebhookReceiverOptions;
}

export interface Receivers {
  /** ALERT_* variables for sinksFromEnv (webhook URLs and secrets). */
  env: Record<string, string>;
  urls: Partial<Record<ReceiverKind, string>>;
  /** Accepted messages per channel (empty for a channel not started). */
  received: Record<ReceiverKind, ReceivedMessage[]>;
  receivers: { dingtalk?: DingTalkReceiver; lark?: LarkReceiver; wecom?: WeComReceiver; slack?: SlackReceiver; webhook?: WebhookReceiver };
  /** The next `n` requests to that channel answer `status` (default 500). */
  failNext(kind: ReceiverKind, n: number, status?: number): void;
  close(): Promise<void>;
}

export async function startReceivers(opts: ReceiversOptions = {}): Promise<Receivers> {
  const kinds = new Set(opts.kinds ?? RECEIVER_KINDS);
  const clock = opts.now ? { now: opts.now } : {};
  const receivers: Receivers['receivers'] = {};
  const env: Record<string, string> = {};
  const urls: Receivers['urls'] = {};
  try {
    if (kinds.has('dingtalk')) {
      const r = (receivers.dingtalk = await startDingTalkReceiver({ ...clock, ...opts.dingtalk }));
      env['ALERT_DINGTALK_WEBHOOK'] = urls.dingtalk = r.url;
      if (r.secret) env['ALERT_DINGTALK_SECRET'] = r.secret;
    }
    if (kinds.has('lark')) {
      const r = (receivers.lark = await startLarkReceiver({ ...clock, ...opts.lark }));
      env['ALERT_LARK_WEBHOOK'] = urls.lark = r.url;
      if (r.secret) env['ALERT_LARK_SECRET'] = r.secret;
    }
    if (kinds.has('wecom')) {
      const r = (receivers.wecom = await startWeComReceiver({ ...clock, ...opts.wecom }));
      env['ALERT_WECOM_WEBHOOK'] = urls.wecom = r.url;
    }
    if (kinds.has('slack')) {
      const r = (receivers.slack = await startSlackReceiver({ ...clock, ...opts.slack }));
      env['ALERT_SLACK_WEBHOOK'] = urls.slack = r.url;
    }
    if (kinds.has('webhook')) {
      const r = (receivers.webhook = await startWebhookReceiver({ ...clock, ...opts.webhook }));
      env['ALERT_WEBHOOK_URL'] = urls.webhook = r.url;
      env['ALERT_WEBHOOK_SECRET'] = r.secret;
    }
  } catch (e) {
    await Promise.all(Object.values(receivers).map((r) => r.close()));
    throw e;
  }
  const received = Object.fromEntries(RECEIVER_KINDS.map((k) => [k, receivers[k]?.received ?? []])) as Record<ReceiverKind, ReceivedMessage[]>;
  return {
    env,
    urls,
    received,
    receivers,
    failNext(kind, n, status) {
      const r = receivers[kind];
      if (!r) throw new Error(`the ${kind} receiver was not started`);
      r.failNext(n, status);
    },
    close: async () => {
      await Promise.all(Object.values(receivers).map((r) => r.close()));
    },
  };
}
