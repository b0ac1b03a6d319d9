// The FC 3.0 route (serverless/fc3.js, fc3-schema.js): dist/s.yaml generated from the real
// serverless.yml, validated against the vendored fc3 component schema, and the RAM / EventBridge
// files and scripts beside it, run against a recording stand-in for the aliyun CLI.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { fc3Deployment, fc3Resource, packageFc3, type Fc3Deployment, type Fc3Service } from '../../serverless/fc3.js';
import { validateSYaml } from '../../serverless/fc3-schema.js';
import { removeDir, REPO, run } from './support.ts';

// The script tests run ram.sh / eventbridge.sh with sh against a stand-in aliyun CLI, a node process
// per call: one stopped midway took 29.9 s alone on this 2-core machine, at the 30 s default.
vi.setConfig({ testTimeout: 180_000 });

// ---- the contract: what each function may do, and how it is reached ----
const RAM_ACTIONS: Record<string, string[]> = {
  'bind-waba': ['cams:ChatappBindWaba'],
  'query-waba': ['cams:QueryChatappBindWaba'],
  'add-phone-number': ['cams:AddChatappPhoneNumber', 'cams:QueryChatappPhoneNumbers'],
  'get-health-status': ['cams:GetWhatsappHealthStatus'],
  'health-monitor': ['cams:GetWhatsappHealthStatus', 'cams:ListChatappTemplate', 'cams:QueryChatappBindWaba', 'cams:QueryChatappPhoneNumbers'],
  'health-report': [],
  'watch-list': [],
  silences: [],
  'status-page': [],
  'cams-events': ['cams:GetWhatsappHealthStatus', 'cams:QueryChatappBindWaba'],
  onboarding: ['cams:AddChatappPhoneNumber', 'cams:ChatappBindWaba', 'cams:GetWhatsappHealthStatus', 'cams:QueryChatappBindWaba', 'cams:QueryChatappPhoneNumbers'],
  'onboarding-api': ['fc:InvokeFunction'],
};
/** Each function's trigger methods: its routes', and HEAD wherever GET is (answered as GET without the body). */
const HTTP_METHODS: Record<string, string[]> = {
  'bind-waba': ['POST'],
  'query-waba': ['GET', 'HEAD'],
  'add-phone-number': ['POST'],
  'get-health-status': ['GET', 'HEAD'],
  'health-report': ['GET', 'HEAD'],
  'onboarding-api': ['GET', 'HEAD', 'POST'],
  'watch-list': ['DELETE', 'GET', 'HEAD', 'POST'],
  silences: ['DELETE', 'GET', 'HEAD', 'POST'],
  'status-page': ['GET', 'HEAD'],
  'cams-events': ['POST'],
};

type Yml = { service: string; provider: Record<string, any>; functions: Record<string, any>; custom?: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** serverless.yml as the framework resolves it for `stage` with no env set (${env:X, ''} -> ''). */
function resolvedService(stage: string, text = readFileSync(join(REPO, 'serverless.yml'), 'utf8'), envVars: Record<string, string> = {}): Fc3Service {
  const yml = parseYaml(text) as Yml;
  const resolved = text.replace(/\$\{([^}]+)\}/g, (_m, expr: string) => {
    const env = /^env:([A-Z0-9_]+),\s*'([^']*)'$/.exec(expr.trim());
    if (env) return envVars[env[1]!] ?? env[2]!;
    if (expr === 'self:service') return yml.service;
    if (expr === 'sls:stage' || expr === "opt:stage, 'dev'") return stage;
    if (expr === 'self:provider.region') return yml.provider.region as string;
    throw new Error(`test does not know how to resolve \${${expr}}`);
  });
  const y = parseYaml(resolved) as Yml;
  return { service: y.service, stage, region: y.provider.region, runtime: y.provider.runtime, memorySize: y.provider.memorySize, timeout: y.provider.timeout, environment: y.provider.environment, functions: y.functions, vpcConfig: y.custom?.['fc3']?.vpcConfig };
}

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'cams-fc-fc3-'));
  dirs.push(d);
  return d;
};

const svc = resolvedService('dev');
/** A dist/ with a folder per function of svc and the FC 3.0 files packaged for `service` (svc itself by default). */
function packagedDist(service: Fc3Service = svc): string {
  const dist = tmp();
  for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
  packageFc3(dist, service, { validate: validateSYaml });
  return dist;
}
const dep = fc3Deployment(svc);
const props = (key: string) => dep.sYaml.resources[key]!.props;

describe('dist/s.yaml from serverless.yml', () => {
  it('is valid against the vendored fc3 schema', () => {
    expect(validateSYaml(dep.sYaml)).toEqual([]);
    expect(dep.sYaml).toMatchObject({ edition: '3.0.0', name: 'cams-fc-dev', access: 'default' });
  });

  it('has every function with code, runtime, handler, memory, timeout, role and its environment', () => {
    expect(Object.keys(dep.sYaml.resources).sort()).toEqual(Object.keys(RAM_ACTIONS).sort());
    for (const [key, fn] of Object.entries(svc.functions)) {
      const p = props(key);
      expect(dep.sYaml.resources[key]!.component).toBe('fc3');
      expect(p).toMatchObject({
        region: 'ap-southeast-1',
        functionName: `cams-fc-dev-${key}`,
        runtime: 'nodejs20',
        code: `./${key}`,
        handler: 'index.handler',
        memorySize: fn.memorySize ?? svc.memorySize,
        timeout: fn.timeout ?? svc.timeout,
        role: `acs:ram::\${config('AccountID')}:role/cams-fc-dev-${key}`,
      });
      expect(Object.keys(p.environmentVariables).sort(), key).toEqual(Object.keys({ ...svc.environment, ...fn.environment }).sort());
    }
    // the function onboarding-api invokes is named as FC 3.0 knows it
    expect(props('onboarding-api').environmentVariables.ONBOARDING_FUNCTION).toBe('cams-fc-dev-onboarding');
  });

  it('has a native anonymous HTTP trigger on each HTTP function with its methods, and the routes', () => {
    for (const [key] of Object.entries(svc.functions)) {
      const http = (props(key).triggers ?? []).filter((t: { triggerType: string }) => t.triggerType === 'http');
      if (!HTTP_METHODS[key]) {
        expect(http, key).toEqual([]);
        continue;
      }
      expect(http, key).toHaveLength(1);
      expect(http[0].triggerConfig).toEqual({ authType: 'anonymous', disableURLInternet: false, methods: HTTP_METHODS[key] });
    }
    expect(dep.routes).toContainEqual({ method: 'GET', path: '/onboardings/{id}', customDomainPath: '/onboardings/*', function: 'cams-fc-dev-onboarding-api' });
    expect(dep.routes).toContainEqual({ method: 'POST', path: '/waba/bind', customDomainPath: '/waba/bind', function: 'cams-fc-dev-bind-waba' });
    // one route per http event of serverless.yml, none dropped or invented
    const httpEvents = Object.values(svc.functions).flatMap((fn) => (fn.events ?? []).filter((e: Record<string, unknown>) => 'http' in e));
    expect(dep.routes).toHaveLength(httpEvents.length);
    // The fc3 component stops at the first unchanged eventbridge trigger: they come last.
    for (const [key, r] of Object.entries(dep.sYaml.resources)) {
      const types = ((r.props['triggers'] ?? []) as Array<{ triggerType: string }>).map((t) => t.triggerType);
      expect(types.slice(types.indexOf('eventbridge') < 0 ? types.length : types.indexOf('eventbridge')).every((t) => t === 'eventbridge'), key).toBe(true);
    }
    expect((dep.sYaml.resources['onboarding']!.props['triggers'] as Array<{ triggerType: string }>).map((t) => t.triggerType)).toEqual(['timer', 'eventbridge']);
    expect(httpEvents.length).toBeGreaterThanOrEqual(16);
  });

  it('has the monitor timer and the onboarding MNS queue as an EventBridge MNS source', () => {
    expect(props('health-monitor').triggers).toEqual([
      { triggerName: 'timer', triggerType: 'timer', qualifier: 'LATEST', triggerConfig: { cronExpression: '0 */5 * * * *', enable: true, payload: '' } },
    ]);
    const [redrive, mns, ...rest] = props('onboarding').triggers;
    expect(rest).toEqual([]);
    expect(redrive).toEqual({ triggerName: 'timer', triggerType: 'timer', qualifier: 'LATEST', triggerConfig: { cronExpression: '0 * * * * *', enable: true, payload: '' } });
    expect(mns.triggerType).toBe('eventbridge');
    expect(mns.triggerConfig.eventSourceConfig).toEqual({
      eventSourceType: 'MNS',
      eventSourceParameters: { sourceMNSParameters: { RegionId: 'ap-southeast-1', QueueName: 'cams-fc-onboarding-dev', IsBase64Decode: false } },
    });
    expect(mns.triggerConfig).toMatchObject({ asyncInvocationType: true, triggerEnable: true, runOptions: { mode: 'event-driven' } });
  });

  it('routes events our own code publishes through a custom bus rule targeting the function, not the default bus', () => {
    for (const key of Object.keys(svc.functions)) {
      for (const t of props(key).triggers ?? []) expect(t.triggerConfig.eventSourceConfig?.eventSourceType, key).not.toBe('Default');
    }
    expect(dep.eventRules).toEqual([
      expect.objectContaining({ bus: 'cams-fc-dev', function: 'cams-fc-dev-onboarding', filterPattern: '{"source":["cams-fc.onboarding"]}', invocationType: 'Async', enabled: true }),
    ]);
  });

  it('gives each function its own role whose policy lists exactly the actions it calls', () => {
    expect(dep.roles.map((r) => r.key).sort()).toEqual(Object.keys(RAM_ACTIONS).sort());
    for (const r of dep.roles) {
      expect(r.trustPolicy.Statement).toEqual([{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['fc.aliyuncs.com'] } }]);
      expect(r.policy.Statement.every((s) => s.Effect === 'Allow')).toBe(true);
      expect(r.policy.Statement.flatMap((s) => s.Action).sort(), r.key).toEqual([...RAM_ACTIONS[r.key]!].sort());
    }
    const invoke = dep.roles.find((r) => r.key === 'onboarding-api')!.policy.Statement[0]!;
    expect(invoke.Resource).toEqual(['acs:fc:ap-southeast-1:*:functions/cams-fc-dev-onboarding', 'acs:fc:ap-southeast-1:*:functions/cams-fc-dev-onboarding/*']);
  });

  it('turns FC 2.0 function ARNs into FC 3.0 ones and leaves others alone', () => {
    expect(fc3Resource('acs:fc:r:1:services/s-dev.*/functions/f', { f: 's-dev-f' })).toEqual(['acs:fc:r:1:functions/s-dev-f', 'acs:fc:r:1:functions/s-dev-f/*']);
    expect(fc3Resource('*', {})).toEqual(['*']);
  });

  it('puts every function in the VPC of VPC_ID / VSWITCH_IDS / SECURITY_GROUP_ID (a VPC-only redis is reachable), and none without them', () => {
    for (const key of Object.keys(svc.functions)) expect(props(key), key).not.toHaveProperty('vpcConfig');
    const env = { VPC_ID: 'vpc-t4n0example', VSWITCH_IDS: 'vsw-t4na, vsw-t4nb', SECURITY_GROUP_ID: 'sg-t4nexample' };
    const d = fc3Deployment(resolvedService('prod', undefined, env));
    expect(validateSYaml(d.sYaml)).toEqual([]);
    for (const key of Object.keys(svc.functions)) {
      expect(d.sYaml.resources[key]!.props.vpcConfig, key).toEqual({ vpcId: 'vpc-t4n0example', vSwitchIds: ['vsw-t4na', 'vsw-t4nb'], securityGroupId: 'sg-t4nexample' });
    }
    // a copy per function: a shared object would be written to s.yaml as a YAML anchor and aliases
    expect(d.sYaml.resources['bind-waba']!.props.vpcConfig).not.toBe(d.sYaml.resources['query-waba']!.props.vpcConfig);
    // one of the three missing: refused, naming what is missing
    expect(() => fc3Deployment(resolvedService('prod', undefined, { VPC_ID: 'vpc-t4n0example', VSWITCH_IDS: 'vsw-t4na' }))).toThrow(/SECURITY_GROUP_ID/);
  });

  it('keeps every FC 3.0 function name within FC 3.0\'s 64 characters, distinct, for a long stage; what names a function follows it', () => {
    const stage = 'feature-onboarding-redrive-with-exponential-backoff';
    const d = fc3Deployment(resolvedService(stage));
    const names = Object.keys(svc.functions).map((key) => d.sYaml.resources[key]!.props.functionName as string);
    for (const name of names) expect(name, name).toMatch(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/);
    expect(new Set(names).size).toBe(names.length);
    const onboarding = d.sYaml.resources['onboarding']!.props.functionName as string;
    expect(onboarding).not.toBe(`cams-fc-${stage}-onboarding`);
    expect(d.sYaml.resources['onboarding-api']!.props.environmentVariables.ONBOARDING_FUNCTION).toBe(onboarding);
    expect(d.roles.find((r) => r.key === 'onboarding-api')!.policy.Statement[0]!.Resource).toEqual([`acs:fc:ap-southeast-1:*:functions/${onboarding}`, `acs:fc:ap-southeast-1:*:functions/${onboarding}/*`]);
    expect(d.eventRules.map((r) => r.function)).toEqual([onboarding]);
    // its RAM roles too: cut to RAM's 64 (letters, digits, . and -), distinct
    const roles = d.roles.map((r) => r.roleName);
    for (const role of roles) expect(role, role).toMatch(/^[A-Za-z0-9.-]{1,64}$/);
    expect(new Set(roles).size).toBe(roles.length);
  });

  it('follows serverless.yml: a timer added to onboarding and a new function appear', () => {
    const text = readFileSync(join(REPO, 'serverless.yml'), 'utf8')
      // onboarding's own re-drive timer out, a new one in before its queue: the triggers follow the file
      .replace("      - timer: { cronExpression: '0 * * * * *' }\n", '')
      .replace("      - mns:\n", "      - timer: { cronExpression: '@every 10m', payload: resume }\n      - mns:\n")
      .concat('\n  extra-fn:\n    handler: index.handler\n    events:\n      - http: { method: delete, path: /extra }\n');
    const d = fc3Deployment(resolvedService('qa', text));
    expect(validateSYaml(d.sYaml)).toEqual([]);
    expect(d.sYaml.resources['onboarding']!.props.triggers.map((t: { triggerName: string }) => t.triggerName)).toEqual(['timer', 'mns']);
    expect(d.sYaml.resources['extra-fn']!.props).toMatchObject({ functionName: 'cams-fc-qa-extra-fn', memorySize: 256, timeout: 15 });
    expect(d.sYaml.resources['extra-fn']!.props.triggers[0].triggerConfig.methods).toEqual(['DELETE']);
  });
});

describe('validation', () => {
  const broken = (mutate: (d: Fc3Deployment['sYaml']) => void) => {
    const doc = structuredClone(dep.sYaml);
    mutate(doc);
    return validateSYaml(doc);
  };

  it('names the path of a misspelt property, anywhere', () => {
    expect(broken((d) => (d.resources['bind-waba']!.props.memmorySize = 512))).toEqual(['resources.bind-waba.props.memmorySize: unknown property (not in the fc3 schema)']);
    expect(broken((d) => (d.resources['onboarding']!.props.triggers[1].triggerConfig.eventSourceConfig.eventSourceTyp = 'MNS'))).toEqual([
      'resources.onboarding.props.triggers[1].triggerConfig.eventSourceConfig.eventSourceTyp: unknown property (not in the fc3 schema)',
    ]);
    expect(broken((d) => (d.resources['health-monitor']!.props.triggers[0].triggername = 'x'))).toEqual([
      'resources.health-monitor.props.triggers[0].triggername: unknown property (not in the fc3 schema)',
    ]);
  });

  it('names the path of a wrong value, checking a trigger config by its type', () => {
    expect(broken((d) => (d.resources['bind-waba']!.props.triggers[0].triggerConfig.authType = 'acs3'))).toEqual([
      'resources.bind-waba.props.triggers[0].triggerConfig.authType: must be equal to one of the allowed values (anonymous, function, jwt)',
    ]);
    expect(broken((d) => (d.resources['query-waba']!.props.memorySize = 300))[0]).toMatch(/^resources\.query-waba\.props\.memorySize: must be multiple of 64/);
    expect(broken((d) => delete d.resources['health-monitor']!.props.triggers[0].triggerConfig.enable)).toEqual([
      "resources.health-monitor.props.triggers[0].triggerConfig: must have required property 'enable' 'enable'",
    ]);
    expect(broken((d) => (d.resources['onboarding']!.component = 'fc'))).toEqual(['resources.onboarding.component: must be fc3 (got "fc")']);
  });

  it('stops packaging when the generator emits a wrong property, naming the path, and writes nothing', () => {
    const dist = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
    writeFileSync(join(dist, 's.yaml'), 'stale');
    const faulty = (s: Fc3Service) => {
      const d = fc3Deployment(s);
      d.sYaml.resources['get-health-status']!.props.triggers[0].triggerConfig.method = ['GET'];
      return d;
    };
    expect(() => packageFc3(dist, svc, { generate: faulty, validate: validateSYaml })).toThrow(
      'resources.get-health-status.props.triggers[0].triggerConfig.method: unknown property',
    );
    expect(existsSync(join(dist, 's.yaml'))).toBe(false);
    expect(existsSync(join(dist, 'fc3'))).toBe(false);
  });
});

/** `svc` with onboarding's `eventbridge` event changed by `patch`. */
function withOnboardingEvent(patch: Record<string, unknown>): Fc3Service {
  const onboarding = svc.functions['onboarding'];
  const events = (onboarding.events as Record<string, unknown>[]).map((e) => (e['eventbridge'] ? { eventbridge: { ...(e['eventbridge'] as object), ...patch } } : e));
  return { ...svc, functions: { ...svc.functions, onboarding: { ...onboarding, events } } };
}

/** Where ram.sh and eventbridge.sh stop when something of their names is not this deployment's. */
const CLAIMS_STEP = 'the check of what exists under its names (nothing written yet)';

/** The calls that write (anything but a read, a listing, or a create or attach refused as "exists"). */
const WRITES = /^(Update|Put|Enable|Disable|Detach|Delete|CreatePolicyVersion$)/;

describe('ram.sh and eventbridge.sh run again', () => {
  it('with nothing changed write nothing: no UpdateRole, UpdateRule, PutTargets, EnableRule nor policy version; a failure that is not "exists" still stops them', async () => {
    const dist = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
    const written = packageFc3(dist, svc, { validate: validateSYaml });
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
    const runBoth = async (label: string) => {
      for (const script of ['ram.sh', 'eventbridge.sh']) {
        const r = await run('sh', [join(written.dir, script)], { env });
        expect(r.code, `${script} ${label}: ${r.output}`).toBe(0);
      }
    };
    await runBoth('first run');
    const deployed = cli.state();
    const mark1 = cli.calls().length;
    await runBoth('second run');
    const second = cli.calls().slice(mark1);
    const actions = second.map((a) => a[1]);
    expect(second.filter((c) => WRITES.test(c[1]!))).toEqual([]);
    expect(cli.state()).toEqual(deployed);
    // each role, policy, the bus and the rule read once, and found as the scripts would write them
    expect(actions.filter((a) => a === 'GetRole')).toHaveLength(Object.keys(svc.functions).length);
    expect(actions.filter((a) => a === 'GetPolicy')).toHaveLength(actions.filter((a) => a === 'CreatePolicy').length);
    // the bus read twice: by the look for what is not this deployment's, and after its create was refused
    expect(actions.filter((a) => a === 'GetEventBus')).toHaveLength(2);
    expect(actions.filter((a) => a === 'GetRule')).toHaveLength(1);
    expect(actions.filter((a) => a === 'ListTargets')).toHaveLength(1);
    // Every attachment was found attached already; besides those lists, each policy-less role is
    // checked once for a policy an earlier run attached (none here).
    const policyless = dep.roles.filter((r) => r.policy.Statement.length === 0).length;
    expect(actions.filter((a) => a === 'ListPoliciesForRole')).toHaveLength(actions.filter((a) => a === 'AttachPolicyToRole').length + policyless);

    // The same documents written otherwise by whoever wrote them last (keys in another order, other
    // spacing): still the same, nothing written.
    const reordered = (text: string) => JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(text) as object).reverse()), null, 3);
    const now = cli.state();
    cli.seed({
      roles: Object.fromEntries(Object.entries(now.roles).map(([n, r]) => [n, { ...r, trust: reordered(r.trust!) }])),
      buses: { 'cams-fc-dev': { ...now.buses['cams-fc-dev']!, rules: { 'onboarding-events-1': { ...now.buses['cams-fc-dev']!.rules['onboarding-events-1']!, FilterPattern: ' { "source" : [ "cams-fc.onboarding" ] } ' } } } },
    });
    const mark2 = cli.calls().length;
    await runBoth('third run');
    expect(cli.calls().slice(mark2).filter((c) => WRITES.test(c[1]!))).toEqual([]);

    // An attachment that failed for another reason is not taken for "attached".
    const noAttach = accountAliyun(tmp());
    noAttach.seed({ deny: ['AttachPolicyToRole'] });
    expect((await run('sh', [join(written.dir, 'ram.sh')], { env: { ...env, PATH: `${noAttach.bin}:${process.env.PATH}` } })).code).not.toBe(0);

    // A bus that could not be created for another reason (credentials, permissions) stops the script there.
    const noBus = accountAliyun(tmp());
    noBus.seed({ deny: ['CreateEventBus'] });
    const stopped = await run('sh', [join(written.dir, 'eventbridge.sh')], { env: { ...env, PATH: `${noBus.bin}:${process.env.PATH}` } });
    expect(stopped.code).not.toBe(0);
    expect(stopped.output).toContain('EventBridge bus cams-fc-dev could not be created (the error above) nor read');
    expect(noBus.calls().map((a) => a[1])).toEqual(['GetEventBus', 'CreateEventBus', 'GetEventBus']);
  });

  it('write exactly what changed: a trust policy, a filter pattern, a target or a rule left disabled each get their one update', async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
    const writesOf = async (script: string) => {
      const mark = cli.calls().length;
      const r = await run('sh', [join(dist, 'fc3', script)], { env });
      expect(r.code, `${script}: ${r.output}`).toBe(0);
      return cli.calls().slice(mark).filter((c) => WRITES.test(c[1]!));
    };
    await writesOf('ram.sh');
    await writesOf('eventbridge.sh');
    const rule = () => cli.state().buses['cams-fc-dev']!.rules['onboarding-events-1']!;
    const at = ['--region', 'ap-southeast-1', '--EventBusName', 'cams-fc-dev', '--RuleName', 'onboarding-events-1'];

    // A role's trust policy changed by hand: that role's, and only it, is written back.
    const trust = readFileSync(join(dist, 'fc3', 'ram', 'cams-fc-dev-health-monitor.trust.json'), 'utf8').trim();
    const role = cli.state().roles['cams-fc-dev-health-monitor']!;
    cli.seed({ roles: { 'cams-fc-dev-health-monitor': { ...role, trust: JSON.stringify({ Version: '1', Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['ecs.aliyuncs.com'] } }] }) } } });
    expect(await writesOf('ram.sh')).toEqual([['ram', 'UpdateRole', '--RoleName', 'cams-fc-dev-health-monitor', '--NewAssumeRolePolicyDocument', trust]]);
    expect(cli.state().roles['cams-fc-dev-health-monitor']).toEqual({ ...role, trust });

    // The event's pattern changed in serverless.yml: UpdateRule with it, nothing else.
    packageFc3(dist, withOnboardingEvent({ eventRuleFilterPattern: { source: ['cams-fc.onboarding'], type: ['onboarding.done'] } }), { validate: validateSYaml });
    expect(await writesOf('eventbridge.sh')).toEqual([['eventbridge', 'UpdateRule', ...at, '--FilterPattern', '{"source":["cams-fc.onboarding"],"type":["onboarding.done"]}']]);

    // Invoked sync now: the target's InvocationType differs, PutTargets alone.
    packageFc3(dist, withOnboardingEvent({ eventRuleFilterPattern: { source: ['cams-fc.onboarding'], type: ['onboarding.done'] }, asyncInvocationType: false }), { validate: validateSYaml });
    const targets = await writesOf('eventbridge.sh');
    expect(targets.map((c) => c[1])).toEqual(['PutTargets']);
    expect(JSON.parse(targets[0]!.at(-1)!)[0].ParamList).toContainEqual({ ResourceKey: 'InvocationType', Form: 'CONSTANT', Value: 'Sync' });

    // The rule disabled in the console: enabled again, nothing else.
    cli.seed({ buses: { 'cams-fc-dev': { ...cli.state().buses['cams-fc-dev']!, rules: { 'onboarding-events-1': { ...rule(), Status: 'DISABLE' } } } } });
    expect(await writesOf('eventbridge.sh')).toEqual([['eventbridge', 'EnableRule', ...at]]);
    expect(rule().Status).toBe('ENABLE');
    // ... and one the package says to disable: DisableRule, once.
    packageFc3(dist, withOnboardingEvent({ eventRuleFilterPattern: { source: ['cams-fc.onboarding'], type: ['onboarding.done'] }, asyncInvocationType: false, triggerEnable: false }), { validate: validateSYaml });
    expect(await writesOf('eventbridge.sh')).toEqual([['eventbridge', 'DisableRule', ...at]]);
    expect(await writesOf('eventbridge.sh')).toEqual([]);

    // An update that is refused stops the script at the rule.
    packageFc3(dist, svc, { validate: validateSYaml });
    cli.seed({ deny: ['UpdateRule'] });
    const denied = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env });
    expect(denied.code).not.toBe(0);
    expect(denied.output).toContain('eventbridge.sh stopped (exit 1) at rule onboarding-events-1 of bus cams-fc-dev');
  });

  it('do not take over a role, policy or rule of that name they did not make: they stop, naming it and the command that hands it over, and change nothing on it', async () => {
    const dist = packagedDist();
    const mark = (name: string) => `cams-fc deploy cams-fc/dev: ${name}`;
    const cases = [
      {
        script: 'ram.sh',
        seed: { roles: { 'cams-fc-dev-bind-waba': { Description: 'mine', policies: [], trust: '{}' } } },
        message: `RAM role cams-fc-dev-bind-waba exists but is not this deployment's: its description is "mine", not "${mark('cams-fc-dev-bind-waba')}"`,
        handOver: `aliyun ram UpdateRole --RoleName 'cams-fc-dev-bind-waba' --NewDescription '${mark('cams-fc-dev-bind-waba')}'`,
        untouched: (s: AccountState) => s.roles['cams-fc-dev-bind-waba'],
      },
      {
        // made by a version of ram.sh from before the mark: no description
        script: 'ram.sh',
        seed: { policies: { 'cams-fc-dev-onboarding': { Description: '', versions: ['v1'], default: 'v1', documents: { v1: '{"Version":"1","Statement":[]}' } } } },
        message: `RAM policy cams-fc-dev-onboarding exists but is not this deployment's: its description is "", not "${mark('cams-fc-dev-onboarding')}"`,
        handOver: `aliyun ram UpdatePolicyDescription --PolicyName 'cams-fc-dev-onboarding' --NewDescription '${mark('cams-fc-dev-onboarding')}'`,
        untouched: (s: AccountState) => s.policies['cams-fc-dev-onboarding'],
      },
      {
        // on the bus the scripts made
        script: 'eventbridge.sh',
        seed: { buses: { 'cams-fc-dev': { Description: mark('cams-fc-dev'), rules: { 'onboarding-events-1': { Description: 'theirs', targets: ['t1'], FilterPattern: '{}', Status: 'ENABLE' } } } } },
        message: `EventBridge rule onboarding-events-1 of bus cams-fc-dev exists but is not this deployment's: its description is "theirs", not "${mark('onboarding-events-1')}"`,
        handOver: `aliyun eventbridge UpdateRule --region ap-southeast-1 --EventBusName 'cams-fc-dev' --RuleName 'onboarding-events-1' --Description '${mark('onboarding-events-1')}'`,
        untouched: (s: AccountState) => s.buses['cams-fc-dev']!.rules['onboarding-events-1'],
      },
    ];
    for (const c of cases) {
      const cli = accountAliyun(tmp());
      cli.seed(c.seed);
      const before = c.untouched(cli.state());
      const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
      const r = await run('sh', [join(dist, 'fc3', c.script)], { env });
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain(c.message);
      expect(r.output).toContain(c.handOver);
      expect(r.output).toContain(`${c.script} stopped (exit 1) at ${CLAIMS_STEP}`);
      expect(c.untouched(cli.state())).toEqual(before);
      // found before anything was written: reads only, no create either
      expect(cli.calls().filter((x) => !/^(Get|List)/.test(x[1]!))).toEqual([]);

      // Yours to give: marked as the message says, the next run takes it over and goes on.
      expect((await run('sh', ['-c', c.handOver], { env })).code).toBe(0);
      const again = await run('sh', [join(dist, 'fc3', c.script)], { env });
      expect(again.code, again.output).toBe(0);
    }
  });

  it('find every one of those in one run, before writing anything, and name each with its command: marked as said, one more run goes through', async () => {
    const dist = packagedDist();
    const mark = (name: string) => `cams-fc deploy cams-fc/dev: ${name}`;
    // As a version of the scripts from before the mark left them: several roles, policies, the bus and its rule unmarked.
    const cli = accountAliyun(tmp());
    cli.seed({
      roles: { 'cams-fc-dev-bind-waba': { Description: '', policies: [], trust: '{}' }, 'cams-fc-dev-onboarding': { Description: 'mine', policies: [], trust: '{}' } },
      policies: { 'cams-fc-dev-logs': { Description: '', versions: ['v1'], default: 'v1', documents: { v1: '{"Version":"1","Statement":[]}' } }, 'cams-fc-dev-onboarding': { Description: '', versions: ['v1'], default: 'v1', documents: { v1: '{"Version":"1","Statement":[]}' } } },
      buses: { 'cams-fc-dev': { Description: '', rules: { 'onboarding-events-1': { Description: '', targets: ['t1'], FilterPattern: '{}', Status: 'ENABLE' } } } },
    });
    // In an account with more of everything, listed first (pages of 2): the unmarked ones are on later pages.
    const others = ['a1', 'a2', 'a3', 'a4', 'a5'];
    const buses = cli.state().buses;
    cli.seed({
      roles: Object.fromEntries(others.map((n) => [n, { Description: 'mine', policies: [] }])),
      policies: Object.fromEntries(others.map((n) => [n, { Description: 'mine', versions: ['v1'], default: 'v1' }])),
      buses: { 'cams-fc-dev': { ...buses['cams-fc-dev']!, rules: { ...buses['cams-fc-dev']!.rules, ...Object.fromEntries(others.map((n) => [n, { Description: 'mine', targets: [] }])) } } },
    });
    const before = cli.state();
    const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
    const handOvers = {
      'ram.sh': [
        `aliyun ram UpdateRole --RoleName 'cams-fc-dev-bind-waba' --NewDescription '${mark('cams-fc-dev-bind-waba')}'`,
        `aliyun ram UpdateRole --RoleName 'cams-fc-dev-onboarding' --NewDescription '${mark('cams-fc-dev-onboarding')}'`,
        `aliyun ram UpdatePolicyDescription --PolicyName 'cams-fc-dev-logs' --NewDescription '${mark('cams-fc-dev-logs')}'`,
        `aliyun ram UpdatePolicyDescription --PolicyName 'cams-fc-dev-onboarding' --NewDescription '${mark('cams-fc-dev-onboarding')}'`,
      ],
      'eventbridge.sh': [
        `aliyun eventbridge UpdateEventBus --region ap-southeast-1 --EventBusName 'cams-fc-dev' --Description '${mark('cams-fc-dev')}'`,
        `aliyun eventbridge UpdateRule --region ap-southeast-1 --EventBusName 'cams-fc-dev' --RuleName 'onboarding-events-1' --Description '${mark('onboarding-events-1')}'`,
      ],
    };
    for (const [script, commands] of Object.entries(handOvers)) {
      const r = await run('sh', [join(dist, 'fc3', script)], { env });
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain(`${script}: nothing was written: each of these ${commands.length} exists under a name this package makes but is not this deployment's`);
      for (const command of commands) expect(r.output).toContain(command);
      expect(r.output).toContain(`${script} stopped (exit 1) at ${CLAIMS_STEP}`);
    }
    // Nothing written by either: reads and listings only.
    expect(cli.calls().filter((x) => !/^(Get|List)/.test(x[1]!))).toEqual([]);
    expect(cli.state()).toEqual(before);

    // Every one handed over as said: one more run of each goes through.
    for (const command of Object.values(handOvers).flat()) expect((await run('sh', ['-c', command], { env })).code, command).toBe(0);
    for (const script of Object.keys(handOvers)) {
      const r = await run('sh', [join(dist, 'fc3', script)], { env });
      expect(r.code, `${script}: ${r.output}`).toBe(0);
      expect(r.output).toContain(`${script}: done`);
    }
  });
});

describe('ram.sh and eventbridge.sh without permission to list', () => {
  it('stop at the look for what is not this deployment\'s, naming the listing refused, with nothing written', async () => {
    const dist = packagedDist();
    for (const [script, listing] of [['ram.sh', 'ListRoles'], ['ram.sh', 'ListPolicies'], ['eventbridge.sh', 'ListRules']] as const) {
      const cli = accountAliyun(tmp());
      // a bus there already (ours): its rules are listed
      cli.seed({ buses: { 'cams-fc-dev': { Description: 'cams-fc deploy cams-fc/dev: cams-fc-dev', rules: {} } }, deny: [listing] });
      const r = await run('sh', [join(dist, 'fc3', script)], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain(`${script}: could not look for what exists under this package's names and is not this deployment's: aliyun ${script === 'ram.sh' ? 'ram' : 'eventbridge'} ${listing}: ERROR: NoPermission`);
      expect(r.output).toContain(`${script} stopped (exit 1) at ${CLAIMS_STEP}`);
      expect(cli.calls().filter((x) => !/^(Get|List)/.test(x[1]!)), listing).toEqual([]);
    }
  });
});

describe('the helpers read an aliyun CLI reply that says Success false (exit 0) as the failure it is', () => {
  it('a rule CreateRule refused and GetRule answers Success false for: the script stops saying it could not be created nor read, not that it exists', async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    cli.seed({ deny: ['CreateRule'], refuseInBody: ['GetRule'] });
    const r = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('EventBridge rule onboarding-events-1 of bus cams-fc-dev could not be created (the error above) nor read');
    expect(r.output).toContain('EventRuleNotExisted');
    expect(r.output).not.toContain("exists but is not this deployment's");
    expect(cli.calls().filter((x) => WRITES.test(x[1]!))).toEqual([]);
  });

  it('a bus whose rules listing answers Success false is not taken for empty: no DeleteEventBus, and the output names the reply', async () => {
    const { onboarding: _o, ...rest } = svc.functions;
    const dist = packagedDist({ ...svc, functions: rest });
    const cli = accountAliyun(tmp());
    cli.seed({ buses: { 'cams-fc-dev': { Description: 'cams-fc deploy cams-fc/dev: cams-fc-dev', rules: { 'my-own-rule': { Description: 'mine', targets: ['t1'] } } } }, refuseInBody: ['ListRules'] });
    const r = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    // With no rule in the package the bus may be gone: a failed listing is said, not fatal.
    expect(r.output).toContain('its reply says Success false: EventRuleNotExisted');
    expect(cli.calls().map((c) => c[1])).not.toContain('DeleteEventBus');
    expect(cli.state().buses['cams-fc-dev']!.rules).toHaveProperty('my-own-rule');
  });
});

describe('the helpers read a reply without the resource they asked for (exit 0) as a failure naming the call', () => {
  const CLAIMS_FAILED = (script: string) => `${script}: could not look for what exists under this package's names and is not this deployment's`;
  const cases = [
    { script: 'eventbridge.sh', call: 'GetEventBus', part: 'Data', said: 'EventBridge bus cams-fc-dev could not be created (the error above) nor read' },
    { script: 'eventbridge.sh', call: 'GetRule', part: 'Data', said: 'EventBridge rule onboarding-events-1 of bus cams-fc-dev could not be created (the error above) nor read' },
    { script: 'ram.sh', call: 'GetRole', part: 'Role', said: 'RAM role cams-fc-dev-bind-waba could not be created (the error above) nor read' },
    { script: 'ram.sh', call: 'GetPolicy', part: 'Policy', said: 'policy cams-fc-dev-logs: could not read its default version' },
    { script: 'ram.sh', call: 'GetPolicyVersion', part: 'PolicyVersion', said: 'policy cams-fc-dev-logs: could not read its default version' },
    // listings: one read as empty hid what it lists (a target taken for missing was put again)
    { script: 'eventbridge.sh', call: 'ListTargets', part: 'Data', said: 'EventBridge rule onboarding-events-1 of bus cams-fc-dev: could not list its targets' },
    { script: 'eventbridge.sh', call: 'ListRules', part: 'Data', said: CLAIMS_FAILED('eventbridge.sh') },
    { script: 'ram.sh', call: 'ListRoles', part: 'Roles', said: CLAIMS_FAILED('ram.sh') },
    { script: 'ram.sh', call: 'ListPolicies', part: 'Policies', said: CLAIMS_FAILED('ram.sh') },
  ];
  for (const c of cases) {
    it(`${c.script} run again, ${c.call} answering without ${c.part}: stopped, naming the call, not "not this deployment's" nor a write`, async () => {
      const dist = packagedDist();
      const cli = accountAliyun(tmp());
      const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
      expect((await run('sh', [join(dist, 'fc3', c.script)], { env })).code).toBe(0);
      const deployed = cli.state();
      const mark = cli.calls().length;
      cli.seed({ noData: [c.call] });
      const r = await run('sh', [join(dist, 'fc3', c.script)], { env });
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain(`${c.said}: aliyun ${c.script === 'ram.sh' ? 'ram' : 'eventbridge'} ${c.call}: its reply holds no ${c.part}`);
      expect(r.output).not.toContain("exists but is not this deployment's");
      expect(cli.calls().slice(mark).filter((x) => WRITES.test(x[1]!))).toEqual([]);
      expect(cli.state()).toEqual({ ...deployed, noData: [c.call] });
    });
  }

  it('prune.mjs: a bus whose GetEventBus answers without Data is not taken for one not marked as ours: the script fails naming the call', async () => {
    const { onboarding: _o, ...rest } = svc.functions;
    const dist = packagedDist({ ...svc, functions: rest });
    const cli = accountAliyun(tmp());
    cli.seed({ buses: { 'cams-fc-dev': { Description: 'cams-fc deploy cams-fc/dev: cams-fc-dev', rules: {} } }, noData: ['GetEventBus'] });
    const r = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toContain('aliyun eventbridge GetEventBus: its reply holds no Data');
    expect(r.output).not.toContain('eventbridge.sh: done');
    expect(cli.calls().map((c) => c[1])).not.toContain('DeleteEventBus');
  });

  it('prune.mjs: a bus whose ListRules answers without Data is not taken for one with no rule left: no DeleteEventBus', async () => {
    const { onboarding: _o, ...rest } = svc.functions;
    const dist = packagedDist({ ...svc, functions: rest });
    const cli = accountAliyun(tmp());
    cli.seed({ buses: { 'cams-fc-dev': { Description: 'cams-fc deploy cams-fc/dev: cams-fc-dev', rules: { 'my-own-rule': { Description: 'mine', targets: ['t1'] } } } }, noData: ['ListRules'] });
    const r = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    expect(r.output).toContain('aliyun eventbridge ListRules: its reply holds no Data');
    expect(cli.calls().map((c) => c[1])).not.toContain('DeleteEventBus');
  });
});

describe("eventbridge.sh's own writes are judged by the reply too, not by the CLI's exit code alone", () => {
  /** A package whose rule is there, as an earlier run left it: another pattern, no target, disabled. */
  const stale = async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    const mark = (name: string) => `cams-fc deploy cams-fc/dev: ${name}`;
    cli.seed({ buses: { 'cams-fc-dev': { Description: mark('cams-fc-dev'), rules: { 'onboarding-events-1': { Description: mark('onboarding-events-1'), targets: [], FilterPattern: '{"source":["old"]}', Status: 'DISABLE' } } } } });
    const eb = () => run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    return { cli, eb };
  };

  for (const action of ['UpdateRule', 'PutTargets', 'EnableRule']) {
    it(`${action} answered Success false (exit 0) stops the script at the rule, naming the reply's Code, not "done"`, async () => {
      const { cli, eb } = await stale();
      cli.seed({ refuseInBody: [action] });
      const r = await eb();
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain(`eventbridge.sh: aliyun eventbridge ${action}: its reply says Success false: EventRuleNotExisted`);
      expect(r.output).toContain('eventbridge.sh stopped (exit 1) at rule onboarding-events-1 of bus cams-fc-dev');
      expect(r.output).not.toContain('eventbridge.sh: done');
      // stopped at the first write refused: none after it was tried
      const writes = cli.calls().filter((c) => WRITES.test(c[1]!)).map((c) => c[1]);
      expect(writes.at(-1)).toBe(action);
    });
  }

  it('a PutTargets that answers Success true but lists a target as not put stops the script, naming the target and why', async () => {
    const { cli, eb } = await stale();
    cli.seed({ failEntries: ['PutTargets'] });
    const r = await eb();
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toContain('eventbridge.sh: aliyun eventbridge PutTargets: its reply says Success but a target was not put: cams-fc-dev-onboarding (InvalidArgument: The endpoint is invalid)');
    expect(r.output).toContain('eventbridge.sh stopped (exit 1) at rule onboarding-events-1 of bus cams-fc-dev');
    expect(cli.state().buses['cams-fc-dev']!.rules['onboarding-events-1']!.targets).toEqual([]);
    expect(cli.calls().map((c) => c[1])).not.toContain('EnableRule');
  });

  it('a CreateEventBus answered Success false (a bus of that name there already, not ours) goes on to the check of whose it is, and stops there', async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    const theirs = { Description: 'mine', rules: {} };
    // the bus made after the look for what is not this deployment's (it found none), before the create
    cli.seed({ refuseInBody: ['CreateEventBus'], meanwhile: { after: 'GetEventBus', buses: { 'cams-fc-dev': theirs } } });
    const r = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toContain("EventBridge bus cams-fc-dev exists but is not this deployment's");
    expect(cli.calls().map((c) => c[1])).toEqual(['GetEventBus', 'CreateEventBus', 'GetEventBus']);
    expect(cli.state().buses).toEqual({ 'cams-fc-dev': theirs });
  });
});

describe("ram.sh's own writes are judged by the reply too, not by the CLI's exit code alone", () => {
  /**
   * An account as an earlier run left it, then changed: bind-waba's trust policy and its policy's
   * document are not the package's, the logs policy is off bind-waba's role, and health-report (no
   * action of its own) still has its old policy attached.
   */
  const stale = async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
    const ram = () => run('sh', [join(dist, 'fc3', 'ram.sh')], { env });
    const first = await ram();
    expect(first.code, first.output).toBe(0);
    const now = cli.state();
    const mark = (name: string) => `cams-fc deploy cams-fc/dev: ${name}`;
    const policy = now.policies['cams-fc-dev-bind-waba']!;
    cli.seed({
      roles: {
        'cams-fc-dev-bind-waba': { ...now.roles['cams-fc-dev-bind-waba']!, trust: '{"Version":"1","Statement":[]}', policies: ['cams-fc-dev-bind-waba'] },
        'cams-fc-dev-health-report': { ...now.roles['cams-fc-dev-health-report']!, policies: ['cams-fc-dev-logs', 'cams-fc-dev-health-report'] },
      },
      policies: {
        'cams-fc-dev-bind-waba': { ...policy, documents: { ...policy.documents, [policy.default]: '{"Version":"1","Statement":[]}' } },
        'cams-fc-dev-health-report': { Description: mark('cams-fc-dev-health-report'), versions: ['v1'], default: 'v1', documents: { v1: '{"Version":"1","Statement":[]}' } },
      },
    });
    return { cli, ram };
  };

  for (const action of ['UpdateRole', 'CreatePolicyVersion', 'AttachPolicyToRole', 'DetachPolicyFromRole']) {
    it(`${action} answered Success false (exit 0) stops the script at its role, naming the reply's Code, not "done"`, async () => {
      const { cli, ram } = await stale();
      const mark = cli.calls().length;
      cli.seed({ refuseInBody: [action] });
      const r = await ram();
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain(`ram.sh: aliyun ram ${action}: its reply says Success false: EventRuleNotExisted`);
      expect(r.output).toMatch(/ram\.sh stopped \(exit 1\) at role cams-fc-dev-(bind-waba|health-report)/);
      expect(r.output).not.toContain('ram.sh: done');
      // stopped at the first write refused: none after it was tried
      const writes = cli.calls().slice(mark).filter((c) => WRITES.test(c[1]!) || c[1] === 'AttachPolicyToRole').map((c) => c[1]);
      expect(writes.at(-1)).toBe(action);
    });
  }

  for (const action of ['CreatePolicy', 'CreateRole']) {
    it(`${action} answered Success false (exit 0): refused as for one that exists, it goes on to the read; one that exists and is ours is used, one not there stops the script`, async () => {
      // There, ours: as a create refused by exit code ("already exists"), the run gets through, writing what differs.
      const { cli, ram } = await stale();
      cli.seed({ refuseInBody: [action] });
      const r = await ram();
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain('ram.sh: done');

      // Not there: it was not made, and the read says so.
      const dist = packagedDist();
      const fresh = accountAliyun(tmp());
      fresh.seed({ refuseInBody: [action] });
      const f = await run('sh', [join(dist, 'fc3', 'ram.sh')], { env: { PATH: `${fresh.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
      expect(f.code, f.output).not.toBe(0);
      expect(f.output).toContain(`ram.sh: aliyun ram ${action}: its reply says Success false: EventRuleNotExisted`);
      expect(f.output).toContain(action === 'CreateRole' ? 'RAM role cams-fc-dev-bind-waba could not be created (the error above) nor read' : 'policy cams-fc-dev-logs: could not read its default version');
      expect(fresh.calls().map((c) => c[1])).not.toContain('AttachPolicyToRole');
    });
  }
});

describe('ram.sh run again on policies that exist', () => {
  it("adds a policy version only for a document that changed (as JSON: key order and spacing aside); a default version it cannot read stops it there", async () => {
    const dist = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}` };
    const ram = () => run('sh', [join(dist, 'fc3', 'ram.sh')], { env });
    packageFc3(dist, svc, { validate: validateSYaml });
    expect((await ram()).code).toBe(0);
    const policies = Object.keys(cli.state().policies).sort();
    expect(policies.length).toBeGreaterThan(5);
    const versions = () => Object.fromEntries(Object.entries(cli.state().policies).map(([n, p]) => [n, p.versions]));
    const once = versions();
    for (const n of policies) expect(once[n], n).toEqual(['v1']);

    // Unchanged: every default version and description read and found the same, nothing written to a policy.
    const mark0 = cli.calls().length;
    const described = JSON.stringify(Object.fromEntries(Object.entries(cli.state().policies).map(([n, p]) => [n, p.Description])));
    expect((await ram()).code).toBe(0);
    expect(versions()).toEqual(once);
    const calls = cli.calls().slice(mark0);
    expect(calls.filter((c) => c[1] === 'CreatePolicyVersion' || c[1] === 'UpdatePolicyDescription')).toEqual([]);
    expect(calls.filter((c) => c[1] === 'GetPolicyVersion').map((c) => c.at(-1))).toEqual(Array(policies.length).fill('v1'));
    expect(JSON.stringify(Object.fromEntries(Object.entries(cli.state().policies).map(([n, p]) => [n, p.Description])))).toBe(described);

    // The same document written otherwise by whoever made the default version: still the same.
    const logs = cli.state().policies['cams-fc-dev-logs']!;
    const doc = JSON.parse(logs.documents!['v1']!) as { Version: string; Statement: unknown[] };
    cli.seed({ policies: { 'cams-fc-dev-logs': { ...logs, documents: { v1: JSON.stringify({ Statement: doc.Statement, Version: doc.Version }, null, 4) } } } });
    expect((await ram()).code).toBe(0);
    expect(versions()['cams-fc-dev-logs']).toEqual(['v1']);

    // onboarding-api may now also query a WABA: its policy, and only its, gets a new default version.
    const granted: Fc3Service = {
      ...svc,
      functions: { ...svc.functions, 'onboarding-api': { ...svc.functions['onboarding-api'], ramRoleStatements: [...svc.functions['onboarding-api'].ramRoleStatements, { Effect: 'Allow', Action: ['cams:QueryChatappBindWaba'], Resource: ['*'] }] } },
    };
    packageFc3(dist, granted, { validate: validateSYaml });
    const markG = cli.calls().length;
    expect((await ram()).code).toBe(0);
    expect(versions()).toEqual({ ...once, 'cams-fc-dev-onboarding-api': ['v1', 'v2'] });
    expect(cli.calls().slice(markG).map((c) => c[1])).not.toContain('UpdatePolicyDescription');
    const now = cli.state().policies['cams-fc-dev-onboarding-api']!;
    expect(now.default).toBe('v2');
    expect(JSON.parse(now.documents!['v2']!)).toEqual(JSON.parse(readFileSync(join(dist, 'fc3', 'ram', 'cams-fc-dev-onboarding-api.policy.json'), 'utf8')));

    // No permission to read a policy: stopped at it, not taken for "changed" nor "same".
    cli.seed({ deny: ['GetPolicy cams-fc-dev-bind-waba'] });
    const denied = await ram();
    expect(denied.code).not.toBe(0);
    expect(denied.output).toContain('policy cams-fc-dev-bind-waba: could not read its default version: aliyun ram GetPolicy: ERROR: NoPermission');
    expect(denied.output).toContain('ram.sh stopped (exit 1) at role cams-fc-dev-bind-waba');
    expect(versions()['cams-fc-dev-bind-waba']).toEqual(['v1']);
  });
});

describe('ram.sh after a function lost its own actions', () => {
  it('detaches the policy an earlier run attached, so the role keeps no old grant; with none attached it calls nothing more', async () => {
    const dist = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
    const granted: Fc3Service = { ...svc, functions: { ...svc.functions, 'status-page': { ...svc.functions['status-page'], ramRoleStatements: [{ Effect: 'Allow', Action: ['cams:GetWhatsappHealthStatus'], Resource: ['*'] }] } } };
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}` };
    const attachedTo = async (role: string) =>
      (JSON.parse((await run(join(cli.bin, 'aliyun'), ['ram', 'ListPoliciesForRole', '--RoleName', role])).output) as { Policies: { Policy: { PolicyName: string }[] } }).Policies.Policy.map((p) => p.PolicyName).sort();

    let written = packageFc3(dist, granted, { validate: validateSYaml });
    let r = await run('sh', [join(written.dir, 'ram.sh')], { env });
    expect(r.code, r.output).toBe(0);
    expect(await attachedTo('cams-fc-dev-status-page')).toEqual(['cams-fc-dev-logs', 'cams-fc-dev-status-page']);

    written = packageFc3(dist, svc, { validate: validateSYaml });
    for (let i = 0; i < 2; i++) {
      r = await run('sh', [join(written.dir, 'ram.sh')], { env });
      expect(r.code, r.output).toBe(0);
      expect(await attachedTo('cams-fc-dev-status-page')).toEqual(['cams-fc-dev-logs']);
    }
    expect(cli.calls().filter((a) => a[1] === 'DetachPolicyFromRole')).toEqual([
      ['ram', 'DetachPolicyFromRole', '--PolicyType', 'Custom', '--PolicyName', 'cams-fc-dev-status-page', '--RoleName', 'cams-fc-dev-status-page'],
    ]);
    // the other roles still hold what they call
    expect(await attachedTo('cams-fc-dev-bind-waba')).toEqual(['cams-fc-dev-bind-waba', 'cams-fc-dev-logs']);
    // a check that could not be made (no permission to list) stops the script rather than passing for "none"
    const noList = accountAliyun(tmp());
    noList.seed({ deny: ['ListPoliciesForRole'] });
    expect((await run('sh', [join(written.dir, 'ram.sh')], { env: { PATH: `${noList.bin}:${process.env.PATH}` } })).code).not.toBe(0);
  });
});

describe('ram.sh and prune.mjs read what is attached from the reply, as JSON', () => {
  const ram = (dist: string, cli: ReturnType<typeof accountAliyun>) => run('sh', [join(dist, 'fc3', 'ram.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}` } });
  // A reply without Policies (exit 0), and one that says Success false (exit 0): neither says what is attached.
  const unread = [
    { seed: 'noData' as const, said: 'its reply holds no Policies' },
    { seed: 'refuseInBody' as const, said: 'its reply says Success false: EventRuleNotExisted' },
  ];

  for (const u of unread) {
    it(`the detach of a function's old policy: a ListPoliciesForRole ${u.seed} reply stops ram.sh, naming the call, not "not attached" (the old grant left on the role)`, async () => {
      const dist = packagedDist();
      const cli = accountAliyun(tmp());
      expect((await ram(dist, cli)).code).toBe(0);
      // An earlier run attached health-report's own policy (it had an action then); the logs policy is off its role, so its attach goes through.
      const mark = 'cams-fc deploy cams-fc/dev: cams-fc-dev-health-report';
      cli.seed({
        roles: { 'cams-fc-dev-health-report': { ...cli.state().roles['cams-fc-dev-health-report']!, policies: ['cams-fc-dev-health-report'] } },
        policies: { 'cams-fc-dev-health-report': { Description: mark, versions: ['v1'], default: 'v1', documents: { v1: '{"Version":"1","Statement":[]}' } } },
        [u.seed]: ['ListPoliciesForRole cams-fc-dev-health-report'],
      });
      const r = await ram(dist, cli);
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain(`ram.sh: RAM role cams-fc-dev-health-report: could not tell whether policy cams-fc-dev-health-report is attached to it: aliyun ram ListPoliciesForRole: ${u.said}`);
      expect(r.output).toContain('ram.sh stopped (exit 1) at role cams-fc-dev-health-report');
      expect(r.output).not.toContain('ram.sh: done');
      expect(cli.state().roles['cams-fc-dev-health-report']!.policies).toContain('cams-fc-dev-health-report');
    });

    it(`an attachment refused as "already exists": a ListPoliciesForRole ${u.seed} reply stops ram.sh, naming the call`, async () => {
      const dist = packagedDist();
      const cli = accountAliyun(tmp());
      expect((await ram(dist, cli)).code).toBe(0);
      cli.seed({ [u.seed]: ['ListPoliciesForRole cams-fc-dev-bind-waba'] });
      const r = await ram(dist, cli);
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain(`ram.sh: RAM role cams-fc-dev-bind-waba: could not tell whether policy cams-fc-dev-logs is attached to it: aliyun ram ListPoliciesForRole: ${u.said}`);
      expect(r.output).toContain('ram.sh stopped (exit 1) at role cams-fc-dev-bind-waba');
    });
  }

  it('an attachment refused, and the policy not attached (AttachPolicyToRole denied): ram.sh stops, saying it is not attached', async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    cli.seed({ deny: ['AttachPolicyToRole cams-fc-dev-bind-waba'] });
    const r = await ram(dist, cli);
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toContain('ram.sh: policy cams-fc-dev-logs could not be attached to role cams-fc-dev-bind-waba (the error above), and is not attached');
    expect(r.output).toContain('ram.sh stopped (exit 1) at role cams-fc-dev-bind-waba');
  });

  it('a System policy of the same name attached to the role is not ours: no detach of it is tried, and an attach refused is not taken for done', async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    expect((await ram(dist, cli)).code).toBe(0);
    // health-report has no action of its own: a System policy named as its own would be is not an old grant of ours.
    const roles = cli.state().roles;
    cli.seed({ roles: { 'cams-fc-dev-health-report': { ...roles['cams-fc-dev-health-report']!, policies: ['cams-fc-dev-logs', 'System:cams-fc-dev-health-report'] } } });
    const mark = cli.calls().length;
    const r = await ram(dist, cli);
    expect(r.code, r.output).toBe(0);
    expect(cli.calls().slice(mark).map((c) => c[1])).not.toContain('DetachPolicyFromRole');
    expect(cli.state().roles['cams-fc-dev-health-report']!.policies).toContain('System:cams-fc-dev-health-report');

    // bind-waba's logs policy off, a System one of that name on, and the attach of ours refused: not attached.
    cli.seed({ roles: { 'cams-fc-dev-bind-waba': { ...roles['cams-fc-dev-bind-waba']!, policies: ['System:cams-fc-dev-logs', 'cams-fc-dev-bind-waba'] } }, deny: ['AttachPolicyToRole cams-fc-dev-bind-waba'] });
    const refused = await ram(dist, cli);
    expect(refused.code, refused.output).not.toBe(0);
    expect(refused.output).toContain('ram.sh: policy cams-fc-dev-logs could not be attached to role cams-fc-dev-bind-waba (the error above), and is not attached');
  });

  it('prune.mjs: a role, or a policy, whose attachments it cannot read is not removed as one with none: named, the rest still tried', async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    expect((await ram(dist, cli)).code).toBe(0);
    // bind-waba's policy is yours now too (alice's), and has an older version.
    const policy = cli.state().policies['cams-fc-dev-bind-waba']!;
    cli.seed({
      users: { alice: { policies: ['cams-fc-dev-bind-waba'] } },
      policies: { 'cams-fc-dev-bind-waba': { ...policy, versions: ['v1', 'v2'], default: 'v2', documents: { ...policy.documents, v2: policy.documents!['v1']! } } },
    });
    const { 'bind-waba': _b, onboarding: _o, ...rest } = svc.functions;
    packageFc3(dist, { ...svc, functions: rest }, { validate: validateSYaml });
    const mark = cli.calls().length;
    cli.seed({ noData: ['ListPoliciesForRole cams-fc-dev-bind-waba', 'ListEntitiesForPolicy cams-fc-dev-bind-waba', 'ListPolicyVersions cams-fc-dev-onboarding'] });
    const r = await ram(dist, cli);
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toContain('could not remove RAM role cams-fc-dev-bind-waba: aliyun ram ListPoliciesForRole: its reply holds no Policies');
    expect(r.output).toContain('could not remove RAM policy cams-fc-dev-bind-waba: could not tell what it is attached to: aliyun ram ListEntitiesForPolicy: its reply holds no Users');
    expect(r.output).toContain('could not remove RAM policy cams-fc-dev-onboarding: aliyun ram ListPolicyVersions: its reply holds no PolicyVersions');
    // nothing written on what could not be read; the rest still tried (onboarding's role went)
    const writes = cli.calls().slice(mark).filter((c) => WRITES.test(c[1]!));
    expect(writes.filter((c) => c.includes('cams-fc-dev-bind-waba'))).toEqual([]);
    expect(writes.filter((c) => c[1] === 'DeletePolicyVersion' || c[1] === 'DeletePolicy')).toEqual([]);
    expect(r.output).toContain('removed RAM role cams-fc-dev-onboarding');
    const after = cli.state();
    expect(after.roles['cams-fc-dev-bind-waba']).toBeDefined();
    expect(after.policies['cams-fc-dev-bind-waba']!.versions).toEqual(['v1', 'v2']);
  });
});

describe('ram.sh and eventbridge.sh run again with nothing changed', () => {
  it('print no error for a create or attachment refused as "already exists" that they then check: one calm line each, exit 0', async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
    for (const script of ['ram.sh', 'eventbridge.sh']) expect((await run('sh', [join(dist, 'fc3', script)], { env })).code).toBe(0);
    for (const script of ['ram.sh', 'eventbridge.sh']) {
      const mark = cli.calls().length;
      const r = await run('sh', [join(dist, 'fc3', script)], { env });
      expect(r.code, r.output).toBe(0);
      // the re-run did try the creates, and each was refused as there already
      expect(cli.calls().slice(mark).some((c) => /^Create/.test(c[1]!)), script).toBe(true);
      expect(r.stderr, script).toBe('');
      expect(r.output, script).not.toMatch(/error|AlreadyExist/i);
      expect(r.output).toContain(`${script}: done`);
    }
    const again = await run('sh', [join(dist, 'fc3', 'ram.sh')], { env });
    expect(again.output).toContain("ram.sh: RAM role cams-fc-dev-bind-waba exists; checking it is this deployment's and as the package has it");
    expect(again.output).toContain('ram.sh: RAM policy cams-fc-dev-logs is attached to role cams-fc-dev-bind-waba already; checking it');
    // one line per refusal, not the CLI's error too
    expect(again.output.match(/RAM role cams-fc-dev-bind-waba exists;/g)).toHaveLength(1);

    // A refusal for another reason keeps the CLI's whole message.
    cli.seed({ deny: ['CreateRole cams-fc-dev-bind-waba'] });
    const denied = await run('sh', [join(dist, 'fc3', 'ram.sh')], { env });
    expect(denied.stderr).toContain('ram.sh: aliyun ram CreateRole: ERROR: NoPermission');
  });
});

describe("the helpers read a description in either case (EventBridge's replies use both)", () => {
  it("eventbridge.sh run again on replies naming it `description`: its bus and rule are its own (claims.mjs, bus.mjs, rule.mjs), and prune.mjs removes the rule and bus it made", async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    const eb = () => run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    expect((await eb()).code).toBe(0);
    cli.seed({ lowerDescription: true });
    const again = await eb();
    expect(again.code, again.output).toBe(0);
    expect(again.output).not.toContain("exists but is not this deployment's");
    expect(again.output).toContain('eventbridge.sh: done');

    const { onboarding: _o, ...rest } = svc.functions;
    packageFc3(dist, { ...svc, functions: rest }, { validate: validateSYaml });
    const pruned = await eb();
    expect(pruned.code, pruned.output).toBe(0);
    expect(pruned.output).toContain('removed EventBridge rule onboarding-events-1 of bus cams-fc-dev');
    expect(pruned.output).toContain('removed EventBridge bus cams-fc-dev');
    expect(cli.state().buses).toEqual({});
  });
});

describe('the helpers read a name or id in either case, and write nothing for an entry without it', () => {
  /** Both scripts run on the whole package, then eventbridge.sh's package without onboarding (its rule to remove), replies renamed. */
  const pruneRule = async (renameKeys: Record<string, string>) => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    const eb = () => run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    expect((await eb()).code).toBe(0);
    const { onboarding: _o, ...rest } = svc.functions;
    packageFc3(dist, { ...svc, functions: rest }, { validate: validateSYaml });
    cli.seed({ renameKeys });
    return { cli, r: await eb() };
  };

  it('prune.mjs: a rule and its targets named `ruleName` and `id` are removed, the targets by their ids', async () => {
    const { cli, r } = await pruneRule({ Id: 'id', RuleName: 'ruleName' });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('removed EventBridge rule onboarding-events-1 of bus cams-fc-dev');
    const deleted = cli.calls().find((c) => c[1] === 'DeleteTargets')!;
    expect(JSON.parse(deleted[deleted.indexOf('--TargetIds') + 1]!)).toEqual(['cams-fc-dev-onboarding']);
    expect(cli.state().buses).toEqual({});
  });

  it('prune.mjs: a target without an id sends no DeleteTargets: the rule is left, named with the call', async () => {
    const { cli, r } = await pruneRule({ Id: 'TargetRef' });
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toContain('could not remove EventBridge rule onboarding-events-1 of bus cams-fc-dev: aliyun eventbridge ListTargets: an entry of its reply holds no Id');
    expect(cli.calls().map((c) => c[1])).not.toContain('DeleteTargets');
    expect(cli.state().buses['cams-fc-dev']!.rules['onboarding-events-1']).toBeDefined();
  });

  it('claims.mjs: a role not this deployment\'s, listed as `roleName`, is found before anything is written; a policy listed without its name stops the look, naming the call', async () => {
    const dist = packagedDist();
    const ram = (cli: ReturnType<typeof accountAliyun>) => run('sh', [join(dist, 'fc3', 'ram.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}` } });

    const cli = accountAliyun(tmp());
    cli.seed({ roles: { 'cams-fc-dev-bind-waba': { Description: 'mine', policies: [] } }, renameKeys: { RoleName: 'roleName' } });
    const r = await ram(cli);
    expect(r.code, r.output).not.toBe(0);
    expect(r.output).toContain('ram.sh: nothing was written');
    expect(r.output).toContain('RAM role cams-fc-dev-bind-waba');
    expect(cli.calls().filter((c) => WRITES.test(c[1]!) || /^(Create|Attach)/.test(c[1]!))).toEqual([]);

    const unnamed = accountAliyun(tmp());
    unnamed.seed({ policies: { 'cams-fc-dev-logs': { Description: 'mine', versions: ['v1'], default: 'v1' } }, renameKeys: { PolicyName: 'Name' } });
    const u = await ram(unnamed);
    expect(u.code, u.output).not.toBe(0);
    expect(u.output).toContain('aliyun ram ListPolicies: an entry of its reply holds no PolicyName');
    expect(unnamed.calls().filter((c) => WRITES.test(c[1]!) || /^(Create|Attach)/.test(c[1]!))).toEqual([]);
  });
});

describe('files beside dist/s.yaml', () => {
  it('writes s.yaml, the policy documents and .fcignore; ram.sh and eventbridge.sh create what they describe', async () => {
    const dist = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
    // One an earlier packaging left readable by all: it is the owner's alone once written again.
    writeFileSync(join(dist, 's.yaml'), 'stale', { mode: 0o644 });
    const written = packageFc3(dist, svc, { validate: validateSYaml });
    expect(parseYaml(readFileSync(written.sYamlFile, 'utf8'))).toEqual(dep.sYaml);
    // It holds the functions' secrets (API_KEYS, sink webhooks, STORE_URL's password).
    expect(statSync(written.sYamlFile).mode & 0o077).toBe(0);
    expect(readFileSync(join(dist, 'onboarding', '.fcignore'), 'utf8')).toContain('*.map');

    // a stand-in aliyun CLI recording each call's arguments, one JSON line each; its listings are an empty account's
    const bin = tmp();
    const calls = join(bin, 'calls.jsonl');
    const emptyListing = JSON.stringify({ IsTruncated: false, Roles: { Role: [] }, Policies: { Policy: [] }, Data: { Rules: [], Targets: [] } });
    writeFileSync(
      join(bin, 'aliyun'),
      `#!${process.execPath}\nrequire('fs').appendFileSync(${JSON.stringify(calls)}, JSON.stringify(process.argv.slice(2)) + '\\n');\n` +
        `if (process.argv[3].startsWith('List')) console.log(${JSON.stringify(emptyListing)});\n`,
    );
    chmodSync(join(bin, 'aliyun'), 0o755);
    const env = { PATH: `${bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
    // an ACCOUNT_ID that is not the account's digits stops it before any call, naming ACCOUNT_ID
    for (const bad of ['1234/5678', '1234 5678', 'my-alias']) {
      const r = await run('sh', [join(written.dir, 'eventbridge.sh')], { env: { ...env, ACCOUNT_ID: bad } });
      expect(r.code, bad).not.toBe(0);
      expect(r.output).toMatch(/ACCOUNT_ID must be your Alibaba Cloud account id, digits only/);
      expect(existsSync(calls), bad).toBe(false);
    }
    const ram = await run('sh', [join(written.dir, 'ram.sh')], { env });
    expect(ram.code, ram.output).toBe(0);
    const eb = await run('sh', [join(written.dir, 'eventbridge.sh')], { env });
    expect(eb.code, eb.output).toBe(0);
    const argv = readFileSync(calls, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
    const opt = (a: string[], name: string) => a[a.indexOf(`--${name}`) + 1]!;

    for (const key of Object.keys(RAM_ACTIONS)) {
      const role = `cams-fc-dev-${key}`;
      const created = argv.find((a) => a[1] === 'CreateRole' && opt(a, 'RoleName') === role);
      expect(created, role).toBeDefined();
      expect(JSON.parse(opt(created!, 'AssumeRolePolicyDocument')).Statement[0].Principal.Service).toEqual(['fc.aliyuncs.com']);
      const attached = argv.filter((a) => a[1] === 'AttachPolicyToRole' && opt(a, 'RoleName') === role).map((a) => opt(a, 'PolicyName'));
      const granted = argv
        .filter((a) => a[1] === 'CreatePolicy' && attached.includes(opt(a, 'PolicyName')) && opt(a, 'PolicyName') !== 'cams-fc-dev-logs')
        .flatMap((a) => (JSON.parse(opt(a, 'PolicyDocument')) as { Statement: { Action: string[] }[] }).Statement.flatMap((s) => s.Action));
      expect(granted.sort(), role).toEqual([...RAM_ACTIONS[key]!].sort());
      expect(attached, role).toContain('cams-fc-dev-logs');
    }
    const logs = argv.find((a) => a[1] === 'CreatePolicy' && opt(a, 'PolicyName') === 'cams-fc-dev-logs')!;
    expect(JSON.parse(opt(logs, 'PolicyDocument')).Statement[0].Action).toEqual(['log:PostLogStoreLogs']);

    expect(argv.find((a) => a[1] === 'CreateEventBus')).toEqual(['eventbridge', 'CreateEventBus', '--region', 'ap-southeast-1', '--EventBusName', 'cams-fc-dev', '--Description', 'cams-fc deploy cams-fc/dev: cams-fc-dev']);
    const rule = argv.find((a) => a[1] === 'CreateRule')!;
    expect(opt(rule, 'EventBusName')).toBe('cams-fc-dev');
    expect(JSON.parse(opt(rule, 'FilterPattern'))).toEqual({ source: ['cams-fc.onboarding'] });
    const [target] = JSON.parse(opt(rule, 'EventTargets')) as { Type: string; Endpoint: string }[];
    expect(target).toMatchObject({ Type: 'acs.fc.function', Endpoint: 'acs:fc:ap-southeast-1:1234567890:functions/cams-fc-dev-onboarding' });
  });
});

/**
 * A stand-in aliyun CLI that models the account: RAM roles, custom policies (versions, attachments,
 * descriptions) and EventBridge buses, rules and targets, in `state.json`. Create* of an existing name
 * and Delete* of something in use fail as Alibaba Cloud's do; listings come in pages of 2, to be
 * followed. Every call is recorded.
 */
function accountAliyun(dir: string): { bin: string; calls: () => string[][]; state: () => AccountState; seed: (s: Partial<AccountState>) => void } {
  const calls = join(dir, 'calls.jsonl');
  const stateFile = join(dir, 'state.json');
  const empty: AccountState = { roles: {}, policies: {}, users: {}, buses: {} };
  writeFileSync(stateFile, JSON.stringify(empty));
  writeFileSync(
    join(dir, 'aliyun'),
    `#!${process.execPath}
const fs = require('fs');
const a = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify(a) + '\\n');
const s = JSON.parse(fs.readFileSync(${JSON.stringify(stateFile)}, 'utf8'));
const opt = (n) => (a.includes('--' + n) ? a[a.indexOf('--' + n) + 1] : undefined);
const fail = (code) => { console.error('ERROR: ' + code); process.exit(1); };
// EventBridge's replies name a description \`description\` as well as \`Description\`: lowerDescription answers with the former.
const lower = (v) => (Array.isArray(v) ? v.map(lower) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k === 'Description' ? 'description' : k, lower(x)])) : v);
// renameKeys answers with each key so named under another name (\`Id\` as \`id\`, or as one no reader knows).
const rename = (v) => (Array.isArray(v) ? v.map(rename) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [(s.renameKeys || {})[k] || k, rename(x)])) : v);
const out = (o) => console.log(JSON.stringify(rename(s.lowerDescription && a[0] === 'eventbridge' ? lower(o) : o), null, 2));
const page = (items, from) => { const i = Number(from || 0); return { items: items.slice(i, i + 2), next: i + 2 < items.length ? String(i + 2) : undefined }; };
const role = () => s.roles[opt('RoleName')] || fail('EntityNotExist.Role');
const policy = () => s.policies[opt('PolicyName')] || fail('EntityNotExist.Policy');
const holders = (p) => [...Object.keys(s.roles).filter((r) => s.roles[r].policies.includes(p)), ...Object.keys(s.users).filter((u) => s.users[u].policies.includes(p))];
const bus = () => s.buses[opt('EventBusName')] || fail('EventBusNotExist');
const named = (d) => d === a[1] || d === a[1] + ' ' + (opt('RoleName') || opt('PolicyName') || opt('RuleName') || opt('EventBusName'));
// Made by someone else once this call is over (before the next one).
if (s.meanwhile && s.meanwhile.after === a[1]) { const m = s.meanwhile; process.on('exit', () => { const now = JSON.parse(fs.readFileSync(${JSON.stringify(stateFile)}, 'utf8')); delete now.meanwhile; now.buses = { ...now.buses, ...m.buses }; fs.writeFileSync(${JSON.stringify(stateFile)}, JSON.stringify(now)); }); }
if ((s.deny || []).some(named)) fail('NoPermission');
// Refused in the reply's body, the CLI exiting 0 (as it does for an HTTP 200 that says Success false).
if ((s.refuseInBody || []).some(named)) { out({ RequestId: 'r', Code: 'EventRuleNotExisted', Message: 'The event rule not existed!', Success: false }); process.exit(0); }
// A reply that holds its RequestId alone (exit 0): no Data, Role, Policy nor PolicyVersion.
if ((s.noData || []).some(named)) { out({ RequestId: 'r' }); process.exit(0); }
// Targets put in part: Success true, each target listed as not put (EventBridge's ErrorEntries), nothing applied.
if ((s.failEntries || []).some(named)) { const ts = JSON.parse(opt('Targets') || opt('EventTargets') || '[]'); out({ RequestId: 'r', Code: 'Success', Success: true, Data: { ErrorEntriesCount: ts.length, ErrorEntries: ts.map((t) => ({ EntryId: t.Id, ErrorCode: 'InvalidArgument', ErrorMessage: 'The endpoint is invalid' })) } }); process.exit(0); }
const rule = () => bus().rules[opt('RuleName')] || fail('EventRuleNotExisted');
switch (a[0] + ' ' + a[1]) {
  case 'ram CreateRole': if (s.roles[opt('RoleName')]) fail('EntityAlreadyExists.Role'); s.roles[opt('RoleName')] = { Description: opt('Description') || '', policies: [], trust: opt('AssumeRolePolicyDocument') }; break;
  case 'ram UpdateRole': { const r = role(); if (opt('NewDescription') !== undefined) r.Description = opt('NewDescription'); if (opt('NewAssumeRolePolicyDocument') !== undefined) r.trust = opt('NewAssumeRolePolicyDocument'); break; }
  case 'ram GetRole': { const r = role(); out({ Role: { RoleName: opt('RoleName'), Description: r.Description, AssumeRolePolicyDocument: r.trust, MaxSessionDuration: 3600 } }); break; }
  case 'ram DeleteRole': if (role().policies.length) fail('DeleteConflict.Role.Policy'); delete s.roles[opt('RoleName')]; break;
  case 'ram ListRoles': { const p = page(Object.keys(s.roles).sort(), opt('Marker')); out({ IsTruncated: !!p.next, ...(p.next ? { Marker: p.next } : {}), Roles: { Role: p.items.map((n) => ({ RoleName: n, Description: s.roles[n].Description })) } }); break; }
  case 'ram CreatePolicy': if (s.policies[opt('PolicyName')]) fail('EntityAlreadyExists.Policy'); s.policies[opt('PolicyName')] = { Description: opt('Description') || '', versions: ['v1'], default: 'v1', documents: { v1: opt('PolicyDocument') } }; break;
  case 'ram CreatePolicyVersion': { const p = policy(); const v = 'v' + (Number(p.versions.at(-1).slice(1)) + 1); p.versions.push(v); p.default = v; p.documents = { ...p.documents, [v]: opt('PolicyDocument') }; break; }
  case 'ram GetPolicy': { const p = policy(); out({ Policy: { PolicyName: opt('PolicyName'), PolicyType: 'Custom', DefaultVersion: p.default, Description: p.Description }, DefaultPolicyVersion: { VersionId: p.default, IsDefaultVersion: true, PolicyDocument: (p.documents || {})[p.default] } }); break; }
  case 'ram GetPolicyVersion': { const p = policy(); if (!p.versions.includes(opt('VersionId'))) fail('EntityNotExist.Policy.Version'); out({ PolicyVersion: { VersionId: opt('VersionId'), IsDefaultVersion: opt('VersionId') === p.default, PolicyDocument: (p.documents || {})[opt('VersionId')] } }); break; }
  case 'ram UpdatePolicyDescription': policy().Description = opt('NewDescription'); break;
  case 'ram ListPolicies': { const p = page(Object.keys(s.policies).sort(), opt('Marker')); out({ IsTruncated: !!p.next, ...(p.next ? { Marker: p.next } : {}), Policies: { Policy: p.items.map((n) => ({ PolicyName: n, PolicyType: 'Custom', Description: s.policies[n].Description })) } }); break; }
  case 'ram ListPolicyVersions': { const p = policy(); out({ PolicyVersions: { PolicyVersion: p.versions.map((v) => ({ VersionId: v, IsDefaultVersion: v === p.default })) } }); break; }
  case 'ram DeletePolicyVersion': { const p = policy(); if (opt('VersionId') === p.default) fail('DeleteConflict.PolicyVersion.Default'); p.versions = p.versions.filter((v) => v !== opt('VersionId')); break; }
  case 'ram DeletePolicy': { const p = policy(); if (holders(opt('PolicyName')).length) fail('DeleteConflict.Policy.Attachment'); if (p.versions.length > 1) fail('DeleteConflict.Policy.Version'); delete s.policies[opt('PolicyName')]; break; }
  case 'ram ListEntitiesForPolicy': { policy(); const n = opt('PolicyName'); out({ Users: { User: Object.keys(s.users).filter((u) => s.users[u].policies.includes(n)).map((u) => ({ UserName: u })) }, Groups: { Group: [] }, Roles: { Role: Object.keys(s.roles).filter((r) => s.roles[r].policies.includes(n)).map((r) => ({ RoleName: r })) } }); break; }
  case 'ram AttachPolicyToRole': { const r = role(); policy(); if (r.policies.includes(opt('PolicyName'))) fail('EntityAlreadyExists.Role.Policy'); r.policies.push(opt('PolicyName')); break; }
  case 'ram DetachPolicyFromRole': { const r = role(); const p = (opt('PolicyType') === 'System' ? 'System:' : '') + opt('PolicyName'); if (!r.policies.includes(p)) fail('EntityNotExist.Role.Policy'); r.policies = r.policies.filter((x) => x !== p); break; }
  case 'ram ListPoliciesForRole': out({ Policies: { Policy: role().policies.map((p) => (p.startsWith('System:') ? { PolicyName: p.slice(7), PolicyType: 'System' } : { PolicyName: p, PolicyType: 'Custom' })) } }); break;
  case 'eventbridge CreateEventBus': if (s.buses[opt('EventBusName')]) fail('EventBusAlreadyExist'); s.buses[opt('EventBusName')] = { Description: opt('Description') || '', rules: {} }; break;
  case 'eventbridge UpdateEventBus': { const b = bus(); if (opt('Description') !== undefined) b.Description = opt('Description'); break; }
  case 'eventbridge GetEventBus': { const b = bus(); out({ Data: { EventBusName: opt('EventBusName'), Description: b.Description || '' } }); break; }
  case 'eventbridge DeleteEventBus': if (Object.keys(bus().rules).length) fail('EventBusNotEmpty'); delete s.buses[opt('EventBusName')]; break;
  case 'eventbridge CreateRule': { if (bus().rules[opt('RuleName')]) fail('EventRuleAlreadyExisted'); const ts = JSON.parse(opt('EventTargets')); bus().rules[opt('RuleName')] = { Description: opt('Description') || '', targets: ts.map((t) => t.Id), FilterPattern: opt('FilterPattern'), Status: 'ENABLE', details: Object.fromEntries(ts.map((t) => [t.Id, t])) }; break; }
  case 'eventbridge UpdateRule': { const r = rule(); for (const k of ['Description', 'FilterPattern', 'Status']) if (opt(k) !== undefined) r[k] = opt(k); break; }
  case 'eventbridge PutTargets': { const r = rule(); for (const t of JSON.parse(opt('Targets'))) { if (!r.targets.includes(t.Id)) r.targets.push(t.Id); r.details = { ...r.details, [t.Id]: t }; } break; }
  case 'eventbridge EnableRule': rule().Status = 'ENABLE'; break;
  case 'eventbridge DisableRule': rule().Status = 'DISABLE'; break;
  case 'eventbridge GetRule': { const r = rule(); out({ Code: 'Success', Data: { RuleName: opt('RuleName'), EventBusName: opt('EventBusName'), Description: r.Description, FilterPattern: r.FilterPattern, Status: r.Status } }); break; }
  case 'eventbridge ListRules': { const p = page(Object.keys(bus().rules).sort(), opt('NextToken')); out({ Data: { Rules: p.items.map((n) => ({ RuleName: n, Description: bus().rules[n].Description })), ...(p.next ? { NextToken: p.next } : {}) } }); break; }
  case 'eventbridge ListTargets': {
    // each as put, but as EventBridge hands it back: keys and parameters in another order, fields never sent
    const shown = (id) => { const d = (rule().details || {})[id]; if (!d) return { Id: id }; const { ParamList, ...rest } = d; return { DetailMap: {}, ...Object.fromEntries(Object.entries(rest).reverse()), ParamList: [...ParamList].reverse().map((x) => ({ Template: null, ...x })) }; };
    const p = page(rule().targets, opt('NextToken')); out({ Data: { Targets: p.items.map(shown), ...(p.next ? { NextToken: p.next } : {}) } }); break;
  }
  case 'eventbridge DeleteTargets': { const r = rule(); const ids = JSON.parse(opt('TargetIds')); r.targets = r.targets.filter((t) => !ids.includes(t)); break; }
  case 'eventbridge DeleteRule': if (rule().targets.length) fail('EventRuleTargetsNotEmpty'); delete bus().rules[opt('RuleName')]; break;
  default: fail('unknown call ' + a.join(' '));
}
fs.writeFileSync(${JSON.stringify(stateFile)}, JSON.stringify(s));
`,
  );
  chmodSync(join(dir, 'aliyun'), 0o755);
  const state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as AccountState;
  return {
    bin: dir,
    calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : []),
    state,
    seed: (more) => {
      const s = state();
      writeFileSync(stateFile, JSON.stringify({ ...s, ...more, roles: { ...s.roles, ...more.roles }, policies: { ...s.policies, ...more.policies }, users: { ...s.users, ...more.users }, buses: { ...s.buses, ...more.buses } }));
    },
  };
}
interface AccountState {
  /** `trust`: the AssumeRolePolicyDocument, as sent; `policies` the names of those attached, `System:<name>` a system policy. */
  roles: Record<string, { Description: string; policies: string[]; trust?: string }>;
  /** `documents`: each version's PolicyDocument, as sent. */
  policies: Record<string, { Description: string; versions: string[]; default: string; documents?: Record<string, string> }>;
  users: Record<string, { policies: string[] }>;
  /** A rule's `targets` are their ids; `details` each target as last put. */
  buses: Record<string, { Description?: string; rules: Record<string, { Description: string; targets: string[]; FilterPattern?: string; Status?: string; details?: Record<string, unknown> }> }>;
  /** `<Action> <name>` calls (or every `<Action>` call) refused as for want of permission. */
  deny?: string[];
  /** `<Action> <name>` calls (or every `<Action>` call) answered `Success: false` in the reply, the CLI exiting 0. */
  refuseInBody?: string[];
  /** `<Action> <name>` calls (or every `<Action>` call) answered with a reply that holds its RequestId alone, the CLI exiting 0. */
  noData?: string[];
  /** EventBridge's replies name each description `description`, not `Description`. */
  lowerDescription?: boolean;
  /** Every reply names each key here by its value instead (`{ Id: 'id' }`). */
  renameKeys?: Record<string, string>;
  /** `<Action> <name>` calls that put targets answered Success true, listing every target as not put (ErrorEntries). */
  failEntries?: string[];
  /** Buses someone else makes once the first `after` call is over, before the next call. */
  meanwhile?: { after: string; buses: AccountState['buses'] };
}

describe('ram.sh and eventbridge.sh after a function is taken out of serverless.yml', () => {
  it("remove its role, policy and rule, which they made for this stage; another stage's, one made by hand or by an earlier version are left alone", async () => {
    const dist = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
    const runBoth = async () => {
      for (const script of ['ram.sh', 'eventbridge.sh']) {
        const r = await run('sh', [join(dist, 'fc3', script)], { env });
        expect(r.code, `${script}: ${r.output}`).toBe(0);
      }
    };
    const mark = (stage: string, name: string) => `cams-fc deploy cams-fc/${stage}: ${name}`;
    // Made before: what is not ours.
    cli.seed({
      roles: {
        'cams-fc-dev-eu-onboarding': { Description: mark('dev-eu', 'cams-fc-dev-eu-onboarding'), policies: ['cams-fc-dev-eu-onboarding'] },
        'cams-fc-dev-by-hand': { Description: '', policies: [] },
        'cams-fc-dev-copied': { Description: mark('dev', 'cams-fc-dev-onboarding'), policies: [] },
        'other-app': { Description: 'mine', policies: [] },
      },
      policies: {
        'cams-fc-dev-eu-onboarding': { Description: mark('dev-eu', 'cams-fc-dev-eu-onboarding'), versions: ['v1'], default: 'v1' },
        'cams-fc-dev-by-hand': { Description: '', versions: ['v1'], default: 'v1' },
      },
      buses: { 'cams-fc-dev': { Description: mark('dev', 'cams-fc-dev'), rules: { 'my-own-rule': { Description: 'mine', targets: ['t1'] } } }, 'cams-fc-dev-eu': { rules: { 'onboarding-events-1': { Description: mark('dev-eu', 'onboarding-events-1'), targets: ['t'] } } } },
    });
    const unrelated = (s: AccountState) => ({
      roles: Object.fromEntries(Object.entries(s.roles).filter(([n]) => !n.startsWith('cams-fc-dev-') || ['cams-fc-dev-eu-onboarding', 'cams-fc-dev-by-hand', 'cams-fc-dev-copied'].includes(n))),
      policies: Object.fromEntries(Object.entries(s.policies).filter(([n]) => ['cams-fc-dev-eu-onboarding', 'cams-fc-dev-by-hand'].includes(n))),
      rules: { dev: s.buses['cams-fc-dev']!.rules['my-own-rule'], eu: s.buses['cams-fc-dev-eu'] },
    });

    packageFc3(dist, svc, { validate: validateSYaml });
    await runBoth();
    const before = cli.state();
    const others = unrelated(before);
    // Made marked: onboarding's role is known as this stage's.
    expect(before.roles['cams-fc-dev-onboarding']).toMatchObject({ Description: mark('dev', 'cams-fc-dev-onboarding'), policies: ['cams-fc-dev-logs', 'cams-fc-dev-onboarding'] });
    expect(before.policies['cams-fc-dev-onboarding']!.Description).toBe(mark('dev', 'cams-fc-dev-onboarding'));
    expect(before.buses['cams-fc-dev']!.rules['onboarding-events-1']!.Description).toBe(mark('dev', 'onboarding-events-1'));
    // A policy that has versions besides its default (as one updated by re-runs has).
    await run(join(cli.bin, 'aliyun'), ['ram', 'CreatePolicyVersion', '--PolicyName', 'cams-fc-dev-onboarding']);
    expect(cli.calls().filter((c) => c[1]!.startsWith('Delete') || c[1] === 'DetachPolicyFromRole')).toEqual([]);

    // onboarding taken out of serverless.yml.
    const { onboarding: _gone, ...rest } = svc.functions;
    packageFc3(dist, { ...svc, functions: rest }, { validate: validateSYaml });
    const mark0 = cli.calls().length;
    await runBoth();
    const after = cli.state();
    expect(after.roles['cams-fc-dev-onboarding']).toBeUndefined();
    expect(after.policies['cams-fc-dev-onboarding']).toBeUndefined();
    expect(after.buses['cams-fc-dev']!.rules['onboarding-events-1']).toBeUndefined();
    // Everything else is as it was: the other functions' roles and policies, and what is not this stage's doing.
    const { 'cams-fc-dev-onboarding': _r, ...keptRoles } = before.roles;
    expect(after.roles).toEqual(keptRoles);
    const { 'cams-fc-dev-onboarding': _p, ...keptPolicies } = before.policies;
    expect(Object.keys(after.policies).sort()).toEqual(Object.keys(keptPolicies).sort());
    expect(unrelated(after)).toEqual(others);
    expect(after.buses['cams-fc-dev']!.rules).toEqual({ 'my-own-rule': { Description: 'mine', targets: ['t1'] } });
    const deleted = cli.calls().slice(mark0).filter((c) => c[1]!.startsWith('Delete'));
    expect(deleted.map((c) => `${c[1]} ${c.at(-1)}`)).toEqual([
      'DeleteRole cams-fc-dev-onboarding',
      'DeletePolicyVersion v1',
      'DeletePolicy cams-fc-dev-onboarding',
      `DeleteTargets ${JSON.stringify(['cams-fc-dev-onboarding'])}`,
      'DeleteRule onboarding-events-1',
    ]);

    // Run again: nothing more to remove.
    const mark1 = cli.calls().length;
    await runBoth();
    expect(cli.calls().slice(mark1).filter((c) => c[1]!.startsWith('Delete') || c[1] === 'DetachPolicyFromRole')).toEqual([]);
    const again = cli.state();
    expect(Object.keys(again.roles)).toEqual(Object.keys(after.roles));
    expect(Object.keys(again.policies)).toEqual(Object.keys(after.policies));
    expect(again.buses).toEqual(after.buses);
  });

  it('eventbridge.sh deletes the bus it made once the package has no rule for it and none is left on it; a bus with a rule of yours, or not marked as its own, stays', async () => {
    const dist = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
    const { onboarding: _o, ...rest } = svc.functions;
    const eb = (cli: ReturnType<typeof accountAliyun>) => run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    const ours = 'cams-fc deploy cams-fc/dev: cams-fc-dev';

    // Made by the script, its one rule taken out: rule, then bus.
    const cli = accountAliyun(tmp());
    packageFc3(dist, svc, { validate: validateSYaml });
    expect((await eb(cli)).code).toBe(0);
    expect(cli.state().buses['cams-fc-dev']!.Description).toBe(ours);
    packageFc3(dist, { ...svc, functions: rest }, { validate: validateSYaml });
    const emptied = await eb(cli);
    expect(emptied.code, emptied.output).toBe(0);
    expect(emptied.output).toContain('removed EventBridge bus cams-fc-dev: no longer in the package');
    expect(cli.state().buses).toEqual({});
    expect(cli.calls().filter((c) => c[1]!.startsWith('Delete')).map((c) => c[1])).toEqual(['DeleteTargets', 'DeleteRule', 'DeleteEventBus']);
    // run again: no bus, nothing to remove
    expect((await eb(cli)).code).toBe(0);

    // Ours, with a rule of yours on it: the bus stays, named, with your rule.
    const shared = accountAliyun(tmp());
    packageFc3(dist, svc, { validate: validateSYaml });
    expect((await eb(shared)).code).toBe(0);
    const mine = { Description: 'mine', targets: ['t1'] };
    shared.seed({ buses: { 'cams-fc-dev': { ...shared.state().buses['cams-fc-dev']!, rules: { ...shared.state().buses['cams-fc-dev']!.rules, 'my-own-rule': mine } } } });
    packageFc3(dist, { ...svc, functions: rest }, { validate: validateSYaml });
    const kept = await eb(shared);
    expect(kept.code, kept.output).toBe(0);
    expect(kept.output).toContain('left EventBridge bus cams-fc-dev: no longer in the package, but it has rules: my-own-rule');
    expect(shared.state().buses['cams-fc-dev']).toEqual({ Description: ours, rules: { 'my-own-rule': mine } });

    // A bus of that name not marked as the scripts' (made by hand, or by an earlier version), empty: left as it is.
    const byHand = accountAliyun(tmp());
    byHand.seed({ buses: { 'cams-fc-dev': { Description: 'mine', rules: {} } } });
    const left = await eb(byHand);
    expect(left.code, left.output).toBe(0);
    expect(byHand.state().buses).toEqual({ 'cams-fc-dev': { Description: 'mine', rules: {} } });
    expect(byHand.calls().map((c) => c[1])).not.toContain('DeleteEventBus');
  });

  it('eventbridge.sh does not take over a bus of that name it did not make: it stops, naming the bus and what to do, and changes nothing', async () => {
    const dist = packagedDist();
    const ours = 'cams-fc deploy cams-fc/dev: cams-fc-dev';
    for (const description of ['mine', undefined]) {
      // made by hand (a description of yours), or by a version of the scripts from before the mark (none)
      const cli = accountAliyun(tmp());
      const theirs = { ...(description === undefined ? {} : { Description: description }), rules: { 'their-rule': { Description: 'theirs', targets: ['t1'] } } };
      cli.seed({ buses: { 'cams-fc-dev': theirs } });
      const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
      const r = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env });
      expect(r.code, r.output).not.toBe(0);
      expect(r.output).toContain(`EventBridge bus cams-fc-dev exists but is not this deployment's: its description is ${JSON.stringify(description ?? '')}`);
      expect(r.output).toContain(`aliyun eventbridge UpdateEventBus --region ap-southeast-1 --EventBusName 'cams-fc-dev' --Description '${ours}'`);
      expect(r.output).toContain(`eventbridge.sh stopped (exit 1) at ${CLAIMS_STEP}`);
      expect(cli.state().buses).toEqual({ 'cams-fc-dev': theirs });
      // found before the create was tried: the bus read, its rules listed, nothing written
      expect(cli.calls().map((c) => c[1])).toEqual(['GetEventBus', 'ListRules']);

      // Yours to give: marked as the message says, the next run takes it and goes on.
      expect((await run('sh', ['-c', /aliyun eventbridge UpdateEventBus [^\n]*'/.exec(r.output)![0]], { env })).code).toBe(0);
      const again = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env });
      expect(again.code, again.output).toBe(0);
      expect(Object.keys(cli.state().buses['cams-fc-dev']!.rules).sort()).toEqual(['onboarding-events-1', 'their-rule']);
    }
  });

  it('eventbridge.sh of a package with no rule, where no bus was ever made: nothing to remove, not a failure', async () => {
    const dist = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
    const cli = accountAliyun(tmp());
    const { onboarding: _o, ...rest } = svc.functions;
    packageFc3(dist, { ...svc, functions: rest }, { validate: validateSYaml });
    const r = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env: { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' } });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('no rules of bus cams-fc-dev to remove');
    expect(cli.calls().map((c) => c[1])).toEqual(['ListRules']);
  });

  it('a stale policy you attached to a user of yours is left, named; a removal that fails is named and fails the script, after trying the rest', async () => {
    const dist = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key));
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
    packageFc3(dist, svc, { validate: validateSYaml });
    expect((await run('sh', [join(dist, 'fc3', 'ram.sh')], { env })).code).toBe(0);
    cli.seed({ users: { alice: { policies: ['cams-fc-dev-bind-waba'] } } });
    const { 'bind-waba': _b, onboarding: _o, ...rest } = svc.functions;
    packageFc3(dist, { ...svc, functions: rest }, { validate: validateSYaml });
    // onboarding's role cannot be deleted (no permission, say).
    cli.seed({ deny: ['DeleteRole cams-fc-dev-onboarding'] });
    const r = await run('sh', [join(dist, 'fc3', 'ram.sh')], { env });
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('left RAM policy cams-fc-dev-bind-waba: no longer in the package, but attached to user alice');
    expect(r.output).toMatch(/could not remove RAM role cams-fc-dev-onboarding: aliyun ram DeleteRole: ERROR: NoPermission/);
    // The rest was still tried: bind-waba's role went, onboarding's policy too (detached from its role first).
    expect(r.output).toContain('removed RAM role cams-fc-dev-bind-waba');
    const after = cli.state();
    expect(after.roles['cams-fc-dev-bind-waba']).toBeUndefined();
    expect(after.policies['cams-fc-dev-bind-waba']).toBeDefined();
    expect(after.roles['cams-fc-dev-onboarding']).toBeDefined();
    expect(after.policies['cams-fc-dev-onboarding']).toBeUndefined();
  });
});

/** A folder holding only what the scripts need besides the two tools (sh's own commands). */
function bareBin(): string {
  const dir = tmp();
  for (const tool of ['dirname', 'cat', 'sed']) {
    const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((f) => existsSync(f));
    if (!found) throw new Error(`${tool} not found`);
    symlinkSync(found, join(dir, tool));
  }
  return dir;
}

describe('ram.sh and eventbridge.sh without their tools, or stopped midway', () => {
  it('a missing aliyun or node stops them before any call, naming it', async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    const bare = bareBin();
    for (const script of ['ram.sh', 'eventbridge.sh']) {
      // node, but no aliyun
      const noCli = await run('/bin/sh', [join(dist, 'fc3', script)], { env: { PATH: `${bare}:${dirname(process.execPath)}`, ACCOUNT_ID: '1234567890' } });
      expect(noCli.code, script).not.toBe(0);
      expect(noCli.output, script).toContain(`${script}: the aliyun CLI is not on PATH`);
      // aliyun (a node script run by its absolute #!), but no node: without the check every create
      // was made and only the removal of what the package no longer has failed, at the end
      const noNode = await run('/bin/sh', [join(dist, 'fc3', script)], { env: { PATH: `${bare}:${cli.bin}`, ACCOUNT_ID: '1234567890' } });
      expect(noNode.code, script).not.toBe(0);
      expect(noNode.output, script).toContain(`${script}: node is not on PATH`);
      expect(cli.calls(), script).toEqual([]);
    }
  });

  it('a call that fails midway stops the script, saying where and that a re-run goes on; the re-run converges', async () => {
    const dist = packagedDist();
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890' };
    const clean = accountAliyun(tmp());
    const cleanEnv = { ...env, PATH: `${clean.bin}:${process.env.PATH}` };
    for (const script of ['ram.sh', 'eventbridge.sh']) expect((await run('sh', [join(dist, 'fc3', script)], { env: cleanEnv })).code).toBe(0);

    // No permission to create or update health-monitor's role, nor to update the rule.
    cli.seed({ deny: ['CreateRole cams-fc-dev-health-monitor', 'UpdateRole cams-fc-dev-health-monitor', 'UpdateRule onboarding-events-1'] });
    const ram = await run('sh', [join(dist, 'fc3', 'ram.sh')], { env });
    expect(ram.code).not.toBe(0);
    expect(ram.output).toContain('ram.sh stopped (exit 1) at role cams-fc-dev-health-monitor: the error above says why');
    expect(ram.output).toContain('run ram.sh again: it updates what exists and goes on');
    expect(ram.output).not.toContain('ram.sh: done');
    expect(Object.keys(cli.state().roles)).not.toContain('cams-fc-dev-health-monitor');
    // The rule there already, as an earlier run left it (another pattern, no target, disabled), that may not be updated.
    cli.seed({ buses: { 'cams-fc-dev': { Description: 'cams-fc deploy cams-fc/dev: cams-fc-dev', rules: { 'onboarding-events-1': { Description: 'cams-fc deploy cams-fc/dev: onboarding-events-1', targets: [], FilterPattern: '{"source":["old"]}', Status: 'DISABLE' } } } } });
    const eb = await run('sh', [join(dist, 'fc3', 'eventbridge.sh')], { env });
    expect(eb.code).not.toBe(0);
    expect(eb.output).toContain('eventbridge.sh stopped (exit 1) at rule onboarding-events-1 of bus cams-fc-dev');

    cli.seed({ deny: [] });
    for (const script of ['ram.sh', 'eventbridge.sh']) {
      const r = await run('sh', [join(dist, 'fc3', script)], { env });
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain(`${script}: done`);
      expect(r.output).not.toContain('stopped');
    }
    // The same account as a run that never failed, policy versions too (an unchanged document adds none).
    expect(cli.state()).toEqual({ ...clean.state(), deny: [] });
  });
});

describe('ram.sh and eventbridge.sh run from another folder', () => {
  it("use their own folder's documents, even with a CDPATH naming another checkout that has a dist/fc3", async () => {
    const root = tmp();
    const dist = join(root, 'dist');
    for (const key of Object.keys(svc.functions)) mkdirSync(join(dist, key), { recursive: true });
    packageFc3(dist, svc, { validate: validateSYaml });
    // another checkout, packaged for another stage: `cd dist/fc3` would find its dist/fc3 first
    const other = tmp();
    for (const key of Object.keys(svc.functions)) mkdirSync(join(other, 'dist', key), { recursive: true });
    packageFc3(join(other, 'dist'), resolvedService('qa'), { validate: validateSYaml });
    const cli = accountAliyun(tmp());
    const env = { PATH: `${cli.bin}:${process.env.PATH}`, ACCOUNT_ID: '1234567890', CDPATH: other };
    for (const script of ['ram.sh', 'eventbridge.sh']) {
      const r = await run('sh', [join('dist', 'fc3', script)], { cwd: root, env });
      expect(r.code, `${script}: ${r.output}`).toBe(0);
      expect(r.output, script).not.toContain(other);
    }
    const opt = (a: string[], name: string) => a[a.indexOf(`--${name}`) + 1]!;
    const documents = cli.calls().flatMap((c) => (c[1] === 'CreateRole' ? [opt(c, 'AssumeRolePolicyDocument')] : c[1] === 'CreatePolicy' ? [opt(c, 'PolicyDocument')] : c[1] === 'CreateRule' ? [opt(c, 'FilterPattern'), opt(c, 'EventTargets')] : []));
    expect(documents.length).toBeGreaterThan(Object.keys(svc.functions).length);
    for (const doc of documents) expect(() => JSON.parse(doc), doc).not.toThrow();
    expect(cli.state().buses['cams-fc-dev']!.rules['onboarding-events-1']!.targets).toEqual(['cams-fc-dev-onboarding']);
  });
});
