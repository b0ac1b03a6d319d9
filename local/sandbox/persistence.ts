import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseStoreUrl } from '../../shared/store/open-store.ts';
import { RECEIPT_FORMATS } from './receipts.ts';
import type { StateSnapshot } from './state.ts';
import { StateLock, type StateLockOptions } from './state-lock.ts';

const STATE_FILE_NAME = 'sandbox.json';


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
  receipts: z.object({ url: z.string(), dropRate: z.number().min(0).max(1), format: z.enum(RECEIPT_FORMATS).optional() }).optional(),
  // Up to 3, not RETRY_DELAYS_MS.length: a file saved under the older 1, 5, 10 min schedule still loads
  // (such a retry is made when due, and given up if it fails).
  receiptRetries: z.array(z.object({ receipts: z.array(z.unknown()), retry: z.number().int().min(1).max(3), dueAtMs: z.number() })).optional(),
});

/**
 * `<dataDir>/sandbox.json`: the sandbox's state across restarts. Written through on every change,
 * before the reply goes out, so a reply the caller saw is never lost to a SIGKILL; each write is a
 * temp file, fsync, then rename, so a crash mid-write leaves the previous file whole.
 */
export class StateFile {
  readonly path: string;
  private readonly stateLock: StateLock;

  constructor(readonly dir: string, lockOpts: StateLockOptions = {}) {
    this.path = join(dir, STATE_FILE_NAME);
    this.stateLock = new StateLock(dir, this.path, lockOpts);
  }

  /** Takes `<dir>/sandbox.lock` for as long as this sandbox runs (StateLock). */
  lock(): void {
    this.stateLock.lock();
  }

  /** Gives the lock up (the sandbox closed). */
  unlock(): void {
    this.stateLock.unlock();
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
