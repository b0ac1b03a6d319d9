/**
 * Fires timer jobs on their schedules. A job whose previous run is still going when its next fire
 * time comes is skipped for that tick (one log line), so runs of one trigger never overlap.
 */
import type { Schedule } from './cron.ts';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock, looked up at call time (so test fake timers apply). */
const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface TimerJob {
  /** Shown in log lines: usually the trigger name. */
  name: string;
  schedule: Schedule;
  /** Runs one firing; `fireTime` is the scheduled time (epoch ms). Errors are logged, not thrown. */
  run(fireTime: number): Promise<void>;
}

/** setTimeout's ceiling; longer waits are re-armed. */
const MAX_WAIT_MS = 2_147_483_647;

interface JobState {
  job: TimerJob;
  nextAt: number;
  handle?: unknown;
  running?: Promise<void>;
}

export class TimerScheduler {
  private readonly jobs: JobState[] = [];
  private started = false;
  private stopped = false;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;

  constructor(opts: { clock?: Clock; log?: (line: string) => void } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? (() => {});
  }

  add(job: TimerJob): void {
    const state: JobState = { job, nextAt: 0 };
    this.jobs.push(state);
    if (this.started && !this.stopped) this.arm(state, this.clock.now());
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const now = this.clock.now();
    for (const s of this.jobs) this.arm(s, now);
  }

  /** When each job fires next (epoch ms), for the start-up banner. */
  nextFireTimes(): Array<{ name: string; nextAt: number }> {
    const now = this.clock.now();
    return this.jobs.map((s) => ({ name: s.job.name, nextAt: s.nextAt || s.job.schedule.next(now) }));
  }

  /** Stops scheduling; resolves when the runs in progress have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.jobs) {
      if (s.handle !== undefined) this.clock.clearTimeout(s.handle);
      s.handle = undefined;
    }
    await Promise.allSettled(this.jobs.map((s) => s.running).filter(Boolean));
  }

  private arm(state: JobState, after: number): void {
    if (this.stopped) return;
    state.nextAt = state.job.schedule.next(after);
    this.wait(state);
  }

  private wait(state: JobState): void {
    const delay = Math.max(0, state.nextAt - this.clock.now());
    state.handle = this.clock.setTimeout(() => {
      state.handle = undefined;
      if (this.stopped) return;
      if (this.clock.now() < state.nextAt) return this.wait(state); // a wait longer than setTimeout allows
      this.fire(state);
    }, Math.min(delay, MAX_WAIT_MS));
  }

  private fire(state: JobState): void {
    const fireTime = state.nextAt;
    if (state.running) {
      this.log(`timer ${state.job.name}: tick at ${iso(fireTime)} skipped, the previous run is still in progress`);
    } else {
      const run = (async () => state.job.run(fireTime))().catch((err: unknown) => {
        this.log(`timer ${state.job.name}: run failed: ${err instanceof Error ? err.message : String(err)}`);
      });
      state.running = run.finally(() => {
        state.running = undefined;
      });
    }
    // The next tick after both the fire time and now: a host that was suspended does not replay
    // every tick it missed.
    this.arm(state, Math.max(fireTime, this.clock.now()));
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
