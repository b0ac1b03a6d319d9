/**
 * In-process store (`memory:`), for tests of code that uses the store. Not shared between processes
 * and gone on exit. Values are kept as JSON text, so callers never share objects with the store.
 */
import { acquireCasLease, type LeaseRecord } from './cas-lease.ts';
import {
  checkKey,
  checkPrefix,
  closedError,
  nextVersion,
  pageOf,
  putMode,
  serialize,
  sortKeys,
} from './internal.ts';
import type { DeleteOptions, Lease, ListOptions, PutOptions, Store, Versioned } from './port.ts';
import { checkSlotArgs, decideSlot, type SlotReservation } from './slots.ts';

interface Entry {
  json: string;
  version: string;
  expiresAt: number | undefined;
}

class Space {
  private readonly entries = new Map<string, Entry>();

  private live(key: string, now = Date.now()): Entry | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt !== undefined && e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  get<T>(key: string): Versioned<T> | undefined {
    const e = this.live(key);
    return e && { value: JSON.parse(e.json) as T, version: e.version };
  }

  put(key: string, value: unknown, opts?: PutOptions): string | undefined {
    const { mode, ttlMs } = putMode(opts);
    const json = serialize(value);
    const now = Date.now();
    const cur = this.live(key, now);
    if (mode.kind === 'ifAbsent' && cur) return undefined;
    if (mode.kind === 'ifVersion' && cur?.version !== mode.version) return undefined;
    const version = nextVersion(cur?.version);
    this.entries.set(key, { json, version, expiresAt: ttlMs === undefined ? undefined : now + ttlMs });
    return version;
  }

  delete(key: string, opts?: DeleteOptions): boolean {
    const cur = this.live(key);
    if (!cur) return false;
    if (opts?.ifVersion !== undefined && cur.version !== opts.ifVersion) return false;
    this.entries.delete(key);
    return true;
  }

  list<T>(prefix: string, opts?: ListOptions): Array<{ key: string } & Versioned<T>> {
    const now = Date.now();
    const keys = [...this.entries.keys()].filter((key) => key.startsWith(prefix) && this.live(key, now));
    sortKeys(keys, (k) => k);
    return pageOf(keys, opts).map((key) => {
      const e = this.entries.get(key)!;
      return { key, value: JSON.parse(e.json) as T, version: e.version };
    });
  }
}

export class MemoryStore implements Store {
  private readonly data = new Space();
  private readonly leases = new Space();
  /** Rate-limit slots: key → TAT (epoch ms). Expired TATs are simply in the past. */
  private readonly slots = new Map<string, number>();
  private closed = false;

  private check(): void {
    if (this.closed) throw closedError();
  }

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    this.check();
    checkKey(key);
    return this.data.get<T>(key);
  }

  async put<T>(key: string, value: T, opts?: PutOptions): Promise<string | undefined> {
    this.check();
    checkKey(key);
    return this.data.put(key, value, opts);
  }

  async delete(key: string, opts?: DeleteOptions): Promise<boolean> {
    this.check();
    checkKey(key);
    return this.data.delete(key, opts);
  }

  async list<T>(prefix: string, opts?: ListOptions): Promise<Array<{ key: string } & Versioned<T>>> {
    this.check();
    checkPrefix(prefix);
    return this.data.list<T>(prefix, opts);
  }

  async acquireLease(name: string, ttlMs: number, owner?: string): Promise<Lease | undefined> {
    this.check();
    const leases = this.leases;
    const check = () => this.check();
    return acquireCasLease(
      {
        async get(n) {
          check();
          return leases.get<LeaseRecord>(n);
        },
        async put(n, v, o) {
          check();
          return leases.put(n, v, o);
        },
        async delete(n, o) {
          check();
          return leases.delete(n, o);
        },
      },
      name,
      ttlMs,
      owner,
    );
  }

  async reserveSlot(key: string, intervalMs: number, maxWaitMs: number): Promise<SlotReservation> {
    this.check();
    checkKey(key, 'slot key');
    checkSlotArgs(intervalMs, maxWaitMs);
    const now = Date.now();
    const d = decideSlot(this.slots.get(key), now, intervalMs, maxWaitMs);
    if (d.nextTat !== undefined) this.slots.set(key, d.nextTat);
    return { granted: d.granted, waitMs: d.waitMs, at: d.at };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
