import * as z from '../../shared/validation/schema.ts';
import { Cc, CustSpaceId, e164Problem, PhoneNumber, PreValidateId, VerifiedName } from '../../shared/validation/cams-fields.ts';
import { camsParams } from '../../shared/validation/cams-params.ts';

export const AddPhoneNumberParams = camsParams(
  z.strictObject({
    CustSpaceId: CustSpaceId(),
    Cc: Cc(),
    PhoneNumber: PhoneNumber(),
    VerifiedName: VerifiedName(),
    PreValidateId: z.optional(PreValidateId()),
  }).check(
    z.superRefine((v, ctx) => {
      const problem = e164Problem(v.Cc, v.PhoneNumber);
      if (problem) ctx.issues.push({ code: 'custom', message: problem, path: ['PhoneNumber'], input: v.PhoneNumber });
    }),
  ),
);
