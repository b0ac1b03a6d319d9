/**
 * The file store's per-key write locks, safe across processes on one machine.
 *
 * A lock file is created whole and atomically with link(2) (EEXIST means held) and names its holder
 * (hostname, pid, token, time). A lock whose holder process is gone (same host, pid not alive) or that
 * is older than staleLockMs is broken; breaking is itself serialised by a short-lived `.break` lock
 * and re-checks the token, so two processes never both break and re-take the same lock.
 */
import { link, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { errno, readTextIfExists, unique } from './file-util.ts';
import { StoreError } from './port.ts';

export interface FileLockOptions {
  /** Where the lock files are. */
  locksDir: string;
  /** Where a lock's content is written before it is linked into place. */
  tmpDir: string;
  /** Give up waiting for a lock after this long (StoreError LOCK_TIMEOUT). */
  lockTimeoutMs: number;
  /** A lock older than this is broken even if its holder looks alive (pid reuse, other host). */
  staleLockMs: number;
}

interface LockInfo {
  pid: number;
  host: string;
  token: string;
  at: number;
}

const HOST = hostname();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM';
  }
}

export class FileLocks {
  /** In-process FIFO per lock file, so this process's own writers queue instead of polling. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(private readonly opts: FileLockOptions) {}

  private path(name: string): string {
    return join(this.opts.locksDir, `${name}.lock`);
  }

  /**
   * Runs fn holding the lock file `locks/<name>.lock`, after this process's own earlier holders of it
   * (they queue in-process instead of polling). `key` names the lock in errors. fn gets the token to
   * pass to assertHeld.
   */
  async withLock<R>(name: string, key: string, fn: (token: string) => Promise<R>): Promise<R> {
    const lockPath = this.path(name);
    const prev = this.queues.get(lockPath) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = prev.then(() => mine);
    this.queues.set(lockPath, tail);
    await prev;
    try {
      const token = await this.acquireLock(lockPath, key);
      try {
        return await fn(token);
      } finally {
        await this.releaseLock(lockPath, token);
      }
    } finally {
      done();
      if (this.queues.get(lockPath) === tail) this.queues.delete(lockPath);
    }
  }

  private async acquireLock(lockPath: string, key: string): Promise<string> {
    const token = unique();
    const info: LockInfo = { pid: process.pid, host: HOST, token, at: Date.now() };
    const tmp = join(this.opts.tmpDir, `lock-${process.pid}-${token}`);
    await writeFile(tmp, JSON.stringify(info), { flag: 'wx' });
    try {
      const deadline = Date.now() + this.opts.lockTimeoutMs;
      let backoff = 1;
      for (;;) {
        if (Date.now() - info.at > 250) {
          // The lock must show when it was taken, not when we started waiting for it.
          info.at = Date.now();
          await writeFile(tmp, JSON.stringify(info));
        }
        try {
          await link(tmp, lockPath);
          return token;
        } catch (e) {
          if (errno(e) !== 'EEXIST') throw e;
        }
        const held = await this.readLock(lockPath);
        if (!held) continue; // released in between: try again at once
        if (Date.now() > deadline) {
          throw new StoreError(
            'LOCK_TIMEOUT',
            `file store: timed out after ${this.opts.lockTimeoutMs} ms waiting for the lock on ${JSON.stringify(key)} ` +
              `(held by pid ${held.pid} on ${held.host} since ${new Date(held.at).toISOString()}; lock file ${lockPath})`,
          );
        }
        if (this.isStale(held, this.opts.staleLockMs)) {
          await this.breakLock(lockPath, held, tmp, token);
          continue;
        }
        await sleep(1 + Math.random() * backoff);
        backoff = Math.min(backoff * 2, 25);
      }
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  private async readLock(path: string): Promise<LockInfo | undefined> {
    const text = readTextIfExists(path);
    if (text === undefined) return undefined;
    try {
      const info = JSON.parse(text) as LockInfo;
      if (typeof info.token === 'string' && typeof info.pid === 'number' && typeof info.at === 'number') return info;
    } catch {
      // fall through: unreadable lock files are judged by age only
    }
    const st = await stat(path).catch(() => undefined);
    return st && { pid: -1, host: '', token: `corrupt:${st.ino}:${st.mtimeMs}`, at: st.mtimeMs };
  }

  private isStale(info: LockInfo, maxAgeMs: number): boolean {
    if (info.host === HOST && info.pid > 0 && !pidAlive(info.pid)) return true;
    return Date.now() - info.at > maxAgeMs;
  }

  /** Remove the lock `held` (judged stale), unless it changed meanwhile. */
  private async breakLock(lockPath: string, held: LockInfo, myInfoFile: string, myToken: string): Promise<void> {
    const breakPath = lockPath.replace(/\.lock$/, '.break');
    try {
      await link(myInfoFile, breakPath);
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
      // Someone else is breaking it. If that breaker died, clear its .break (it lives for microseconds).
      const breaker = await this.readLock(breakPath);
      if (breaker && this.isStale(breaker, Math.min(this.opts.staleLockMs, 5_000))) await this.removeIfSame(breakPath, breaker);
      else await sleep(1);
      return;
    }
    try {
      const again = await this.readLock(lockPath);
      if (again && again.token === held.token) await unlink(lockPath).catch(() => undefined);
    } finally {
      const b = await this.readLock(breakPath);
      if (b?.token === myToken) await unlink(breakPath).catch(() => undefined);
    }
  }

  /** Take `path` away by rename, and put it back if it turned out not to be the file judged stale. */
  private async removeIfSame(path: string, judged: LockInfo): Promise<void> {
    const aside = `${path}.${unique()}.dead`;
    try {
      await rename(path, aside);
    } catch (e) {
      if (errno(e) === 'ENOENT') return;
      throw e;
    }
    const got = await this.readLock(aside);
    if (got && got.token !== judged.token) await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
  }

  private async releaseLock(lockPath: string, token: string): Promise<void> {
    const held = await this.readLock(lockPath).catch(() => undefined);
    if (held?.token === token) await unlink(lockPath).catch(() => undefined);
  }

  /** Just before committing: make sure no one broke our lock (we were paused past staleLockMs). */
  async assertHeld(name: string, key: string, token: string): Promise<void> {
    const held = await this.readLock(this.path(name));
    if (held?.token !== token) {
      throw new StoreError('LOCK_TIMEOUT', `file store: lost the lock on ${JSON.stringify(key)} before writing (held longer than ${this.opts.staleLockMs} ms?)`);
    }
  }
}
