import { patchActive, readActive, untrackActive } from './active.ts';
import { endFailed, raiseRecordedFailureAlert, runOnboarding, type OnboardingDeps } from './onboard.ts';
import { isStalled, recordKey, type OnboardingRecord } from './record.ts';

export interface RedrivePolicy {
  /** A record untouched for less than this is left to its own delivery (FC's queue, its retries). */
  graceMs: number;
  /** Wait before the first re-drive of a record, doubled after each one, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Re-drives before a stalled record is ended `failed` with one alert. */
  maxDrives: number;
  /**
   * Time kept free before the invocation's deadline: no re-drive starts inside it. At most a third
   * of the invocation, so a function with a short timeout still re-drives.
   */
  reserveMs: number;
}

const DEFAULT_REDRIVE_POLICY: Readonly<RedrivePolicy> = {
  graceMs: 60_000,
  baseDelayMs: 60_000,
  maxDelayMs: 30 * 60_000,
  maxDrives: 8,
  reserveMs: 30_000,
};

export interface RedriveReport {
  active: number;
  redriven: number;
  done: number;
  failed: number;
  /** Records that ended `failed` here because they stalled past the limit. */
  gaveUp: number;
  /** Re-drives that threw (store still down, CAMS unavailable, in progress elsewhere): tried again later. */
  errors: number;
}

/**
 * One tick of the re-drive timer. Reads the index of unfinished onboardings (one key, never a scan)
 * and restarts, in this invocation, each one whose run is gone (no lease) and that has been quiet for
 * the grace period, at most once per backoff step; past `maxDrives` the record ends `failed`.
 */
export async function redriveStalled(deps: OnboardingDeps, policy: Partial<RedrivePolicy> = {}): Promise<RedriveReport> {
  const p = { ...DEFAULT_REDRIVE_POLICY, ...policy };
  const now = deps.now ?? Date.now;
  const log = deps.log ?? (() => {});
  const entries = Object.entries(await readActive(deps.store)).sort(([, a], [, b]) => a.NextAt - b.NextAt);
  const report: RedriveReport = { active: entries.length, redriven: 0, done: 0, failed: 0, gaveUp: 0, errors: 0 };
  const reserveMs = Math.min(p.reserveMs, (deps.deadline - now()) / 3);
  for (const [i, [id, entry]] of entries.entries()) {
    if (now() > deps.deadline - reserveMs) {
      log({ level: 'info', msg: 'onboarding re-drive stopped for the deadline; the rest wait for the next tick', left: entries.length - i });
      break;
    }
    if (entry.NextAt > now()) continue;
    try {
      const record = (await deps.store.get<OnboardingRecord>(recordKey(id)))?.value;
      if (!record) {
        // Indexed, then the record was never written (its writer died in between): nothing to resume.
        // Unless a retry has indexed it again since the read above, and is about to write it.
        if (now() - entry.Since > p.graceMs) await untrackActive(deps.store, id, entry.Since);
        continue;
      }
      if (record.Status === 'done' || record.Status === 'failed') {
        // A failed record still indexed may have lost its alert (its run died before writing it).
        if (record.Status === 'failed') await raiseRecordedFailureAlert(deps, record);
        await untrackActive(deps.store, id);
        continue;
      }
      if (!isStalled(record, now()) || now() - Date.parse(record.UpdatedAt) < p.graceMs) continue;
      if (entry.Drives >= p.maxDrives) {
        const ended = await endFailed(deps, id, 'redrive', 'OnboardingStalled', `no progress after ${entry.Drives} re-drives; last error: ${lastError(record)}`);
        if (ended?.Status === 'failed') report.gaveUp++;
        log({ level: 'warn', msg: 'onboarding stalled past the re-drive limit', onboardingId: id, drives: entry.Drives, status: ended?.Status ?? 'held by a run' });
        continue;
      }
      // Counted before the run: a re-drive that dies half-way still moves the record toward the limit.
      const drives = entry.Drives + 1;
      await patchActive(deps.store, id, (e) => ({ ...e, Drives: drives, NextAt: now() + Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (drives - 1)) }));
      report.redriven++;
      log({ level: 'info', msg: 'onboarding re-driven', onboardingId: id, drive: drives, status: record.Status });
      const out = await runOnboarding(deps, { payload: record.Payload, onboardingId: id, ...(record.Source ? { source: record.Source } : {}) });
      if (out.status === 'done') report.done++;
      else if (out.status === 'failed') report.failed++;
    } catch (e) {
      report.errors++;
      log({ level: 'warn', msg: 'onboarding re-drive failed', onboardingId: id, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return report;
}

function lastError(record: OnboardingRecord): string {
  const e = record.Errors.at(-1);
  return e ? `${e.step}: ${e.Code}: ${e.Message}` : 'none recorded';
}
