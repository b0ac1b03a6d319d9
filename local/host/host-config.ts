/**
 * Everything the host decides from serverless.yml and its environment before anything starts, so a
 * bad value stops start-up naming the variable: the stage and its data directory, STORE_URL,
 * API_KEYS, the CAMS endpoint and credentials, the routes (with each one's body limit) and the timers.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { ConfigError, parseKeyList, type ApiKey } from '../../shared/config/env.ts';
import { configProblems } from '../../shared/services/config-check.ts';
import { parseStoreUrl } from '../../shared/store/open-store.ts';
import { routeBodyLimit } from './body-limit.ts';
import { parseSchedule, type Schedule } from './cron.ts';
import { DEFAULT_API_KEYS, DEFAULT_MAX_BODY_BYTES } from './defaults.ts';
import type { FcCredentials } from './functions.ts';
import { RouteTable } from './routes.ts';
import { loadServerlessConfig, type FunctionSpec, type ServerlessConfig } from './serverless-config.ts';

/** Where each stage keeps its local data (DESIGN.md): ./.data/<stage>/. */
const DEFAULT_DATA_ROOT = './.data';

export interface HostTimerInfo {
  functionName: string;
  triggerName: string;
  cronExpression: string;
  timeZone?: string;
  /** Why it does not fire, when it does not. */
  inactive?: string;
  nextAt?: number;
}

export interface TimerPlan {
  fn: FunctionSpec;
  info: HostTimerInfo;
  schedule: Schedule;
  payload: string;
}

export interface HostPlan {
  config: ServerlessConfig;
  /** Absolute: <dataRoot>/<stage>. */
  dataDir: string;
  storeUrl: string;
  apiKeysSpec: string;
  apiKeys: ApiKey[];
  usingDefaultApiKeys: boolean;
  /** Set when a CAMS endpoint is configured (no sandbox then). */
  configuredCams?: string;
  /** The credentials from the environment, used when CAMS_ENDPOINT is configured. */
  envCredentials: FcCredentials;
  table: RouteTable;
  /** How many body bytes the host reads for each function with HTTP events (./body-limit.ts). */
  bodyLimits: Map<string, number>;
  timerPlans: TimerPlan[];
}

export interface PlanInputs {
  configPath: string;
  env: Record<string, string | undefined>;
  stage?: string;
  dataRoot?: string;
  /** FC's sync limit, the ceiling of each route's own MAX_BODY_BYTES; default 32 MiB. */
  maxBodyBytes?: number;
  startedAt: number;
}

const nonEmpty = (v: string | undefined | null): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v : undefined);

/** `file:` URL of a directory, relative to the working directory when it lies below it (as the banner shows it). */
function fileUrl(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? `file:./${rel.split('\\').join('/')}` : `file:${dir}`;
}

/** Each bad value once, with the functions whose environment holds it (a provider variable is in all). */
export function environmentProblems(functions: readonly FunctionSpec[]): string[] {
  const byMessage = new Map<string, string[]>();
  for (const f of functions) for (const e of configProblems(f.environment)) byMessage.set(e.message, [...(byMessage.get(e.message) ?? []), f.name]);
  return [...byMessage].map(([message, names]) => `${message} (${names.length === 1 ? 'function' : 'functions'} ${names.join(', ')})`);
}

export function planHost(inputs: PlanInputs): HostPlan {
  const { env } = inputs;
  const config = loadServerlessConfig(inputs.configPath, { env, options: inputs.stage ? { stage: inputs.stage } : {} });
  // Every value a function will parse, checked now as it will (MONITOR_QPS, CAMS_QPS, ...): a bad
  // one stops start-up, naming the function and the variable, rather than its first invocation.
  const problems = environmentProblems(config.functions);
  if (problems.length > 0) throw new Error(`serverless.yml, as resolved from the environment:\n  ${problems.join('\n  ')}`);
  // A value serverless.yml gives a function wins; the host's environment fills what it leaves empty.
  const declared = (name: string) => config.functions.map((f) => nonEmpty(f.environment[name])).find((v) => v !== undefined);
  const pick = (name: string) => nonEmpty(config.providerEnvironment[name]) ?? nonEmpty(env[name]);

  const dataDir = resolve(inputs.dataRoot ?? DEFAULT_DATA_ROOT, config.stage);
  const storeUrl = pick('STORE_URL') ?? fileUrl(dataDir);
  for (const url of new Set([storeUrl, ...config.functions.map((f) => nonEmpty(f.environment['STORE_URL'])).filter((v) => v !== undefined)])) parseStoreUrl(url);

  const apiKeysFromConfig = declared('API_KEYS') ?? nonEmpty(env['API_KEYS']);
  const apiKeysSpec = apiKeysFromConfig ?? DEFAULT_API_KEYS;
  const apiKeys = parseKeyList('API_KEYS', apiKeysSpec);
  for (const f of config.functions) {
    const own = nonEmpty(f.environment['API_KEYS']);
    if (own && own !== apiKeysSpec) parseKeyList('API_KEYS', own);
  }

  const configuredCams = pick('CAMS_ENDPOINT');
  for (const url of [configuredCams, ...config.functions.map((f) => nonEmpty(f.environment['CAMS_ENDPOINT']))]) {
    if (url === undefined) continue;
    let ok: boolean;
    try {
      ok = ['http:', 'https:'].includes(new URL(url).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError('CAMS_ENDPOINT', 'must be an http:// or https:// URL');
  }
  const id = pick('ALIBABA_CLOUD_ACCESS_KEY_ID');
  const secret = pick('ALIBABA_CLOUD_ACCESS_KEY_SECRET');
  const token = pick('ALIBABA_CLOUD_SECURITY_TOKEN');
  const envCredentials: FcCredentials = id && secret ? { accessKeyId: id, accessKeySecret: secret, ...(token ? { securityToken: token } : {}) } : {};

  const table = new RouteTable();
  const bodyLimits = new Map<string, number>();
  for (const fn of config.functions) {
    for (const e of fn.http) table.add({ method: e.method, path: e.path, functionName: fn.name });
    if (fn.http.length) bodyLimits.set(fn.name, routeBodyLimit(fn, inputs.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES));
  }

  const timerPlans: TimerPlan[] = [];
  for (const fn of config.functions) {
    for (const t of fn.timers) {
      let schedule: Schedule;
      try {
        schedule = parseSchedule(t.cronExpression, inputs.startedAt);
      } catch (e) {
        throw new Error(`serverless.yml functions.${fn.name} timer: ${(e as Error).message}`, { cause: e });
      }
      const info: HostTimerInfo = { functionName: fn.name, triggerName: t.triggerName, cronExpression: t.cronExpression, timeZone: schedule.timeZone };
      if (!t.enable) info.inactive = 'enable: false';
      timerPlans.push({ fn, info, schedule, payload: t.payload });
    }
  }

  return {
    config,
    dataDir,
    storeUrl,
    apiKeysSpec,
    apiKeys,
    usingDefaultApiKeys: apiKeysFromConfig === undefined,
    ...(configuredCams ? { configuredCams } : {}),
    envCredentials,
    table,
    bodyLimits,
    timerPlans,
  };
}

