import { describe, expect, it } from 'vitest';
import { InMemoryNonceRegistry } from '../../../shared/acs3/nonce-cache.ts';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const MIN = 60_000;

function registry(capacity: number) {
  const clock = { t: T0 };
  return { clock, reg: new InMemoryNonceRegistry(capacity, () => clock.t) };
}

describe('InMemoryNonceRegistry', () => {
  it('refuses a nonce for its whole window and takes it again once expired', () => {
    const { clock, reg } = registry(10);
    const expiry = T0 + 15 * MIN;
    expect(reg.remember('k:a', expiry)).toBe('fresh');
    for (const at of [T0, T0 + 1, T0 + 7 * MIN, expiry - 1]) {
      clock.t = at;
      expect(reg.remember('k:a', expiry)).toBe('replayed');
    }
    clock.t = expiry + 1000;
    expect(reg.remember('k:a', clock.t + 15 * MIN)).toBe('fresh');
  });

  it('keys are exact: another key id with the same nonce is a different entry', () => {
    const { reg } = registry(10);
    expect(reg.remember('k1:n', T0 + MIN)).toBe('fresh');
    expect(reg.remember('k2:n', T0 + MIN)).toBe('fresh');
    expect(reg.remember('k1:n', T0 + MIN)).toBe('replayed');
  });

  it('when full of unexpired nonces, refuses new ones (fail closed) and still knows every old one', () => {
    const { clock, reg } = registry(3);
    for (const k of ['a', 'b', 'c']) expect(reg.remember(k, T0 + 15 * MIN)).toBe('fresh');
    expect(reg.remember('d', T0 + 15 * MIN)).toBe('full');
    expect(reg.size).toBe(3);
    clock.t = T0 + 14 * MIN;
    for (const k of ['a', 'b', 'c']) expect(reg.remember(k, T0 + 15 * MIN)).toBe('replayed');
    expect(reg.remember('d', T0 + 29 * MIN)).toBe('full');
  });

  it('makes room by evicting expired nonces first, oldest expiry first, never an unexpired one', () => {
    const { clock, reg } = registry(3);
    // Inserted out of expiry order: the verifier's expiry follows the caller's x-acs-date.
    expect(reg.remember('late', T0 + 20 * MIN)).toBe('fresh');
    expect(reg.remember('early', T0 + 5 * MIN)).toBe('fresh');
    expect(reg.remember('mid', T0 + 10 * MIN)).toBe('fresh');
    clock.t = T0 + 5 * MIN + 1000;
    expect(reg.remember('new1', T0 + 30 * MIN)).toBe('fresh');
    expect(reg.remember('new2', T0 + 30 * MIN)).toBe('full');
    expect(reg.remember('mid', T0 + 10 * MIN)).toBe('replayed');
    expect(reg.remember('late', T0 + 20 * MIN)).toBe('replayed');
    clock.t = T0 + 10 * MIN + 1000;
    expect(reg.remember('new2', T0 + 30 * MIN)).toBe('fresh');
    expect(reg.remember('late', T0 + 20 * MIN)).toBe('replayed');
    expect(reg.size).toBe(3);
  });

  it('drops everything expired after a long idle gap, and sweeps an expiry already past', () => {
    const { clock, reg } = registry(5);
    reg.remember('past', T0 - 5000);
    for (const k of ['a', 'b', 'c', 'd']) reg.remember(k, T0 + 15 * MIN);
    expect(reg.size).toBe(5);
    clock.t = T0 + 1000;
    expect(reg.remember('e', T0 + 15 * MIN)).toBe('fresh');
    expect(reg.size).toBe(5);
    clock.t = T0 + 24 * 60 * MIN;
    expect(reg.remember('a', clock.t + 15 * MIN)).toBe('fresh');
    expect(reg.size).toBe(1);
  });

  it('keeps its entries when the clock steps back', () => {
    const { clock, reg } = registry(5);
    clock.t = T0 + 10 * MIN;
    reg.remember('a', T0 + 20 * MIN);
    clock.t = T0;
    expect(reg.remember('a', T0 + 20 * MIN)).toBe('replayed');
    clock.t = T0 + 19 * MIN;
    expect(reg.remember('a', T0 + 20 * MIN)).toBe('replayed');
  });

  it('stores a nonce of any length in bounded space (hashed), and still tells it apart', () => {
    const { reg } = registry(5);
    const long = 'n'.repeat(1_000_000);
    expect(reg.remember(`k:${long}`, T0 + MIN)).toBe('fresh');
    expect(reg.remember(`k:${long}`, T0 + MIN)).toBe('replayed');
    expect(reg.remember(`k:${long}x`, T0 + MIN)).toBe('fresh');
    // Memory per entry: the retained strings are digests, not the megabyte-long keys.
    const retained = [...(reg as unknown as { entries: Set<string> }).entries];
    expect(retained.every((id) => id.length < 64)).toBe(true);
  });
});
