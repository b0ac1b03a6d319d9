import { createHash } from 'node:crypto';
import { update, type Store, type Versioned } from '../store/port.ts';

/**
 * The dedup rule, from what the notes say of CAMS's redelivery (../shared/notes/receipts.md):
 * receipts "may arrive more than once", and nothing more: no id, no time, no bound on how soon or
 * how often a retry comes. So no time window can tell CAMS's retry of a push from a genuine repeat
 * (BLOCKED, AVAILABLE, LIMITED, AVAILABLE again carries the same content twice, and the old 3-day
 * content key dropped the second AVAILABLE). What tells them apart is whether anything happened to
 * the node in between: a receipt is a redelivery when it has the same content as the last receipt
 * acted on for its node, and the monitor has found nothing new about the node since (no other
 * receipt, no other status from any check, the sweep's included, no other state of the entity an
 * early warning feeds). Acting on a retry by mistake costs one check, since the rules never send an
 * alert twice; dropping a genuine repeat cost its alert a sweep round.
 * A push holding several receipts for one node is judged as one: its receipts for the node, in
 * order, are a redelivery when they are the same sequence as the one last acted on for the node
 * (remembered whole), else each is acted on; remembering only the last, a retried push of paused then
 * pass acted on paused again (the alert fired and resolved once more).
 * Left ambiguous: CAMS retrying an older push after a newer one (A, B, then A again) is acted on,
 * which for an early warning (quality, template review) re-applies the older state until the next
 * receipt or listing says otherwise.
 */
export const LAST_RECEIPT_PREFIX = 'receipts/last/';
export const STATS_KEY = 'receipts/stats';
/** Bounds the record only: a receipt older than this is acted on again, one check. */
const LAST_RECEIPT_TTL_MS = 3 * 24 * 3_600_000;

/** Per node (`receipts/last/<targetId>`): the last receipt acted on for it, and what its last check said then. */
export interface LastReceipt {
  /** receiptKey of that receipt. */
  key: string;
  /** When its push acted on more than one receipt for the node: their keys in order, `key` the last. */
  keys?: string[];
  /** The node's last check's worst status (monitor/target/) once that receipt was acted on; absent when never checked. */
  status?: string;
  at: number;
}

export interface ReceiptStats {
  received: number;
  processed: number;
  duplicates: number;
  invalid: number;
  unknown: number;
  unknownWaba: number;
  /** About nodes taken off the watch list by hand. */
  removed: number;
  /** Look-ups of a space's WABA CAMS refused for the function's own credentials or grant (its role needs fixing). */
  lookUpRefused: number;
}

/** Every count, 0 where none was kept (before the first receipt; a record an earlier version wrote, without `removed` or `lookUpRefused`). */
export function receiptStats(stored: Partial<ReceiptStats> | undefined): ReceiptStats {
  return { received: 0, processed: 0, duplicates: 0, invalid: 0, unknown: 0, unknownWaba: 0, removed: 0, lookUpRefused: 0, ...stored };
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

/** What dedup reads about a node before acting on a receipt for it. */
export interface NodeReceipts {
  last?: Versioned<LastReceipt>;
  /** The node's last check's worst status now. */
  status?: string;
}

export async function readLastReceipt(store: Store, node: string): Promise<Versioned<LastReceipt> | undefined> {
  return store.get<LastReceipt>(LAST_RECEIPT_PREFIX + node);
}

/** The keys of the receipts last acted on for the node, in order. */
const sequenceOf = (last: LastReceipt): string[] => last.keys ?? [last.key];
const sameSequence = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((k, i) => k === b[i]);

/**
 * The same receipts (the push's for the node, in order) as the last acted on for the node, with
 * nothing seen to happen to the node since.
 */
export function isRedelivery(seen: NodeReceipts, keys: readonly string[]): boolean {
  const last = seen.last?.value;
  return !!last && sameSequence(sequenceOf(last), keys) && last.status === seen.status;
}

/**
 * Records `keys` (the push's receipts acted on for the node, in order) as the node's last acted on, with the node's status after acting on it.
 * Written after the receipt was acted on, so a crash before it redoes the work (which the rules make
 * harmless) instead of losing it. False when another delivery of the same receipt, acted on at the
 * same time, recorded it first (`read` is the record this delivery read before acting): that one
 * counts as the duplicate.
 */
export async function markActedOn(store: Store, node: string, keys: readonly string[], status: string | undefined, now: number, read: string | undefined): Promise<boolean> {
  const value: LastReceipt = { key: keys.at(-1)!, ...(keys.length > 1 ? { keys: [...keys] } : {}), ...(status === undefined ? {} : { status }), at: now };
  for (;;) {
    const cur = await store.get<LastReceipt>(LAST_RECEIPT_PREFIX + node);
    if (cur && cur.version !== read && sameSequence(sequenceOf(cur.value), keys)) return false;
    const opts = cur ? { ifVersion: cur.version, ttlMs: LAST_RECEIPT_TTL_MS } : { ifAbsent: true, ttlMs: LAST_RECEIPT_TTL_MS };
    if ((await store.put(LAST_RECEIPT_PREFIX + node, value, opts)) !== undefined) return true;
  }
}

export async function countReceipts(store: Store, delta: Partial<ReceiptStats>): Promise<void> {
  if (Object.values(delta).every((n) => !n)) return;
  await update<ReceiptStats>(store, STATS_KEY, (cur) => {
    const next = receiptStats(cur);
    for (const [k, n] of Object.entries(delta) as Array<[keyof ReceiptStats, number]>) next[k] += n;
    return next;
  });
}
