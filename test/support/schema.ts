import type * as z from '../../shared/validation/schema.ts';
import { HttpError } from '../../shared/http-fn/errors.ts';
import { validateParams } from '../../shared/http-fn/params.ts';

/** Runs a function's schema the way the stack does; returns the 400's Code and field problems. */
export function rejectionOf(schema: z.Schema<unknown>, params: Record<string, unknown>): { code: string; fields: Record<string, string> } | undefined {
  try {
    validateParams(schema, params);
    return undefined;
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    expecting400(e);
    return { code: e.code, fields: Object.fromEntries((e.extra.fields ?? []).map((f) => [f.Field, f.Message])) };
  }
}

function expecting400(e: HttpError): void {
  if (e.status !== 400) throw new Error(`expected a 400, got ${e.status}`);
}
