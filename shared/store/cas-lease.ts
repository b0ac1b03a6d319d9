/**
 * A lease built from compare-and-set on a key space of its own (used by the file and memory
 * adapters; redis has native scripts). Every transition is one conditional write, so it is as safe as
 * the space's CAS.
 */
import { checkKey, checkTtl, defaultOwner } from './internal.ts';
import type { Lease, PutOptions, Versioned } from './port.ts';

export interface LeaseSpace {
  get(name: string): Promise<Versioned<LeaseRecord> | undefined>;
  put(name: string, value: LeaseRecord, opts: PutOptions): Promise<string | undefined>;
  delete(name: string, opts: { ifVersion: string }): Promise<boolean>;
}

export interface LeaseRecord {
  owner: string;
}

const MAX_RACES = 20;

export async function acquireCasLease(
  space: LeaseSpace,
  name: string,
  ttlMs: number,
  owner: string | undefined,
): Promise<Lease | undefined> {
  checkKey(name, 'lease name');
  const ttl = checkTtl(ttlMs);
  const who = owner ?? defaultOwner();
  if (typeof who !== 'string' || who.length === 0) throw new TypeError('lease owner must be a non-empty string');
  for (let i = 0; i < MAX_RACES; i++) {
    const started = Date.now();
    const current = await space.get(name);
    if (current && current.value.owner !== who) return undefined;
    const opts: PutOptions = current ? { ifVersion: current.version, ttlMs: ttl } : { ifAbsent: true, ttlMs: ttl };
    if ((await space.put(name, { owner: who }, opts)) !== undefined) {
      return new CasLease(space, name, who, ttl, started + ttl);
    }
    // Lost a race: look again (someone else may now hold it).
  }
  return undefined;
}

class CasLease implements Lease {
  constructor(
    private readonly space: LeaseSpace,
    readonly name: string,
    readonly owner: string,
    private readonly ttlMs: number,
    public expiresAt: number,
  ) {}

  async renew(ttlMs?: number): Promise<boolean> {
    const ttl = ttlMs === undefined ? this.ttlMs : checkTtl(ttlMs);
    for (let i = 0; i < MAX_RACES; i++) {
      const started = Date.now();
      const current = await this.space.get(this.name);
      if (!current || current.value.owner !== this.owner) return false;
      if ((await this.space.put(this.name, { owner: this.owner }, { ifVersion: current.version, ttlMs: ttl })) !== undefined) {
        this.expiresAt = started + ttl;
        return true;
      }
    }
    return false;
  }

  async release(): Promise<boolean> {
    this.expiresAt = 0;
    for (let i = 0; i < MAX_RACES; i++) {
      const current = await this.space.get(this.name);
      if (!current || current.value.owner !== this.owner) return false;
      if (await this.space.delete(this.name, { ifVersion: current.version })) return true;
    }
    return false;
  }
}
