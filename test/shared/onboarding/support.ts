import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import type { OnboardingDeps } from '../../../shared/onboarding/onboard.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';

export interface CallRow {
  Action: string;
  Code: string;
  HttpStatus: number;
  Params: Record<string, string>;
}

export async function camsCalls(sandbox: RunningSandbox): Promise<CallRow[]> {
  return (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as CallRow[];
}

/** Successful CAMS calls of one action (an OK reply: the sandbox applied the write). */
export async function okCalls(sandbox: RunningSandbox, action: string): Promise<CallRow[]> {
  return (await camsCalls(sandbox)).filter((c) => c.Action === action && c.Code === 'OK');
}

/** OnboardingDeps as the onboarding function builds them: no sinks, its failure alerts are only recorded. */
export function onboardingDeps(d: OnboardingDeps): OnboardingDeps {
  return d;
}

/**
 * Makes every CAMS reply slower than the client waits (the sandbox still applies the write when the
 * client has gone), until the sandbox has applied one `action`: then the latency goes, so a later
 * attempt gets a prompt answer. Returns a stop function.
 */
export function latencyUntilApplied(sandbox: RunningSandbox, action: string, latencyMs: number): { armed: Promise<void>; stop: () => void } {
  let stopped = false;
  const armed = sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { latencyMs }).then(() => undefined);
  void (async () => {
    await armed;
    while (!stopped) {
      if ((await okCalls(sandbox, action)).length > 0) {
        await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { armed, stop: () => (stopped = true) };
}
