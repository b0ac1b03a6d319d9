/**
 * serverless.yml's timer triggers on the local host: each fires its function with an FC timer event
 * on its cron, unless the function is not loaded or timers are off, which its info then says. The
 * info gets each active timer's next fire time.
 */
import type { IsolatedFunction } from './function-runtime.ts';
import { newRequestId, type InvocationOutcome } from './functions.ts';
import type { TimerPlan } from './host-config.ts';
import { fcTime } from './http-trigger.ts';
import type { TimerScheduler } from './scheduler.ts';

export function scheduleTimers(
  timerPlans: readonly TimerPlan[],
  deps: {
    scheduler: TimerScheduler;
    functions: ReadonlyMap<string, IsolatedFunction>;
    run: (name: string, event: Buffer, requestId: string) => Promise<InvocationOutcome>;
    timersOn: boolean;
    log: (line: string) => void;
  },
): void {
  const { scheduler, log } = deps;
  for (const t of timerPlans) {
    const fn = deps.functions.get(t.fn.name)!;
    if (!t.info.inactive && fn.state !== 'ready') t.info.inactive = fn.state === 'broken' ? 'function failed to load' : 'function not implemented';
    if (!t.info.inactive && !deps.timersOn) t.info.inactive = 'HOST_TIMERS=off';
    if (t.info.inactive) continue;
    const triggerName = t.info.triggerName;
    scheduler.add({
      name: triggerName,
      schedule: t.schedule,
      run: async (fireTime) => {
        const requestId = newRequestId();
        const event = { triggerTime: fcTime(fireTime), triggerName, payload: t.payload };
        const outcome = await deps.run(fn.spec.name, Buffer.from(JSON.stringify(event), 'utf8'), requestId);
        if (outcome.ok) log(`timer ${triggerName} -> ${fn.spec.name} ${requestId}: ok (${outcome.durationMs} ms)`);
        else log(`timer ${triggerName} -> ${fn.spec.name} ${requestId}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
      },
    });
  }
  scheduler.start();
  const nextTimes = new Map(scheduler.nextFireTimes().map((t) => [t.name, t.nextAt]));
  for (const t of timerPlans) {
    const next = nextTimes.get(t.info.triggerName);
    if (next !== undefined) t.info.nextAt = next;
  }
}
