/**
 * Redis store (`redis://` / `rediss://`), for deployments. It speaks RESP itself over one pipelined
 * connection (redis-connection.ts) rather than through ioredis, whose load alone cost an HTTP
 * function's first request 30-45 ms of CPU.
 *
 * Keys:   <namespace>kv:<key>      string "<version>\n<json>", TTL via PX
 *         <namespace>lease:<name>  string <owner>, TTL via PX
 *         <namespace>slot:<key>    string <TAT ms> (reserveSlot), TTL via PX
 * Conditional writes and every lease transition are single Lua scripts (atomic, one round trip).
 * The namespace defaults to `cams-fc:`; set it with `?namespace=` on the URL or the option.
 */
import { createHash } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import {
  checkKey,
  checkPrefix,
  checkTtl,
  closedError,
  compareKeys,
  defaultOwner,
  pageOf,
  putMode,
  serialize,
  versionNonce,
} from './internal.ts';
import { StoreError, type DeleteOptions, type Lease, type ListOptions, type PutOptions, type Store, type Versioned } from './port.ts';
import { RedisConnection, type RedisConnectionOptions, type Reply } from './redis-connection.ts';
import { parseRedisUrl, type RedisUrl } from './redis-url.ts';
import { checkSlotArgs, type SlotReservation } from './slots.ts';

export interface RedisStoreOptions {
  /** Prefix of every key this store touches. Default `cams-fc:`. */
  namespace?: string;
  /** TCP connect timeout per attempt. Default 3000 ms. */
  connectTimeoutMs?: number;
  /** A command fails after this long without a reply. Default 5000 ms. */
  commandTimeoutMs?: number;
  /** TLS options for rediss:// (a private CA, say); NODE_EXTRA_CA_CERTS works as well. */
  tls?: ConnectionOptions;
}

const DEFAULT_NAMESPACE = 'cams-fc:';

/** Replies that refuse the URL's user, password or database (AUTH, SELECT, ACL): a wrong STORE_URL. */
const REFUSED_SETTING = /^(WRONGPASS|NOAUTH|NOPERM)\b|^ERR (AUTH|invalid password|DB index is out of range|.*without any password configured)/;

// ARGV: json, mode ('always' | 'ifAbsent' | 'ifVersion'), expected version, ttl ms ('' = none), nonce
const PUT = `
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

// ARGV: expected version
const DELETE_IF = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local nl = string.find(cur, '\\n', 1, true)
if not nl or string.sub(cur, 1, nl - 1) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
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

interface Script {
  text: string;
  sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

const SCRIPTS = {
  put: script(PUT),
  deleteIf: script(DELETE_IF),
  leaseAcquire: script(LEASE_ACQUIRE),
  leaseRenew: script(LEASE_RENEW),
  leaseRelease: script(LEASE_RELEASE),
  reserveSlot: script(RESERVE_SLOT),
};

/** Escape glob metacharacters for SCAN MATCH. */
export function escapeGlob(s: string): string {
  return s.replace(/[\\*?[\]]/g, '\\$&');
}

/** `url` as STORE_URL gives it, or as parseStoreUrl has read it already. */
export async function openRedisStore(url: string | RedisUrl, opts: RedisStoreOptions = {}): Promise<RedisStore> {
  const u = typeof url === 'string' ? parseRedisUrl(url) : url;
  const connection: RedisConnectionOptions = {
    host: u.host,
    port: u.port,
    db: u.db,
    connectTimeoutMs: opts.connectTimeoutMs ?? 3000,
    commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
    ...(u.tls ? { tls: opts.tls ?? {} } : {}),
    ...(u.password !== undefined ? { password: u.password } : {}),
    ...(u.username !== undefined ? { username: u.username } : {}),
  };
  return new RedisStore(connection, opts.namespace ?? u.namespace ?? DEFAULT_NAMESPACE, u.shown);
}

export class RedisStore implements Store {
  private closed = false;
  private conn: RedisConnection | undefined;
  private connecting: Promise<RedisConnection> | undefined;

  constructor(
    private readonly connection: RedisConnectionOptions,
    readonly namespace: string,
    private readonly shownUrl: string,
  ) {}

  private dataKey(key: string): string {
    return `${this.namespace}kv:${key}`;
  }

  private leaseKey(name: string): string {
    return `${this.namespace}lease:${name}`;
  }

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    this.check();
    checkKey(key);
    const raw = await this.command('GET', this.dataKey(key));
    return raw === null ? undefined : this.decode<T>(key, raw);
  }

  async put<T>(key: string, value: T, opts?: PutOptions): Promise<string | undefined> {
    this.check();
    checkKey(key);
    const { mode, ttlMs } = putMode(opts);
    const json = serialize(value);
    const res = await this.eval(SCRIPTS.put, [this.dataKey(key)], [
      json,
      mode.kind,
      mode.kind === 'ifVersion' ? mode.version : '',
      ttlMs === undefined ? '' : String(ttlMs),
      versionNonce(),
    ]);
    return typeof res === 'string' ? res : undefined;
  }

  async delete(key: string, opts?: DeleteOptions): Promise<boolean> {
    this.check();
    checkKey(key);
    if (opts?.ifVersion !== undefined) {
      if (typeof opts.ifVersion !== 'string') throw new TypeError('store delete: ifVersion must be a string');
      return (await this.eval(SCRIPTS.deleteIf, [this.dataKey(key)], [opts.ifVersion])) === 1;
    }
    return (await this.command('DEL', this.dataKey(key))) === 1;
  }

  async list<T>(prefix: string, opts?: ListOptions): Promise<Array<{ key: string } & Versioned<T>>> {
    this.check();
    checkPrefix(prefix);
    pageOf([], opts); // bad page options fail before any command
    const base = this.dataKey('');
    const match = `${escapeGlob(base + prefix)}*`;
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = (await this.command('SCAN', cursor, 'MATCH', match, 'COUNT', '1000')) as [string, string[]];
      for (const k of batch) keys.add(k);
      cursor = next;
    } while (cursor !== '0');
    // SCAN returns names only; values are fetched for the page alone.
    const page = pageOf([...keys].map((k) => k.slice(base.length)).sort(compareKeys), opts);
    const sorted = page.map((k) => base + k);
    const out: Array<{ key: string } & Versioned<T>> = [];
    for (let i = 0; i < sorted.length; i += 500) {
      const chunk = sorted.slice(i, i + 500);
      const values = (await this.command('MGET', ...chunk)) as Array<string | null>;
      chunk.forEach((full, j) => {
        const raw = values[j];
        if (raw === null || raw === undefined) return; // expired or deleted since SCAN
        const key = full.slice(base.length);
        out.push({ key, ...this.decode<T>(key, raw) });
      });
    }
    return out;
  }

  async acquireLease(name: string, ttlMs: number, owner?: string): Promise<Lease | undefined> {
    this.check();
    checkKey(name, 'lease name');
    const ttl = checkTtl(ttlMs);
    const who = owner ?? defaultOwner();
    if (typeof who !== 'string' || who.length === 0) throw new TypeError('lease owner must be a non-empty string');
    const started = Date.now();
    const ok = await this.eval(SCRIPTS.leaseAcquire, [this.leaseKey(name)], [who, String(ttl)]);
    if (ok !== 1) return undefined;
    return new RedisLease(this, this.leaseKey(name), name, who, ttl, started + ttl);
  }

  async reserveSlot(key: string, intervalMs: number, maxWaitMs: number): Promise<SlotReservation> {
    this.check();
    checkKey(key, 'slot key');
    checkSlotArgs(intervalMs, maxWaitMs);
    const res = await this.eval(SCRIPTS.reserveSlot, [`${this.namespace}slot:${key}`], [String(intervalMs), String(Math.min(maxWaitMs, 1e12))]);
    if (!Array.isArray(res) || res.length !== 3) throw new StoreError('BACKEND', `redis store ${this.shownUrl}: reserveSlot returned ${JSON.stringify(res)}`);
    return { granted: res[0] === 1, waitMs: Number(res[1]) / 1000, at: Number(res[2]) };
  }

  /** @internal used by RedisLease */
  async leaseScript(which: 'leaseRenew' | 'leaseRelease', key: string, args: string[]): Promise<boolean> {
    this.check();
    return (await this.eval(SCRIPTS[which], [key], args)) === 1;
  }

  connect(): void {
    if (!this.closed) this.ready().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const conn = this.conn ?? (await this.connecting?.catch(() => undefined));
    this.conn = undefined;
    await conn?.quit();
  }

  // ---- plumbing ----------------------------------------------------------------------------------

  private check(): void {
    if (this.closed) throw closedError();
  }

  private decode<T>(key: string, raw: Reply): Versioned<T> {
    const nl = typeof raw === 'string' ? raw.indexOf('\n') : -1;
    if (typeof raw === 'string' && nl > 0) {
      try {
        return { version: raw.slice(0, nl), value: JSON.parse(raw.slice(nl + 1)) as T };
      } catch {
        // reported below
      }
    }
    throw new StoreError('BACKEND', `redis store ${this.shownUrl}: key ${JSON.stringify(this.dataKey(key))} holds data this store did not write`);
  }

  private async eval(s: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.command('EVALSHA', s.sha, String(keys.length), ...keys, ...args);
    } catch (e) {
      if (!(e instanceof StoreError && e.code === 'BACKEND' && e.message.includes('NOSCRIPT'))) throw e;
      return await this.command('EVAL', s.text, String(keys.length), ...keys, ...args);
    }
  }

  /**
   * The live connection, or one new connection attempt shared by the commands that wait for it.
   * Fail fast while redis is down: nothing is queued and nothing reconnects in the background, so
   * an invocation gets StoreError UNAVAILABLE within the connect bound (and FC retries it) instead
   * of hanging past its deadline, and the first command after redis is back simply connects again.
   */
  private ready(): Promise<RedisConnection> {
    if (this.conn?.isOpen) return Promise.resolve(this.conn);
    this.conn = undefined;
    return (this.connecting ??= RedisConnection.open(this.connection)
      .then((conn) => {
        if (this.closed) {
          void conn.quit();
          throw closedError();
        }
        return (this.conn = conn);
      })
      .finally(() => {
        this.connecting = undefined;
      }));
  }

  /** Run a command; turn failures into StoreErrors that name the server and the cause. */
  private async command(...args: string[]): Promise<Reply> {
    const what = args[0]!;
    try {
      return await (await this.ready()).command(args);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      const err = e as Error;
      if (err.name === 'ReplyError') {
        // Refused credentials or database: STORE_URL is wrong, and retrying will not mend it.
        const code = REFUSED_SETTING.test(err.message) ? 'CONFIG' : 'BACKEND';
        throw new StoreError(code, `redis store ${this.shownUrl}: ${what} failed: ${err.message}${code === 'CONFIG' ? ' (check the user, password and database in STORE_URL)' : ''}`, { cause: e });
      }
      throw new StoreError(this.closed ? 'CLOSED' : 'UNAVAILABLE', `redis store ${this.shownUrl} unavailable: ${what}: ${err.message}`, { cause: e });
    }
  }
}

class RedisLease implements Lease {
  constructor(
    private readonly store: RedisStore,
    private readonly key: string,
    readonly name: string,
    readonly owner: string,
    private readonly ttlMs: number,
    public expiresAt: number,
  ) {}

  async renew(ttlMs?: number): Promise<boolean> {
    const ttl = ttlMs === undefined ? this.ttlMs : checkTtl(ttlMs);
    const started = Date.now();
    const renewed = await this.store.leaseScript('leaseRenew', this.key, [this.owner, String(ttl)]);
    if (renewed) this.expiresAt = started + ttl;
    return renewed;
  }

  async release(): Promise<boolean> {
    this.expiresAt = 0;
    return this.store.leaseScript('leaseRelease', this.key, [this.owner]);
  }
}
