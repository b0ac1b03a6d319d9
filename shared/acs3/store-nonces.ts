import { createHash } from 'node:crypto';
import { stderrLog, writeLogRecord } from '../log/log.ts';
import { InMemoryNonceRegistry, type NonceRegistry, type NonceVerdict } from './nonce-cache.ts';
import { StoreError } from '../store/port.ts';

/** The one store operation the registry needs (the Store port's set-if-absent put). */
export interface NonceStore {
  put(key: string, value: unknown, opts: { ifAbsent: true; ttlMs: number }): Promise<string | undefined>;
}

export interface StoreNonceRegistryOptions {
  /** This instance's registry: the fast path, and the only one while the store is unreachable. */
  local?: NonceRegistry;
  now?: () => number;
  /** A store call slower than this counts as unreachable. Default 1000 ms. */
  timeoutMs?: number;
  log?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * Nonces remembered in the shared store (set-if-absent, TTL = the rest of the window), so a request
 * replayed to another instance is refused. This instance's registry answers first: a replay to the
 * same instance costs no round trip. While the store is unreachable only this instance's registry
 * protects (logged once per outage): refusing every request would stop the service.
 */
export class StoreNonceRegistry implements NonceRegistry {
  private readonly local: NonceRegistry;
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly log: NonNullable<StoreNonceRegistryOptions['log']>;
  private degraded = false;

  constructor(
    private readonly store: () => Promise<NonceStore | undefined>,
    opts: StoreNonceRegistryOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.local = opts.local ?? new InMemoryNonceRegistry(undefined, this.now);
    this.timeoutMs = opts.timeoutMs ?? 1000;
    // Through the one log writer: LOG_LEVEL applies, and secrets in an error message are redacted.
    this.log = opts.log ?? ((message, fields) => writeLogRecord(stderrLog, { level: 'warn', message, ...fields }));
  }

  async remember(key: string, expiresAtMs: number): Promise<NonceVerdict> {
    const mine = await this.local.remember(key, expiresAtMs);
    if (mine === 'replayed') return mine;
    let store: NonceStore | undefined;
    try {
      store = await this.store();
      if (!store) return mine;
      const ttlMs = Math.max(1, expiresAtMs - this.now());
      const id = createHash('sha256').update(key).digest('base64url');
      const version = await withTimeout(store.put(`acs3-nonce/${id}`, 1, { ifAbsent: true, ttlMs }), this.timeoutMs);
      this.degraded = false;
      // The store remembers it, so a full local registry need not refuse.
      return version === undefined ? 'replayed' : 'fresh';
    } catch (e) {
      // A wrong STORE_URL is not an outage: checking nonces per instance would hide it for good.
      if (e instanceof TypeError || (e instanceof StoreError && e.code === 'CONFIG')) throw e;
      if (!this.degraded) {
        this.degraded = true;
        this.log('replay cache: the store is unreachable; nonces are checked per instance until it is back', { error: (e as Error)?.message });
      }
      return mine;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  p.catch(() => undefined);
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the store did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
