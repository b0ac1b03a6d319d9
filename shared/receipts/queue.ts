import type { HealthError } from '../cams/operations.ts';
import { observeMonitorSubject } from '../monitor/monitor-alert.ts';
import type { AlertPolicy } from '../monitor/rules.ts';
import { update, type Store } from '../store/port.ts';

/** A queue message that failed this many times is set aside instead of being redelivered forever
 * (FC's async invocation retries 3 times: 4 attempts, so the third failure is always seen). */
export const MAX_QUEUE_ATTEMPTS = 3;
export const ATTEMPTS_PREFIX = 'receipts/attempts/';
export const POISON_PREFIX = 'receipts/poison/';
export const DONE_PREFIX = 'receipts/done/';
/**
 * How long a message's attempts and its done mark are kept: as long as MNS may still hand it over
 * again (a queue keeps a message 4 days by default, MessageRetentionPeriod at most 7 days; FC's async
 * event age is at most 7 days too). A day was shorter: a message redelivered after it was acted on
 * again and its malformed receipts counted again, its attempts counted from 1.
 */
const ATTEMPTS_TTL_MS = 7 * 24 * 3_600_000;
const POISON_TTL_MS = 30 * 24 * 3_600_000;

/** One MNS message, from the CloudEvent EventBridge delivers (data.messageBody). */
export interface QueueMessage {
  messageId: string;
  body: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A message id that can key the store (MNS's are 32 hex digits; an event id is a UUID). */
const MESSAGE_ID = /^[A-Za-z0-9*_.:-]{1,128}$/;

/** An element of a delivery that is no readable MNS message: kept by its id when it has one, else only logged. */
export interface UnreadableElement {
  index: number;
  messageId?: string;
  why: string;
  /** The element as delivered, to keep for a person to look at. */
  element: unknown;
}

/** What one delivery of the queue trigger holds, element by element. */
export interface QueueDelivery {
  elements: number;
  messages: QueueMessage[];
  unreadable: UnreadableElement[];
}

/**
 * The messages of an MNS-trigger event: one CloudEvent, or a batch of them (the event stream's batch
 * push delivers a JSON array). An element that is no readable message is set apart alone: refusing
 * the whole batch for it lost the good messages beside it (acknowledged, never redelivered).
 * Undefined when no element is even a CloudEvent with data (a timer's event, say): a delivery of
 * another kind altogether.
 */
export function queueMessagesOf(event: unknown): QueueDelivery | undefined {
  const list = Array.isArray(event) ? event : [event];
  const delivery: QueueDelivery = { elements: list.length, messages: [], unreadable: [] };
  list.forEach((e, index) => {
    const data = isObject(e) && isObject(e['data']) ? e['data'] : undefined;
    const given = typeof data?.['messageId'] === 'string' && data['messageId'] ? data['messageId'] : isObject(e) && typeof e['id'] === 'string' ? e['id'] : '';
    const messageId = MESSAGE_ID.test(given) ? given : undefined;
    if (data && typeof data['messageBody'] === 'string' && messageId) {
      delivery.messages.push({ messageId, body: data['messageBody'] });
      return;
    }
    const why = !data ? 'not a CloudEvent with data' : typeof data['messageBody'] !== 'string' ? 'data.messageBody is not a string' : 'no data.messageId (or event id) of 1-128 letters, digits or *_.:-';
    delivery.unreadable.push({ index, ...(messageId ? { messageId } : {}), why, element: e });
  });
  return list.length === 0 || list.some((e) => isObject(e) && isObject(e['data'])) ? delivery : undefined;
}

/** Counts one more attempt at a message; returns the count including this one. */
export async function countAttempt(store: Store, messageId: string): Promise<number> {
  const r = await update<{ count: number }>(store, ATTEMPTS_PREFIX + messageId, (cur) => ({ count: (cur?.count ?? 0) + 1 }), { ttlMs: ATTEMPTS_TTL_MS });
  return r!.value.count;
}

/** What a set-aside message's key keeps, for a person to look at. */
interface KeptMessage {
  MessageId: string;
  Body: string;
  Error: string;
  Attempts: number;
  At: string;
}

type AlertContext = { now: number; policy: AlertPolicy; sinks: readonly string[] };

/**
 * Whether the message was set aside already (a redelivery, acknowledged without acting on it). Its
 * alert is observed again from what was kept: the alert is written after the kept message, so a
 * store failure in between failed the invocation with the message kept and no alert, and every
 * redelivery skipped it silently. An alert already firing says the same again: no second notification.
 */
export async function isSetAside(store: Store, messageId: string, ctx: AlertContext): Promise<boolean> {
  const kept = (await store.get<KeptMessage>(POISON_PREFIX + messageId))?.value;
  if (kept === undefined) return false;
  await raiseSetAside(store, messageId, kept.Error, kept.Attempts, ctx);
  return true;
}

/**
 * Notes that a message's receipts were all acted on. A batch is redelivered whole for one message's
 * failure: the others, acted on already, are passed over then, not acted on and counted again (nor
 * set aside, should the redelivery meet a failure). Kept as long as its attempts are.
 */
export async function markDone(store: Store, messageId: string, now: number): Promise<void> {
  await store.put(DONE_PREFIX + messageId, { At: new Date(now).toISOString() }, { ttlMs: ATTEMPTS_TTL_MS });
}

export async function isDone(store: Store, messageId: string): Promise<boolean> {
  return (await store.get(DONE_PREFIX + messageId)) !== undefined;
}

/**
 * Keeps the message for a person to look at and raises one alert about it (a monitor subject per
 * message: a redelivery of the same message cannot alert twice). The caller then acknowledges it.
 */
export async function setAside(
  store: Store,
  msg: QueueMessage,
  why: string,
  attempts: number,
  ctx: AlertContext,
): Promise<void> {
  const kept: KeptMessage = { MessageId: msg.messageId, Body: msg.body.slice(0, 64 * 1024), Error: why, Attempts: attempts, At: new Date(ctx.now).toISOString() };
  await store.put(POISON_PREFIX + msg.messageId, kept, { ttlMs: POISON_TTL_MS });
  await raiseSetAside(store, msg.messageId, why, attempts, ctx);
}

/** The set-aside message's alert, tied to its kept key; the same words from setAside and a redelivery. */
async function raiseSetAside(store: Store, messageId: string, why: string, attempts: number, ctx: AlertContext): Promise<void> {
  const error: HealthError = {
    ErrorCode: 'ReceiptMessageSetAside',
    ErrorDescription: `Queue message ${messageId} was set aside after ${attempts} attempt(s): ${why}`,
    PossibleSolution: `Look at store key ${POISON_PREFIX}${messageId}, then delete it: the alert resolves at the health monitor's next round (or when the key expires, after 30 days). The sweep still checks every watched node.`,
  };
  await observeMonitorSubject(store, { nodeType: 'monitor', entityType: 'ReceiptMessageSetAside', ref: messageId }, 'ERROR', [error], {
    now: ctx.now,
    round: 'receipts',
    policy: ctx.policy,
    sinks: ctx.sinks,
    tiedTo: POISON_PREFIX + messageId,
  });
}
