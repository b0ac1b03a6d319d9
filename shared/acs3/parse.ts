/**
 * The ACS3 Authorization header and x-acs-date, read with string operations. Each is checked at
 * every cold start, where a regular expression costs its compilation (the Authorization one, with
 * its \s classes, is the largest a request runs): these say exactly what the expressions in
 * test/shared/acs3/parse.test.ts say, which holds both equal.
 */
import { isDigit, isHexDigit, isRegExpSpace } from '../text/chars.ts';

export interface Acs3Authorization {
  credential: string;
  /** As written (`;`-separated). */
  signedHeaders: string;
  /** As written (hex, either case). */
  signature: string;
}

/**
 * `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>`, as
 * /^ACS3-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]*),\s*Signature=([0-9a-fA-F]+)\s*$/
 * reads it; undefined where that does not match.
 */
export function parseAcs3Authorization(value: string): Acs3Authorization | undefined {
  let i = 0;
  const n = value.length;
  const literal = (text: string): boolean => {
    if (!value.startsWith(text, i)) return false;
    i += text.length;
    return true;
  };
  const spaces = (): number => {
    const from = i;
    while (i < n && isRegExpSpace(value.charCodeAt(i))) i += 1;
    return i - from;
  };
  /** The longest run from i of characters that are neither `,` nor \s. */
  const field = (): string => {
    const from = i;
    for (let c = value.charCodeAt(i); i < n && c !== 0x2c && !isRegExpSpace(c); c = value.charCodeAt(i)) i += 1;
    return value.slice(from, i);
  };
  if (!literal('ACS3-HMAC-SHA256') || spaces() === 0 || !literal('Credential=')) return undefined;
  const credential = field();
  if (credential === '' || !literal(',')) return undefined;
  spaces();
  if (!literal('SignedHeaders=')) return undefined;
  const signedHeaders = field();
  if (!literal(',')) return undefined;
  spaces();
  if (!literal('Signature=')) return undefined;
  const from = i;
  while (i < n && isHexDigit(value.charCodeAt(i))) i += 1;
  const signature = value.slice(from, i);
  spaces();
  return signature !== '' && i === n ? { credential, signedHeaders, signature } : undefined;
}

/** Whether `value` is what /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/ matches. */
export function isAcsDateForm(value: string): boolean {
  const n = value.length;
  // yyyy-mm-ddThh:mm:ss, then .d{1,3}, then Z
  if (n < 20 || n > 24 || n === 21) return false;
  for (let i = 0; i < 19; i += 1) {
    const c = value.charCodeAt(i);
    const want = i === 4 || i === 7 ? 0x2d : i === 10 ? 0x54 : i === 13 || i === 16 ? 0x3a : -1;
    if (want === -1 ? !isDigit(c) : c !== want) return false;
  }
  if (value.charCodeAt(n - 1) !== 0x5a) return false;
  if (n === 20) return true;
  if (value.charCodeAt(19) !== 0x2e) return false;
  for (let i = 20; i < n - 1; i += 1) if (!isDigit(value.charCodeAt(i))) return false;
  return true;
}
