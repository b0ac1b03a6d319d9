import { describe, expect, it } from 'vitest';
import { orderByRisk, RECENT_RECEIPT_MS, type TargetInfo } from '../../../shared/monitor/check.ts';

describe('the sweep as backstop: risk order', () => {
  it('recent receipts and non-AVAILABLE nodes first, then the least recently checked, never-checked first', () => {
    const now = 10 * RECENT_RECEIPT_MS;
    const info = new Map<string, TargetInfo>([
      ['a', { lastCheckedAt: now - 10, status: 'AVAILABLE' }],
      ['b', { lastCheckedAt: now - 5000, status: 'AVAILABLE' }],
      ['c', { lastCheckedAt: now - 1, status: 'BLOCKED' }],
      ['d', { lastCheckedAt: now - 20, status: 'AVAILABLE', lastReceiptAt: now - 1000 }],
      ['e', { lastCheckedAt: now - 30, status: 'AVAILABLE', lastReceiptAt: now - 2 * RECENT_RECEIPT_MS }],
      // f: never checked
    ]);
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => ({ id }));
    expect(orderByRisk(ids, info, now).map((t) => t.id)).toEqual(['d', 'c', 'f', 'b', 'e', 'a']);
  });
});
