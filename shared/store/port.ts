/**
 * The state store port. Core code depends on this file and on `openStore` only; adapters
 * (file, redis, memory) live behind it and are chosen by STORE_URL.
 *
 * Semantics every adapter guarantees (checked by test/shared/store/contract.ts):
 * - Values are JSON: what `get` returns is `JSON.parse(JSON.stringify(value))` of what was put
 *   (so Dates come back as strings, `undefined` properties vanish). A value that does not
 *   serialise (`undefined`, a function) is rejected with a TypeError.
 * - A version is an opaque string that changes on every successful write. It is never reused for a
 *   key, not even after the key is deleted or expires and is written again (no ABA).
 * - An expired key behaves exactly like an absent key for get, put (ifAbsent succeeds, ifVersion
 *   fails), delete (returns false) and list.
 * - A put without `ttlMs` stores the key without expiry (it clears an earlier TTL).
 * - Keys are non-empty, well-formed Unicode strings of at most MAX_KEY_LENGTH UTF-16 units; any
 *   character is allowed (slashes, glob characters, newlines...).
 * - Leases live in their own space: a lease name never collides with a key and leases never appear in
 *   `list`. So do rate-limit slots (`reserveSlot`).
 */
import type { SlotReservation } from './slots.ts';

export type { SlotReservation } from './slots.ts';

export interface Versioned<T> {
  value: T;
  version: string;
}

export interface PutOptions {
  /** Compare-and-set: write only when the key exists (unexpired) with exactly this version. */
  ifVersion?: string;
  /** Set-if-absent: write only when the key is absent or expired. Exclusive with ifVersion. */
  ifAbsent?: boolean;
  /** Time to live in milliseconds (> 0). Without it the key does not expire. */
  ttlMs?: number;
}

/** A page of list(): keys strictly after `after` (in key order), at most `limit` of them. */
export interface ListOptions {
  after?: string;
  /** A positive integer; without it, every key. */
  limit?: number;
}

export interface DeleteOptions {
  /** Delete only when the key exists (unexpired) with exactly this version. */
  ifVersion?: string;
}

/** What a store's backend says of itself (describe()): what it may do to our keys. */
export interface StoreDescription {
  /**
   * The backend's eviction policy when full (redis `maxmemory-policy`, read from INFO), or
   * `unknown` when it would not say (INFO refused or renamed, the field missing or odd). Every
   * policy but `noeviction` can evict keys of ours: the `volatile-*` ones those with a TTL (leases,
   * nonces, budget slots), the `allkeys-*` ones any.
   */
  evictionPolicy: string;
}

export interface Store {
  /** The current value and version, or undefined when the key is absent or expired. */
  get<T>(key: string): Promise<Versioned<T> | undefined>;
  /**
   * Unconditional put, compare-and-set with `ifVersion`, or set-if-absent with `ifAbsent`.
   * Returns the new version, or undefined when the condition failed (nothing was written).
   */
  put<T>(key: string, value: T, opts?: PutOptions): Promise<string | undefined>;
  /** True when a (matching, unexpired) key was deleted. */
  delete(key: string, opts?: DeleteOptions): Promise<boolean>;
  /**
   * Every unexpired key that starts with `prefix` (plain string prefix, no patterns), sorted by key
   * (by code point, which is UTF-8 byte order: compareKeys in internal.ts).
   * With `after`/`limit`, one page of that list: only the page's values are read, so a reader can
   * walk a large prefix in bounded steps (the next page starts after the last key returned).
   */
  list<T>(prefix: string, opts?: ListOptions): Promise<Array<{ key: string } & Versioned<T>>>;
  /**
   * Take the lease `name` for `ttlMs`. Returns a handle, or undefined when another owner holds an
   * unexpired lease. Acquiring with the owner that already holds it re-enters and extends it.
   * `owner` defaults to a fresh unique id, so two calls without an owner never share a lease.
   */
  acquireLease(name: string, ttlMs: number, owner?: string): Promise<Lease | undefined>;
  /**
   * Reserve the next slot of the rate limit `key` (one call per `intervalMs`), atomically across every
   * process sharing the store, if it is at most `maxWaitMs` ahead; a refusal changes nothing. Times
   * are the store's clock (redis: its TIME), so callers on different hosts agree. See slots.ts.
   */
  reserveSlot(key: string, intervalMs: number, maxWaitMs: number): Promise<SlotReservation>;
  /**
   * Start connecting now, where the adapter has a connection to make (redis), so its round trips run
   * beside other work. A failure is left to the next operation, which joins an attempt still in
   * flight rather than starting another. Adapters with nothing to connect leave it out.
   */
  connect?(): void;
  /**
   * What the backend says of itself, asked anew on each call (redis: one INFO, a command on no key
   * of ours): callers decide how often. A refusal to say is `unknown`, not an error; it rejects only
   * as any operation does when the backend cannot be reached. Adapters with nothing to say (the file
   * and memory stores evict nothing) leave it out.
   */
  describe?(): Promise<StoreDescription>;
  /** Release resources (connections). Any later call rejects with StoreError code CLOSED. */
  close(): Promise<void>;
}

export interface Lease {
  readonly name: string;
  readonly owner: string;
  /**
   * When the lease runs out by this process's clock (a conservative estimate: measured from before
   * the request that took or renewed it). Do not start work that cannot finish before it.
   */
  readonly expiresAt: number;
  /** Extend by ttlMs (default: the ttl it was acquired with). False when the lease was lost (expired or taken). */
  renew(ttlMs?: number): Promise<boolean>;
  /** Give the lease up. True when it was still held by this owner; false when it had already been lost. */
  release(): Promise<boolean>;
}

export type StoreErrorCode =
  /** STORE_URL is missing, malformed or names an unsupported scheme. */
  | 'CONFIG'
  /**
   * The backend cannot be reached (redis connection refused / timed out / closed), or answers that it
   * cannot serve the command for now (redis full under noeviction, loading, a read-only replica).
   */
  | 'UNAVAILABLE'
  /** The backend answered with an error, or holds data this adapter did not write. */
  | 'BACKEND'
  /** The file store could not take a key lock in time (another process holds it). */
  | 'LOCK_TIMEOUT'
  /** update(): too many compare-and-set conflicts in a row. */
  | 'CONFLICT'
  /** The store was closed. */
  | 'CLOSED';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const MAX_KEY_LENGTH = 1024;

export interface UpdateOptions {
  ttlMs?: number;
  /** Give up with StoreError CONFLICT after this many lost races (default 100). */
  maxAttempts?: number;
}

/**
 * Read-modify-write with compare-and-set, retried on conflict. `fn` gets the current value (undefined
 * when absent) and returns the new value, or undefined to leave the key as it is. Returns what is
 * stored afterwards (undefined when the key is absent and fn declined to create it).
 */
export async function update<T>(
  store: Store,
  key: string,
  fn: (current: T | undefined) => T | undefined | Promise<T | undefined>,
  opts: UpdateOptions = {},
): Promise<Versioned<T> | undefined> {
  const maxAttempts = opts.maxAttempts ?? 100;
  for (let attempt = 1; ; attempt++) {
    const current = await store.get<T>(key);
    const next = await fn(current?.value);
    if (next === undefined) return current;
    const putOpts: PutOptions = current ? { ifVersion: current.version } : { ifAbsent: true };
    if (opts.ttlMs !== undefined) putOpts.ttlMs = opts.ttlMs;
    const version = await store.put(key, next, putOpts);
    if (version !== undefined) return { value: JSON.parse(JSON.stringify(next)) as T, version };
    if (attempt >= maxAttempts) {
      throw new StoreError('CONFLICT', `update of store key ${JSON.stringify(key)} lost ${attempt} compare-and-set races in a row`);
    }
    // Jittered backoff so racing writers spread out.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 50)));
  }
}
