// Unit tests of the project-local plugin's parts: the ZIP writer, template helpers, the schema's
// patterns (compiled with the `u` flag as ajv does) and the deploy-time patches.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import CamsFcPlugin, { excludedFromArtifact, triggerTakesInvocationRole, uploadAllArtifacts, zipFunction } from '../../serverless/cams-fc-plugin.js';
import { CRON_PATTERN, ENV_NAME_PATTERN, HTTP_PATH_PATTERN, functionEvents } from '../../serverless/schema.js';
import {
  apiGatewayPath,
  apiName,
  environmentSize,
  fitName,
  mergeEnvironment,
  mnsTriggerConfig,
  normalizeStatements,
  timerTriggerConfig,
  triggerName,
} from '../../serverless/templates.js';
import { crc32, crc32Portable, createZip, directoryEntries } from '../../serverless/zip.js';
import { readZip, removeDir } from './support.ts';

describe('zip', () => {
  it('round-trips entries, compressed or stored, with correct CRCs', () => {
    const entries = [
      { name: 'index.js', data: Buffer.from('exports.handler = async () => 1;\n'.repeat(50)) },
      { name: 'package.json', data: Buffer.from('{"type":"commonjs"}\n') },
      { name: 'lib/random.bin', data: randomBytes(4096) },
      { name: 'empty.txt', data: Buffer.alloc(0) },
    ];
    const zip = createZip(entries);
    const back = readZip(zip, crc32Portable);
    expect([...back.keys()]).toEqual(['empty.txt', 'index.js', 'lib/random.bin', 'package.json']);
    for (const e of entries) expect(back.get(e.name)!.equals(e.data)).toBe(true);
    expect(zip.length).toBeLessThan(entries.reduce((n, e) => n + e.data.length, 0));
  });

  it('is deterministic whatever the input order', () => {
    const a = { name: 'a.js', data: Buffer.from('a') };
    const b = { name: 'b.js', data: Buffer.from('b') };
    expect(createZip([a, b]).equals(createZip([b, a]))).toBe(true);
  });

  it('computes the standard CRC-32 either way', () => {
    expect(crc32Portable(Buffer.from('123456789'))).toBe(0xcbf43926);
    const data = randomBytes(10_000);
    expect(crc32(data)).toBe(crc32Portable(data));
  });

  it('refuses entry names that could escape the extraction directory', () => {
    expect(() => createZip([{ name: '../x.js', data: Buffer.from('') }])).toThrow(/bad entry name/);
    expect(() => createZip([{ name: '/etc/x', data: Buffer.from('') }])).toThrow(/bad entry name/);
  });

  it('zips dist/<fn>/ without the metafile and source map', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cams-fc-zip-'));
    try {
      mkdirSync(join(dir, 'dist', 'fn', 'sub'), { recursive: true });
      for (const f of ['index.js', 'index.js.map', 'meta.json', 'package.json', 'sub/data.txt']) writeFileSync(join(dir, 'dist', 'fn', f), f);
      const rel = zipFunction(dir, 'fn');
      expect(rel).toBe(join('.serverless', 'fn.zip'));
      const entries = directoryEntries(join(dir, 'dist', 'fn'), (n) => !excludedFromArtifact(n)).map((e) => e.name).sort();
      expect(entries).toEqual(['index.js', 'package.json', 'sub/data.txt']);
      expect(() => zipFunction(dir, 'missing')).toThrow(/dist\/missing\/index\.js not found.*npm run build/);
    } finally {
      removeDir(dir);
    }
  });
});

describe('template helpers', () => {
  it('converts path parameters to API Gateway form', () => {
    expect(apiGatewayPath('/onboardings/{id}')).toEqual({ path: '/onboardings/[id]', params: ['id'] });
    expect(apiGatewayPath('/waba')).toEqual({ path: '/waba', params: [] });
  });

  it('names APIs uniquely per route, within API Gateway limits', () => {
    expect(apiName('bind-waba', { method: 'post', path: '/waba/bind' }, 1)).toBe('sls_http_bind_waba');
    const a = apiName('onboarding-api', { method: 'post', path: '/onboardings' }, 2);
    const b = apiName('onboarding-api', { method: 'get', path: '/onboardings/{id}' }, 2);
    expect(a).not.toBe(b);
    const long = apiName('a-very-long-function-name-for-testing', { method: 'get', path: '/some/really/long/path/{withParam}/and/more' }, 2);
    expect(long).toMatch(/^[A-Za-z][A-Za-z0-9_]{3,49}$/);
  });

  it('shortens names keeping them distinct', () => {
    const x = fitName('x'.repeat(70) + 'a', 64);
    const y = fitName('x'.repeat(70) + 'b', 64);
    expect(x).toHaveLength(64);
    expect(x).not.toBe(y);
    expect(fitName('short', 64)).toBe('short');
  });

  it('names triggers by kind, function and position', () => {
    expect(triggerName('timer', 'health-monitor', 0)).toBe('sls_timer_health_monitor');
    expect(triggerName('mns', 'onboarding', 1)).toBe('sls_mns_onboarding_2');
  });

  it('stringifies environment values and lets functions override the provider', () => {
    const env = mergeEnvironment({ A: 'p', B: 'p' }, { B: 'f', N: 3 as unknown as string, T: true as unknown as string });
    expect(env).toEqual({ A: 'p', B: 'f', N: '3', T: 'true' });
    expect(environmentSize({ AB: 'cde' })).toBe(5);
  });

  it('normalizes RAM statements to arrays', () => {
    expect(normalizeStatements([{ Effect: 'Allow', Action: 'cams:ChatappBindWaba', Resource: '*' }])).toEqual([
      { Effect: 'Allow', Action: ['cams:ChatappBindWaba'], Resource: ['*'] },
    ]);
  });

  it('builds FC 2.0 timer and MNS trigger configs', () => {
    expect(timerTriggerConfig({ cronExpression: '@every 5m', enable: false, payload: 'x' })).toEqual({ cronExpression: '@every 5m', enable: false, payload: 'x' });
    const mns = mnsTriggerConfig({ queueName: 'q' }, 'ap-southeast-1') as { eventSourceConfig: unknown; eventRuleFilterPattern: string };
    expect(mns.eventSourceConfig).toEqual({
      eventSourceType: 'MNS',
      eventSourceParameters: { sourceMNSParameters: { RegionId: 'ap-southeast-1', QueueName: 'q', IsBase64Decode: true } },
    });
    expect(mns.eventRuleFilterPattern).toBe('{}');
  });
});

describe('schema patterns (unicode regex, as ajv compiles them)', () => {
  const cron = new RegExp(CRON_PATTERN, 'u');
  it.each(['0 */5 * * * *', '@every 5m', '@every 1h30m', 'CRON_TZ=Asia/Shanghai 0 0 9 * * *'])('accepts cron %s', (c) => expect(cron.test(c)).toBe(true));
  it.each(['*/5 * * * *', '@every', 'every 5m', '0 */5 * * * * *'])('rejects cron %s', (c) => expect(cron.test(c)).toBe(false));
  it('rejects FC_* and malformed environment names', () => {
    const env = new RegExp(ENV_NAME_PATTERN, 'u');
    expect(env.test('API_KEYS')).toBe(true);
    expect(env.test('FC_ENDPOINT')).toBe(false);
    expect(env.test('1ABC')).toBe(false);
    expect(env.test('A-B')).toBe(false);
  });
  it('accepts route paths with parameters only', () => {
    const path = new RegExp(HTTP_PATH_PATTERN, 'u');
    expect(path.test('/onboardings/{id}')).toBe(true);
    expect(path.test('onboardings')).toBe(false);
    expect(path.test('/a b')).toBe(false);
  });
  it('compiles every pattern in the event schemas under the u flag', () => {
    const patterns: string[] = [];
    JSON.stringify(functionEvents, (k, v: unknown) => {
      if (k === 'pattern' && typeof v === 'string') patterns.push(v);
      return v;
    });
    expect(patterns.length).toBeGreaterThan(3);
    for (const p of patterns) expect(() => new RegExp(p, 'u')).not.toThrow();
  });
});

describe('deploy patches', () => {
  it('uploads every OSS object of the update template', async () => {
    const uploaded: string[][] = [];
    const self = {
      templates: {
        update: {
          Resources: {
            'sls-storage-object-a': { Type: 'ALIYUN::OSS:Object', Properties: { ObjectName: 'p/a.zip', LocalPath: '/x/a.zip', BucketName: 'b' } },
            'sls-storage-object-b': { Type: 'ALIYUN::OSS:Object', Properties: { ObjectName: 'p/b.zip', LocalPath: '/x/b.zip', BucketName: 'b' } },
            'sls-a': { Type: 'ALIYUN::FC::Function', Properties: {} },
          },
        },
      },
      serverless: { cli: { log: () => {} } },
      provider: { uploadObject: async (o: string, l: string) => uploaded.push([o, l]) },
    };
    await uploadAllArtifacts.call(self);
    expect(uploaded).toEqual([['p/a.zip', '/x/a.zip'], ['p/b.zip', '/x/b.zip']]);
  });

  it('drops the invocation role for timer and eventbridge triggers only', () => {
    expect(triggerTakesInvocationRole({ triggerType: 'timer' })).toBe(false);
    expect(triggerTakesInvocationRole({ triggerType: 'eventbridge' })).toBe(false);
    expect(triggerTakesInvocationRole({ triggerType: 'oss' })).toBe(true);
  });

  function fakeServerless(functions: Record<string, Record<string, unknown>>) {
    class AliyunDeploy {
      uploadArtifacts = () => 'original';
    }
    const fcCalls: unknown[][] = [];
    const provider = {
      options: { region: 'ap-southeast-1' },
      fcClient: {
        createTrigger: (...a: unknown[]) => fcCalls.push(['create', ...a]),
        updateTrigger: (...a: unknown[]) => fcCalls.push(['update', ...a]),
      },
      createTrigger(_s: string, _f: string, trigger: Record<string, unknown>, role: { Arn: string }) {
        fcCalls.push(['original-create', { ...trigger, invocationRole: role.Arn }]);
      },
      updateTrigger(_s: string, _f: string, _n: string, trigger: Record<string, unknown>, role: { Arn: string }) {
        fcCalls.push(['original-update', { ...trigger, invocationRole: role.Arn }]);
      },
    };
    const defined: unknown[] = [];
    const deploy = new AliyunDeploy();
    const serverless = {
      getProvider: () => provider,
      configSchemaHandler: { defineProvider: (...a: unknown[]) => defined.push(a) },
      service: { functions, getAllFunctions: () => Object.keys(functions) },
      pluginManager: { plugins: [deploy] },
      cli: { log: () => {} },
    };
    return { serverless, provider, fcCalls, defined, deploy };
  }

  it('registers the schema, names FC functions by key and patches the aliyun deploy', () => {
    const f = fakeServerless({ 'bind-waba': { handler: 'index.handler' }, named: { handler: 'index.handler', name: 'custom' } });
    new CamsFcPlugin(f.serverless, {});
    expect(f.defined).toHaveLength(1);
    expect((f.defined[0] as unknown[])[0]).toBe('aliyun');
    expect(f.serverless.service.functions['bind-waba']!.name).toBe('bind-waba');
    expect(f.serverless.service.functions.named!.name).toBe('custom');
    expect(f.deploy.uploadArtifacts).toBe(uploadAllArtifacts);

    f.provider.createTrigger('svc', 'fn', { triggerType: 'timer', triggerName: 't' }, { Arn: 'arn' });
    f.provider.createTrigger('svc', 'fn', { triggerType: 'oss', triggerName: 'o' }, { Arn: 'arn' });
    f.provider.updateTrigger('svc', 'fn', 'e', { triggerType: 'eventbridge', triggerName: 'e' }, { Arn: 'arn' });
    expect(f.fcCalls).toEqual([
      ['create', 'svc', 'fn', { triggerType: 'timer', triggerName: 't' }],
      ['original-create', { triggerType: 'oss', triggerName: 'o', invocationRole: 'arn' }],
      ['update', 'svc', 'fn', 'e', { triggerType: 'eventbridge', triggerName: 'e' }],
    ]);
  });

  it('rejects function names FC and dist/ cannot use', () => {
    const f = fakeServerless({ Bad_Name: { handler: 'index.handler' } });
    expect(() => new CamsFcPlugin(f.serverless, {})).toThrow(/function name "Bad_Name"/);
  });
});
