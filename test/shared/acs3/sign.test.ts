import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acsTimestamp } from '../../../shared/acs3/sign.ts';

describe('acsTimestamp', () => {
  // what it is defined as: toISOString without the milliseconds
  const reference = (d: Date) => `${d.toISOString().slice(0, -5)}Z`;

  it.each(['2025-01-01T00:00:00.000Z', '2026-11-30T23:59:59.999Z', '0001-02-03T04:05:06.007Z', '0999-12-31T09:09:09Z', '9999-12-31T23:59:59.999Z', '1970-01-01T00:00:00Z'])('writes %s to the second', (iso) => {
    const d = new Date(iso);
    expect(acsTimestamp(d)).toBe(reference(d));
  });

  it('years outside 0-9999 as toISOString writes them; an invalid date throws as it does', () => {
    for (const d of [new Date(Date.UTC(10000, 0, 1)), new Date(-62198755200000 - 1000), new Date(8.64e15), new Date(-8.64e15)]) expect(acsTimestamp(d)).toBe(reference(d));
    expect(() => acsTimestamp(new Date(NaN))).toThrow(RangeError);
  });

  it('equals the reference on any date', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        const d = new Date(ms);
        expect(acsTimestamp(d)).toBe(reference(d));
      }),
      { numRuns: 50_000 },
    );
  });
});
