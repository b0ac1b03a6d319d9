import { describe, expect, it } from 'vitest';
import { functionEnvironment, type HostSupplied } from '../../../local/host/function-env.ts';
import type { FunctionSpec } from '../../../local/host/serverless-config.ts';

const host: HostSupplied = {
  camsEndpoint: 'http://127.0.0.1:9100',
  storeUrl: 'file:./.data/dev',
  apiKeys: 'local-caller:local-caller-secret-0001',
  credentials: { accessKeyId: 'LTAIsandbox0000000001', accessKeySecret: 'sandboxSecret0000000000000000001' },
  fcEndpoint: 'http://127.0.0.1:9000',
  serviceName: 'cams-fc-dev',
  region: 'ap-southeast-1',
  accountId: '1234567890123456',
};

const spec = (name: string, environment: Record<string, string>): FunctionSpec => ({ name, handler: 'index.handler', memorySize: 256, timeout: 15, environment, http: [], timers: [], other: [] });

describe('functionEnvironment', () => {
  it('is the declared environment plus what the host supplies, nothing else', () => {
    const env = functionEnvironment(spec('health-monitor', { CAMS_ENDPOINT: '', STORE_URL: '', ALERT_SLACK_WEBHOOK: 'https://hooks.example/x' }), host);
    expect(env).toEqual({
      CAMS_ENDPOINT: host.camsEndpoint,
      STORE_URL: host.storeUrl,
      ALERT_SLACK_WEBHOOK: 'https://hooks.example/x',
      ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIsandbox0000000001',
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'sandboxSecret0000000000000000001',
      FC_ENDPOINT: host.fcEndpoint,
      FC_SERVICE_NAME: 'cams-fc-dev',
      FC_FUNCTION_NAME: 'health-monitor',
      FC_REGION: 'ap-southeast-1',
      FC_ACCOUNT_ID: '1234567890123456',
    });
  });

  it('a value serverless.yml gives wins over the host default; API_KEYS only where declared', () => {
    const own = functionEnvironment(spec('bind-waba', { CAMS_ENDPOINT: 'https://cams.example', STORE_URL: 'memory:', API_KEYS: '' }), host);
    expect(own['CAMS_ENDPOINT']).toBe('https://cams.example');
    expect(own['STORE_URL']).toBe('memory:');
    expect(own['API_KEYS']).toBe(host.apiKeys);
    expect(functionEnvironment(spec('onboarding', {}), host)).not.toHaveProperty('API_KEYS');
    expect(functionEnvironment(spec('x', { API_KEYS: 'a-caller:its-own-secret' }), host)['API_KEYS']).toBe('a-caller:its-own-secret');
  });

  it('as FC 3.0 (no service): no FC_SERVICE_NAME, the rest as before', () => {
    const env = functionEnvironment(spec('onboarding-api', { ONBOARDING_FUNCTION: 'onboarding' }), { ...host, serviceName: undefined });
    expect(env).not.toHaveProperty('FC_SERVICE_NAME');
    expect(env).toMatchObject({ FC_ENDPOINT: host.fcEndpoint, FC_FUNCTION_NAME: 'onboarding-api', FC_ACCOUNT_ID: host.accountId, ONBOARDING_FUNCTION: 'onboarding' });
  });

  it("keeps serverless.yml's NODE_OPTIONS as it is (the worker puts it in its process.env: a Worker refuses it in env)", async () => {
    const env = functionEnvironment(spec('bind-waba', { NODE_OPTIONS: '--use-openssl-ca', SSL_CERT_DIR: '/code/certs', CAMS_ENDPOINT: '' }), host);
    expect(env).toMatchObject({ NODE_OPTIONS: '--use-openssl-ca', SSL_CERT_DIR: '/code/certs' });
    const { Worker } = await import('node:worker_threads');
    expect(() => new Worker('0', { eval: true, env: { NODE_OPTIONS: '--use-openssl-ca' } })).toThrow(/--use-openssl-ca is not allowed/);
  });

  it('no credentials, no credential variables; an STS token is passed on', () => {
    const none = functionEnvironment(spec('x', {}), { ...host, credentials: {} });
    expect(Object.keys(none).filter((k) => k.startsWith('ALIBABA_CLOUD_'))).toEqual([]);
    const sts = functionEnvironment(spec('x', {}), { ...host, credentials: { ...host.credentials, securityToken: 'tok' } });
    expect(sts['ALIBABA_CLOUD_SECURITY_TOKEN']).toBe('tok');
  });
});
