import { ConfigError, type EnvSource } from '../../config/env.ts';
import { CAMS_QPS, type CamsAction } from '../operations.ts';

/**
 * The account's budget per operation: CAMS's documented limits (operations.ts), overridden by
 * `CAMS_QPS` (`GetWhatsappHealthStatus=100,ChatappBindWaba=10`) where an account's quota differs.
 * A bad entry fails with a ConfigError naming CAMS_QPS and the entry.
 */
export function budgetQps(env: EnvSource = process.env): Record<CamsAction, number> {
  const qps: Record<CamsAction, number> = { ...CAMS_QPS };
  const raw = env['CAMS_QPS']?.trim();
  if (!raw) return qps;
  const given = new Set<string>();
  raw.split(',').forEach((part, i) => {
    if (!part.trim()) throw new ConfigError('CAMS_QPS', `entry ${i + 1} is empty (a comma too many)`);
    const m = /^\s*([A-Za-z]+)\s*=\s*(.*?)\s*$/.exec(part);
    if (!m) throw new ConfigError('CAMS_QPS', `entry ${JSON.stringify(part.trim())} is not Operation=number (e.g. GetWhatsappHealthStatus=100)`);
    const [, action, value] = m as unknown as [string, string, string];
    if (!Object.hasOwn(CAMS_QPS, action)) {
      throw new ConfigError('CAMS_QPS', `unknown operation ${JSON.stringify(action)}; expected one of ${Object.keys(CAMS_QPS).join(', ')}`);
    }
    // The last of two would win silently, and a typo for another operation go unnoticed.
    if (given.has(action)) throw new ConfigError('CAMS_QPS', `${action} is given twice`);
    given.add(action);
    const n = Number(value);
    if (!/^\d+(?:\.\d+)?$/.test(value) || !(n > 0 && n <= 1000)) {
      throw new ConfigError('CAMS_QPS', `${action} must be a number of calls per second above 0 and at most 1000 (got ${JSON.stringify(value)})`);
    }
    qps[action as CamsAction] = n;
  });
  return qps;
}
