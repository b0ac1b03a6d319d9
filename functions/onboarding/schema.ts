// The payload schema is shared with POST /onboardings, which validates before it invokes this function.
export { OnboardingPayload } from '../../shared/onboarding/payload.ts';
