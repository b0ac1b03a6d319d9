/** Workers started one after another, up to a cap (shared/monitor/staggered-workers.ts). */
import { describe, expect, it } from 'vitest';
import { StaggeredWorkers } from '../../../shared/monitor/staggered-workers.ts';

describe('StaggeredWorkers', () => {
  it('starts the next worker only when asked, after a turn of the event loop, and at most `concurrency`', async () => {
    const events: string[] = [];
    let started = 0;
    let releaseAll!: () => void;
    const released = new Promise<void>((resolve) => (releaseAll = resolve));
    const workers: StaggeredWorkers = new StaggeredWorkers(
      3,
      async () => {
        const me = ++started;
        events.push(`start ${me}`);
        // Each asks for one more as soon as it runs (the sweep does once a check is under way).
        workers.more();
        // A microtask later it still runs alone: the next one waits for a turn of the event loop.
        await null;
        events.push(`asked ${me}`);
        if (me === 3) {
          // Asking beyond the cap starts nothing.
          workers.more();
          workers.more();
          setImmediate(releaseAll);
        }
        await released;
        events.push(`end ${me}`);
      },
      () => events.push('error'),
    );
    await workers.run();
    expect(started).toBe(3);
    // Not started within more(): the one that asked went on first.
    expect(events.slice(0, 6)).toEqual(['start 1', 'asked 1', 'start 2', 'asked 2', 'start 3', 'asked 3']);
    expect(events.filter((e) => e.startsWith('end'))).toHaveLength(3);
  });

  it('waits for every worker started meanwhile, and hands a thrown error to onError', async () => {
    const errors: unknown[] = [];
    let finished = 0;
    let n = 0;
    const workers: StaggeredWorkers = new StaggeredWorkers(
      2,
      async () => {
        const me = ++n;
        workers.more();
        if (me === 1) throw new Error('boom');
        await new Promise((resolve) => setTimeout(resolve, 20));
        finished++;
      },
      (e) => errors.push(e),
    );
    await workers.run();
    expect(finished).toBe(1);
    expect(errors).toEqual([new Error('boom')]);
  });

  it('starts nothing between runs, and runs again from one worker', async () => {
    let n = 0;
    const workers = new StaggeredWorkers(4, async () => void n++, () => {});
    workers.more();
    await new Promise((resolve) => setImmediate(resolve));
    expect(n).toBe(0);
    await workers.run();
    expect(n).toBe(1);
    workers.more();
    await new Promise((resolve) => setImmediate(resolve));
    expect(n).toBe(1);
    await workers.run();
    expect(n).toBe(2);
  });

  it('a concurrency under one still runs one worker', async () => {
    let n = 0;
    const workers: StaggeredWorkers = new StaggeredWorkers(0, async () => {
      n++;
      workers.more();
    }, () => {});
    await workers.run();
    expect(n).toBe(1);
  });
});
