import { update, type Store } from '../store/port.ts';

/**
 * The onboardings that are not finished yet, in one store key, so the re-drive timer reads one key
 * instead of scanning every record. An id is added before its record is created and removed after
 * the record is done or failed, so no unfinished record is ever missing from it; an entry whose record
 * is finished (a removal lost to a crash) is dropped by the next re-drive.
 */
const ACTIVE_KEY = 'onboarding-index/active';

export interface ActiveEntry {
  /** Epoch ms the entry was added. */
  Since: number;
  /** Re-drives so far. */
  Drives: number;
  /** Epoch ms before which the timer leaves it alone (backoff). */
  NextAt: number;
}

export interface ActiveIndex {
  Entries: Record<string, ActiveEntry>;
}

export async function readActive(store: Store): Promise<Record<string, ActiveEntry>> {
  return (await store.get<ActiveIndex>(ACTIVE_KEY))?.value.Entries ?? {};
}

/**
 * Called before the record is first written. An entry already there (a writer that died before its
 * record) gets a new Since, so a re-drive that found no record a moment ago leaves it (untrackActive's `since`).
 */
export async function trackActive(store: Store, onboardingId: string, nowMs: number): Promise<void> {
  await update<ActiveIndex>(store, ACTIVE_KEY, (cur) => {
    const entry = cur?.Entries[onboardingId];
    return { Entries: { ...cur?.Entries, [onboardingId]: entry ? { ...entry, Since: nowMs } : { Since: nowMs, Drives: 0, NextAt: nowMs } } };
  });
}

/** With `since`: only while the entry is the one read then (no writer has indexed the id again since). */
export async function untrackActive(store: Store, onboardingId: string, since?: number): Promise<void> {
  await update<ActiveIndex>(store, ACTIVE_KEY, (cur) => {
    if (!cur?.Entries[onboardingId]) return undefined;
    if (since !== undefined && cur.Entries[onboardingId].Since !== since) return undefined;
    const { [onboardingId]: _gone, ...rest } = cur.Entries;
    return { Entries: rest };
  });
}

/** Changes one entry (absent entries stay absent); returns the entry as stored. */
export async function patchActive(store: Store, onboardingId: string, patch: (e: ActiveEntry) => ActiveEntry): Promise<ActiveEntry | undefined> {
  const after = await update<ActiveIndex>(store, ACTIVE_KEY, (cur) => {
    const entry = cur?.Entries[onboardingId];
    if (!entry) return undefined;
    return { Entries: { ...cur.Entries, [onboardingId]: patch(entry) } };
  });
  return after?.value.Entries[onboardingId];
}
