import type { Store } from '../store/port.ts';
import { receiptStats, STATS_KEY, type ReceiptStats } from './dedup.ts';

/** A WABA receipts named that nothing watched belongs to, one key each (apply.ts keeps it 7 days). */
export const UNKNOWN_WABA_PREFIX = 'receipts/unknown-waba/';

export interface ReceiptSummary {
  stats: ReceiptStats;
  /** The first `listed` WABAs receipts named that nothing watches. */
  unknownWabas: Array<Record<string, unknown>>;
  /** More such WABAs are kept than are listed (the reader must not take the list for all of them). */
  moreUnknownWabas: boolean;
}

/** The push receipts' counts and unknown WABAs, as GET /health-report and the status page show them. */
export async function receiptSummary(store: Store, listed: number): Promise<ReceiptSummary> {
  const [stored, unknown] = await Promise.all([store.get<ReceiptStats>(STATS_KEY), store.list<Record<string, unknown>>(UNKNOWN_WABA_PREFIX, { limit: listed + 1 })]);
  return { stats: receiptStats(stored?.value), unknownWabas: unknown.slice(0, listed).map((e) => e.value), moreUnknownWabas: unknown.length > listed };
}
