import { describe, expect, it } from 'vitest';
import { credentialsFrom, MissingCredentialsError } from '../../../shared/cams/credentials.ts';

const ENV = {
  ALIBABA_CLOUD_ACCESS_KEY_ID: 'env-id',
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'env-secret',
  ALIBABA_CLOUD_SECURITY_TOKEN: 'env-token',
};

describe('credentialsFrom', () => {
  it('prefers the FC context credentials (STS) over env', () => {
    const ctx = { credentials: { accessKeyId: 'STS.ctx', accessKeySecret: 'ctx-secret', securityToken: 'ctx-token' } };
    expect(credentialsFrom(ctx, ENV)).toEqual({ accessKeyId: 'STS.ctx', accessKeySecret: 'ctx-secret', securityToken: 'ctx-token' });
  });

  it('falls back to env when the context has no role ({}), empty values, or no context', () => {
    const expected = { accessKeyId: 'env-id', accessKeySecret: 'env-secret', securityToken: 'env-token' };
    expect(credentialsFrom({ credentials: {} }, ENV)).toEqual(expected);
    expect(credentialsFrom({ credentials: { accessKeyId: '', accessKeySecret: '', securityToken: '' } }, ENV)).toEqual(expected);
    expect(credentialsFrom({ credentials: null }, ENV)).toEqual(expected);
    expect(credentialsFrom(undefined, ENV)).toEqual(expected);
  });

  it('env without a token gives plain AK credentials', () => {
    const env = { ALIBABA_CLOUD_ACCESS_KEY_ID: 'id', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'secret', ALIBABA_CLOUD_SECURITY_TOKEN: '' };
    expect(credentialsFrom(undefined, env)).toEqual({ accessKeyId: 'id', accessKeySecret: 'secret', securityToken: undefined });
  });

  it('an AK in the context without a token is used as is', () => {
    expect(credentialsFrom({ credentials: { accessKeyId: 'a', accessKeySecret: 'b' } }, {})).toEqual({
      accessKeyId: 'a',
      accessKeySecret: 'b',
      securityToken: undefined,
    });
  });

  it('names the env vars when neither source has keys', () => {
    expect(() => credentialsFrom({ credentials: {} }, {})).toThrow(MissingCredentialsError);
    expect(() => credentialsFrom(undefined, {})).toThrow(/ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set/);
  });

  it('names the one env var that is missing', () => {
    expect(() => credentialsFrom(undefined, { ALIBABA_CLOUD_ACCESS_KEY_ID: 'id' })).toThrow(/ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set/);
    expect(() => credentialsFrom({ credentials: { accessKeyId: 'only-id' } }, { ALIBABA_CLOUD_ACCESS_KEY_SECRET: 's' })).toThrow(
      /ALIBABA_CLOUD_ACCESS_KEY_ID is not set/,
    );
  });

  it('reads process.env by default', () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, ENV);
      expect(credentialsFrom().accessKeyId).toBe('env-id');
    } finally {
      for (const k of Object.keys(ENV)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
