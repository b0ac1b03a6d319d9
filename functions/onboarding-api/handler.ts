import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { onboardingApi } from '../../shared/services/onboarding-api.ts';
import { CreateOnboardingParams, GetOnboardingParams } from './schema.ts';

export const handler = httpFunction<unknown>({
  name: 'onboarding-api',
  routes: [
    { method: 'POST', path: '/onboardings', schema: CreateOnboardingParams },
    { method: 'GET', path: '/onboardings/{id}', schema: GetOnboardingParams },
  ],
  schema: CreateOnboardingParams,
  service: onboardingApi(),
});
