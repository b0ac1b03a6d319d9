// The sinks the monitor delivers to, and how the environment configures them.
export { sinksFromEnv } from './env.ts';
export { DingTalkSink } from './dingtalk.ts';
export { LarkSink } from './lark.ts';
export { WeComSink } from './wecom.ts';
export { SlackSink } from './slack.ts';
export { WebhookSink } from './webhook.ts';
