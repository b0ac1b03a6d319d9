/**
 * serverless.yml as the local host reads it: the one list of functions and their triggers.
 * Variables are resolved as serverless v3 would (./variables.ts); shape errors name the property.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { mergeEnvironment, triggerName } from '../../serverless/templates.js';
import { resolveVariables, VariableError, type VariableSources } from './variables.ts';

export interface HttpEventSpec {
  kind: 'http';
  method: string;
  path: string;
}

export interface TimerEventSpec {
  kind: 'timer';
  cronExpression: string;
  enable: boolean;
  payload: string;
  /** The FC trigger name the deployment gives it (serverless/templates.js). */
  triggerName: string;
}

/** EventBridge / MNS triggers: listed, not emulated (invoke the function through the FC API instead). */
export interface OtherEventSpec {
  kind: string;
  triggerName: string;
  summary: string;
  /** mns: the queue (the host delivers messages sent to it, see ./mns-queue.ts). */
  queueName?: string;
}

export interface FunctionSpec {
  name: string;
  handler: string;
  memorySize: number;
  timeout: number;
  /** provider.environment + function.environment, resolved, values as strings. */
  environment: Record<string, string>;
  http: HttpEventSpec[];
  timers: TimerEventSpec[];
  other: OtherEventSpec[];
}

export interface ServerlessConfig {
  service: string;
  stage: string;
  region: string;
  /** `<service>-<stage>`: the FC service name the aliyun plugin deploys to. */
  fcServiceName: string;
  providerEnvironment: Record<string, string>;
  functions: FunctionSpec[];
}

class ServerlessConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerlessConfigError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
const FUNCTION_NAME = /^[a-z][a-z0-9-]*$/;

export function loadServerlessConfig(file: string, sources: VariableSources): ServerlessConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ServerlessConfigError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseServerlessConfig(text, sources, file);
}

export function parseServerlessConfig(text: string, sources: VariableSources, file = 'serverless.yml'): ServerlessConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ServerlessConfigError(`${file} is not valid YAML: ${(e as Error).message}`);
  }
  if (!isObj(raw)) throw new ServerlessConfigError(`${file} must be a YAML mapping`);

  let doc: unknown;
  try {
    doc = resolveVariables(raw, sources);
  } catch (e) {
    if (e instanceof VariableError) throw new ServerlessConfigError(e.message);
    throw e;
  }
  const cfg = doc as Obj;
  const bad = (where: string, what: string) => new ServerlessConfigError(`${file} "${where}": ${what}`);

  const service = isObj(cfg['service']) ? (cfg['service'] as Obj)['name'] : cfg['service'];
  if (typeof service !== 'string' || !service) throw bad('service', 'must be a non-empty string');
  const provider = cfg['provider'] ?? {};
  if (!isObj(provider)) throw bad('provider', 'must be a mapping');
  const stageValue = sources.options['stage'] || provider['stage'] || 'dev';
  if (typeof stageValue !== 'string') throw bad('provider.stage', 'must be a string');
  const region = provider['region'] ?? 'cn-hangzhou';
  if (typeof region !== 'string') throw bad('provider.region', 'must be a string');
  const providerEnvironment = stringMap(provider['environment'], 'provider.environment', bad);
  const defaultMemory = numberOr(provider['memorySize'], 128, 'provider.memorySize', bad);
  const defaultTimeout = numberOr(provider['timeout'], 3, 'provider.timeout', bad);

  const fns = cfg['functions'] ?? {};
  if (!isObj(fns)) throw bad('functions', 'must be a mapping of function name to definition');
  const defaults = { environment: providerEnvironment, memorySize: defaultMemory, timeout: defaultTimeout };
  const functions = Object.entries(fns).map(([name, def]) => parseFunction(name, def, defaults, bad));

  return {
    service,
    stage: stageValue,
    region,
    fcServiceName: `${service}-${stageValue}`,
    providerEnvironment,
    functions,
  };
}

type Bad = (where: string, what: string) => ServerlessConfigError;

/** One entry of `functions:`, the provider's environment, memory and timeout filling what it leaves out. */
function parseFunction(name: string, def: unknown, defaults: { environment: Record<string, string>; memorySize: number; timeout: number }, bad: Bad): FunctionSpec {
  const at = `functions.${name}`;
  if (!FUNCTION_NAME.test(name)) throw bad(at, 'function names are [a-z][a-z0-9-]*');
  if (!isObj(def)) throw bad(at, 'must be a mapping');
  const handler = def['handler'];
  if (typeof handler !== 'string' || !/^[^.]+\.[^.]+$/.test(handler)) throw bad(`${at}.handler`, 'must be "file.export", e.g. index.handler');
  const spec: FunctionSpec = {
    name,
    handler,
    memorySize: numberOr(def['memorySize'], defaults.memorySize, `${at}.memorySize`, bad),
    timeout: numberOr(def['timeout'], defaults.timeout, `${at}.timeout`, bad),
    environment: mergeEnvironment(defaults.environment, stringMap(def['environment'], `${at}.environment`, bad)),
    http: [],
    timers: [],
    other: [],
  };
  const events = def['events'] ?? [];
  if (!Array.isArray(events)) throw bad(`${at}.events`, 'must be a list');
  // Triggers are named per kind, in order (triggerName), so each kind counts its own.
  const counts: Record<string, number> = {};
  events.forEach((event: unknown, i: number) => addEvent(spec, event, `${at}.events.${i}`, counts, bad));
  return spec;
}

/** One entry of a function's `events:`, added to its HTTP routes, timers or other triggers. */
function addEvent(spec: FunctionSpec, event: unknown, ew: string, counts: Record<string, number>, bad: Bad): void {
  if (!isObj(event) || Object.keys(event).length !== 1) throw bad(ew, 'each event is a mapping with one key (http, timer, eventbridge, mns)');
  const [kind, body] = Object.entries(event)[0]!;
  if (!isObj(body)) throw bad(`${ew}.${kind}`, 'must be a mapping');
  if (kind === 'http') {
    const method = typeof body['method'] === 'string' ? body['method'].toUpperCase() : '';
    if (!HTTP_METHODS.has(method)) throw bad(`${ew}.http.method`, `must be one of ${[...HTTP_METHODS].join(', ').toLowerCase()}`);
    const path = body['path'];
    if (typeof path !== 'string' || !path.startsWith('/')) throw bad(`${ew}.http.path`, 'must start with /');
    spec.http.push({ kind: 'http', method, path });
    return;
  }
  const index = counts[kind] ?? 0;
  counts[kind] = index + 1;
  const tName = triggerName(kind, spec.name, index);
  if (kind === 'timer') {
    const cron = body['cronExpression'];
    if (typeof cron !== 'string' || !cron.trim()) throw bad(`${ew}.timer.cronExpression`, 'is required');
    const payload = body['payload'] ?? '';
    if (typeof payload !== 'string') throw bad(`${ew}.timer.payload`, 'must be a string');
    spec.timers.push({ kind: 'timer', cronExpression: cron, enable: body['enable'] !== false, payload, triggerName: tName });
    return;
  }
  spec.other.push({ kind, triggerName: tName, summary: summarize(kind, body), ...(kind === 'mns' && typeof body['queueName'] === 'string' ? { queueName: body['queueName'] } : {}) });
}

function summarize(kind: string, body: Obj): string {
  if (kind === 'mns' && typeof body['queueName'] === 'string') return `mns queue ${body['queueName']}`;
  if (kind === 'eventbridge' && isObj(body['eventRuleFilterPattern'])) return `eventbridge ${JSON.stringify(body['eventRuleFilterPattern'])}`;
  return kind;
}

function stringMap(v: unknown, where: string, bad: (w: string, m: string) => Error): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw bad(where, 'must be a mapping of NAME: value');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (val !== null && typeof val === 'object') throw bad(`${where}.${k}`, 'must be a string, number or boolean');
    out[k] = val === null || val === undefined ? '' : String(val);
  }
  return out;
}

function numberOr(v: unknown, fallback: number, where: string, bad: (w: string, m: string) => Error): number {
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw bad(where, 'must be a positive number');
  return n;
}
