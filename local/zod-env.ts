import { z } from 'zod';

/** A variable set to an empty or blank string counts as unset, so its default applies. */
export const unsetIfEmpty = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** A port variable: 0..65535 (0: any free port), `fallback` when unset. */
export const portVariable = (name: string, fallback: number) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: `${name} must be a port number` })
      .int(`${name} must be a whole number`)
      .min(0, `${name} must be 0..65535`)
      .max(65535, `${name} must be 0..65535`)
      .default(fallback),
  );

/** Turns a parse function's throw into a zod issue, so every bad variable is reported at once. */
export function parsedWith<T>(parse: (s: string) => T) {
  return (value: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(value);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
      return z.NEVER;
    }
  };
}
