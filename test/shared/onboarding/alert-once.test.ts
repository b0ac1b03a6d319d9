import { describe, expect, it } from 'vitest';
import type { CamsClient } from '../../../shared/cams/client.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/dispatch.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { readActive } from '../../../shared/onboarding/active.ts';
import { runOnboarding } from '../../../shared/onboarding/onboard.ts';
import { onboardingIdFor } from '../../../shared/onboarding/payload.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import { redriveStalled } from '../../../shared/onboarding/redrive.ts';
import { MemoryStore } from '../../../shared/store/memory-store.ts';
import { StoreError, type PutOptions } from '../../../shared/store/port.ts';
import { stallAfterFirst } from '../../support/store.ts';
import { onboardingDeps } from './support.ts';

/** The WABA belongs to another account: a permanent failure at the bind. */
const foreignWaba = {
  bindWaba: async () => {
    throw new CamsError({ Code: 'Unknown.ResourceOwnerId', Message: 'not yours', httpStatus: 400, retryable: false });
  },
} as unknown as CamsClient;

/** A store whose first write of a monitor entity (the failure alert) fails, as redis would in a blip. */
class AlertBlipStore extends MemoryStore {
  blips = 1;
  override async put<T>(key: string, value: T, opts?: PutOptions): Promise<string | undefined> {
    if (key.startsWith(ENTITY_PREFIX) && this.blips > 0) {
      this.blips--;
      throw new StoreError('UNAVAILABLE', 'redis: connection lost');
    }
    return super.put(key, value, opts);
  }
}

const payload = { WabaId: '3500000000001', Cc: '65', PhoneNumber: '95000001', VerifiedName: 'Acme Shop', IdempotencyKey: 'alert-once-1' };
const id = onboardingIdFor('key:alert-once-1');

async function failureAlerts(store: MemoryStore): Promise<EntityState[]> {
  return (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).filter((e) => e.subject.entityType === 'OnboardingFailed' && e.subject.ref === id);
}

describe('the OnboardingFailed alert', () => {
  it('is recorded once even when its write fails after the record ended failed (FC retry, then the re-drive timer)', async () => {
    const store = new AlertBlipStore();
    let t = Date.UTC(2026, 10, 30, 12);
    const deps = onboardingDeps({ store, cams: foreignWaba, deadline: Date.UTC(2030, 0, 1), now: () => t });

    // The record is saved failed, then the alert's write fails: the invocation fails.
    await expect(runOnboarding(deps, { payload })).rejects.toBeInstanceOf(StoreError);
    expect((await store.get<OnboardingRecord>(recordKey(id)))!.value).toMatchObject({ Status: 'failed' });
    expect(await failureAlerts(store)).toHaveLength(0);

    // FC's retry is answered from the record.
    expect(await runOnboarding(deps, { payload })).toMatchObject({ status: 'failed', duplicate: true });

    // The next re-drive ticks record the alert that was owed, once.
    for (let i = 0; i < 3; i++) {
      t += 120_000;
      await redriveStalled(deps, { graceMs: 60_000 });
    }
    const alerts = await failureAlerts(store);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.errors[0]).toMatchObject({ ErrorCode: 'Unknown.ResourceOwnerId' });
    expect(alerts[0]!.outbox).toHaveLength(1);
    expect(await readActive(store)).toEqual({});
  });

  it('is recorded once when a stalled onboarding is ended failed and the alert write fails', async () => {
    const store = new AlertBlipStore();
    let t = Date.UTC(2026, 10, 30, 12);
    const downCams = {
      bindWaba: async () => {
        throw new CamsError({ Code: 'ServiceUnavailable', Message: 'down', httpStatus: 503, retryable: true });
      },
    } as unknown as CamsClient;
    const deps = onboardingDeps({ store, cams: downCams, deadline: Date.UTC(2030, 0, 1), now: () => t });
    await expect(runOnboarding(deps, { payload })).rejects.toThrow();
    const policy = { graceMs: 60_000, baseDelayMs: 60_000, maxDelayMs: 60_000, maxDrives: 1, reserveMs: 0 };
    for (let i = 0; i < 8; i++) {
      t += 120_000;
      await redriveStalled(deps, policy);
    }
    expect((await store.get<OnboardingRecord>(recordKey(id)))!.value).toMatchObject({ Status: 'failed', FailureReason: expect.stringContaining('OnboardingStalled') });
    const alerts = await failureAlerts(store);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.errors[0]).toMatchObject({ ErrorCode: 'OnboardingStalled' });
    expect(alerts[0]!.outbox).toHaveLength(1);
    expect(await readActive(store)).toEqual({});
  });
});

describe('the OnboardingFailed alert of a run that died before writing it', () => {
  it('is still recorded when a delivery that read no record, then stalled, finds that failed record and takes its index entry out', async () => {
    const store = new AlertBlipStore();
    let t = Date.UTC(2026, 10, 30, 12);
    const deps = onboardingDeps({ store, cams: foreignWaba, deadline: Date.UTC(2030, 0, 1), now: () => t });
    // The late delivery's first read of the record (none yet) is followed by a stall.
    const lateStore = stallAfterFirst(store, 'get', (k) => k === recordKey(id));
    const late = runOnboarding({ ...deps, store: lateStore.store }, { payload });
    await lateStore.reached;

    // Meanwhile a duplicate ends the record failed, and its alert's write fails (its run dies there).
    await expect(runOnboarding(deps, { payload })).rejects.toBeInstanceOf(StoreError);
    lateStore.resume();
    expect(await late).toMatchObject({ status: 'failed', duplicate: true });

    for (let i = 0; i < 3; i++) {
      t += 120_000;
      await redriveStalled(deps, { graceMs: 60_000 });
    }
    const alerts = await failureAlerts(store);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.errors[0]).toMatchObject({ ErrorCode: 'Unknown.ResourceOwnerId' });
    expect(await readActive(store)).toEqual({});
  });
});
