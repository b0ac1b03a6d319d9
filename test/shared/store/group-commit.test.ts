import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../shared/store/group-commit.ts';

/** A run the test ends by hand, recording when each run started and ended (a step counter, no clock). */
function manualRuns() {
  let step = 0;
  const runs: Array<{ started: number; ended?: number; finish: (error?: Error) => void }> = [];
  const run = () =>
    new Promise<void>((resolve, reject) => {
      const r = { started: ++step, ended: undefined as number | undefined, finish: (error?: Error) => ((r.ended = ++step), error ? reject(error) : resolve()) };
      runs.push(r);
    });
  return { runs, run, tick: () => ++step };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('requests made while a run is going share one next run, which starts after that run ends', async () => {
    const m = manualRuns();
    const g = new GroupCommit(m.run);
    const answered: number[] = [];
    const first = g.request().then(() => answered.push(m.tick()));
    const asked = m.tick();
    const later = Array.from({ length: 50 }, () => g.request().then(() => answered.push(m.tick())));
    expect(m.runs).toHaveLength(1);
    m.runs[0]!.finish();
    await first;
    await flush();
    // The 50 were asked while run 1 was going: it cannot cover them, so they are still waiting, on run 2.
    expect(answered).toHaveLength(1);
    expect(m.runs).toHaveLength(2);
    expect(m.runs[1]!.started).toBeGreaterThan(asked);
    m.runs[1]!.finish();
    await Promise.all(later);
    expect(answered).toHaveLength(51);
    expect(m.runs).toHaveLength(2);
  });

  it('a request after the runs are done starts a new run at once', async () => {
    const m = manualRuns();
    const g = new GroupCommit(m.run);
    const a = g.request();
    m.runs[0]!.finish();
    await a;
    const b = g.request();
    expect(m.runs).toHaveLength(2);
    m.runs[1]!.finish();
    await expect(b).resolves.toBeUndefined();
  });

  it('a failed run fails the requests it answers; the ones waiting for the next run get their own', async () => {
    const m = manualRuns();
    const g = new GroupCommit(m.run);
    const a = g.request();
    const b = g.request();
    m.runs[0]!.finish(new Error('EIO'));
    await expect(a).rejects.toThrow('EIO');
    await flush();
    expect(m.runs).toHaveLength(2);
    m.runs[1]!.finish();
    await expect(b).resolves.toBeUndefined();
  });
});
