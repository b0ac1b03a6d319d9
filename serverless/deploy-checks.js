// Checks on the resolved configuration before anything is packaged, for both deploy routes (FC 2.0
// templates and FC 3.0 dist/s.yaml): what FC itself would refuse at deploy time, and settings that
// would deploy but not work. Messages name the function and the variable, never a value.
import { Buffer } from 'node:buffer';
import { fc3Environments, fc3VpcConfig } from './fc3.js';
import { mergeEnvironment } from './templates.js';
import { MNS_QUEUE_NAME_MAX } from './schema.js';

/** FC: all of one function's environment variables (names and values) together, at most 4 KB. */
export const FC_ENV_LIMIT_BYTES = 4096;
/**
 * FC: "a key must start with a letter and can contain only letters, digits, and underscores";
 * `FC_*` is reserved (https://www.alibabacloud.com/help/en/functioncompute/fc/environment-variables).
 */
export const FC_ENV_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Stages allowed to keep the code's local defaults (no API keys, the file store). */
export const DEV_STAGES = ['dev'];
/** Variables that name an alert sink: the monitor needs at least one to alert anyone. */
export const ALERT_SINK_VARIABLES = ['ALERT_DINGTALK_WEBHOOK', 'ALERT_LARK_WEBHOOK', 'ALERT_WECOM_WEBHOOK', 'ALERT_SLACK_WEBHOOK', 'ALERT_WEBHOOK_URL'];
/** Every variable of the alert sinks (shared/alerts/sinks/env.ts ALERT_ENV): the URLs and their secrets. */
export const ALERT_SINK_SETTINGS = [...ALERT_SINK_VARIABLES, 'ALERT_DINGTALK_SECRET', 'ALERT_LARK_SECRET', 'ALERT_WEBHOOK_SECRET'];
/**
 * The functions that deliver alerts: the monitor's sweep and the receipts' immediate checks share
 * one deliverer (owed deliveries, reminders, resolutions), so an alert one raises the other may send.
 */
export const ALERT_DELIVERERS = ['health-monitor', 'cams-events'];
/**
 * The alert policy both read (shared/config/monitor.ts ALERT_POLICY_READERS): each decides alerts on
 * entities the other observes too, by its own policy.
 */
export const ALERT_POLICY_VARIABLES = ['ALERT_REPEAT_INTERVAL', 'ALERT_MIN_CONSECUTIVE'];

/**
 * How the functions read their alert settings: shared/services/config-check.ts readAlertSettings,
 * TypeScript, loaded through tsx (a dev dependency, as packaging is), so that what counts as unset,
 * the same or refused is the functions' own reading, not a copy of it here.
 * @returns {Promise<DeployReaders>}
 */
export async function loadDeployReaders() {
  const { tsImport } = await import('tsx/esm/api');
  const { readAlertSettings } = await tsImport('../shared/services/config-check.ts', import.meta.url);
  return { readAlertSettings };
}

/**
 * @typedef {{readAlertSettings: (env: Record<string, string | undefined>) => Record<string, {value?: string, problem?: {variable: string, message: string}}>}} DeployReaders
 */

/** README's deploy examples stand for what the reader fills in with `…`: no real value holds it. */
export const PLACEHOLDER = '\u2026';

/** dist/s.yaml's `name`, `<service>-<stage>`: 1..128 (serverless/fc3-schema.js). */
export const S_YAML_NAME_MAX = 128;
/** RAM: a role name is at most 64 characters. */
export const RAM_ROLE_NAME_MAX = 64;
/** Log Service: a logstore name is 3..63 lowercase letters, digits, `-` and `_`, starting and ending with a letter or digit. */
export const LOGSTORE_NAME_MAX = 63;
/** API Gateway: a group name is 4..50 letters, digits and `_`, starting with a letter. */
export const API_GROUP_NAME_MAX = 50;
/**
 * A stage every name it goes into accepts: lowercase letters, digits and `-`, ending with a letter
 * or digit, as the FC 2.0 route's logstore `<service>-<stage>` must be (the RAM roles, MNS queues,
 * API group, FC and s.yaml names take capitals and end as they like).
 */
export const DEPLOY_STAGE = /^[a-z0-9-]*[a-z0-9]$/;
/** serverless-aliyun-function-compute's region when neither --region nor provider.region gives one (shared/utils.js setDefaults). */
const PLUGIN_DEFAULT_REGION = 'cn-shanghai';

/**
 * The names serverless-aliyun-function-compute gives the FC 2.0 route's resources from the stage, not
 * cut to fit (provider/aliyunProvider.js): the RAM exec role always and the invoke role when an event
 * goes through API Gateway (http) or is an OSS trigger (getExecRoleName, getInvokeRoleName, `_` made
 * `-`); the Log Service logstore always (getLogStoreName); the API group with http events
 * (getApiGroupName, `-` made `_`). The other roles (templates.js functionRole, fc3.js fc3RoleName)
 * are cut to 64 (fitName).
 * @param {{service: string, stage: string, region?: string, functions: Record<string, {events?: any[]}>}} svc
 */
function pluginNames(svc) {
  const region = svc.region || PLUGIN_DEFAULT_REGION;
  const dashed = (s) => s.replace(/_/g, '-');
  const kinds = (...kinds) => Object.values(svc.functions ?? {}).some((fn) => (fn?.events ?? []).some((e) => kinds.includes(Object.keys(e ?? {})[0])));
  const plugin = '(named by serverless-aliyun-function-compute)';
  const roles = [['exec', true], ['invoke', kinds('http', 'https', 'oss')]]
    .filter(([, made]) => made)
    .map(([kind]) => ({
      name: dashed(`sls-${svc.service}-${svc.stage}-${region}-${kind}-role`),
      shown: dashed(`sls-${svc.service}-<stage>-${region}-${kind}-role`),
      limit: RAM_ROLE_NAME_MAX,
      what: `the FC 2.0 route's RAM ${kind} role ${plugin}`,
    }));
  const logstore = { name: `${svc.service}-${svc.stage}`, shown: `${svc.service}-<stage>`, limit: LOGSTORE_NAME_MAX, what: `the FC 2.0 route's Log Service logstore ${plugin}` };
  const underscored = (s) => s.replace(/-/g, '_');
  const apiGroup = kinds('http', 'https')
    ? [{ name: underscored(`${svc.service}-${svc.stage}-api`), shown: underscored(`${svc.service}-`) + '<stage>_api', limit: API_GROUP_NAME_MAX, what: `the FC 2.0 route's API Gateway group ${plugin}` }]
    : [];
  return [...roles, logstore, ...apiGroup].map((n) => ({ ...n, times: 1 }));
}

/**
 * A stage some name it goes into would refuse for its characters (see DEPLOY_STAGE), said before
 * anything is packaged: else the FC 2.0 route packages and Log Service refuses its logstore at
 * `serverless deploy`, without a word of the stage. Undefined when the stage is one.
 * @param {{service: string, stage: string}} svc
 * @returns {string | undefined}
 */
export function stageCharsetProblem(svc) {
  const { stage } = svc;
  if (stage === '' || DEPLOY_STAGE.test(stage)) return undefined;
  const lower = stage.toLowerCase();
  const hint = lower !== stage && DEPLOY_STAGE.test(lower) ? ` (--stage ${lower})` : '';
  return (
    `--stage "${stage}" must be lowercase letters, digits and -, ending with a letter or digit${hint}: it names the FC 2.0 route's ` +
    `Log Service logstore, ${svc.service}-<stage> (named by serverless-aliyun-function-compute), and Log Service takes no other (packaging writes both routes)`
  );
}

/**
 * The stage goes into names that have a limit and are not cut to fit (the MNS queues of
 * serverless.yml, s.yaml's name, the RAM roles, logstore and API group the aliyun plugin names for
 * the FC 2.0 route): a
 * stage too long for one is refused before the schema would refuse that name with its pattern, or
 * RAM at `serverless deploy`, neither of which says a word of the stage. Undefined when it fits.
 * @param {{service: string, stage: string, region?: string, functions: Record<string, {events?: any[]}>}} svc
 * @param {{functions?: Record<string, {events?: any[]}>}} [written]
 * @returns {string | undefined}
 */
export function stageTooLong(svc, written) {
  const { stage } = svc;
  // the name that allows the shortest stage
  const worst = stageLimits(svc, written).reduce((w, n) => (!w || n.max < w.max ? n : w), undefined);
  if (!worst || worst.max >= stage.length) return undefined;
  return (
    `--stage is too long (${stage.length} characters): at most ${Math.max(worst.max, 0)} here, as ${worst.what}, ${worst.shown}, ` +
    `would be ${worst.name.length} characters and may have at most ${worst.limit}`
  );
}

/**
 * Each name the stage goes into that is not cut to fit, with its limit and the most the stage may be
 * for it (`max`). How often the stage is in a queue's name is read from how the name is built
 * (`written`: serverless.yml as written, its variables unresolved), not from the name: a stage's text
 * may be in it elsewhere too (stage "fc" in cams-fc-onboarding-fc). A queue whose template is not
 * known is left to the schema.
 * @param {{service: string, stage: string, region?: string, functions: Record<string, {events?: any[]}>}} svc
 * @param {{functions?: Record<string, {events?: any[]}>}} [written]
 * @returns {Array<{name: string, shown: string, limit: number, what: string, max: number}>}
 */
export function stageLimits(svc, written) {
  const { stage } = svc;
  if (stage === '') return [];
  // fc3.js names s.yaml `${service}-${stage}`
  const templated = [{ name: `${svc.service}-${stage}`, template: `${svc.service}-\${sls:stage}`, limit: S_YAML_NAME_MAX, what: 'the name of dist/s.yaml' }];
  for (const [key, fn] of Object.entries(svc.functions ?? {})) {
    (fn?.events ?? []).forEach((e, i) => {
      if (typeof e?.mns?.queueName !== 'string') return;
      const template = written?.functions?.[key]?.events?.[i]?.mns?.queueName;
      if (typeof template === 'string') templated.push({ name: e.mns.queueName, template, limit: MNS_QUEUE_NAME_MAX, what: `the MNS queue of function "${key}"` });
    });
  }
  const names = [...templated.map(({ template, ...n }) => ({ ...n, ...stageIn(template, n.name, stage) })), ...pluginNames(svc)];
  // each character of the stage is `times` characters of the name
  return names.filter((n) => n.times > 0).map(({ times, ...n }) => ({ ...n, max: Math.floor((n.limit - (n.name.length - times * stage.length)) / times) }));
}

/** A Serverless variable that gives the stage (its first source; fallbacks may follow). */
const STAGE_VARIABLE = /^\$\{\s*(sls:stage|opt:stage|self:provider\.stage)\s*[,}]/;

/** A template's literal text and top-level `${...}` variables (a nested one is part of its variable). */
function templateParts(template) {
  const parts = [];
  let text = '';
  for (let i = 0; i < template.length; ) {
    let end = -1;
    if (template.startsWith('${', i)) {
      for (let j = i, depth = 0; j < template.length; j++) {
        if (template.startsWith('${', j)) depth++;
        else if (template[j] === '}' && --depth === 0) {
          end = j + 1;
          break;
        }
      }
    }
    if (end === -1) {
      text += template[i++];
      continue;
    }
    if (text) parts.push({ text });
    text = '';
    parts.push({ variable: template.slice(i, end) });
    i = end;
  }
  if (text) parts.push({ text });
  return parts;
}

/**
 * Where `name`, built from `template`, has the stage: how many times (the template's stage
 * variables, 0 when the name is not that template's with this stage) and the name with those
 * places shown as <stage>. The template's other variables stand for whatever they gave.
 */
function stageIn(template, name, stage) {
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const parts = templateParts(template);
  const pattern = parts.map((p) => (p.text !== undefined ? escape(p.text) : STAGE_VARIABLE.test(p.variable) ? `(${escape(stage)})` : '[\\s\\S]*?')).join('');
  const m = new RegExp(`^${pattern}$`, 'd').exec(name);
  if (!m || m.length === 1) return { times: 0, shown: name };
  let shown = '';
  let at = 0;
  for (const [start, end] of m.indices.slice(1)) {
    shown += `${name.slice(at, start)}<stage>`;
    at = end;
  }
  return { times: m.length - 1, shown: shown + name.slice(at) };
}

const bytes = (s) => Buffer.byteLength(s, 'utf8');
const list = (names) => names.map((n) => `"${n}"`).join(', ');

/**
 * @param {{service?: string, stage: string, region?: string, environment?: Record<string, unknown>, vpcConfig?: any, functions: Record<string, {environment?: Record<string, unknown>, events?: any[]}>}} svc
 * @param {DeployReaders} readers how the functions read their settings (loadDeployReaders)
 * @returns {{errors: string[], warnings: string[]}}
 */
export function deployChecks(svc, readers) {
  const errors = [];
  const warnings = [];
  const strict = !DEV_STAGES.includes(svc.stage);
  try {
    fc3VpcConfig(svc.vpcConfig);
  } catch (error) {
    errors.push(String(error.message).replace(/^cams-fc: /, ''));
  }
  // Copied from README as written (`VPC_ID=vpc-…`), it would deploy and fail there, or never work.
  const placeholder = (name) => `${name} still holds README's placeholder "${PLACEHOLDER}": set the real value`;
  for (const [field, name] of [['vpcId', 'VPC_ID'], ['vSwitchIds', 'VSWITCH_IDS'], ['securityGroupId', 'SECURITY_GROUP_ID']]) {
    if (String(svc.vpcConfig?.[field] ?? '').includes(PLACEHOLDER)) errors.push(`${placeholder(name)} (custom.fc3.vpcConfig.${field})`);
  }
  const uses = {}; // variable -> functions whose environment declares it
  const envOf = {};
  // dist/s.yaml's: a `*_FUNCTION` there holds the longer FC 3.0 name (cams-fc-prod-onboarding)
  const fc3EnvOf = svc.service ? fc3Environments(svc) : {};
  for (const [key, fn] of Object.entries(svc.functions)) {
    const env = mergeEnvironment(svc.environment, fn?.environment);
    envOf[key] = env;
    for (const name of Object.keys(env)) (uses[name] ??= []).push(key);

    for (const name of Object.keys(env)) {
      if (name.startsWith('FC_')) errors.push(`function "${key}": environment variable ${name}: names starting with FC_ are reserved by Function Compute`);
      else if (!FC_ENV_NAME.test(name)) errors.push(`function "${key}": environment variable ${JSON.stringify(name)}: Function Compute accepts letters, digits and _ only, starting with a letter`);
    }
    // With --use-openssl-ca, the roots come from SSL_CERT_DIR: without it OpenSSL looks in its
    // build's own folder, which FC does not have, and every https call fails.
    if (/(^|\s)--use-openssl-ca(\s|$)/.test(String(env.NODE_OPTIONS ?? '')) && String(env.SSL_CERT_DIR ?? '').trim() === '') {
      errors.push(`function "${key}": NODE_OPTIONS has --use-openssl-ca but SSL_CERT_DIR is not set: TLS would trust no root (set SSL_CERT_DIR as serverless.yml does, or remove --use-openssl-ca)`);
    }
    // The larger of the two routes' environments: FC refuses either over the limit at deploy.
    const size = (e) => Object.entries(e).reduce((n, [k, v]) => n + bytes(k) + bytes(v), 0);
    const fc3Env = fc3EnvOf[key] ?? env;
    const [counted, total] = size(fc3Env) > size(env) ? [fc3Env, size(fc3Env)] : [env, size(env)];
    if (total > FC_ENV_LIMIT_BYTES) {
      const largest = Object.entries(counted)
        .map(([k, v]) => [k, bytes(k) + bytes(v)])
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([k, n]) => `${k} (${n} B)`);
      const where = counted === env ? '' : ' in dist/s.yaml (with the FC 3.0 function names of its *_FUNCTION variables)';
      errors.push(
        `function "${key}": its environment variables take ${total} bytes${where}, Function Compute allows ${FC_ENV_LIMIT_BYTES} in all; largest: ${largest.join(', ')}`,
      );
    }
  }

  // FC takes a queue trigger's queue only in the function's own region (its SMQ/MNS queue-trigger
  // page): a regionId elsewhere packages, and fails at deploy.
  for (const [key, fn] of Object.entries(svc.functions)) {
    for (const mns of (fn?.events ?? []).map((e) => e?.mns).filter(Boolean)) {
      if (svc.region && mns.regionId !== undefined && mns.regionId !== svc.region) {
        errors.push(`function "${key}": mns queue ${mns.queueName} has regionId ${mns.regionId}, not the functions' region ${svc.region}: FC reads a queue in the function's own region only (leave regionId out)`);
      }
    }
  }

  // FC's timer takes an interval in whole minutes ("@every 4m"; its console: "every n minutes"),
  // so `@every 30s` packages and is refused at deploy, or never fires as written.
  for (const [key, fn] of Object.entries(svc.functions)) {
    for (const timer of (fn?.events ?? []).map((e) => e?.timer).filter(Boolean)) {
      const problem = everyProblem(timer.cronExpression);
      if (problem) errors.push(`function "${key}": timer cronExpression ${JSON.stringify(timer.cronExpression)}: ${problem}`);
    }
  }

  if (strict) {
    const at = (name) => ` (stage "${svc.stage}"; used by ${list(uses[name])})`;
    if (uses.API_KEYS) {
      const empty = uses.API_KEYS.filter((k) => envOf[k].API_KEYS.trim() === '');
      if (empty.length > 0) errors.push(`API_KEYS is empty: set API_KEYS=id:secret[,id:secret] for the callers${at('API_KEYS')}`);
      else if (uses.API_KEYS.some((k) => !envOf[k].API_KEYS.split(',').every((p) => /^[^:\s]+:\S+$/.test(p.trim())))) {
        errors.push(`API_KEYS is malformed: expected id:secret[,id:secret]${at('API_KEYS')}`);
      }
    }
    // Its HTTP callback authenticates CAMS by this token alone: without it every receipt is refused.
    if (uses.CAMS_RECEIPT_TOKEN && uses.CAMS_RECEIPT_TOKEN.some((k) => String(envOf[k].CAMS_RECEIPT_TOKEN).trim() === '')) {
      errors.push(`CAMS_RECEIPT_TOKEN is empty: set it to a random secret of at least 16 characters, the token of CAMS's callback URL${at('CAMS_RECEIPT_TOKEN')}`);
    }
    if (uses.STORE_URL && uses.STORE_URL.some((k) => !/^rediss?:\/\/./.test(envOf[k].STORE_URL))) {
      errors.push(`STORE_URL must be redis://… or rediss://… (the default file store is neither shared between instances nor writable on FC)${at('STORE_URL')}`);
    }
  } else {
    // dev may keep the local defaults, but its dist/s.yaml deploys as readily as prod's: say what would not work there.
    const unset = [
      uses.API_KEYS && uses.API_KEYS.some((k) => String(envOf[k].API_KEYS).trim() === '') && 'API_KEYS is empty (every signed route would answer 500 ServiceMisconfigured)',
      uses.STORE_URL && uses.STORE_URL.some((k) => !/^rediss?:\/\/./.test(String(envOf[k].STORE_URL))) && 'STORE_URL is not redis://… (the file store is neither shared between instances nor writable on FC)',
      uses.CAMS_RECEIPT_TOKEN && uses.CAMS_RECEIPT_TOKEN.some((k) => String(envOf[k].CAMS_RECEIPT_TOKEN).trim() === '') && 'CAMS_RECEIPT_TOKEN is empty (every receipt would be refused)',
    ].filter(Boolean);
    if (unset.length > 0) warnings.push(`stage "${svc.stage}" keeps the local defaults, so this package does not work on FC as it is: ${unset.join('; ')}. Set them, or package another stage (--stage prod), which requires them`);
  }
  // A webhook with `access_token=…` deploys and every alert is refused by the channel.
  for (const [name, fns] of Object.entries(uses)) {
    const holding = fns.filter((k) => String(envOf[k][name]).includes(PLACEHOLDER));
    if (holding.length > 0) errors.push(`${placeholder(name)} (used by ${list(holding)})`);
  }
  const alerting = alertSettingsRead(envOf, readers);
  for (const differ of [...alertSettingsRefused(envOf, alerting), alertSinksDiffer(envOf, alerting), alertPolicyDiffers(envOf, alerting)]) {
    if (!differ) continue;
    if (strict) errors.push(`${differ} (stage "${svc.stage}")`);
    else warnings.push(`${differ} (stage "${svc.stage}" packages anyway; any other stage fails)`);
  }
  for (const [key, env] of Object.entries(envOf)) {
    const sinks = ALERT_SINK_VARIABLES.filter((n) => n in env);
    if (sinks.length > 0 && sinks.every((n) => env[n].trim() === '')) {
      warnings.push(`function "${key}": no alert sink is configured (${sinks.join(', ')} are all empty): health alerts will reach no one`);
    }
  }
  return { errors, warnings };
}

/** Why FC would refuse an `@every` interval, or undefined (a cron expression is the schema's). */
function everyProblem(expression) {
  const m = /^(?:CRON_TZ=\S+ )?@every (\S+)$/.exec(String(expression ?? ''));
  if (!m) return undefined;
  const parts = [...m[1].matchAll(/(\d+)([hms])/g)];
  const accepted = 'Function Compute takes whole minutes, at least one (`@every 5m`, `@every 1h30m`)';
  if (parts.some(([, , unit]) => unit === 's')) return `seconds are not an interval FC accepts: ${accepted}`;
  const minutes = parts.reduce((n, [, v, unit]) => n + Number(v) * (unit === 'h' ? 60 : 1), 0);
  if (minutes < 1) return `an interval of 0: ${accepted}`;
  return undefined;
}

/**
 * Each deliverer's alert settings as it reads them (readers.readAlertSettings), by function key.
 * @param {Record<string, Record<string, unknown>>} envOf each function's merged environment
 * @param {DeployReaders} readers
 */
function alertSettingsRead(envOf, readers) {
  const asStrings = (env) => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === undefined || v === null ? undefined : String(v)]));
  return Object.fromEntries(ALERT_DELIVERERS.filter((k) => k in envOf).map((k) => [k, readers.readAlertSettings(asStrings(envOf[k]))]));
}

/**
 * An alert setting a deliverer would refuse at start (white space alone is not unset to it, but a
 * value to parse, save for a secret), named with the function; never its value.
 * @param {Record<string, Record<string, unknown>>} envOf
 * @param {Record<string, Record<string, {value?: string, problem?: {variable: string, message: string}}>>} read
 * @returns {string[]}
 */
function alertSettingsRefused(envOf, read) {
  return Object.entries(read).flatMap(([k, settings]) =>
    Object.values(settings)
      .filter((r) => r.problem)
      .map(({ problem }) => {
        const raw = envOf[k][problem.variable];
        const blank = typeof raw === 'string' && raw !== '' && raw.trim() === '';
        const why = problem.message.replace(`${problem.variable}: `, '').replace(/ \(got [\s\S]*\)$/, '');
        return `function "${k}" would refuse ${problem.variable} at start (${why})${blank ? ': it holds only white space, which is not unset: leave it empty for the default, or set it' : ''}`;
      }),
  );
}

/**
 * The sink settings on which the functions that deliver alerts disagree, said as one message naming
 * them and each variable (never a value); undefined when they agree. Compared as the sinks read them
 * (a setting left out or empty is unset, a value trimmed).
 * @param {Record<string, Record<string, unknown>>} envOf each function's merged environment
 * @param {Record<string, Record<string, {value?: string}>>} read
 * @returns {string | undefined}
 */
function alertSinksDiffer(envOf, read) {
  const d = differing(envOf, read, ALERT_SINK_SETTINGS);
  return d && `the alert sinks of ${list(d.deliverers)} differ: ${d.names}. Both deliver alerts, each the other's too: give them the same sink settings`;
}

/**
 * The alert policy settings (ALERT_POLICY_VARIABLES) on which the functions that deliver alerts
 * disagree, as alertSinksDiffer says it. Compared as the functions read them: unset is the default,
 * and a duration by its length (`4h` is `240m`).
 * @param {Record<string, Record<string, unknown>>} envOf
 * @param {Record<string, Record<string, {value?: string}>>} read
 * @returns {string | undefined}
 */
function alertPolicyDiffers(envOf, read) {
  const d = differing(envOf, read, ALERT_POLICY_VARIABLES);
  return (
    d &&
    `the alert policy of ${list(d.deliverers)} differs: ${d.names}. Both decide alerts on the same nodes (the sweep's checks, a receipt's), ` +
    `so when an alert first goes out and how often it is reminded would depend on which of them observed the node last: give them the same policy settings`
  );
}

/**
 * The settings (`names`) on which the deliverers packaged disagree, each with how (`set to different
 * values`, or on which only), compared by the value each reads (`read`); a setting one of them
 * refuses is said by alertSettingsRefused instead. Undefined when they agree or fewer than two are packaged.
 * @param {Record<string, Record<string, unknown>>} envOf
 * @param {Record<string, Record<string, {value?: string}>>} read
 * @param {string[]} names
 * @returns {{deliverers: string[], names: string} | undefined}
 */
function differing(envOf, read, names) {
  const deliverers = Object.keys(read);
  if (deliverers.length < 2) return undefined;
  const found = names.flatMap((name) => {
    const values = deliverers.map((k) => read[k][name]?.value);
    if (values.some((v) => v === undefined) || values.every((v) => v === values[0])) return [];
    const setOn = deliverers.filter((k) => String(envOf[k][name] ?? '').trim() !== '');
    return [`${name} (${setOn.length === deliverers.length ? 'set to different values' : `set on ${list(setOn)} only`})`];
  });
  return found.length === 0 ? undefined : { deliverers, names: found.join(', ') };
}
