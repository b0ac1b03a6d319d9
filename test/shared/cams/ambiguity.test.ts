import { describe, expect, it } from 'vitest';
import { CamsError, mayHaveBeenApplied, NETWORK_ERROR, REQUEST_TIMEOUT } from '../../../shared/cams/errors.ts';
import { withRetry } from '../../../shared/cams/retry.ts';
import { fakeClock } from './scripted-cams.ts';

const err = (Code: string, httpStatus: number, cause?: unknown) => new CamsError({ Code, Message: Code, httpStatus, retryable: httpStatus === 0 || httpStatus >= 500, cause });
const timeout = () => err(REQUEST_TIMEOUT, 0);
const refused = () => err(NETWORK_ERROR, 0, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
const reset = () => err(NETWORK_ERROR, 0, Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
const exists = () => err('Phone.Exists', 200);

async function lastError(script: Array<() => CamsError>): Promise<CamsError> {
  const clock = fakeClock();
  let n = 0;
  return withRetry(
    async () => {
      throw script[Math.min(n++, script.length - 1)]!();
    },
    { policy: { maxAttempts: script.length, baseDelayMs: 10, maxDelayMs: 10 }, random: () => 0, clock, deadlineAt: Infinity, marginMs: 0, minAttemptMs: 0 },
  ).catch((e: CamsError) => e);
}

describe('an error after an attempt that may have been applied is marked', () => {
  it('a timeout or a reset may have been applied; a refused connection never was; an answer is not ambiguous', () => {
    expect(mayHaveBeenApplied(timeout())).toBe(true);
    expect(mayHaveBeenApplied(reset())).toBe(true);
    expect(mayHaveBeenApplied(refused())).toBe(false);
    expect(mayHaveBeenApplied(err('ServiceUnavailable', 503))).toBe(false);
  });

  it('timeout then Phone.Exists: afterAmbiguousAttempt', async () => {
    expect(await lastError([timeout, exists])).toMatchObject({ Code: 'Phone.Exists', afterAmbiguousAttempt: true, attempts: 2 });
    expect(await lastError([reset, err.bind(null, 'InternalError', 500), exists])).toMatchObject({ Code: 'Phone.Exists', afterAmbiguousAttempt: true });
  });

  it('refused connection or a 5xx answer then Phone.Exists: not marked as a lost answer', async () => {
    expect((await lastError([refused, exists])).afterAmbiguousAttempt).toBeUndefined();
    expect((await lastError([exists])).afterAmbiguousAttempt).toBeUndefined();
    // A 5xx answer is marked apart: CAMS may have applied the write before it failed. An onboarding
    // and POST /phone-numbers ask the space's list whose the number is (in it: ours; a role that cannot
    // list: ours, as after a 5xx in an earlier delivery), test/shared/onboarding/ambiguous.test.ts,
    // test/functions/add-phone-number/phone-exists.test.ts.
    expect(await lastError([() => err('ServiceUnavailable', 503), exists])).toMatchObject({ afterServerError: true, afterAmbiguousAttempt: undefined });
    expect((await lastError([refused, exists])).afterServerError).toBeUndefined();
  });
});
