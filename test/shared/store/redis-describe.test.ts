// The redis store says what its server evicts when full (describe(): INFO memory's maxmemory_policy),
// and a server that will not say (INFO renamed away, as a managed redis may disable it) is `unknown`,
// not a failure of the store.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, StoreError } from '../../../shared/store/index.ts';
import { failInCIWithout } from '../../support/ci.ts';
import { findOnPath, rawCommand, startRedisServer, type RedisServer } from './redis-server.ts';

const redisBin = findOnPath('redis-server');
const url = (server: RedisServer) => `${server.url}?namespace=test-${randomBytes(4).toString('hex')}:`;

failInCIWithout(redisBin, 'needs redis-server on PATH when CI is set (CI installs it)', 'redis-server not found on PATH, and CI is set: describe() cannot be checked');

describe.skipIf(!redisBin)('redis store describe() (real redis-servers)', () => {
  let evicting: RedisServer;
  let safe: RedisServer;
  let silent: RedisServer;
  beforeAll(async () => {
    [evicting, safe, silent] = await Promise.all([
      startRedisServer(redisBin!, undefined, ['--maxmemory-policy', 'allkeys-lru']),
      startRedisServer(redisBin!, undefined, ['--maxmemory-policy', 'noeviction']),
      startRedisServer(redisBin!, undefined, ['--rename-command', 'INFO', '']),
    ]);
  });
  afterAll(async () => {
    await Promise.all([evicting?.stop(), safe?.stop(), silent?.stop()]);
  });

  it("names the server's maxmemory-policy, and a change to it at the next call", async () => {
    const store = await openStore(url(evicting));
    expect(await store.describe!()).toEqual({ evictionPolicy: 'allkeys-lru' });
    const other = await openStore(url(safe));
    expect(await other.describe!()).toEqual({ evictionPolicy: 'noeviction' });
    expect(await rawCommand(evicting.port, 'CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru')).toBe('+OK\r\n');
    expect(await store.describe!()).toEqual({ evictionPolicy: 'volatile-lru' });
    await rawCommand(evicting.port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    await store.close();
    await other.close();
  });

  it('a server that refuses INFO is unknown, and the store goes on working', async () => {
    const store = await openStore(url(silent));
    expect(await store.describe!()).toEqual({ evictionPolicy: 'unknown' });
    await store.put('k', 1);
    expect((await store.get('k'))?.value).toBe(1);
    await store.close();
  });

  it('rejects as any operation does once closed', async () => {
    const store = await openStore(url(safe));
    await store.close();
    await expect(store.describe!()).rejects.toMatchObject({ name: 'StoreError', code: 'CLOSED' } satisfies Partial<StoreError>);
  });
});
