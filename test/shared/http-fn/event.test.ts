import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMethodName } from '../../../shared/http-fn/event.ts';

describe('isMethodName', () => {
  it('is /^[A-Za-z]{3,7}$/', () => {
    for (const v of ['GET', 'get', 'OPTIONS', 'OPTIONSX', 'GE', '', 'G3T', 'GÉT', 'PO ST', 'P@ST', 'P[ST', 'P`ST', 'P{ST']) expect(isMethodName(v), v).toBe(/^[A-Za-z]{3,7}$/.test(v));
    fc.assert(
      fc.property(fc.string({ maxLength: 9 }), (v) => {
        expect(isMethodName(v)).toBe(/^[A-Za-z]{3,7}$/.test(v));
      }),
      { numRuns: 20_000 },
    );
  });
});
