import * as z from './schema.ts';

/**
 * Empty, blank or a JSON null: no value. The official SDK leaves a null param out of the request
 * (openapi-util's query(): `value == null` is skipped), so CAMS never sees one.
 */
function blank(value: unknown): boolean {
  return value === null || (typeof value === 'string' && value.trim() === '');
}

/** The params without their empty values: CAMS treats an empty (or blank) value as a missing one, and gets no null. */
export function withoutEmptyValues(params: unknown): unknown {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return params;
  return Object.fromEntries(Object.entries(params).filter(([, v]) => !blank(v)));
}

/**
 * An operation's params as CAMS reads them: an empty value (or a JSON null) is a missing one, so a
 * required param given empty is `MissingParameter` and an optional one given empty is left out of the CAMS call.
 */
export function camsParams<T>(schema: z.Schema<T>): z.Schema<T> {
  return z.pipe(z.transform(withoutEmptyValues), schema) as unknown as z.Schema<T>;
}
