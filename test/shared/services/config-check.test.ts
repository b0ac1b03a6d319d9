import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHECKED_VARIABLES, configProblems, readAlertSettings } from '../../../shared/services/config-check.ts';

const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));

const problems = (env: Record<string, string>) => configProblems(env).map((e) => e.variable);

describe('configProblems: each variable checked as the function that reads it checks it', () => {
  it('knows every variable shared/ reads through readEnv, parseDuration or a ConfigError (a new one must be added here)', () => {
    const sources = (readdirSync(SHARED, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(SHARED, f), 'utf8'));
    const named = new Set(sources.flatMap((src) => [...src.matchAll(/(?:readEnv\(env, |new ConfigError\(|parseDuration\()'([A-Z_]+)'/g)].map((m) => m[1]!)));
    expect(named.size).toBeGreaterThan(8);
    expect([...named].filter((v) => !CHECKED_VARIABLES.includes(v))).toEqual([]);
  });

  it('good values and empty ones (the default) pass', () => {
    expect(
      configProblems({
        API_KEYS: 'caller:caller-secret-01',
        STORE_URL: 'redis://:pw@127.0.0.1:6379/2?namespace=cams-fc-prod:',
        CAMS_ENDPOINT: 'https://cams.ap-southeast-1.aliyuncs.com',
        CAMS_QPS: 'GetWhatsappHealthStatus=20',
        MAX_BODY_BYTES: '65536',
        MONITOR_QPS: '2.5',
        ALERT_MIN_CONSECUTIVE: '2',
        ALERT_REPEAT_INTERVAL: '4h',
        DISCOVERY_INTERVAL: '30m',
        CAMS_RECEIPT_TOKEN: 'a-receipt-token-of-32-characters',
        STATUS_PAGE_TOKEN: 'a-status-page-token-0123',
        STATUS_PAGE_PUBLIC: 'false',
        STATUS_PAGE_REFRESH: '30',
        LOG_LEVEL: 'warn',
        MONITOR_TARGETS: '[{"CustSpaceId":"C24854730574495","NodeType":"phone","PhoneNumber":"8613800000000"}]',
        ALERT_SLACK_WEBHOOK: 'https://hooks.slack.com/services/T/B/x',
        MONITOR_QPS_UNUSED: 'not ours',
        ALERT_DINGTALK_WEBHOOK: '',
      }),
    ).toEqual([]);
  });

  it.each([
    ['API_KEYS', 'no-secret'],
    ['STORE_URL', 'redis://127.0.0.1:6379/abc'],
    ['STORE_URL', 'redis://127.0.0.1:6379?foo=1'],
    ['STORE_URL', 'ftp://x'],
    ['CAMS_ENDPOINT', 'not a url'],
    ['CAMS_QPS', 'Foo=3'],
    ['MAX_BODY_BYTES', '-1'],
    ['MONITOR_QPS', 'abc'],
    ['ALERT_MIN_CONSECUTIVE', '0'],
    ['ALERT_REPEAT_INTERVAL', 'soon'],
    // A typo for 4h (4 seconds) would remind at every check; a listing every few seconds spends the budget.
    ['ALERT_REPEAT_INTERVAL', '4'],
    ['ALERT_REPEAT_INTERVAL', '299s'],
    ['DISCOVERY_INTERVAL', '59s'],
    ['DISCOVERY_INTERVAL', '1 week'],
    ['CAMS_RECEIPT_TOKEN', 'short'],
    ['STATUS_PAGE_TOKEN', 'has spaces in it, sixteen+'],
    ['STATUS_PAGE_PUBLIC', 'yes'],
    ['STATUS_PAGE_REFRESH', '1m'],
    ['LOG_LEVEL', 'verbose'],
    ['ALERT_WEBHOOK_URL', 'ftp://alerts.example.com/hook'],
    ['MONITOR_TARGETS', 'junk'],
    ['MONITOR_TARGETS', '{"CustSpaceId":"C24854730574495","NodeType":"waba"}'],
    ['MONITOR_TARGETS', '[{"CustSpaceId":"C24854730574495","NodeType":"phone"}]'],
  ])('%s=%j is refused, naming the variable', (name, value) => {
    expect(problems({ [name]: value })).toEqual([name]);
  });

  it('the least each interval may be is taken: ALERT_REPEAT_INTERVAL 5m (300 as seconds), DISCOVERY_INTERVAL 1m', () => {
    expect(problems({ ALERT_REPEAT_INTERVAL: '5m', DISCOVERY_INTERVAL: '60' })).toEqual([]);
    expect(problems({ ALERT_REPEAT_INTERVAL: '300' })).toEqual([]);
  });

  it('reports every bad variable, not only the first, and never echoes a secret', () => {
    const secret = 'ftp://user:hunter2-secret@alerts.example.com/hook';
    const found = configProblems({ MONITOR_QPS: 'abc', CAMS_QPS: 'x', ALERT_WEBHOOK_URL: secret, LOG_LEVEL: 'loud', STORE_URL: 'redis://:hunter2-secret@127.0.0.1:6379?foo=1' });
    expect(found.map((e) => e.variable).sort()).toEqual(['ALERT_WEBHOOK_URL', 'CAMS_QPS', 'LOG_LEVEL', 'MONITOR_QPS', 'STORE_URL']);
    expect(found.map((e) => e.message).join('\n')).not.toContain('hunter2');
  });

  it('MONITOR_TARGETS: names each bad entry by its index, as the monitor reports it', () => {
    const [problem, ...rest] = configProblems({ MONITOR_TARGETS: '[{"CustSpaceId":"C24854730574495","NodeType":"waba"},{"CustSpaceId":"C24854730574495","NodeType":"phone"}]' });
    expect(rest).toEqual([]);
    expect(problem!.message).toMatch(/^MONITOR_TARGETS: \[1\] PhoneNumber: /);
    expect(problem!.message).not.toContain('[0]');
  });

  it('MONITOR_TARGETS: an unknown field is named, as the watch list names it', () => {
    const [problem] = configProblems({ MONITOR_TARGETS: '[{"CustSpaceId":"C24854730574495","NodeType":"waba","Colour":"red"}]' });
    expect(problem!.message).toMatch(/^MONITOR_TARGETS: \[0\] Colour: is not a field of a watch target/);
  });

  it('MONITOR_TARGETS: an entry that is not an object says what it must be', () => {
    const [problem] = configProblems({ MONITOR_TARGETS: '[1]' });
    expect(problem!.message).toBe('MONITOR_TARGETS: [0] (target): must be an object {CustSpaceId, NodeType, WabaId?, PhoneNumber?, TemplateCode?, Language?}');
  });

  it('checks the sinks as sinksFromEnv does: a DingTalk robot URL without its access_token is refused', () => {
    expect(problems({ ALERT_DINGTALK_WEBHOOK: 'https://oapi.dingtalk.com/robot/send' })).toEqual(['ALERT_DINGTALK_WEBHOOK']);
  });
});

describe('readAlertSettings: the alert settings as the deliverers read them, for packaging to compare', () => {
  it('gives each policy setting its value (unset or empty: the default) and each sink setting trimmed', () => {
    const read = readAlertSettings({ ALERT_REPEAT_INTERVAL: '240m', ALERT_SLACK_WEBHOOK: ' https://hooks.slack.com/x ', ALERT_DINGTALK_SECRET: '  ' });
    expect(read['ALERT_REPEAT_INTERVAL']).toEqual({ value: String(4 * 3_600_000) });
    expect(read['ALERT_MIN_CONSECUTIVE']).toEqual({ value: '1' });
    expect(read['ALERT_SLACK_WEBHOOK']).toEqual({ value: 'https://hooks.slack.com/x' });
    // a secret of white space alone is unset, as the sinks read it
    expect(read['ALERT_DINGTALK_SECRET']).toEqual({ value: '' });
  });

  it('names every setting of white space alone the functions refuse, each sink too (the sinks stop at the first)', () => {
    const read = readAlertSettings({ ALERT_REPEAT_INTERVAL: ' ', ALERT_MIN_CONSECUTIVE: '  ', ALERT_LARK_WEBHOOK: ' ', ALERT_SLACK_WEBHOOK: '\t', ALERT_WECOM_WEBHOOK: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k' });
    const refused = Object.entries(read).filter(([, r]) => r.problem).map(([name, r]) => [name, r.problem!.variable]);
    expect(refused.sort()).toEqual([['ALERT_LARK_WEBHOOK', 'ALERT_LARK_WEBHOOK'], ['ALERT_MIN_CONSECUTIVE', 'ALERT_MIN_CONSECUTIVE'], ['ALERT_REPEAT_INTERVAL', 'ALERT_REPEAT_INTERVAL'], ['ALERT_SLACK_WEBHOOK', 'ALERT_SLACK_WEBHOOK']]);
    expect(read['ALERT_WECOM_WEBHOOK']).toEqual({ value: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k' });
  });
});
