import { afterEach, describe, expect, it, vi } from 'vitest';
import { InMemoryNonceRegistry } from '../../../shared/acs3/nonce-cache.ts';
import { StoreNonceRegistry, type NonceStore } from '../../../shared/acs3/store-nonces.ts';
import { openStore, StoreError } from '../../../shared/store/index.ts';

const WINDOW = 15 * 60_000;

describe('StoreNonceRegistry', () => {
  it('two instances on one store: the second sees the first one\'s nonce as replayed', async () => {
    const store = await openStore('memory:');
    const a = new StoreNonceRegistry(async () => store);
    const b = new StoreNonceRegistry(async () => store);
    const exp = Date.now() + WINDOW;
    expect(await a.remember('k:n1', exp)).toBe('fresh');
    expect(await b.remember('k:n1', exp)).toBe('replayed');
    expect(await b.remember('k:n2', exp)).toBe('fresh');
    expect(await a.remember('k:n2', exp)).toBe('replayed');
  });

  it('the key lives for the rest of the window only (TTL), under a hashed name', async () => {
    const puts: Array<{ key: string; ttlMs: number }> = [];
    const store: NonceStore = {
      put: async (key, _v, opts) => (puts.push({ key, ttlMs: opts.ttlMs }), '1'),
    };
    const now = 1_000_000;
    const reg = new StoreNonceRegistry(async () => store, { now: () => now });
    await reg.remember('AK:secret-looking-nonce', now + 60_000);
    expect(puts).toEqual([{ key: expect.stringMatching(/^acs3-nonce\/[A-Za-z0-9_-]{43}$/), ttlMs: 60_000 }]);
  });

  it('this instance answers a replay to itself without asking the store', async () => {
    let calls = 0;
    const store: NonceStore = { put: async () => (calls++, '1') };
    const reg = new StoreNonceRegistry(async () => store);
    const exp = Date.now() + WINDOW;
    expect(await reg.remember('n', exp)).toBe('fresh');
    expect(await reg.remember('n', exp)).toBe('replayed');
    expect(calls).toBe(1);
  });

  it('a full local registry defers to the store, which remembers the nonce', async () => {
    const store = await openStore('memory:');
    const reg = new StoreNonceRegistry(async () => store, { local: new InMemoryNonceRegistry(1) });
    const exp = Date.now() + WINDOW;
    expect(await reg.remember('a', exp)).toBe('fresh');
    expect(await reg.remember('b', exp)).toBe('fresh');
    expect(await reg.remember('b', exp)).toBe('replayed');
  });

  it('store unreachable: per-instance protection, logged once; the store again when it is back', async () => {
    let up = false;
    const backing = await openStore('memory:');
    const store: NonceStore = {
      put: (k, v, o) => (up ? backing.put(k, v, o) : Promise.reject(new StoreError('UNAVAILABLE', 'redis down'))),
    };
    const logs: string[] = [];
    const other = new StoreNonceRegistry(async () => backing);
    const reg = new StoreNonceRegistry(async () => store, { log: (m) => logs.push(m) });
    const exp = Date.now() + WINDOW;
    expect(await reg.remember('x', exp)).toBe('fresh');
    expect(await reg.remember('x', exp)).toBe('replayed');
    expect(await reg.remember('y', exp)).toBe('fresh');
    expect(logs).toHaveLength(1);
    up = true;
    expect(await other.remember('z', exp)).toBe('fresh');
    expect(await reg.remember('z', exp)).toBe('replayed');
  });

  describe('its default log line goes through the one log writer', () => {
    afterEach(() => {
      vi.restoreAllMocks();
      delete process.env['LOG_LEVEL'];
    });
    const failing: NonceStore = { put: () => Promise.reject(new StoreError('UNAVAILABLE', 'redis store redis://:pw0rd-secret@10.0.0.1:6379 unavailable')) };
    const stderrLines = () => {
      const lines: string[] = [];
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (lines.push(String(chunk)), true));
      return lines;
    };

    it('a password in the store error shows as ***', async () => {
      const lines = stderrLines();
      await new StoreNonceRegistry(async () => failing).remember('k:n', Date.now() + WINDOW);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', error: expect.stringContaining('redis://***@10.0.0.1:6379') });
      expect(lines[0]).not.toContain('pw0rd-secret');
    });

    it('LOG_LEVEL=error keeps the warning out', async () => {
      process.env['LOG_LEVEL'] = 'error';
      const lines = stderrLines();
      await new StoreNonceRegistry(async () => failing).remember('k:n', Date.now() + WINDOW);
      expect(lines).toEqual([]);
    });
  });

  it('no store configured: the local registry alone', async () => {
    const reg = new StoreNonceRegistry(async () => undefined);
    const exp = Date.now() + WINDOW;
    expect(await reg.remember('n', exp)).toBe('fresh');
    expect(await reg.remember('n', exp)).toBe('replayed');
  });
});
