import type { AlertSubject } from '../alerts/model.ts';
import type { Observation } from './rules.ts';
import type { WatchTarget } from './targets.ts';

/**
 * A template's review status as one observation for the monitor's rules: paused is LIMITED (a
 * warning), disabled or fail (rejected) BLOCKED (critical), with CAMS's Reason; pass is AVAILABLE.
 * Undefined for a status that says nothing yet (auditing, unaudit, or one the notes do not list).
 *
 * The one description of a template's review (one TEMPLATE_STATUS entity per template): a `template`
 * receipt and discovery's listing both go through it, so the listing resolves a warning whose `pass`
 * receipt was lost, or that a late retry of an older push brought back. `reason` only adds to the
 * description, which the rules do not compare.
 */
/** The error code of a rejected template's review (`fail`). */
export const REJECTED_CODE = 'Template.Rejected';

export function templateStatusObservation(
  target: Pick<WatchTarget, 'CustSpaceId' | 'WabaId' | 'TemplateCode' | 'Language'>,
  auditStatus: string,
  reason?: string,
): Observation | undefined {
  const subject: AlertSubject = {
    nodeType: 'template',
    entityType: 'TEMPLATE_STATUS',
    custSpaceId: target.CustSpaceId,
    ...(target.WabaId ? { wabaId: target.WabaId } : {}),
    templateCode: target.TemplateCode,
    language: target.Language,
  };
  const audit = auditStatus.toLowerCase();
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
        ErrorDescription: reason ? `The template was ${word}: ${reason}` : `The template was ${word} (CAMS gave no reason).`,
        PossibleSolution: audit === 'paused' ? 'Improve the template (quality feedback) or wait for the pause to lift.' : 'Edit the template as the reason says and submit it again.',
      },
    ],
  };
}
