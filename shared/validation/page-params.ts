import { HttpError } from '../http-fn/errors.ts';
import * as z from './schema.ts';

// The query of a paged list (GET /health-report, GET /watch-list); query values arrive as strings. A
// JSON body can give another type: its own message then, not the schema kit's bare "Invalid input".

/** PageSize: a whole number from 1 to `max`, optional. */
export function PageSize(max: number) {
  const message = `must be a whole number from 1 to ${max}`;
  return z.optional(
    z.pipe(
      z.string({ error: message }).check(z.regex(/^\d{1,4}$/, message)),
      z.transform((v) => Number(v)),
    ).check(z.refine((n) => n >= 1 && n <= max, message)),
  );
}

const NEXT_TOKEN_PROBLEM = 'must be the NextToken of the previous page';

/** NextToken: the opaque (base64url) token the previous page returned, optional. */
export function NextToken() {
  return z.optional(z.string({ error: NEXT_TOKEN_PROBLEM }).check(z.regex(/^[A-Za-z0-9_-]{1,2048}$/, NEXT_TOKEN_PROBLEM)));
}

/** A NextToken of the right shape that decodes to no page: the same 400 as a malformed one; `scope` says what else the page must be asked with. */
export function unknownNextToken(scope?: string): HttpError {
  const problem = scope === undefined ? NEXT_TOKEN_PROBLEM : `${NEXT_TOKEN_PROBLEM}, asked ${scope}`;
  return new HttpError(400, 'InvalidParameter', `NextToken: ${problem}`, { fields: [{ Field: 'NextToken', Message: problem }] });
}
