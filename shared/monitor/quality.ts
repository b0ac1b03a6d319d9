import type { HealthError } from '../cams/operations.ts';
import type { EntityState, ObservedStatus } from './entity-state.ts';
import type { Observation } from './rules.ts';
import type { NodeAttributes, WatchTarget } from './targets.ts';

/**
 * A messaging limit tier's rank: its limit, read from its name (TIER_250 → 250, TIER_2K → 2000,
 * TIER_UNLIMITED → Infinity), so a tier Meta adds (TIER_2K took the 1K step's place) ranks where it
 * belongs, where a fixed list made a drop to it no drop. −1 for none or no tier (TIER_NOT_SET).
 */
export function tierRank(t: string | undefined): number {
  if (t === 'TIER_UNLIMITED' || t === 'UNLIMITED') return Infinity;
  const m = t === undefined ? null : /^TIER_(\d{1,9})(K?)$/.exec(t);
  return m ? Number(m[1]) * (m[2] ? 1000 : 1) : -1;
}

/**
 * A number's quality and limit tier as one observation for the monitor's rules: GREEN (or UNKNOWN)
 * and the highest tier seen are AVAILABLE; YELLOW, RED or a lower tier are LIMITED (a warning), with
 * one error each, so a change between them (a tier dropping further included) is a changed alert and a
 * return is a resolved one.
 *
 * The one description of a number's quality (one PHONE_QUALITY entity per number, one error code per
 * rating): discovery's listing and a phoneQualityUpdate receipt both go through it, so the same
 * rating seen by both is the same state, never a "changed" alert from a second spelling of it.
 * `reason` (a receipt's Reason) only adds to the description, which the rules do not compare.
 */
export function qualityObservation(target: Pick<WatchTarget, 'CustSpaceId' | 'WabaId' | 'PhoneNumber'>, a: NodeAttributes, reason?: string): Observation {
  const errors: HealthError[] = [];
  if (a.QualityRating === 'YELLOW' || a.QualityRating === 'RED') {
    errors.push({
      ErrorCode: `QualityRating.${a.QualityRating}`,
      ErrorDescription: `The number's quality rating is ${a.QualityRating} (${a.QualityRating === 'RED' ? 'low' : 'medium'})${reason ? `: ${reason}` : ''}.`,
      PossibleSolution: 'Check recent user feedback (blocks, reports) on messages from this number and its templates; a rating that stays low lowers its limit tier.',
    });
  }
  if (tierRank(a.MessagingLimitTier) >= 0 && tierRank(a.MessagingLimitTier) < tierRank(a.PeakMessagingLimitTier)) {
    errors.push({
      // The code names the tier, so a further drop (or a partial return) is a changed alert, told at once.
      ErrorCode: `MessagingLimitTier.Dropped.${a.MessagingLimitTier}`,
      ErrorDescription: `The messaging limit tier dropped from ${a.PeakMessagingLimitTier} to ${a.MessagingLimitTier}.`,
      PossibleSolution: 'Meta lowers the tier after sustained low quality; raise the quality rating. The alert resolves when the tier is back.',
    });
  }
  const status: ObservedStatus = errors.length > 0 ? 'LIMITED' : 'AVAILABLE';
  return {
    subject: { nodeType: 'phone', entityType: 'PHONE_QUALITY', custSpaceId: target.CustSpaceId, ...(target.WabaId ? { wabaId: target.WabaId } : {}), phoneNumber: target.PhoneNumber },
    status,
    errors,
    ...(a.QualityRating ? { quality: a.QualityRating } : {}),
  };
}

/** The rating's error codes (a receipt says them too); a quality observation's others are the limit tier's. */
const isRating = (e: HealthError) => e.ErrorCode.startsWith('QualityRating.');

/**
 * A listing's quality observation, for a number whose quality was observed since the listing read it
 * (a receipt applied meanwhile, `newer`): that state's rating, newer than the one read, with the
 * listing's limit tier, which no receipt carries (a receipt is judged with the tier listed before it,
 * so a drop this listing found would otherwise wait for the next listing).
 */
export function withNewerRating(listed: Observation, newer: EntityState): Observation {
  const errors = [...newer.errors.filter(isRating), ...listed.errors.filter((e) => !isRating(e))];
  return {
    subject: listed.subject,
    status: errors.length > 0 ? 'LIMITED' : 'AVAILABLE',
    errors,
    ...(newer.quality !== undefined ? { quality: newer.quality } : {}),
  };
}
