import type { AlertSubject } from '../alerts/model.ts';
import type { CamsClient } from '../cams/client.ts';
import type { CanSendMessage, HealthEntity, HealthError } from '../cams/operations.ts';
import { markRecords } from '../history/history.ts';
import { recordHistory } from '../history/record.ts';
import { update, type Store, type Versioned } from '../store/port.ts';
import { fingerprintOf, UNOBSERVED_TYPES, type EntityState, type ObservedStatus } from './entity-state.ts';
import { entityKey, updateEntity } from './entity-store.ts';
import { CHILD_TYPES, holdsChildren, releaseHeld } from './inhibition.ts';
import { withNewerRating } from './quality.ts';
import { evaluate, remindUnobserved, type AlertPolicy, type Observation } from './rules.ts';
import { recordTarget, TARGET_INFO_PREFIX, type TargetInfo } from './target-info.ts';
import { targetId, type WatchTarget } from './targets.ts';
import { knownWabaOf, writeWabaSpace } from './waba-space.ts';

/** What the sweep and the receipts both need to check one node and record what it says. */
export interface CheckContext {
  store: Store;
  policy: AlertPolicy;
  sinks: readonly string[];
  /** Clock for alert decisions. */
  now: () => number;
  deadline: number;
  /** Record node history (default true); the bench turns it off to measure what it costs. */
  history?: boolean;
  /**
   * The sweep's: its check also marks the target checked in this round (the round's progress is
   * these marks). Receipts' checks leave the round alone.
   */
  round?: boolean;
  /** The sweep's per-process write coordination (absent: every observation is written as it comes). */
  writes?: EntityWrites;
  /** Told when a write added a delivery to an entity's outbox (the sweep then schedules a flush). */
  onOwed?: () => void;
  /** The sweep's: told when a round check began its target's record (sweep.ts unplannedIfGone). */
  onRecordBegun?: (target: WatchTarget) => Promise<void>;
}

const firesUnobserved = (s: EntityState | undefined): boolean => !!s?.firing && UNOBSERVED_TYPES.has(s.subject.entityType);

/**
 * One GetWhatsappHealthStatus of one watched node, through the monitor's rules. The sweep and the
 * push receipts both call this: there is one alert logic. CAMS failures are thrown (CamsError) for
 * the caller to classify.
 */
export async function checkTarget(
  cams: CamsClient,
  target: WatchTarget,
  round: string,
  ctx: CheckContext,
): Promise<HealthEntity[]> {
  // The call's place in the account's CAMS budget is the client's priority: the sweep's client is
  // 'sweep', cams-events' is 'background' (shared/services/*).
  const { data } = await cams.getHealthStatus(target, { deadline: ctx.deadline });
  const reach = await observeReply(target, data.Entities, ctx.now(), round, ctx);
  // A space's own WABA (no WabaId) as CAMS named it, at once, not at the round's entity scan: the
  // watch list takes it as the same node as an entry naming it, and another WabaId as a wrong one.
  const named = target.NodeType === 'waba' && target.WabaId === undefined ? data.Entities.find((e) => e.EntityType === 'WABA')?.WabaId : undefined;
  if (named && (await knownWabaOf(ctx.store, target.CustSpaceId)) !== named) await writeWabaSpace(ctx.store, named, target.CustSpaceId);
  const noted = await recordTarget(ctx.store, target, { ...(ctx.round ? { round } : {}), lastCheckedAt: ctx.now(), status: worst(data.Entities), reach }, { observed: true });
  if (noted.begun) await ctx.onRecordBegun?.(target);
  // A number's quality and a template's or WABA's review are in no reply: the check is what reminds
  // of them, or a firing one would never be reminded between receipts (or discovery's listings).
  if (noted.info) await remindFiringUnobserved(target, new Set(reach), noted.info, ctx);
  return data.Entities;
}

/**
 * Reminds of each firing entity the target's record marks (firingUnobserved) once the repeat interval
 * is up (rules.ts remindUnobserved): one read each, none without a mark. A mark whose entity no
 * longer fires is dropped. `info` is the record as this check read or wrote it: every entity read
 * here comes after it, so a mark applyUnobserved renewed since (after its entity write) fails the
 * compare-and-set that drops, and the drop is decided again from a fresh read.
 */
async function remindFiringUnobserved(target: WatchTarget, said: ReadonlySet<string>, info: Versioned<TargetInfo>, ctx: CheckContext): Promise<void> {
  const marked = info.value.firingUnobserved;
  const candidates = marked ?? unobservedReach(info.value, said);
  if (candidates.length === 0 && marked) return;
  const firing: string[] = [];
  for (const fp of candidates) if (await remindEntity(fp, ctx)) firing.push(fp);
  if (marked && firing.length === candidates.length) return;
  const key = TARGET_INFO_PREFIX + targetId(target);
  if (await ctx.store.put(key, { ...info.value, firingUnobserved: firing }, { ifVersion: info.version })) return;
  await update<TargetInfo>(ctx.store, key, async (cur) => {
    if (!cur) return undefined;
    const again = cur.firingUnobserved ?? unobservedReach(cur, said);
    const keep: string[] = [];
    for (const fp of again) if (firesUnobserved((await ctx.store.get<EntityState>(entityKey(fp)))?.value)) keep.push(fp);
    return cur.firingUnobserved && keep.length === again.length ? undefined : { ...cur, firingUnobserved: keep };
  });
}

const unobservedReach = (info: TargetInfo, said: ReadonlySet<string>): string[] => (info.reach ?? []).filter((fp) => !said.has(fp));

/** One firing unobserved entity: reminded when due. True when it fires (the mark stays). */
async function remindEntity(fp: string, ctx: CheckContext): Promise<boolean> {
  let fires = false;
  const write = async () => {
    let owes = false;
    await updateEntity(ctx.store, fp, (prev) => {
      owes = false;
      fires = firesUnobserved(prev);
      if (!fires) return undefined;
      const next = remindUnobserved(prev!, { now: ctx.now(), policy: ctx.policy, sinks: ctx.sinks });
      owes = !!next && next.outbox.length > prev!.outbox.length;
      return next;
    });
    if (owes) ctx.onOwed?.();
  };
  await (ctx.writes ? ctx.writes.queue(fp, write) : write());
  return fires;
}

/**
 * A receipt's or discovery's observation of an entity no check observes (a number's quality, a
 * template's or WABA's review) on `target`'s behalf, `patch` recorded with it. The order of writes keeps the
 * record's mark (firingUnobserved) on every firing one: the record names the entity (reach, and the
 * mark when the observation may fire) before the entity is written, so a crash between leaves at
 * worst a stale mark (one read at the next check, which drops it); after a write that leaves it firing
 * the record is written again, changed or not, so a check that read the entity before this write and
 * would drop the mark loses its compare-and-set and reads again.
 */
export async function applyUnobserved(
  target: WatchTarget,
  obs: Observation,
  round: string,
  ctx: Pick<CheckContext, 'store' | 'policy' | 'sinks' | 'now' | 'history' | 'writes' | 'onOwed'>,
  patch: TargetInfo = {},
): Promise<EntityState | undefined> {
  const fp = fingerprintOf(obs.subject);
  await recordTarget(ctx.store, target, { ...patch, reach: [fp] }, obs.status === 'AVAILABLE' ? {} : { mark: fp });
  const state = await applyObservation(obs, round, false, ctx);
  if (firesUnobserved(state)) await recordTarget(ctx.store, target, {}, { mark: fp, force: true });
  return state;
}

/**
 * Turns one reply (come at `repliedAt`, alert clock) into observations: one per entity, WABA-level
 * ones shared by every target. Returns the entities' fingerprints.
 */
async function observeReply(target: WatchTarget, entities: HealthEntity[], repliedAt: number, round: string, ctx: CheckContext): Promise<string[]> {
  const reach: string[] = [];
  // A phone or template says nothing new while its WABA is BLOCKED: that one alert covers them
  // (the rules remember what they held back; inhibition.ts notifies it when the WABA's hold ends).
  const wabaBlocked = entities.some((e) => e.EntityType === 'WABA' && e.CanSendMessage === 'BLOCKED');
  const subjects = entities.map((entity) => ({ entity, subject: subjectOf(target, entity) }));
  // CAMS promises no order of Entities, so the outcome must not depend on it: the WABA-level ones
  // first, and the end of a WABA's hold leaves alone the phones and templates this reply reports, which
  // their own observation just after decides. Otherwise a WABA listed first would release a phone's
  // held LIMITED (NEW) that the same reply's AVAILABLE then resolves: two notifications for nothing.
  const reported = new Set(subjects.filter((s) => CHILD_TYPES.has(s.entity.EntityType)).map((s) => fingerprintOf(s.subject)));
  const ordered = [...subjects.filter((s) => !CHILD_TYPES.has(s.entity.EntityType)), ...subjects.filter((s) => CHILD_TYPES.has(s.entity.EntityType))];
  for (const { entity, subject } of ordered) {
    const obs: Observation = { subject, ...knownStatus(entity), receivedAt: repliedAt };
    if (CHILD_TYPES.has(entity.EntityType)) {
      reach.push(fingerprintOf(subject));
      await applyObservation(obs, round, wabaBlocked, ctx);
      continue;
    }
    // Entities above the node (WABA, BUSINESS, APP) are the same whichever target reported them.
    subject.nodeType = 'waba';
    reach.push(fingerprintOf(subject));
    if (ctx.writes) await ctx.writes.parentOnce(obs, round, ctx.now(), () => applyObservation(obs, round, false, ctx, reported));
    else await applyObservation(obs, round, false, ctx, reported);
  }
  return reach;
}

function subjectOf(target: WatchTarget, entity: HealthEntity): AlertSubject {
  return {
    nodeType: target.NodeType,
    custSpaceId: target.CustSpaceId,
    wabaId: entity.WabaId ?? target.WabaId,
    entityType: entity.EntityType,
    ...(entity.EntityType === 'PHONE_NUMBER' ? { phoneNumber: entity.PhoneNumber ?? target.PhoneNumber } : {}),
    ...(entity.EntityType === 'MESSAGE_TEMPLATE' ? { templateCode: entity.TemplateCode ?? target.TemplateCode, language: entity.Language ?? target.Language } : {}),
  };
}

/**
 * One observation through the rules, stored with its entity in one compare-and-set. `reported`: the
 * phones and templates the same reply observes, which the end of a WABA's hold leaves to them.
 */
export async function applyObservation(
  obs: Observation,
  round: string,
  inhibited: boolean,
  ctx: Pick<CheckContext, 'store' | 'policy' | 'sinks' | 'now' | 'history' | 'writes' | 'onOwed'>,
  reported?: ReadonlySet<string>,
): Promise<EntityState | undefined> {
  const fp = fingerprintOf(obs.subject);
  const write = async () => {
    const now = ctx.now();
    let owes = false;
    let holdEnded = false;
    let replaced: EntityState | undefined;
    let outdated = false;
    // Through updateEntity: bounded compare-and-set retries, and the owed index kept.
    const result = await updateEntity(ctx.store, fp, (prev) => {
      const current = sinceRead(obs, prev);
      outdated = current === undefined;
      if (!current) {
        owes = holdEnded = false;
        return undefined;
      }
      // When what it now says was read: a newer rating kept with a listing's tier was read when prev's was.
      const readAt = current === obs ? (obs.readAt ?? obs.receivedAt ?? now) : heldSince(prev!);
      const next = { ...evaluate(prev, current, { now, round, policy: ctx.policy, inhibited, sinks: ctx.sinks }), readAt };
      const had = new Set(prev?.outbox.map((e) => e.id));
      owes = next.outbox.some((e) => !had.has(e.id));
      holdEnded = holdsChildren(prev) && !holdsChildren(next);
      replaced = prev;
      return next;
    });
    if (owes) ctx.onOwed?.();
    // The state was decided just above: its history is recorded from it (and only here). A state it
    // replaced whose own history write never happened (a process killed between the two writes) is
    // recorded first, on the day it was last seen, so a BLOCKED spell between two checks that ended
    // in the state before it still shows in the history and the status page's bars.
    if (result && !outdated && ctx.history !== false) {
      if (replaced && unrecorded(replaced, result.value)) await recordHistory(ctx.store, replaced, entityKey(fp), replaced.lastCheckedAt);
      await recordHistory(ctx.store, result.value, entityKey(fp), now);
    }
    return { state: result?.value, holdEnded };
  };
  const { state, holdEnded } = await (ctx.writes ? ctx.writes.queue(fp, write) : write());
  // A WABA no longer BLOCKED: what it held back is owed now, for the same flush (inhibition.ts).
  if (holdEnded && state) await releaseHeld(state.group, ctx, reported);
  return state;
}

/**
 * What an observation read before what the entity holds was read still says (Observation.readAt):
 * that is newer, so nothing; but a number's limit tier, which only a listing says, is applied with the
 * newer rating (quality.ts withNewerRating). The observation itself when nothing newer was read.
 * Judged by read times, not by when each was applied: two Discover entries of one space list it one
 * after the other, and the first entry's older read may be applied before the second's newer one.
 */
function sinceRead(obs: Observation, prev: EntityState | undefined): Observation | undefined {
  if (obs.readAt === undefined || prev === undefined || heldSince(prev) <= obs.readAt) return obs;
  return obs.subject.entityType === 'PHONE_QUALITY' ? withNewerRating(obs, prev) : undefined;
}

/** When what `s` says was read; a record from before EntityState.readAt: when it was written. */
const heldSince = (s: EntityState): number => s.readAt ?? s.lastCheckedAt;

/** `prev`, replaced by `next` (a new state or rating), was never written to its history: its mark names another state. */
function unrecorded(prev: EntityState, next: EntityState): boolean {
  if (prev.unwatchedAt !== undefined || (prev.since === next.since && prev.quality === next.quality) || prev.subject.nodeType === 'monitor') return false;
  return !markRecords(prev.historyMark, prev);
}

/**
 * A parent entity the sweep wrote is written again by a report that says the same once this long
 * has passed (alert clock): another writer (a receipt's check in cams-events) may have written it
 * since, and the sweep's report would otherwise not correct it for the rest of the invocation.
 */
const PARENT_REWRITE_MS = 5000;

/**
 * The sweep's entity writes within one process: writes to one entity queue instead of racing each
 * other, and a parent entity (WABA, BUSINESS, APP), which every child check reports, is written once
 * per round and again only when a report differs or PARENT_REWRITE_MS after the last write: the same
 * alert decisions as writing every report (a round counts once, a change is a change, and what another
 * process wrote meanwhile is corrected within seconds) without every child check rewriting the one shared key.
 */
export class EntityWrites {
  private readonly parentsWritten = new Map<string, { said: string; at: number }>();
  private readonly writing = new Map<string, Promise<unknown>>();

  async parentOnce(obs: Observation, round: string, now: number, write: () => Promise<unknown>): Promise<void> {
    const fp = fingerprintOf(obs.subject);
    const said = `${round}\n${JSON.stringify(obs.subject)}\n${obs.status}\n${JSON.stringify(obs.errors)}`;
    const last = this.parentsWritten.get(fp);
    if (last?.said === said && now - last.at < PARENT_REWRITE_MS) return;
    const mark = { said, at: now };
    this.parentsWritten.set(fp, mark);
    try {
      await write();
    } catch (e) {
      // Not written: the next report writes it.
      if (this.parentsWritten.get(fp) === mark) this.parentsWritten.delete(fp);
      throw e;
    }
  }

  /** The entity was marked unwatched (unwatched.ts): the next report of it is written, not taken as already said. */
  forget(fp: string): void {
    this.parentsWritten.delete(fp);
  }

  queue<T>(fp: string, write: () => Promise<T>): Promise<T> {
    const run = (this.writing.get(fp) ?? Promise.resolve()).then(write, write);
    const tail = run.catch(() => undefined);
    this.writing.set(fp, tail);
    void tail.then(() => {
      if (this.writing.get(fp) === tail) this.writing.delete(fp);
    });
    return run;
  }
}

const RANK: Record<ObservedStatus, number> = { AVAILABLE: 0, LIMITED: 1, BLOCKED: 2, ERROR: 3 };
function worst(entities: readonly HealthEntity[]): ObservedStatus {
  return entities.reduce<ObservedStatus>((w, e) => {
    const { status } = knownStatus(e);
    return RANK[status] > RANK[w] ? status : w;
  }, 'AVAILABLE');
}

/**
 * An entity's state as the rules know states. A CanSendMessage value CAMS added since (Meta adds
 * them) is not refused nor taken for AVAILABLE: it is LIMITED, a warning that may be nothing or may
 * be the start of trouble, with the value itself shown as an error, so someone looks.
 */
function knownStatus(entity: Pick<HealthEntity, 'CanSendMessage' | 'Errors'>): { status: CanSendMessage; errors: HealthError[] } {
  const errors = entity.Errors ?? [];
  const v = entity.CanSendMessage;
  if (v === 'AVAILABLE' || v === 'LIMITED' || v === 'BLOCKED') return { status: v, errors };
  const unknown: HealthError = {
    ErrorCode: 'UnknownCanSendMessage',
    ErrorDescription: `CAMS reports CanSendMessage ${JSON.stringify(v)}, a state this version of cams-fc does not know.`,
    PossibleSolution: 'Check the node in the CAMS console; the alert stays a warning until CAMS reports AVAILABLE, LIMITED or BLOCKED.',
  };
  return { status: 'LIMITED', errors: [...errors, unknown] };
}
