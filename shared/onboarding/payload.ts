import { createHash } from 'node:crypto';
import * as z from '../validation/schema.ts';
import { camsParams } from '../validation/cams-params.ts';
import { Cc, IsvCode, Language, PhoneNumber, TemplateCode, VerifiedName, WabaId, e164Problem } from '../validation/cams-fields.ts';

const PayloadFields = z
  .strictObject({
    WabaId: WabaId(),
    Cc: Cc(),
    PhoneNumber: PhoneNumber(),
    VerifiedName: VerifiedName(),
    Templates: z.optional(
      z
        .array(z.strictObject({ TemplateCode: TemplateCode(), Language: Language() }, { error: 'must be an object {TemplateCode, Language}' }), {
          error: 'must be a list of {TemplateCode, Language}',
        })
        .check(z.maxLength(50, 'at most 50 templates')),
    ),
    IsvCode: z.optional(IsvCode()),
    // Its own type error: without one a JSON true or object read "Invalid input".
    IdempotencyKey: z.optional(z.string({ error: 'must be a string' }).check(z.regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 printable ASCII characters'))),
  }, {
    // The whole payload is not an object: text that is not JSON (an MNS messageBody, an invoke payload), or a JSON value of another kind.
    error: (iss) => `${typeof iss.input === 'string' ? 'is not JSON: it ' : ''}must be a JSON object {WabaId, Cc, PhoneNumber, VerifiedName, Templates?, IsvCode?, IdempotencyKey?}`,
  })
  .check(
    z.superRefine((v, ctx) => {
      const problem = e164Problem(v.Cc, v.PhoneNumber);
      if (problem) ctx.issues.push({ code: 'custom', message: problem, path: ['PhoneNumber'], input: v.PhoneNumber });
    }),
  );
/**
 * What an onboarding is asked to do. An empty value or a JSON null is no value, as on the CAMS routes
 * (camsParams): an optional field given one is left out, a required one is MissingParameter.
 */
export const OnboardingPayload = camsParams(PayloadFields);
export type OnboardingPayload = z.infer<typeof OnboardingPayload>;

/** Key order and the key itself do not change what is being onboarded. */
function normalised(p: OnboardingPayload): string {
  const templates = [...(p.Templates ?? [])].map((t) => `${t.TemplateCode}/${t.Language}`).sort();
  return JSON.stringify([p.WabaId, p.Cc, p.PhoneNumber, p.VerifiedName, p.IsvCode ?? '', templates]);
}

/** Whether two payloads ask for the same onboarding (the IdempotencyKey itself aside). */
export function samePayload(a: OnboardingPayload, b: OnboardingPayload): boolean {
  return normalised(a) === normalised(b);
}

/** IdempotencyKey, else the event's source + id (the natural dedup key of CloudEvents), else a payload hash. */
export function idempotencyKeyFor(p: OnboardingPayload, event?: { source?: string; id?: string }): string {
  if (p.IdempotencyKey) return `key:${p.IdempotencyKey}`;
  if (event?.source && event.id) return `event:${event.source}:${event.id}`;
  return `payload:${createHash('sha256').update(normalised(p)).digest('hex')}`;
}

/** What onboardingIdFor makes; an invocation naming anything else names no onboarding of ours. */
export const ONBOARDING_ID = /^ob-[0-9a-f]{24}$/;

export function onboardingIdFor(idempotencyKey: string): string {
  return 'ob-' + createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24);
}
