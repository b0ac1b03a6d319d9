/**
 * The local host: every function serverless.yml lists, in this one process, behind
 *   - its HTTP events (FC 3.0 HTTP trigger events, built from the real request),
 *   - its timer events (FC timer events on the trigger's cron),
 *   - the FC 2.0 invoke API (sync and async, FC signature checked),
 * with the CAMS sandbox started and wired in when CAMS_ENDPOINT is unset.
 *
 * Functions read their configuration from process.env, and in-process they share one process.env:
 * the host merges provider.environment and every function's environment (resolved) into it, so a
 * variable two functions set differently takes the last one's value (reported at start).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseKeyList, type ApiKey } from '../../shared/config/env.ts';
import { parseStoreUrl } from '../../shared/store/open-store.ts';
import { startSandbox, DEFAULT_SANDBOX_KEYS, hostSandboxDataDir, type RunningSandbox, type SandboxKey } from '../sandbox/server.ts';
import type { CamsAction } from '../../shared/cams/operations.ts';
import { parseSchedule, type Schedule } from './cron.ts';
import {
  DEFAULT_ACCOUNT_ID,
  DEFAULT_API_KEYS,
  DEFAULT_ASYNC_RETRY_DELAYS_MS,
  DEFAULT_HOST,
  DEFAULT_MAX_ASYNC_BODY_BYTES,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PORT,
  DEFAULT_SANDBOX_HOST,
  DEFAULT_SANDBOX_PORT,
  DEFAULT_STORE_URL,
} from './defaults.ts';
import type { FcKey } from './fc-signature.ts';
import {
  buildContext,
  invokeHandler,
  loadFunction,
  newRequestId,
  type FcCredentials,
  type HostedFunction,
  type InvocationOutcome,
} from './functions.ts';
import { buildHttpTriggerEvent, fcTime, replyFromResult, splitUrl } from './http-trigger.ts';
import { drain, readBody, refuseBody, send, sendJson } from '../http-io.ts';
import { redactUrlCredentials } from '../../shared/log/redact.ts';
import { routeBodyLimit } from './body-limit.ts';
import { answerClientError } from './client-error.ts';
import { handleInvokeApi, INVOKE_PREFIX, type InvokeApiDeps } from './invoke-api.ts';
import { handleMnsSend, MNS_PREFIX, type MnsDeps } from './mns-queue.ts';
import { RouteTable, type HostRoute } from './routes.ts';
import { TimerScheduler, type Clock } from './scheduler.ts';
import { loadServerlessConfig, type FunctionSpec, type ServerlessConfig } from './serverless-config.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

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
  /** Source of `${env:...}` and of API_KEYS / STORE_URL / CAMS_ENDPOINT / ALIBABA_CLOUD_*. Default process.env. */
  env?: Record<string, string | undefined>;
  /** CAMS sandbox started when CAMS_ENDPOINT is unset. */
  sandbox?: { host?: string; port?: number; keys?: SandboxKey[]; qps?: Partial<Record<CamsAction, number>> };
  /** Fire timer events; default true unless env HOST_TIMERS=off. */
  timers?: boolean;
  accountId?: string;
  /** Sync invocations, and the ceiling of each HTTP route's own MAX_BODY_BYTES; default 32 MiB (FC's sync limit). */
  maxBodyBytes?: number;
  /** Async invocations; default 128 KiB (FC's async limit). */
  maxAsyncBodyBytes?: number;
  /** Waits before each retry of a failed async invocation; default [1000, 2000, 4000] (3 retries). */
  asyncRetryDelaysMs?: readonly number[];
  /** Host log lines (routes, timers, async attempts, sandbox calls). Default console.log. */
  log?: (line: string) => void;
  /** Clock of the timer scheduler (tests). */
  clock?: Clock;
}

export interface HostTimerInfo {
  functionName: string;
  triggerName: string;
  cronExpression: string;
  timeZone?: string;
  /** Why it does not fire, when it does not. */
  inactive?: string;
  nextAt?: number;
}

export interface RunningHost {
  url: string;
  port: number;
  /** Set when the host started the CAMS sandbox (CAMS_ENDPOINT unset). */
  sandboxUrl?: string;
  /** `<service>-<stage>`: the `{service}` of the FC invoke API. */
  serviceName: string;
  stage: string;
  region: string;
  accountId: string;
  /** The caller keys (API_KEYS, or the default pair). */
  apiKeys: ApiKey[];
  usingDefaultApiKeys: boolean;
  /** What the functions get as context.credentials and ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET. */
  credentials: FcCredentials;
  camsEndpoint: string;
  storeUrl: string;
  routes: Array<HostRoute & { implemented: boolean }>;
  timers: HostTimerInfo[];
  /** Listed in serverless.yml, no functions/<name>/handler.ts. */
  missing: string[];
  /** handler.ts exists but failed to load (answered 500 FunctionLoadError). */
  broken: Array<{ name: string; error: string }>;
  /** The start-up lines `npm start` prints. */
  banner(): string[];
  close(): Promise<void>;
}

const nonEmpty = (v: string | undefined | null): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

function envelope(requestId: string, code: string, message: string): Record<string, unknown> {
  return { RequestId: requestId, Code: code, Message: message, Success: false };
}

/** Merges provider + every function's environment; notes variables that differ between functions. */
function mergeFunctionEnvironments(config: ServerlessConfig): { merged: Record<string, string>; notes: string[] } {
  const merged: Record<string, string> = { ...config.providerEnvironment };
  const setBy = new Map<string, string>();
  const notes: string[] = [];
  for (const fn of config.functions) {
    for (const [k, v] of Object.entries(fn.environment)) {
      const prev = setBy.get(k);
      if (prev !== undefined && merged[k] !== v) {
        notes.push(`env ${k} differs between ${prev} and ${fn.name}; all functions share one process here, so ${fn.name}'s value is used`);
      }
      merged[k] = v;
      setBy.set(k, fn.name);
    }
  }
  return { merged, notes };
}

export async function startHost(opts: HostOptions = {}): Promise<RunningHost> {
  const env = opts.env ?? process.env;
  const rawLog = opts.log ?? ((line: string) => console.log(line));
  const log = (line: string) => rawLog(redactUrlCredentials(line));
  const configPath = opts.configPath ?? join(REPO_ROOT, 'serverless.yml');
  const functionsDir = opts.functionsDir ?? join(REPO_ROOT, 'functions');
  const accountId = opts.accountId ?? DEFAULT_ACCOUNT_ID;
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxAsyncBodyBytes = opts.maxAsyncBodyBytes ?? DEFAULT_MAX_ASYNC_BODY_BYTES;
  const retryDelays = opts.asyncRetryDelaysMs ?? DEFAULT_ASYNC_RETRY_DELAYS_MS;
  const timersOn = opts.timers ?? env['HOST_TIMERS'] !== 'off';

  // 1. Everything that can be wrong with the configuration, before anything starts.
  const config = loadServerlessConfig(configPath, { env, options: opts.stage ? { stage: opts.stage } : {} });
  const { merged, notes } = mergeFunctionEnvironments(config);
  const pick = (name: string) => nonEmpty(merged[name]) ?? nonEmpty(env[name]);

  const apiKeysSpec = pick('API_KEYS') ?? DEFAULT_API_KEYS;
  const usingDefaultApiKeys = pick('API_KEYS') === undefined;
  const apiKeys = parseKeyList('API_KEYS', apiKeysSpec);
  const storeUrl = pick('STORE_URL') ?? DEFAULT_STORE_URL;
  parseStoreUrl(storeUrl);
  const configuredCams = pick('CAMS_ENDPOINT');
  if (configuredCams) {
    let ok: boolean;
    try {
      ok = ['http:', 'https:'].includes(new URL(configuredCams).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError('CAMS_ENDPOINT', 'must be an http:// or https:// URL');
  }

  const table = new RouteTable();
  const bodyLimits = new Map<string, number>();
  for (const fn of config.functions) {
    for (const e of fn.http) table.add({ method: e.method, path: e.path, functionName: fn.name });
    if (fn.http.length) bodyLimits.set(fn.name, routeBodyLimit(fn, maxBodyBytes));
  }

  const startedAt = (opts.clock ?? { now: Date.now }).now();
  const timerPlans: Array<{ fn: FunctionSpec; info: HostTimerInfo; schedule?: Schedule; payload: string }> = [];
  for (const fn of config.functions) {
    for (const t of fn.timers) {
      let schedule: Schedule;
      try {
        schedule = parseSchedule(t.cronExpression, startedAt);
      } catch (e) {
        throw new Error(`serverless.yml functions.${fn.name} timer: ${(e as Error).message}`, { cause: e });
      }
      const info: HostTimerInfo = { functionName: fn.name, triggerName: t.triggerName, cronExpression: t.cronExpression, timeZone: schedule.timeZone };
      if (!t.enable) info.inactive = 'enable: false';
      timerPlans.push({ fn, info, schedule, payload: t.payload });
    }
  }

  // 2. The CAMS sandbox when no CAMS endpoint is configured.
  let sandbox: RunningSandbox | undefined;
  let credentials: FcCredentials = {};
  if (!configuredCams) {
    const keys = opts.sandbox?.keys ?? DEFAULT_SANDBOX_KEYS;
    const sbHost = opts.sandbox?.host ?? DEFAULT_SANDBOX_HOST;
    const sbPort = opts.sandbox?.port ?? DEFAULT_SANDBOX_PORT;
    try {
      sandbox = await startSandbox({ host: sbHost, port: sbPort, keys, qps: opts.sandbox?.qps ?? {}, log: (line) => log(`cams-sandbox: ${line}`), dataDir: hostSandboxDataDir(storeUrl, config.stage) });
    } catch (e) {
      throw new Error(
        `the CAMS sandbox cannot listen on ${sbHost}:${sbPort} (${(e as Error).message}); set CAMS_SANDBOX_PORT (0: any free port), or CAMS_ENDPOINT to use another CAMS`,
        { cause: e },
      );
    }
    credentials = { accessKeyId: keys[0]!.accessKeyId, accessKeySecret: keys[0]!.accessKeySecret };
  } else {
    const id = pick('ALIBABA_CLOUD_ACCESS_KEY_ID');
    const secret = pick('ALIBABA_CLOUD_ACCESS_KEY_SECRET');
    const token = pick('ALIBABA_CLOUD_SECURITY_TOKEN');
    if (id && secret) credentials = { accessKeyId: id, accessKeySecret: secret, ...(token ? { securityToken: token } : {}) };
  }
  const camsEndpoint = configuredCams ?? sandbox!.url;

  // 3. The server; requests wait until the functions are loaded.
  const functions = new Map<string, HostedFunction>();
  let markReady!: () => void;
  let readyFailed = false;
  const ready = new Promise<void>((r) => (markReady = r));
  const inFlight = new Set<Promise<unknown>>();
  /** Pending async retry waits: cleared (and released) on close. */
  const retryWaits = new Map<ReturnType<typeof setTimeout>, () => void>();
  let closing = false;

  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p)).catch(() => {});
    return p;
  };

  const contextInputs = () => ({ serviceName: config.fcServiceName, region: config.region, accountId, credentials, log });
  const run = (fn: HostedFunction, event: Buffer, requestId: string, retryCount = 0): Promise<InvocationOutcome> =>
    track(invokeHandler(fn.handler!, event, buildContext(fn.spec, requestId, retryCount, contextInputs())));

  const lookupKey = (id: string): FcKey | undefined => {
    const caller = apiKeys.find((k) => k.accessKeyId === id);
    if (caller) return { accessKeySecret: caller.accessKeySecret };
    if (credentials.accessKeyId === id && credentials.accessKeySecret) {
      return { accessKeySecret: credentials.accessKeySecret, securityToken: credentials.securityToken };
    }
    return undefined;
  };

  const invokeAsync = (name: string, event: Buffer, requestId: string) => {
    const fn = functions.get(name)!;
    const attempts = retryDelays.length + 1;
    const attempt = async (n: number): Promise<void> => {
      if (closing) {
        log(`async ${name} ${requestId}: dropped, the host is stopping`);
        return;
      }
      const outcome = await run(fn, event, requestId, n);
      if (outcome.ok) {
        log(`async ${name} ${requestId}: attempt ${n + 1}/${attempts} succeeded (${outcome.durationMs} ms)`);
        return;
      }
      const why = `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
      if (n >= retryDelays.length) {
        log(`async ${name} ${requestId}: attempt ${n + 1}/${attempts} failed (${why}); giving up`);
        return;
      }
      const wait = retryDelays[n]!;
      log(`async ${name} ${requestId}: attempt ${n + 1}/${attempts} failed (${why}); retrying in ${wait} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          retryWaits.delete(t);
          resolve();
        }, wait);
        retryWaits.set(t, resolve);
      });
      return attempt(n + 1);
    };
    void track(attempt(0)).catch((e: unknown) => log(`async ${name} ${requestId}: host error: ${(e as Error).message}`));
  };

  const invokeDeps: InvokeApiDeps = {
    serviceName: config.fcServiceName,
    functionState: (name) => {
      const fn = functions.get(name);
      return fn === undefined ? undefined : fn.handler ? 'ready' : fn.loadError ? 'broken' : 'missing';
    },
    lookupKey,
    maxSyncBodyBytes: maxBodyBytes,
    maxAsyncBodyBytes,
    now: Date.now,
    invokeSync: (name, event, requestId) => run(functions.get(name)!, event, requestId),
    invokeAsync,
    log,
  };

  const mnsDeps: MnsDeps = {
    queues: new Map(config.functions.flatMap((f) => f.other.filter((o) => o.queueName).map((o) => [o.queueName!, f.name] as const))),
    accountId,
    region: config.region,
    maxBodyBytes: maxAsyncBodyBytes,
    invokeAsync: (name, event, requestId) => {
      const fn = functions.get(name);
      if (fn?.handler) invokeAsync(name, event, requestId);
      else log(`mns ${name} ${requestId}: dropped, the function is not loaded`);
    },
  };

  async function handleHttpRoute(req: http.IncomingMessage, res: http.ServerResponse, url: { rawPath: string }, requestId: string): Promise<string> {
    const method = (req.method ?? 'GET').toUpperCase();
    const match = table.match(method, url.rawPath);
    if (match.kind === 'not-found') {
      drain(req);
      sendJson(res, 404, envelope(requestId, 'NotFound', `No function serves ${method} ${url.rawPath}.`));
      return '404';
    }
    if (match.kind === 'method-not-allowed') {
      drain(req);
      sendJson(res, 405, envelope(requestId, 'MethodNotAllowed', `${method} is not allowed on ${url.rawPath}.`), { allow: match.allow.join(', ') });
      return '405';
    }
    const fn = functions.get(match.route.functionName)!;
    if (fn.loadError) {
      drain(req);
      sendJson(res, 500, envelope(requestId, 'FunctionLoadError', `Function ${fn.spec.name} failed to load; the host's start-up output says why.`));
      return `500 ${fn.spec.name}`;
    }
    if (!fn.handler) {
      drain(req);
      sendJson(
        res,
        501,
        envelope(requestId, 'FunctionNotImplemented', `Function ${fn.spec.name} (${match.route.method} ${match.route.path}) is listed in serverless.yml but functions/${fn.spec.name}/handler.ts does not exist.`),
      );
      return `501 ${fn.spec.name}`;
    }
    const limit = bodyLimits.get(fn.spec.name)!;
    const body = await readBody(req, limit);
    if (body === 'too-large') {
      refuseBody(req, res, () => sendJson(res, 413, envelope(requestId, 'RequestEntityTooLarge', `The request body exceeds ${limit} bytes.`)));
      return '413';
    }
    const event = buildHttpTriggerEvent(req, body, { requestId, accountId, functionName: fn.spec.name, now: Date.now() });
    const outcome = await run(fn, Buffer.from(JSON.stringify(event), 'utf8'), requestId);
    if (!outcome.ok) {
      log(`${fn.spec.name} ${requestId}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
      const code = outcome.timedOut ? 'FunctionTimeout' : 'FunctionError';
      const msg = outcome.timedOut ? `Function ${fn.spec.name} timed out after ${fn.spec.timeout} seconds.` : `Function ${fn.spec.name} failed: ${outcome.error.errorType}.`;
      sendJson(res, 502, envelope(requestId, code, msg));
      return `502 ${fn.spec.name}`;
    }
    let reply;
    try {
      reply = replyFromResult(outcome.result);
    } catch (e) {
      log(`${fn.spec.name} ${requestId}: bad reply: ${(e as Error).message}`);
      sendJson(res, 502, envelope(requestId, 'FunctionError', `Function ${fn.spec.name} returned an invalid HTTP reply.`));
      return `502 ${fn.spec.name}`;
    }
    send(res, reply.status, reply.headers, reply.body, method === 'HEAD');
    return `${reply.status} ${fn.spec.name}`;
  }

  const server = http.createServer((req, res) => {
    const requestId = newRequestId();
    res.setHeader('x-fc-request-id', requestId);
    const started = performance.now();
    const url = splitUrl(req.url ?? '/');
    const work = (async () => {
      await ready;
      if (readyFailed) {
        drain(req);
        sendJson(res, 503, envelope(requestId, 'ServiceUnavailable', 'The host failed to start.'));
        return '503';
      }
      if (url.rawPath.startsWith(INVOKE_PREFIX)) return `invoke ${await handleInvokeApi(req, res, url, requestId, invokeDeps)}`;
      if (url.rawPath.startsWith(MNS_PREFIX)) return `mns ${await handleMnsSend(req, res, url.rawPath, requestId, mnsDeps)}`;
      return handleHttpRoute(req, res, url, requestId);
    })();
    work.then(
      (outcome) => log(`${req.method} ${url.rawPath} -> ${outcome} (${Math.round(performance.now() - started)} ms) ${requestId}`),
      (err: unknown) => {
        // A host bug costs one request, never the process.
        log(`${req.method} ${url.rawPath} -> host error ${requestId}: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) sendJson(res, 500, envelope(requestId, 'InternalError', 'The local host failed to process the request.'));
        else res.destroy();
      },
    );
  });
  server.on('clientError', (err, socket) => answerClientError(err, socket, newRequestId()));

  const listenHost = opts.host ?? DEFAULT_HOST;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? DEFAULT_PORT, listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await sandbox?.close();
    throw new Error(`the host cannot listen on ${listenHost}:${opts.port ?? DEFAULT_PORT} (${(e as Error).message}); set PORT (0: any free port) or HOST`, { cause: e });
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${port}`;

  // 4. The functions' environment, then the functions.
  const functionEnv: Record<string, string> = {
    ...merged,
    API_KEYS: apiKeysSpec,
    STORE_URL: storeUrl,
    CAMS_ENDPOINT: camsEndpoint,
    // What FC sets for every function, plus FC_ENDPOINT (local only) so that a function using
    // @alicloud/fc2 reaches this host's invoke API.
    FC_ENDPOINT: url,
    FC_SERVICE_NAME: config.fcServiceName,
    FC_REGION: config.region,
    FC_ACCOUNT_ID: accountId,
  };
  // The functions' credentials, in the env vars too (FC sets both; the functions prefer the context).
  if (credentials.accessKeyId && credentials.accessKeySecret) {
    functionEnv['ALIBABA_CLOUD_ACCESS_KEY_ID'] = credentials.accessKeyId;
    functionEnv['ALIBABA_CLOUD_ACCESS_KEY_SECRET'] = credentials.accessKeySecret;
  }
  const saved = new Map<string, string | undefined>();
  const setEnv = (k: string, v: string | undefined) => {
    if (!saved.has(k)) saved.set(k, process.env[k]);
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  };
  for (const [k, v] of Object.entries(functionEnv)) setEnv(k, v);
  if (credentials.accessKeyId) setEnv('ALIBABA_CLOUD_SECURITY_TOKEN', credentials.securityToken);
  const restoreEnv = () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };

  const scheduler = new TimerScheduler({ ...(opts.clock ? { clock: opts.clock } : {}), log });
  const stopAll = async () => {
    closing = true;
    const timersDone = scheduler.stop();
    for (const [t, release] of retryWaits) {
      clearTimeout(t);
      release();
    }
    retryWaits.clear();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 2_000).unref();
    });
    // Running invocations finish (bounded), so they do not call a sandbox that is gone.
    await Promise.race([Promise.allSettled([timersDone, ...inFlight]), new Promise((r) => setTimeout(r, 5_000).unref())]);
    await sandbox?.close();
    restoreEnv();
  };

  try {
    for (const spec of config.functions) functions.set(spec.name, await loadFunction(functionsDir, spec));
  } catch (e) {
    readyFailed = true;
    markReady();
    await stopAll();
    throw e;
  }
  markReady();

  // 5. Timers.
  for (const plan of timerPlans) {
    const fn = functions.get(plan.fn.name)!;
    if (!plan.info.inactive && !fn.handler) plan.info.inactive = fn.loadError ? 'function failed to load' : 'function not implemented';
    if (!plan.info.inactive && !timersOn) plan.info.inactive = 'HOST_TIMERS=off';
    if (plan.info.inactive) continue;
    const triggerName = plan.info.triggerName;
    scheduler.add({
      name: triggerName,
      schedule: plan.schedule!,
      run: async (fireTime) => {
        const requestId = newRequestId();
        const event = { triggerTime: fcTime(fireTime), triggerName, payload: plan.payload };
        const outcome = await run(fn, Buffer.from(JSON.stringify(event), 'utf8'), requestId);
        if (outcome.ok) log(`timer ${triggerName} -> ${fn.spec.name} ${requestId}: ok (${outcome.durationMs} ms)`);
        else log(`timer ${triggerName} -> ${fn.spec.name} ${requestId}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
      },
    });
  }
  scheduler.start();
  const nextTimes = new Map(scheduler.nextFireTimes().map((t) => [t.name, t.nextAt]));
  for (const plan of timerPlans) {
    const next = nextTimes.get(plan.info.triggerName);
    if (next !== undefined) plan.info.nextAt = next;
  }

  const missing = config.functions.filter((f) => { const h = functions.get(f.name)!; return !h.handler && !h.loadError; }).map((f) => f.name);
  const broken = config.functions.filter((f) => functions.get(f.name)!.loadError).map((f) => ({ name: f.name, error: functions.get(f.name)!.loadError! }));
  const routes = table.list().map((r) => ({ ...r, implemented: Boolean(functions.get(r.functionName)!.handler) }));
  const timers = timerPlans.map((p) => p.info);

  let closed: Promise<void> | undefined;
  const host: RunningHost = {
    url,
    port,
    ...(sandbox ? { sandboxUrl: sandbox.url } : {}),
    serviceName: config.fcServiceName,
    stage: config.stage,
    region: config.region,
    accountId,
    apiKeys,
    usingDefaultApiKeys,
    credentials,
    camsEndpoint,
    storeUrl,
    routes,
    timers,
    missing,
    broken,
    banner: () => banner(host, config, notes),
    close: () => (closed ??= stopAll()),
  };
  return host;
}

function banner(h: RunningHost, config: ServerlessConfig, notes: string[]): string[] {
  const lines: string[] = [];
  lines.push(`cams-fc local host listening on ${h.url}  (service ${h.serviceName}, stage ${h.stage}, region ${h.region})`);
  for (const name of h.missing) {
    lines.push(`  not implemented: ${name} (functions/${name}/handler.ts does not exist); its routes answer 501 FunctionNotImplemented`);
  }
  for (const b of h.broken) lines.push(`  FAILED TO LOAD: ${b.name}: ${b.error}; its routes answer 500 FunctionLoadError`);
  lines.push('  routes:');
  const width = Math.max(0, ...h.routes.map((r) => `${r.method} ${r.path}`.length));
  for (const r of h.routes) {
    const state = r.implemented ? '' : h.missing.includes(r.functionName) ? '  (not implemented: 501)' : '  (failed to load: 500)';
    lines.push(`    ${`${r.method} ${r.path}`.padEnd(width)}  -> ${r.functionName}${state}`);
  }
  if (h.routes.length === 0) lines.push('    (none)');
  lines.push('  timers:');
  for (const t of h.timers) {
    const zone = t.timeZone && t.timeZone !== 'UTC' ? '' : ' (UTC)';
    const state = t.inactive ? `off: ${t.inactive}` : `next ${new Date(t.nextAt!).toISOString()}`;
    lines.push(`    ${t.triggerName}  "${t.cronExpression}"${zone} -> ${t.functionName}  [${state}]`);
  }
  if (h.timers.length === 0) lines.push('    (none)');
  const queues = config.functions.flatMap((f) => f.other.filter((o) => o.queueName).map((o) => `${h.url}${MNS_PREFIX}${o.queueName}/messages -> ${f.name}`));
  if (queues.length) lines.push(`  mns queues (POST a message body; delivered as the MNS trigger would): ${queues.join('; ')}`);
  const unemulated = config.functions.flatMap((f) => f.other.filter((o) => !o.queueName).map((o) => `${o.summary} -> ${f.name}`));
  if (unemulated.length) lines.push(`  not emulated (invoke these functions through the FC API instead): ${unemulated.join('; ')}`);
  lines.push(`  FC invoke API: POST ${h.url}/2016-08-15/services/${h.serviceName}/functions/{function}/invocations  (@alicloud/fc2 with endpoint ${h.url})`);
  if (h.sandboxUrl) {
    lines.push(`  CAMS sandbox: ${h.sandboxUrl}  (CAMS_ENDPOINT unset; the functions call it as ${h.credentials.accessKeyId})`);
  } else {
    lines.push(`  CAMS endpoint: ${redactUrlCredentials(h.camsEndpoint)}`);
  }
  lines.push(`  store: ${redactUrlCredentials(h.storeUrl)}`);
  if (h.usingDefaultApiKeys) {
    const k = h.apiKeys[0]!;
    lines.push(`  API_KEYS unset: callers sign with the default pair ${k.accessKeyId}:${k.accessKeySecret}`);
  } else {
    lines.push(`  API_KEYS: ${h.apiKeys.map((k) => k.accessKeyId).join(', ')}`);
  }
  for (const n of notes) lines.push(`  note: ${n}`);
  const target = h.url === `http://127.0.0.1:9000` ? '' : `CAMS_FC_URL=${h.url} `;
  lines.push(`  try: ${target}npm run call -- POST /waba/bind '{"WabaId":"1234567890"}'`);
  return lines;
}
