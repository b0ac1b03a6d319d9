/**
 * redis-list baseline: the redis store's list() and put() as they were before the store kept a
 * per-bucket index (a SCAN of every key on the server, MATCH on the prefix, then MGET of the page;
 * a put script that writes the key alone), kept to measure the index against side by side.
 */
import { randomBytes } from 'node:crypto';
import type { RedisConnection } from '../../shared/store/redis-connection.ts';

const escapeGlob = (s: string) => s.replace(/[\\*?[\]]/g, '\\$&');

export async function scanList(conn: RedisConnection, namespace: string, prefix: string): Promise<Array<{ key: string; raw: string }>> {
  const base = `${namespace}kv:`;
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = (await conn.command(['SCAN', cursor, 'MATCH', `${escapeGlob(base + prefix)}*`, 'COUNT', '1000'])) as [string, string[]];
    for (const k of batch) keys.add(k);
    cursor = next;
  } while (cursor !== '0');
  const sorted = [...keys].sort();
  const out: Array<{ key: string; raw: string }> = [];
  for (let i = 0; i < sorted.length; i += 500) {
    const chunk = sorted.slice(i, i + 500);
    const values = (await conn.command(['MGET', ...chunk])) as Array<string | null>;
    chunk.forEach((k, j) => {
      const raw = values[j];
      if (typeof raw === 'string') out.push({ key: k.slice(base.length), raw });
    });
  }
  return out;
}

// The put script before the index (ARGV: json, mode, expected version, ttl ms, nonce).
const PUT_WITHOUT_INDEX = `
local cur = redis.call('GET', KEYS[1])
local seq = 0
if cur then
  if ARGV[2] == 'ifAbsent' then return false end
  local nl = string.find(cur, '\\n', 1, true)
  if not nl then return redis.error_reply('STORECORRUPT value without version') end
  local ver = string.sub(cur, 1, nl - 1)
  if ARGV[2] == 'ifVersion' and ver ~= ARGV[3] then return false end
  local dot = string.find(ver, '.', 1, true)
  if dot then seq = tonumber(string.sub(ver, 1, dot - 1)) or 0 end
elseif ARGV[2] == 'ifVersion' then
  return false
end
local newver = string.format('%d', seq + 1) .. '.' .. ARGV[5]
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[1], newver .. '\\n' .. ARGV[1], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], newver .. '\\n' .. ARGV[1])
end
return newver
`;

/** Loads the script; returns one unconditional put the way the store did it before the index (EVALSHA). */
export async function putWithoutIndex(conn: RedisConnection, namespace: string): Promise<(key: string, value: unknown) => Promise<void>> {
  const sha = (await conn.command(['SCRIPT', 'LOAD', PUT_WITHOUT_INDEX])) as string;
  return async (key, value) => {
    await conn.command(['EVALSHA', sha, '1', `${namespace}kv:${key}`, JSON.stringify(value), 'always', '', '', randomBytes(6).toString('hex')]);
  };
}
