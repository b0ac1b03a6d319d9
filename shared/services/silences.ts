import { HttpError } from '../http-fn/errors.ts';
import type { ServiceResult } from '../http-fn/middlewares.ts';
import { loadSilenced } from '../monitor/entity-store.ts';
import { silenceState, type Matcher, type Silence } from '../silences/silence.ts';
import { createSilence, decodeNextToken, DEFAULT_PAGE_SIZE, expireSilence, listSilencePage } from '../silences/store.ts';
import type { Store } from '../store/port.ts';
import { unknownNextToken } from '../validation/page-params.ts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** A silence on the wire: times as ISO strings, its state now, and how many alerts it holds back now. */
function silenceView(s: Silence, now: number, suppressed: number): Record<string, unknown> {
  return {
    SilenceId: s.SilenceId,
    Matchers: s.Matchers,
    StartsAt: iso(s.StartsAt),
    EndsAt: iso(s.EndsAt),
    CreatedBy: s.CreatedBy,
    Comment: s.Comment,
    CreatedAt: iso(s.CreatedAt),
    ...(s.ExpiredAt !== undefined ? { ExpiredAt: iso(s.ExpiredAt) } : {}),
    State: silenceState(s, now),
    Suppressed: suppressed,
  };
}

/**
 * Per silence, the entities whose last notification it kept back: through the silenced index, not
 * every entity (10,000 watched nodes are as many entities).
 */
async function suppressedCounts(store: Store): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { value } of await loadSilenced(store, { prune: false })) {
    if (value.silenced) counts.set(value.silenced.silenceId, (counts.get(value.silenced.silenceId) ?? 0) + 1);
  }
  return counts;
}

export async function createSilenceService(
  store: Store,
  p: { Matchers: Array<{ Name: string; Value: string }>; StartsAt?: string | undefined; EndsAt: string; CreatedBy: string; Comment: string },
  now: number,
): Promise<ServiceResult> {
  const endsAt = Date.parse(p.EndsAt);
  // The schema says so beside every other problem; this holds at the clock the silence is stored with.
  if (endsAt <= now) {
    throw new HttpError(400, 'InvalidParameter', 'EndsAt: must be in the future', { fields: [{ Field: 'EndsAt', Message: 'must be in the future' }] });
  }
  const s = await createSilence(
    store,
    { Matchers: p.Matchers as Matcher[], StartsAt: p.StartsAt ? Date.parse(p.StartsAt) : now, EndsAt: endsAt, CreatedBy: p.CreatedBy, Comment: p.Comment },
    now,
  );
  return { data: { SilenceId: s.SilenceId } };
}

/** One page of GET /silences: in force first (the latest to end first), then those ended in the last 7 days. */
export async function listSilencesService(store: Store, now: number, p: { PageSize?: number | undefined; NextToken?: string | undefined } = {}): Promise<ServiceResult> {
  const after = p.NextToken === undefined ? undefined : decodeNextToken(p.NextToken);
  if (p.NextToken !== undefined && after === undefined) throw unknownNextToken();
  const pageSize = p.PageSize ?? DEFAULT_PAGE_SIZE;
  const [page, counts] = await Promise.all([listSilencePage(store, now, pageSize, after), suppressedCounts(store)]);
  return {
    data: {
      // Only an active silence holds anything back: an ended one's records are owed again at the next flush.
      Silences: page.silences.map((s) => silenceView(s, now, silenceState(s, now) === 'active' ? (counts.get(s.SilenceId) ?? 0) : 0)),
      PageSize: pageSize,
      ...(page.nextToken ? { NextToken: page.nextToken } : {}),
    },
  };
}

export async function deleteSilenceService(store: Store, id: string, now: number): Promise<ServiceResult> {
  const s = await expireSilence(store, id, now);
  if (!s) throw new HttpError(404, 'SilenceNotFound', `no silence ${id} (or it ended more than 7 days ago)`);
  return { data: silenceView(s, now, 0) };
}
