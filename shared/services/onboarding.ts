import { budgetAccount, sharedBudget } from '../cams/budget/shared-budget.ts';
import { CamsClient } from '../cams/client.ts';
import { credentialsFrom } from '../cams/credentials.ts';
import { readEnv, urlString, type EnvSource } from '../config/env.ts';
import { CAMS_DEFAULT_ENDPOINT } from '../cams/operations.ts';
import type { EventInvocation } from '../fc/event-function.ts';
import { stdoutLog, writeLogRecord } from '../log/log.ts';
import { onboardingRequestFrom } from '../onboarding/event.ts';
import { runOnboarding, type OnboardingDeps, type OnboardingOutcome } from '../onboarding/onboard.ts';
import { redriveStalled, type RedriveReport } from '../onboarding/redrive.ts';
import { openStore } from '../store/index.ts';
import type { Store } from '../store/port.ts';

/** No ALERT_* here: onboarding only records its alerts; the health monitor delivers them. */
export interface OnboardingRuntime {
  camsEndpoint: string;
  store: Store;
}

export function onboardingRuntime(env: EnvSource = process.env): () => Promise<OnboardingRuntime> {
  let runtime: Promise<OnboardingRuntime> | undefined;
  return () =>
    (runtime ??= (async () => ({
      camsEndpoint: readEnv(env, 'CAMS_ENDPOINT', urlString, CAMS_DEFAULT_ENDPOINT),
      store: await openStore(env['STORE_URL'] || undefined),
    }))().catch((e: unknown) => {
      runtime = undefined;
      throw e;
    }));
}

function onboardingDeps(inv: EventInvocation, rt: OnboardingRuntime): OnboardingDeps {
  const cams = new CamsClient({
    endpoint: rt.camsEndpoint,
    credentials: () => credentialsFrom(inv.context),
    deadline: inv.deadline - 1000,
    budget: sharedBudget(rt.store),
    priority: 'background',
    account: budgetAccount(inv.context.accountId),
  });
  return {
    store: rt.store,
    cams,
    deadline: inv.deadline,
    log: (rec) => writeLogRecord(stdoutLog, { function: 'onboarding', requestId: inv.requestId, ...rec }),
  };
}

/** The timer tick: restarts onboardings whose run is gone (see redriveStalled). */
export async function handleOnboardingTimer(inv: EventInvocation, rt: OnboardingRuntime): Promise<RedriveReport> {
  return redriveStalled(onboardingDeps(inv, rt));
}

/** One delivery of an onboarding event. Transient failures throw, so FC's async retry redelivers. */
export async function handleOnboardingEvent(inv: EventInvocation, rt: OnboardingRuntime): Promise<OnboardingOutcome> {
  return runOnboarding(onboardingDeps(inv, rt), onboardingRequestFrom(inv.event));
}
