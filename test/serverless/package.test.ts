// End to end: builds the REAL functions (functions/<name>/handler.ts, via scripts/build.ts) and
// runs `serverless package` offline (via scripts/package.ts) in a throwaway copy of the service
// directory, then checks what the FC 2.0 deploy step would receive. Fails until every function
// in serverless.yml has its handler.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { crc32 } from '../../serverless/zip.js';
import { validateSYaml } from '../../serverless/fc3-schema.js';
import { startWarmUp, WARM_UP_REQUESTS } from '../../scripts/warm-up.ts';
import { FC_CODE_DIR, NO_CERT_FILE, ROOT_STORE_DIR, writeRootStore } from '../../scripts/root-store.ts';
import { findOnPath } from '../shared/store/redis-server.ts';
import { inCI } from '../support/ci.ts';
import { makeTlsCert, startTlsFront } from '../support/tls-front.ts';
import { makeServiceDir, readZip, removeDir, REPO, run, TSX } from './support.ts';

// ---- the contract (DESIGN.md and the function table): what must be deployed ----
const HTTP_ROUTES: Record<string, string[]> = {
  'bind-waba': ['POST /waba/bind'],
  'query-waba': ['GET /waba'],
  'add-phone-number': ['POST /phone-numbers'],
  'get-health-status': ['GET /health-status'],
  'health-report': ['GET /health-report', 'GET /health-report/history'],
  'onboarding-api': ['POST /onboardings', 'GET /onboardings/{id}'],
  'watch-list': ['GET /watch-list', 'POST /watch-list', 'DELETE /watch-list'],
  silences: ['POST /silences', 'GET /silences', 'DELETE /silences/{id}'],
  'status-page': ['GET /status'],
  'cams-events': ['POST /cams/receipts'],
};
const RAM_ACTIONS: Record<string, string[]> = {
  'bind-waba': ['cams:ChatappBindWaba'],
  'query-waba': ['cams:QueryChatappBindWaba'],
  'add-phone-number': ['cams:AddChatappPhoneNumber', 'cams:QueryChatappPhoneNumbers'],
  'get-health-status': ['cams:GetWhatsappHealthStatus'],
  'health-monitor': ['cams:GetWhatsappHealthStatus', 'cams:ListChatappTemplate', 'cams:QueryChatappBindWaba', 'cams:QueryChatappPhoneNumbers'],
  'health-report': [],
  onboarding: ['cams:AddChatappPhoneNumber', 'cams:ChatappBindWaba', 'cams:GetWhatsappHealthStatus', 'cams:QueryChatappBindWaba', 'cams:QueryChatappPhoneNumbers'],
  'onboarding-api': ['fc:InvokeFunction'],
  'watch-list': [],
  silences: [],
  'status-page': [],
  'cams-events': ['cams:GetWhatsappHealthStatus', 'cams:QueryChatappBindWaba'],
};
const FUNCTIONS = Object.keys(RAM_ACTIONS);
const ALERT_ENV = [
  'ALERT_REPEAT_INTERVAL', 'ALERT_MIN_CONSECUTIVE', 'ALERT_DINGTALK_WEBHOOK', 'ALERT_DINGTALK_SECRET',
  'ALERT_LARK_WEBHOOK', 'ALERT_LARK_SECRET', 'ALERT_WECOM_WEBHOOK', 'ALERT_SLACK_WEBHOOK',
  'ALERT_WEBHOOK_URL', 'ALERT_WEBHOOK_SECRET',
];
const ALL_ENV = ['CAMS_ENDPOINT', 'API_KEYS', 'STORE_URL', 'CAMS_RECEIPT_TOKEN', 'CAMS_QPS', 'MONITOR_TARGETS', 'MONITOR_QPS', 'DISCOVERY_INTERVAL', 'ONBOARDING_FUNCTION', 'STATUS_PAGE_TOKEN', 'STATUS_PAGE_PUBLIC', 'STATUS_PAGE_REFRESH', ...ALERT_ENV];
/** Values given to the package run: resolved ${env:...} must land in the templates. */
const GIVEN_ENV: Record<string, string> = {
  API_KEYS: 'ci-key:ci-secret-0001',
  MONITOR_QPS: '3',
  ALERT_DINGTALK_SECRET: 'SECdingtalk',
  STORE_URL: 'redis://cache.internal:6379/0',
  CAMS_RECEIPT_TOKEN: 'ci-receipt-token-0123456789',
};
const STAGE = 'dev';
const SERVICE = `cams-fc-${STAGE}`;

interface Resource {
  Type: string;
  Properties: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}
type Template = { Resources: Record<string, Resource> };
interface FnConfig {
  handler: string;
  memorySize?: number;
  timeout?: number;
  environment?: Record<string, string>;
  events?: Record<string, Record<string, unknown>>[];
}
interface ServiceConfig {
  service: string;
  provider: { memorySize?: number; timeout?: number; region: string; environment?: Record<string, string> };
  functions: Record<string, FnConfig>;
}

/** Resolves the variable forms serverless.yml uses, the way the framework will in this run. */
function resolveVars(value: string, env: Record<string, string | undefined>, yml: ServiceConfig): string {
  return value.replace(/\$\{([^}]+)\}/g, (_m, expr: string) => {
    const envVar = /^env:([A-Z0-9_]+),\s*'([^']*)'$/.exec(expr.trim());
    if (envVar) return env[envVar[1]!] ?? envVar[2]!;
    if (expr === 'self:service') return yml.service;
    if (expr === 'sls:stage') return STAGE;
    if (expr === 'self:provider.region') return yml.provider.region;
    throw new Error(`test does not know how to resolve \${${expr}}`);
  });
}

let dir: string | undefined;
let yml: ServiceConfig;
let create: Template;
let update: Template;
let buildOutput = '';
let packageOutput = '';
const packageEnv: Record<string, string | undefined> = { ...process.env };

const of = (t: Template, type: string) => Object.entries(t.Resources).filter(([, r]) => r.Type === type);

beforeAll(async () => {
  yml = parseYaml(readFileSync(join(REPO, 'serverless.yml'), 'utf8')) as ServiceConfig;
  dir = makeServiceDir();
  const build = await run(TSX, [join(REPO, 'scripts/build.ts'), '--root', REPO, '--out', join(dir, 'dist')]);
  buildOutput = build.output;
  if (build.code !== 0) throw new Error(`scripts/build.ts failed:\n${build.output}`);

  for (const name of [...ALL_ENV, 'ALIYUN_CREDENTIALS_FILE']) delete packageEnv[name];
  Object.assign(packageEnv, GIVEN_ENV);
  const pkg = await run(TSX, [join(REPO, 'scripts/package.ts'), '--dir', dir, '--stage', STAGE], { env: packageEnv });
  packageOutput = pkg.output;
  if (pkg.code !== 0) throw new Error(`scripts/package.ts failed:\n${pkg.output}`);
  create = JSON.parse(readFileSync(join(dir, '.serverless', 'configuration-template-create.json'), 'utf8')) as Template;
  update = JSON.parse(readFileSync(join(dir, '.serverless', 'configuration-template-update.json'), 'utf8')) as Template;
}, 240_000);

afterAll(() => removeDir(dir));

describe('serverless.yml lists exactly the contract functions', () => {
  it('has the eight functions, each with handler index.handler', () => {
    expect(Object.keys(yml.functions).sort()).toEqual([...FUNCTIONS].sort());
    for (const fn of Object.values(yml.functions)) expect(fn.handler).toBe('index.handler');
  });
});

describe('build + package', () => {
  it('printed each bundle size and where the artifacts are', () => {
    for (const name of FUNCTIONS) expect(buildOutput).toMatch(new RegExp(`build: ${name}\\s+[0-9.]+ (KB|MB)`));
    for (const name of FUNCTIONS) expect(packageOutput).toContain(join(dir!, '.serverless', `${name}.zip`));
    expect(packageOutput).toContain('configuration-template-update.json');
  });

  it('creates the FC service <service>-<stage> in ap-southeast-1', () => {
    const services = of(create, 'ALIYUN::FC::Service');
    expect(services).toHaveLength(1);
    expect(services[0]![1].Properties).toMatchObject({ name: SERVICE, region: 'ap-southeast-1' });
  });

  it('has every function with runtime, handler, memory, timeout and all its environment variables', () => {
    const fns = of(update, 'ALIYUN::FC::Function').map(([, r]) => r.Properties);
    expect(fns.map((f) => f.name).sort()).toEqual(Object.keys(yml.functions).sort());
    for (const [key, cfg] of Object.entries(yml.functions)) {
      const fn = fns.find((f) => f.name === key)!;
      expect(fn.service).toBe(SERVICE);
      expect(fn.runtime).toBe('nodejs20');
      expect(fn.handler).toBe(cfg.handler);
      expect(fn.memorySize).toBe(cfg.memorySize ?? yml.provider.memorySize);
      expect(fn.timeout).toBe(cfg.timeout ?? yml.provider.timeout);
      const expected: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...yml.provider.environment, ...cfg.environment })) expected[k] = resolveVars(String(v), packageEnv, yml);
      expect(fn.environmentVariables, key).toEqual(expected);
    }
  });

  it('passes the documented variables to the functions that read them', () => {
    const env = (name: string) => update.Resources[`sls-${name}`]!.Properties.environmentVariables as Record<string, string>;
    for (const name of FUNCTIONS) expect(Object.keys(env(name))).toEqual(expect.arrayContaining(['CAMS_ENDPOINT', 'STORE_URL']));
    // The status page is for browsers (its own token), and cams-events is called by CAMS, which cannot
    // sign (it checks CAMS_RECEIPT_TOKEN): neither takes API_KEYS.
    for (const name of Object.keys(HTTP_ROUTES).filter((n) => n !== 'status-page' && n !== 'cams-events')) expect(env(name).API_KEYS, name).toBe(GIVEN_ENV.API_KEYS);
    expect(env('status-page').API_KEYS).toBeUndefined();
    expect(Object.keys(env('cams-events'))).toEqual(expect.arrayContaining(['CAMS_RECEIPT_TOKEN', 'MONITOR_TARGETS', ...ALERT_ENV]));
    expect(Object.keys(env('health-monitor'))).toEqual(expect.arrayContaining(['MONITOR_TARGETS', 'MONITOR_QPS', 'DISCOVERY_INTERVAL', ...ALERT_ENV]));
    expect(env('health-monitor').MONITOR_QPS).toBe('3');
    expect(env('health-monitor').ALERT_DINGTALK_SECRET).toBe('SECdingtalk');
    expect(env('health-monitor').ALERT_LARK_SECRET).toBe('');
    expect(env('onboarding-api').ONBOARDING_FUNCTION).toBe('onboarding');
    for (const name of FUNCTIONS) {
      expect(env(name).STORE_URL).toBe(GIVEN_ENV.STORE_URL);
      for (const k of Object.keys(env(name))) expect(k, `${name}: FC reserves FC_*`).not.toMatch(/^FC_/);
    }
  });

  it('turns every http route into its own API Gateway API to the right function', () => {
    const apis = of(update, 'ALIYUN::API::HTTP').map(([id, r]) => ({ id, p: r.Properties }));
    const routes = apis.map(({ p }) => {
      const path = (p.RequestConfig.RequestPath as string).replace(/\[([A-Za-z0-9_]+)\]/g, '{$1}');
      return `${p.ServiceConfig.FunctionComputeConfig.FunctionName} ${p.RequestConfig.RequestHttpMethod} ${path}`;
    });
    const expected = Object.entries(HTTP_ROUTES).flatMap(([fn, rs]) => rs.map((r) => `${fn} ${r}`));
    expect(routes.sort()).toEqual(expected.sort());
    // ... and exactly the routes serverless.yml declares
    const declared = Object.entries(yml.functions).flatMap(([fn, cfg]) =>
      (cfg.events ?? []).filter((e) => e.http).map((e) => `${fn} ${String(e.http!.method).toUpperCase()} ${String(e.http!.path)}`));
    expect(routes.sort()).toEqual(declared.sort());
    for (const { id, p } of apis) {
      expect(p.ApiName).toBe(id);
      expect(p.ApiName).toMatch(/^[A-Za-z][A-Za-z0-9_]{3,49}$/);
      expect(p.ServiceConfig.FunctionComputeConfig.ServiceName).toBe(SERVICE);
      expect(p.ServiceConfig.FunctionComputeConfig.FcRegionId).toBe('ap-southeast-1');
      expect(p.RequestConfig.RequestMode).toBe('PASSTHROUGH');
      const fn = update.Resources[`sls-${p.ServiceConfig.FunctionComputeConfig.FunctionName}`]!.Properties;
      expect(p.ServiceConfig.ServiceTimeout).toBe(fn.timeout * 1000);
    }
    const byId = apis.find(({ p }) => p.RequestConfig.RequestPath === '/onboardings/[id]')!.p;
    expect(byId.RequestParameters).toEqual([expect.objectContaining({ ApiParameterName: 'id', Location: 'Path', Required: 'REQUIRED' })]);
    expect(of(update, 'ALIYUN::API::APIGroup')).toHaveLength(1);
    const invokeRole = update.Resources['sls-fc-invoke-role']!.Properties;
    expect(invokeRole.AssumeRolePolicyDocument.Statement[0].Principal.Service).toContain('apigateway.aliyuncs.com');
  });

  it('has the health-monitor timer trigger with its cron, and the onboarding re-drive timer', () => {
    const timers = of(update, 'ALIYUN::FC::Trigger').filter(([, r]) => r.Properties.triggerType === 'timer');
    expect(timers.map(([, r]) => r.Properties.functionName).sort()).toEqual(['health-monitor', 'onboarding']);
    const [id, monitor] = timers.find(([, r]) => r.Properties.functionName === 'health-monitor')!;
    expect(monitor.Properties).toMatchObject({ functionName: 'health-monitor', serviceName: SERVICE, triggerName: id });
    expect(monitor.Properties.triggerConfig).toEqual({ cronExpression: '0 */5 * * * *', enable: true, payload: '' });
    const redrive = timers.find(([, r]) => r.Properties.functionName === 'onboarding')![1].Properties;
    expect(redrive.triggerConfig).toEqual({ cronExpression: '0 * * * * *', enable: true, payload: '' });
  });

  it('has the onboarding eventbridge and MNS (via EventBridge) triggers', () => {
    const all = of(update, 'ALIYUN::FC::Trigger').filter(([, r]) => r.Properties.triggerType === 'eventbridge').map(([, r]) => r.Properties);
    expect(all.map((t) => t.functionName).sort()).toEqual(['cams-events', 'onboarding', 'onboarding']);
    // cams-events takes CAMS's receipts from its own queue.
    expect(all.find((t) => t.functionName === 'cams-events')!.triggerConfig.eventSourceConfig.eventSourceParameters.sourceMNSParameters).toMatchObject({ QueueName: `cams-fc-receipts-${STAGE}`, IsBase64Decode: false });
    const triggers = all.filter((t) => t.functionName === 'onboarding');
    const onboarding = yml.functions.onboarding!.events!;
    const eb = triggers.find((t) => t.triggerConfig.eventSourceConfig.eventSourceType === 'Default')!;
    expect(JSON.parse(eb.triggerConfig.eventRuleFilterPattern)).toEqual(onboarding.find((e) => e.eventbridge)!.eventbridge!.eventRuleFilterPattern);
    expect(eb.triggerConfig).toMatchObject({ triggerEnable: true, runOptions: { mode: 'event-driven' } });
    const mns = triggers.find((t) => t.triggerConfig.eventSourceConfig.eventSourceType === 'MNS')!;
    expect(mns.triggerConfig.eventSourceConfig.eventSourceParameters.sourceMNSParameters).toEqual({
      RegionId: 'ap-southeast-1',
      QueueName: `cams-fc-onboarding-${STAGE}`,
      IsBase64Decode: false,
    });
    expect(mns.triggerConfig.runOptions).toEqual({ mode: 'event-driven' });
    for (const t of triggers) expect(t.serviceName).toBe(SERVICE);
    const names = of(update, 'ALIYUN::FC::Trigger').map(([id]) => id);
    expect(new Set(names).size).toBe(names.length);
  });

  it('gives each function a RAM policy with exactly the actions it calls', () => {
    for (const template of [create, update]) {
      const roles = of(template, 'ALIYUN::RAM::Role').filter(([id]) => id.startsWith('sls-fc-role-'));
      const granted: Record<string, string[]> = {};
      for (const [, r] of roles) {
        const statements = r.Properties.Policies.flatMap((p: { PolicyDocument: { Statement: { Effect: string; Action: string[] }[] } }) => p.PolicyDocument.Statement);
        for (const s of statements) expect(s.Effect).toBe('Allow');
        granted[r.Properties.FunctionName as string] = statements.flatMap((s: { Action: string[] }) => s.Action).sort();
        expect(r.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service).toEqual(['fc.aliyuncs.com']);
        expect(r.Properties.RoleName.length).toBeLessThanOrEqual(64);
      }
      for (const name of FUNCTIONS) expect(granted[name] ?? [], name).toEqual([...RAM_ACTIONS[name]!].sort());
    }
    const invoke = update.Resources['sls-fc-role-onboarding-api']!.Properties.Policies[0].PolicyDocument.Statement[0];
    expect(invoke.Resource.length).toBeGreaterThan(0);
    for (const res of invoke.Resource as string[]) {
      expect(res).toMatch(new RegExp(`^acs:fc:ap-southeast-1:[^:]+:services/${SERVICE}(\\.\\*)?/functions/onboarding$`));
    }
    // the service-wide role stays log-only: no CAMS action leaks to every function through it
    const exec = JSON.stringify(create.Resources['sls-fc-exec-role']!.Properties.Policies);
    expect(exec).not.toMatch(/cams:|fc:InvokeFunction/);
  });

  it('deploys each function from its own zip holding only its bundle', async () => {
    const objects = of(update, 'ALIYUN::OSS:Object').map(([, r]) => r.Properties);
    expect(objects).toHaveLength(FUNCTIONS.length);
    expect(update.Resources['sls-storage-object']).toBeUndefined();
    const unzipped = join(dir!, 'unzipped');
    for (const name of FUNCTIONS) {
      const fn = update.Resources[`sls-${name}`]!.Properties;
      const object = objects.find((o) => o.ObjectName === fn.code.ossObjectName)!;
      expect(object, name).toBeDefined();
      expect(object.ObjectName).toMatch(new RegExp(`^serverless/cams-fc/${STAGE}/.+/${name}\\.zip$`));
      expect(object.LocalPath).toBe(join(dir!, '.serverless', `${name}.zip`));
      expect(fn.code.ossBucketName).toBe(object.BucketName);

      const entries = readZip(readFileSync(object.LocalPath), crc32);
      const lazyDir = join(dir!, 'dist', name, 'lazy');
      const lazyFiles = existsSync(lazyDir) ? readdirSync(lazyDir).filter((f) => f.endsWith('.js')).map((f) => `lazy/${f}`) : [];
      // certs/: Node's bundled TLS roots as an OpenSSL hashed directory (scripts/root-store.ts)
      const roots = readdirSync(join(dir!, 'dist', name, ROOT_STORE_DIR)).map((f) => `${ROOT_STORE_DIR}/${f}`);
      expect(roots.filter((f) => /\/[0-9a-f]{8}\.\d+$/.test(f)), name).toHaveLength(rootCertificates.length);
      expect([...entries.keys()].sort(), name).toEqual(['index.js', 'main.js', 'main.js.cache', 'package.json', ...lazyFiles, ...roots].sort());
      for (const f of ['index.js', 'main.js', ...roots]) expect(entries.get(f)!.equals(readFileSync(join(dir!, 'dist', name, f))), `${name}/${f}`).toBe(true);

      // FC runs it with require() from the artifact alone: no node_modules next to it
      const target = join(unzipped, name);
      for (const [file, data] of entries) {
        mkdirSync(join(target, file, '..'), { recursive: true });
        writeFileSync(join(target, file), data);
      }
      const env: Record<string, string> = { PATH: process.env.PATH ?? '', ...(fn.environmentVariables as Record<string, string>) };
      // load the bundle, then every lazily required package, as first use would
      const probe = [
        'const m = require(process.argv[1]); if (typeof m.handler !== "function") { console.error("no handler export"); process.exit(3); }',
        'if (m.codeCache !== "accepted") { console.error("code cache " + m.codeCache); process.exit(5); }',
        'for (const f of process.argv.slice(2)) { const x = require(f); if (!x || (typeof x !== "function" && typeof x !== "object")) { console.error("empty " + f); process.exit(4); } }',
      ].join('\n');
      const loaded = await run(process.execPath, ['-e', probe, join(target, 'index.js'), ...lazyFiles.map((f) => join(target, f))], { cwd: target, env });
      expect(loaded.code, `${name}: ${loaded.output}`).toBe(0);
    }
    expect(new Set(objects.map((o) => o.ObjectName)).size).toBe(FUNCTIONS.length);
  });

  it('keeps @alicloud/fc2 out of every eager bundle (at most 200 KB) and ships no ioredis; onboarding-api ships fc2 beside it', () => {
    for (const name of FUNCTIONS) {
      const meta = JSON.parse(readFileSync(join(dir!, 'dist', name, 'meta.json'), 'utf8')) as { inputs: Record<string, unknown> };
      expect(Object.keys(meta.inputs).some((i) => /node_modules\/(@alicloud\/fc2|ioredis)\//.test(i)), `${name} inlines a lazy package`).toBe(false);
      const eager = statSync(join(dir!, 'dist', name, 'index.js')).size + statSync(join(dir!, 'dist', name, 'main.js')).size;
      expect(eager, name).toBeLessThanOrEqual(200 * 1024);
      // The redis store speaks RESP itself (shared/store/redis-connection.ts).
      expect(existsSync(join(dir!, 'dist', name, 'lazy', 'ioredis.js')), `${name} ships ioredis`).toBe(false);
    }
    const fc2 = join(dir!, 'dist', 'onboarding-api', 'lazy', 'alicloud__fc2.js');
    expect(statSync(fc2).size).toBeGreaterThan(100 * 1024);
    expect(readFileSync(join(dir!, 'dist', 'onboarding-api', 'main.js'), 'utf8')).toContain('require("./lazy/alicloud__fc2.js")');
  });

  /**
   * One packaged CAMS function (dist/<name>/, or a copy at `fnDir`) answers `event` from a plain
   * node process with only `env`; what it loaded of http, https and tls.
   */
  async function firstRequest(name: string, env: Record<string, string>, event: string, fnDir = join(dir!, 'dist', name)) {
    const probe = [
      'const m = require(process.argv[1]);',
      "m.handler(Buffer.from(process.env.PROBE_EVENT), { requestId: 'probe' }).then((r) => {",
      "  const loaded = process.moduleLoadList.filter((x) => /^NativeModule (_http_\\w+|https?|tls)$/.test(x)).map((x) => x.slice('NativeModule '.length));",
      "  console.log('RESULT ' + JSON.stringify({ status: r.statusCode, code: JSON.parse(r.body).Code, codeCache: m.codeCache, loaded }));",
      '  process.exit(0);',
      '});',
    ].join('\n');
    const ran = await run(process.execPath, ['-e', probe, join(fnDir, 'index.js')], { cwd: fnDir, env: { PATH: process.env.PATH ?? '', ...env, PROBE_EVENT: event } });
    const result = JSON.parse(/RESULT (.*)/.exec(ran.output)?.[1] ?? 'null') as { status: number; code: string; codeCache: string; loaded: string[] } | null;
    return { result, output: `${name}: ${ran.output}` };
  }

  // The first request's CAMS call goes over node:net (shared/http/request.ts): node:http would add
  // ~8 ms of CPU to every cold start, node:https ~10 ms more than node:tls.
  it('answers a first request on redis from a plain node process without loading node:http or node:https', async () => {
    const names = Object.keys(WARM_UP_REQUESTS);
    const warm = (await startWarmUp(names))!;
    try {
      for (const name of names) {
        const { env, event } = warm.invocation(name)!;
        const { result, output } = await firstRequest(name, env, event);
        expect(result && { status: result.status, code: result.code, http: result.loaded.filter((m) => m !== 'tls') }, output).toEqual({ status: 200, code: 'OK', http: [] });
      }
    } finally {
      await warm.close();
    }
  });

  // FC collects a function's stdout; if that pipe closes, the stream's unhandled 'error' (EPIPE)
  // would end the instance with every invocation in flight. The log line is dropped instead.
  it('goes on answering when its stdout is closed (EPIPE): three invocations, each logged to a closed pipe', async () => {
    const warm = (await startWarmUp(['query-waba']))!;
    try {
      const { env } = warm.invocation('query-waba')!;
      const events = [1, 2, 3].map(() => warm.invocation('query-waba')!.event);
      const fnDir = join(dir!, 'dist', 'query-waba');
      const probe = [
        "const { writeSync } = require('fs');",
        'const m = require(process.argv[1]);',
        '(async () => {',
        '  for (const e of JSON.parse(process.env.PROBE_EVENTS)) {',
        "    const r = await m.handler(Buffer.from(e), { requestId: 'probe' });",
        "    writeSync(2, 'REPLY ' + r.statusCode + ' ' + JSON.parse(r.body).Code + '\\n');",
        // the write's EPIPE arrives as an event: give it its turn before the next invocation
        '    await new Promise((resolve) => setTimeout(resolve, 20));',
        '  }',
        '  process.exit(0);',
        '})();',
      ].join('\n');
      const { STORE_URL: _store, ...withoutStore } = env;
      const child = spawn(process.execPath, ['-e', probe, join(fnDir, 'index.js')], {
        cwd: fnDir,
        env: { PATH: process.env.PATH ?? '', ...withoutStore, LOG_LEVEL: 'info', PROBE_EVENTS: JSON.stringify(events) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect({ code, replies: stderr.match(/^REPLY .*$/gm) }, stderr).toEqual({ code: 0, replies: ['REPLY 200 OK', 'REPLY 200 OK', 'REPLY 200 OK'] });
      expect(stderr).not.toContain('EPIPE');
    } finally {
      await warm.close();
    }
  });

  // As on FC: CAMS over https, the store over rediss://, and TLS roots as serverless.yml sets them
  // up: --use-openssl-ca and SSL_CERT_DIR=/code/certs, the roots the artifact ships. The two fronts'
  // CAs are put among those roots, in a copy of the function, as a public root is there on FC. The
  // code is not in /code here, so the loader points OpenSSL at the copy's certs/. The loader runs
  // main.js as a vm.Script, where an import() left in the bundle throws when reached; the TLS paths
  // are where the bundle loads a builtin on demand.
  it.skipIf(!findOnPath('openssl') && !inCI)('answers a first request as deployed: CAMS over https, the store over rediss://, roots from the shipped directory', async () => {
    const names = Object.keys(WARM_UP_REQUESTS);
    const warm = (await startWarmUp(names))!;
    const port = (url: string) => Number(new URL(url).port);
    const { env: plain } = warm.invocation(names[0]!)!;
    const camsCert = makeTlsCert(findOnPath('openssl'))!;
    const redisCert = makeTlsCert(findOnPath('openssl'))!;
    const cams = (await startTlsFront(undefined, { host: '127.0.0.1', port: port(plain.CAMS_ENDPOINT!) }, camsCert))!;
    const redis = (await startTlsFront(undefined, { host: '127.0.0.1', port: port(plain.STORE_URL!) }, redisCert))!;
    const template = (name: string) => update.Resources[`sls-${name}`]!.Properties.environmentVariables as Record<string, string>;
    const copies = join(dir!, 'as-deployed');
    try {
      for (const name of names) {
        const roots = { NODE_OPTIONS: template(name).NODE_OPTIONS!, SSL_CERT_DIR: template(name).SSL_CERT_DIR!, SSL_CERT_FILE: template(name).SSL_CERT_FILE! };
        expect(roots).toEqual({ NODE_OPTIONS: '--use-openssl-ca', SSL_CERT_DIR: `${FC_CODE_DIR}/${ROOT_STORE_DIR}`, SSL_CERT_FILE: `${FC_CODE_DIR}/${ROOT_STORE_DIR}/${NO_CERT_FILE}` });
        const { env, event } = warm.invocation(name)!;
        const deployed = { ...env, ...roots, CAMS_ENDPOINT: cams.url, STORE_URL: env.STORE_URL!.replace(/^redis:\/\/127\.0\.0\.1:\d+/, `rediss://127.0.0.1:${redis.port}`) };
        // The shipped roots alone (named where they are; redis's CA through NODE_EXTRA_CA_CERTS, as
        // README describes for a private CA): CAMS's CA is not among them, so its call fails.
        const shippedDir = join(dir!, 'dist', name, ROOT_STORE_DIR);
        const shipped = await firstRequest(name, { ...deployed, SSL_CERT_DIR: shippedDir, SSL_CERT_FILE: join(shippedDir, NO_CERT_FILE), NODE_EXTRA_CA_CERTS: redisCert.caFile }, event);
        expect(shipped.result && { status: shipped.result.status, code: shipped.result.code }, shipped.output).toEqual({ status: 502, code: 'NetworkError' });
        // Both CAs among the shipped roots, in a copy of the function outside /code.
        const copy = join(copies, name);
        cpSync(join(dir!, 'dist', name), copy, { recursive: true });
        writeRootStore(join(copy, ROOT_STORE_DIR), [...rootCertificates, camsCert.cert.toString(), redisCert.cert.toString()]);
        const { result, output } = await firstRequest(name, deployed, event, copy);
        expect(result, output).toEqual({ status: 200, code: 'OK', codeCache: 'accepted', loaded: ['tls'] });
      }
    } finally {
      await cams.close();
      await redis.close();
      camsCert.remove();
      redisCert.remove();
      removeDir(copies);
      await warm.close();
    }
  });

  it('writes dist/s.yaml for FC 3.0, valid against the fc3 schema, with dist/fc3/ beside it', () => {
    const doc = parseYaml(readFileSync(join(dir!, 'dist', 's.yaml'), 'utf8')) as { resources: Record<string, { props: Record<string, unknown> }> };
    expect(validateSYaml(doc)).toEqual([]);
    expect(Object.keys(doc.resources).sort()).toEqual([...FUNCTIONS].sort());
    for (const name of FUNCTIONS) {
      expect(doc.resources[name]!.props.environmentVariables, name).toMatchObject({
        STORE_URL: GIVEN_ENV.STORE_URL,
        // TLS roots from the artifact's certs/ (scripts/root-store.ts)
        NODE_OPTIONS: '--use-openssl-ca',
        SSL_CERT_DIR: `${FC_CODE_DIR}/${ROOT_STORE_DIR}`,
        SSL_CERT_FILE: `${FC_CODE_DIR}/${ROOT_STORE_DIR}/${NO_CERT_FILE}`,
      });
      expect(existsSync(join(dir!, 'dist', 'fc3', 'ram', `${SERVICE}-${name}.policy.json`)), name).toBe(true);
    }
    expect(packageOutput).toMatch(/no alert sink is configured/);
  });

  it("leaves every file holding the functions' secrets readable by its owner only (s.yaml, the FC 2.0 update template)", () => {
    const written = [join(dir!, 'dist', 's.yaml'), ...readdirSync(join(dir!, '.serverless')).filter((f) => f.endsWith('.json')).map((f) => join(dir!, '.serverless', f))];
    const holding = written.filter((f) => readFileSync(f, 'utf8').includes(GIVEN_ENV.API_KEYS!));
    expect(holding.map((f) => f.slice(dir!.length + 1)).sort()).toEqual(['.serverless/configuration-template-update.json', 'dist/s.yaml']);
    for (const file of holding) expect((statSync(file).mode & 0o777).toString(8), file).toBe('600');
  });

  it('refuses --stage prod with an empty API_KEYS or CAMS_RECEIPT_TOKEN, or a file STORE_URL, naming each', async () => {
    const other = makeServiceDir('cams-fc-pkg-prod-');
    try {
      // dist/ and .serverless/ as the dev packaging left them: its s.yaml must not survive to be deployed as prod.
      cpSync(join(dir!, 'dist'), join(other, 'dist'), { recursive: true });
      cpSync(join(dir!, '.serverless'), join(other, '.serverless'), { recursive: true });
      expect(existsSync(join(other, 'dist', 's.yaml'))).toBe(true);
      expect(existsSync(join(other, '.serverless', 'configuration-template-update.json'))).toBe(true);
      const pkg = await run(TSX, [join(REPO, 'scripts/package.ts'), '--dir', other, '--stage', 'prod'], { env: { ...packageEnv, API_KEYS: '', STORE_URL: 'file:./.data', CAMS_RECEIPT_TOKEN: '' } });
      expect(pkg.code).not.toBe(0);
      expect(pkg.output).toMatch(/API_KEYS is empty: .*stage "prod"/);
      expect(pkg.output).toMatch(/STORE_URL must be redis:\/\/… or rediss:\/\/…/);
      expect(pkg.output).toMatch(/CAMS_RECEIPT_TOKEN is empty: .*used by "cams-events"/);
      expect(existsSync(join(other, 'dist', 's.yaml'))).toBe(false);
      expect(existsSync(join(other, 'dist', 'fc3'))).toBe(false);
      expect(existsSync(join(other, '.serverless'))).toBe(false);
      expect(existsSync(join(other, 'dist', 'bind-waba', 'index.js'))).toBe(true);
    } finally {
      removeDir(other);
    }
  }, 120_000);

  it("refuses a function environment over FC's 4 KB (a 5 KB MONITOR_TARGETS), naming the function and the variable", async () => {
    const other = makeServiceDir('cams-fc-pkg-env-');
    try {
      cpSync(join(dir!, 'dist'), join(other, 'dist'), { recursive: true });
      const targets = JSON.stringify(Array.from({ length: 80 }, (_, i) => ({ CustSpaceId: `cs-${i}`, NodeType: 'waba', WabaId: String(1e9 + i) })));
      expect(targets.length).toBeGreaterThan(5000);
      const pkg = await run(TSX, [join(REPO, 'scripts/package.ts'), '--dir', other], { env: { ...packageEnv, MONITOR_TARGETS: targets } });
      expect(pkg.code).not.toBe(0);
      expect(pkg.output).toMatch(/function "health-monitor": its environment variables take \d+ bytes, Function Compute allows 4096 in all; largest: MONITOR_TARGETS/);
      expect(pkg.output).not.toContain('cs-42');
    } finally {
      removeDir(other);
    }
  }, 120_000);

  it('names everything after the stage given', async () => {
    const other = makeServiceDir('cams-fc-pkg-stage-');
    try {
      cpSync(join(dir!, 'dist'), join(other, 'dist'), { recursive: true });
      const pkg = await run(TSX, [join(REPO, 'scripts/package.ts'), '--dir', other, '--stage', 'prod'], { env: packageEnv });
      expect(pkg.code, pkg.output).toBe(0);
      const t = JSON.parse(readFileSync(join(other, '.serverless', 'configuration-template-update.json'), 'utf8')) as Template;
      for (const [, r] of of(t, 'ALIYUN::FC::Function')) expect(r.Properties.service).toBe('cams-fc-prod');
      const mns = of(t, 'ALIYUN::FC::Trigger').map(([, r]) => r.Properties.triggerConfig.eventSourceConfig?.eventSourceParameters?.sourceMNSParameters).find(Boolean);
      expect(mns.QueueName).toBe('cams-fc-onboarding-prod');
      expect(JSON.stringify(t.Resources['sls-fc-role-onboarding-api'])).toContain('services/cams-fc-prod/functions/onboarding');
    } finally {
      removeDir(other);
    }
  }, 120_000);
});
