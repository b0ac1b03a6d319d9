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
    ...(inner.describe ? { describe: () => inner.describe!() } : {}),
    ...overrides,
  };
}

/** A promise and the function that settles it. */
export function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/**
 * `inner` whose first `get` (or `put`) of a key `at` picks, once done, waits until `resume()`: a
 * process descheduled right after that call, as on a loaded machine. `reached` settles as it stalls;
 * every later call goes straight through.
 */
export function stallAfterFirst(
  inner: Store,
  method: 'get' | 'put',
  at: (key: string, value?: unknown) => boolean,
): { store: Store; reached: Promise<void>; resume: () => void } {
  const reached = gate();
  const resumed = gate();
  let stalls = true;
  const stall = async (hit: boolean) => {
    if (!stalls || !hit) return;
    stalls = false;
    reached.open();
    await resumed.opened;
  };
  const override: Partial<Store> =
    method === 'get'
      ? {
          get: async <T>(k: string) => {
            const got = await inner.get<T>(k);
            await stall(at(k));
            return got;
          },
        }
      : {
          put: async <T>(k: string, v: T, o?: Parameters<Store['put']>[2]) => {
            const version = await inner.put(k, v, o);
            await stall(at(k, v));
            return version;
          },
        };
  return { store: storeWith(inner, override), reached: reached.opened, resume: resumed.open };
}
