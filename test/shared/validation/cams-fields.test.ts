import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { e164Problem, verifiedNameProblem } from '../../../shared/validation/cams-fields.ts';

/** The rules with the Unicode classes only, as they were before the printable-ASCII fast path. */
function unicodeOnlyProblem(name: string): string | undefined {
  const length = [...name].length;
  if (length < 3) return 'must be at least 3 characters';
  if (length > 512) return 'must be at most 512 characters';
  if (name !== name.trim()) return 'must not start or end with spaces';
  if (/\s{2,}/.test(name)) return 'must not contain repeated spaces';
  if (/\p{Extended_Pictographic}|\p{Regional_Indicator}|\u{FE0F}/u.test(name)) return 'must not contain emoji';
  if (/(https?:\/\/|www\.|\.(com|net|org|io|co|cn|info|biz|shop|app)\b)/i.test(name)) return 'must not contain a URL or web address';
  if (/whats\s*app/i.test(name)) return 'must not contain "WhatsApp"';
  if (!/^[\p{L}\p{M}\p{N} .,&'\u2019()\-/+!?:]+$/u.test(name)) return 'may contain only letters, digits, spaces and . , & \' ( ) - / + ! ? :';
  if (/([.,&'\u2019()\-/+!?:])\1/u.test(name)) return 'must not repeat punctuation (e.g. "!!" or "..")';
  const letters = name.replace(/[^\p{L}]/gu, '');
  const cased = name.replace(/[^\p{Lu}\p{Ll}]/gu, '');
  if (cased.length > 5 && cased === cased.toUpperCase() && letters.length > 5) return 'must not be in all capitals (acronyms of up to 5 letters are fine)';
  return undefined;
}

describe('verifiedNameProblem: WhatsApp display-name rules', () => {
  it.each([
    ['Acme Shop'],
    ['IBM'],
    ["Joe's Café & Bakery"],
    ['阿里巴巴'],
    ['Acme (Singapore) Pte. Ltd.'],
    ['Dr. Müller-Lüdenscheidt'],
  ])('accepts %j', (name) => {
    expect(verifiedNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['AB', 'at least 3 characters'],
    ['x'.repeat(513), 'at most 512 characters'],
    [' Acme', 'start or end with spaces'],
    ['Acme  Shop', 'repeated spaces'],
    ['Acme 🙂', 'emoji'],
    ['Acme 🇸🇬', 'emoji'],
    ['www.acme.com', 'URL'],
    ['https://acme', 'URL'],
    ['Acme for WhatsApp', 'WhatsApp'],
    ['Acme@Shop', 'only letters'],
    ['Acme #1', 'only letters'],
    ['Acme!!', 'repeat punctuation'],
    ['Acme..', 'repeat punctuation'],
    ['ACME SHOP', 'all capitals'],
  ])('rejects %j (%s)', (name, rule) => {
    expect(verifiedNameProblem(name)).toContain(rule);
  });
});

describe('verifiedNameProblem: the printable-ASCII fast path', () => {
  // Names built from every printable ASCII character plus a few that are not (accents, CJK, emoji,
  // the typographic apostrophe, a tab), so both paths and their border are exercised.
  const ascii = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
  const char = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...ascii) }, { weight: 1, arbitrary: fc.constantFrom('é', 'Ü', '阿', '🙂', '\u2019', '\t', '\u0301', '٣') });
  const word = fc.constantFrom('Acme', 'SHOP', 'www.', '.com', 'whats app', 'IBM', '!!', '..', "'s", ' & ', 'Pte. Ltd.');

  it('says exactly what the Unicode classes say, on any name', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(char, word), { minLength: 0, maxLength: 12 }), (parts) => {
        const name = parts.join('');
        expect(verifiedNameProblem(name)).toBe(unicodeOnlyProblem(name));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('e164Problem', () => {
  it('allows up to 15 digits in Cc + PhoneNumber and names the count past it', () => {
    expect(e164Problem('86', '1380000000000')).toBeUndefined();
    expect(e164Problem('86', '13800000000000')).toContain('16 digits');
  });
});
