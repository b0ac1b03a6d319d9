import * as nodeFs from 'node:fs';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseStoreUrl } from '../../shared/store/open-store.ts';
import { RETRY_DELAYS_MS } from './receipts.ts';
import type { StateSnapshot } from './state.ts';

const STATE_FILE_NAME = 'sandbox.json';
const LOCK_FILE_NAME = 'sandbox.lock';

/** The file operations sandbox.lock is taken and given up with: a test runs another starter between any two. */
export type LockFs = Pick<typeof nodeFs, 'mkdirSync' | 'writeFileSync' | 'linkSync' | 'readFileSync' | 'rmSync' | 'realpathSync'>;
/** Tries at taking the lock (or a takeover) while other starters change it: each needs one to act. */
const MAX_TURNS = 10;

const Health = z.object({
  CanSendMessage: z.enum(['AVAILABLE', 'LIMITED', 'BLOCKED']),
  Errors: z.array(z.object({ ErrorCode: z.string(), ErrorDescription: z.string().optional(), PossibleSolution: z.string().optional() })).optional(),
});
const ReviewStatus = z.enum(['PENDING', 'APPROVED', 'REJECTED', 'DISABLED']);

const Snapshot = z.object({
  version: z.literal(1),
  spaces: z.array(
    z.object({
      custSpaceId: z.string(),
      account: z.string(),
      wabaId: z.string(),
      businessId: z.string(),
      name: z.string(),
      businessName: z.string(),
      reviewStatus: ReviewStatus,
      messageTemplateNamespace: z.string(),
      boundAtMs: z.number(),
      phones: z.array(
        z.object({
          cc: z.string(),
          phoneNumber: z.string(),
          verifiedName: z.string(),
          qualityRating: z.string().optional(),
          messagingLimitTier: z.string().optional(),
          status: z.string().optional(),
        }),
      ),
      health: z.array(Health.extend({ key: z.string() })),
      templates: z.array(z.string()),
      templateMeta: z.array(z.object({ key: z.string(), auditStatus: z.string(), category: z.string().optional(), reason: z.string().optional() })).optional(),
    }),
  ),
  ownWabas: z.array(
    z.object({
      account: z.string(),
      wabaId: z.string(),
      name: z.string(),
      businessId: z.string(),
      businessName: z.string(),
      reviewStatus: ReviewStatus,
      messageTemplateNamespace: z.string(),
    }),
  ),
  receipts: z.object({ url: z.string(), dropRate: z.number().min(0).max(1) }).optional(),
  receiptRetries: z.array(z.object({ receipts: z.array(z.unknown()), retry: z.number().int().min(1).max(RETRY_DELAYS_MS.length), dueAtMs: z.number() })).optional(),
});

/**
 * `<dataDir>/sandbox.json`: the sandbox's state across restarts. Written through on every change,
 * before the reply goes out, so a reply the caller saw is never lost to a SIGKILL; each write is a
 * temp file, fsync, then rename, so a crash mid-write leaves the previous file whole.
 */
export class StateFile {
  readonly path: string;
  private readonly lockPath: string;
  /** The lock file as HELD_HERE names it while this holds it. */
  private held: string | undefined;

  private readonly fs: LockFs;
  /** The pid this sandbox's lock holds: a test plays several processes in one. */
  private readonly pid: number;

  constructor(readonly dir: string, lockOpts: { fs?: LockFs; pid?: number } = {}) {
    this.fs = lockOpts.fs ?? nodeFs;
    this.pid = lockOpts.pid ?? process.pid;
    this.path = join(dir, STATE_FILE_NAME);
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
      throw new Error(`the sandbox state ${this.path} is in use by process ${holder}${own ? ' (this one: another sandbox on it)' : ''} (npm start or npm run sandbox of the same stage): stop it, or use another stage or data directory`);
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
    this.fs.rmSync(this.lockPath, { force: true });
  }

  /** The saved state, or undefined when there is none yet. A file that is not a sandbox state is an error naming it. */
  load(): StateSnapshot | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read the sandbox state ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new Error(`${this.path} is not valid JSON (${(e as Error).message}); move it away to start with an empty sandbox`, { cause: e });
    }
    const parsed = Snapshot.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`${this.path} is not a sandbox state file (${issue.path.join('.') || '(root)'}: ${issue.message}); move it away to start with an empty sandbox`);
    }
    return parsed.data as StateSnapshot;
  }

  save(snapshot: StateSnapshot): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, JSON.stringify(snapshot));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
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

/**
 * Where the local host keeps its sandbox's state: beside its own records, so that the watch list and
 * the CAMS world it points at survive (or are wiped) together. A file store's directory, except the
 * shared legacy default `./.data`, which becomes `./.data/<stage>`; `./.data/<stage>` with Redis;
 * nowhere with `memory:` (the records do not survive either).
 */
export function hostSandboxDataDir(storeUrl: string, stage: string, cwd = process.cwd()): string | undefined {
  const store = parseStoreUrl(storeUrl, cwd);
  const stageDir = join(cwd, '.data', stage);
  switch (store.kind) {
    case 'memory':
      return undefined;
    case 'file':
      return store.dir === resolve(cwd, '.data') ? stageDir : store.dir;
    case 'redis':
      return stageDir;
  }
}
