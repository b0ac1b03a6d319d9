/**
 * Remembers signature nonces for the verification window so a captured request cannot be replayed.
 * The interface is async so that a shared store can back it across instances.
 */
export interface NonceRegistry {
  /** True when the nonce is new (and is now remembered until expiresAtMs); false when already seen. */
  remember(key: string, expiresAtMs: number): boolean | Promise<boolean>;
}

/**
 * Bounded in-memory registry. When full it evicts the entries closest to expiry first
 * (insertion order approximates that, since every entry lives for the same window).
 */
export class InMemoryNonceRegistry implements NonceRegistry {
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  remember(key: string, expiresAtMs: number): boolean {
    const t = this.now();
    const seen = this.entries.get(key);
    if (seen !== undefined && seen > t) return false;
    if (seen !== undefined) this.entries.delete(key);
    this.sweep(t);
    this.entries.set(key, expiresAtMs);
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  private sweep(t: number): void {
    for (const [key, exp] of this.entries) {
      if (exp > t && this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}
