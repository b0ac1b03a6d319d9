/**
 * Group commit: callers that each need "a run that started after my request" share runs. With none
 * running, a request starts one; while one runs, requests join the next, which starts when it ends.
 * So N requests arriving together cost at most two runs, and no caller is answered by a run that
 * started before it asked (which could miss its write).
 */
export class GroupCommit {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly run: () => Promise<void>) {}

  /** Resolves after a run that started after this call has ended; rejects with that run's error. */
  request(): Promise<void> {
    if (this.next) return this.next;
    if (!this.running) return this.start();
    const next = this.running.then(
      () => this.startNext(),
      () => this.startNext(),
    );
    this.next = next;
    return next;
  }

  private startNext(): Promise<void> {
    this.next = undefined;
    return this.start();
  }

  private start(): Promise<void> {
    const run = this.run().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
