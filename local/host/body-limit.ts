/**
 * How much of an HTTP route's body the host reads: its function's own MAX_BODY_BYTES (the
 * environment serverless.yml gives that function, as on FC; default 256 KiB, as
 * shared/config/http-function.ts), never more than FC's sync limit. Checked while reading, so an
 * oversized body is refused before it is buffered (local/http-io.ts refuseBody).
 */
import { ConfigError, positiveInt, readEnv } from '../../shared/config/env.ts';
import { FUNCTION_DEFAULT_MAX_BODY_BYTES } from '../../shared/config/http-function.ts';
import type { FunctionSpec } from './serverless-config.ts';

export function routeBodyLimit(spec: FunctionSpec, fcLimit: number): number {
  let own: number;
  try {
    own = readEnv(spec.environment, 'MAX_BODY_BYTES', positiveInt, String(FUNCTION_DEFAULT_MAX_BODY_BYTES));
  } catch (e) {
    throw e instanceof ConfigError ? new Error(`serverless.yml functions.${spec.name}.environment ${e.message}`, { cause: e }) : e;
  }
  return Math.min(own, fcLimit);
}
