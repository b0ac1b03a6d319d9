import { describe, expect, it } from 'vitest';
import { markedRisky, RECENT_RECEIPT_MS, riskDue, stillRisky } from '../../../shared/monitor/risk.ts';

describe('risk checks: which nodes, and when', () => {
  const now = 10 * RECENT_RECEIPT_MS;
  it('a receipt newer than the last check is due at once; one the check already followed is not risky', () => {
    expect(riskDue({ lastCheckedAt: now - 10, status: 'AVAILABLE', lastReceiptAt: now - 5 }, now, 60_000)).toBe(true);
    expect(markedRisky({ lastCheckedAt: now - 5, status: 'AVAILABLE', lastReceiptAt: now - 10 })).toBe(false);
    expect(riskDue({ lastCheckedAt: now - 5, status: 'AVAILABLE', lastReceiptAt: now - 10 }, now, 0)).toBe(false);
  });
  it('a receipt older than an hour whose check never happened is no longer risky', () => {
    const old = { lastCheckedAt: now - 3 * RECENT_RECEIPT_MS, status: 'AVAILABLE' as const, lastReceiptAt: now - 2 * RECENT_RECEIPT_MS };
    expect(markedRisky(old)).toBe(true);
    expect(stillRisky(old, now)).toBe(false);
    expect(riskDue(old, now, 0)).toBe(false);
  });
  it('a node that is not AVAILABLE is due once per interval after its last check', () => {
    expect(riskDue({ lastCheckedAt: now - 999, status: 'BLOCKED' }, now, 1000)).toBe(false);
    expect(riskDue({ lastCheckedAt: now - 1000, status: 'BLOCKED' }, now, 1000)).toBe(true);
    expect(stillRisky({ lastCheckedAt: now - 1, status: 'LIMITED' }, now)).toBe(true);
    expect(markedRisky({ lastCheckedAt: now - 1, status: 'AVAILABLE' })).toBe(false);
    expect(markedRisky(undefined)).toBe(false);
  });
});
