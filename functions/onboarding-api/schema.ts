import * as z from '../../shared/validation/schema.ts';
import { ONBOARDING_ID, OnboardingPayload } from '../../shared/onboarding/payload.ts';

export const CreateOnboardingParams = OnboardingPayload;
export const GetOnboardingParams = z.strictObject({
  id: z.string().check(z.regex(ONBOARDING_ID, 'must be an OnboardingId as returned by POST /onboardings (ob- and 24 hex digits)')),
});
