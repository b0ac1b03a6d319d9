/**
 * How startHost wires its parts to the functions it runs: the invoke APIs' and the MNS queues'
 * dependencies (the ways in besides HTTP routes and timers), and each function isolated in its own
 * worker with its own environment. Every builder reads the host's function map when it is called,
 * not when it is built: the server starts before the functions are loaded.
 */
import { InMemoryNonceRegistry } from '../../shared/acs3/index.ts';
import type { AsyncInvoker } from './async-invoke.ts';
import type { FcKey } from './fc-signature.ts';
import { functionEnvironment, type HostSupplied } from './function-env.ts';
import { IsolatedFunction } from './function-runtime.ts';
import type { FcCredentials, InvocationOutcome } from './functions.ts';
import type { HostPlan } from './host-config.ts';
import type { InvokeApiDeps } from './invoke-api.ts';
import type { MnsDeps } from './mns-queue.ts';
import type { ServerlessConfig } from './serverless-config.ts';

type Run = (name: string, event: Buffer, requestId: string) => Promise<InvocationOutcome>;

/** Who may call the invoke APIs: the callers in API_KEYS and the functions' own credentials. */
function keyLookup(plan: HostPlan, credentials: FcCredentials): (id: string) => FcKey | undefined {
  return (id) => {
    const caller = plan.apiKeys.find((k) => k.accessKeyId === id);
    if (caller) return { accessKeySecret: caller.accessKeySecret };
    if (credentials.accessKeyId === id && credentials.accessKeySecret) {
      return { accessKeySecret: credentials.accessKeySecret, securityToken: credentials.securityToken };
    }
    return undefined;
  };
}

export function invokeApiDeps(parts: {
  plan: HostPlan;
  credentials: FcCredentials;
  functions: ReadonlyMap<string, IsolatedFunction>;
  run: Run;
  asyncInvoker: AsyncInvoker;
  maxSyncBodyBytes: number;
  maxAsyncBodyBytes: number;
}): InvokeApiDeps {
  const { functions, run, asyncInvoker } = parts;
  return {
    serviceName: parts.plan.config.fcServiceName,
    functionState: (name) => functions.get(name)?.state,
    lookupKey: keyLookup(parts.plan, parts.credentials),
    nonces: new InMemoryNonceRegistry(),
    maxSyncBodyBytes: parts.maxSyncBodyBytes,
    maxAsyncBodyBytes: parts.maxAsyncBodyBytes,
    now: Date.now,
    invokeSync: (name, event, requestId) => run(name, event, requestId),
    invokeAsync: (name, event, requestId) => asyncInvoker.invoke(name, event, requestId),
  };
}

/** serverless.yml's mns triggers: a message posted to the local queue is delivered as the trigger would. */
export function mnsDeps(parts: {
  config: ServerlessConfig;
  accountId: string;
  functions: ReadonlyMap<string, IsolatedFunction>;
  asyncInvoker: AsyncInvoker;
  maxBodyBytes: number;
  log: (line: string) => void;
}): MnsDeps {
  const { config, functions, asyncInvoker, log } = parts;
  return {
    queues: new Map(config.functions.flatMap((f) => f.other.filter((o) => o.queueName).map((o) => [o.queueName!, f.name] as const))),
    accountId: parts.accountId,
    region: config.region,
    maxBodyBytes: parts.maxBodyBytes,
    invokeAsync: (name, event, requestId) => {
      if (functions.get(name)?.state === 'ready') asyncInvoker.invoke(name, event, requestId);
      else log(`mns ${name} ${requestId}: dropped, the function is not loaded`);
    },
  };
}

/**
 * Every function serverless.yml lists, each in its own worker (not started yet) with only its own
 * environment, added to `into` by name; returns the environments they were given.
 */
export function isolateFunctions(into: Map<string, IsolatedFunction>, parts: {
  config: ServerlessConfig;
  functionsDir: string;
  supplied: HostSupplied;
  credentials: FcCredentials;
  log: (line: string) => void;
  output: ((functionName: string, stream: 'stdout' | 'stderr', text: string) => void) | undefined;
}): Record<string, Record<string, string>> {
  const { config, supplied, output } = parts;
  const environments: Record<string, Record<string, string>> = {};
  for (const spec of config.functions) {
    const env = functionEnvironment(spec, supplied);
    environments[spec.name] = env;
    into.set(
      spec.name,
      new IsolatedFunction({
        init: { functionsDir: parts.functionsDir, spec, serviceName: supplied.serviceName, region: supplied.region, accountId: supplied.accountId, credentials: parts.credentials },
        env,
        log: parts.log,
        ...(output ? { output: (stream: 'stdout' | 'stderr', text: string) => output(spec.name, stream, text) } : {}),
      }),
    );
  }
  return environments;
}
