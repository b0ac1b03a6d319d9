import { afterEach, describe, expect, it, vi } from 'vitest';
import { SinkDeliveryError } from '../../../../shared/alerts/model.ts';
import { DingTalkSink, LarkSink, SlackSink, sinksFromEnv, WebhookSink, WeComSink } from '../../../../shared/alerts/sinks/index.ts';
import { ConfigError } from '../../../../shared/config/env.ts';
import { startReceivers, type Receivers } from '../../../support/receivers/index.ts';
import { notification } from './fixtures.ts';

const DT = 'https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef';
const LARK = 'https://open.feishu.cn/open-apis/bot/v2/hook/0f3a2b7c-1d4e-4f5a-9b8c-7d6e5f4a3b2c';
const WECOM = 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa';
const SLACK = 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';
const HOOK = 'https://alerts.example.com/hooks/cams';

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

let rx: Receivers | undefined;
afterEach(async () => {
  await rx?.close();
  rx = undefined;
  vi.restoreAllMocks();
});

describe('sinksFromEnv', () => {
  it('turns nothing on without variables (empty strings count as unset)', () => {
    expect(sinksFromEnv({})).toEqual([]);
    expect(sinksFromEnv({ ALERT_DINGTALK_WEBHOOK: '', ALERT_LARK_WEBHOOK: '', ALERT_WECOM_WEBHOOK: '', ALERT_SLACK_WEBHOOK: '', ALERT_WEBHOOK_URL: '' })).toEqual([]);
  });

  it('turns each sink on by its own variables, in a fixed order', () => {
    const warn = vi.fn();
    const one = (env: Record<string, string>) => sinksFromEnv(env, { warn });
    expect(one({ ALERT_DINGTALK_WEBHOOK: DT, ALERT_DINGTALK_SECRET: 'SECabc' })[0]).toBeInstanceOf(DingTalkSink);
    expect(one({ ALERT_LARK_WEBHOOK: LARK, ALERT_LARK_SECRET: 'abc' })[0]).toBeInstanceOf(LarkSink);
    expect(one({ ALERT_WECOM_WEBHOOK: WECOM })[0]).toBeInstanceOf(WeComSink);
    expect(one({ ALERT_SLACK_WEBHOOK: SLACK })[0]).toBeInstanceOf(SlackSink);
    expect(one({ ALERT_WEBHOOK_URL: HOOK, ALERT_WEBHOOK_SECRET: 's' })[0]).toBeInstanceOf(WebhookSink);
    expect(warn).not.toHaveBeenCalled();
    const all = one({
      ALERT_WEBHOOK_URL: HOOK,
      ALERT_WEBHOOK_SECRET: 's',
      ALERT_SLACK_WEBHOOK: SLACK,
      ALERT_WECOM_WEBHOOK: WECOM,
      ALERT_LARK_WEBHOOK: LARK,
      ALERT_LARK_SECRET: 'abc',
      ALERT_DINGTALK_WEBHOOK: DT,
      ALERT_DINGTALK_SECRET: 'SECabc',
    });
    expect(all.map((s) => [s.name, s.perMinute])).toEqual([
      ['dingtalk', 20],
      ['lark', 100],
      ['wecom', 20],
      ['slack', 60],
      ['webhook', 60],
    ]);
  });

  it('a URL that is not http(s) is a ConfigError naming the variable, never echoing the value', () => {
    for (const name of ['ALERT_DINGTALK_WEBHOOK', 'ALERT_LARK_WEBHOOK', 'ALERT_WECOM_WEBHOOK', 'ALERT_SLACK_WEBHOOK', 'ALERT_WEBHOOK_URL']) {
      for (const value of ['ftp://host/x?access_token=tok-SECRET-1', 'not a url tok-SECRET-1']) {
        const err = configError(() => sinksFromEnv({ [name]: value, ALERT_WEBHOOK_SECRET: 's' }, { warn: () => {} }));
        expect(err.variable).toBe(name);
        expect(err.message).toContain(name);
        expect(err.message).not.toContain('tok-SECRET-1');
      }
    }
  });

  it('a DingTalk URL without access_token or a WeCom URL without key is a ConfigError', () => {
    expect(configError(() => sinksFromEnv({ ALERT_DINGTALK_WEBHOOK: 'https://oapi.dingtalk.com/robot/send' })).variable).toBe('ALERT_DINGTALK_WEBHOOK');
    expect(configError(() => sinksFromEnv({ ALERT_WECOM_WEBHOOK: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send' })).variable).toBe('ALERT_WECOM_WEBHOOK');
  });

  it('DingTalk and Lark without a secret are allowed (unsigned bots) but noted', () => {
    const warn = vi.fn();
    const sinks = sinksFromEnv({ ALERT_DINGTALK_WEBHOOK: DT, ALERT_LARK_WEBHOOK: LARK }, { warn });
    expect(sinks.map((s) => s.name)).toEqual(['dingtalk', 'lark']);
    expect((sinks[0] as DingTalkSink).signed).toBe(false);
    expect((sinks[1] as LarkSink).signed).toBe(false);
    expect(warn.mock.calls.map((c) => c[1])).toEqual(['ALERT_DINGTALK_SECRET', 'ALERT_LARK_SECRET']);
    expect(String(warn.mock.calls[0]![0])).toMatch(/unsigned/);
  });

  it('the default note is a warn log line that names the variable and carries no URL', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    sinksFromEnv({ ALERT_DINGTALK_WEBHOOK: DT });
    const lines = write.mock.calls.map((c) => String(c[0]));
    const line = lines.find((l) => l.includes('ALERT_DINGTALK_SECRET'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 'warn', variable: 'ALERT_DINGTALK_SECRET' });
    expect(line).not.toContain('0123456789abcdef');
  });

  it('the generic webhook needs its secret; a secret without its URL is only noted', () => {
    expect(configError(() => sinksFromEnv({ ALERT_WEBHOOK_URL: HOOK })).variable).toBe('ALERT_WEBHOOK_SECRET');
    const warn = vi.fn();
    expect(sinksFromEnv({ ALERT_WEBHOOK_SECRET: 's', ALERT_DINGTALK_SECRET: 'x' }, { warn })).toEqual([]);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('startReceivers() env turns on all five sinks, and each delivers to its receiver', async () => {
    rx = await startReceivers();
    const sinks = sinksFromEnv(rx.env, { warn: () => {} });
    expect(sinks.map((s) => s.name)).toEqual(['dingtalk', 'lark', 'wecom', 'slack', 'webhook']);
    for (const s of sinks) await s.send(notification());
    for (const kind of ['dingtalk', 'lark', 'wecom', 'slack', 'webhook'] as const) {
      expect(rx.received[kind]).toHaveLength(1);
      expect(rx.received[kind][0]!.text).toContain('141006');
    }
    rx.failNext('lark', 1);
    const results = await Promise.allSettled(sinks.map((s) => s.send(notification(undefined, { id: 'second' }))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    const failed = (results[1] as PromiseRejectedResult).reason as SinkDeliveryError;
    expect(failed).toBeInstanceOf(SinkDeliveryError);
    expect([failed.sink, failed.retryable]).toEqual(['lark', true]);
  });
});
