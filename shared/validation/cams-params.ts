import * as z from './schema.ts';

function blank(value: unknown): boolean {
  return typeof value === 'string' && value.trim() === '';
}

/** The params without their empty values: CAMS treats an empty (or blank) value as a missing one. */
export function withoutEmptyValues(params: unknown): unknown {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return params;
  return Object.fromEntries(Object.entries(params).filter(([, v]) => !blank(v)));
}

/**
 * An operation's params as CAMS reads them: an empty value is a missing one, so a required param
 * given empty is `MissingParameter` and an optional one given empty is left out of the CAMS call.
 */
export function camsParams<T>(schema: z.Schema<T>): z.Schema<T> {
  return z.pipe(z.transform(withoutEmptyValues), schema) as unknown as z.Schema<T>;
}
