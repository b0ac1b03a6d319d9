import { CamsClient } from '../cams/client.ts';
import { credentialsFrom } from '../cams/credentials.ts';
import type { HttpFunctionConfig } from '../config/http-function.ts';
import type { FcContext } from '../fc/context.ts';

/**
 * A CAMS client for one invocation: the function role's STS credentials (or the env's keys), and
 * the invocation's deadline so no retry outlives it. Limiters are process-wide, so warm
 * invocations of one instance share the QPS budget.
 */
export function camsClientFor(input: { config: HttpFunctionConfig; context: FcContext; deadline: number }): CamsClient {
  return new CamsClient({
    endpoint: input.config.camsEndpoint,
    credentials: () => credentialsFrom(input.context),
    deadline: input.deadline,
  });
}
