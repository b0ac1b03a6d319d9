/**
 * A tick's work beside its checks: the full entity scan, resolving fixed target problems, the
 * round's listing of the watch list. It starts once the first CAMS call is under way (`kickoff`),
 * not ahead of it, so its store reads do not queue ahead of the first checks'. A failure is logged
 * and left to the next tick; the tick waits for all of it (`settled`) before it ends.
 */
export class BesideChecks {
  private readonly running: Array<Promise<unknown>> = [];
  private readonly waiting: Array<() => void> = [];
  private kicked = false;

  constructor(
    private readonly roundId: string,
    private readonly log: (record: Record<string, unknown>) => void,
    /** Runs first at kickoff (the deliverer's first flush is due a delay after it). */
    private readonly onKickoff: () => void,
  ) {}

  /** `run` at kickoff (now, if that was); `what` names it in the log line of a failure. */
  add(what: string, run: () => Promise<unknown>): void {
    const start = () => {
      this.running.push(run().catch((e: unknown) => this.log({ level: 'warn', msg: `${what} failed; the next tick does it`, round: this.roundId, error: e instanceof Error ? e.message : String(e) })));
    };
    if (this.kicked) start();
    else this.waiting.push(start);
  }

  /** Work already under way (and handling its own failures) that the tick also waits for. */
  track(running: Promise<unknown>): void {
    this.running.push(running);
  }

  kickoff(): void {
    if (this.kicked) return;
    this.kicked = true;
    this.onKickoff();
    for (const start of this.waiting.splice(0)) start();
  }

  /** Everything added so far, finished. */
  settled(): Promise<unknown> {
    return Promise.all(this.running);
  }
}
