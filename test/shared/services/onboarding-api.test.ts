// Which FC API onboarding-api invokes `onboarding` through: FC 3.0's when the runtime names no
// service (FC 3.0 has none), FC 2.0's (@alicloud/fc2) when it does.
import { describe, expect, it } from 'vitest';
import { invokeTarget } from '../../../shared/services/onboarding-api.ts';

const fc3Context = { accountId: '1234567890123456', region: 'cn-hangzhou', service: { qualifier: 'LATEST' } };
const fc2Context = { ...fc3Context, service: { name: 'cams-fc-prod', qualifier: 'LATEST' } };

describe('invokeTarget', () => {
  it("FC 3.0 (no service): the function's FC 3.0 name at FC's public endpoint for the account and region", () => {
    expect(invokeTarget(fc3Context, { ONBOARDING_FUNCTION: 'cams-fc-prod-onboarding' })).toEqual({
      api: 'fc3',
      accountId: '1234567890123456',
      region: 'cn-hangzhou',
      fn: 'cams-fc-prod-onboarding',
      endpoint: 'https://1234567890123456.cn-hangzhou.fc.aliyuncs.com',
    });
    expect(invokeTarget(fc3Context, { FC_ENDPOINT: 'http://127.0.0.1:9000' })).toMatchObject({ api: 'fc3', fn: 'onboarding', endpoint: 'http://127.0.0.1:9000' });
  });

  it('FC 2.0 (the context names the service), or ONBOARDING_SERVICE: the fc2 target', () => {
    expect(invokeTarget(fc2Context, {})).toEqual({ api: 'fc2', accountId: '1234567890123456', region: 'cn-hangzhou', service: 'cams-fc-prod', fn: 'onboarding', endpoint: undefined });
    expect(invokeTarget(fc3Context, { ONBOARDING_SERVICE: 'legacy-svc' })).toMatchObject({ api: 'fc2', service: 'legacy-svc' });
  });

  it('no account id anywhere: 500 ServiceMisconfigured naming FC_ACCOUNT_ID', () => {
    expect(() => invokeTarget({ service: {} }, {})).toThrow(expect.objectContaining({ status: 500, code: 'ServiceMisconfigured', message: expect.stringContaining('FC_ACCOUNT_ID') }));
  });
});
