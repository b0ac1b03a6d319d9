import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { planHost } from '../../../local/host/host-config.ts';

const CONFIG = fileURLToPath(new URL('../../../serverless.yml', import.meta.url));
const plan = (env: Record<string, string>, stage?: string, dataRoot?: string) => planHost({ configPath: CONFIG, env, startedAt: Date.now(), ...(stage ? { stage } : {}), ...(dataRoot ? { dataRoot } : {}) });

describe('planHost', () => {
  it('each stage has its own data directory and default STORE_URL', () => {
    expect(plan({}, 'dev').storeUrl).toBe('file:./.data/dev');
    expect(plan({}, 'prod').storeUrl).toBe('file:./.data/prod');
    expect(plan({}, 'prod').dataDir).toBe(join(process.cwd(), '.data', 'prod'));
    expect(plan({}, 'qa', '/var/tmp/cams').storeUrl).toBe('file:/var/tmp/cams/qa');
    expect(plan({ STORE_URL: 'redis://127.0.0.1:6379' }, 'prod').storeUrl).toBe('redis://127.0.0.1:6379');
  });

  it('API_KEYS: the default pair when unset, the configured keys when set', () => {
    expect(plan({}).usingDefaultApiKeys).toBe(true);
    const set = plan({ API_KEYS: 'a-caller:a-caller-secret' });
    expect(set.usingDefaultApiKeys).toBe(false);
    expect(set.apiKeys).toEqual([{ accessKeyId: 'a-caller', accessKeySecret: 'a-caller-secret' }]);
  });

  it('a bad value stops start-up naming the variable', () => {
    expect(() => plan({ STORE_URL: 'ftp://x' })).toThrow(/STORE_URL/);
    expect(() => plan({ STORE_URL: 'redis://:pw@127.0.0.1:6379/abc' })).toThrow(/STORE_URL.*database number/);
    expect(() => plan({ STORE_URL: 'redis://:pw@127.0.0.1:6379?foo=1' })).toThrow(/STORE_URL.*unknown parameter "foo"/);
    expect(() => plan({ API_KEYS: 'no-secret' })).toThrow(/API_KEYS/);
    expect(() => plan({ CAMS_ENDPOINT: 'not a url' })).toThrow(/CAMS_ENDPOINT/);
  });

  it('a value a function would refuse on its first invocation stops start-up, naming the variable and the functions', () => {
    let message = '';
    try {
      plan({ MONITOR_QPS: 'abc', CAMS_QPS: 'Foo=3' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/MONITOR_QPS: must be a number of calls per second \(functions health-monitor, cams-events\)/);
    // A provider variable is named once, with every function that holds it.
    expect(message.match(/CAMS_QPS:/g)).toHaveLength(1);
    expect(message).toMatch(/CAMS_QPS: unknown operation "Foo".*\(functions bind-waba, .*watch-list, cams-events\)/);
    expect(() => plan({ MONITOR_QPS: '2' })).not.toThrow();
    // MONITOR_TARGETS too: on FC the monitor alerts InvalidTarget; here a bad entry is a typo to fix first
    expect(() => plan({ MONITOR_TARGETS: '[{"CustSpaceId":"C1","NodeType":"phone"}]' })).toThrow(
      /MONITOR_TARGETS: \[0\] PhoneNumber: is required when NodeType is phone \(functions health-monitor, health-report, cams-events\)/,
    );
    expect(() => plan({ MONITOR_TARGETS: '[{"CustSpaceId":"C1","NodeType":"phone","PhoneNumber":"8613800000000"}]' })).not.toThrow();
  });

  it('each HTTP function has its body limit, its own MAX_BODY_BYTES under the host\'s ceiling; other functions have none', () => {
    const limits = plan({}).bodyLimits;
    expect(limits.get('bind-waba')).toBe(262_144);
    expect(limits.has('health-monitor')).toBe(false);
    expect(planHost({ configPath: CONFIG, env: {}, startedAt: Date.now(), maxBodyBytes: 1000 }).bodyLimits.get('bind-waba')).toBe(1000);
  });

    it('CAMS_ENDPOINT and credentials from the environment when CAMS is configured', () => {
    const p = plan({ CAMS_ENDPOINT: 'https://cams.example', ALIBABA_CLOUD_ACCESS_KEY_ID: 'id', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'secret' });
    expect(p.configuredCams).toBe('https://cams.example');
    expect(p.envCredentials).toEqual({ accessKeyId: 'id', accessKeySecret: 'secret' });
    expect(plan({}).configuredCams).toBeUndefined();
  });
});
