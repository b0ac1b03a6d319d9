import { createHash } from 'node:crypto';
import { update, type Store } from '../store/port.ts';

/** CAMS may deliver a receipt more than once; one delivery is acted on, the others are counted. */
export const SEEN_PREFIX = 'receipts/seen/';
export const STATS_KEY = 'receipts/stats';
/** Long enough to outlast CAMS's redelivery and a queue's retention of a stuck message. */
const SEEN_TTL_MS = 3 * 24 * 3_600_000;

export interface ReceiptStats {
  received: number;
  processed: number;
  duplicates: number;
  invalid: number;
  unknown: number;
  unknownWaba: number;
}

/** Receipts carry no id: the same content is the same receipt (keys sorted, so field order does not matter). */
export function receiptKey(raw: unknown): string {
  return createHash('sha256').update(canonical(raw)).digest('hex').slice(0, 32);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export async function alreadySeen(store: Store, key: string): Promise<boolean> {
  return (await store.get(SEEN_PREFIX + key)) !== undefined;
}

/**
 * Marks a receipt done, after it was acted on (a crash before this redoes it, which the rules make
 * harmless). False when another delivery marked it first: that one counts as the duplicate.
 */
export async function markSeen(store: Store, key: string, now: number): Promise<boolean> {
  return (await store.put(SEEN_PREFIX + key, { at: now }, { ifAbsent: true, ttlMs: SEEN_TTL_MS })) !== undefined;
}

export async function countReceipts(store: Store, delta: Partial<ReceiptStats>): Promise<void> {
  if (Object.values(delta).every((n) => !n)) return;
  await update<ReceiptStats>(store, STATS_KEY, (cur) => {
    const next: ReceiptStats = { received: 0, processed: 0, duplicates: 0, invalid: 0, unknown: 0, unknownWaba: 0, ...cur };
    for (const [k, n] of Object.entries(delta) as Array<[keyof ReceiptStats, number]>) next[k] += n;
    return next;
  });
}
