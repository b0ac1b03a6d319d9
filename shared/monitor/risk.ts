/**
 * The sweep's risk checks: nodes that are not AVAILABLE, and nodes with a receipt newer than their
 * last check (the targeted check failed or never ran), are looked at first every tick, as extra
 * checks in front of the round's work. The round's own order never changes for them (round-plan.ts).
 */

/** What a node's bookkeeping says about its risk (target-info.ts, TargetInfo). */
export interface RiskFacts {
  lastCheckedAt?: number;
  status?: string;
  lastReceiptAt?: number;
}

/**
 * The risky-node index: one marker per node whose bookkeeping made it risky, written and removed by
 * the one writer of that bookkeeping (target-info.ts noteTarget), so a tick reads the risky nodes instead
 * of every node. A marker whose node is no longer risky is removed by the reader (compare-and-delete).
 */
export const RISKY_PREFIX = 'monitor/risky/';

/** How long a receipt whose check never happened keeps its node risky. */
export const RECENT_RECEIPT_MS = 60 * 60_000;
/**
 * Risk checks are paid with tokens the round's own checks earn, RISK_SHARE each, at most RISK_BURST
 * held: in any stretch of a round they are at most RISK_BURST + RISK_SHARE of its checks, so 1,000
 * BLOCKED nodes cannot starve the round, and they are spread over it rather than bunched.
 */
export const RISK_SHARE = 0.25;
export const RISK_BURST = 1;
/** A non-AVAILABLE node is risk-checked at most once per this share of the last round's length. */
export const RISK_INTERVAL_SHARE = 0.25;

/** Risky as written (no clock): the index follows this. */
export function markedRisky(i: RiskFacts | undefined): boolean {
  return !!i && ((i.status !== undefined && i.status !== 'AVAILABLE') || receiptUnchecked(i));
}

function receiptUnchecked(i: RiskFacts): boolean {
  return i.lastReceiptAt !== undefined && i.lastReceiptAt > (i.lastCheckedAt ?? -Infinity);
}

/**
 * Whether a risky node is due for a risk check now: a receipt its check missed (within the last
 * hour) at once; a node that is not AVAILABLE once `intervalMs` after its last check.
 */
export function riskDue(i: RiskFacts | undefined, now: number, intervalMs: number): boolean {
  if (!i) return false;
  if (receiptUnchecked(i) && now - i.lastReceiptAt! < RECENT_RECEIPT_MS) return true;
  return i.status !== undefined && i.status !== 'AVAILABLE' && now - (i.lastCheckedAt ?? -Infinity) >= intervalMs;
}

/** Whether the node is still risky at all (a marker for one that is not is stale). */
export function stillRisky(i: RiskFacts | undefined, now: number): boolean {
  return !!i && ((i.status !== undefined && i.status !== 'AVAILABLE') || (receiptUnchecked(i) && now - i.lastReceiptAt! < RECENT_RECEIPT_MS));
}
