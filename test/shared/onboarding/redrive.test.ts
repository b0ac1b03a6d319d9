import { describe, expect, it } from 'vitest';
import type { CamsClient } from '../../../shared/cams/client.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/dispatch.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { readActive, trackActive } from '../../../shared/onboarding/active.ts';
import { newOnboardingRecord, OnboardingRetryableError, runOnboarding } from '../../../shared/onboarding/onboard.ts';
import { onboardingIdFor } from '../../../shared/onboarding/payload.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import { redriveStalled } from '../../../shared/onboarding/redrive.ts';
import { MemoryStore } from '../../../shared/store/memory-store.ts';
import { onboardingDeps } from './support.ts';

/** CAMS that is down for good: every call fails transiently. */
const downCams = {
  bindWaba: async () => {
    throw new CamsError({ Code: 'ServiceUnavailable', Message: 'down', httpStatus: 503, retryable: true });
  },
} as unknown as CamsClient;

const payload = { WabaId: '3400000000001', Cc: '65', PhoneNumber: '94000001', VerifiedName: 'Acme Shop', IdempotencyKey: 'redrive-1' };
const id = onboardingIdFor('key:redrive-1');
const policy = { graceMs: 60_000, baseDelayMs: 60_000, maxDelayMs: 600_000, maxDrives: 3, reserveMs: 0 };

function setup() {
  const store = new MemoryStore();
  let t = Date.UTC(2026, 10, 30, 12);
  const deps = onboardingDeps({ store, cams: downCams, deadline: Date.UTC(2030, 0, 1), now: () => t });
  return { store, deps, advance: (ms: number) => (t += ms), now: () => t };
}

async function stalledAlerts(store: MemoryStore): Promise<EntityState[]> {
  return (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).filter((e) => e.subject.entityType === 'OnboardingFailed' && e.subject.ref === id);
}

describe('the re-drive timer', () => {
  it('restarts a stalled onboarding after the grace period, with backoff, up to the limit; then ends it failed with one alert', async () => {
    const { store, deps, advance, now } = setup();
    await expect(runOnboarding(deps, { payload })).rejects.toBeInstanceOf(OnboardingRetryableError);
    expect((await store.get<OnboardingRecord>(recordKey(id)))!.value).toMatchObject({ Status: 'running' });
    expect((await store.get<OnboardingRecord>(recordKey(id)))!.value.LeaseExpiresAt).toBeUndefined();
    expect(Object.keys(await readActive(store))).toEqual([id]);

    // Within the grace period its own delivery (FC's retries) owns it.
    expect(await redriveStalled(deps, policy)).toMatchObject({ active: 1, redriven: 0 });

    const drivesAt: number[] = [];
    for (let tick = 0; tick < 40 && (await readActive(store))[id]; tick++) {
      advance(30_000);
      const r = await redriveStalled(deps, policy);
      if (r.redriven) drivesAt.push(now());
    }
    // 3 re-drives, each waiting twice as long as the one before (one tick = 30 s).
    expect(drivesAt).toHaveLength(3);
    const gaps = drivesAt.slice(1).map((t, i) => t - drivesAt[i]!);
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    const rec = (await store.get<OnboardingRecord>(recordKey(id)))!.value;
    expect(rec).toMatchObject({ Status: 'failed', FailureReason: expect.stringContaining('OnboardingStalled'), Attempts: 4 });
    expect(rec.FailureReason).toContain('ServiceUnavailable');
    const alerts = await stalledAlerts(store);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.errors[0]).toMatchObject({ ErrorCode: 'OnboardingStalled' });
    expect(alerts[0]!.outbox.length).toBeLessThanOrEqual(1);

    // Nothing left to do; later ticks change nothing and raise nothing.
    advance(3_600_000);
    expect(await redriveStalled(deps, policy)).toMatchObject({ active: 0, redriven: 0, gaveUp: 0 });
    expect(await stalledAlerts(store)).toHaveLength(1);
  });

  it('re-drives in an invocation shorter than the 30 s reserve (a 20 s timeout); with no time left it starts none and logs why', async () => {
    const { deps, advance, now } = setup();
    await expect(runOnboarding(deps, { payload })).rejects.toBeInstanceOf(OnboardingRetryableError);
    advance(120_000);
    const lines: Array<Record<string, unknown>> = [];
    const short = { ...deps, deadline: now() + 20_000, log: (l: Record<string, unknown>) => lines.push(l) };
    expect(await redriveStalled(short, { ...policy, reserveMs: 30_000 })).toMatchObject({ active: 1, redriven: 1 });
    expect(lines.filter((l) => String(l['msg']).includes('stopped for the deadline'))).toEqual([]);
    // With no time left nothing starts, and the log says why.
    advance(240_000);
    expect(await redriveStalled({ ...short, deadline: now() - 1 }, { ...policy, reserveMs: 30_000 })).toMatchObject({ active: 1, redriven: 0 });
    expect(lines.filter((l) => String(l['msg']).includes('stopped for the deadline'))).toEqual([expect.objectContaining({ left: 1 })]);
  });

  it('leaves a record whose run still holds its lease, and drops finished or never-written entries', async () => {
    const { store, deps, advance, now } = setup();
    const base = { IdempotencyKey: 'k', Payload: payload, Steps: {}, Attempts: 1, Errors: [], CreatedAt: new Date(now()).toISOString(), UpdatedAt: new Date(now()).toISOString() };
    await trackActive(store, 'ob-live', now());
    await store.put(recordKey('ob-live'), { ...base, OnboardingId: 'ob-live', Status: 'running', LeaseExpiresAt: new Date(now() + 3_600_000).toISOString() });
    await trackActive(store, 'ob-done', now());
    await store.put(recordKey('ob-done'), { ...base, OnboardingId: 'ob-done', Status: 'done' });
    await trackActive(store, 'ob-ghost', now());
    advance(120_000);
    expect(await redriveStalled(deps, policy)).toMatchObject({ active: 3, redriven: 0 });
    expect(Object.keys(await readActive(store))).toEqual(['ob-live']);
    expect((await store.get<OnboardingRecord>(recordKey('ob-live')))!.value.Attempts).toBe(1);
  });

  it('keeps the entry of a record whose first write failed when its retry starts while the tick drops the entry: the record is still re-driven', async () => {
    const { store, deps, advance, now } = setup();
    // The first delivery indexed the onboarding, then the store went down before its record was written.
    await trackActive(store, id, now());
    advance(120_000);
    // FC's retry starts as the tick finds no record: it indexes the id (its first step) right after the
    // tick's read, and writes its record after the tick is done.
    const racing = Object.assign(Object.create(store) as MemoryStore, {
      get: async (key: string) => {
        const found = await store.get(key);
        if (key === recordKey(id) && !found) await trackActive(store, id, now());
        return found;
      },
    });
    await redriveStalled({ ...deps, store: racing }, policy);
    await store.put(recordKey(id), { ...newOnboardingRecord(payload, 'key:redrive-1', now()), Status: 'running' });
    // The retry's record must stay indexed, or no tick re-drives it should that run die too.
    expect(Object.keys(await readActive(store))).toEqual([id]);
  });
});
