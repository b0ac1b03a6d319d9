/**
 * Redis store (`redis://` / `rediss://`), for deployments. It speaks RESP itself over one pipelined
 * connection (redis-connection.ts) rather than through ioredis, whose load alone cost an HTTP
 * function's first request 30-45 ms of CPU.
 *
 * Keys:   <namespace>kv:<key>        string "<version>\n<json>", TTL via PX
 *         <namespace>idx:<bucket>    sorted set: the bucket's keys (the index list() reads)
 *         <namespace>exp:<bucket>    sorted set: those of them with a TTL, by expiry time
 *         <namespace>buckets         set: the buckets written to
 *         <namespace>meta:index      "1" once keys written before the index existed are indexed
 *         <namespace>lease:<name>    string <owner>, TTL via PX
 *         <namespace>slot:<key>      string <TAT ms> (reserveSlot), TTL via PX
 * Conditional writes, index updates and every lease transition are single Lua scripts
 * (redis-scripts.ts): atomic, one round trip. So list() costs the keys it may return, not a SCAN of
 * every key on the server (other accounts' namespaces included).
 * The namespace defaults to `cams-fc:`; set it with `?namespace=` on the URL or the option.
 */
import type { ConnectionOptions } from 'node:tls';
import { bucketOf, bucketsHolding, isFixedBucket } from './buckets.ts';
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
  sortKeys,
  versionNonce,
} from './internal.ts';
import { StoreError, type DeleteOptions, type Lease, type ListOptions, type PutOptions, type Store, type StoreDescription, type Versioned } from './port.ts';
import { RedisConnection, type RedisConnectionOptions, type Reply } from './redis-connection.ts';
import { parseRedisUrl, type RedisUrl } from './redis-url.ts';
import { lexEnd, SCRIPTS, type Script } from './redis-scripts.ts';
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
/** Index entries list() reads, and values it fetches, per round trip. */
const LIST_PAGE = 500;

/** Replies that refuse the URL's user, password or database (AUTH, SELECT, ACL): a wrong STORE_URL. */
const REFUSED_SETTING = /^(WRONGPASS|NOAUTH|NOPERM)\b|^ERR (AUTH|invalid password|DB index is out of range|.*without any password configured)/;
/**
 * Replies of a server that cannot serve the command for now, not of a wrong request: full
 * (`maxmemory` with noeviction), loading its data after a restart, busy with a script, a replica
 * after a failover (READONLY, MASTERDOWN), unable to persist (MISCONF), a cluster moving slots.
 * An outage like a lost connection (StoreError UNAVAILABLE: HTTP 503), not a 500. Redis 7 puts the
 * code first, also for a command a script runs; redis 5 and 6 wrap it (`ERR Error running script
 * ...: -OOM ...`).
 */
const SERVER_BUSY = /(?:^|: -)(OOM|LOADING|BUSY|MASTERDOWN|READONLY|MISCONF|TRYAGAIN|CLUSTERDOWN|NOREPLICAS) /;
/** Replies of a cluster that refuses a script over keys in several hash slots (redis-scripts.ts needs one redis). */
const CLUSTER_REFUSAL = /^CROSSSLOT\b|keys? must (be )?in (the )?same slot/i;

/** A maxmemory-policy as redis names them (`noeviction`, `volatile-lru`, `allkeys-lfu` ...). */
const POLICY_NAME = /^maxmemory_policy:([a-z][a-z-]{0,39})\r?$/m;

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
  private indexed = false;
  private indexing: Promise<void> | undefined;
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

  /** The index entries of a bucket, and of those with a TTL (see redis-scripts.ts). */
  private indexKeys(bucket: string): [index: string, expiries: string] {
    return [`${this.namespace}idx:${bucket}`, `${this.namespace}exp:${bucket}`];
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
    const bucket = bucketOf(key);
    const res = await this.eval(SCRIPTS.put, [this.dataKey(key), ...this.indexKeys(bucket), `${this.namespace}buckets`], [
      json,
      mode.kind,
      mode.kind === 'ifVersion' ? mode.version : '',
      ttlMs === undefined ? '' : String(ttlMs),
      versionNonce(),
      key,
      bucket,
      this.dataKey(''),
    ]);
    return typeof res === 'string' ? res : undefined;
  }

  async delete(key: string, opts?: DeleteOptions): Promise<boolean> {
    this.check();
    checkKey(key);
    const ifVersion = opts?.ifVersion;
    if (ifVersion !== undefined && typeof ifVersion !== 'string') throw new TypeError('store delete: ifVersion must be a string');
    const args = [key, ifVersion === undefined ? 'always' : 'ifVersion', ifVersion ?? ''];
    return (await this.eval(SCRIPTS.delete, [this.dataKey(key), ...this.indexKeys(bucketOf(key))], args)) === 1;
  }

  async list<T>(prefix: string, opts?: ListOptions): Promise<Array<{ key: string } & Versioned<T>>> {
    this.check();
    checkPrefix(prefix);
    pageOf([], opts); // bad page options fail before any command
    await this.indexReady();
    let buckets = bucketsHolding(prefix);
    if (!isFixedBucket(buckets[0]!)) {
      buckets = bucketsHolding(prefix, (await this.command('SMEMBERS', `${this.namespace}buckets`)) as string[]);
    }
    const found = (await Promise.all(buckets.map((b) => this.listBucket<T>(b, prefix, opts ?? {})))).flat();
    sortKeys(found, (e) => e.key);
    return opts?.limit === undefined ? found : found.slice(0, opts.limit);
  }

  /**
   * The live keys of one bucket that start with `prefix`, after `after`, at most `limit`: read from
   * the index in pages (byte order is list() order), values fetched for the page alone. Entries
   * whose key is gone (expired, or deleted outside this store) are dropped from the index.
   */
  private async listBucket<T>(bucket: string, prefix: string, { after, limit }: ListOptions): Promise<Array<{ key: string } & Versioned<T>>> {
    const [index, expiries] = this.indexKeys(bucket);
    let from = after !== undefined && compareKeys(after, prefix) >= 0 ? `(${after}` : `[${prefix}`;
    const to = lexEnd(prefix);
    const out: Array<{ key: string } & Versioned<T>> = [];
    for (;;) {
      const want = Math.min(LIST_PAGE, limit === undefined ? LIST_PAGE : limit - out.length);
      const members = (await this.command('ZRANGEBYLEX', index, from, to, 'LIMIT', '0', String(want))) as string[];
      if (members.length === 0) return out;
      const values = (await this.command('MGET', ...members.map((m) => this.dataKey(m)))) as Array<string | null>;
      const gone: string[] = [];
      members.forEach((key, j) => {
        const raw = values[j];
        if (raw === null || raw === undefined) gone.push(key);
        else out.push({ key, ...this.decode<T>(key, raw) });
      });
      if (gone.length > 0) await this.eval(SCRIPTS.dropGone, [index, expiries], [this.dataKey(''), ...gone]);
      if (members.length < want || (limit !== undefined && out.length >= limit)) return out;
      from = `(${members[members.length - 1]!}`;
    }
  }

  /**
   * Keys written before this store kept an index (by an earlier version of cams-fc) are indexed
   * once per namespace, by the first list() that finds no `meta:index` mark: one SCAN of the
   * namespace's keys. Writes made meanwhile index themselves.
   */
  private indexReady(): Promise<void> {
    if (this.indexed) return Promise.resolve();
    return (this.indexing ??= this.indexExisting().finally(() => {
      this.indexing = undefined;
    }));
  }

  private async indexExisting(): Promise<void> {
    const mark = `${this.namespace}meta:index`;
    if ((await this.command('GET', mark)) !== '1') {
      const base = this.dataKey('');
      const args = [base, `${this.namespace}idx:`, `${this.namespace}exp:`, `${this.namespace}buckets`];
      let cursor = '0';
      do {
        const [next, batch] = (await this.command('SCAN', cursor, 'MATCH', `${escapeGlob(base)}*`, 'COUNT', '1000')) as [string, string[]];
        const pairs = batch.flatMap((k) => [k.slice(base.length), bucketOf(k.slice(base.length))]);
        if (pairs.length > 0) await this.eval(SCRIPTS.indexExisting, [], [...args, ...pairs]);
        cursor = next;
      } while (cursor !== '0');
      await this.command('SET', mark, '1');
    }
    this.indexed = true;
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

  /**
   * The server's maxmemory-policy, from INFO's memory section (CONFIG GET may be refused on a managed
   * redis; INFO is what ApsaraDB / Tair leave open, unless `#no_loose_disabled-commands` names it).
   * A refused or renamed INFO (an error reply), or an answer without the field, is `unknown`.
   */
  async describe(): Promise<StoreDescription> {
    this.check();
    let info: Reply;
    try {
      info = await this.command('INFO', 'memory');
    } catch (e) {
      // Unreachable or closed: as any operation. Anything the server answered is its refusal to say.
      if (e instanceof StoreError && (e.code === 'UNAVAILABLE' || e.code === 'CLOSED')) throw e;
      return { evictionPolicy: 'unknown' };
    }
    const policy = typeof info === 'string' ? POLICY_NAME.exec(info)?.[1] : undefined;
    return { evictionPolicy: policy ?? 'unknown' };
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
      if (err.name === 'ReplyError' && SERVER_BUSY.test(err.message)) {
        throw new StoreError(this.closed ? 'CLOSED' : 'UNAVAILABLE', `redis store ${this.shownUrl} unavailable: ${what}: ${err.message}`, { cause: e });
      }
      if (err.name === 'ReplyError') {
        // Refused credentials or database, or a cluster: STORE_URL is wrong, and retrying will not mend it.
        const hint = REFUSED_SETTING.test(err.message)
          ? ' (check the user, password and database in STORE_URL)'
          : CLUSTER_REFUSAL.test(err.message)
            ? ' (a cluster that keeps keys of one script apart: use a standard, master-replica redis, or a cluster proxy that runs scripts over several keys)'
            : undefined;
        throw new StoreError(hint ? 'CONFIG' : 'BACKEND', `redis store ${this.shownUrl}: ${what} failed: ${err.message}${hint ?? ''}`, { cause: e });
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
