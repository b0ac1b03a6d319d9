import type { AlertSubject } from '../alerts/model.ts';
import type { CamsClient } from '../cams/client.ts';
import { CamsError, INVALID_RESPONSE, isCamsError, isExpiredToken, isThrottlingCode, mayHaveBeenApplied } from '../cams/errors.ts';
import { earlierAttemptMayHaveApplied, whoseExistingNumber } from '../cams/phone-exists.ts';
import { observeMonitorSubject } from '../monitor/monitor-alert.ts';
import { registerPinnedTarget, REMOVED_PREFIX, targetId, type WatchTarget } from '../monitor/targets.ts';
import { update, type Store } from '../store/port.ts';
import type { Issue } from '../validation/schema.ts';
import { CustSpaceId } from '../validation/cams-fields.ts';
import { trackActive, untrackActive } from './active.ts';
import { idempotencyKeyFor, ONBOARDING_ID, onboardingIdFor, OnboardingPayload, samePayload } from './payload.ts';
import { recordKey, STEPS, type OnboardingError, type OnboardingRecord, type StepName, type StepResult } from './record.ts';

export interface OnboardingDeps {
  store: Store;
  cams: CamsClient;
  /** Epoch ms by which the invocation must be done (bounds the lease). */
  deadline: number;
  now?: () => number;
  log?: (record: Record<string, unknown>) => void;
  /** Called after a step's CAMS call, before its result is persisted (tests crash here). */
  afterCall?: (step: StepName, record: OnboardingRecord) => void | Promise<void>;
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
  /** A queue message's id (data.messageId, else the event's id): for the log, so a bad one in a batch can be found. */
  messageId?: string;
  /** What is wrong with the payload's text that its parsed value no longer shows (a key given twice). */
  problems?: FieldProblem[];
}

export interface FieldProblem {
  Field: string;
  Message: string;
}

export type OnboardingOutcome =
  | { status: 'done' | 'failed'; record: OnboardingRecord; duplicate: boolean }
  /** A payload that is not an onboarding: no record, no id (nothing for GET /onboardings/{id} to show). */
  | { status: 'invalid'; reason: string; fields: FieldProblem[] }
  /** The key is already used by another payload; the first record is left untouched. */
  | { status: 'refused'; code: 'IdempotencyKeyMismatch'; onboardingId: string; reason: string };

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
  if (req.onboardingId !== undefined && !ONBOARDING_ID.test(req.onboardingId)) {
    // A hand-made invocation: such an id names no record of ours, and one too long for a store key
    // would fail every FC retry and every re-drive tick after it was indexed.
    const fields = [{ Field: 'OnboardingId', Message: 'must be an OnboardingId as returned by POST /onboardings (ob- and 24 hex digits)' }];
    const reason = `OnboardingId: ${fields[0]!.Message}`;
    log({ level: 'warn', msg: 'onboarding event rejected', reason, fields, source: req.source, ...(req.messageId ? { messageId: req.messageId } : {}) });
    return { status: 'invalid', reason, fields };
  }
  const parsed = req.problems ? undefined : OnboardingPayload.safeParse(req.payload);
  if (!parsed?.success) {
    const fields = parsed ? payloadProblems(parsed.error.issues) : req.problems!;
    const reason = fields.map((f) => `${f.Field}: ${f.Message}`).join('; ');
    // POST /onboardings validates before it creates a record, so this is only reached with an id
    // through a hand-made invocation; that record ends failed rather than waiting for ever.
    if (req.onboardingId) await endFailed(deps, req.onboardingId, 'validate', 'InvalidParameter', reason);
    log({ level: 'warn', msg: 'onboarding event rejected', reason, fields, source: req.source, event: req.event, ...(req.messageId ? { messageId: req.messageId } : {}) });
    return { status: 'invalid', reason, fields };
  }
  const payload = parsed.data;
  const key = idempotencyKeyFor(payload, req.event);
  const onboardingId = req.onboardingId ?? onboardingIdFor(key);
  const storeKey = recordKey(onboardingId);

  const existing = await deps.store.get<OnboardingRecord>(storeKey);
  if (existing && !samePayload(existing.value.Payload, payload)) return refuse(deps, existing.value, key);
  if (existing && (existing.value.Status === 'done' || existing.value.Status === 'failed')) {
    return { status: existing.value.Status, record: existing.value, duplicate: true };
  }
  // Indexed before the record exists, so the re-drive timer sees every unfinished onboarding.
  if (!existing) await trackActive(deps.store, onboardingId, now());
  // A run that read no record, then stalled (a loaded machine) while another ran this onboarding to its
  // end, indexed it after that run took it out: a finished record's entry is taken out here again.
  const finishedMeanwhile = async (rec: OnboardingRecord): Promise<boolean> => {
    if (rec.Status !== 'done' && rec.Status !== 'failed') return false;
    if (existing) return true;
    // The entry is what makes the re-drive record a failed run's alert its run died before writing:
    // recorded here first (a no-op when it was), and should that fail the entry stays.
    if (rec.Status === 'failed') await raiseRecordedFailureAlert(deps, rec);
    await untrackActive(deps.store, onboardingId).catch(() => undefined);
    return true;
  };

  const lease = await deps.store.acquireLease(storeKey, Math.max(1000, deps.deadline - now() + 5000));
  if (!lease) {
    // The holder may be past its own index removal, releasing: then the record is finished already.
    const current = existing ? undefined : (await deps.store.get<OnboardingRecord>(storeKey))?.value;
    if (current && (await finishedMeanwhile(current))) {
      return samePayload(current.Payload, payload) ? { status: current.Status as 'done' | 'failed', record: current, duplicate: true } : refuse(deps, current, key);
    }
    throw new OnboardingInProgressError(onboardingId);
  }
  let record: OnboardingRecord | undefined;
  try {
    let mismatch: OnboardingRecord | undefined;
    record = (
      await update<OnboardingRecord>(deps.store, storeKey, (cur) => {
        if (cur && !samePayload(cur.Payload, payload)) {
          mismatch = cur;
          return undefined;
        }
        const base = cur ?? newOnboardingRecord(payload, key, now(), req.source);
        if (base.Status === 'done' || base.Status === 'failed') return undefined;
        return { ...base, OnboardingId: onboardingId, Status: 'running', Attempts: base.Attempts + 1, LeaseExpiresAt: iso(lease.expiresAt), UpdatedAt: iso(now()) };
      })
    )!.value;
    if (mismatch) {
      await finishedMeanwhile(mismatch);
      return refuse(deps, mismatch, key);
    }
    if (await finishedMeanwhile(record)) return { status: record.Status as 'done' | 'failed', record, duplicate: true };

    // The record in hand is what the store holds: a write that failed (the in-flight mark of a call
    // that then never went out) is not carried into the next save.
    const save = async (patch: Partial<OnboardingRecord>): Promise<OnboardingRecord> => {
      const next = { ...record!, ...patch, UpdatedAt: iso(now()) };
      await deps.store.put(storeKey, next);
      return (record = next);
    };

    for (const step of STEPS) {
      if (record.Steps[step]) continue;
      // In flight before this run: an earlier call may have been applied, whatever this one meets.
      const inherited = record.StepInFlight === step;
      try {
        const result = await runStep(step, record, deps, save);
        await deps.afterCall?.(step, record);
        await save({ Steps: { ...record.Steps, [step]: { at: iso(now()), ...result.step } }, ...result.patch, StepInFlight: undefined });
        log({ level: 'info', msg: 'onboarding step done', onboardingId, step });
        await deps.afterStep?.(step, record);
      } catch (e) {
        const permanent = isPermanent(e) && !unreadableReply(e);
        const code = isCamsError(e) ? e.Code : e instanceof Error ? e.name : 'Error';
        const message = isCamsError(e) ? e.Message : e instanceof Error ? e.message : String(e);
        const error: OnboardingError = { at: iso(now()), step, Code: code, Message: message, permanent };
        if (!permanent) {
          // The lease goes in `finally`: say so in the record, so a re-POST may restart it at once.
          // A call that certainly did not reach CAMS's operation is not in flight: left marked, the
          // retry would take someone else's Phone.Exists for our own add.
          const notSent = record.StepInFlight === step && !inherited && certainlyNotApplied(e);
          await save({ Errors: [...record.Errors, error], LeaseExpiresAt: undefined, ...(notSent ? { StepInFlight: undefined } : {}) });
          throw new OnboardingRetryableError(onboardingId, step, e);
        }
        // CAMS answered (permanently): nothing is in flight any more.
        await save({ Status: 'failed', Errors: [...record.Errors, error], FailureReason: `${step}: ${code}: ${message}`, LeaseExpiresAt: undefined, StepInFlight: undefined });
        // The alert before the index entry goes: should it not be written (a crash, a store error),
        // the entry stays and the re-drive timer records it from the failed record.
        await raiseRecordedFailureAlert(deps, record);
        await untrackActive(deps.store, onboardingId).catch(() => undefined);
        log({ level: 'warn', msg: 'onboarding failed permanently', onboardingId, step, code });
        return { status: 'failed', record, duplicate: false };
      }
    }
    // Before `done`: a retry (after a store error here) runs it again, where a done record would not.
    await resolveEarlierFailures(deps, record);
    await save({ Status: 'done', LeaseExpiresAt: undefined });
    // Best effort: a finished record left in the index is dropped by the next re-drive.
    await untrackActive(deps.store, onboardingId).catch(() => undefined);
    return { status: 'done', record, duplicate: false };
  } finally {
    await lease.release().catch(() => undefined);
  }
}

/**
 * The payload's problems, field by field. An unknown key is named with its full path, as POST
 * /onboardings names it (the object's own message says only what it expects, not which key is wrong).
 */
function payloadProblems(issues: readonly Issue[]): FieldProblem[] {
  return issues.flatMap((i) => {
    const at = i.path.map(String);
    if (i.code === 'unrecognized_keys') return (i.keys ?? []).map((key) => ({ Field: [...at, key].join('.'), Message: at.length ? 'is not a field here' : 'is not a field of an onboarding' }));
    return [{ Field: at.join('.') || '(payload)', Message: i.message }];
  });
}

/** The same key with another payload: refused, logged, and the first record left as it is. */
function refuse(deps: OnboardingDeps, first: OnboardingRecord, key: string): OnboardingOutcome {
  const reason = `${describeKey(key)} is already used by onboarding ${first.OnboardingId} with another payload`;
  deps.log?.({ level: 'warn', msg: 'onboarding refused', code: 'IdempotencyKeyMismatch', onboardingId: first.OnboardingId, reason });
  return { status: 'refused', code: 'IdempotencyKeyMismatch', onboardingId: first.OnboardingId, reason };
}

/** The key as a caller knows it (the IdempotencyKey, or the event's source and id). */
export function describeKey(key: string): string {
  if (key.startsWith('key:')) return `IdempotencyKey ${JSON.stringify(key.slice(4))}`;
  if (key.startsWith('event:')) return `event ${JSON.stringify(key.slice(6))}`;
  return 'the payload';
}

/**
 * Ends an unfinished record as failed (a stall past the re-drive limit, an invalid hand-made
 * invocation) with one failure alert. Only the caller that makes the transition raises the alert;
 * undefined when a run holds the record (it is not stalled after all).
 */
export async function endFailed(deps: OnboardingDeps, onboardingId: string, step: StepName | 'validate' | 'redrive', code: string, message: string): Promise<OnboardingRecord | undefined> {
  const now = deps.now ?? Date.now;
  // Under the record's lease, so a run that has just started is not ended under its feet.
  const lease = await deps.store.acquireLease(recordKey(onboardingId), 30_000);
  if (!lease) return undefined;
  let ended = false;
  let after;
  try {
    after = await update<OnboardingRecord>(deps.store, recordKey(onboardingId), (cur) => {
      if (!cur || cur.Status === 'done' || cur.Status === 'failed') return undefined;
      ended = true;
      const error: OnboardingError = { at: iso(now()), step, Code: code, Message: message, permanent: true };
      return { ...cur, Status: 'failed', Errors: [...cur.Errors, error], FailureReason: `${step}: ${code}: ${message}`, LeaseExpiresAt: undefined, UpdatedAt: iso(now()) };
    });
  } finally {
    await lease.release().catch(() => undefined);
  }
  // The alert before the index entry goes (see runOnboarding): a lost one is recorded by the next tick.
  if (ended && after) await raiseRecordedFailureAlert(deps, after.value);
  await untrackActive(deps.store, onboardingId);
  return after?.value;
}

/**
 * Records the alert of a failed record, from its last (permanent) error. Recording it again is a
 * no-op (the same subject, firing with the same code), so the re-drive timer calls it for every failed
 * record still in the index: one whose alert was not written before its run died. One resolved since
 * (a later onboarding of the number ended done) is left so: recorded again it would fire anew.
 */
export async function raiseRecordedFailureAlert(deps: OnboardingDeps, record: OnboardingRecord): Promise<void> {
  const e = record.Errors.at(-1);
  const p = record.Payload;
  const about = { onboardingId: record.OnboardingId, wabaId: p.WabaId, phone: `${p.Cc}${p.PhoneNumber}` };
  const [code, message] = e ? [e.Code, `${e.step}: ${e.Message}`] : ['OnboardingFailed', record.FailureReason ?? 'failed'];
  await raiseFailureAlert(deps, about, code, message);
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
      // Binding the same WABA again from the same account answers the same space: a bind whose
      // answer was lost (timeout, crash before the save) is resolved by binding again, which reads it back.
      const resent = record.StepInFlight === 'bind';
      if (!resent) await save({ StepInFlight: 'bind' });
      const { data, requestId } = await deps.cams.bindWaba({ WabaId: p.WabaId });
      // Checked here, once: the watch list, GET /health-status and the store's keys take no other
      // space id, and the watch step refused it on every re-drive until the onboarding stalled.
      const bad = CustSpaceId().safeParse(data.CustSpaceId);
      if (!bad.success) {
        throw new CamsError({
          Code: 'UnsupportedCustSpaceId',
          Message: `ChatappBindWaba answered CustSpaceId ${JSON.stringify(data.CustSpaceId.slice(0, 80))}, which is not 1-64 letters, digits, _ or -: the watch list cannot take this space`,
          RequestId: requestId,
          httpStatus: 200,
          retryable: false,
          action: 'ChatappBindWaba',
        });
      }
      return { step: { CustSpaceId: data.CustSpaceId, CamsRequestId: requestId, ...(resent ? { Repeated: true } : {}) }, patch: { CustSpaceId: data.CustSpaceId } };
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
        if (!isCamsError(e) || e.Code !== 'Phone.Exists') throw e;
        // Whose number it is, the space's own list says: a number in it is ours (our attempt that
        // went unanswered or was answered 5xx, in this call or an earlier delivery, or an earlier
        // onboarding that then failed at a later step and was submitted again, as its alert advises);
        // one not in it is someone else's, whatever our earlier attempts were.
        const maybeApplied = resent || earlierAttemptMayHaveApplied(e);
        // Nothing of ours may have been applied: CAMS answered this add, and it applied nothing.
        if (!maybeApplied) await save({ StepInFlight: undefined });
        const owner = await whoseExistingNumber(deps.cams, { CustSpaceId: space!, Cc: p.Cc, PhoneNumber: p.PhoneNumber, ...(p.IsvCode ? { IsvCode: p.IsvCode } : {}) }, maybeApplied, deps.log);
        if (owner.ours) return { step: { AlreadyAdded: true, ...(owner.InSpace ? { InSpace: true } : {}), ...(e.RequestId ? { CamsRequestId: e.RequestId } : {}) } };
        // CAMS's list may not show an add it has just applied: after an attempt of ours that may have
        // been, the next deliveries list again (the add stays in flight) for LIST_LAG_MS from the first
        // time it was missing, then the number is someone else's.
        const firstMissing = record.Errors.find((x) => x.step === 'addPhone' && x.Code === 'Phone.Exists' && !x.permanent);
        const now = (deps.now ?? Date.now)();
        if (maybeApplied && (!firstMissing || now - Date.parse(firstMissing.at) < LIST_LAG_MS)) throw notListedYet(e);
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
        // With their WabaId, as discovery adds them: their alerts carry it (a WabaId silence holds them).
        { CustSpaceId: space!, NodeType: 'phone', WabaId: p.WabaId, PhoneNumber: `${p.Cc}${p.PhoneNumber}` },
        ...(p.Templates ?? []).map((t): WatchTarget => ({ CustSpaceId: space!, NodeType: 'template', WabaId: p.WabaId, TemplateCode: t.TemplateCode, Language: t.Language })),
      ];
      // Once each: a template named twice in the payload is one watch entry, counted once.
      const unique = new Map(targets.map((t) => [targetId(t), t]));
      const ids: string[] = [];
      for (const t of unique.values()) {
        // Pinned: a number a Discover entry had found stays watched when that entry is deleted.
        const id = await registerPinnedTarget(deps.store, t, `onboarding:${record.OnboardingId}`);
        // Onboarded again after being taken off the watch list: receipts may keep it watched again.
        await deps.store.delete(REMOVED_PREFIX + id);
        ids.push(id);
      }
      return { step: { Targets: ids.length }, patch: { WatchTargets: ids } };
    }
  }
}

/**
 * How long after it was first missing from the space's list a number CAMS says exists is listed again,
 * when an attempt of ours may have added it: the list may lag the add.
 */
export const LIST_LAG_MS = 5 * 60_000;

/** Phone.Exists for a number not (yet) in the space's list after an attempt of ours that may have been applied: transient. */
function notListedYet(e: CamsError): CamsError {
  return new CamsError({
    Code: e.Code,
    Message: `${e.Message} (not in the space's list; an attempt of ours may have added it, so it is listed again later)`,
    RequestId: e.RequestId,
    httpStatus: e.httpStatus,
    retryable: true,
    action: e.action,
  });
}

/**
 * A failed call that CAMS's operation certainly never saw: refused by our budget or CAMS's flow
 * control, its signature refused for an expired STS token, not sent (connection refused), or no
 * attempt at all (deadline), and no earlier attempt of it
 * went out unanswered or was answered 5xx (a 5xx, then a throttle): whether CAMS applied the write before
 * a 5xx is not known.
 */
function certainlyNotApplied(e: unknown): boolean {
  if (!isCamsError(e) || e.afterAmbiguousAttempt || e.afterServerError) return false;
  // The listing that tells whose an existing number is: its failure says nothing of the add.
  if (e.action === 'QueryChatappPhoneNumbers') return false;
  return isThrottlingCode(e.Code) || isExpiredToken(e.Code) || (e.httpStatus === 0 && !mayHaveBeenApplied(e));
}

/**
 * A step's call answered 2xx with a body we could not read (a front's page, a cut-off body): a lost
 * answer, transient. A write may have been applied, as after a 5xx: its step stays in flight, and the
 * next delivery binds again (which reads the space back) or adds again (where Phone.Exists is our own
 * add). A read is safe to repeat: the next delivery reads again.
 */
function unreadableReply(e: unknown): boolean {
  return isCamsError(e) && e.Code === INVALID_RESPONSE && e.httpStatus >= 200 && e.httpStatus < 300;
}

/**
 * Business errors, permissions and ownership will fail the same way again: no retry. (An expired STS
 * token is retryable: the redelivery's invocation carries fresh credentials.)
 */
function isPermanent(e: unknown): boolean {
  if (isCamsError(e)) return !e.retryable && e.Code !== 'DeadlineExceeded';
  return false;
}

/**
 * Records the failure as a monitor alert, owed to every sink the health monitor has: onboarding
 * knows no sinks and sends nothing; the monitor's next sweep delivers it, under its delivery lease.
 */
async function raiseFailureAlert(deps: OnboardingDeps, about: FailureAbout, code: string, message: string): Promise<void> {
  const now = (deps.now ?? Date.now)();
  // The number's failure is indexed before its alert: a done onboarding of the number listing the
  // index in between finds it, and resolves the alert (or leaves one not yet written resolved).
  const indexed = about.wabaId && about.phone ? `${FAILED_BY_NUMBER_PREFIX}${about.wabaId}/${about.phone}/${about.onboardingId}` : undefined;
  if (indexed) await deps.store.put(indexed, 1);
  // Resolved since (read apart from the write, a resolution in between was written over): left so.
  const state = await observeMonitorSubject(
    deps.store,
    failureSubject(about),
    'ERROR',
    [{ ErrorCode: code, ErrorDescription: message, PossibleSolution: `Fix the cause, then submit the onboarding again with a new IdempotencyKey (GET /onboardings/${about.onboardingId} shows the record).` }],
    { now, round: `onboarding-${about.onboardingId}`, policy: FAILURE_POLICY, unlessResolved: true },
  );
  // Left resolved: nothing for a later onboarding of the number to resolve.
  if (!state?.firing && indexed) await deps.store.delete(indexed);
}

/**
 * The number onboarded at last: the alerts of its earlier onboardings that failed (submitted again,
 * as those alerts advise) are resolved, rather than left open on the status page for ever.
 */
async function resolveEarlierFailures(deps: OnboardingDeps, record: OnboardingRecord): Promise<void> {
  const p = record.Payload;
  const about = { wabaId: p.WabaId, phone: `${p.Cc}${p.PhoneNumber}` };
  const prefix = `${FAILED_BY_NUMBER_PREFIX}${about.wabaId}/${about.phone}/`;
  for (const m of await deps.store.list(prefix)) {
    const onboardingId = m.key.slice(prefix.length);
    const now = (deps.now ?? Date.now)();
    await observeMonitorSubject(deps.store, failureSubject({ ...about, onboardingId }), 'AVAILABLE', [], { now, round: `onboarding-${record.OnboardingId}`, policy: FAILURE_POLICY });
    await deps.store.delete(m.key);
  }
}

interface FailureAbout {
  onboardingId: string;
  wabaId: string | undefined;
  phone: string | undefined;
}

/** Failed onboardings by number (`<WabaId>/<phone>/<OnboardingId>`), for resolveEarlierFailures. */
const FAILED_BY_NUMBER_PREFIX = 'onboarding-index/failed/';
/** Told once, never reminded: the record says the rest. */
const FAILURE_POLICY = { minConsecutive: 1, repeatIntervalMs: Number.MAX_SAFE_INTEGER };

function failureSubject(about: FailureAbout): AlertSubject {
  return { nodeType: 'monitor', entityType: 'OnboardingFailed', ref: about.onboardingId, ...(about.wabaId ? { wabaId: about.wabaId } : {}), ...(about.phone ? { phoneNumber: about.phone } : {}) };
}
