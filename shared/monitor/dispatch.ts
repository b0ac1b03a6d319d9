import { SinkDeliveryError, type AlertNotification, type AlertSink } from '../alerts/model.ts';
import { applySilences } from '../silences/apply.ts';
import { silencing, type Silence } from '../silences/silence.ts';
import { listSilences } from '../silences/store.ts';
import type { Store } from '../store/port.ts';
import { EVERY_SINK, heardItem, lastDecided, type OutboxEntry } from './entity-state.ts';
import { dropOwedMarker, ENTITY_PREFIX, loadOwing, loadSilenced, updateEntity, type OwingEntity } from './entity-store.ts';
import { observeMonitorSubject } from './monitor-alert.ts';
import { notificationFor, sendOrder } from './notification.ts';
import type { AlertPolicy } from './rules.ts';
import { forgetRemovedSinks, refusalError, sinkRejectedSubject, SINK_REFUSALS } from './sink-rejected.ts';
import { holdSink, isRefusing, markRefusing, takeSendSlot } from './sink-window.ts';

export { ENTITY_PREFIX } from './entity-store.ts';
export { SINK_REFUSALS } from './sink-rejected.ts';
/**
 * `monitor/sending/<sink>/<group>`: the message being sent to a sink for a group, written before the
 * send and deleted once its entries are struck off. A deliverer that finds one (a store that failed
 * between a send and its strike, a process killed there, a send that failed or timed out) sends
 * exactly that message again, so the same id (a receiver drops it), and what the group owes since in
 * a message of its own; once `sent` (the sink confirmed it) it only strikes them off. (Sent again
 * with whatever was owed since, under a new id, they would be notified twice.) The record
 * holds the message itself: a silence set since strikes its entries from the outboxes, not from it
 * (the sink may have it; the silence applies from the next message).
 */
export const SENDING_PREFIX = 'monitor/sending/';
/** A record whose entries are owed this long is dropped (they go out with the rest, under a new id). */
const SENDING_TTL_MS = 24 * 3_600_000;

interface Sending {
  id: string;
  /** The outbox entry ids the message holds. */
  entries: string[];
  /** The message as sent, until the sink confirmed it (a record written before it was kept has none). */
  message?: AlertNotification;
  /** The sink confirmed it: its entries are struck, not sent again. */
  sent?: boolean;
  /** How many times the sink refused it for good (a non-retryable answer); see SINK_REFUSALS. */
  refusals?: number;
  /**
   * Given up at its last refusal (whose answer this is): recorded first, so that a store failing in
   * what follows (the alert, the strike) has the next flush finish that, never send it again.
   */
  givenUp?: { error: string; code?: string };
}

const DEFAULT_POLICY: AlertPolicy = { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 };

export interface DispatchReport {
  /** Set when nothing was attempted because another deliverer holds the delivery lease. */
  skipped?: string;
  delivered: Array<{ sink: string; group: string; items: number }>;
  deferred: Array<{ sink: string; group: string; reason: string }>;
  failed: Array<{ sink: string; group: string; error: string; givenUp?: boolean }>;
}

/** The one delivery lease: whoever holds it is the only process sending owed notifications. */
export const DELIVERY_LEASE = 'monitor/deliver';
/**
 * Written by a deliverer that found the lease taken: the holder read what was owed before that
 * caller's findings may have been written, so once done it looks again (at most MAX_PASSES in all).
 */
export const DELIVER_AGAIN = 'monitor/deliver-again';
const MAX_PASSES = 3;
/** The monitor's own alerts' group (groupOf): a refusal in a pass is told the other sinks in a pass of its own. */
const MONITOR_GROUP = 'monitor';
const LEASE_LOST = 'the delivery lease was lost';
const INVOCATION_ENDING = 'the invocation ends before a send could be struck off';
/** Room between a send's end and the invocation's for striking it off (one store write). */
const INVOCATION_STRIKE_MS = 1000;
/** A send whose sink does not say how long it may take is given this long. */
const DEFAULT_SEND_MS = 5000;
/** Room after a send for striking it off before the lease could run out. */
const STRIKE_MARGIN_MS = 5000;
/**
 * Sends to one sink that get no answer in a row (timeouts, connection refused) before the rest of the
 * pass leaves it: the sinks are served one after another, and a channel that is down held every other
 * sink's messages behind one timeout per group (5 s each), or past the invocation's end. Two, not one:
 * a receiver that hangs on one message alone does not keep the other groups from it.
 */
const UNANSWERED_IN_A_ROW = 2;
const SINK_DOWN = `the sink did not answer ${UNANSWERED_IN_A_ROW} sends in a row; tried again at the next flush`;

/** The longest one send to `sinks` may take, its rate gap included. */
function sendTimeMs(sinks: readonly AlertSink[]): number {
  return Math.max(0, ...sinks.map((s) => (s.timeoutMs ?? DEFAULT_SEND_MS) + (s.minIntervalMs ?? 0)));
}

/**
 * How much of an invocation must be left for deliverOwed to start a send to `sinks` (the send and
 * its strike). Work an invocation does before delivering (a receipt's checks) stops this much
 * before its end, or what it found waits, owed, for the next deliverer.
 */
export function invocationReserveMs(sinks: readonly AlertSink[]): number {
  return sendTimeMs(sinks) + INVOCATION_STRIKE_MS;
}

/**
 * The one deliverer. Under the delivery lease (so two processes calling this at the same moment
 * never both send a notification), it delivers what entity states owe: per sink, one message per
 * group, within the sink's per-minute budget. A delivery is struck from the owed list only after the
 * sink confirmed it; anything that failed or did not fit the budget stays owed for the next sweep.
 * A send is only started while the lease is sure to outlast it and its strike, and, given
 * `opts.deadline` (the invocation's end, wall clock), while the invocation is too: one FC cut off
 * might have reached the channel and not struck it off, so it would go out again. A caller turned away
 * by the lease asks the holder to look again (DELIVER_AGAIN), which it does once its pass is done:
 * what that caller found (a receipt's alert in another cams-events instance) goes out then, not at
 * the next sweep tick, however long the holder's pass took (a slow channel).
 */
export async function deliverOwed(
  store: Store,
  sinks: readonly AlertSink[],
  now: () => number,
  log: (rec: Record<string, unknown>) => void,
  opts: { deadline?: number; policy?: AlertPolicy } = {},
): Promise<DispatchReport> {
  const report: DispatchReport = { delivered: [], deferred: [], failed: [] };
  // A deliverer with no sink at all (ALERT_* missing from one function, a deploy half done) can tell
  // no one: it drops and resolves nothing, and takes neither the lease nor an ask, which would turn
  // away a deliverer that has the sinks and use up what it asked.
  if (sinks.length === 0) {
    if ((await loadOwing(store)).length > 0) log({ level: 'warn', msg: 'alerts are owed but no alert sink is configured (ALERT_*); they stay owed' });
    return report;
  }
  const sendTime = sendTimeMs(sinks);
  const sendBudget = sendTime + STRIKE_MARGIN_MS;
  const invocationEnding = () => opts.deadline !== undefined && opts.deadline - Date.now() < invocationReserveMs(sinks);
  let asked = false;
  // `<sink>\n<group>` whose message a sink refused in this call: sent again at the next flush, not in
  // this call's next pass (milliseconds later, it would use up its refusals in one flush).
  const refused = new Set<string>();
  for (let pass = 1; ; pass++) {
    // Renewed before a send whenever less than one send's time is left, so a deliverer that dies
    // blocks delivery for this long at most.
    const lease = await store.acquireLease(DELIVERY_LEASE, Math.max(30_000, 3 * sendBudget));
    if (!lease) {
      if (!asked) {
        // Asked, then tried once more: a holder that let go before the ask was written did not see
        // it, and then the lease is free; one that still holds it sees the ask when it lets go.
        await store.put(DELIVER_AGAIN, 1, { ttlMs: 60_000 });
        asked = true;
        pass--;
        continue;
      }
      if (pass === 1) report.skipped = 'another deliverer holds the delivery lease';
      return report;
    }
    try {
      const outlastsSend = () => lease.expiresAt - Date.now() >= sendBudget;
      const mayStart = async (): Promise<string | undefined> => {
        // A send FC cuts off with the invocation may have reached the channel without being struck
        // off, and would go out again (and the lease stay held until it runs out).
        if (invocationEnding()) return INVOCATION_ENDING;
        return outlastsSend() || ((await lease.renew()) && outlastsSend()) ? undefined : LEASE_LOST;
      };
      await deliverUnderLease(store, sinks, now, log, report, mayStart, opts.policy ?? DEFAULT_POLICY, refused);
    } finally {
      await lease.release().catch(() => undefined);
    }
    // Checked after the release: a caller turned away before it has asked by now. An invocation
    // that could start no send leaves the ask to the next deliverer rather than use it up.
    if (pass >= MAX_PASSES || invocationEnding() || !(await store.delete(DELIVER_AGAIN))) return report;
  }
}

async function deliverUnderLease(
  store: Store,
  sinks: readonly AlertSink[],
  now: () => number,
  log: (rec: Record<string, unknown>) => void,
  report: DispatchReport,
  mayStart: () => Promise<string | undefined>,
  policy: AlertPolicy,
  refused: Set<string>,
): Promise<void> {
  const configured = sinks.map((s) => s.name);
  const { sending, removed } = await loadSending(store, sinks);
  // Before what is owed is read: the resolution of a removed sink's alert goes out in this flush.
  await forgetRemovedSinks(store, configured, removed, now(), policy, log);
  // Through the indexes: the entities that owe something or hold a silenced notification, not every entity.
  let owing = await loadOwing(store);
  const owingKeys = new Set(owing.map((s) => s.key));
  const silenced = (await loadSilenced(store)).filter((s) => !owingKeys.has(s.key));
  // Silenced notifications are struck (and recorded) before anything is sent; a recorded message is sent as it was.
  // One instant for the pass: a silence starting between the strike and the filter below would drop a
  // re-sent message's entries unstruck, owed again (as unheard) once it ends.
  const at = now();
  const { silences } = await listSilences(store, at);
  if (await applySilences(store, [...owing, ...silenced], at, log, { inFlight: inFlight(sending), repeatIntervalMs: policy.repeatIntervalMs, silences })) owing = await loadOwing(store);
  // A recorded message goes out again though a silence struck every alert in it (nothing else owed).
  // So does a confirmed one (struck off, or not yet): a refusing sink's SinkRejected may wait on it to resolve.
  // And one given up whose give-up a store failure cut short: it is finished (not sent).
  const recorded = [...sending.values()].some((records) => [...records.values()].some((r) => r.sent || r.message !== undefined || r.givenUp !== undefined));
  if (owing.length === 0 && !recorded) return;
  // Read again since the silences were applied (the lines above): what a check wrote in between is left out.
  owing = uncovered(await resolveSinks(store, owing, configured, log), silences, at);
  const pass: Pass = { now, log, report, mayStart, policy, configured, stuck: new Set(refused), refused, down: new Set(), monitorChanged: false };
  // The sinks side by side, each its own messages in order: one that does not answer holds up none
  // of the others (served in turn, each of them waited out its timeouts first). Every write a sink's
  // delivery makes to a shared entity is a compare-and-set (strike, the owed marker).
  if (!(await everySink(sinks, (sink) => deliverToSink(store, sink, owing, sending.get(sink.name)!, pass)))) return;
  // A sink's refusal (or its end) recorded a monitor alert in this pass: the other sinks hear of it
  // now, not at the next flush. Only the monitor group, and none that did not go through in this pass.
  if (!pass.monitorChanged) return;
  owing = await loadOwing(store);
  const sendingNow = (await loadSending(store, sinks)).sending;
  // A silence covers the alert raised in this pass as any other: struck (recorded) here, not sent.
  const monitor = owing.filter((s) => s.value.outbox.some((e) => e.group === MONITOR_GROUP));
  const monitorAt = now();
  if (await applySilences(store, monitor, monitorAt, log, { inFlight: inFlight(sendingNow), repeatIntervalMs: policy.repeatIntervalMs, silences })) owing = await loadOwing(store);
  owing = uncovered(owing, silences, monitorAt);
  const monitorPass = { ...pass, only: MONITOR_GROUP, monitorChanged: false };
  await everySink(sinks, (sink) => deliverToSink(store, sink, owing, sendingNow.get(sink.name)!, monitorPass));
}

/** `deliver` for every sink at once; false when any could send no more (the lease lost, the invocation ending). */
async function everySink(sinks: readonly AlertSink[], deliver: (sink: AlertSink) => Promise<boolean>): Promise<boolean> {
  const settled = await Promise.allSettled(sinks.map(deliver));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  // A store failure in one sink's delivery fails the flush as it did when they ran in turn, once all have stopped.
  if (failed) throw failed.reason;
  return settled.every((r) => r.status === 'fulfilled' && r.value);
}

/**
 * Of what is owed, read again after the silences were applied, the entities none of them covers: an
 * alert a check wrote in between (another instance's receipt) is struck at the next flush, not sent.
 */
function uncovered(owing: OwingEntity[], silences: readonly Silence[], now: number): OwingEntity[] {
  return owing.filter((s) => !silencing(silences, s.value.subject, now));
}

/** What one deliverer's pass shares across its sinks. */
interface Pass {
  now: () => number;
  log: (rec: Record<string, unknown>) => void;
  report: DispatchReport;
  mayStart: () => Promise<string | undefined>;
  policy: AlertPolicy;
  configured: readonly string[];
  /** `<sink>\n<group>` whose message did not go through in this pass. */
  stuck: Set<string>;
  /** `<sink>\n<group>` whose message the sink refused (not given up) in this deliverOwed call. */
  refused: Set<string>;
  /** Sinks that answered none of UNANSWERED_IN_A_ROW sends in a row: nothing more is sent to them in this pass. */
  down: Set<string>;
  /** Set when a SinkRejected alert was raised or resolved. */
  monitorChanged: boolean;
  /** Deliver this group only. */
  only?: string;
}

/**
 * Per sink, its messages recorded before their send, by group: one list of every sink's. `removed`:
 * the keys of those recorded for a sink not configured here.
 */
async function loadSending(store: Store, sinks: readonly AlertSink[]): Promise<{ sending: Map<string, Map<string, Sending>>; removed: string[] }> {
  const sending = new Map(sinks.map((s) => [s.name, new Map<string, Sending>()]));
  const removed: string[] = [];
  for (const r of await store.list<Sending>(SENDING_PREFIX)) {
    // A group has no '/', a sink's name may: the group is after the last one.
    const slash = r.key.lastIndexOf('/');
    const records = sending.get(r.key.slice(SENDING_PREFIX.length, slash));
    if (records) records.set(r.key.slice(slash + 1), r.value);
    else removed.push(r.key);
  }
  return { sending, removed };
}

/**
 * Entry id → the sinks a recorded message holds it for: one the sink confirmed, or one re-sent as it
 * was. Not one recorded by an earlier version (entries only): it re-sends only what is still owed,
 * so an entry a silence struck from it would reach that sink neither now nor when the silence ends.
 */
function inFlight(sending: ReadonlyMap<string, ReadonlyMap<string, Sending>>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [sink, records] of sending) {
    for (const r of records.values()) {
      if (!r.sent && r.message === undefined) continue;
      for (const id of r.entries) out.set(id, (out.get(id) ?? new Set()).add(sink));
    }
  }
  return out;
}

/**
 * Only the deliverer knows its sinks: "every sink" becomes this list, and deliveries owed to sinks no
 * longer configured (which can never happen) are dropped. Returns what is owed now (a deliverer with
 * no sink at all never gets here: "every sink" stays owed until one runs).
 */
async function resolveSinks(store: Store, owing: OwingEntity[], configured: readonly string[], log: (rec: Record<string, unknown>) => void): Promise<OwingEntity[]> {
  const resolve = (pending: readonly string[]): string[] => {
    const named = pending.includes(EVERY_SINK) ? [...pending.filter((p) => p !== EVERY_SINK), ...configured] : [...pending];
    const kept = [...new Set(named)].filter((p) => configured.includes(p));
    return kept.length === 0 && pending.includes(EVERY_SINK) ? [EVERY_SINK] : kept;
  };
  const changes = (e: OutboxEntry) => resolve(e.pendingSinks).join('\n') !== e.pendingSinks.join('\n');
  const toResolve = owing.filter((s) => s.value.outbox.some(changes));
  if (toResolve.length === 0) return owing;
  const dropped = toResolve.some((s) => s.value.outbox.some((e) => e.pendingSinks.some((p) => p !== EVERY_SINK && !configured.includes(p))));
  for (const s of toResolve) await strike(store, s.key, (e) => resolve(e.pendingSinks));
  if (dropped) log({ level: 'warn', msg: 'dropped deliveries owed to sinks that are no longer configured' });
  return loadOwing(store);
}

/**
 * One message per group owed to `sink`, in group order, each struck from the outboxes once sent.
 * False when no more may be sent: the delivery lease was lost (another deliverer may take over), or
 * the invocation ends before a send could be struck off.
 */
async function deliverToSink(
  store: Store,
  sink: AlertSink,
  owing: readonly OwingEntity[],
  sending: ReadonlyMap<string, Sending>,
  ctx: Pass,
): Promise<boolean> {
  const { now, log, report } = ctx;
  const mayStart = async (sink: AlertSink, group: string): Promise<boolean> => {
    const stop = await ctx.mayStart();
    if (stop === undefined) return true;
    report.deferred.push({ sink: sink.name, group, reason: stop });
    log({ level: 'warn', msg: `${stop}: the rest stays owed`, sink: sink.name, group });
    return false;
  };
  type Owed = { key: string; marker: string; entry: OutboxEntry };
  const byGroup = new Map<string, Owed[]>();
  for (const s of owing) {
    for (const entry of s.value.outbox) {
      if (!entry.pendingSinks.includes(sink.name)) continue;
      if (ctx.only !== undefined && entry.group !== ctx.only) continue;
      const list = byGroup.get(entry.group) ?? [];
      list.push({ key: s.key, marker: s.marker, entry });
      byGroup.set(entry.group, list);
    }
  }
  const sendingPrefix = `${SENDING_PREFIX}${sink.name}/`;
  // Groups whose message the sink refused and that still owe it: its SinkRejected alert holds while any does.
  const refused = new Set<string>();
  // Whether the sink's SinkRejected alert may be firing (its window says so; known once a send slot is
  // taken), and whether it accepted a message: in this pass, or one a record says it confirmed.
  let refusing = false;
  let windowRead = false;
  let accepted = false;
  // Groups whose confirmed record is deleted once the sink's alert is resolved (kept till then while it
  // may be refusing): a store failure in between leaves the record, and the next flush resolves it.
  const confirmed = new Set<string>();
  // A record goes out again while it holds its message (however much of it is still owed) or owed entries.
  // A given-up one is finished however little of it is owed (a silence strikes its entries, not in flight).
  const resend = (record: Sending, earlier: readonly Owed[]) => (!record.sent && record.message !== undefined) || record.givenUp !== undefined || earlier.length > 0;
  // The message an earlier deliverer was sending goes first, as it was; what the group owes besides goes in its own.
  const messages: Array<[string, Owed[], Sending | undefined]> = [];
  for (const group of [...new Set([...byGroup.keys(), ...sending.keys()])].sort()) {
    if (ctx.only !== undefined && group !== ctx.only) continue;
    const owed = byGroup.get(group) ?? [];
    const record = sending.get(group);
    const earlier = record ? owed.filter((o) => record.entries.includes(o.entry.id)) : [];
    const rest = owed.filter((o) => !earlier.includes(o));
    accepted ||= !!record?.sent;
    if (record && resend(record, earlier)) {
      messages.push([group, earlier, record]);
      if ((record.refusals ?? 0) > 0) refused.add(group);
    } else if (record?.sent) confirmed.add(group);
    else if (record) await store.delete(sendingPrefix + group);
    if (rest.length > 0) messages.push([group, rest, undefined]);
  }
  // A group whose message did not go through (deferred, failed) sends nothing newer in this pass: its
  // alerts keep their order, and the group's one record stays that message's.
  const blocked = new Set<string>();
  // Sends in a row the sink did not answer (UNANSWERED_IN_A_ROW).
  let unanswered = 0;
  const block = (group: string) => {
    blocked.add(group);
    ctx.stuck.add(`${sink.name}\n${group}`);
  };
  for (const [group, owed, record] of messages) {
    const sendingKey = sendingPrefix + group;
    if (blocked.has(group) || ctx.stuck.has(`${sink.name}\n${group}`)) continue;
    if (record?.givenUp) {
      // Given up, and a store failure cut what follows short: finished now, not sent again.
      await giveUp(store, sink, ctx, owed, sendingKey, recordedRefusal(sink.name, record.givenUp), refusing);
      refusing = true;
      refused.delete(group);
      log({ level: 'info', msg: 'alert given up earlier, struck off now', sink: sink.name, group, notification: record.id, items: owed.length });
      continue;
    }
    if (record?.sent) {
      // Confirmed by the sink, not struck off: strike it now, without sending it again.
      await strikeOff(store, sink, owed, now());
      confirmed.add(group);
      log({ level: 'info', msg: 'alert delivered earlier, struck off now', sink: sink.name, group, notification: record.id, items: owed.length });
      continue;
    }
    if (ctx.down.has(sink.name)) {
      report.deferred.push({ sink: sink.name, group, reason: SINK_DOWN });
      block(group);
      continue;
    }
    // Without the lease another deliverer may take over now: sending anyway could double the message.
    if (!(await mayStart(sink, group))) return false;
    const slot = await takeSendSlot(store, sink, now());
    if (typeof slot === 'string') {
      report.deferred.push({ sink: sink.name, group, reason: slot });
      block(group);
      continue;
    }
    refusing ||= slot.refusing;
    windowRead = true;
    const entries = owed.map((o) => o.entry).sort(sendOrder);
    // A recorded message exactly as it was (what a silence struck since included), under its id.
    const ids = record ? record.entries : entries.map((e) => e.id);
    const notification = record?.message ?? { ...notificationFor(sink.name, group, entries, now()), ...(record ? { id: record.id } : {}) };
    if (slot.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, slot.waitMs));
    // Again right before the send: the sink's rate window is two store calls, and a slow store
    // (seconds each) can use up the lease between the check above and here.
    if (!(await mayStart(sink, group))) return false;
    const refusals = record?.refusals ?? 0;
    confirmed.delete(group);
    await store.put<Sending>(sendingKey, { id: notification.id, entries: ids, message: notification, ...(refusals > 0 ? { refusals } : {}) }, { ttlMs: SENDING_TTL_MS });
    try {
      await sink.send(notification);
    } catch (e) {
      const err = e instanceof SinkDeliveryError ? e : new SinkDeliveryError(sink.name, e instanceof Error ? e.message : String(e), true);
      if (err.retryAfterMs) await holdSink(store, sink.name, now(), err.retryAfterMs);
      unanswered = err.unanswered ? unanswered + 1 : 0;
      if (err.retryable) {
        report.failed.push({ sink: sink.name, group, error: err.message });
        log({ level: 'error', msg: 'alert delivery failed; it stays owed', sink: sink.name, group, error: err.message, retryable: true });
        block(group);
        if (unanswered >= UNANSWERED_IN_A_ROW) {
          ctx.down.add(sink.name);
          log({ level: 'warn', msg: SINK_DOWN, sink: sink.name });
        }
        continue;
      }
      // Refused for good: counted on the message's record, told to the other sinks, given up at SINK_REFUSALS.
      const givenUp = refusals + 1 >= SINK_REFUSALS;
      // The record says so first: a store failure after this put cannot have the message sent again
      // (a failure of this put can: the sink's answer is lost, as an acceptance's would be).
      const answer = givenUp ? { givenUp: { error: err.message, ...(err.code !== undefined ? { code: err.code } : {}) } } : { message: notification };
      await store.put<Sending>(sendingKey, { id: notification.id, entries: ids, ...answer, refusals: refusals + 1 }, { ttlMs: SENDING_TTL_MS });
      if (!givenUp) {
        refused.add(group);
        ctx.refused.add(`${sink.name}\n${group}`);
        block(group);
      }
      report.failed.push({ sink: sink.name, group, error: err.message, ...(givenUp ? { givenUp } : {}) });
      log({
        level: 'error',
        msg: givenUp ? `the sink refused this message ${SINK_REFUSALS} times: given up for this sink` : 'the sink refused this message; it is sent again at the next flush',
        sink: sink.name,
        group,
        notification: notification.id,
        items: notification.items.length,
        code: err.code,
        error: err.message,
        refusals: refusals + 1,
      });
      // The mark, then the alert: a store failing at either leaves the record, so the next flush sends
      // the message again (given up: finishes the give-up) and, refused, raises the alert.
      if (givenUp) {
        await giveUp(store, sink, ctx, owed, sendingKey, err, refusing);
        refused.delete(group);
      } else {
        await raiseRefusal(store, sink, ctx, err, refusing);
      }
      refusing = true;
      continue;
    }
    unanswered = 0;
    await store.put<Sending>(sendingKey, { id: notification.id, entries: ids, sent: true }, { ttlMs: SENDING_TTL_MS });
    await strikeOff(store, sink, owed, now());
    if (refusing) confirmed.add(group);
    else await store.delete(sendingKey);
    refused.delete(group);
    accepted = true;
    report.delivered.push({ sink: sink.name, group, items: notification.items.length });
    log({ level: 'info', msg: 'alert delivered', sink: sink.name, group, notification: notification.id, items: notification.items.length });
  }
  // Not in a pass over one group: the refused messages of the others are not in view.
  // Accepted only in a record (a store failure before its resolution): the window says whether it is owed.
  if (accepted && !windowRead && refused.size === 0 && ctx.only === undefined) refusing = await isRefusing(store, sink.name);
  if (refusing && accepted && refused.size === 0 && ctx.only === undefined) {
    // It accepts messages again and owes none it refused: resolved, then the mark cleared (a crash in
    // between resolves again, which changes nothing).
    await observeMonitorSubject(store, sinkRejectedSubject(sink.name), 'AVAILABLE', [], { now: now(), round: 'delivery', policy: ctx.policy, sinks: ctx.configured.filter((n) => n !== sink.name) });
    await markRefusing(store, sink.name, false);
    ctx.monitorChanged = true;
    log({ level: 'info', msg: 'the sink accepts messages again', sink: sink.name });
  }
  // A pass over one group cannot resolve the alert, so what the sink accepted in it stays recorded:
  // the next flush, with every group's refusals in view, resolves it (deleted here, the acceptance was
  // lost, and the alert fired on until the sink accepted another message).
  if (ctx.only === undefined) for (const group of confirmed) await store.delete(sendingPrefix + group);
  return true;
}

/** A refusal: the sink marked refusing (unless `marked`), then its SinkRejected alert, told to the other sinks. */
async function raiseRefusal(store: Store, sink: AlertSink, ctx: Pass, err: SinkDeliveryError, marked: boolean): Promise<void> {
  if (!marked) await markRefusing(store, sink.name, true);
  await observeMonitorSubject(store, sinkRejectedSubject(sink.name), 'ERROR', [refusalError(sink.name, err)], {
    now: ctx.now(),
    round: 'delivery',
    policy: ctx.policy,
    // Not the sink that refuses: it would refuse this too.
    sinks: ctx.configured.filter((n) => n !== sink.name),
  });
  ctx.monitorChanged = true;
}

/**
 * The refusal a givenUp record holds, as the sink gave it: the record keeps its message as logged
 * (`<sink>: …`), which a new SinkDeliveryError would prefix again ("r: r: errcode …" in the alert).
 */
function recordedRefusal(sink: string, givenUp: NonNullable<Sending['givenUp']>): SinkDeliveryError {
  const prefix = `${sink}: `;
  const message = givenUp.error.startsWith(prefix) ? givenUp.error.slice(prefix.length) : givenUp.error;
  return new SinkDeliveryError(sink, message, false, undefined, givenUp.code);
}

/**
 * A message given up for `sink` (its record says so): the refusal raised, then the message struck off
 * and its record deleted. Struck off before the alert, a failure in between lost the alert (its
 * first, or a new code) for good; in this order a failure anywhere has the next flush do it again.
 */
async function giveUp(store: Store, sink: AlertSink, ctx: Pass, owed: ReadonlyArray<{ key: string; marker: string; entry: OutboxEntry }>, sendingKey: string, err: SinkDeliveryError, marked: boolean): Promise<void> {
  await raiseRefusal(store, sink, ctx, err, marked);
  // Struck off, not heard: what the sink last heard is still what it had before.
  await strikeOff(store, sink, owed);
  await store.delete(sendingKey);
}

/**
 * Strikes `owed` off for `sink`, and each entity's owed marker once it owes nothing. `heardAt` (the
 * sink confirmed them) records on each entity, in the same write, what the sink last heard of it.
 */
async function strikeOff(store: Store, sink: AlertSink, owed: ReadonlyArray<{ key: string; marker: string; entry: OutboxEntry }>, heardAt?: number): Promise<void> {
  const ids = new Set(owed.map((o) => o.entry.id));
  const heard = heardAt === undefined ? undefined : { sink: sink.name, ids, at: heardAt };
  for (const [key, marker] of new Map(owed.map((o) => [o.key, o.marker]))) {
    await strike(store, key, (e) => (ids.has(e.id) ? e.pendingSinks.filter((p) => p !== sink.name) : e.pendingSinks), heard);
    await dropOwedMarker(store, key, marker);
  }
}

/** Rewrites each owed entry's pending sinks; entries no sink still owes are removed. */
async function strike(store: Store, key: string, pending: (e: OutboxEntry) => string[], heard?: { sink: string; ids: ReadonlySet<string>; at: number }): Promise<void> {
  await updateEntity(store, key.slice(ENTITY_PREFIX.length), (current) => {
    if (!current) return undefined;
    const outbox = current.outbox.map((e) => ({ ...e, pendingSinks: pending(e) })).filter((e) => e.pendingSinks.length > 0);
    const told = heard && lastDecided(current.outbox.filter((e) => heard.ids.has(e.id) && e.pendingSinks.includes(heard.sink)));
    return { ...current, outbox, ...(told ? { heard: { ...current.heard, [heard.sink]: heardItem(told.item, heard.at) } } : {}) };
  }, 100);
}

