import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAcsDateForm, parseAcs3Authorization } from '../../../shared/acs3/parse.ts';

// The expressions the string parsers replace: each verdict must be theirs, on any input.
const AUTH_RE = /^ACS3-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]*),\s*Signature=([0-9a-fA-F]+)\s*$/;
const ACS_DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

const viaRegExp = (v: string) => {
  const m = AUTH_RE.exec(v);
  return m ? { credential: m[1], signedHeaders: m[2], signature: m[3] } : undefined;
};

/** Every character \s matches and a few near it. */
const SPACES = ['\t', '\n', '\v', '\f', '\r', ' ', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\ufeff'];
const NEAR_SPACES = ['\u0008', '\u000e', '\u001f', '\u0085', '\u180e', '\u200b', '\u2027', '\u202a', '\u3001', '\ufffe'];

describe('parseAcs3Authorization', () => {
  it('reads a header as the official SDK writes it', () => {
    expect(parseAcs3Authorization('ACS3-HMAC-SHA256 Credential=LTAI5t,SignedHeaders=host;x-acs-date,Signature=0aF9')).toEqual({ credential: 'LTAI5t', signedHeaders: 'host;x-acs-date', signature: '0aF9' });
  });

  it.each([
    'ACS3-HMAC-SHA256 Credential=a,SignedHeaders=,Signature=ab',
    'ACS3-HMAC-SHA256\t\u00a0Credential=a,\n SignedHeaders=h,\u3000Signature=ab \ufeff',
    'ACS3-HMAC-SHA256Credential=a,SignedHeaders=h,Signature=ab',
    'ACS3-HMAC-SHA256 Credential=,SignedHeaders=h,Signature=ab',
    'ACS3-HMAC-SHA256 Credential=a ,SignedHeaders=h,Signature=ab',
    'ACS3-HMAC-SHA256 Credential=a,SignedHeaders=h,Signature=',
    'ACS3-HMAC-SHA256 Credential=a,SignedHeaders=h,Signature=abg',
    'ACS3-HMAC-SHA256 Credential=a,SignedHeaders=h,Signature=ab x',
    'ACS3-HMAC-SHA256 Credential=a,SignedHeaders=h h,Signature=ab',
    'ACS3-HMAC-SHA256 Credential=a=b,SignedHeaders=Signature=,Signature=ab',
    'acs3-hmac-sha256 Credential=a,SignedHeaders=h,Signature=ab',
    '',
  ])('agrees with the expression on %j', (v) => {
    expect(parseAcs3Authorization(v)).toEqual(viaRegExp(v));
  });

  it('agrees with the expression on generated headers', () => {
    const piece = fc.constantFrom('ACS3-HMAC-SHA256', 'Credential=', 'SignedHeaders=', 'Signature=', ',', ';', '=', 'a', 'Z', '0', 'f', 'F', 'g', 'host', 'x-acs-date', 'LTAI', ...SPACES, ...NEAR_SPACES);
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 16 }), (parts) => {
        const v = parts.join('');
        expect(parseAcs3Authorization(v)).toEqual(viaRegExp(v));
      }),
      { numRuns: 20_000 },
    );
    // mostly well-formed: the right skeleton with arbitrary fields and spacing
    const space = fc.array(fc.constantFrom(...SPACES, ...NEAR_SPACES), { maxLength: 2 }).map((s) => s.join(''));
    const text = fc.array(fc.constantFrom('a', 'B', '0', 'f', ',', ';', '-', ' ', '\u2028', 'g', '='), { maxLength: 6 }).map((s) => s.join(''));
    fc.assert(
      fc.property(space, text, space, text, space, text, space, (s1, cred, s2, sh, s3, sig, s4) => {
        const v = `ACS3-HMAC-SHA256${s1}Credential=${cred},${s2}SignedHeaders=${sh},${s3}Signature=${sig}${s4}`;
        expect(parseAcs3Authorization(v)).toEqual(viaRegExp(v));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('isAcsDateForm', () => {
  it.each(['2025-01-01T00:00:00Z', '2025-01-01T00:00:00.1Z', '2025-01-01T00:00:00.123Z', '2025-01-01T00:00:00.Z', '2025-01-01T00:00:00.1234Z', '2025-01-01 00:00:00Z', '2025-01-01T00:00:00', '2025-1-01T00:00:00Z', '٢٠٢٥-01-01T00:00:00Z', ''])(
    'agrees with the expression on %j',
    (v) => expect(isAcsDateForm(v)).toBe(ACS_DATE_RE.test(v)),
  );

  it('agrees with the expression on generated dates', () => {
    const ch = fc.constantFrom('0', '1', '9', '-', ':', 'T', 'Z', '.', ' ', 'a', '\u0660');
    fc.assert(
      fc.property(fc.array(ch, { minLength: 17, maxLength: 26 }), (cs) => {
        const v = cs.join('');
        expect(isAcsDateForm(v)).toBe(ACS_DATE_RE.test(v));
      }),
      { numRuns: 20_000 },
    );
    const d = fc.constantFrom('0', '5', '9', 'x', '.');
    fc.assert(
      fc.property(fc.array(d, { minLength: 14, maxLength: 14 }), fc.array(fc.constantFrom('1', '2', '.', 'Z'), { maxLength: 5 }), (ds, tail) => {
        const v = `${ds.slice(0, 4).join('')}-${ds.slice(4, 6).join('')}-${ds.slice(6, 8).join('')}T${ds.slice(8, 10).join('')}:${ds.slice(10, 12).join('')}:${ds.slice(12).join('')}${tail.join('')}`;
        expect(isAcsDateForm(v)).toBe(ACS_DATE_RE.test(v));
      }),
      { numRuns: 20_000 },
    );
  });
});
