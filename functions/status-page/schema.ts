import * as z from '../../shared/validation/schema.ts';

const WABA_PROBLEM = 'must be a WabaId (digits) as the page links it';

/** `?waba=<WabaId>` lists one WABA's nodes in full; `token` is taken by the access check before this. */
export const StatusPageParams = z.strictObject({
  waba: z.optional(z.string({ error: WABA_PROBLEM }).check(z.regex(/^(\d{1,32}|space:[A-Za-z0-9_-]{1,64})$/, WABA_PROBLEM))),
});
