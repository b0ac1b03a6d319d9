import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether a caller's secret (a token in a URL or a header) is the configured one, in time that does
 * not depend on where they differ nor on the guess's length: their digests are compared (equal
 * lengths), not the strings, which answered a guess of another length at once.
 */
export function secretEquals(given: string, expected: string): boolean {
  const digest = (v: string) => createHash('sha256').update(v, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
