/**
 * Up to `concurrency` copies of one worker loop, started one after another, not all at once: the
 * first at once, each next one when `more()` is called (the sweep calls it once a check is under
 * way) and after a turn of the event loop. All of the sweep's workers reading their first jobs
 * together (synchronous reads on the file store) stalled the loop while the budget's first slots
 * were being reserved, and every stall longer than the client's spacing is a slot lost. They are all
 * running well before the slots need them (a worker's reads take about a millisecond, a slot is
 * 10.4 ms at 100 QPS).
 */
export class StaggeredWorkers {
  private running: Array<Promise<void>> | undefined;

  constructor(
    private readonly concurrency: number,
    private readonly worker: () => Promise<void>,
    /** What a worker threw; it is not restarted. */
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Starts one more worker, if fewer than `concurrency` run (nothing between runs). */
  more(): void {
    if (this.running && this.running.length < Math.max(1, this.concurrency)) this.start(new Promise((turn) => setImmediate(turn)));
  }

  /** Starts the first worker and returns once it and every one started meanwhile have returned. */
  async run(): Promise<void> {
    const running: Array<Promise<void>> = [];
    this.running = running;
    this.start(Promise.resolve());
    // Those started meanwhile included (each is in `running` as soon as it is asked for).
    for (let i = 0; i < running.length; i++) await running[i];
    this.running = undefined;
  }

  private start(first: Promise<void>): void {
    this.running!.push(first.then(() => this.worker()).catch((e: unknown) => this.onError(e)));
  }
}
