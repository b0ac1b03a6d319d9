import { eventFunction } from '../../shared/fc/event-function.ts';
import { handleOnboardingEvent, onboardingRuntime } from '../../shared/services/onboarding.ts';

const runtime = onboardingRuntime();

/** EventBridge / MNS CloudEvents, or the FC invoke API (async from POST /onboardings). */
export const handler = eventFunction({
  name: 'onboarding',
  run: async (inv) => handleOnboardingEvent(inv, await runtime()),
  summarize: (o) => (o.status === 'invalid' ? { onboardingId: o.onboardingId, outcome: 'invalid' } : { onboardingId: o.record.OnboardingId, outcome: o.status, duplicate: o.duplicate }),
});
