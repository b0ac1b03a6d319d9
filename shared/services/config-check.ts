/**
 * Every variable of a function's environment that the code parses, checked as the code checks it on
 * first use: the local host runs this for each function at start-up and packaging for each function
 * of the stage, so a bad value stops them there, naming the function and the variable, instead of
 * failing the function's first invocation. The functions do not import it: each checks its own
 * variables on first use (importing every loader would cost their cold start).
 */
import { budgetQps } from '../cams/budget/qps.ts';
import { ConfigError, parseKeyList, positiveInt, readEnv, urlString, type EnvSource } from '../config/env.ts';
import { ALERT_POLICY_READERS, parseDuration, qpsNumber } from '../config/monitor.ts';
import { ALERT_ENV, sinksFromEnv } from '../alerts/sinks/env.ts';
import { LEVELS } from '../log/log.ts';
import { loadStatusPageConfig } from '../status-page/config.ts';
import { parseStoreUrl } from '../store/open-store.ts';
import { StoreError } from '../store/port.ts';
import { receiptTokenValue } from '../receipts/token.ts';
import { parseMonitorTargets } from '../monitor/targets.ts';

const given = (env: EnvSource, name: string) => env[name] !== undefined && env[name] !== '';

/** Each variable's check; an empty value means "the default" everywhere, so only given ones are checked. */
const CHECKS: Record<string, (env: EnvSource, name: string) => unknown> = {
  API_KEYS: (env, name) => parseKeyList(name, env[name]!),
  STORE_URL: (env, name) => {
    try {
      parseStoreUrl(env[name]!);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'CONFIG') throw new ConfigError(name, e.message.replace(/^STORE_URL:? ?/, ''));
      throw e;
    }
  },
  CAMS_ENDPOINT: (env, name) => readEnv(env, name, urlString),
  CAMS_QPS: (env) => budgetQps(env),
  MAX_BODY_BYTES: (env, name) => readEnv(env, name, positiveInt),
  MONITOR_QPS: (env, name) => readEnv(env, name, qpsNumber),
  ALERT_MIN_CONSECUTIVE: (env, name) => readEnv(env, name, positiveInt),
  ALERT_REPEAT_INTERVAL: (env, name) => parseDuration(name, env[name]!),
  DISCOVERY_INTERVAL: (env, name) => parseDuration(name, env[name]!),
  CAMS_RECEIPT_TOKEN: (env, name) => readEnv(env, name, receiptTokenValue),
  // The loader reads only its own variables: given one at a time, each is checked alone.
  STATUS_PAGE_TOKEN: (env, name) => loadStatusPageConfig({ [name]: env[name] }),
  STATUS_PAGE_PUBLIC: (env, name) => loadStatusPageConfig({ [name]: env[name] }),
  STATUS_PAGE_REFRESH: (env, name) => loadStatusPageConfig({ [name]: env[name] }),
  // The monitor keeps a bad entry's neighbours and alerts InvalidTarget; before start-up or a
  // deployment, a bad entry is a typo to fix, named by its index.
  MONITOR_TARGETS: (env, name) => {
    const { problems } = parseMonitorTargets(env[name]);
    if (problems.length > 0) throw new ConfigError(name, problems.map((p) => (p.where === name ? p.message : `${p.where.slice(name.length)} ${p.message}`)).join('; '));
  },
  LOG_LEVEL: (env, name) => {
    if (!Object.hasOwn(LEVELS, env[name]!)) throw new ConfigError(name, `must be one of ${Object.keys(LEVELS).join(', ')}`);
  },
};

/** The variables checked one by one (the alert sinks' are checked together, below). */
export const CHECKED_VARIABLES: readonly string[] = Object.keys(CHECKS);

/** The alert sinks' variables are checked together: a secret needs its webhook, a robot its token. */
const SINK_VARIABLE = /^ALERT_(DINGTALK|LARK|WECOM|SLACK|WEBHOOK)_/;

/** The problems of one function's environment, each a ConfigError naming its variable; [] when none. */
export function configProblems(env: EnvSource): ConfigError[] {
  const problems: ConfigError[] = [];
  const attempt = (check: () => unknown) => {
    try {
      check();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(e);
    }
  };
  for (const [name, check] of Object.entries(CHECKS)) if (given(env, name)) attempt(() => check(env, name));
  if (Object.keys(env).some((n) => SINK_VARIABLE.test(n) && given(env, n))) attempt(() => sinksFromEnv(env, { warn: () => {} }));
  return problems;
}

/** An alert setting as a function reads it: `value` to compare (unset and empty are the default), or the `problem` it refuses at start. */
export type AlertSettingRead = { value: string; problem?: undefined } | { value?: undefined; problem: ConfigError };

/**
 * Each alert sink and alert policy setting of one function's environment as the function reads it
 * (sinksFromEnv, ALERT_POLICY_READERS): packaging compares health-monitor's with cams-events' by
 * these, so that what counts as unset, the same or refused cannot drift from the functions' own
 * reading (white space alone: a webhook or policy setting refused, a secret unset).
 */
export function readAlertSettings(env: EnvSource): Record<string, AlertSettingRead> {
  const read: Record<string, AlertSettingRead> = {};
  for (const [name, reader] of Object.entries(ALERT_POLICY_READERS)) {
    try {
      read[name] = { value: String(reader(env)) };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      read[name] = { problem: e };
    }
  }
  // The sinks read their variables together and stop at the first refused: each refused one is
  // taken out in turn, so that every one is named. Kept, a value is as the sinks use it, trimmed.
  const rest: EnvSource = { ...env };
  for (let i = 0; i < Object.keys(ALERT_ENV).length; i += 1) {
    try {
      sinksFromEnv(rest, { warn: () => {} });
      break;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      read[e.variable] = { problem: e };
      // One refused for what is missing (a webhook's secret): taking it out changes nothing.
      if (!given(rest, e.variable)) break;
      delete rest[e.variable];
    }
  }
  for (const name of Object.values(ALERT_ENV)) read[name] ??= { value: (env[name] ?? '').trim() };
  return read;
}
