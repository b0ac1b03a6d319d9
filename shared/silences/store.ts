import { randomBytes } from 'node:crypto';
import { update, type Store } from '../store/port.ts';
import { EXPIRED_LISTED_MS, type Matcher, type Silence } from './silence.ts';

const SILENCE_PREFIX = 'silences/';

/** The key lives until the silence has been over for 7 days, then the store forgets it. */
const ttlFor = (s: Silence, now: number) => Math.max(1, s.EndsAt + EXPIRED_LISTED_MS - now);

export async function createSilence(
  store: Store,
  input: { Matchers: Matcher[]; StartsAt: number; EndsAt: number; CreatedBy: string; Comment: string },
  now: number,
): Promise<Silence> {
  const silence: Silence = { SilenceId: `sil-${randomBytes(12).toString('hex')}`, ...input, CreatedAt: now };
  await store.put(SILENCE_PREFIX + silence.SilenceId, silence, { ifAbsent: true, ttlMs: ttlFor(silence, now) });
  return silence;
}

/** Active, pending, and those ended less than 7 days ago, newest first. */
export async function listSilences(store: Store, now: number): Promise<Silence[]> {
  const rows = await store.list<Silence>(SILENCE_PREFIX);
  return rows
    .map((r) => r.value)
    .filter((s) => now - s.EndsAt < EXPIRED_LISTED_MS)
    .sort((a, b) => b.CreatedAt - a.CreatedAt || (a.SilenceId < b.SilenceId ? -1 : 1));
}

/**
 * Ends a silence now (it stays listed, as expired, for 7 days). Undefined when there is no such
 * silence. A pending one starts now too (as Alertmanager expires it), so it never ends before it starts.
 */
export async function expireSilence(store: Store, id: string, now: number): Promise<Silence | undefined> {
  // Ending now leaves it listed for exactly EXPIRED_LISTED_MS more.
  const result = await update<Silence>(
    store,
    SILENCE_PREFIX + id,
    (s) => (!s || s.EndsAt <= now ? undefined : { ...s, StartsAt: Math.min(s.StartsAt, now), EndsAt: now, ExpiredAt: now }),
    { ttlMs: EXPIRED_LISTED_MS },
  );
  return result?.value;
}
