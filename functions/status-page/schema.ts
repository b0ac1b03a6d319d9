import * as z from '../../shared/validation/schema.ts';

const WABA_PROBLEM = 'must be a WabaId (digits) as the page links it';
// FC joins a query key sent twice with commas (`?waba=1&waba=2` arrives as "1,2"); no WabaId holds one.
const WABA_REPEATED = 'given more than once in the query: give one WabaId';

/** `?waba=<WabaId>` lists one WABA's nodes in full; `token` is taken by the access check before this. */
export const StatusPageParams = z.strictObject({
  waba: z.optional(
    z.string({ error: WABA_PROBLEM }).check(
      z.refine((v: string) => !v.includes(','), { error: WABA_REPEATED, abort: true }),
      z.regex(/^(\d{1,32}|space:[A-Za-z0-9_-]{1,64})$/, WABA_PROBLEM),
    ),
  ),
});
