import { describe, expect, it } from 'vitest';
import { isAsciiLetter, isDigit, isDigits, isFieldValue, isHexDigit, isInvisible, isInvisibleText, isRegExpSpace, isToken, isTokenChar, isWellFormedText } from '../../../shared/text/chars.ts';

describe('character classes', () => {
  it('each is its regular expression on every UTF-16 code unit', () => {
    for (let c = 0; c <= 0xffff; c += 1) {
      const ch = String.fromCharCode(c);
      expect(isRegExpSpace(c), `\\s U+${c.toString(16)}`).toBe(/\s/.test(ch));
      expect(isAsciiLetter(c), `letter U+${c.toString(16)}`).toBe(/[A-Za-z]/.test(ch));
      expect(isDigit(c), `digit U+${c.toString(16)}`).toBe(/\d/.test(ch));
      expect(isHexDigit(c), `hex U+${c.toString(16)}`).toBe(/[0-9a-fA-F]/.test(ch));
      expect(isTokenChar(c), `tchar U+${c.toString(16)}`).toBe(/[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(ch));
      expect(isToken(ch), `token U+${c.toString(16)}`).toBe(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(ch));
      expect(isFieldValue(`a${ch}b`), `field value U+${c.toString(16)}`).toBe(/^[\t\x20-\x7e\x80-\xff]*$/.test(`a${ch}b`));
    }
    // past the string: charCodeAt gives NaN, which is in no class
    for (const f of [isRegExpSpace, isAsciiLetter, isDigit, isHexDigit, isTokenChar]) expect(f(''.charCodeAt(0))).toBe(false);
  });

  it('isInvisible is [\\s\\p{Cf}\\p{Default_Ignorable_Code_Point}] on every code point', () => {
    const invisible = /^[\s\p{Cf}\p{Default_Ignorable_Code_Point}]$/u;
    const differ: string[] = [];
    for (let c = 0; c <= 0x10ffff; c += 1) if (isInvisible(c) !== invisible.test(String.fromCodePoint(c))) differ.push(`U+${c.toString(16)}`);
    expect(differ).toEqual([]);
  });

  it.each(['', ' ', '\u200b', '\u2060\ufeff', ' \u200b\t\u3164 ', '\u{e0041}\u{e007f}', 'a', '\u200ba', '\u{1f600}', '\u{e0041}x', '\ud800', '\u200b\udc00'])(
    'isInvisibleText(%j) is its expression',
    (v) => {
      expect(isInvisibleText(v)).toBe(/^[\s\p{Cf}\p{Default_Ignorable_Code_Point}]*$/u.test(v));
    },
  );

  it.each(['', 'POST', 'x-acs-action', 'bad name', 'a:b', 'é', "!#$%&'*+.^_`|~"])('isToken(%j) is its expression', (v) => {
    expect(isToken(v)).toBe(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(v));
  });

  it.each(['', '0', '0123456789', '12a', ' 1', '1 ', '\u0661', '+1', '1.0'])('isDigits(%j) is /^\\d+$/', (v) => {
    expect(isDigits(v)).toBe(/^\d+$/.test(v));
  });

  it.each(['', 'abc', '\ud83d\ude00', 'a\ud800', '\ud800b', '\udc00', 'x\udfffy', '\ud800\ud800\udc00', '\ud83d\ude00\ud83d', '\ud7ff\ue000', '\udbff\udfff'])(
    'isWellFormedText(%j) is String.prototype.isWellFormed',
    (v) => {
      expect(isWellFormedText(v)).toBe((v as unknown as { isWellFormed(): boolean }).isWellFormed());
    },
  );
});
