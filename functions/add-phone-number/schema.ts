import * as z from 'zod/mini';
import { Cc, CustSpaceId, e164Problem, PhoneNumber, VerifiedName } from '../../shared/validation/cams-fields.ts';

export const AddPhoneNumberParams = z
  .strictObject({ CustSpaceId, Cc, PhoneNumber, VerifiedName })
  .check(
    z.superRefine((v, ctx) => {
      const problem = e164Problem(v.Cc, v.PhoneNumber);
      if (problem) ctx.issues.push({ code: 'custom', message: problem, path: ['PhoneNumber'], input: v.PhoneNumber });
    }),
  );
