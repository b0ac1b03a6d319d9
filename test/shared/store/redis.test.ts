import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, StoreError, type Store } from '../../../shared/store/index.ts';
import { ReplyReader } from '../../../shared/store/redis-connection.ts';
import { escapeGlob } from '../../../shared/store/redis-store.ts';
import { storeContract } from './contract.ts';
import { inCI } from '../../support/ci.ts';
import { until } from '../../support/until.ts';
import { connectionsReceived, findOnPath, freePort, startRedisServer, type RedisServer } from './redis-server.ts';

const redisBin = findOnPath('redis-server');

if (!redisBin && inCI) {
  describe('redis store', () => {
    it('needs redis-server on PATH when CI is set (CI installs it)', () => {
      throw new Error('redis-server not found on PATH, and CI is set: the redis store contract cannot run');
    });
  });
}

const ns = () => `test-${randomBytes(4).toString('hex')}:`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe.skipIf(!redisBin)(
  redisBin ? 'redis store (real redis-server)' : 'redis store — SKIPPED: redis-server not found on PATH (set CI to make this fail)',
  () => {
    let server: RedisServer;
    let raw: Redis;
    beforeAll(async () => {
      server = await startRedisServer(redisBin!);
      raw = new Redis(server.port, '127.0.0.1', { lazyConnect: true });
      await raw.connect();
    });
    afterAll(async () => {
      raw?.disconnect();
      await server?.stop();
    });

    describe('contract', () => {
      storeContract(async () => {
        const url = `${server.url}/0?namespace=${encodeURIComponent(ns())}`;
        return { store: await openStore(url), another: () => openStore(url) };
      });
    });

    it('keeps keys and leases under the namespace, with PX expiry', async () => {
      const n = ns();
      const store = await openStore(`${server.url}?namespace=${n}`);
      await store.put('k', { a: 1 }, { ttlMs: 60_000 });
      await store.put('forever', 1);
      await store.acquireLease('l', 60_000, 'me');
      expect((await raw.keys(`${n}*`)).sort()).toEqual([`${n}buckets`, `${n}exp:`, `${n}idx:`, `${n}kv:forever`, `${n}kv:k`, `${n}lease:l`]);
      expect(await raw.zrange(`${n}idx:`, 0, -1)).toEqual(['forever', 'k']);
      const [member, expiresAt] = await raw.zrange(`${n}exp:`, 0, -1, 'WITHSCORES');
      expect(member).toBe('k');
      expect(Number(expiresAt) - Date.now()).toBeGreaterThan(50_000);
      const pttl = await raw.pttl(`${n}kv:k`);
      expect(pttl).toBeGreaterThan(50_000);
      expect(pttl).toBeLessThanOrEqual(60_000);
      expect(await raw.pttl(`${n}kv:forever`)).toBe(-1);
      expect(await raw.get(`${n}lease:l`)).toBe('me');
      await store.put('k', { a: 2 }); // no TTL now: out of the expiry index
      expect(await raw.zcard(`${n}exp:`)).toBe(0);
      await store.close();
    });

    it('stores under different namespaces do not see each other', async () => {
      const a = await openStore(`${server.url}?namespace=${ns()}`);
      const b = await openStore(`${server.url}?namespace=${ns()}`);
      await a.put('x', 'a');
      expect(await b.get('x')).toBeUndefined();
      expect(await b.list('')).toEqual([]);
      expect(await b.acquireLease('l', 5_000)).toBeDefined();
      expect(await a.acquireLease('l', 5_000)).toBeDefined();
      await a.close();
      await b.close();
    });

    it('glob characters in the namespace are escaped in SCAN MATCH', async () => {
      expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
      const tricky = await openStore(`${server.url}?namespace=${encodeURIComponent('t[s]*?\\:')}`);
      const lookalike = await openStore(`${server.url}?namespace=${encodeURIComponent('ts-x:')}`);
      await lookalike.put('k', 'lookalike');
      await tricky.put('k', 'tricky');
      expect((await tricky.list('')).map((e) => e.value)).toEqual(['tricky']);
      await tricky.close();
      await lookalike.close();
    });

    it('lists many keys across index pages and MGET chunks', async () => {
      const store = await openStore(`${server.url}?namespace=${ns()}`);
      const keys = Array.from({ length: 1_234 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
      await Promise.all(keys.map((k) => store.put(k, k)));
      await store.put('other', 1);
      const got = await store.list<string>('many/');
      expect(got.map((e) => e.key)).toEqual(keys);
      expect(got.every((e) => e.value === e.key)).toBe(true);
      await store.close();
    });

    const calls = async (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await raw.info('commandstats'))?.[1] ?? 0);

    it('list reads its bucket of the index: no SCAN, however many keys the server holds', async () => {
      const other = await openStore(`${server.url}?namespace=${ns()}`); // another account's deployment
      const store = await openStore(`${server.url}?namespace=${ns()}`);
      try {
        for (let i = 0; i < 3_000; i += 500) {
          await Promise.all(Array.from({ length: 500 }, (_, j) => other.put(`monitor/entity/E${i + j}`, 1)));
          await Promise.all(Array.from({ length: 500 }, (_, j) => store.put(`monitor/entity/E${i + j}`, 1)));
        }
        await store.put('monitor/risky/T1', { why: 'BLOCKED' });
        await store.put('monitor/risky/T2', { why: 'receipt' });
        await store.list('nothing/'); // the first list checks that older keys are indexed
        const [scans, gets, mgets, ranges] = [await calls('scan'), await calls('get'), await calls('mget'), await calls('zrangebylex')];
        expect((await store.list('monitor/risky/')).map((e) => e.key)).toEqual(['monitor/risky/T1', 'monitor/risky/T2']);
        expect((await store.list('monitor/', { limit: 2 })).map((e) => e.key)).toEqual(['monitor/entity/E0', 'monitor/entity/E1']);
        expect(await calls('scan')).toBe(scans);
        expect(await calls('get')).toBe(gets); // the index mark is read once per store, not per list
        expect(await calls('mget')).toBe(mgets + 3); // one page of risky/, one of each bucket under monitor/ (entity/, risky/)
        expect(await calls('zrangebylex')).toBeLessThanOrEqual(ranges + 4);
      } finally {
        await store.close();
        await other.close();
      }
    });

    it('a key that expires leaves the index: pruned by later writes to its bucket, or dropped by list', async () => {
      const n = ns();
      const store = await openStore(`${server.url}?namespace=${n}`);
      try {
        await Promise.all(Array.from({ length: 40 }, (_, i) => store.put(`acs3-nonce/${i}`, 1, { ttlMs: 20 })));
        await store.put('acs3-nonce/kept', 1, { ttlMs: 60_000 });
        expect(await raw.zcard(`${n}idx:`)).toBe(41);
        await sleep(60);
        for (let i = 0; i < 5; i += 1) await store.put(`acs3-nonce/new${i}`, 1); // each prunes up to 8
        expect(await raw.zcard(`${n}idx:`)).toBe(6);
        expect(await raw.zrange(`${n}exp:`, 0, -1)).toEqual(['acs3-nonce/kept']);

        await store.put('receipts/seen/a', 1, { ttlMs: 20 });
        await store.put('receipts/seen/b', 1);
        await raw.del(`${n}kv:receipts/seen/b`); // gone behind the store's back
        await sleep(60);
        expect((await store.list('receipts/')).map((e) => e.key)).toEqual([]);
        expect(await raw.zcard(`${n}idx:receipts/seen/`)).toBe(0);
        expect(await raw.zcard(`${n}exp:receipts/seen/`)).toBe(0);
        // a page is filled past the entries that are gone
        await store.put('receipts/seen/c', 1, { ttlMs: 20 });
        await store.put('receipts/seen/d', 1);
        await sleep(60);
        expect((await store.list('receipts/seen/', { limit: 1 })).map((e) => e.key)).toEqual(['receipts/seen/d']);
      } finally {
        await store.close();
      }
    });

    it('keys written before the index existed are indexed once, by the first list', async () => {
      const n = ns();
      // as an earlier version of cams-fc left them: data keys only
      await raw.set(`${n}kv:watch/waba:1`, '1.aa\n{"a":1}');
      await raw.set(`${n}kv:monitor/owed/T1`, '3.bb\n{"b":2}', 'PX', 60_000);
      await raw.set(`${n}kv:plain`, '1.cc\n3');
      const store = await openStore(`${server.url}?namespace=${n}`);
      const again = await openStore(`${server.url}?namespace=${n}`);
      try {
        const scans = await calls('scan');
        expect(await store.list('')).toEqual([
          { key: 'monitor/owed/T1', value: { b: 2 }, version: '3.bb' },
          { key: 'plain', value: 3, version: '1.cc' },
          { key: 'watch/waba:1', value: { a: 1 }, version: '1.aa' },
        ]);
        expect(await calls('scan')).toBeGreaterThan(scans);
        expect(await raw.get(`${n}meta:index`)).toBe('1');
        expect(await raw.zrange(`${n}exp:monitor/owed/`, 0, -1)).toEqual(['monitor/owed/T1']);
        const indexed = await calls('scan');
        expect((await again.list('watch/')).map((e) => e.key)).toEqual(['watch/waba:1']);
        expect(await calls('scan')).toBe(indexed);
      } finally {
        await store.close();
        await again.close();
      }
    });

    it('reloads its Lua scripts after SCRIPT FLUSH', async () => {
      const store = await openStore(`${server.url}?namespace=${ns()}`);
      const v = await store.put('k', 1);
      await raw.script('FLUSH');
      expect(await store.put('k', 2, { ifVersion: v })).toBeTypeOf('string');
      await raw.script('FLUSH');
      expect(await store.acquireLease('l', 1_000)).toBeDefined();
      await store.close();
    });

    it('reports foreign data under its namespace as StoreError BACKEND', async () => {
      const n = ns();
      const store = await openStore(`${server.url}?namespace=${n}`);
      await raw.set(`${n}kv:foreign`, 'not ours');
      await expect(store.get('foreign')).rejects.toMatchObject({ name: 'StoreError', code: 'BACKEND' });
      await raw.del(`${n}kv:foreign`);
      await raw.hset(`${n}kv:hash`, 'a', '1');
      await expect(store.put('hash', 1)).rejects.toMatchObject({ code: 'BACKEND' });
      await store.close();
    });

    it('connect() opens the connection ahead of the first operation, which then goes out on it', async () => {
      const connectionsSoFar = () => connectionsReceived(raw);
      const before = await connectionsSoFar();
      const store = await openStore(`${server.url}?namespace=${ns()}`);
      try {
        store.connect!();
        store.connect!(); // one attempt in flight is joined, not doubled
        while ((await connectionsSoFar()) === before) await sleep(5);
        await store.put('k', 1);
        expect((await store.get('k'))?.value).toBe(1);
        expect(await connectionsSoFar()).toBe(before + 1);
      } finally {
        await store.close();
      }
    });

    it('keeps working after the redis server restarts', async () => {
      const own = await startRedisServer(redisBin!);
      const store = await openStore(`${own.url}?namespace=${ns()}`);
      try {
        await store.put('k', 1);
        await own.stop();
        await expect(store.get('k')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
        const again = await startRedisServer(redisBin!, own.port);
        try {
          let value: unknown;
          const deadline = Date.now() + 10_000;
          while (Date.now() < deadline) {
            try {
              await store.put('k', 2);
              value = (await store.get('k'))?.value;
              break;
            } catch {
              await sleep(100);
            }
          }
          expect(value).toBe(2); // the data was not persisted (--save ''), but the store reconnected
        } finally {
          await again.stop();
        }
      } finally {
        await store.close();
      }
    });
  },
);

describe('redis store: configuration and connection errors (no server needed)', () => {
  it('a refused connection rejects with StoreError UNAVAILABLE naming the server, without leaking the password', async () => {
    const port = await freePort();
    const store: Store = await openStore(`redis://:sekret@127.0.0.1:${port}/0`);
    const started = Date.now();
    const err = await store.get('k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('UNAVAILABLE');
    expect((err as StoreError).message).toContain(`127.0.0.1:${port}`);
    expect((err as StoreError).message).toContain('ECONNREFUSED');
    expect((err as StoreError).message).not.toContain('sekret');
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(store.put('k', 1)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await store.close();
    await expect(store.get('k')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('connect() to a server that never answers: nothing unhandled, and the first operation waits on that same attempt', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const store = await openStore(`redis://127.0.0.1:${(silent.address() as AddressInfo).port}`, { redis: { connectTimeoutMs: 300 } });
      store.connect!();
      await expect(store.get('k')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('300 ms') });
      expect(sockets).toHaveLength(1);
      await store.close();
      store.connect!(); // closed: nothing happens, nothing thrown
      await expect(store.get('k')).rejects.toMatchObject({ code: 'CLOSED' });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('connect() that fails with no operation after it leaves nothing unhandled', async () => {
    const store = await openStore(`redis://127.0.0.1:${await freePort()}`);
    let socket: Socket | undefined;
    const seen = (m: unknown) => (socket = (m as { socket: Socket }).socket);
    subscribe('net.client.socket', seen);
    try {
      store.connect!();
      await until(() => socket !== undefined);
    } finally {
      unsubscribe('net.client.socket', seen);
    }
    // refused and closed; a rejection nobody handled would be reported by the next turns
    await new Promise((resolve) => socket!.once('close', resolve));
    for (let i = 0; i < 3; i += 1) await new Promise((resolve) => setImmediate(resolve));
    await store.close();
  });

  it('a cluster that refuses scripts over several hash slots is a configuration error, not an outage', async () => {
    // As Alibaba Cloud's cluster proxy (and redis cluster, CROSSSLOT) answer the store's scripts.
    for (const refusal of ["ERR 'EVALSHA' command keys must in same slot", "CROSSSLOT Keys in request don't hash to the same slot"]) {
      const proxy = createServer((socket) => {
        const reader = new ReplyReader();
        socket.on('error', () => socket.destroy());
        socket.on('data', (chunk: Buffer) => {
          reader.push(chunk);
          for (let cmd = reader.next(); cmd !== undefined; cmd = reader.next()) {
            const name = String((cmd as string[])[0]).toUpperCase();
            socket.write(name === 'PING' ? '+PONG\r\n' : name.startsWith('EVAL') ? `-${refusal}\r\n` : '$-1\r\n');
          }
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const store = await openStore(`redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      try {
        expect(await store.get('k')).toBeUndefined();
        await expect(store.put('k', 1)).rejects.toMatchObject({ name: 'StoreError', code: 'CONFIG', message: expect.stringContaining('use a standard, master-replica redis') });
      } finally {
        await store.close();
        await new Promise<void>((resolve) => proxy.close(() => resolve()));
      }
    }
  });

  it('a redis URL without a host is a configuration error naming STORE_URL', async () => {
    await expect(openStore('redis://')).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringContaining('STORE_URL') });
  });
});
