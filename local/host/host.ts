/**
 * The local host: every function serverless.yml lists, each isolated as on FC in its own worker
 * with only its own environment (./function-runtime.ts, ./function-env.ts), behind
 *   - its HTTP events (FC 3.0 HTTP trigger events, built from the real request: ./server.ts),
 *   - its timer events (FC timer events on the trigger's cron: ./scheduler.ts),
 *   - FC's invoke APIs, 3.0 and 2.0 (sync and async with FC's retries: ./invoke-api.ts, ./async-invoke.ts),
 * with the CAMS sandbox started and wired in when CAMS_ENDPOINT is unset. Configuration is resolved
 * first (./host-config.ts), so a bad value stops start-up before anything listens; the parts are
 * wired to the functions in ./host-wiring.ts.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redactUrlCredentials } from '../../shared/log/redact.ts';
import type { RunningSandbox } from '../sandbox/server.ts';
import { AsyncInvoker } from './async-invoke.ts';
import { banner } from './banner.ts';
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_ASYNC_RETRY_DELAYS_MS,
  DEFAULT_FC_VERSION,
  DEFAULT_HOST,
  DEFAULT_MAX_ASYNC_BODY_BYTES,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
  type FcVersion,
} from './defaults.ts';
import type { HostSupplied } from './function-env.ts';
import type { IsolatedFunction } from './function-runtime.ts';
import { planHost } from './host-config.ts';
import { hostCams, type SandboxOptions } from './host-sandbox.ts';
import { scheduleTimers } from './host-timers.ts';
import { invokeApiDeps, isolateFunctions, mnsDeps } from './host-wiring.ts';
import { Invocations } from './invocations.ts';
import type { RunningHost } from './running-host.ts';
import { TimerScheduler, type Clock } from './scheduler.ts';
import { startServer, type HostServer } from './server.ts';

export type { RunningHost } from './running-host.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Stopping fits in the lifecycle's 4 s (../process-lifecycle.ts): running invocations get
 * STOP_GRACE_MS to finish, then the workers are stopped and the connections closed, all at once,
 * within STOP_FORCE_MS.
 */
const STOP_GRACE_MS = 2_000;
const STOP_FORCE_MS = 1_000;

/** Resolves when `p` settles or `ms` have passed, whichever comes first. */
function within(ms: number, p: Promise<unknown>): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((r) => (t = setTimeout(r, ms)));
  return Promise.race([p.then(() => undefined, () => undefined), timeout]).finally(() => clearTimeout(t));
}

/** Stops what the host runs, in order (the parts as startHost made them). */
async function stopHost(h: {
  invocations: Invocations;
  server: HostServer;
  scheduler: TimerScheduler;
  asyncInvoker: AsyncInvoker;
  functions: IsolatedFunction[];
  sandbox: RunningSandbox | undefined;
}): Promise<void> {
  // 1. Nothing new: no connections, timer runs, async retries or invocations.
  const running = h.invocations.stop();
  const serverDone = h.server.stopAccepting();
  const timersDone = h.scheduler.stop();
  const asyncDone = h.asyncInvoker.close();
  // 2. What runs gets a grace period, so it ends as it would have (and not against a sandbox that is gone).
  await within(STOP_GRACE_MS, Promise.allSettled([timersDone, asyncDone, ...running]));
  // 3. Then the rest is cut off: the workers stopped (their invocations end with HostStopping,
  //    answered 503) and the sandbox closed, in parallel; the replies get a moment to leave
  //    before the connections still open are closed.
  await within(
    STOP_FORCE_MS,
    (async () => {
      await Promise.allSettled([...h.functions.map((f) => f.close()), h.sandbox?.close()]);
      await within(STOP_FORCE_MS / 2, serverDone);
    })(),
  );
  h.server.closeConnections();
}

export interface HostOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 9000; 0 picks a free port. */
  port?: number;
  /** Default <repo>/serverless.yml: the only list of functions and triggers. */
  configPath?: string;
  /** Default <repo>/functions: function <name> is <functionsDir>/<name>/handler.ts. */
  functionsDir?: string;
  /** `--stage` (serverless `${opt:stage}`); default provider.stage, else dev. */
  stage?: string;
  /** Local data of every stage, as <dataRoot>/<stage>/; default ./.data. */
  dataRoot?: string;
  /** Source of `${env:...}` and of API_KEYS / STORE_URL / CAMS_ENDPOINT / ALIBABA_CLOUD_*. Default process.env. */
  env?: Record<string, string | undefined>;
  /** CAMS sandbox started when CAMS_ENDPOINT is unset. */
  sandbox?: SandboxOptions;
  /**
   * Which FC the functions run as (default '3', HOST_FC_VERSION): as FC 3.0 their context and
   * environment name no service, so onboarding-api invokes through FC 3.0's API; as FC 2.0 they carry
   * the service (`<service>-<stage>`, FC_SERVICE_NAME) and it uses @alicloud/fc2. Both APIs are served either way.
   */
  fcVersion?: FcVersion;
  /** Fire timer events; default true unless env HOST_TIMERS=off. */
  timers?: boolean;
  accountId?: string;
  /** Sync invocations, and the ceiling of each HTTP route's own MAX_BODY_BYTES; default 32 MiB (FC's sync limit). */
  maxBodyBytes?: number;
  /** Async invocations; default 128 KiB (FC's async limit). */
  maxAsyncBodyBytes?: number;
  /** Waits before each retry of a failed async invocation; default [1000, 2000, 4000] (3 retries). */
  asyncRetryDelaysMs?: readonly number[];
  /** Host log lines (routes, timers, async attempts, sandbox calls), URL credentials redacted. Default console.log. */
  log?: (line: string) => void;
  /** The functions' own stdout/stderr; default the host's. */
  functionOutput?: (functionName: string, stream: 'stdout' | 'stderr', text: string) => void;
  /** Clock of the timer scheduler (tests). */
  clock?: Clock;
}

export async function startHost(opts: HostOptions = {}): Promise<RunningHost> {
  const env = opts.env ?? process.env;
  const rawLog = opts.log ?? ((line: string) => console.log(line));
  const log = (line: string) => rawLog(redactUrlCredentials(line));
  const functionsDir = opts.functionsDir ?? join(REPO_ROOT, 'functions');
  const accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxAsyncBodyBytes = opts.maxAsyncBodyBytes ?? DEFAULT_MAX_ASYNC_BODY_BYTES;
  const timersOn = opts.timers ?? env['HOST_TIMERS'] !== 'off';
  const fcVersion: FcVersion = opts.fcVersion ?? (env['HOST_FC_VERSION'] === '2' ? '2' : DEFAULT_FC_VERSION);
  const clock = opts.clock ?? { now: Date.now };

  // 1. Everything that can be wrong with the configuration, before anything starts.
  const plan = planHost({
    configPath: opts.configPath ?? join(REPO_ROOT, 'serverless.yml'),
    env,
    ...(opts.stage ? { stage: opts.stage } : {}),
    ...(opts.dataRoot ? { dataRoot: opts.dataRoot } : {}),
    maxBodyBytes,
    startedAt: clock.now(),
  });
  const { config } = plan;

  // 2. The CAMS sandbox when no CAMS endpoint is configured.
  const cams = await hostCams(plan, opts.sandbox, log);
  const { sandbox, credentials } = cams;

  // 3. The server; requests wait until the functions are loaded.
  const functions = new Map<string, IsolatedFunction>();
  let markReady!: (ok: boolean) => void;
  const ready = new Promise<boolean>((r) => (markReady = r));
  const invocations = new Invocations(functions);
  const run = invocations.run.bind(invocations);
  const asyncInvoker = new AsyncInvoker({ run, retryDelaysMs: opts.asyncRetryDelaysMs ?? DEFAULT_ASYNC_RETRY_DELAYS_MS, log });

  const invokeApi = invokeApiDeps({ plan, credentials, functions, run, asyncInvoker, maxSyncBodyBytes: maxBodyBytes, maxAsyncBodyBytes });
  const mns = mnsDeps({ config, accountId, functions, asyncInvoker, maxBodyBytes: maxAsyncBodyBytes, log });

  let server;
  try {
    server = await startServer(opts.host ?? DEFAULT_HOST, opts.port ?? DEFAULT_PORT, {
      table: plan.table,
      spec: (name) => functions.get(name)!.spec,
      state: (name) => functions.get(name)?.state,
      run,
      invokeApi,
      mns,
      accountId,
      bodyLimits: plan.bodyLimits,
      ready,
      log,
    });
  } catch (e) {
    await sandbox?.close();
    throw e;
  }
  const { url } = server;

  // 4. Each function in its own worker, with its own environment.
  // As FC 3.0 a function knows no service; as FC 2.0 it runs in <service>-<stage>.
  const supplied: HostSupplied = {
    camsEndpoint: cams.endpoint,
    storeUrl: plan.storeUrl,
    apiKeys: plan.apiKeysSpec,
    credentials,
    fcEndpoint: url,
    serviceName: fcVersion === '2' ? config.fcServiceName : undefined,
    region: config.region,
    accountId,
  };
  const environments = isolateFunctions(functions, { config, functionsDir, supplied, credentials, log, output: opts.functionOutput });

  const scheduler = new TimerScheduler({ ...(opts.clock ? { clock: opts.clock } : {}), log });
  const stopAll = () => stopHost({ invocations, server, scheduler, asyncInvoker, functions: [...functions.values()], sandbox });

  try {
    await Promise.all([...functions.values()].map((f) => f.start()));
  } catch (e) {
    markReady(false);
    await stopAll();
    throw e;
  }
  markReady(true);

  // 5. Timers.
  scheduleTimers(plan.timerPlans, { scheduler, functions, run, timersOn, log });

  const all = [...functions.values()];
  let closed: Promise<void> | undefined;
  const host: RunningHost = {
    url,
    port: server.port,
    ...(sandbox ? { sandboxUrl: sandbox.url } : {}),
    serviceName: config.fcServiceName,
    fcVersion,
    stage: config.stage,
    dataDir: plan.dataDir,
    region: config.region,
    accountId,
    apiKeys: plan.apiKeys,
    usingDefaultApiKeys: plan.usingDefaultApiKeys,
    credentials,
    camsEndpoint: cams.endpoint,
    storeUrl: plan.storeUrl,
    environments,
    routes: plan.table.list().map((r) => ({ ...r, implemented: functions.get(r.functionName)!.state === 'ready' })),
    timers: plan.timerPlans.map((t) => t.info),
    missing: all.filter((f) => f.state === 'missing').map((f) => f.spec.name),
    broken: all.filter((f) => f.state === 'broken').map((f) => ({ name: f.spec.name, error: f.loadError ?? 'failed to load' })),
    banner: () => banner(host, config),
    close: () => (closed ??= stopAll()),
  };
  return host;
}
