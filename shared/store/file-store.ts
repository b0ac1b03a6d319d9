/**
 * Embedded store (`file:<dir>`, the default): one JSON file per key, safe across processes on one
 * machine.
 *
 * Layout under <dir>:
 *   kv/<bucket>.d/<name>.json  a key: {"key","version","expiresAt","value"} (expiresAt: epoch ms or null)
 *   leases/<name>.json  a lease: the same record, value {"owner"}
 *   slots/<name>.json   a rate-limit slot key (reserveSlot): the same record, value = TAT (epoch ms);
 *                       written without fsync (a lost TAT after a power cut only frees one slot early)
 *   locks/<k|l|s>.<name>.lock  per-key write lock (exists while a process writes that key)
 *   tmp/                temp files (writes land here first, then are renamed into place)
 *   corrupt/            unreadable files found when an older flat kv/ was moved into buckets
 *
 * <bucket> and <name>: see file-layout.ts. Listing a prefix of two namespace words (`monitor/owed/`,
 * every index the sweep reads each tick) reads one small directory, not every key of the store.
 *
 * Writes: read-check-write happens under the key's lock (file-lock.ts); the new file is written to
 * tmp/, fsynced and renamed over the old one (readers never see a partial file, so get/list take no
 * lock).
 */
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { acquireCasLease, type LeaseRecord } from './cas-lease.ts';
import { bucketOf, isFixedBucket } from './buckets.ts';
import { bucketDir, bucketOfDir, decodeName, encodeKey, keyFile, mayMatch } from './file-layout.ts';
import { FileLocks } from './file-lock.ts';
import { errno, readTextIfExists, unique } from './file-util.ts';
import { GroupCommit } from './group-commit.ts';
import {
  checkKey,
  checkPrefix,
  closedError,
  compareKeys,
  nextVersion,
  pageOf,
  putMode,
  serialize,
  sortKeys,
} from './internal.ts';
import { StoreError, type DeleteOptions, type Lease, type ListOptions, type PutOptions, type Store, type Versioned } from './port.ts';
import { checkSlotArgs, decideSlot, type SlotReservation } from './slots.ts';

export interface FileStoreOptions {
  /** Give up waiting for a key lock after this long (StoreError LOCK_TIMEOUT). Default 10 s. */
  lockTimeoutMs?: number;
  /** A lock older than this is broken even if its holder looks alive (pid reuse, other host). Default 30 s. */
  staleLockMs?: number;
  /** fsync files and directories on write (durability across power loss). Default true. */
  fsync?: boolean;
  /** Remove expired files at most this often, in the background after a write. Default 10 min; 0 disables. */
  sweepIntervalMs?: number;
}

type SpaceName = 'kv' | 'leases' | 'slots';

interface FileRecord {
  key: string;
  version: string;
  expiresAt: number | null;
  value: unknown;
}

/** Files read per turn of the event loop by list(): ~1 ms of reads. */
const READ_BATCH = 64;
/** Directory entries filtered or decoded per turn of the event loop by list(): ~1 ms. */
const NAME_SLICE = 2048;
/** Passes over kv/ moving a flat store into buckets before open() gives up (an older version still writing there). */
const MOVE_PASSES = 5;

/** A file list() may read: its path, its name without `.json`, and its bucket. */
interface Candidate {
  path: string;
  name: string;
  bucket: string;
}

export class FileStore implements Store {
  private readonly dirs: Record<SpaceName | 'locks' | 'tmp', string>;
  private readonly staleLockMs: number;
  private readonly fsync: boolean;
  private readonly sweepIntervalMs: number;
  private readonly locks: FileLocks;
  private readonly background = new Set<Promise<void>>();
  /** Directory fsyncs (kv's buckets, leases), shared by the writers that need one at the same time (syncDir). */
  private readonly dirSyncs = new Map<string, GroupCommit>();
  private lastSweep = Date.now();
  private closed = false;
  /** Directory entries read to find the files of list() calls: what listings cost, for tests and benches. */
  entriesListed = 0;

  private constructor(
    readonly root: string,
    opts: FileStoreOptions,
  ) {
    this.dirs = {
      kv: join(root, 'kv'),
      leases: join(root, 'leases'),
      slots: join(root, 'slots'),
      locks: join(root, 'locks'),
      tmp: join(root, 'tmp'),
    };
    this.staleLockMs = opts.staleLockMs ?? 30_000;
    this.locks = new FileLocks({ locksDir: this.dirs.locks, tmpDir: this.dirs.tmp, lockTimeoutMs: opts.lockTimeoutMs ?? 10_000, staleLockMs: this.staleLockMs });
    this.fsync = opts.fsync ?? true;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? 600_000;
  }

  static async open(root: string, opts: FileStoreOptions = {}): Promise<FileStore> {
    const store = new FileStore(root, opts);
    try {
      for (const d of Object.values(store.dirs)) await mkdir(d, { recursive: true });
    } catch (e) {
      throw new StoreError('CONFIG', `file store: cannot create directory ${root}: ${(e as Error).message}`, { cause: e });
    }
    await store.moveFlatKeysIntoBuckets();
    return store;
  }

  /**
   * A store written before buckets keeps its keys flat in kv/: move each into its bucket before this
   * process reads anything. rename(2) moves a file atomically, so processes opening at the same time
   * each move what is left and none loses a key (ENOENT: another one moved it). Every process of this
   * version moves them in open(), so no key is written to its bucket while its flat file remains, and
   * open() returns only when kv/ holds no flat file. Older versions of this code must be stopped first.
   */
  private async moveFlatKeysIntoBuckets(): Promise<void> {
    for (let pass = 0; ; pass++) {
      const flat = (await readdir(this.dirs.kv)).filter((n) => n.endsWith('.json'));
      if (flat.length === 0) return;
      if (pass === MOVE_PASSES) {
        throw new StoreError('CONFIG', `file store: ${this.dirs.kv} still gets keys in the flat layout after ${MOVE_PASSES} passes moving them into buckets: stop the processes running an earlier version of cams-fc on it`);
      }
      const touched = new Set<string>([this.dirs.kv]);
      for (const n of flat) {
        const from = join(this.dirs.kv, n);
        let key = decodeName(n.slice(0, -5));
        if (key === undefined) {
          // A hashed long name: the key is inside. A file no one can read goes aside, for a person to look at.
          try {
            key = this.readFile(from)?.key;
            if (key === undefined) continue; // moved meanwhile
          } catch {
            await mkdir(join(this.root, 'corrupt'), { recursive: true });
            await rename(from, join(this.root, 'corrupt', n)).catch((e: unknown) => {
              if (errno(e) !== 'ENOENT') throw e;
            });
            continue;
          }
        }
        const to = this.path('kv', key);
        if (!touched.has(dirname(to))) await mkdir(dirname(to), { recursive: true });
        try {
          await rename(from, to);
          touched.add(dirname(to));
        } catch (e) {
          if (errno(e) !== 'ENOENT') throw e;
        }
      }
      for (const dir of touched) await this.syncDir(dir);
    }
  }

  // ---- port -------------------------------------------------------------------------------------

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    this.check();
    checkKey(key);
    const rec = this.readLive('kv', key);
    return rec && { value: rec.value as T, version: rec.version };
  }

  async put<T>(key: string, value: T, opts?: PutOptions): Promise<string | undefined> {
    this.check();
    checkKey(key);
    const version = await this.putIn('kv', key, value, opts);
    this.maybeSweep();
    return version;
  }

  async delete(key: string, opts?: DeleteOptions): Promise<boolean> {
    this.check();
    checkKey(key);
    return this.deleteIn('kv', key, opts);
  }

  async list<T>(prefix: string, opts?: ListOptions): Promise<Array<{ key: string } & Versioned<T>>> {
    this.check();
    checkPrefix(prefix);
    pageOf([], opts); // bad page options fail before any file is read
    const files = await this.filesUnder(prefix);
    const now = Date.now();
    const read = (f: Candidate) => {
      const rec = this.readFile(f.path);
      return rec && rec.key.startsWith(prefix) && !expired(rec, now) ? { key: rec.key, value: rec.value as T, version: rec.version } : undefined;
    };
    if (opts === undefined) {
      const out: Array<{ key: string } & Versioned<T>> = [];
      await readBatched(files, (f) => {
        const item = read(f);
        if (item) out.push(item);
      });
      return sortKeys(out, (e) => e.key);
    }
    // A page: the key of a file is in its name (only hashed long names need their file read), so
    // only the page's files are read.
    const byKey = new Map<string, Candidate>();
    const hashed: Candidate[] = [];
    await inSlices(files, NAME_SLICE, (f) => {
      const rest = decodeName(f.name);
      const key = rest === undefined ? undefined : f.bucket + rest;
      if (key === undefined) hashed.push(f);
      else if (key.startsWith(prefix) && (opts.after === undefined || compareKeys(key, opts.after) > 0)) byKey.set(key, f);
    });
    await readBatched(hashed, (f) => {
      const key = this.readFile(f.path)?.key;
      if (key !== undefined && key.startsWith(prefix) && (opts.after === undefined || compareKeys(key, opts.after) > 0)) byKey.set(key, f);
    });
    const sorted = sortKeys([...byKey.keys()], (k) => k);
    const out: Array<{ key: string } & Versioned<T>> = [];
    let after = opts.after;
    // Keys that expire or vanish between readdir and read leave the page short: read on past them.
    for (;;) {
      const page = pageOf(sorted, { ...(after !== undefined ? { after } : {}), ...(opts.limit !== undefined ? { limit: opts.limit - out.length } : {}) });
      if (page.length === 0) return out;
      const items: Array<({ key: string } & Versioned<T>) | undefined> = [];
      await readBatched(page, (k) => items.push(read(byKey.get(k)!)));
      for (const item of items) if (item) out.push(item);
      if (opts.limit === undefined || out.length >= opts.limit) return out;
      after = page[page.length - 1];
    }
  }

  /**
   * The files that may hold keys starting with `prefix`. A prefix that starts with two namespace words
   * names its one bucket; another looks at every bucket whose keys may start with it. Names tell the
   * keys (files of a hashed long name are read, and read() filters on the key inside).
   */
  private async filesUnder(prefix: string): Promise<Candidate[]> {
    const own = bucketOf(prefix);
    let dirs = [bucketDir(own)];
    if (!isFixedBucket(own)) {
      dirs = await readdir(this.dirs.kv);
      this.entriesListed += dirs.length;
    }
    const out: Candidate[] = [];
    for (const d of dirs) {
      const bucket = bucketOfDir(d);
      if (bucket === undefined) continue; // not a bucket of this store
      let rest: string; // what the rest of a key must start with
      if (bucket.startsWith(prefix)) rest = '';
      else if (prefix.startsWith(bucket)) rest = prefix.slice(bucket.length);
      else continue;
      const dir = join(this.dirs.kv, d);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (e) {
        if (errno(e) === 'ENOENT') continue; // a bucket no key was ever written to
        throw e;
      }
      this.entriesListed += names.length;
      const encRest = encodeKey(rest).split('~')[0] ?? '';
      await inSlices(names, NAME_SLICE, (n) => {
        if (!n.endsWith('.json')) return;
        const name = n.slice(0, -5);
        if (mayMatch(name, encRest)) out.push({ path: join(dir, n), name, bucket });
      });
    }
    return out;
  }

  async acquireLease(name: string, ttlMs: number, owner?: string): Promise<Lease | undefined> {
    this.check();
    return acquireCasLease(
      {
        get: async (n) => {
          this.check();
          checkKey(n, 'lease name');
          const rec = this.readLive('leases', n);
          return rec && { value: rec.value as LeaseRecord, version: rec.version };
        },
        put: (n, v, o) => (this.check(), this.putIn('leases', n, v, o)),
        delete: (n, o) => (this.check(), this.deleteIn('leases', n, o)),
      },
      name,
      ttlMs,
      owner,
    );
  }

  /** Under the key's cross-process lock: read the TAT, decide, write it back (see slots.ts). */
  async reserveSlot(key: string, intervalMs: number, maxWaitMs: number): Promise<SlotReservation> {
    this.check();
    checkKey(key, 'slot key');
    checkSlotArgs(intervalMs, maxWaitMs);
    return this.withLock('slots', key, async (token) => {
      const rec = this.readLive('slots', key);
      const now = Date.now();
      const d = decideSlot(typeof rec?.value === 'number' ? rec.value : undefined, now, intervalMs, maxWaitMs);
      if (d.nextTat !== undefined) {
        const version = nextVersion(rec?.version);
        const text = `{"key":${JSON.stringify(key)},"version":${JSON.stringify(version)},"expiresAt":${Math.ceil(d.nextTat) + 1000},"value":${d.nextTat}}\n`;
        await this.writeAtomic(this.path('slots', key), text, () => this.assertHeld('slots', key, token), false);
      }
      return { granted: d.granted, waitMs: d.waitMs, at: d.at };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.background]);
  }

  /** Remove expired keys and leases, and leftovers of crashed writers. Runs on its own now and then. */
  async sweepExpired(): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for (const space of ['kv', 'leases', 'slots'] as const) {
      const files = space === 'kv' ? (await this.filesUnder('')).map((f) => f.path) : (await readdir(this.dirs[space])).filter((n) => n.endsWith('.json')).map((n) => join(this.dirs[space], n));
      const dead: FileRecord[] = [];
      await readBatched(files, (f) => {
        let rec: FileRecord | undefined;
        try {
          rec = this.readFile(f);
        } catch {
          return; // corrupt: left for get() to report
        }
        if (rec && expired(rec, now)) dead.push(rec);
      });
      await forEachLimit(dead, 8, async (rec) => {
        const gone = await this.withLock(space, rec.key, async (token) => {
          const again = this.readFile(this.path(space, rec.key));
          if (!again || again.version !== rec.version || !expired(again, Date.now())) return false;
          await this.assertHeld(space, rec.key, token);
          await unlink(this.path(space, rec.key));
          return true;
        });
        if (gone) removed++;
      });
    }
    // Temp files and broken-lock leftovers of processes that died mid-write.
    for (const dir of [this.dirs.tmp, this.dirs.locks]) {
      for (const n of await readdir(dir)) {
        if (dir === this.dirs.locks && !n.endsWith('.dead')) continue;
        const p = join(dir, n);
        const st = await stat(p).catch(() => undefined);
        if (st && now - st.mtimeMs > Math.max(this.staleLockMs, 60_000) * 10) await unlink(p).catch(() => undefined);
      }
    }
    return removed;
  }

  // ---- records -----------------------------------------------------------------------------------

  private check(): void {
    if (this.closed) throw closedError();
  }

  private path(space: SpaceName, key: string): string {
    return join(this.dirs[space], space === 'kv' ? keyFile(key) : `${encodeKey(key)}.json`);
  }

  private readFile(path: string): FileRecord | undefined {
    const text = readTextIfExists(path);
    if (text === undefined) return undefined;
    let rec: Partial<FileRecord>;
    try {
      rec = JSON.parse(text) as Partial<FileRecord>;
    } catch (e) {
      throw new StoreError('BACKEND', `file store: corrupt file ${path}`, { cause: e });
    }
    if (
      typeof rec !== 'object' || rec === null ||
      typeof rec.key !== 'string' || typeof rec.version !== 'string' ||
      !(rec.expiresAt === null || typeof rec.expiresAt === 'number') || !('value' in rec)
    ) {
      throw new StoreError('BACKEND', `file store: corrupt file ${path}`);
    }
    return rec as FileRecord;
  }

  private readLive(space: SpaceName, key: string): FileRecord | undefined {
    const rec = this.readFile(this.path(space, key));
    if (!rec || expired(rec, Date.now())) return undefined;
    if (rec.key !== key) throw new StoreError('BACKEND', `file store: ${this.path(space, key)} holds another key`);
    return rec;
  }

  private async putIn(space: SpaceName, key: string, value: unknown, opts?: PutOptions): Promise<string | undefined> {
    const { mode, ttlMs } = putMode(opts);
    const json = serialize(value);
    if (mode.kind !== 'always') {
      // A condition that fails now fails: answer without queueing for the lock (losers of a race exit fast).
      const now = this.readLive(space, key);
      if (mode.kind === 'ifAbsent' ? now !== undefined : now?.version !== mode.version) return undefined;
    }
    return this.withLock(space, key, async (token) => {
      const cur = this.readLive(space, key);
      if (mode.kind === 'ifAbsent' && cur) return undefined;
      if (mode.kind === 'ifVersion' && cur?.version !== mode.version) return undefined;
      const version = nextVersion(cur?.version);
      const expiresAt = ttlMs === undefined ? null : Date.now() + ttlMs;
      const text = `{"key":${JSON.stringify(key)},"version":${JSON.stringify(version)},"expiresAt":${expiresAt},"value":${json}}\n`;
      await this.writeAtomic(this.path(space, key), text, () => this.assertHeld(space, key, token));
      return version;
    });
  }

  private async deleteIn(space: SpaceName, key: string, opts?: DeleteOptions): Promise<boolean> {
    if (opts?.ifVersion !== undefined && typeof opts.ifVersion !== 'string') {
      throw new TypeError('store delete: ifVersion must be a string');
    }
    const now = this.readLive(space, key);
    if (!now || (opts?.ifVersion !== undefined && now.version !== opts.ifVersion)) return false;
    return this.withLock(space, key, async (token) => {
      const cur = this.readLive(space, key);
      if (!cur) return false;
      if (opts?.ifVersion !== undefined && cur.version !== opts.ifVersion) return false;
      await this.assertHeld(space, key, token);
      const path = this.path(space, key);
      await unlink(path);
      await this.syncDir(dirname(path));
      return true;
    });
  }

  private async writeAtomic(path: string, text: string, beforeCommit: () => Promise<void>, durable = this.fsync): Promise<void> {
    const tmp = join(this.dirs.tmp, `${process.pid}-${unique()}.tmp`);
    const fh = await open(tmp, 'wx');
    try {
      try {
        await fh.writeFile(text, 'utf8');
        if (durable) await fh.sync();
      } finally {
        await fh.close();
      }
      await beforeCommit();
      try {
        await rename(tmp, path);
      } catch (e) {
        if (errno(e) !== 'ENOENT') throw e;
        // The key's bucket does not exist yet: the first write to it creates it (durably), then renames.
        await mkdir(dirname(path), { recursive: true });
        if (durable) await this.syncDir(dirname(dirname(path)));
        await rename(tmp, path);
      }
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
    if (durable) await this.syncDir(dirname(path));
  }

  /**
   * Makes the renames already done in `dir` durable. One fsync of a directory covers every rename
   * made before it started, so callers share them (group commit): with one running, a caller joins
   * the next, which starts when it ends. A sweep's 400 writes a second made 400 directory fsyncs,
   * which held libuv's four threads and made everything else queue behind them.
   */
  private syncDir(dir: string): Promise<void> {
    if (!this.fsync) return Promise.resolve();
    let group = this.dirSyncs.get(dir);
    if (!group) this.dirSyncs.set(dir, (group = new GroupCommit(() => fsyncDir(dir))));
    return group.request();
  }

  /** Runs fn under the cross-process write lock of `key` in `space` (file-lock.ts). */
  private withLock<R>(space: SpaceName, key: string, fn: (token: string) => Promise<R>): Promise<R> {
    return this.locks.withLock(`${space[0]}.${encodeKey(key)}`, key, fn);
  }

  private assertHeld(space: SpaceName, key: string, token: string): Promise<void> {
    return this.locks.assertHeld(`${space[0]}.${encodeKey(key)}`, key, token);
  }

  private maybeSweep(): void {
    if (this.sweepIntervalMs <= 0 || this.closed || Date.now() - this.lastSweep < this.sweepIntervalMs) return;
    this.lastSweep = Date.now();
    const p = this.sweepExpired()
      .then(() => undefined)
      .catch(() => undefined)
      .finally(() => this.background.delete(p));
    this.background.add(p);
  }

}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some platforms (Windows) cannot fsync a directory; the rename is still atomic.
  }
}

function expired(rec: FileRecord, now: number): boolean {
  return rec.expiresAt !== null && rec.expiresAt <= now;
}

/** Reads files (fn) in batches, yielding to the event loop between them so a long list does not stall it. */
function readBatched<T>(items: readonly T[], fn: (item: T) => void): Promise<void> {
  return inSlices(items, READ_BATCH, fn);
}

/** fn over items, `size` at a time, with a turn of the event loop between slices (~1 ms each). */
async function inSlices<T>(items: readonly T[], size: number, fn: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const end = Math.min(items.length, i + size);
    for (let j = i; j < end; j++) fn(items[j] as T);
  }
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
