import { describe, expect, it } from 'vitest';
import { HostConfigError, hostOptionsFromEnv } from '../../../local/host/config.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';

describe('npm start environment', () => {
  it('embedded defaults', () => {
    const o = hostOptionsFromEnv({});
    expect(o).toMatchObject({ host: '127.0.0.1', port: 9000, sandbox: { host: '127.0.0.1', port: 9100 }, timers: true, fcVersion: '3' });
    expect(o.stage).toBeUndefined();
    expect(o.sandbox!.keys).toBeUndefined();
  });

  it('reads PORT, CAMS_SANDBOX_*, HOST_TIMERS and --stage', () => {
    const o = hostOptionsFromEnv(
      { PORT: '0', CAMS_SANDBOX_PORT: '0', HOST_TIMERS: 'OFF', CAMS_SANDBOX_KEYS: 'a:b', CAMS_SANDBOX_QPS: 'GetWhatsappHealthStatus=20' },
      ['--stage', 'prod'],
    );
    expect(o).toMatchObject({ port: 0, timers: false, stage: 'prod', sandbox: { port: 0, keys: [{ accessKeyId: 'a', accessKeySecret: 'b' }], qps: { GetWhatsappHealthStatus: 20 } } });
    expect(hostOptionsFromEnv({}, ['--stage=test']).stage).toBe('test');
    expect(hostOptionsFromEnv({ HOST_FC_VERSION: '2' }).fcVersion).toBe('2');
    expect(hostOptionsFromEnv({ HOST_FC_VERSION: '3.0' }).fcVersion).toBe('3');
    expect(DEFAULT_SANDBOX_KEYS.length).toBeGreaterThan(0);
  });

  it('names every bad variable at once', () => {
    try {
      hostOptionsFromEnv({ PORT: 'x', CAMS_SANDBOX_PORT: '70000', HOST_TIMERS: 'maybe', HOST_FC_VERSION: '4', CAMS_SANDBOX_KEYS: 'nocolon' }, ['--bogus']);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(HostConfigError);
      const text = (e as HostConfigError).problems.join('\n');
      for (const name of ['PORT', 'CAMS_SANDBOX_PORT', 'HOST_TIMERS', 'HOST_FC_VERSION', 'CAMS_SANDBOX_KEYS', '--bogus']) expect(text).toContain(name);
    }
  });
});
