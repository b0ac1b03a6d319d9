import { createHash } from 'node:crypto';

/**
 * What a registry says about a nonce: new (and now remembered), seen inside its window, or not
 * recordable because the registry is full. `full` must refuse the request: forgetting an unexpired
 * nonce to make room would let a captured request replay.
 */
export type NonceVerdict = 'fresh' | 'replayed' | 'full';

/**
 * Remembers signature nonces for the verification window so a captured request cannot be replayed.
 * The interface is async so that a shared store can back it across instances.
 */
export interface NonceRegistry {
  /** Records key until at least expiresAtMs, unless it is already there or there is no room. */
  remember(key: string, expiresAtMs: number): NonceVerdict | Promise<NonceVerdict>;
}

export const DEFAULT_NONCE_CAPACITY = 100_000;
const BUCKET_MS = 1000;

/**
 * Bounded in-memory registry. Entries sit in one-second expiry buckets; each call first drops the
 * buckets that have fully expired (each entry and each second is visited once: O(1) amortised), and
 * an unexpired entry is never dropped: when the registry is still full, the new nonce is refused.
 * An entry may be remembered up to one bucket (1 s) past its expiry, never less.
 */
export class InMemoryNonceRegistry implements NonceRegistry {
  /** Hashed keys: hashing bounds the memory of caller-chosen nonces of any length. */
  private readonly entries = new Set<string>();
  private readonly buckets = new Map<number, string[]>();
  /** Every bucket below this one has been dropped. */
  private cursor = -Infinity;

  constructor(
    private readonly capacity = DEFAULT_NONCE_CAPACITY,
    private readonly now: () => number = Date.now,
  ) {}

  remember(key: string, expiresAtMs: number): NonceVerdict {
    this.sweep(this.now());
    const id = createHash('sha256').update(key).digest('base64');
    if (this.entries.has(id)) return 'replayed';
    if (this.entries.size >= this.capacity) return 'full';
    // An expiry already past still lands in a bucket the sweep will reach.
    const bucket = Math.max(Math.ceil(expiresAtMs / BUCKET_MS), this.cursor);
    this.entries.add(id);
    const list = this.buckets.get(bucket);
    if (list) list.push(id);
    else this.buckets.set(bucket, [id]);
    return 'fresh';
  }

  get size(): number {
    return this.entries.size;
  }

  /** Drops every bucket whose whole second has passed. */
  private sweep(t: number): void {
    const last = Math.floor(t / BUCKET_MS);
    if (last < this.cursor) return;
    if (this.buckets.size === 0) {
      this.cursor = last + 1;
      return;
    }
    // After a long idle gap, walking the seconds would cost more than walking the live buckets.
    if (last - this.cursor > this.buckets.size) {
      for (const bucket of [...this.buckets.keys()]) if (bucket <= last) this.drop(bucket);
    } else {
      for (let b = this.cursor; b <= last; b++) this.drop(b);
    }
    this.cursor = last + 1;
  }

  private drop(bucket: number): void {
    const list = this.buckets.get(bucket);
    if (!list) return;
    for (const id of list) this.entries.delete(id);
    this.buckets.delete(bucket);
  }
}
