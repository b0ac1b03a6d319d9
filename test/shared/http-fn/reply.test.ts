import { describe, expect, it } from 'vitest';
import { errorReply, successReply } from '../../../shared/http-fn/reply.ts';
import { StoreError } from '../../../shared/store/port.ts';

const statusOf = (err: unknown) => {
  const { response, code } = errorReply('req-1', err);
  return { status: response.statusCode, code, retryAfter: response.headers?.['retry-after'], body: JSON.parse(String(response.body)) as Record<string, unknown> };
};

describe('errorReply: a store that cannot serve now', () => {
  it.each([
    ['UNAVAILABLE', '5'],
    ['LOCK_TIMEOUT', '5'],
    // A key that kept changing under a compare-and-set (a burst of onboardings on one index key):
    // busy for a moment, to be tried again, not a 500 that reads as our fault.
    ['CONFLICT', '1'],
  ] as const)('StoreError %s is 503 StoreUnavailable with Retry-After %s, the store key not in the body', (code, retryAfter) => {
    const r = statusOf(new StoreError(code, 'update of store key "onboarding-index/active" lost 100 compare-and-set races in a row'));
    expect(r).toMatchObject({ status: 503, code: 'StoreUnavailable', retryAfter });
    expect(JSON.stringify(r.body)).not.toContain('onboarding-index');
  });

  it('an error of ours is still 500 InternalError', () => {
    expect(statusOf(new Error('boom'))).toMatchObject({ status: 500, code: 'InternalError' });
    expect(statusOf(new StoreError('BACKEND', 'WRONGTYPE'))).toMatchObject({ status: 500, code: 'InternalError' });
  });
});

describe('successReply: a relayed CAMS body', () => {
  const relay = (cams: Record<string, unknown>) => JSON.parse(successReply('req-1', undefined, { cams: cams as { RequestId: string } }).body) as Record<string, unknown>;

  it('says Success true with Code OK, whatever CAMS put beside it (AddChatappPhoneNumber\'s page shows false)', () => {
    const seed = { AccessDeniedDetail: 'None', Message: 'None', RequestId: 'CAMS-1', Code: 'OK', Success: false };
    expect(relay(seed)).toEqual({ RequestId: 'req-1', AccessDeniedDetail: 'None', Message: 'None', Code: 'OK', Success: true, CamsRequestId: 'CAMS-1' });
    expect(relay({ RequestId: 'CAMS-2', Code: 'OK' })).toMatchObject({ Code: 'OK', Success: true });
  });

  it('keeps CAMS\'s other fields and their order', () => {
    const body = { RequestId: 'CAMS-3', Code: 'OK', Message: 'SUCCESS', Success: true, Data: { Id: 'W' }, Extra: 1 };
    expect(Object.keys(relay(body))).toEqual(['RequestId', 'Code', 'Message', 'Success', 'Data', 'Extra', 'CamsRequestId']);
  });
});
