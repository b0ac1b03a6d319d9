import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadServerlessConfig, parseServerlessConfig } from '../../../local/host/serverless-config.ts';

const ROOT_YML = fileURLToPath(new URL('../../../serverless.yml', import.meta.url));
const FIXTURE_YML = fileURLToPath(new URL('./fixtures/serverless.yml', import.meta.url));

describe('the project serverless.yml as the host reads it', () => {
  const cfg = loadServerlessConfig(ROOT_YML, { env: {}, options: {} });

  it('names the FC service <service>-<stage>, stage dev by default', () => {
    expect(cfg.service).toBe('cams-fc');
    expect(cfg.stage).toBe('dev');
    expect(cfg.fcServiceName).toBe('cams-fc-dev');
    expect(loadServerlessConfig(ROOT_YML, { env: {}, options: { stage: 'prod' } }).fcServiceName).toBe('cams-fc-prod');
  });

  it('lists the documented HTTP routes', () => {
    const routes = cfg.functions.flatMap((f) => f.http.map((h) => `${h.method} ${h.path}`));
    for (const r of ['POST /waba/bind', 'GET /waba', 'POST /phone-numbers', 'GET /health-status', 'POST /onboardings', 'GET /onboardings/{id}', 'GET /health-report']) {
      expect(routes).toContain(r);
    }
  });

  it('resolves ${env:NAME, \'\'} from the environment, empty when unset', () => {
    const bind = cfg.functions.find((f) => f.name === 'bind-waba')!;
    expect(bind.environment['API_KEYS']).toBe('');
    expect(bind.environment['CAMS_ENDPOINT']).toBe('');
    const withEnv = loadServerlessConfig(ROOT_YML, { env: { API_KEYS: 'a-b:secret-0000001', CAMS_ENDPOINT: 'http://x' }, options: {} });
    const b2 = withEnv.functions.find((f) => f.name === 'bind-waba')!;
    expect(b2.environment).toMatchObject({ API_KEYS: 'a-b:secret-0000001', CAMS_ENDPOINT: 'http://x' });
  });
});

describe('the fixture serverless.yml', () => {
  const cfg = loadServerlessConfig(FIXTURE_YML, { env: {}, options: {} });

  it('merges provider and function environment, resolving self and sls variables', () => {
    const echo = cfg.functions.find((f) => f.name === 'echo')!;
    expect(echo.environment).toMatchObject({ FIXTURE_GREETING: 'hello', FIXTURE_ECHO: 'echo-cn-hangzhou-dev', STORE_URL: '' });
    expect(echo.memorySize).toBe(512);
    expect(echo.timeout).toBe(5);
    expect(cfg.functions.find((f) => f.name === 'slow')!.timeout).toBe(1);
  });

  it('names timer triggers as the deployment does, keeps enable and payload', () => {
    const tick = cfg.functions.find((f) => f.name === 'tick')!;
    expect(tick.timers).toEqual([
      { kind: 'timer', cronExpression: '@every 1s', enable: true, payload: 'tick-payload', triggerName: 'sls_timer_tick' },
      { kind: 'timer', cronExpression: '0 0 0 1 1 *', enable: false, payload: '', triggerName: 'sls_timer_tick_2' },
    ]);
  });
});

describe('shape errors name the property', () => {
  const parse = (yml: string) => parseServerlessConfig(yml, { env: {}, options: {} });
  it.each([
    ['service: 3\n', /"service"/],
    ['service: s\nfunctions:\n  Bad_Name:\n    handler: index.handler\n', /functions\.Bad_Name/],
    ['service: s\nfunctions:\n  f:\n    handler: nodot\n', /functions\.f\.handler/],
    ['service: s\nfunctions:\n  f:\n    handler: index.handler\n    events:\n      - http: { method: fetch, path: /x }\n', /events\.0\.http\.method/],
    ['service: s\nfunctions:\n  f:\n    handler: index.handler\n    events:\n      - http: { method: get, path: x }\n', /events\.0\.http\.path/],
    ['service: s\nfunctions:\n  f:\n    handler: index.handler\n    environment: { A: "${env:NOPE}" }\n', /functions\.f\.environment\.A/],
    ['service: [unclosed\n', /not valid YAML/],
  ])('%#', (yml, message) => {
    expect(() => parse(yml)).toThrow(message);
  });
});
