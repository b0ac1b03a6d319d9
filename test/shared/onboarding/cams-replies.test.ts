import { describe, expect, it } from 'vitest';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { runOnboarding } from '../../../shared/onboarding/onboard.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import type { Store } from '../../../shared/store/port.ts';
import { WATCH_PREFIX } from '../../../shared/monitor/targets.ts';
import { sandboxPerFileStorePerTest } from '../../support/monitor.ts';
import { ok, startScriptedCams, TEST_KEY } from '../cams/scripted-cams.ts';
import { onboardingDeps } from './support.ts';

let store: Store;

sandboxPerFileStorePerTest((parts) => ({ store } = parts));

const payload = { WabaId: '3200000000001', Cc: '65', PhoneNumber: '92000001', VerifiedName: 'Acme Shop' };

describe('a CustSpaceId CAMS answers that the watch list cannot take', () => {
  it('fails the onboarding at bind, naming CustSpaceId, before any number is added (it stalled at watch, re-driven 8 times)', async () => {
    // CAMS documents CustSpaceId as any string, and would take its own id back; our watch list, GET
    // /health-status and the store's keys take letters, digits, _ and - only.
    const scripted = await startScriptedCams((call) => {
      switch (call.action) {
        case 'ChatappBindWaba':
          return ok({ CustSpaceId: 'C1/x', WabaId: call.params['WabaId'] });
        case 'QueryChatappBindWaba':
          return ok({ AccountReviewStatus: 'APPROVED' });
        case 'GetWhatsappHealthStatus':
          return ok({ CanSendMessage: 'AVAILABLE', Entities: [] });
        default:
          return ok();
      }
    });
    try {
      const cams = new CamsClient({ endpoint: scripted.url, credentials: TEST_KEY, budget: new CamsBudget() });
      const out = await runOnboarding(onboardingDeps({ store, cams, deadline: Date.now() + 20_000 }), { payload });
      expect(out.status).toBe('failed');
      if (out.status !== 'failed') return;
      expect(out.record.FailureReason).toBe('bind: UnsupportedCustSpaceId: ChatappBindWaba answered CustSpaceId "C1/x", which is not 1-64 letters, digits, _ or -: the watch list cannot take this space');
      const stored = (await store.get<OnboardingRecord>(recordKey(out.record.OnboardingId)))!.value;
      expect(stored).toMatchObject({ Status: 'failed', Errors: [expect.objectContaining({ step: 'bind', Code: 'UnsupportedCustSpaceId', permanent: true })] });
      expect(stored.StepInFlight).toBeUndefined();
      expect(scripted.calls.map((c) => c.action)).toEqual(['ChatappBindWaba']);
      expect(await store.list(WATCH_PREFIX)).toHaveLength(0);
    } finally {
      await scripted.close();
    }
  });
});
