import { randomBytes } from 'node:crypto';
import { keyOfNextToken, nextTokenOf } from '../store/next-token.ts';
import { StoreError, type Store } from '../store/port.ts';
import { EXPIRED_LISTED_MS, type Matcher, type Silence } from './silence.ts';

const SILENCE_PREFIX = 'silences/';
/**
 * Silences created before keys said when they end: `silences/<SilenceId>`. They keep their key until
 * the store forgets them (7 days after their end), read apart from the others.
 */
const LEGACY_PREFIX = `${SILENCE_PREFIX}sil-`;

/** Ends are written as this minus the end: keys in order are latest end first. 12 hex digits: year 10889. */
const END_MAX = 0xffff_ffff_ffff;
const endHex = (endsAt: number) => (END_MAX - endsAt).toString(16).padStart(12, '0');

/**
 * `silences/<end>.<SilenceId>`: in key order, the silences in force (pending, active) come first,
 * the latest to end first, then the ended ones, the last to end first. So the deliverer reads those
 * in force and stops at the first ended one, however many ended in the last 7 days.
 */
const keyOf = (s: Pick<Silence, 'SilenceId' | 'EndsAt'>) => `${SILENCE_PREFIX}${endHex(s.EndsAt)}.${s.SilenceId}`;

/** A SilenceId starts with the end it was created with (see keyOf), so DELETE finds its key. */
const createdKeyOf = (id: string) => `${SILENCE_PREFIX}${id.slice(4, 16)}.${id}`;

/**
 * Where a silence ended early now lives (its key said its old end): `silences-ended/<SilenceId>` →
 * its key, kept as long as it is. Not under `silences/`, which lists silences only.
 */
const movedKeyOf = (id: string) => `silences-ended/${id}`;

/**
 * A record not under the key its end gives: ended early where it was, its move to its new end's key
 * unfinished (expireSilence). Legacy keys never say an end, and are ended where they are.
 */
const unmoved = (key: string, s: Silence) => !key.startsWith(LEGACY_PREFIX) && key !== keyOf(s);

/** An unmoved record is listed where it stands only until its copy under its new key is there: once, either way. */
const movedCopyIsThere = async (store: Store, s: Silence) => (await store.get<Silence>(keyOf(s))) !== undefined;

/** Store reads of silences in force, a page at a time: at most this many ended ones are read with them. */
const READ_PAGE = 100;

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 100;

/** The key lives until the silence has been over for 7 days, then the store forgets it. */
const ttlFor = (s: Silence, now: number) => Math.max(1, s.EndsAt + EXPIRED_LISTED_MS - now);

const listed = (s: Silence, now: number) => now - s.EndsAt < EXPIRED_LISTED_MS;

export async function createSilence(
  store: Store,
  input: { Matchers: Matcher[]; StartsAt: number; EndsAt: number; CreatedBy: string; Comment: string },
  now: number,
): Promise<Silence> {
  const silence: Silence = { SilenceId: `sil-${endHex(input.EndsAt)}${randomBytes(6).toString('hex')}`, ...input, CreatedAt: now };
  await store.put(keyOf(silence), silence, { ifAbsent: true, ttlMs: ttlFor(silence, now) });
  return silence;
}

/**
 * The silences in force (pending, active), and the `ended` that ended last (in the last 7 days):
 * in force first, the latest to end first. Reads those and one page more at most, not every silence
 * of the last 7 days. `moreEnded`: some ended ones were left out.
 */
export async function listSilences(store: Store, now: number, opts: { ended?: number } = {}): Promise<{ silences: Silence[]; moreEnded: boolean }> {
  const silences: Silence[] = [];
  let endedLeft = opts.ended ?? 0;
  let moreEnded = false;
  let after: string | undefined;
  // Legacy keys sort after every other: read apart only when the walk stopped before the end.
  let legacyUnread = true;
  read: for (;;) {
    const page = await store.list<Silence>(SILENCE_PREFIX, { ...(after !== undefined ? { after } : {}), limit: READ_PAGE });
    for (const { key, value } of page) {
      if (key.startsWith(LEGACY_PREFIX)) break read;
      // Ended early, its move unfinished: it sits among those in force, so it ends no walk.
      if (unmoved(key, value) && value.EndsAt <= now) {
        if (!listed(value, now)) continue;
        if (endedLeft === 0) moreEnded = true;
        else if (!(await movedCopyIsThere(store, value))) {
          endedLeft--;
          silences.push(value);
        }
        continue;
      }
      if (value.EndsAt <= now) {
        if (!listed(value, now)) break read;
        if (endedLeft === 0) {
          moreEnded = true;
          break read;
        }
        endedLeft--;
      }
      silences.push(value);
    }
    if (page.length < READ_PAGE) {
      legacyUnread = false;
      break;
    }
    after = page.at(-1)!.key;
  }
  for (const { value } of legacyUnread ? await store.list<Silence>(LEGACY_PREFIX) : []) {
    if (value.EndsAt > now) silences.push(value);
    else if (!listed(value, now)) continue;
    else if (endedLeft > 0) {
      endedLeft--;
      silences.push(value);
    } else moreEnded = true;
  }
  return { silences, moreEnded };
}

export interface SilencePage {
  silences: Silence[];
  nextToken?: string;
}

/** The silence key a NextToken of GET /silences names (../store/next-token.ts). */
export function decodeNextToken(token: string): string | undefined {
  return keyOfNextToken(token, SILENCE_PREFIX);
}

/**
 * One page of every silence listed (in force and ended in the last 7 days), in key order (in force
 * first: see keyOf), after the key a NextToken names: only the page's silences are read. A silence
 * ended early (DELETE) moves to its new end's place, so a listing it was in may show it twice or
 * not at all; the others are listed once each.
 */
export async function listSilencePage(store: Store, now: number, pageSize: number, after?: string): Promise<SilencePage> {
  const rows = await store.list<Silence>(SILENCE_PREFIX, { ...(after !== undefined ? { after } : {}), limit: pageSize + 1 });
  const page = rows.slice(0, pageSize);
  const silences: Silence[] = [];
  for (const { key, value } of page) {
    if (listed(value, now) && !(unmoved(key, value) && (await movedCopyIsThere(store, value)))) silences.push(value);
  }
  return {
    silences,
    ...(rows.length > pageSize ? { nextToken: nextTokenOf(page.at(-1)!.key) } : {}),
  };
}

/** The silence's record, wherever its end put it: its created key, its legacy key, or where ending early moved it. */
async function findSilence(store: Store, id: string) {
  for (const key of [createdKeyOf(id), SILENCE_PREFIX + id]) {
    const found = await store.get<Silence>(key);
    if (found) return { key, ...found };
  }
  const moved = await store.get<string>(movedKeyOf(id));
  const found = moved ? await store.get<Silence>(moved.value) : undefined;
  return moved && found ? { key: moved.value, ...found } : undefined;
}

/**
 * Ends a silence now (it stays listed, as expired, for 7 days). A pending one starts now too (as
 * Alertmanager expires it), so it never ends before it starts. One that has already ended (at its
 * end, or early, whatever the clock of the DELETE that ended it) is returned as it stands (a DELETE
 * sent again, its first answer lost, is answered as the first); undefined when there is no such
 * silence, or the store has forgotten it.
 *
 * It is ended where it stands first, in one compare-and-set: from then on it is ended, whatever
 * fails next, and listed once. Then the pointer, the copy under its new end's key, and last the old
 * key goes: a DELETE sent again after a failure at any step finds it where it was and finishes.
 */
export async function expireSilence(store: Store, id: string, now: number): Promise<Silence | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await findSilence(store, id);
    if (!current) return undefined;
    let { value, version } = current;
    // Ended early already (ExpiredAt): by a DELETE whose clock may be ahead of this one's. Ended
    // again, earlier, it answered otherwise than the first, and moved while that one moved it, it
    // was left under both ends (listed twice).
    if (value.EndsAt > now && value.ExpiredAt === undefined) {
      const ended: Silence = { ...value, StartsAt: Math.min(value.StartsAt, now), EndsAt: now, ExpiredAt: now };
      const written = await store.put(current.key, ended, { ifVersion: version, ttlMs: ttlFor(ended, now) });
      // Another DELETE ended it first: read what it wrote, and finish its move.
      if (written === undefined && attempt < 3) continue;
      if (written === undefined) throw new StoreError('CONFLICT', `ending silence ${id} lost ${attempt} compare-and-set races in a row`);
      [value, version] = [ended, written];
    }
    if (!listed(value, now)) return undefined;
    if (unmoved(current.key, value)) {
      const ttlMs = ttlFor(value, now);
      await store.put(movedKeyOf(id), keyOf(value), { ttlMs });
      await store.put(keyOf(value), value, { ttlMs });
      await store.delete(current.key, { ifVersion: version });
    }
    return value;
  }
}
