import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acsEncode } from '../../../shared/acs3/canonical.ts';

describe('acsEncode', () => {
  // RFC 3986 as ACS3 wants it: encodeURIComponent, then the five characters it leaves alone
  const reference = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

  it.each(['', 'plain-Value_1.~', "it's (a) test!*", 'a b/c?d=e&f', '阿里', '*'])('encodes %j', (v) => expect(acsEncode(v)).toBe(reference(v)));

  it('encodes generated strings as the reference does', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '!', "'", '(', ')', '*', ' ', '~', '%', 'é', '/', '=') }), (v) => {
        expect(acsEncode(v)).toBe(reference(v));
      }),
      { numRuns: 20_000 },
    );
  });
});
