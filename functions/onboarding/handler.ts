import { eventFunction } from '../../shared/fc/event-function.ts';
import { isTimerEvent } from '../../shared/onboarding/event.ts';
import type { OnboardingOutcome } from '../../shared/onboarding/onboard.ts';
import type { RedriveReport } from '../../shared/onboarding/redrive.ts';
import { handleOnboardingEvent, handleOnboardingTimer, onboardingRuntime, type OnboardingBatchOutcome } from '../../shared/services/onboarding.ts';

const runtime = onboardingRuntime();

/**
 * EventBridge / MNS CloudEvents, or the FC invoke API (async from POST /onboardings); its timer
 * trigger re-drives stalled onboardings.
 */
export const handler = eventFunction<OnboardingOutcome | OnboardingBatchOutcome | RedriveReport>({
  name: 'onboarding',
  run: async (inv) => (isTimerEvent(inv.event) ? handleOnboardingTimer(inv, await runtime()) : handleOnboardingEvent(inv, await runtime())),
  summarize: (o) => {
    if (!('status' in o)) return { outcome: 'redrive', ...o };
    if (o.status === 'batch') return { outcome: 'batch', outcomes: o.outcomes.map(summarizeOne) };
    return summarizeOne(o);
  },
});

function summarizeOne(o: OnboardingOutcome): Record<string, unknown> {
  switch (o.status) {
    case 'invalid':
      return { outcome: 'invalid', fields: o.fields };
    case 'refused':
      return { onboardingId: o.onboardingId, outcome: 'refused', code: o.code };
    default:
      return { onboardingId: o.record.OnboardingId, outcome: o.status, duplicate: o.duplicate };
  }
}
