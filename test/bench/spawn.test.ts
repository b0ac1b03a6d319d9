import { describe, expect, it } from 'vitest';
import { roundOrder } from '../../bench/lib/spawn.ts';

describe('roundOrder (the order alternate() runs a round in)', () => {
  it('is a permutation of the variants, the same for the same round', () => {
    for (let r = -1; r < 30; r++) {
      const order = roundOrder(7, r);
      expect([...order].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(roundOrder(7, r)).toEqual(order);
    }
  });

  it('over 20 rounds, every variant runs first at least once and follows more than one other variant', () => {
    const n = 5;
    const first = new Set<number>();
    const before = Array.from({ length: n }, () => new Set<number>());
    for (let r = 0; r < 20; r++) {
      const order = roundOrder(n, r);
      first.add(order[0]!);
      for (let i = 1; i < n; i++) before[order[i]!]!.add(order[i - 1]!);
    }
    expect(first.size).toBe(n);
    // a rotation would give each variant exactly one predecessor
    for (const b of before) expect(b.size).toBeGreaterThan(1);
  });
});
