/**
 * FC's async invocation: accepted at once, run in the background, a failed attempt retried after
 * each of `retryDelaysMs` (FC's default: 3 retries) with `retryCount` counting up in the context.
 */
import type { InvocationOutcome } from './functions.ts';

export interface AsyncInvokerOptions {
  run(functionName: string, event: Buffer, requestId: string, retryCount: number): Promise<InvocationOutcome>;
  retryDelaysMs: readonly number[];
  log: (line: string) => void;
}

export class AsyncInvoker {
  private readonly running = new Set<Promise<void>>();
  /** Pending retry waits: released at once on close. */
  private readonly waits = new Map<ReturnType<typeof setTimeout>, () => void>();
  private closing = false;

  constructor(private readonly opts: AsyncInvokerOptions) {}

  invoke(name: string, event: Buffer, requestId: string): void {
    const { retryDelaysMs: delays, log } = this.opts;
    const attempts = delays.length + 1;
    const attempt = async (n: number): Promise<void> => {
      if (this.closing) {
        log(`async ${name} ${requestId}: dropped, the host is stopping`);
        return;
      }
      const outcome = await this.opts.run(name, event, requestId, n);
      if (outcome.ok) {
        log(`async ${name} ${requestId}: attempt ${n + 1}/${attempts} succeeded (${outcome.durationMs} ms)`);
        return;
      }
      const why = `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
      if (n >= delays.length) {
        log(`async ${name} ${requestId}: attempt ${n + 1}/${attempts} failed (${why}); giving up`);
        return;
      }
      const wait = delays[n]!;
      log(`async ${name} ${requestId}: attempt ${n + 1}/${attempts} failed (${why}); retrying in ${wait} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waits.delete(t);
          resolve();
        }, wait);
        this.waits.set(t, resolve);
      });
      return attempt(n + 1);
    };
    const p = attempt(0).catch((e: unknown) => log(`async ${name} ${requestId}: host error: ${(e as Error).message}`));
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** No new attempts; pending retries are dropped; resolves when the running attempts have ended. */
  async close(): Promise<void> {
    this.closing = true;
    for (const [t, release] of this.waits) {
      clearTimeout(t);
      release();
    }
    this.waits.clear();
    await Promise.allSettled([...this.running]);
  }
}
