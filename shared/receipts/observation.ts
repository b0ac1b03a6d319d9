import { qualityObservation } from '../monitor/quality.ts';
import { templateStatusObservation } from '../monitor/template-status.ts';
import { wabaReviewObservation } from '../monitor/waba-review.ts';
import type { Observation } from '../monitor/rules.ts';
import type { NodeAttributes } from '../monitor/targets.ts';
import { reviewStatusOf, type Receipt } from './parse.ts';

/**
 * The early warnings only receipts give, as observations for the monitor's own rules (one place):
 * a phone's quality rating (YELLOW/RED → a warning before CanSendMessage changes, GREEN → resolved,
 * through the same qualityObservation as discovery: `attributes` are the number's watch entry's)
 * and a template's review status (paused → warning, disabled/rejected → critical, with CAMS's
 * Reason; pass → resolved; through templateStatusObservation, as discovery's listing) and a WABA's
 * review (REJECTED/DISABLED → critical, APPROVED → resolved; through wabaReviewObservation, as
 * discovery's QueryChatappBindWaba). Other receipts carry no state of their own: their check says it.
 */
export function receiptObservation(r: Receipt, custSpaceId: string, attributes?: NodeAttributes): Observation | undefined {
  if (r.type === 'phoneQualityUpdate' && r.phoneNumber) {
    const q = r.status!.toUpperCase();
    if (q !== 'GREEN' && q !== 'YELLOW' && q !== 'RED') return undefined; // UNKNOWN: no rating to judge by
    // The monitor's one description of a number's quality (discovery's too): the receipt's rating
    // in place of the last one listed, the limit tier as discovery last saw it.
    return qualityObservation({ CustSpaceId: custSpaceId, WabaId: r.wabaId, PhoneNumber: r.phoneNumber }, { ...attributes, QualityRating: q }, r.reason);
  }
  if (r.type === 'template' && r.templateCode && r.language) {
    // The monitor's one description of a template's review (discovery's listing's too).
    return templateStatusObservation({ CustSpaceId: custSpaceId, WabaId: r.wabaId, TemplateCode: r.templateCode, Language: r.language }, r.auditStatus!, r.reason);
  }
  const review = r.type === 'wabaReviewUpdate' ? reviewStatusOf(r) : undefined;
  // The monitor's one description of a WABA's review (discovery's QueryChatappBindWaba's too).
  if (review !== undefined) return wabaReviewObservation({ CustSpaceId: custSpaceId, WabaId: r.wabaId }, review, r.reason);
  return undefined;
}
