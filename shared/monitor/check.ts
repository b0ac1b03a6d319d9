import type { AlertSubject } from '../alerts/model.ts';
import type { CamsClient } from '../cams/client.ts';
import type { HealthEntity } from '../cams/operations.ts';
import { recordHistory } from '../history/record.ts';
import { update, type Store } from '../store/port.ts';
import { ENTITY_PREFIX } from './dispatch.ts';
import { fingerprintOf, type EntityState, type ObservedStatus } from './entity-state.ts';
import { evaluate, type AlertPolicy, type Observation } from './rules.ts';
import { targetId, type WatchTarget } from './targets.ts';

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
}

const CHILD_TYPES = new Set(['PHONE_NUMBER', 'MESSAGE_TEMPLATE']);

/** Per-target bookkeeping the sweep orders by: when it was last checked, how it was, when a receipt named it. */
export const TARGET_INFO_PREFIX = 'monitor/target/';
export interface TargetInfo {
  lastCheckedAt?: number;
  /** The worst CanSendMessage of the last check. */
  status?: ObservedStatus;
  lastReceiptAt?: number;
}

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
  await observeReply(target, data.Entities, round, ctx);
  await noteTarget(ctx.store, target, { lastCheckedAt: ctx.now(), status: worst(data.Entities) });
  return data.Entities;
}

/** Turns one reply into observations: one per entity, WABA-level ones shared by every target. */
export async function observeReply(target: WatchTarget, entities: HealthEntity[], round: string, ctx: CheckContext): Promise<void> {
  // A phone or template says nothing new while its WABA is BLOCKED: that one alert covers them.
  const wabaBlocked = entities.some((e) => e.EntityType === 'WABA' && e.CanSendMessage === 'BLOCKED');
  for (const entity of entities) {
    const subject: AlertSubject = {
      nodeType: target.NodeType,
      custSpaceId: target.CustSpaceId,
      wabaId: entity.WabaId ?? target.WabaId,
      entityType: entity.EntityType,
      ...(entity.EntityType === 'PHONE_NUMBER' ? { phoneNumber: entity.PhoneNumber ?? target.PhoneNumber } : {}),
      ...(entity.EntityType === 'MESSAGE_TEMPLATE'
        ? { templateCode: entity.TemplateCode ?? target.TemplateCode, language: entity.Language ?? target.Language }
        : {}),
    };
    // Entities above the node (WABA, BUSINESS, APP) are the same whichever target reported them.
    if (!CHILD_TYPES.has(entity.EntityType)) subject.nodeType = 'waba';
    const inhibited = wabaBlocked && CHILD_TYPES.has(entity.EntityType);
    await applyObservation({ subject, status: entity.CanSendMessage, errors: entity.Errors ?? [] }, round, inhibited, ctx);
  }
}

/** One observation through the rules, stored with its entity in one compare-and-set. */
export async function applyObservation(
  obs: Observation,
  round: string,
  inhibited: boolean,
  ctx: Pick<CheckContext, 'store' | 'policy' | 'sinks' | 'now' | 'history'>,
): Promise<EntityState | undefined> {
  const key = ENTITY_PREFIX + fingerprintOf(obs.subject);
  const now = ctx.now();
  const result = await update<EntityState>(ctx.store, key, (prev) => evaluate(prev, obs, { now, round, policy: ctx.policy, inhibited, sinks: ctx.sinks }));
  // The state was decided just above: its history is recorded from it (and only here).
  if (result && ctx.history !== false) await recordHistory(ctx.store, result.value, key, now);
  return result?.value;
}

export async function noteTarget(store: Store, target: WatchTarget, patch: TargetInfo): Promise<void> {
  await update<TargetInfo>(store, TARGET_INFO_PREFIX + targetId(target), (cur) => ({ ...cur, ...patch }));
}

const RANK: Record<string, number> = { AVAILABLE: 0, LIMITED: 1, BLOCKED: 2, ERROR: 3 };
function worst(entities: readonly HealthEntity[]): ObservedStatus {
  return entities.reduce<ObservedStatus>((w, e) => ((RANK[e.CanSendMessage] ?? 0) > (RANK[w] ?? 0) ? e.CanSendMessage : w), 'AVAILABLE');
}

/** How long a receipt keeps a node at the front of the sweep. */
export const RECENT_RECEIPT_MS = 60 * 60_000;

/**
 * The sweep's order: nodes with a recent receipt or a non-AVAILABLE state first, then the least
 * recently checked (never checked first); ties keep the watch list's stable order.
 */
export function orderByRisk<T extends { id: string }>(pending: readonly T[], info: ReadonlyMap<string, TargetInfo>, now: number): T[] {
  const risky = (i: TargetInfo | undefined) =>
    !!i && ((i.lastReceiptAt !== undefined && now - i.lastReceiptAt < RECENT_RECEIPT_MS) || (i.status !== undefined && i.status !== 'AVAILABLE'));
  return pending
    .map((t, index) => ({ t, index, i: info.get(t.id) }))
    .sort((a, b) => {
      const ra = risky(a.i) ? 0 : 1;
      const rb = risky(b.i) ? 0 : 1;
      if (ra !== rb) return ra - rb;
      const ca = a.i?.lastCheckedAt ?? -1;
      const cb = b.i?.lastCheckedAt ?? -1;
      return ca !== cb ? ca - cb : a.index - b.index;
    })
    .map((x) => x.t);
}

/** Reads every target's bookkeeping in one list call. */
export async function loadTargetInfo(store: Store): Promise<Map<string, TargetInfo>> {
  const out = new Map<string, TargetInfo>();
  for (const e of await store.list<TargetInfo>(TARGET_INFO_PREFIX)) out.set(e.key.slice(TARGET_INFO_PREFIX.length), e.value);
  return out;
}
