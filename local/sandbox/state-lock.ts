import * as nodeFs from 'node:fs';
import { join } from 'node:path';

const LOCK_FILE_NAME = 'sandbox.lock';

/** The file operations sandbox.lock is taken and given up with: a test runs another starter between any two. */
export type LockFs = Pick<typeof nodeFs, 'mkdirSync' | 'writeFileSync' | 'linkSync' | 'readFileSync' | 'rmSync' | 'realpathSync'>;
export interface StateLockOptions {
  fs?: LockFs;
  /** The pid this sandbox's lock holds: a test plays several processes in one. */
  pid?: number;
}
/** Tries at taking the lock (or a takeover) while other starters change it: each needs one to act. */
const MAX_TURNS = 10;

/**
 * `<dir>/sandbox.lock`: one sandbox per state directory. Two sandboxes on one state (`npm start` and
 * `npm run sandbox` of one stage) would each save over the other's changes.
 */
export class StateLock {
  private readonly lockPath: string;
  /** The lock file as HELD_HERE names it while this holds it. */
  private held: string | undefined;
  private readonly fs: LockFs;
  private readonly pid: number;

  /** `statePath`: the state file it guards, named in the refusal. */
  constructor(
    private readonly dir: string,
    private readonly statePath: string,
    opts: StateLockOptions = {},
  ) {
    this.fs = opts.fs ?? nodeFs;
    this.pid = opts.pid ?? process.pid;
    this.lockPath = join(dir, LOCK_FILE_NAME);
  }

  /**
   * Takes `<dir>/sandbox.lock` (this process's pid) for as long as this sandbox runs: two sandboxes on
   * one state (`npm start` and `npm run sandbox` of one stage) would each save over the other's
   * changes. A lock whose process is gone (killed) is taken over, as is one under this process's pid
   * that no sandbox of this process holds.
   *
   * Safe between starters that run at the same time: the lock appears with its pid in it (a temp
   * file linked in place, which fails if one is there), so none sees it empty and takes it for a
   * dead one's; and a dead one's is removed only by the starter that holds `sandbox.lock.takeover`,
   * after reading it again under it, so none removes a lock another has just taken in its place.
   */
  lock(): void {
    this.fs.mkdirSync(this.dir, { recursive: true });
    for (let turn = 0; turn < MAX_TURNS; turn++) {
      if (this.create(this.lockPath)) {
        this.held = this.heldName();
        HELD_HERE.add(this.held);
        return;
      }
      const holder = this.read(this.lockPath);
      if (holder === undefined) continue; // given up meanwhile
      this.refuseIfRunning(holder, true);
      this.removeStale(this.lockPath, holder);
    }
    throw this.contended();
  }

  /**
   * Makes `file` holding this pid, never seen without it: a temp file linked in place (EEXIST when
   * there is one, as `wx` would). False when there is one.
   */
  private create(file: string): boolean {
    const tmp = `${file}.${this.pid}.tmp`;
    this.fs.writeFileSync(tmp, String(this.pid));
    try {
      this.fs.linkSync(tmp, file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    } finally {
      this.fs.rmSync(tmp, { force: true });
    }
  }

  /** A lock file's text, or undefined when it is gone. */
  private read(file: string): string | undefined {
    try {
      return this.fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Refuses to start when `text` (a lock's or a takeover's) names a process that runs. */
  private refuseIfRunning(text: string, isLock: boolean): void {
    const holder = Number(text.trim());
    // This pid in the lock, but no sandbox of this process holds it: an earlier process with the same
    // pid left it (pids repeat in a container restarted after a kill), so it is stale. A takeover
    // under this pid is never this process's own: it gives each up before lock() returns.
    if (!Number.isInteger(holder) || holder <= 0) return; // no pid: a killed starter's of an earlier version
    const own = holder === this.pid;
    if (own ? isLock && HELD_HERE.has(this.heldName()) : isRunning(holder)) {
      throw new Error(`the sandbox state ${this.statePath} is in use by process ${holder}${own ? ' (this one: another sandbox on it)' : ''} (npm start or npm run sandbox of the same stage): stop it, or use another stage or data directory`);
    }
  }

  /**
   * Removes `file`, read holding `stale` (a process that is gone), unless another starter has put
   * its own in its place since: only the holder of `<file>.takeover` removes such a file, reading it
   * again first, and no one else removes it (its process is gone). A takeover a killed starter left
   * is removed the same way, under `<file>.takeover.takeover`.
   */
  private removeStale(file: string, stale: string): void {
    const takeover = `${file}.takeover`;
    for (let turn = 0; !this.create(takeover); turn++) {
      if (turn === MAX_TURNS) throw this.contended();
      const taker = this.read(takeover);
      if (taker === undefined) continue; // given up meanwhile
      // Another starter is taking it over now: it will hold the lock, or one that came after.
      this.refuseIfRunning(taker, false);
      this.removeStale(takeover, taker);
    }
    try {
      if (this.read(file) === stale) this.fs.rmSync(file, { force: true });
    } finally {
      this.fs.rmSync(takeover, { force: true });
    }
  }

  private contended(): Error {
    return new Error(`cannot take ${this.lockPath}: other sandboxes starting on ${this.dir} keep changing it; start again`);
  }

  /** The lock file as HELD_HERE names it: one file whatever path (relative, through a link) reached it. */
  private heldName(): string {
    return join(this.fs.realpathSync(this.dir), LOCK_FILE_NAME);
  }

  /** Gives the lock up (the sandbox closed). */
  unlock(): void {
    // By the name it was taken under: the directory may be gone by now (rm -rf .data while it ran).
    if (this.held === undefined) return;
    HELD_HERE.delete(this.held);
    this.held = undefined;
    // Only while it is this one's: with the directory removed while this ran, another sandbox may
    // have started there and taken a new lock, which stays.
    if (this.read(this.lockPath)?.trim() === String(this.pid)) this.fs.rmSync(this.lockPath, { force: true });
  }
}

/** The lock files this process's sandboxes hold: its own pid in a lock not here is an earlier process's. */
const HELD_HERE = new Set<string>();

/** Whether a process with this pid runs (EPERM: it does, as another user's). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
