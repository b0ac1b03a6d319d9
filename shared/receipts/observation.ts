import type { AlertSubject } from '../alerts/model.ts';
import { qualityObservation } from '../monitor/quality.ts';
import type { Observation } from '../monitor/rules.ts';
import type { NodeAttributes } from '../monitor/targets.ts';
import type { Receipt } from './parse.ts';

/**
 * The early warnings only receipts give, as observations for the monitor's own rules (one place):
 * a phone's quality rating (YELLOW/RED → a warning before CanSendMessage changes, GREEN → resolved,
 * through the same qualityObservation as discovery: `attributes` are the number's watch entry's)
 * and a template's review status (paused → warning, disabled/rejected → critical, with CAMS's
 * Reason; pass → resolved). Other receipts carry no state of their own: their check says it.
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
    const subject: AlertSubject = {
      nodeType: 'template',
      entityType: 'TEMPLATE_STATUS',
      custSpaceId,
      wabaId: r.wabaId,
      templateCode: r.templateCode,
      language: r.language,
    };
    const audit = r.auditStatus!.toLowerCase();
    if (audit === 'pass') return { subject, status: 'AVAILABLE', errors: [] };
    const bad = audit === 'paused' ? 'LIMITED' : audit === 'disabled' || audit === 'fail' ? 'BLOCKED' : undefined;
    if (!bad) return undefined; // auditing, unaudit, or a value the notes do not list
    const word = audit === 'fail' ? 'rejected' : audit;
    return {
      subject,
      status: bad,
      errors: [
        {
          ErrorCode: `Template.${word[0]!.toUpperCase()}${word.slice(1)}`,
          ErrorDescription: r.reason ? `The template was ${word}: ${r.reason}` : `The template was ${word} (CAMS gave no reason).`,
          PossibleSolution: audit === 'paused' ? 'Improve the template (quality feedback) or wait for the pause to lift.' : 'Edit the template as the reason says and submit it again.',
        },
      ],
    };
  }
  return undefined;
}
