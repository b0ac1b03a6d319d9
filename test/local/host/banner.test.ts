import { describe, expect, it } from 'vitest';
import { banner, exposureNote } from '../../../local/host/banner.ts';
import type { RunningHost } from '../../../local/host/running-host.ts';
import type { ServerlessConfig } from '../../../local/host/serverless-config.ts';

/** A host with CAMS_ENDPOINT set (no sandbox), nothing else to list. */
function configuredCamsHost(credentials: RunningHost['credentials']): RunningHost {
  return {
    url: 'http://127.0.0.1:9000',
    serviceName: 'cams-fc-dev',
    stage: 'dev',
    region: 'ap-southeast-1',
    fcVersion: '3',
    missing: [],
    broken: [],
    routes: [],
    timers: [],
    credentials,
    camsEndpoint: 'https://cams.ap-southeast-1.aliyuncs.com',
    storeUrl: 'file:./.data/dev',
    environments: {},
    apiKeys: [{ accessKeyId: 'local-caller', accessKeySecret: 'local-caller-secret-0001' }],
    usingDefaultApiKeys: true,
  } as unknown as RunningHost;
}
const noFunctions = { functions: [] } as unknown as ServerlessConfig;

describe('the banner with CAMS_ENDPOINT set', () => {
  it('names the key the functions call CAMS with, never its secret', () => {
    const text = banner(configuredCamsHost({ accessKeyId: 'LTAImine', accessKeySecret: 'my-own-secret-value' }), noFunctions).join('\n');
    expect(text).toContain('CAMS endpoint: https://cams.ap-southeast-1.aliyuncs.com  (the functions call it as LTAImine)');
    expect(text).not.toContain('my-own-secret-value');
  });

  it('says so when the host has no credentials to give the functions (every CAMS call would be a 500)', () => {
    const text = banner(configuredCamsHost({}), noFunctions).join('\n');
    expect(text).toMatch(/CAMS endpoint: \S+ {2}\(no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or every CAMS call answers 500 ServiceMisconfigured\)/);
  });
});

describe('the banner on a host other machines can reach', () => {
  it('warns that the queue routes take messages without credentials (and the default keys sign anything); not on loopback', () => {
    expect(exposureNote('http://0.0.0.0:9000', false)).toMatch(/mns queue routes take messages without credentials.*keep HOST=127\.0\.0\.1/);
    expect(exposureNote('http://0.0.0.0:9000', false)).not.toContain('API_KEYS');
    expect(exposureNote('http://192.168.1.20:9000', true)).toContain('the default API_KEYS pair above signs any call');
    expect(exposureNote('http://[::]:9000', false)).toBeDefined();
    for (const url of ['http://127.0.0.1:9000', 'http://127.0.0.2:1', 'http://localhost:9000', 'http://[::1]:9000']) expect(exposureNote(url, true), url).toBeUndefined();
  });
});
