/**
 * The one gate every invocation of the local host passes (HTTP routes, the invoke APIs, async
 * retries, queues, timers): once the host is stopping nothing new starts, and what runs is tracked
 * so stopping can give it its grace period.
 */
import type { IsolatedFunction } from './function-runtime.ts';
import { HOST_STOPPING, type InvocationOutcome } from './functions.ts';

export class Invocations {
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopping = false;

  constructor(private readonly functions: ReadonlyMap<string, IsolatedFunction>) {}

  /** Invokes a function the host runs; a request on a kept-alive connection once stopping gets HostStopping (503). */
  run(name: string, event: Buffer, requestId: string, retryCount = 0): Promise<InvocationOutcome> {
    if (this.stopping) return Promise.resolve({ ok: false, error: { errorType: HOST_STOPPING, errorMessage: 'the local host is stopping' }, timedOut: false, durationMs: 0 });
    const p = this.functions.get(name)!.invoke(event, requestId, retryCount);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Starts nothing from now on; returns the invocations still running. */
  stop(): Array<Promise<unknown>> {
    this.stopping = true;
    return [...this.inFlight];
  }
}
