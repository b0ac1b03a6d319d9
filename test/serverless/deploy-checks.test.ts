// serverless/deploy-checks.js: what fails packaging before anything is built into templates.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ALERT_POLICY_VARIABLES, ALERT_SINK_SETTINGS, deployChecks as checks, loadDeployReaders, stageCharsetProblem, stageLimits, stageTooLong } from '../../serverless/deploy-checks.js';
import { ALERT_ENV } from '../../shared/alerts/sinks/env.ts';
import { ALERT_POLICY_READERS } from '../../shared/config/monitor.ts';
import { readAlertSettings } from '../../shared/services/config-check.ts';

/** With the functions' own readers, as the plugin gives them. */
const deployChecks = (svc: Parameters<typeof checks>[0]) => checks(svc, { readAlertSettings });

const SINKS = { ALERT_DINGTALK_WEBHOOK: '', ALERT_LARK_WEBHOOK: '', ALERT_WECOM_WEBHOOK: '', ALERT_SLACK_WEBHOOK: '', ALERT_WEBHOOK_URL: '' };
/** As serverless.yml has it: health-monitor and cams-events deliver alerts through the same sinks (`sinks`) and policy (`policy`); `camsEventsSinks` and `camsEventsPolicy` set cams-events' apart. */
type Alerting = Record<string, string>;
const service = (stage: string, env: { API_KEYS?: string; STORE_URL?: string; MONITOR_TARGETS?: string; CAMS_RECEIPT_TOKEN?: string; sinks?: Alerting; camsEventsSinks?: Alerting; policy?: Alerting; camsEventsPolicy?: Alerting } = {}) => {
  const sinks = { ...SINKS, ALERT_SLACK_WEBHOOK: 'https://hooks.slack.com/x', ...env.sinks };
  const policy = { ALERT_REPEAT_INTERVAL: '', ALERT_MIN_CONSECUTIVE: '', ...env.policy };
  return {
    stage,
    environment: { CAMS_ENDPOINT: '', STORE_URL: env.STORE_URL ?? 'redis://cache:6379/0' },
    functions: {
      'bind-waba': { environment: { API_KEYS: env.API_KEYS ?? 'k1:secret-1,k2:secret-2' } },
      'health-monitor': { environment: { MONITOR_TARGETS: env.MONITOR_TARGETS ?? '[]', ...policy, ...sinks } },
      'cams-events': { environment: { CAMS_RECEIPT_TOKEN: env.CAMS_RECEIPT_TOKEN ?? 'a-receipt-token-0123456789', ...(env.camsEventsPolicy ?? policy), ...(env.camsEventsSinks ?? sinks) } },
    },
  };
};

describe('deployChecks', () => {
  it('passes a complete prod configuration', () => {
    expect(deployChecks(service('prod'))).toEqual({ errors: [], warnings: [] });
  });

  it('fails any stage but dev on an empty API_KEYS, naming the variable and its functions, never a value', () => {
    for (const stage of ['prod', 'staging']) {
      const { errors } = deployChecks(service(stage, { API_KEYS: '  ' }));
      expect(errors).toEqual([expect.stringMatching(/^API_KEYS is empty: .*stage "[a-z]+"; used by "bind-waba"/)]);
    }
    expect(deployChecks(service('prod', { API_KEYS: 'no-secret-here' })).errors).toEqual([expect.stringMatching(/^API_KEYS is malformed/)]);
    expect(JSON.stringify(deployChecks(service('prod', { API_KEYS: 'id-only,k:verysecret' })))).not.toContain('verysecret');
    expect(deployChecks(service('dev', { API_KEYS: '' })).errors).toEqual([]);
  });

  it('fails any stage but dev when STORE_URL is not redis:// or rediss://', () => {
    for (const url of ['', 'file:./.data', 'memory:', 'http://cache:6379', 'redis://']) {
      expect(deployChecks(service('prod', { STORE_URL: url })).errors, url).toEqual([expect.stringMatching(/^STORE_URL must be redis:\/\/… or rediss:\/\/… .*used by "bind-waba", "health-monitor"/)]);
    }
    expect(deployChecks(service('prod', { STORE_URL: 'rediss://:pw@cache:6380/1' })).errors).toEqual([]);
    expect(deployChecks(service('dev', { STORE_URL: '' })).errors).toEqual([]);
  });

  it('fails any stage but dev on an empty CAMS_RECEIPT_TOKEN (every receipt would be refused), naming it and its function', () => {
    expect(deployChecks(service('prod', { CAMS_RECEIPT_TOKEN: ' ' })).errors).toEqual([expect.stringMatching(/^CAMS_RECEIPT_TOKEN is empty: .*\(stage "prod"; used by "cams-events"\)/)]);
    expect(deployChecks(service('dev', { CAMS_RECEIPT_TOKEN: '' })).errors).toEqual([]);
  });

  it("fails, on any stage, a variable or VPC setting that still holds README's placeholder …, naming it, never its value", () => {
    for (const stage of ['dev', 'prod']) {
      const svc = { ...service(stage, { sinks: { ALERT_DINGTALK_WEBHOOK: 'https://oapi.dingtalk.com/robot/send?access_token=…' } }), vpcConfig: { vpcId: 'vpc-…', vSwitchIds: 'vsw-…,vsw-…', securityGroupId: 'sg-t4nexample' } };
      const { errors } = deployChecks(svc);
      expect(errors).toEqual([
        expect.stringMatching(/^VPC_ID still holds README's placeholder "…": set the real value \(custom\.fc3\.vpcConfig\.vpcId\)$/),
        expect.stringMatching(/^VSWITCH_IDS still holds README's placeholder "…"/),
        expect.stringMatching(/^ALERT_DINGTALK_WEBHOOK still holds README's placeholder "…": set the real value \(used by "health-monitor", "cams-events"\)$/),
      ]);
      expect(JSON.stringify(errors)).not.toContain('dingtalk.com');
    }
    expect(deployChecks({ ...service('prod'), vpcConfig: { vpcId: 'vpc-t4n0example', vSwitchIds: 'vsw-t4na', securityGroupId: 'sg-t4nexample' } }).errors).toEqual([]);
  });

  it('warns, on dev, of each local default the package keeps that would not work on FC (it deploys as readily as prod)', () => {
    const { errors, warnings } = deployChecks(service('dev', { API_KEYS: '', STORE_URL: '', CAMS_RECEIPT_TOKEN: '' }));
    expect(errors).toEqual([]);
    expect(warnings).toEqual([expect.stringMatching(/^stage "dev" keeps the local defaults, so this package does not work on FC as it is: API_KEYS is empty .*; STORE_URL is not redis:\/\/… .*; CAMS_RECEIPT_TOKEN is empty .*--stage prod/)]);
    expect(deployChecks(service('dev')).warnings).toEqual([]);
    expect(deployChecks(service('dev', { STORE_URL: 'file:./.data' })).warnings).toEqual([expect.stringMatching(/: STORE_URL is not redis:\/\/… \(the file store is neither shared between instances nor writable on FC\)\. Set them/)]);
  });

  it('warns when the monitor has no alert sink', () => {
    expect(deployChecks(service('prod', { sinks: { ALERT_SLACK_WEBHOOK: '' } })).warnings).toEqual([
      expect.stringMatching(/^function "health-monitor": no alert sink is configured/),
      expect.stringMatching(/^function "cams-events": no alert sink is configured/),
    ]);
  });

  it('fails any stage but dev (warns on dev) when health-monitor and cams-events, which both deliver alerts, have different sink settings, naming them and each variable, never a value', () => {
    const dingtalk = 'https://oapi.dingtalk.com/robot/send?access_token=abc123';
    // A DingTalk robot on the monitor only: cams-events would send the monitor's alerts to Slack alone.
    const monitorOnly = { camsEventsSinks: { ...SINKS, ALERT_SLACK_WEBHOOK: 'https://hooks.slack.com/x' }, sinks: { ALERT_DINGTALK_WEBHOOK: dingtalk, ALERT_DINGTALK_SECRET: 'SEC-dingtalk' } };
    const differ = /^the alert sinks of "health-monitor", "cams-events" differ: ALERT_DINGTALK_WEBHOOK \(set on "health-monitor" only\), ALERT_DINGTALK_SECRET \(set on "health-monitor" only\)\. .*give them the same sink settings/;
    for (const stage of ['prod', 'staging']) {
      const { errors, warnings } = deployChecks(service(stage, monitorOnly));
      expect(errors).toEqual([expect.stringMatching(differ)]);
      expect(errors[0]).toContain(`(stage "${stage}")`);
      expect(warnings).toEqual([]);
      expect(JSON.stringify(errors)).not.toMatch(/abc123|SEC-dingtalk|hooks\.slack/);
    }
    const dev = deployChecks(service('dev', monitorOnly));
    expect(dev.errors).toEqual([]);
    expect(dev.warnings).toEqual([expect.stringMatching(differ)]);
    // Both set, to different values; a setting left out counts as empty, as the sinks read it.
    expect(deployChecks(service('prod', { camsEventsSinks: { ALERT_SLACK_WEBHOOK: 'https://hooks.slack.com/y' } })).errors).toEqual([
      expect.stringMatching(/: ALERT_SLACK_WEBHOOK \(set to different values\)\. /),
    ]);
    expect(deployChecks(service('prod', { camsEventsSinks: { ALERT_SLACK_WEBHOOK: ' https://hooks.slack.com/x ' } })).errors).toEqual([]);
    // Every variable the sinks read is compared.
    expect([...ALERT_SINK_SETTINGS].sort()).toEqual(Object.values(ALERT_ENV).sort());
    // Only one of them packaged: nothing to compare.
    const alone = service('prod', monitorOnly);
    const { 'cams-events': _dropped, ...functions } = alone.functions;
    expect(deployChecks({ ...alone, functions }).errors).toEqual([]);
  });

  it('fails any stage but dev (warns on dev) when health-monitor and cams-events have a different alert policy (ALERT_REPEAT_INTERVAL, ALERT_MIN_CONSECUTIVE), compared as they read it, naming each variable, never a value', () => {
    // A longer interval and a higher threshold on the monitor only: a receipt's check in cams-events fired, and reminded, by its own.
    const apart = { policy: { ALERT_REPEAT_INTERVAL: '7h', ALERT_MIN_CONSECUTIVE: '3' }, camsEventsPolicy: { ALERT_REPEAT_INTERVAL: '', ALERT_MIN_CONSECUTIVE: '2' } };
    const differ = /^the alert policy of "health-monitor", "cams-events" differs: ALERT_REPEAT_INTERVAL \(set on "health-monitor" only\), ALERT_MIN_CONSECUTIVE \(set to different values\)\. .*give them the same policy settings/;
    for (const stage of ['prod', 'staging']) {
      const { errors, warnings } = deployChecks(service(stage, apart));
      expect(errors).toEqual([expect.stringMatching(differ)]);
      expect(errors[0]).toContain(`(stage "${stage}")`);
      expect(warnings).toEqual([]);
      expect(errors[0]).not.toContain('7h');
    }
    const dev = deployChecks(service('dev', apart));
    expect(dev.errors).toEqual([]);
    expect(dev.warnings).toEqual([expect.stringMatching(differ)]);
    // Read as the functions read them: unset is the default (4h, 1), a duration by its length, a count by its number.
    const same = (policy: Alerting, camsEventsPolicy: Alerting) => expect(deployChecks(service('prod', { policy, camsEventsPolicy })).errors, JSON.stringify([policy, camsEventsPolicy])).toEqual([]);
    same({ ALERT_REPEAT_INTERVAL: '4h', ALERT_MIN_CONSECUTIVE: '1' }, {});
    same({ ALERT_REPEAT_INTERVAL: '240m', ALERT_MIN_CONSECUTIVE: '02' }, { ALERT_REPEAT_INTERVAL: ' 14400 ', ALERT_MIN_CONSECUTIVE: '2' });
    same({ ALERT_REPEAT_INTERVAL: '1.5h' }, { ALERT_REPEAT_INTERVAL: '90m' });
    expect(deployChecks(service('prod', { policy: { ALERT_REPEAT_INTERVAL: '4h' }, camsEventsPolicy: { ALERT_REPEAT_INTERVAL: '5h' } })).errors).toEqual([
      expect.stringMatching(/: ALERT_REPEAT_INTERVAL \(set to different values\)\. /),
    ]);
    // One the function refuses (under its 5m floor) is said as refused, not compared.
    expect(deployChecks(service('prod', { policy: { ALERT_REPEAT_INTERVAL: '4h' }, camsEventsPolicy: { ALERT_REPEAT_INTERVAL: '4m' } })).errors).toEqual([
      expect.stringMatching(/^function "cams-events" would refuse ALERT_REPEAT_INTERVAL at start \(must be at least 5m: .*\) \(stage "prod"\)$/),
    ]);
    // Sinks and policy both apart: each said.
    expect(deployChecks(service('prod', { ...apart, camsEventsSinks: { ALERT_SLACK_WEBHOOK: 'https://hooks.slack.com/y' } })).errors).toEqual([
      expect.stringMatching(/^the alert sinks of .*: ALERT_SLACK_WEBHOOK \(set to different values\)/),
      expect.stringMatching(differ),
    ]);
    // Every ALERT_* setting the deliverers' configuration reads is compared, by the reader the code uses.
    const read = readFileSync(new URL('../../shared/config/monitor.ts', import.meta.url), 'utf8');
    expect([...new Set([...read.matchAll(/'(ALERT_[A-Z_]+)'/g)].map((m) => m[1]))].sort()).toEqual([...ALERT_POLICY_VARIABLES].sort());
    expect(Object.keys(ALERT_POLICY_READERS).sort()).toEqual([...ALERT_POLICY_VARIABLES].sort());
  });

  it('fails any stage but dev (warns on dev) on an alert setting of white space alone that the function refuses at start, naming the function and the variable; a secret of white space is unset, as the sinks read it', () => {
    const blank = { policy: { ALERT_REPEAT_INTERVAL: '  ' }, camsEventsPolicy: { ALERT_REPEAT_INTERVAL: '' }, camsEventsSinks: { ...SINKS, ALERT_SLACK_WEBHOOK: 'https://hooks.slack.com/x', ALERT_LARK_WEBHOOK: ' ' } };
    const refused = (fn: string, name: string) => new RegExp(`^function "${fn}" would refuse ${name} at start \\(.+\\): it holds only white space, which is not unset: leave it empty for the default, or set it`);
    for (const stage of ['prod', 'staging']) {
      const { errors, warnings } = deployChecks(service(stage, blank));
      expect(errors).toEqual([expect.stringMatching(refused('health-monitor', 'ALERT_REPEAT_INTERVAL')), expect.stringMatching(refused('cams-events', 'ALERT_LARK_WEBHOOK'))]);
      for (const e of errors) expect(e).toContain(`(stage "${stage}")`);
      expect(warnings).toEqual([]);
    }
    const dev = deployChecks(service('dev', blank));
    expect(dev.errors).toEqual([]);
    expect(dev.warnings).toEqual([expect.stringMatching(refused('health-monitor', 'ALERT_REPEAT_INTERVAL')), expect.stringMatching(refused('cams-events', 'ALERT_LARK_WEBHOOK'))]);
    // A count of white space on both: each function named.
    const both = deployChecks(service('prod', { policy: { ALERT_MIN_CONSECUTIVE: ' ' } })).errors;
    expect(both).toEqual([expect.stringMatching(refused('health-monitor', 'ALERT_MIN_CONSECUTIVE')), expect.stringMatching(refused('cams-events', 'ALERT_MIN_CONSECUTIVE'))]);
    // A secret of white space is read as unset: it agrees with one left empty, and nothing is refused.
    expect(deployChecks(service('prod', { sinks: { ALERT_DINGTALK_SECRET: '' }, camsEventsSinks: { ...SINKS, ALERT_SLACK_WEBHOOK: 'https://hooks.slack.com/x', ALERT_DINGTALK_SECRET: '   ' } })).errors).toEqual([]);
    // Never a value: a refused interval is named without what it held.
    const bad = deployChecks(service('prod', { policy: { ALERT_REPEAT_INTERVAL: 'seven-hours' } })).errors;
    expect(bad).toHaveLength(2);
    expect(bad.join('\n')).not.toContain('seven-hours');
  });

  it('loads the functions\' own readers for the plugin, through tsx', async () => {
    const readers = await loadDeployReaders();
    expect(readers.readAlertSettings({ ALERT_REPEAT_INTERVAL: '240m' })['ALERT_REPEAT_INTERVAL']).toEqual({ value: String(4 * 3_600_000) });
    expect(readers.readAlertSettings({ ALERT_MIN_CONSECUTIVE: ' ' })['ALERT_MIN_CONSECUTIVE']!.problem!.variable).toBe('ALERT_MIN_CONSECUTIVE');
  });

  it("fails a function whose environment is over FC's 4 KB, naming it and its largest variables", () => {
    const targets = JSON.stringify(Array.from({ length: 80 }, (_, i) => ({ CustSpaceId: `cs-${i}`, NodeType: 'waba', WabaId: String(1e9 + i) })));
    expect(Buffer.byteLength(targets)).toBeGreaterThan(5000); // ~5 KB
    for (const stage of ['dev', 'prod']) {
      const { errors } = deployChecks(service(stage, { MONITOR_TARGETS: targets }));
      expect(errors).toEqual([expect.stringMatching(/^function "health-monitor": its environment variables take \d+ bytes, Function Compute allows 4096 in all; largest: MONITOR_TARGETS \(\d+ B\), /)]);
      expect(errors[0]).not.toContain('cs-1');
    }
    // right at the limit passes: names and values are counted, nothing else
    const fits = { stage: 'dev', functions: { f: { environment: { A: 'x'.repeat(4095) } } } };
    expect(deployChecks(fits).errors).toEqual([]);
    fits.functions.f.environment.A += 'x';
    expect(deployChecks(fits).errors).toHaveLength(1);
  });

  it("weighs an environment as dist/s.yaml holds it too: a *_FUNCTION there carries the longer FC 3.0 name, which FC counts against its 4 KB", () => {
    // onboarding-api's, 4096 bytes in the FC 2.0 templates (ONBOARDING_FUNCTION: onboarding), more in s.yaml (cams-fc-prod-onboarding)
    const env = (apiKeys: string) => ({ API_KEYS: apiKeys, ONBOARDING_FUNCTION: 'onboarding' });
    const fill = 4096 - Buffer.byteLength('API_KEYS' + 'ONBOARDING_FUNCTION' + 'onboarding');
    const svc = (apiKeys: string) => ({ service: 'cams-fc', stage: 'prod', functions: { 'onboarding-api': { environment: env(apiKeys) }, onboarding: {} } });
    const keys = `k1:${'s'.repeat(fill - 3)}`;
    const { errors } = deployChecks(svc(keys));
    expect(errors).toEqual([
      expect.stringMatching(/^function "onboarding-api": its environment variables take 4109 bytes in dist\/s\.yaml \(with the FC 3\.0 function names of its \*_FUNCTION variables\), Function Compute allows 4096 in all; largest: API_KEYS \(\d+ B\), ONBOARDING_FUNCTION \(42 B\)$/),
    ]);
    expect(errors[0]).not.toContain('sss');
    // 13 bytes shorter: both routes' fit
    expect(deployChecks(svc(keys.slice(0, -13))).errors).toEqual([]);
  });

  it("fails, on any stage, an mns event whose regionId is not the functions' region (FC reads a queue in the function's own region only)", () => {
    const svc = (regionId?: string) => ({ stage: 'dev', region: 'ap-southeast-1', functions: { f: { events: [{ mns: { queueName: 'q-1', ...(regionId ? { regionId } : {}) } }] } } });
    expect(deployChecks(svc('cn-hangzhou')).errors).toEqual([
      `function "f": mns queue q-1 has regionId cn-hangzhou, not the functions' region ap-southeast-1: FC reads a queue in the function's own region only (leave regionId out)`,
    ]);
    expect(deployChecks(svc('ap-southeast-1')).errors).toEqual([]);
    expect(deployChecks(svc()).errors).toEqual([]);
  });

  it('fails --use-openssl-ca without SSL_CERT_DIR, on any stage, naming it', () => {
    const roots = { NODE_OPTIONS: '--max-old-space-size=200 --use-openssl-ca', SSL_CERT_DIR: '/code/certs', SSL_CERT_FILE: '/code/certs/none.pem' };
    const svc = (env: Record<string, string>) => ({ stage: 'dev', environment: env, functions: { f: {} } });
    expect(deployChecks(svc(roots)).errors).toEqual([]);
    expect(deployChecks(svc({ ...roots, SSL_CERT_DIR: ' ' })).errors).toEqual([expect.stringMatching(/^function "f": NODE_OPTIONS has --use-openssl-ca but SSL_CERT_DIR is not set/)]);
    const { SSL_CERT_DIR: _dir, ...noDir } = roots;
    expect(deployChecks({ ...svc(noDir), stage: 'prod' }).errors).toEqual([expect.stringMatching(/^function "f": NODE_OPTIONS has --use-openssl-ca but SSL_CERT_DIR is not set/)]);
    // SSL_CERT_FILE only keeps OpenSSL from also reading a bundle file
    const { SSL_CERT_FILE: _file, ...noFile } = roots;
    expect(deployChecks(svc(noFile)).errors).toEqual([]);
    // without the flag Node keeps its bundled roots and never reads either
    expect(deployChecks(svc({ NODE_OPTIONS: '--use-bundled-ca' })).errors).toEqual([]);
    expect(deployChecks(svc({ NODE_OPTIONS: '--use-openssl-ca-x' })).errors).toEqual([]);
  });

  it('fails an @every timer FC refuses (seconds, or no interval), naming the function; whole minutes and cron pass', () => {
    const timer = (cronExpression: string) => ({ stage: 'dev', functions: { monitor: { events: [{ timer: { cronExpression } }] } } });
    for (const ok of ['@every 1m', '@every 5m', '@every 1h30m', '@every 2h', 'CRON_TZ=Asia/Shanghai @every 10m', '0 */5 * * * *', '*/30 * * * * *']) {
      expect(deployChecks(timer(ok)).errors, ok).toEqual([]);
    }
    expect(deployChecks(timer('@every 30s')).errors).toEqual([
      'function "monitor": timer cronExpression "@every 30s": seconds are not an interval FC accepts: Function Compute takes whole minutes, at least one (`@every 5m`, `@every 1h30m`)',
    ]);
    for (const bad of ['@every 1m30s', '@every 60s', 'CRON_TZ=Asia/Shanghai @every 45s']) expect(deployChecks(timer(bad)).errors, bad).toEqual([expect.stringMatching(/seconds are not an interval FC accepts/)]);
    expect(deployChecks(timer('@every 0m')).errors).toEqual([expect.stringMatching(/^function "monitor": timer cronExpression "@every 0m": an interval of 0/)]);
    expect(deployChecks({ ...timer('@every 0h0m'), stage: 'prod' }).errors).toContainEqual(expect.stringMatching(/an interval of 0/));
  });

  it('fails a variable name FC refuses', () => {
    const svc = { stage: 'dev', functions: { f: { environment: { FC_REGION: 'x', 'BAD-NAME': 'y', '1ST': 'z', _LEAD: 'u', GOOD_1: 'ok', g_2_: 'ok' } } } };
    expect(deployChecks(svc).errors).toEqual([
      'function "f": environment variable FC_REGION: names starting with FC_ are reserved by Function Compute',
      'function "f": environment variable "BAD-NAME": Function Compute accepts letters, digits and _ only, starting with a letter',
      'function "f": environment variable "1ST": Function Compute accepts letters, digits and _ only, starting with a letter',
      'function "f": environment variable "_LEAD": Function Compute accepts letters, digits and _ only, starting with a letter',
    ]);
  });
});

describe('stageTooLong', () => {
  // The queues as serverless.yml writes them, and as the framework resolves them for a stage.
  const written = {
    functions: {
      onboarding: { events: [{ timer: { cronExpression: '0 * * * * *' } }, { mns: { queueName: '${self:service}-onboarding-${sls:stage}' } }] },
      'cams-events': { events: [{ mns: { queueName: '${self:service}-receipts-${opt:stage, self:provider.stage}' } }] },
      'bind-waba': {},
    },
  };
  const queues = (stage: string, service = 'cams-fc') => ({
    service,
    stage,
    functions: {
      onboarding: { events: [{ timer: { cronExpression: '0 * * * * *' } }, { mns: { queueName: `${service}-onboarding-${stage}` } }] },
      'cams-events': { events: [{ mns: { queueName: `${service}-receipts-${stage}` } }] },
      'bind-waba': {},
    },
  });

  const queueMax = (svc: Parameters<typeof stageLimits>[0], fn: string, w: Parameters<typeof stageLimits>[1] = written) => stageLimits(svc, w).find((n) => n.what === `the MNS queue of function "${fn}"`)?.max;

  it("names --stage and the most it may be, from the name it would push past its limit first: the FC 2.0 route's RAM roles (64)", () => {
    // sls-cams-fc-<stage>-cn-shanghai-exec-role (the plugin's default region): 34 characters besides the stage
    expect(stageTooLong(queues('a'.repeat(30)), written)).toBeUndefined();
    expect(stageTooLong(queues('a'.repeat(31)), written)).toBe(
      "--stage is too long (31 characters): at most 30 here, as the FC 2.0 route's RAM exec role (named by serverless-aliyun-function-compute), sls-cams-fc-<stage>-cn-shanghai-exec-role, would be 65 characters and may have at most 64",
    );
    // With an http event the plugin adds its invoke role, two characters longer; serverless.yml's region.
    // Before, a 26-character stage packaged, and RAM refused the role at `serverless deploy`.
    const http = (stage: string) => ({ ...queues(stage), region: 'ap-southeast-1', functions: { ...queues(stage).functions, 'bind-waba': { events: [{ http: { method: 'post', path: '/waba/bind' } }] } } });
    expect(stageTooLong(http('a'.repeat(25)), written)).toBeUndefined();
    expect(stageTooLong(http('a'.repeat(26)), written)).toBe(
      "--stage is too long (26 characters): at most 25 here, as the FC 2.0 route's RAM invoke role (named by serverless-aliyun-function-compute), sls-cams-fc-<stage>-ap-southeast-1-invoke-role, would be 65 characters and may have at most 64",
    );
    expect(stageTooLong(http('b'.repeat(150)), written)).toMatch(/^--stage is too long \(150 characters\): at most 25 here, as the FC 2.0 route's RAM invoke role/);
    // an underscore in the service is a dash in the role's name, as the plugin writes it
    expect(stageLimits({ service: 'cams_fc', stage: 'dev', functions: {} }).find((n) => n.what.includes('exec role'))).toMatchObject({ name: 'sls-cams-fc-dev-cn-shanghai-exec-role', max: 30 });
  });

  it('each MNS queue (120) allows the stage its template leaves room for', () => {
    expect(queueMax(queues('a'.repeat(102)), 'onboarding')).toBe(101);
    expect(queueMax(queues('a'.repeat(102)), 'cams-events')).toBe(103);
  });

  it("counts the stage where the name's template puts it, not wherever its text is in the name (a service named with it)", () => {
    const stage = 'p'.repeat(60);
    // cams-ppp…-onboarding-ppp…: 137 characters, 77 of them not the stage's. Before, the stage was
    // counted twice: "at most 51", and a 51-character stage still made a 128-character name.
    expect(queueMax(queues(stage, `cams-${stage}`), 'onboarding')).toBe(43);
    // short stage text found elsewhere in the name (stage "fc" in cams-fc-onboarding-fc, made long by its service)
    expect(queueMax(queues('fc', `cams-fc-${'s'.repeat(100)}`), 'onboarding')).toBe(0);
    expect(stageTooLong(queues('fc', `cams-fc-${'s'.repeat(100)}`), written)).toMatch(/^--stage is too long \(2 characters\): at most 0 here, as the FC 2.0 route's RAM exec role/);
  });

  it("dist/s.yaml's name (<service>-<stage>, 128) counts too; a name without the stage, or one whose template is unknown, is not the stage's doing", () => {
    expect(stageLimits({ service: 'cams-fc', stage: 'c'.repeat(121), functions: {} }).find((n) => n.what === 'the name of dist/s.yaml')).toMatchObject({ shown: 'cams-fc-<stage>', limit: 128, max: 120 });
    const q = 'q'.repeat(130);
    const unstaged = { service: 'cams-fc', stage: 'dev', functions: { f: { events: [{ mns: { queueName: q } }] } } };
    expect(stageTooLong(unstaged, { functions: { f: { events: [{ mns: { queueName: q } }] } } })).toBeUndefined();
    expect(queueMax(unstaged, 'f', { functions: { f: { events: [{ mns: { queueName: q } }] } } })).toBeUndefined();
    // left to the schema, whose pattern names the queue
    expect(queueMax(queues('a'.repeat(102)), 'onboarding', null)).toBeUndefined();
  });
});

describe('stageCharsetProblem', () => {
  it("refuses a stage the FC 2.0 route's logstore (<service>-<stage>: lowercase, ending with a letter or digit) would refuse, naming --stage and the rule", () => {
    for (const ok of ['dev', 'prod', 'qa-1', 'eu-west-2', '7']) expect(stageCharsetProblem({ service: 'cams-fc', stage: ok }), ok).toBeUndefined();
    // Before, it packaged, and Log Service refused the logstore cams-fc-Prod at `serverless deploy`.
    expect(stageCharsetProblem({ service: 'cams-fc', stage: 'Prod' })).toBe(
      '--stage "Prod" must be lowercase letters, digits and -, ending with a letter or digit (--stage prod): ' +
        "it names the FC 2.0 route's Log Service logstore, cams-fc-<stage> (named by serverless-aliyun-function-compute), and Log Service takes no other (packaging writes both routes)",
    );
    expect(stageCharsetProblem({ service: 'cams-fc', stage: 'QA-EU' })).toMatch(/^--stage "QA-EU" must be lowercase .*\(--stage qa-eu\)/);
    // the logstore must end with a letter or digit: no lowercase of it would do, so no hint
    expect(stageCharsetProblem({ service: 'cams-fc', stage: 'prod-' })).toMatch(/^--stage "prod-" must be lowercase letters, digits and -, ending with a letter or digit: it names/);
    expect(stageCharsetProblem({ service: 'cams-fc', stage: 'Prod-' })).toMatch(/^--stage "Prod-" must be [^(]*: it names/);
  });

  it('every name it goes into takes such a stage: the logstore and API group are listed with their limits', () => {
    const svc = { service: 'cams-fc', stage: 'prod', region: 'ap-southeast-1', functions: { f: { events: [{ http: { method: 'get', path: '/x' } }] } } };
    const limits = stageLimits(svc);
    expect(limits.find((n) => n.what.includes('logstore'))).toMatchObject({ name: 'cams-fc-prod', shown: 'cams-fc-<stage>', limit: 63, max: 55 });
    expect(limits.find((n) => n.what.includes('API Gateway group'))).toMatchObject({ name: 'cams_fc_prod_api', shown: 'cams_fc_<stage>_api', limit: 50, max: 38 });
    // no http event, no API group
    expect(stageLimits({ ...svc, functions: { f: {} } }).find((n) => n.what.includes('API Gateway group'))).toBeUndefined();
  });
});
