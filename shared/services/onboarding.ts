import { budgetAccount, sharedBudget } from '../cams/budget/shared-budget.ts';
import { CamsClient } from '../cams/client.ts';
import { credentialsFrom } from '../cams/credentials.ts';
import { readEnv, urlString, type EnvSource } from '../config/env.ts';
import { CAMS_DEFAULT_ENDPOINT } from '../cams/operations.ts';
import type { EventInvocation } from '../fc/event-function.ts';
import { stdoutLog, writeLogRecord } from '../log/log.ts';
import { onboardingRequestFrom, onboardingRequestsFrom } from '../onboarding/event.ts';
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

/** The outcomes of a batch of CloudEvents, in order. */
export interface OnboardingBatchOutcome {
  status: 'batch';
  outcomes: OnboardingOutcome[];
}

/**
 * One delivery of an onboarding event, or of a batch of them (a JSON array of CloudEvents), each run
 * in turn. Transient failures throw, so FC's async retry redelivers; in a batch, after the others
 * have run (a redelivery answers the finished ones from their records).
 */
export async function handleOnboardingEvent(inv: EventInvocation, rt: OnboardingRuntime): Promise<OnboardingOutcome | OnboardingBatchOutcome> {
  const batch = onboardingRequestsFrom(inv.event);
  if (!batch) return runOnboarding(onboardingDeps(inv, rt), onboardingRequestFrom(inv.event));
  const outcomes: OnboardingOutcome[] = [];
  let failure: { error: unknown } | undefined;
  for (const [index, request] of batch.entries()) {
    const deps = onboardingDeps(inv, rt);
    try {
      outcomes.push(await runOnboarding(deps, request));
    } catch (e) {
      // Only the first is thrown (and logged with the invocation): each is named here, or the
      // others' failures (a store error, one in progress elsewhere) leave no trace.
      deps.log?.({ level: 'warn', msg: 'onboarding batch event failed; the batch will be redelivered', index, ...(request.messageId ? { messageId: request.messageId } : {}), ...(request.event ? { event: request.event } : {}), error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
      failure ??= { error: e };
    }
  }
  if (failure) throw failure.error;
  return { status: 'batch', outcomes };
}
