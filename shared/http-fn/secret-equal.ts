import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from './errors.ts';

/**
 * Whether a caller's secret (a token in a URL or a header) is the configured one, in time that does
 * not depend on where they differ nor on the guess's length: their digests are compared (equal
 * lengths), not the strings, which answered a guess of another length at once.
 */
export function secretEquals(given: string, expected: string): boolean {
  const digest = (v: string) => createHash('sha256').update(v, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * A secret taken from the query (`?token=`) whose key was given more than once: FC joins a repeated
 * key's values with commas. Refused (400 naming `field`) before any comparison, so the answer says
 * nothing of whether one of them matched. A secret holding a comma itself is compared as given (a
 * repeated key is then refused as a wrong one).
 */
export function refuseRepeatedQuerySecret(given: string, expected: string, field: string): void {
  if (given.includes(',') && !expected.includes(',')) {
    throw new HttpError(400, 'InvalidParameter', `${field}: given more than once in the query`, { fields: [{ Field: field, Message: 'given more than once in the query' }] });
  }
}
