import { sharedBudget } from '../cams/budget/shared-budget.ts';
import { CamsClient, resolveEndpoint } from '../cams/client.ts';
import { credentialsFrom } from '../cams/credentials.ts';
import type { HttpFunctionConfig } from '../config/http-function.ts';
import type { FcContext } from '../fc/context.ts';
import { preconnect } from '../http/request.ts';

/**
 * A CAMS client for one invocation: the function role's STS credentials (or the env's keys), and
 * the invocation's deadline so no retry outlives it. Its calls are interactive: they draw from the
 * account's budget (on STORE_URL when set, shared with every instance) up to the deadline.
 */
export function camsClientFor(input: { config: HttpFunctionConfig; context: FcContext; deadline: number }): CamsClient {
  const account = input.config.camsAccount ?? input.context.accountId;
  return new CamsClient({
    endpoint: input.config.camsEndpoint,
    credentials: () => credentialsFrom(input.context),
    deadline: input.deadline,
    budget: sharedBudget(input.config.sharedStoreUrl, input.config.camsQps),
    priority: 'interactive',
    ...(account ? { account } : {}),
  });
}

/** The endpoint, parsed once per value rather than at every warm invocation. */
let origin: { raw: string; url: URL } | undefined;

/**
 * For HttpFunctionSpec.preconnect of the functions whose service calls CAMS: opens the connection
 * that call will go out on, unless one is idle or opening, so its DNS, connect and TLS handshake
 * also run beside the store's round trips (the nonce, the budget).
 */
export function preconnectCams(config: HttpFunctionConfig): void {
  if (origin?.raw !== config.camsEndpoint) origin = { raw: config.camsEndpoint, url: resolveEndpoint(config.camsEndpoint) };
  preconnect(origin.url);
}
