import type { HealthError } from '../cams/operations.ts';
import { observeMonitorSubject } from '../monitor/monitor-alert.ts';
import type { AlertPolicy } from '../monitor/rules.ts';
import { update, type Store } from '../store/port.ts';

/** A queue message that failed this many times is set aside instead of being redelivered forever
 * (FC's async invocation retries 3 times: 4 attempts, so the third failure is always seen). */
export const MAX_QUEUE_ATTEMPTS = 3;
export const ATTEMPTS_PREFIX = 'receipts/attempts/';
export const POISON_PREFIX = 'receipts/poison/';
const ATTEMPTS_TTL_MS = 24 * 3_600_000;
const POISON_TTL_MS = 30 * 24 * 3_600_000;

/** One MNS message, from the CloudEvent EventBridge delivers (data.messageBody). */
export interface QueueMessage {
  messageId: string;
  body: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The messages of an MNS-trigger event: one CloudEvent, or a batch of them. Undefined when it is not one. */
export function queueMessagesOf(event: unknown): QueueMessage[] | undefined {
  const list = Array.isArray(event) ? event : [event];
  const out: QueueMessage[] = [];
  for (const e of list) {
    if (!isObject(e) || !isObject(e['data']) || typeof e['data']['messageBody'] !== 'string') return undefined;
    const data = e['data'];
    const id = typeof data['messageId'] === 'string' && data['messageId'] ? data['messageId'] : typeof e['id'] === 'string' ? e['id'] : '';
    if (!/^[A-Za-z0-9*_.:-]{1,128}$/.test(id)) return undefined;
    out.push({ messageId: id, body: data['messageBody'] as string });
  }
  return out;
}

/** Counts one more attempt at a message; returns the count including this one. */
export async function countAttempt(store: Store, messageId: string): Promise<number> {
  const r = await update<{ count: number }>(store, ATTEMPTS_PREFIX + messageId, (cur) => ({ count: (cur?.count ?? 0) + 1 }), { ttlMs: ATTEMPTS_TTL_MS });
  return r!.value.count;
}

export async function isSetAside(store: Store, messageId: string): Promise<boolean> {
  return (await store.get(POISON_PREFIX + messageId)) !== undefined;
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
  ctx: { now: number; policy: AlertPolicy; sinks: readonly string[] },
): Promise<void> {
  await store.put(POISON_PREFIX + msg.messageId, { MessageId: msg.messageId, Body: msg.body.slice(0, 64 * 1024), Error: why, Attempts: attempts, At: new Date(ctx.now).toISOString() }, { ttlMs: POISON_TTL_MS });
  const error: HealthError = {
    ErrorCode: 'ReceiptMessageSetAside',
    ErrorDescription: `Queue message ${msg.messageId} was set aside after ${attempts} attempt(s): ${why}`,
    PossibleSolution: `Look at store key ${POISON_PREFIX}${msg.messageId}, then delete it: the alert resolves at the health monitor's next round (or when the key expires, after 30 days). The sweep still checks every watched node.`,
  };
  await observeMonitorSubject(store, { nodeType: 'monitor', entityType: 'ReceiptMessageSetAside', ref: msg.messageId }, 'ERROR', [error], {
    now: ctx.now,
    round: 'receipts',
    policy: ctx.policy,
    sinks: ctx.sinks,
    tiedTo: POISON_PREFIX + msg.messageId,
  });
}
