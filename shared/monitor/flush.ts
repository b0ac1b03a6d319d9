import type { DispatchReport } from './dispatch.ts';

/**
 * A check that made something owed is delivered this long after it, with whatever else the checks
 * owe by then. Short: it adds to every alert's latency, and a node is checked again at most one round
 * later, so a change just after a check is alerted one round plus this after it. Long enough that
 * concurrent checks' findings go in one message (checks are 208 ms apart at 5 QPS, 10 ms at 100).
 */
export const FLUSH_DELAY_MS = 250;

/**
 * The sweep's deliveries while it sweeps: `owed()` (a check added to an outbox) schedules one
 * flush `delayMs` later; `close()` waits for it and flushes once more. Flushes run one at a time
 * and each is the one deliverer (deliverOwed, under the delivery lease), so grouping stays one
 * message per group per sink per flush and nothing is sent twice. A background flush's failure is
 * logged and left to the next flush; the last one's is thrown.
 */
export class DeliveryFlusher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  /** Something may be owed that no flush has started on since (a finding, a failed or skipped flush). */
  private dirty = false;
  readonly reports: DispatchReport[] = [];

  constructor(
    private readonly deliver: () => Promise<DispatchReport>,
    private readonly delayMs: number,
    private readonly log: (record: Record<string, unknown>) => void,
  ) {}

  /** Something is owed: flush within delayMs (one flush for everything owed meanwhile). */
  owed(): void {
    this.dirty = true;
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.delayMs);
  }

  /** Flush now, in the background (after a flush in progress). */
  flush(): void {
    if (this.closed) return;
    this.chain = this.chain.then(async () => {
      this.dirty = false;
      try {
        const report = await this.deliver();
        this.reports.push(report);
        // Another deliverer had the lease: what it may not have seen is tried again shortly.
        if (report.skipped) this.owed();
      } catch (e) {
        this.log({ level: 'warn', msg: 'a delivery while sweeping failed; the next flush retries it', error: e instanceof Error ? e.message : String(e) });
        this.owed();
      }
    });
  }

  /**
   * No more flushes in the background: waits for one in progress, then delivers once more if
   * anything may be owed since the last flush started (its error is thrown). What others record
   * meanwhile (onboarding, say) goes with the next tick's first flush.
   */
  async close(): Promise<DispatchReport[]> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
    if (this.dirty || this.reports.length === 0) this.reports.push(await this.deliver());
    return this.reports;
  }

  /** Stops without a last delivery (the sweep failed): waits for a flush in progress. */
  async abandon(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.chain;
  }
}
