import type { AlertSubject, SinkDeliveryError } from '../alerts/model.ts';
import type { HealthError } from '../cams/operations.ts';
import type { Store } from '../store/port.ts';
import { fingerprintOf } from './entity-state.ts';
import { updateEntity } from './entity-store.ts';
import { evaluate, type AlertPolicy } from './rules.ts';
import { listSinkWindows, markRefusing } from './sink-window.ts';

/**
 * A message a sink refuses this many times for good (a non-retryable answer: DingTalk's or Lark's
 * keyword and security checks, a 4xx) is given up for that sink: struck off as if sent, so the
 * group's later alerts reach it rather than wait behind it for ever. More than one, as an answer
 * taken for permanent can still pass (a signature refused for a clock that was off).
 */
export const SINK_REFUSALS = 3;

export function sinkRejectedSubject(sink: string): AlertSubject {
  return { nodeType: 'monitor', entityType: 'SinkRejected', ref: sink };
}

export function refusalError(sink: string, err: SinkDeliveryError): HealthError {
  return {
    ErrorCode: err.code ?? 'Refused',
    ErrorDescription: `The ${sink} channel refused an alert message: ${err.message}`,
    PossibleSolution: `Check the ${sink} channel's settings (its webhook, secret, keywords, IP allow-list) against the error. A message it refuses ${SINK_REFUSALS} times is given up for it (the other channels have it); this resolves once it accepts a message again.`,
  };
}

/**
 * A sink this deliverer does not have (its ALERT_* variables unset) can take no message any more: its
 * SinkRejected alert, which only its accepting a message resolved, is resolved now, told to the sinks
 * there are and saying why, and the messages recorded for it are dropped, as resolveSinks drops what
 * the outboxes owe it. The deliverer without the sink decides: an instance still running with it (the
 * old version, during a deploy) raises the alert again only when the sink refuses another message.
 * The alert first, then its mark: a failure in between resolves again, which changes nothing.
 */
export async function forgetRemovedSinks(store: Store, configured: readonly string[], records: readonly string[], now: number, policy: AlertPolicy, log: (rec: Record<string, unknown>) => void): Promise<void> {
  const look = removedSinksLook(store, configured, now);
  for (const { sink: name, window } of look ? await listSinkWindows(store) : []) {
    if (configured.includes(name) || !window.refusing) continue;
    const subject = sinkRejectedSubject(name);
    await updateEntity(store, fingerprintOf(subject), (prev) =>
      // A resolution lists the errors its alert had: why it resolved goes first.
      prev?.firing ? evaluate({ ...prev, errors: [notConfiguredError(name), ...prev.errors] }, { subject, status: 'AVAILABLE', errors: [] }, { now, round: 'delivery', policy, inhibited: false, sinks: configured }) : undefined,
    );
    await markRefusing(store, name, false);
    log({ level: 'warn', msg: 'the sink is no longer configured: its SinkRejected alert is resolved', sink: name });
  }
  look?.done();
  for (const key of records) await store.delete(key);
  if (records.length > 0) log({ level: 'warn', msg: 'dropped messages being sent to sinks that are no longer configured', records: records.length });
}

/**
 * How often an instance lists every sink's window to find a removed one's alert: a sink's removal is
 * a deploy, and its alert may close minutes later; a list at every flush would add to each sweep
 * tick's fixed store cost for what almost never finds anything.
 */
const REMOVED_SINK_LOOK_MS = 10 * 60_000;
const removedSinksLookedAt = new WeakMap<Store, Map<string, number>>();

/**
 * Whether this instance (its store, its sinks) is to list every sink's window now: it last looked
 * REMOVED_SINK_LOOK_MS ago or more. `done` once a look went through: one a store failure cut short
 * is made again at the next flush, not 10 minutes later.
 */
function removedSinksLook(store: Store, configured: readonly string[], now: number): { done: () => void } | undefined {
  const looked = removedSinksLookedAt.get(store) ?? new Map<string, number>();
  removedSinksLookedAt.set(store, looked);
  const key = configured.join('\n');
  const last = looked.get(key);
  if (last !== undefined && now >= last && now - last < REMOVED_SINK_LOOK_MS) return undefined;
  return { done: () => looked.set(key, now) };
}

function notConfiguredError(sink: string): HealthError {
  return {
    ErrorCode: 'SinkNotConfigured',
    ErrorDescription: `The ${sink} channel is no longer configured (its ALERT_* variables are unset): no message can reach it, so this alert is closed, and what was still owed only to it is dropped.`,
    PossibleSolution: `Nothing, if it was removed on purpose; else set its ALERT_* variables again.`,
  };
}
