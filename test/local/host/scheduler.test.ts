import { describe, expect, it } from 'vitest';
import { CronError, parseEveryDuration, parseSchedule } from '../../../local/host/cron.ts';
import { TimerScheduler, type Clock } from '../../../local/host/scheduler.ts';

const T0 = Date.parse('2024-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** A clock that only moves when told to; due callbacks run in time order. */
class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  constructor(start: number) {
    this.t = start;
  }
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers.delete(h as number);
  };
  pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing every due timer (and the microtasks they queue) on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (let i = 0; i < 10; i++) await Promise.resolve();
    for (;;) {
      const due = [...this.timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = Math.max(this.t, due[1].at);
      due[1].fn();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.t = end;
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

describe('FC cron expressions', () => {
  it('6 fields with seconds, UTC by default', () => {
    const s = parseSchedule('0 */5 * * * *', T0);
    expect(iso(s.next(T0))).toBe('2024-01-01T00:05:00.000Z');
    expect(iso(s.next(T0 + 299_999))).toBe('2024-01-01T00:05:00.000Z');
    expect(iso(s.next(T0 + 300_000))).toBe('2024-01-01T00:10:00.000Z');
    expect(s.timeZone).toBe('UTC');
  });

  it('CRON_TZ= reads the fields in that zone', () => {
    const s = parseSchedule('CRON_TZ=Asia/Shanghai 0 0 8 * * *', T0);
    expect(s.timeZone).toBe('Asia/Shanghai');
    expect(iso(s.next(T0))).toBe('2024-01-02T00:00:00.000Z'); // 08:00 in Shanghai
    expect(iso(parseSchedule('0 0 8 * * *', T0).next(T0))).toBe('2024-01-01T08:00:00.000Z');
  });

  it('? and names in day fields', () => {
    expect(iso(parseSchedule('0 30 9 ? * MON-FRI', T0).next(T0))).toBe('2024-01-01T09:30:00.000Z'); // 2024-01-01 is a Monday
    expect(iso(parseSchedule('0 0 0 ? * SAT', T0).next(T0))).toBe('2024-01-06T00:00:00.000Z');
  });

  it('@every counts from the anchor', () => {
    expect(parseEveryDuration('1h30m')).toBe(5_400_000);
    expect(parseEveryDuration('10s')).toBe(10_000);
    const s = parseSchedule('@every 5m', T0);
    expect(iso(s.next(T0))).toBe('2024-01-01T00:05:00.000Z');
    expect(iso(s.next(T0 + 300_000))).toBe('2024-01-01T00:10:00.000Z');
    expect(iso(s.next(T0 + 301_000))).toBe('2024-01-01T00:10:00.000Z');
  });

  it.each([
    ['0 */5 * * *', /6 fields/],
    ['0 */5 * * * 9', /expected range/],
    ['@every 5', /duration/],
    ['@every 0s', /longer than 0s/],
    ['CRON_TZ=Mars/Olympus 0 * * * * *', /not a known time zone/],
  ])('rejects %s', (expr, message) => {
    expect(() => parseSchedule(expr, T0)).toThrow(CronError);
    expect(() => parseSchedule(expr, T0)).toThrow(message);
  });
});

describe('the timer scheduler (fake clock)', () => {
  it('fires each tick with its scheduled time', async () => {
    const clock = new FakeClock(T0);
    const fired: string[] = [];
    const s = new TimerScheduler({ clock });
    s.add({ name: 't', schedule: parseSchedule('0 */5 * * * *', T0), run: async (at) => void fired.push(iso(at)) });
    s.start();
    expect(s.nextFireTimes()).toEqual([{ name: 't', nextAt: T0 + 300_000 }]);
    await clock.advance(299_999);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual(['2024-01-01T00:05:00.000Z']);
    await clock.advance(600_000);
    expect(fired).toEqual(['2024-01-01T00:05:00.000Z', '2024-01-01T00:10:00.000Z', '2024-01-01T00:15:00.000Z']);
    await s.stop();
    await clock.advance(3_600_000);
    expect(fired).toHaveLength(3);
    expect(clock.pending()).toBe(0);
  });

  it('skips a tick while the previous run is still going, with a log line', async () => {
    const clock = new FakeClock(T0);
    const lines: string[] = [];
    let release!: () => void;
    let runs = 0;
    const s = new TimerScheduler({ clock, log: (l) => lines.push(l) });
    s.add({
      name: 'sls_timer_slow',
      schedule: parseSchedule('@every 1m', T0),
      run: () => {
        runs += 1;
        return new Promise<void>((r) => (release = r));
      },
    });
    s.start();
    await clock.advance(60_000);
    expect(runs).toBe(1);
    await clock.advance(60_000); // the first run is still going
    await clock.advance(60_000);
    expect(runs).toBe(1);
    expect(lines.filter((l) => l.includes('skipped'))).toHaveLength(2);
    expect(lines[0]).toMatch(/^timer sls_timer_slow: tick at 2024-01-01T00:02:00.000Z skipped, the previous run is still in progress$/);
    release();
    await clock.advance(60_000);
    expect(runs).toBe(2);
    release();
    await s.stop();
  });

  it('a failing run is logged and the schedule goes on', async () => {
    const clock = new FakeClock(T0);
    const lines: string[] = [];
    let runs = 0;
    const s = new TimerScheduler({ clock, log: (l) => lines.push(l) });
    s.add({
      name: 'bad',
      schedule: parseSchedule('@every 10s', T0),
      run: async () => {
        runs += 1;
        throw new Error('boom');
      },
    });
    s.start();
    await clock.advance(30_000);
    expect(runs).toBe(3);
    expect(lines).toEqual(['timer bad: run failed: boom', 'timer bad: run failed: boom', 'timer bad: run failed: boom']);
    await s.stop();
  });

  it('after a long pause (suspended laptop) it fires once, not once per missed tick', async () => {
    let now = T0;
    const queued: Array<() => void> = [];
    const clock: Clock = { now: () => now, setTimeout: (fn) => queued.push(fn), clearTimeout: () => {} };
    let runs = 0;
    const s = new TimerScheduler({ clock });
    s.add({ name: 'x', schedule: parseSchedule('@every 1m', T0), run: async () => void (runs += 1) });
    s.start();
    now = T0 + 10 * 60_000 + 5_000; // the timer callback comes 10 minutes late
    queued.shift()!();
    expect(runs).toBe(1);
    expect(s.nextFireTimes()[0]!.nextAt).toBe(T0 + 11 * 60_000);
    await s.stop();
  });
});
