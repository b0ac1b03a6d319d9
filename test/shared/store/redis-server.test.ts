import { afterAll, describe, expect, it } from 'vitest';
import { findOnPath, startRedisServer, type RedisServer } from './redis-server.ts';

const redisBin = findOnPath('redis-server');

// Test files run in parallel, each with its own redis-servers on ports picked free just before the
// start: a server that finds its port taken must not pass for started because the other one answers.
describe.skipIf(!redisBin)('startRedisServer (the tests\' own redis-servers)', () => {
  const started: RedisServer[] = [];
  afterAll(async () => {
    for (const s of started) await s.stop();
  });

  it('on a port another redis-server holds: an error, not that server taken for its own', async () => {
    const other = await startRedisServer(redisBin!);
    started.push(other);
    await expect(startRedisServer(redisBin!, other.port).then((s) => (started.push(s), s))).rejects.toThrow(/taken by another server/);
  });

  it('with a password, and with INFO renamed away: started as before', async () => {
    const locked = await startRedisServer(redisBin!, undefined, ['--requirepass', 'p4ss']);
    started.push(locked);
    const noInfo = await startRedisServer(redisBin!, undefined, ['--rename-command', 'INFO', '']);
    started.push(noInfo);
    expect([locked.port, noInfo.port].every((p) => p > 0)).toBe(true);
  });
});
