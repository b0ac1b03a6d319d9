import { z } from 'zod';

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
