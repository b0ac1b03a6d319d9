/**
 * The redis store's Lua scripts: every conditional write, every index update and every lease
 * transition is one script, atomic and one round trip.
 *
 * The index (what list() reads instead of a SCAN of every key on the server): per bucket
 * (buckets.ts), a sorted set `<ns>idx:<bucket>` of the bucket's keys, all at score 0 so redis keeps
 * them in byte order (ZRANGEBYLEX), and a sorted set `<ns>exp:<bucket>` of those that have a TTL,
 * scored by when they expire. A write indexes its key in the same script, so a key is never without
 * its entry; redis expires a key without telling the index, so every write prunes up to PRUNE_BATCH
 * entries whose time has come, and list() drops the entries whose key it finds gone. `<ns>buckets`
 * is the set of buckets ever written, for prefixes that span buckets (`watch/`, '').
 *
 * The scripts that prune or clean name keys they compute (the data keys of other index entries), so
 * they need one redis, not a cluster: Alibaba Cloud Redis standard (master-replica) edition, or a
 * cluster edition's proxy that allows such scripts.
 */
import { createHash } from 'node:crypto';

export interface Script {
  text: string;
  sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

/** Entries a write prunes at most: more than the one TTL entry a write can add, so pruning keeps up. */
const PRUNE_BATCH = 8;

// Shared by the writes: the server's clock in ms, and the pruning of expired index entries.
// prune(idx, exp, data key prefix, now)
const INDEX_HELPERS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function prune(idx, exp, prefix, now)
  local due = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, ${PRUNE_BATCH})
  for _, m in ipairs(due) do
    local left = redis.call('PTTL', prefix .. m)
    if left == -2 then
      redis.call('ZREM', idx, m)
      redis.call('ZREM', exp, m)
    elseif left == -1 then
      redis.call('ZREM', exp, m)
    else
      redis.call('ZADD', exp, now + left, m)
    end
  end
end
`;

// KEYS: data key, index, expiry index, bucket set.
// ARGV: json, mode ('always' | 'ifAbsent' | 'ifVersion'), expected version, ttl ms ('' = none), nonce,
//       key, bucket, data key prefix
const PUT = `${INDEX_HELPERS}
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
local now = now_ms()
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[1], newver .. '\\n' .. ARGV[1], 'PX', ARGV[4])
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[6])
else
  redis.call('SET', KEYS[1], newver .. '\\n' .. ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[6])
end
redis.call('ZADD', KEYS[2], 0, ARGV[6])
redis.call('SADD', KEYS[4], ARGV[7])
prune(KEYS[2], KEYS[3], ARGV[8], now)
return newver
`;

// KEYS: data key, index, expiry index. ARGV: key, mode ('always' | 'ifVersion'), expected version
const DELETE = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 0
end
if ARGV[2] == 'ifVersion' then
  local nl = string.find(cur, '\\n', 1, true)
  if not nl or string.sub(cur, 1, nl - 1) ~= ARGV[3] then return 0 end
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('DEL', KEYS[1])
`;

// list() found these entries' keys gone: drop the entries whose key is still gone.
// KEYS: index, expiry index. ARGV: data key prefix, keys...
const DROP_GONE = `
for i = 2, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
end
return 0
`;

// Index keys written before the store kept an index (one SCAN page of them).
// ARGV: data key prefix, index prefix, expiry index prefix, bucket set, then key, bucket pairs
const INDEX_EXISTING = `${INDEX_HELPERS}
local now = now_ms()
for i = 5, #ARGV, 2 do
  local m, b = ARGV[i], ARGV[i + 1]
  local left = redis.call('PTTL', ARGV[1] .. m)
  if left ~= -2 then
    redis.call('ZADD', ARGV[2] .. b, 0, m)
    redis.call('SADD', ARGV[4], b)
    if left > 0 then redis.call('ZADD', ARGV[3] .. b, now + left, m) end
  end
end
return 0
`;

// ARGV: owner, ttl ms
const LEASE_ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

// ARGV: owner, ttl ms
const LEASE_RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
`;

// ARGV: owner
const LEASE_RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`;

// GCRA slot reservation (slots.ts's decideSlot) in one atomic script, one round trip. Time is the
// server's TIME, so instances with skewed clocks still share one schedule.
// ARGV: interval ms, max wait ms. Returns {granted 0|1, wait in µs, slot time in epoch ms}.
const RESERVE_SLOT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local wait = tat - now
if wait > tonumber(ARGV[2]) then return {0, math.floor(wait * 1000), math.floor(tat)} end
local nxt = tat + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 1000)
return {1, math.floor(wait * 1000), math.floor(tat)}
`;

export const SCRIPTS = {
  put: script(PUT),
  delete: script(DELETE),
  dropGone: script(DROP_GONE),
  indexExisting: script(INDEX_EXISTING),
  leaseAcquire: script(LEASE_ACQUIRE),
  leaseRenew: script(LEASE_RENEW),
  leaseRelease: script(LEASE_RELEASE),
  reserveSlot: script(RESERVE_SLOT),
};

/**
 * The exclusive upper end of a ZRANGEBYLEX over the keys that start with `prefix`: the prefix with
 * its last code point raised by one ('+', the end, for ''). Byte order is code point order, so every
 * key with the prefix sorts below it and every other key above the prefix sorts at or after it.
 */
export function lexEnd(prefix: string): string {
  const cps = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (cps.length > 0) {
    const last = cps.pop()!;
    if (last === 0x10ffff) continue; // nothing above it: raise the code point before
    const next = last === 0xd7ff ? 0xe000 : last + 1; // surrogates are not code points
    return `(${String.fromCodePoint(...cps, next)}`;
  }
  return '+';
}
