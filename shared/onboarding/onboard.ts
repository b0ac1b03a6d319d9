import { createHash } from 'node:crypto';
import type { CamsClient } from '../cams/client.ts';
import { isCamsError } from '../cams/errors.ts';
import { observeMonitorSubject } from '../monitor/monitor-alert.ts';
import { registerWatchTarget, type WatchTarget } from '../monitor/targets.ts';
import { update, type Store } from '../store/port.ts';
import { idempotencyKeyFor, onboardingIdFor, OnboardingPayload } from './payload.ts';
import { recordKey, STEPS, type OnboardingError, type OnboardingRecord, type StepName, type StepResult } from './record.ts';

export interface OnboardingDeps {
  store: Store;
  cams: CamsClient;
  /** Epoch ms by which the invocation must be done (bounds the lease). */
  deadline: number;
  now?: () => number;
  log?: (record: Record<string, unknown>) => void;
  /** Called after each step is persisted (tests use it to crash at a precise point). */
  afterStep?: (step: StepName, record: OnboardingRecord) => void | Promise<void>;
}

export interface OnboardingRequest {
  payload: unknown;
  /** The CloudEvent's source and id, when the payload came in one. */
  event?: { source?: string; id?: string };
  /** Set when POST /onboardings created the record first. */
  onboardingId?: string;
  source?: string;
}

export type OnboardingOutcome =
  | { status: 'done' | 'failed'; record: OnboardingRecord; duplicate: boolean }
  | { status: 'invalid'; onboardingId: string; reason: string };

/**
 * A duplicate delivery while another one is running. It is thrown so that FC's async retry delivers
 * it again later, when the running one has finished (and the retry is answered from the record) or
 * has died (and the retry takes over from the last persisted step).
 */
export class OnboardingInProgressError extends Error {
  readonly retryable = true;
  constructor(readonly onboardingId: string) {
    super(`onboarding ${onboardingId} is in progress in another invocation`);
    this.name = 'OnboardingInProgressError';
  }
}

/** A transient failure (throttling, 5xx, network); rethrown so the delivery is retried. */
export class OnboardingRetryableError extends Error {
  readonly retryable = true;
  constructor(readonly onboardingId: string, readonly step: StepName, cause: unknown) {
    super(`onboarding ${onboardingId}: step ${step} failed transiently: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'OnboardingRetryableError';
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The record an accepted request starts with (POST /onboardings writes it before invoking). */
export function newOnboardingRecord(payload: OnboardingPayload, idempotencyKey: string, now: number, source?: string): OnboardingRecord {
  return {
    OnboardingId: onboardingIdFor(idempotencyKey),
    IdempotencyKey: idempotencyKey,
    Status: 'accepted',
    Payload: payload,
    Steps: {},
    Attempts: 0,
    Errors: [],
    ...(source ? { Source: source } : {}),
    CreatedAt: iso(now),
    UpdatedAt: iso(now),
  };
}

/**
 * Bind → add the number → query the WABA → check the phone's health → put it under watch. Progress is
 * persisted after every step under the idempotency key; a redelivery resumes where the last one
 * stopped, a finished onboarding is answered from its record without calling CAMS.
 */
export async function runOnboarding(deps: OnboardingDeps, req: OnboardingRequest): Promise<OnboardingOutcome> {
  const now = deps.now ?? Date.now;
  const log = deps.log ?? (() => {});
  const parsed = OnboardingPayload.safeParse(req.payload);
  if (!parsed.success) {
    const reason = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ');
    const onboardingId = req.onboardingId ?? onboardingIdFor(`invalid:${createHash('sha256').update(JSON.stringify(req.payload ?? null)).digest('hex')}`);
    await raiseFailureAlert(deps, { onboardingId, wabaId: undefined, phone: undefined }, 'InvalidParameter', reason);
    log({ level: 'warn', msg: 'onboarding payload rejected', onboardingId, reason });
    return { status: 'invalid', onboardingId, reason };
  }
  const payload = parsed.data;
  const key = idempotencyKeyFor(payload, req.event);
  const onboardingId = req.onboardingId ?? onboardingIdFor(key);
  const storeKey = recordKey(onboardingId);

  const existing = await deps.store.get<OnboardingRecord>(storeKey);
  if (existing && (existing.value.Status === 'done' || existing.value.Status === 'failed')) {
    return { status: existing.value.Status, record: existing.value, duplicate: true };
  }

  const lease = await deps.store.acquireLease(storeKey, Math.max(1000, deps.deadline - now() + 5000));
  if (!lease) throw new OnboardingInProgressError(onboardingId);
  try {
    let record = (
      await update<OnboardingRecord>(deps.store, storeKey, (cur) => {
        const base = cur ?? newOnboardingRecord(payload, key, now(), req.source);
        if (base.Status === 'done' || base.Status === 'failed') return undefined;
        return { ...base, Status: 'running', Attempts: base.Attempts + 1, UpdatedAt: iso(now()) };
      })
    )!.value;
    if (record.Status === 'done' || record.Status === 'failed') return { status: record.Status, record, duplicate: true };

    const save = async (patch: Partial<OnboardingRecord>): Promise<OnboardingRecord> => {
      record = { ...record, ...patch, UpdatedAt: iso(now()) };
      await deps.store.put(storeKey, record);
      return record;
    };

    for (const step of STEPS) {
      if (record.Steps[step]) continue;
      try {
        const result = await runStep(step, record, deps, save);
        await save({ Steps: { ...record.Steps, [step]: { at: iso(now()), ...result.step } }, ...result.patch, StepInFlight: undefined });
        log({ level: 'info', msg: 'onboarding step done', onboardingId, step });
        await deps.afterStep?.(step, record);
      } catch (e) {
        const permanent = isPermanent(e);
        const code = isCamsError(e) ? e.Code : e instanceof Error ? e.name : 'Error';
        const message = isCamsError(e) ? e.Message : e instanceof Error ? e.message : String(e);
        const error: OnboardingError = { at: iso(now()), step, Code: code, Message: message, permanent };
        if (!permanent) {
          await save({ Errors: [...record.Errors, error] });
          throw new OnboardingRetryableError(onboardingId, step, e);
        }
        await save({ Status: 'failed', Errors: [...record.Errors, error], FailureReason: `${step}: ${code}: ${message}` });
        await raiseFailureAlert(deps, { onboardingId, wabaId: payload.WabaId, phone: `${payload.Cc}${payload.PhoneNumber}` }, code, `${step}: ${message}`);
        log({ level: 'warn', msg: 'onboarding failed permanently', onboardingId, step, code });
        return { status: 'failed', record, duplicate: false };
      }
    }
    await save({ Status: 'done' });
    return { status: 'done', record, duplicate: false };
  } finally {
    await lease.release().catch(() => undefined);
  }
}

interface StepOutcome {
  step?: Omit<StepResult, 'at'>;
  patch?: Partial<OnboardingRecord>;
}

async function runStep(
  step: StepName,
  record: OnboardingRecord,
  deps: OnboardingDeps,
  save: (patch: Partial<OnboardingRecord>) => Promise<OnboardingRecord>,
): Promise<StepOutcome> {
  const p = record.Payload;
  const space = record.CustSpaceId;
  switch (step) {
    case 'bind': {
      const { data, requestId } = await deps.cams.bindWaba({ WabaId: p.WabaId });
      return { step: { CustSpaceId: data.CustSpaceId, CamsRequestId: requestId }, patch: { CustSpaceId: data.CustSpaceId } };
    }
    case 'addPhone': {
      // Mark the call as sent first: if we die before recording its result, the redelivery knows
      // that "already exists" is our own earlier call, not someone else's number.
      const resent = record.StepInFlight === 'addPhone';
      if (!resent) await save({ StepInFlight: 'addPhone' });
      try {
        const { requestId } = await deps.cams.addPhoneNumber({ CustSpaceId: space!, Cc: p.Cc, PhoneNumber: p.PhoneNumber, VerifiedName: p.VerifiedName });
        return { step: { CamsRequestId: requestId } };
      } catch (e) {
        if (resent && isCamsError(e) && e.Code === 'Phone.Exists') return { step: { AlreadyAdded: true } };
        throw e;
      }
    }
    case 'query': {
      const { data, requestId } = await deps.cams.queryBindWaba({ CustSpaceId: space!, ...(p.IsvCode ? { IsvCode: p.IsvCode } : {}) });
      return {
        step: { AccountReviewStatus: data.AccountReviewStatus, CamsRequestId: requestId },
        ...(data.AccountReviewStatus ? { patch: { AccountReviewStatus: data.AccountReviewStatus } } : {}),
      };
    }
    case 'health': {
      const { data, requestId } = await deps.cams.getHealthStatus({ CustSpaceId: space!, NodeType: 'phone', PhoneNumber: `${p.Cc}${p.PhoneNumber}` });
      return { step: { CanSendMessage: data.CanSendMessage, CamsRequestId: requestId }, patch: { CanSendMessage: data.CanSendMessage } };
    }
    case 'watch': {
      const targets: WatchTarget[] = [
        { CustSpaceId: space!, NodeType: 'waba', WabaId: p.WabaId },
        { CustSpaceId: space!, NodeType: 'phone', PhoneNumber: `${p.Cc}${p.PhoneNumber}` },
        ...(p.Templates ?? []).map((t): WatchTarget => ({ CustSpaceId: space!, NodeType: 'template', TemplateCode: t.TemplateCode, Language: t.Language })),
      ];
      const ids: string[] = [];
      for (const t of targets) ids.push(await registerWatchTarget(deps.store, t, `onboarding:${record.OnboardingId}`));
      return { step: { Targets: ids.length }, patch: { WatchTargets: ids } };
    }
  }
}

/** Business errors, permissions and ownership will fail the same way again: no retry. */
function isPermanent(e: unknown): boolean {
  if (isCamsError(e)) return !e.retryable && e.Code !== 'DeadlineExceeded';
  return false;
}

/**
 * Records the failure as a monitor alert, owed to every sink the health monitor has: onboarding
 * knows no sinks and sends nothing; the monitor's next sweep delivers it, under its delivery lease.
 */
async function raiseFailureAlert(deps: OnboardingDeps, about: { onboardingId: string; wabaId: string | undefined; phone: string | undefined }, code: string, message: string): Promise<void> {
  const now = (deps.now ?? Date.now)();
  await observeMonitorSubject(
    deps.store,
    { nodeType: 'monitor', entityType: 'OnboardingFailed', ref: about.onboardingId, ...(about.wabaId ? { wabaId: about.wabaId } : {}), ...(about.phone ? { phoneNumber: about.phone } : {}) },
    'ERROR',
    [{ ErrorCode: code, ErrorDescription: message, PossibleSolution: `Fix the cause, then submit the onboarding again with a new IdempotencyKey (GET /onboardings/${about.onboardingId} shows the record).` }],
    { now, round: `onboarding-${about.onboardingId}`, policy: { minConsecutive: 1, repeatIntervalMs: Number.MAX_SAFE_INTEGER } },
  );
}
