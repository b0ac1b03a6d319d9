import { describe, expect, it } from 'vitest';
import { adviceFor, CAMS_ADVICE, type CamsFailure } from '../../../shared/monitor/advice.ts';

// One case per row of the table: the code (as CAMS or our client reports it), the row it must land
// on, and a phrase only that row's advice has.
const ROWS: Array<{ cause: string; failure: CamsFailure; says: RegExp }> = [
  { cause: 'ownership', failure: { Code: 'Unknown.ResourceOwnerId', httpStatus: 400 }, says: /not owned by the account.*another account.*remove the target/ },
  { cause: 'credentials', failure: { Code: 'InvalidAccessKeyId.NotFound', httpStatus: 404 }, says: /refused the credentials.*ALIBABA_CLOUD_ACCESS_KEY_ID/ },
  { cause: 'permission', failure: { Code: 'Ram.PermissionDeny', httpStatus: 403 }, says: /grant cams:GetWhatsappHealthStatus/ },
  { cause: 'subscription', failure: { Code: 'Product.Unsubscript', httpStatus: 403 }, says: /not activated/ },
  { cause: 'quota', failure: { Code: 'System.LimitControl', httpStatus: 200 }, says: /lower MONITOR_QPS.*quota/ },
  { cause: 'parameters', failure: { Code: 'InvalidParameter.CustSpaceId', httpStatus: 400 }, says: /fix its CustSpaceId, NodeType/ },
  { cause: 'time', failure: { Code: 'DeadlineExceeded', httpStatus: 0 }, says: /did not answer in time/ },
  { cause: 'network', failure: { Code: 'NetworkError', httpStatus: 0 }, says: /CAMS_ENDPOINT and the network/ },
];

describe('advice for a CAMS code in a monitor alert', () => {
  it('has a test case for every row of the table', () => {
    expect(ROWS.map((r) => r.cause)).toEqual(CAMS_ADVICE.map((r) => r.cause));
  });

  for (const row of ROWS) {
    it(`${row.failure.Code} → ${row.cause}`, () => {
      const advice = adviceFor(row.failure);
      expect(CAMS_ADVICE.find((r) => r.matches(row.failure))?.cause).toBe(row.cause);
      expect(advice).toMatch(row.says);
      // Each row's advice is its own: no other row's phrase leaks in.
      for (const other of ROWS.filter((r) => r.cause !== row.cause)) expect(advice).not.toMatch(other.says);
    });
  }

  it('a permission or quota refusal names the operation refused (a discovery listing is not the checks)', () => {
    expect(adviceFor({ Code: 'Ram.PermissionDeny', httpStatus: 400, action: 'ListChatappTemplate' })).toMatch(/grant cams:ListChatappTemplate to/);
    expect(adviceFor({ Code: 'Ram.PermissionDeny', httpStatus: 400, action: 'ListChatappTemplate' })).not.toMatch(/GetWhatsappHealthStatus/);
    expect(adviceFor({ Code: 'System.LimitControl', httpStatus: 400, action: 'QueryChatappPhoneNumbers' })).toMatch(/higher QueryChatappPhoneNumbers quota/);
  });

  it('a disabled AccessKey is a credentials problem, though its code starts with Forbidden: granting a permission would not help', () => {
    expect(adviceFor({ Code: 'Forbidden.AccessKeyDisabled', httpStatus: 403 })).toMatch(/refused the credentials/);
  });

  it("RAM's own refusals (NoPermission, NotAuthorized: isPermissionRefusal) are a missing grant, not a target to fix", () => {
    expect(adviceFor({ Code: 'NoPermission', httpStatus: 403 })).toMatch(/grant cams:GetWhatsappHealthStatus/);
    expect(adviceFor({ Code: 'NotAuthorized', httpStatus: 403, action: 'ListChatappTemplate' })).toMatch(/grant cams:ListChatappTemplate/);
  });

  it('Forbidden.* is a permission problem and a CAMS 5xx a network one; an unknown business code gets the fallback', () => {
    expect(adviceFor({ Code: 'Forbidden.RAM', httpStatus: 403 })).toMatch(/grant cams:GetWhatsappHealthStatus/);
    expect(adviceFor({ Code: 'ServiceUnavailable', httpStatus: 503 })).toMatch(/CAMS_ENDPOINT and the network/);
    expect(adviceFor({ Code: 'Throttling.User', httpStatus: 400 })).toMatch(/lower MONITOR_QPS/);
    const fallback = adviceFor({ Code: 'Waba.Unknown', httpStatus: 400 });
    expect(fallback).toMatch(/Fix the target or remove it/);
    expect(fallback).not.toMatch(/CAMS_ENDPOINT/);
  });
});
