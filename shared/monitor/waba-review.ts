import type { AlertSubject } from '../alerts/model.ts';
import { ACCOUNT_REVIEW_STATUSES, type AccountReviewStatus } from '../cams/operations.ts';
import type { Observation } from './rules.ts';
import type { WatchTarget } from './targets.ts';

/** Whether `status` is one of the review states QueryChatappBindWaba documents (any casing). */
export function isAccountReviewStatus(status: string): boolean {
  return (ACCOUNT_REVIEW_STATUSES as readonly string[]).includes(status.toUpperCase());
}

/**
 * A WABA's review status (Meta's review of the WhatsApp Business account) as one observation for
 * the monitor's rules: REJECTED or DISABLED is BLOCKED (critical), APPROVED is AVAILABLE. Undefined
 * for one that says nothing: PENDING (under review: a rejection's alert stays until it is approved,
 * as a template's stays while it is audited again) or a value the reference page does not list.
 *
 * GetWhatsappHealthStatus may still say AVAILABLE for such a WABA, so no check observes it: the one
 * description (one WABA_REVIEW entity per WABA) of a `wabaReviewUpdate` receipt and of discovery's
 * QueryChatappBindWaba, its backstop. `reason` only adds to the description, which the rules do not compare.
 */
export function wabaReviewObservation(target: Pick<WatchTarget, 'CustSpaceId'> & { WabaId?: string | undefined }, status: string, reason?: string): Observation | undefined {
  const subject: AlertSubject = {
    nodeType: 'waba',
    entityType: 'WABA_REVIEW',
    custSpaceId: target.CustSpaceId,
    ...(target.WabaId ? { wabaId: target.WabaId } : {}),
  };
  const review = status.toUpperCase() as AccountReviewStatus;
  if (review === 'APPROVED') return { subject, status: 'AVAILABLE', errors: [] };
  if (review !== 'REJECTED' && review !== 'DISABLED') return undefined; // PENDING, or a value the page does not list
  const word = review === 'REJECTED' ? 'rejected' : 'disabled';
  const why = reason ? `: ${reason}` : ' (CAMS gave no reason).';
  return {
    subject,
    status: 'BLOCKED',
    errors: [
      {
        ErrorCode: review === 'REJECTED' ? 'Waba.Rejected' : 'Waba.Disabled',
        ErrorDescription: `Meta ${word} the WhatsApp Business account in its review (AccountReviewStatus ${review})${why}`,
        PossibleSolution:
          review === 'REJECTED'
            ? 'Correct the business details the review names in WhatsApp Manager (or the CAMS console) and request a review again; the alert resolves once the WABA is APPROVED.'
            : 'See the Account Quality page of WhatsApp Manager for the policy Meta names and appeal there; the alert resolves once the WABA is APPROVED.',
      },
    ],
  };
}
