import type { HealthError } from '../cams/operations.ts';
import type { ObservedStatus } from './entity-state.ts';
import type { Observation } from './rules.ts';
import type { NodeAttributes, WatchTarget } from './targets.ts';

const TIERS = ['TIER_10', 'TIER_50', 'TIER_250', 'TIER_1K', 'TIER_10K', 'TIER_100K', 'TIER_UNLIMITED'];
export const tierRank = (t: string | undefined): number => (t === undefined ? -1 : TIERS.indexOf(t));

/**
 * A number's quality and limit tier as one observation for the monitor's rules: GREEN (or UNKNOWN)
 * and the highest tier seen are AVAILABLE; YELLOW, RED or a lower tier are LIMITED (a warning), with
 * one error each, so a change between them is a changed alert and a return is a resolved one.
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
      ErrorCode: 'MessagingLimitTier.Dropped',
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
