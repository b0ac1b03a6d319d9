/**
 * Character classes as regular expressions say them, for checks on the cold path: a literal costs
 * its compilation at its first use in every fresh instance, a loop over char codes nothing.
 * test/shared/text/chars.test.ts holds each equal to its expression.
 */

/** What `\s` matches in a JavaScript regular expression (WhiteSpace and LineTerminator). */
export function isRegExpSpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x20 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * /[\s\p{Cf}\p{Default_Ignorable_Code_Point}]/u on one code point: white space, format characters
 * (U+200B, U+2060, U+FEFF, the bidirectional controls) and what Unicode lets a renderer show nothing
 * for (variation selectors, Hangul fillers, tags). Ranges of Unicode 17 (Node 20's ICU).
 */
export function isInvisible(c: number): boolean {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0d) || c === 0x20;
  return (
    c === 0xa0 ||
    c === 0xad ||
    c === 0x34f ||
    (c >= 0x600 && c <= 0x605) ||
    c === 0x61c ||
    c === 0x6dd ||
    c === 0x70f ||
    c === 0x890 ||
    c === 0x891 ||
    c === 0x8e2 ||
    c === 0x115f ||
    c === 0x1160 ||
    c === 0x1680 ||
    c === 0x17b4 ||
    c === 0x17b5 ||
    (c >= 0x180b && c <= 0x180f) ||
    (c >= 0x2000 && c <= 0x200f) ||
    (c >= 0x2028 && c <= 0x202f) ||
    (c >= 0x205f && c <= 0x206f) ||
    c === 0x3000 ||
    c === 0x3164 ||
    (c >= 0xfe00 && c <= 0xfe0f) ||
    c === 0xfeff ||
    c === 0xffa0 ||
    (c >= 0xfff0 && c <= 0xfffb) ||
    c === 0x110bd ||
    c === 0x110cd ||
    (c >= 0x13430 && c <= 0x1343f) ||
    (c >= 0x1bca0 && c <= 0x1bca3) ||
    (c >= 0x1d173 && c <= 0x1d17a) ||
    (c >= 0xe0000 && c <= 0xe0fff)
  );
}

/** /^[\s\p{Cf}\p{Default_Ignorable_Code_Point}]*$/u: nothing anyone could read (true for ''). */
export function isInvisibleText(v: string): boolean {
  for (let i = 0; i < v.length; i += 1) {
    const c = v.codePointAt(i)!;
    if (!isInvisible(c)) return false;
    if (c > 0xffff) i += 1;
  }
  return true;
}

/** [A-Za-z] */
export const isAsciiLetter = (c: number): boolean => (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;

/** \d (no u flag: ASCII digits only) */
export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** [0-9a-fA-F] */
export const isHexDigit = (c: number): boolean => isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);

/** /^\d+$/ */
export function isDigits(v: string): boolean {
  if (v.length === 0) return false;
  for (let i = 0; i < v.length; i += 1) if (!isDigit(v.charCodeAt(i))) return false;
  return true;
}

/** An HTTP token character (RFC 9110 tchar): [!#$%&'*+.^_`|~0-9A-Za-z-] */
export function isTokenChar(c: number): boolean {
  if (isAsciiLetter(c) || isDigit(c)) return true;
  // ! # $ % & ' * + - . ^ _ ` | ~
  return c === 0x21 || (c >= 0x23 && c <= 0x27) || c === 0x2a || c === 0x2b || c === 0x2d || c === 0x2e || c === 0x5e || c === 0x5f || c === 0x60 || c === 0x7c || c === 0x7e;
}

/** /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/: an HTTP method or header name. */
export function isToken(v: string): boolean {
  if (v.length === 0) return false;
  for (let i = 0; i < v.length; i += 1) if (!isTokenChar(v.charCodeAt(i))) return false;
  return true;
}

/** /^[\t\x20-\x7e\x80-\xff]*$/: what node:http lets into a header value (no CR, LF, NUL or other controls). */
export function isFieldValue(v: string): boolean {
  for (let i = 0; i < v.length; i += 1) {
    const c = v.charCodeAt(i);
    if (!(c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff))) return false;
  }
  return true;
}

/** String.prototype.isWellFormed (ES2024): no unpaired UTF-16 surrogate, so the text has a UTF-8 form. */
export function isWellFormedText(v: string): boolean {
  for (let i = 0; i < v.length; i += 1) {
    const c = v.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    // A high surrogate must be followed by a low one; a low one on its own is unpaired.
    if (c > 0xdbff) return false;
    const next = v.charCodeAt(i + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    i += 1;
  }
  return true;
}

/**
 * A body's UTF-8 text without a leading byte order mark, which some Windows tools write and
 * JSON.parse refuses (RFC 8259 lets a parser ignore it). The bytes, and so the signature, are untouched.
 */
export function utf8Text(body: Buffer): string {
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
