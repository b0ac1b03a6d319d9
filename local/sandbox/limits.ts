import { CAMS_QPS, type CamsAction } from '../../shared/cams/operations.ts';

const WINDOW_MS = 1000;

/**
 * Per-account, per-operation QPS limit as a sliding one-second window: a call is admitted when
 * fewer than `qps` calls were admitted in the last 1000 ms. Rejected calls do not count, so a
 * client that keeps hammering is let through again as soon as the window has room.
 */
export class QpsLimiter {
  private readonly limits: Record<CamsAction, number>;
  /** `${account}\n${action}` → admission times, oldest first. */
  private readonly windows = new Map<string, number[]>();

  constructor(overrides: Partial<Record<CamsAction, number>> = {}) {
    this.limits = { ...CAMS_QPS, ...overrides };
  }

  limitOf(action: CamsAction): number {
    return this.limits[action];
  }

  /** True when the call is admitted (and counted); false when it is over the limit. */
  admit(account: string, action: CamsAction, now: number): boolean {
    const key = `${account}\n${action}`;
    const times = this.windows.get(key) ?? [];
    while (times.length > 0 && times[0]! <= now - WINDOW_MS) times.shift();
    if (times.length >= this.limits[action]) {
      this.windows.set(key, times);
      return false;
    }
    times.push(now);
    this.windows.set(key, times);
    return true;
  }

  reset(): void {
    this.windows.clear();
  }
}
