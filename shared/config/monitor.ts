import * as z from '../validation/schema.ts';
import { parseMonitorTargets, type TargetProblem, type WatchTarget } from '../monitor/targets.ts';
import { CAMS_DEFAULT_ENDPOINT } from '../cams/operations.ts';
import { ConfigError, positiveInt, readEnv, urlString, type EnvSource } from './env.ts';
import { DEFAULT_STORE_URL } from '../store/open-store.ts';

export interface MonitorConfig {
  camsEndpoint: string;
  storeUrl: string;
  qps: number;
  repeatIntervalMs: number;
  minConsecutive: number;
  /** How often each WABA watched with Discover is listed again. */
  discoveryIntervalMs: number;
  targets: WatchTarget[];
  /** Bad MONITOR_TARGETS entries: alerted on, not fatal, so one typo does not stop all monitoring. */
  targetProblems: TargetProblem[];
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The least each duration may be: a reminder sooner than the sweep's 5-minute tick comes at every
 * check, and each listing of a Discover WABA spends the account's CAMS budget (a typo such as `4`,
 * four seconds, would do either all day).
 */
const DURATION_FLOOR: Record<string, { ms: number; text: string; why: string }> = {
  ALERT_REPEAT_INTERVAL: { ms: 5 * 60_000, text: '5m', why: 'the sweep checks each node every 5 minutes, and a shorter interval reminds at every check' },
  DISCOVERY_INTERVAL: { ms: 60_000, text: '1m', why: "each listing spends the account's CAMS budget" },
};

/** "4h", "30m", "90s", "1500ms", or a bare number of seconds. */
export function parseDuration(name: string, raw: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m) throw new ConfigError(name, `must be a duration such as 4h, 30m or 90s (got ${JSON.stringify(raw)})`);
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
  if (!(ms > 0)) throw new ConfigError(name, 'must be greater than 0');
  const floor = DURATION_FLOOR[name];
  if (floor && ms < floor.ms) throw new ConfigError(name, `must be at least ${floor.text}: ${floor.why} (got ${JSON.stringify(raw)})`);
  return ms;
}

export const qpsNumber = z.pipe(
  z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a number of calls per second')),
  z.transform((v) => Number(v)),
).check(z.refine((n) => n > 0 && n <= 1000, 'must be between 0 and 1000'));

/**
 * The alert policy, each setting as the monitor and cams-events read it (both through
 * loadMonitorConfig): unset or empty is the default; anything else, white space alone included, must
 * parse. Packaging compares the two functions' settings with these (serverless/deploy-checks.js).
 */
export const ALERT_POLICY_READERS = {
  ALERT_REPEAT_INTERVAL: (env: EnvSource): number => parseDuration('ALERT_REPEAT_INTERVAL', env['ALERT_REPEAT_INTERVAL'] || '4h'),
  ALERT_MIN_CONSECUTIVE: (env: EnvSource): number => readEnv(env, 'ALERT_MIN_CONSECUTIVE', positiveInt, '1'),
} as const;

export function loadMonitorConfig(env: EnvSource = process.env): MonitorConfig {
  const { targets, problems } = parseMonitorTargets(env['MONITOR_TARGETS']);
  return {
    camsEndpoint: readEnv(env, 'CAMS_ENDPOINT', urlString, CAMS_DEFAULT_ENDPOINT),
    storeUrl: env['STORE_URL'] || DEFAULT_STORE_URL,
    qps: readEnv(env, 'MONITOR_QPS', qpsNumber, '5'),
    repeatIntervalMs: ALERT_POLICY_READERS.ALERT_REPEAT_INTERVAL(env),
    minConsecutive: ALERT_POLICY_READERS.ALERT_MIN_CONSECUTIVE(env),
    discoveryIntervalMs: parseDuration('DISCOVERY_INTERVAL', env['DISCOVERY_INTERVAL'] || '1h'),
    targets,
    targetProblems: problems,
  };
}
