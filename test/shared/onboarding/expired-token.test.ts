import { describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { OnboardingRetryableError, runOnboarding, type OnboardingDeps } from '../../../shared/onboarding/onboard.ts';
import { onboardingIdFor } from '../../../shared/onboarding/payload.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import type { Store } from '../../../shared/store/port.ts';
import { sandboxPerFileStorePerTest } from '../../support/monitor.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';
import { okCalls } from './support.ts';

let sandbox: RunningSandbox;
let store: Store;

sandboxPerFileStorePerTest((parts) => ({ sandbox, store } = parts));

/** A client signing with the role's STS credentials of one invocation: FC's context holds one token for its whole run. */
function invocationCams(token: string): CamsClient {
  const key = DEFAULT_SANDBOX_KEYS[0]!;
  return new CamsClient({ endpoint: sandbox.url, credentials: () => ({ ...key, securityToken: token }), budget: new CamsBudget({}) });
}

describe('an STS token that expires during an onboarding', () => {
  it('is a transient failure: the step is not left in flight, and the redelivery with fresh credentials adds the number once', async () => {
    const payload = { WabaId: '370000000001', Cc: '65', PhoneNumber: '97000001', VerifiedName: 'Acme Shop', IdempotencyKey: 'expired-token-1' };
    const deps = (token: string, over: Partial<OnboardingDeps> = {}): OnboardingDeps => ({ store, cams: invocationCams(token), deadline: Date.now() + 20_000, ...over });
    // The token runs out between the bind and the add of the same invocation.
    const expireAfterBind = async (step: string) => {
      if (step === 'bind') await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { expiredTokens: ['STS.first-invocation'] });
    };
    await expect(runOnboarding(deps('STS.first-invocation', { afterStep: expireAfterBind }), { payload })).rejects.toBeInstanceOf(OnboardingRetryableError);
    const key = recordKey(onboardingIdFor('key:expired-token-1'));
    const after = (await store.get<OnboardingRecord>(key))!.value;
    expect(after).toMatchObject({ Status: 'running', Errors: [expect.objectContaining({ step: 'addPhone', Code: 'InvalidSecurityToken.Expired', permanent: false })] });
    // The gateway refused the signature: the add never ran, so a Phone.Exists later would not be ours.
    expect(after.StepInFlight).toBeUndefined();
    expect(after.FailureReason).toBeUndefined();

    // FC's redelivery is a new invocation, with the role's fresh token.
    const out = await runOnboarding(deps('STS.second-invocation'), { payload });
    expect(out).toMatchObject({ status: 'done' });
    if (out.status !== 'done') return;
    expect(out.record.Steps.addPhone).not.toHaveProperty('AlreadyAdded');
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
  });
});
