// serverless.yml typos must fail `serverless package` with a clear message (the strict schema of
// serverless/schema.js, configValidationMode: error). Each case edits one line of a copy of the
// real serverless.yml; the unedited copy must package, so a failure is the edit's doing.
// Validation happens before any bundle is read, so fake dist/ bundles are enough here.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { OFFLINE_ENV } from '../../scripts/package.ts';
import { makeServiceDir, removeDir, REPO, run, writeFakeDist, type RunResult } from './support.ts';

const original = readFileSync(join(REPO, 'serverless.yml'), 'utf8');
const functionNames = Object.keys((parseYaml(original) as { functions: Record<string, unknown> }).functions);

/** Replaces the first `from` after the line `  <fn>:` (a function's block). */
function inFunction(fn: string, from: string | RegExp, to: string): (yml: string) => string {
  return (yml) => {
    const start = yml.indexOf(`\n  ${fn}:\n`);
    if (start < 0) throw new Error(`no function ${fn} in serverless.yml`);
    const head = yml.slice(0, start);
    const tail = yml.slice(start);
    const edited = tail.replace(from, to);
    if (edited === tail) throw new Error(`edit ${String(from)} found nothing in ${fn}`);
    return head + edited;
  };
}

interface Case {
  name: string;
  edit: (yml: string) => string;
  expect: RegExp[];
}

const CASES: Case[] = [
  {
    name: 'a misspelt function property (memorySiz)',
    edit: inFunction('bind-waba', /\n {4}memorySize:/, '\n    memorySiz:'),
    expect: [/Configuration error/, /functions\.bind-waba/, /unrecognized property 'memorySiz'/],
  },
  {
    name: 'an unknown event type (timerr)',
    edit: inFunction('health-monitor', '- timer:', '- timerr:'),
    expect: [/Configuration error/, /functions\.health-monitor\.events\.0/, /unsupported function event/],
  },
  {
    name: 'a misspelt property inside an http event',
    edit: inFunction('query-waba', 'path: /waba', 'paht: /waba'),
    expect: [/Configuration error/, /functions\.query-waba\.events\.0\.http/, /unrecognized property 'paht'/],
  },
  {
    name: 'a 5-field cron (FC wants seconds)',
    edit: inFunction('health-monitor', "'0 */5 * * * *'", "'*/5 * * * *'"),
    expect: [/Configuration error/, /timer\.cronExpression/, /must match pattern/],
  },
  {
    name: 'an FC_* environment variable (reserved by FC)',
    edit: inFunction('onboarding-api', 'ONBOARDING_FUNCTION: onboarding', 'FC_ENDPOINT: http://127.0.0.1:9000'),
    expect: [/Configuration error/, /functions\.onboarding-api\.environment/, /unrecognized property 'FC_ENDPOINT'/],
  },
  {
    name: 'a misspelt provider property',
    edit: (yml) => yml.replace('\n  runtime: nodejs20\n', '\n  runtme: nodejs20\n'),
    expect: [/Configuration error/, /provider/, /unrecognized property 'runtme'/],
  },
  {
    name: 'provider-level ramRoleStatements (they would reach every function)',
    edit: (yml) => yml.replace('\n  runtime: nodejs20\n', "\n  runtime: nodejs20\n  ramRoleStatements: [{ Effect: Allow, Action: ['cams:ChatappBindWaba'], Resource: ['*'] }]\n"),
    expect: [/Configuration error/, /provider/, /unrecognized property 'ramRoleStatements'/],
  },
  {
    name: 'a misspelt property of the mns event',
    edit: inFunction('onboarding', 'queueName:', 'queue:'),
    expect: [/Configuration error/, /functions\.onboarding\.events\.1\.mns/, /unrecognized property 'queue'/],
  },
];

const dirs: string[] = [];
const results = new Map<string, RunResult>();

async function packageWith(yml: string, opts: { args?: string[]; env?: Record<string, string> } = {}): Promise<RunResult> {
  const dir = makeServiceDir('cams-fc-cfg-');
  dirs.push(dir);
  writeFileSync(join(dir, 'serverless.yml'), yml);
  writeFakeDist(dir, functionNames);
  const env = { ...process.env, ...OFFLINE_ENV, ...opts.env };
  delete env.ALIYUN_CREDENTIALS_FILE;
  return run(join(REPO, 'node_modules/.bin/serverless'), ['package', ...(opts.args ?? [])], { cwd: dir, env });
}

beforeAll(async () => {
  const queue = [{ name: 'unedited', edit: (y: string) => y, expect: [] as RegExp[] }, ...CASES];
  // a few serverless processes at a time: enough to be quick, not enough to starve other test files
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) results.set(c.name, await packageWith(c.edit(original)));
  };
  await Promise.all([worker(), worker(), worker()]);
}, 180_000);

afterAll(() => dirs.forEach(removeDir));

describe('serverless.yml validation', () => {
  it('packages the unedited serverless.yml', () => {
    const ok = results.get('unedited')!;
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).not.toMatch(/Configuration error|Invalid configuration|doesn't provide a validation schema/);
  });

  for (const c of CASES) {
    it(`fails on ${c.name}`, () => {
      const r = results.get(c.name)!;
      expect(r.code, r.output).not.toBe(0);
      for (const re of c.expect) expect(r.output).toMatch(re);
    });
  }
});

describe("the plugin's deploy checks, with the functions' own readers", () => {
  it("refuses (any stage but dev) an alert setting of white space alone on cams-events, which it would refuse at start, naming the function and the variable", async () => {
    const yml = inFunction('cams-events', "ALERT_REPEAT_INTERVAL: ${env:ALERT_REPEAT_INTERVAL, ''}", "ALERT_REPEAT_INTERVAL: '  '")(original);
    const prodEnv = { API_KEYS: 'caller:0123456789abcdef', CAMS_RECEIPT_TOKEN: 'a-receipt-token-0123456789', STORE_URL: 'redis://cache:6379/0', ALERT_SLACK_WEBHOOK: 'https://hooks.slack.com/x' };
    const prod = await packageWith(yml, { args: ['--stage', 'prod'], env: prodEnv });
    expect(prod.code, prod.output).not.toBe(0);
    expect(prod.output).toContain('function "cams-events" would refuse ALERT_REPEAT_INTERVAL at start');
    const dev = await packageWith(yml, { env: prodEnv });
    expect(dev.code, dev.output).toBe(0);
    expect(dev.output).toContain('function "cams-events" would refuse ALERT_REPEAT_INTERVAL at start');
  }, 120_000);
});
