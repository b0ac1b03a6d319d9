import type middy from '@middy/core';
import { HttpError } from '../http-fn/errors.ts';
import { refuseRepeatedQuerySecret, secretEquals } from '../http-fn/secret-equal.ts';
import type { ParsedHttpEvent } from '../http-fn/middlewares.ts';
import * as z from '../validation/schema.ts';

/** CAMS_RECEIPT_TOKEN, as cams-events and the start-up check (services/config-check.ts) read it. */
export const receiptTokenValue = z.string().check(z.minLength(16, 'must be at least 16 characters (a random secret: it is all that authenticates CAMS)'));

/**
 * CAMS's callbacks cannot sign: they carry the shared secret as `?token=` of the callback URL.
 * Checked in constant time; the token itself is never logged or echoed.
 */
export function receiptToken(opts: { token: () => string }): middy.MiddlewareObj {
  return {
    before: (request) => {
      const { http } = request.event as ParsedHttpEvent;
      const expected = opts.token();
      const given = http.query['token'];
      if (!given) throw new HttpError(401, 'MissingToken', 'token: the callback URL must carry ?token=<CAMS_RECEIPT_TOKEN>', { fields: [{ Field: 'token', Message: 'is required' }] });
      refuseRepeatedQuerySecret(given, expected, 'token');
      // A `+` of the token left unencoded in the callback URL (a base64 token) arrives as a space.
      const matches = secretEquals(given, expected) || (given.includes(' ') && secretEquals(given.replaceAll(' ', '+'), expected));
      if (!matches) throw new HttpError(403, 'InvalidToken', 'token: does not match CAMS_RECEIPT_TOKEN', { fields: [{ Field: 'token', Message: 'does not match' }] });
    },
  };
}
