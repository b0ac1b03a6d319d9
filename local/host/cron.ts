/**
 * FC timer schedules: `sec min hour dom month dow` (6 fields, cron-parser does the calendar work),
 * or `@every 1h30m` (Go duration of h/m/s units); UTC unless prefixed `CRON_TZ=Area/City `.
 */
import { CronExpressionParser } from 'cron-parser';

export interface Schedule {
  /** The expression as written. */
  readonly source: string;
  /** IANA zone the cron fields are read in (UTC unless CRON_TZ=). */
  readonly timeZone: string;
  /** The first fire time strictly after `afterMs` (epoch ms). */
  next(afterMs: number): number;
}

export class CronError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CronError';
  }
}

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000 };

/** `1h30m`, `5m`, `10s` → ms. */
export function parseEveryDuration(spec: string): number {
  if (!/^(\d+[hms])+$/.test(spec)) throw new CronError(`"@every ${spec}" is not a duration like 5m, 1h30m or 30s`);
  let ms = 0;
  for (const m of spec.matchAll(/(\d+)([hms])/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  if (ms <= 0) throw new CronError(`"@every ${spec}" must be longer than 0s`);
  return ms;
}

function checkTimeZone(tz: string, expr: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new CronError(`"${expr}": CRON_TZ=${tz} is not a known time zone`);
  }
}

/**
 * Parses an FC cron expression. `anchorMs` is when `@every` schedules start counting (the trigger's
 * creation; the host's start locally).
 */
export function parseSchedule(expression: string, anchorMs: number): Schedule {
  const source = expression;
  let rest = expression.trim();
  let timeZone = 'UTC';
  const tz = /^CRON_TZ=(\S+)\s+(.*)$/.exec(rest);
  if (tz) {
    timeZone = tz[1]!;
    checkTimeZone(timeZone, source);
    rest = tz[2]!.trim();
  }

  const every = /^@every\s+(\S+)$/.exec(rest);
  if (every) {
    const period = parseEveryDuration(every[1]!);
    return {
      source,
      timeZone,
      next(afterMs) {
        if (afterMs < anchorMs) return anchorMs + period;
        return anchorMs + (Math.floor((afterMs - anchorMs) / period) + 1) * period;
      },
    };
  }

  const fields = rest.split(/\s+/);
  if (fields.length !== 6) {
    throw new CronError(`"${source}": FC cron expressions have 6 fields (sec min hour day-of-month month day-of-week), or use @every 5m`);
  }
  try {
    CronExpressionParser.parse(rest, { tz: timeZone, currentDate: new Date(anchorMs) }).next();
  } catch (e) {
    throw new CronError(`"${source}": ${(e as Error).message}`);
  }
  return {
    source,
    timeZone,
    next(afterMs) {
      // cron-parser returns the first match strictly after currentDate.
      return CronExpressionParser.parse(rest, { tz: timeZone, currentDate: new Date(afterMs) }).next().getTime();
    },
  };
}
