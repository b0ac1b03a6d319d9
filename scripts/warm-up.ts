/**
 * The build's warm-up invocations: one valid, signed FC 3.0 HTTP request per CAMS function, answered
 * by the embedded CAMS sandbox on loopback. scripts/build.ts runs it once in the process that takes
 * main.js.cache, so the V8 code cache also holds the code a first request runs (decode, caller
 * signature, params, the CAMS call and its reply), not only the module's top level. V8 compiles a
 * function on its first call; without this, every cold start compiled that path again.
 *
 * The functions run as on FC, with `STORE_URL=redis://`: the request's redis commands (the caller's
 * nonce, the CAMS budget slot) go to a loopback stand-in (scripts/warm-up-redis.ts), so the cache
 * holds the redis store's path as well.
 *
 * Only code goes into the cache, never state: the sandbox, the stand-in, the keys and the replies
 * are the build's own and gone when it ends. Functions not listed here (event functions, the
 * store-backed routes) keep the cache taken after initialisation.
 */
import { randomBytes } from 'node:crypto';
import type { RouteRequest } from '../local/client/route-request.ts';
import { startRedisStandIn } from './warm-up-redis.ts';

/** A warm-up the build runs in the code-cache process: the FC event and the function's environment. */
export interface WarmUpInvocation {
  event: string;
  env: Record<string, string>;
}

export interface WarmUp {
  invocation(name: string): WarmUpInvocation | undefined;
  /** The redis commands the warm-up requests sent so far (see RedisStandIn.commands). */
  redisCommands: readonly string[];
  close(): Promise<void>;
}

/** What the route's first request carries, given the space the sandbox bound for the build. */
export const WARM_UP_REQUESTS: Readonly<Record<string, (custSpaceId: string) => RouteRequest>> = {
  'bind-waba': () => ({ method: 'POST', path: '/waba/bind', body: { WabaId: WARM_UP_WABA_ID } }),
  'query-waba': (custSpaceId) => ({ method: 'GET', path: '/waba', query: { CustSpaceId: custSpaceId } }),
  'add-phone-number': (custSpaceId) => ({
    method: 'POST',
    path: '/phone-numbers',
    body: { CustSpaceId: custSpaceId, Cc: '65', PhoneNumber: '90000000', VerifiedName: 'Build Warm Up' },
  }),
  'get-health-status': (custSpaceId) => ({ method: 'GET', path: '/health-status', query: { CustSpaceId: custSpaceId, NodeType: 'waba', WabaId: WARM_UP_WABA_ID } }),
};

const WARM_UP_WABA_ID = '100000000000001';
const HOST = 'warm-up.build.invalid';

/** The FC 3.0 HTTP trigger event FC would hand the function for this signed request. */
function fcHttpEvent(req: { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: string }): string {
  return JSON.stringify({
    version: 'v1',
    rawPath: req.path,
    body: req.body,
    isBase64Encoded: false,
    headers: req.headers,
    queryParameters: req.query,
    requestContext: {
      domainName: HOST,
      http: { method: req.method, path: req.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'cams-fc-build' },
      requestId: 'build-warm-up',
    },
  });
}

/**
 * Starts the sandbox (port 0, memory only) when any of `names` has a warm-up, binds one WABA for
 * the requests that need a space, and hands out each function's invocation. Each invocation is
 * signed once, with its own nonce, by a caller key that exists only for this build.
 */
export async function startWarmUp(names: readonly string[]): Promise<WarmUp | undefined> {
  const wanted = names.filter((n) => n in WARM_UP_REQUESTS);
  if (wanted.length === 0) return undefined;
  // Loaded only here: a build with nothing to warm never starts (or imports) the sandbox.
  const [{ startSandbox, DEFAULT_SANDBOX_KEYS }, { CamsClient }, { CamsBudget }, { signRouteRequest }] = await Promise.all([
    import('../local/sandbox/server.ts'),
    import('../shared/cams/client.ts'),
    import('../shared/cams/budget/budget.ts'),
    import('../local/client/route-request.ts'),
  ]);
  const camsKey = DEFAULT_SANDBOX_KEYS[0]!;
  const sandbox = await startSandbox({ host: '127.0.0.1', port: 0 });
  const redis = await startRedisStandIn();
  const close = () => Promise.all([sandbox.close(), redis.close()]).then(() => undefined);
  try {
    const client = new CamsClient({ endpoint: sandbox.url, credentials: camsKey, budget: new CamsBudget(), retry: { maxAttempts: 1 } });
    const { data } = await client.bindWaba({ WabaId: WARM_UP_WABA_ID });
    const caller = { accessKeyId: 'build-warm-up', accessKeySecret: randomBytes(24).toString('hex') };
    const env = {
      API_KEYS: `${caller.accessKeyId}:${caller.accessKeySecret}`,
      CAMS_ENDPOINT: sandbox.url,
      ALIBABA_CLOUD_ACCESS_KEY_ID: camsKey.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: camsKey.accessKeySecret,
      STORE_URL: redis.url,
    };
    return {
      invocation(name) {
        const request = WARM_UP_REQUESTS[name];
        if (!request) return undefined;
        // Signed when asked for, so the x-acs-date is fresh when the function checks it.
        return { event: fcHttpEvent(signRouteRequest(request(data.CustSpaceId), HOST, caller)), env };
      },
      redisCommands: redis.commands,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
