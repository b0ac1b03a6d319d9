import { describe, expect, it } from 'vitest';
import { budgetRefusal, camsErrorFromBody } from '../../../shared/cams/errors.ts';
import { errorReply } from '../../../shared/http-fn/reply.ts';

describe('our own System.LimitControl vs CAMS\'s', () => {
  it('our refusal: 429 with Retry-After from when a slot frees up; no camsCode in the log (CAMS was not called)', () => {
    const r = errorReply('req-1', budgetRefusal('GetWhatsappHealthStatus', 2500));
    expect(r.response.statusCode).toBe(429);
    expect(r.response.headers['retry-after']).toBe('3');
    expect(JSON.parse(r.response.body)).toMatchObject({ Code: 'System.LimitControl', Success: false });
    expect(r.code).toBe('System.LimitControl');
    expect(r.camsCode).toBeUndefined();
    expect(errorReply('req-2', budgetRefusal('GetWhatsappHealthStatus', 0)).response.headers['retry-after']).toBe('1');
  });

  it("CAMS's throttling: 429, Retry-After 1, camsCode set", () => {
    const err = camsErrorFromBody(400, { Code: 'System.LimitControl', Message: 'flow control' }, 'GetWhatsappHealthStatus');
    expect(err.budgetRefusal).toBe(false);
    const r = errorReply('req-3', err);
    expect(r.response.statusCode).toBe(429);
    expect(r.response.headers['retry-after']).toBe('1');
    expect(r.camsCode).toBe('System.LimitControl');
  });
});
