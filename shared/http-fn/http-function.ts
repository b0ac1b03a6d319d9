import middy from '@middy/core';
import type * as z from '../validation/schema.ts';
import { InMemoryNonceRegistry, type NonceRegistry } from '../acs3/nonce-cache.ts';
import { StoreNonceRegistry } from '../acs3/store-nonces.ts';
import { openSharedStore } from '../store/index.ts';
import type { EnvSource } from '../config/env.ts';
import { loadHttpFunctionConfig, type HttpFunctionConfig } from '../config/http-function.ts';
import type { FcContext } from '../fc/context.ts';
import { stdoutLog, type LogWriter } from '../log/log.ts';
import {
  camsEnvelope,
  decodeHttpRequest,
  headReplies,
  invocationLog,
  validateRequestParams,
  verifyCallerSignature,
  type ParsedHttpEvent,
  type Route,
  type ServiceResult,
} from './middlewares.ts';
import { openConnections } from './connections.ts';
import type { FcHttpResponse } from './reply.ts';

export interface ServiceInput<P> extends ParsedHttpEvent<P> {
  config: HttpFunctionConfig;
  context: FcContext;
}

export interface HttpFunctionSpec<P> {
  name: string;
  routes: readonly Route[];
  schema: z.Schema<P>;
  service: (input: ServiceInput<P>) => Promise<ServiceResult>;
  /** For tests and the local host; FC functions read process.env. */
  env?: EnvSource;
  write?: LogWriter;
  now?: () => number;
  /** Replay cache; by default the store at STORE_URL (when set) behind one bounded in-memory registry per instance. */
  nonces?: NonceRegistry;
  /** Opens, before anything else, the connection the service will use: preconnectCams (./cams.ts) for the CAMS functions. */
  preconnect?: (config: HttpFunctionConfig) => void;
}

export type FcHttpHandler = (event: unknown, context?: FcContext) => Promise<FcHttpResponse>;

/**
 * The one middleware stack every HTTP function uses: connections → log → HEAD → envelope → decode →
 * caller signature → params. Config is read on first use and kept for the instance's life, as is
 * the nonce registry.
 */
export function httpFunction<P>(spec: HttpFunctionSpec<P>): FcHttpHandler {
  let config: HttpFunctionConfig | undefined;
  const loadConfig = (): HttpFunctionConfig => (config ??= loadHttpFunctionConfig(spec.env ?? process.env));
  const nonces =
    spec.nonces ??
    new StoreNonceRegistry(
      async () => {
        const url = loadConfig().sharedStoreUrl;
        return url === undefined ? undefined : openSharedStore(url);
      },
      { local: new InMemoryNonceRegistry(undefined, spec.now), ...(spec.now ? { now: spec.now } : {}) },
    );

  const base = async (event: unknown, context: FcContext): Promise<ServiceResult> => {
    const parsed = event as ParsedHttpEvent<P>;
    return spec.service({ ...parsed, config: loadConfig(), context: context ?? {} });
  };

  const handler = middy<unknown, FcHttpResponse | ServiceResult, Error, FcContext>(base, { timeoutEarlyInMillis: 0 })
    .use(openConnections({ config: loadConfig, preconnect: spec.preconnect }))
    .use(invocationLog({ functionName: spec.name, write: spec.write ?? stdoutLog, ...(spec.now ? { now: spec.now } : {}) }))
    .use(headReplies())
    .use(camsEnvelope())
    .use(
      decodeHttpRequest({
        routes: spec.routes,
        maxBodyBytes: () => loadConfig().maxBodyBytes,
      }),
    )
    .use(verifyCallerSignature({ keys: () => loadConfig().apiKeys, nonces, ...(spec.now ? { now: spec.now } : {}) }))
    .use(validateRequestParams(spec.schema));

  return (event, context) => handler(event, context ?? {}) as Promise<FcHttpResponse>;
}
