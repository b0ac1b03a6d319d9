import type { Store } from '../../shared/store/port.ts';

/**
 * `inner` with some of its methods replaced (to count, delay or break them); every other method is
 * inner's own, so a test spells out only what it changes.
 */
export function storeWith(inner: Store, overrides: Partial<Store>): Store {
  return {
    get: (k) => inner.get(k),
    put: (k, v, o) => inner.put(k, v, o),
    delete: (k, o) => inner.delete(k, o),
    list: (p, o) => inner.list(p, o),
    acquireLease: (n, t, o) => inner.acquireLease(n, t, o),
    reserveSlot: (k, i, w) => inner.reserveSlot(k, i, w),
    close: () => inner.close(),
    ...(inner.connect ? { connect: () => inner.connect!() } : {}),
    ...overrides,
  };
}
