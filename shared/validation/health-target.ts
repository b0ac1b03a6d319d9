import * as z from 'zod/mini';
import { CustSpaceId, Language, NodeType, PhoneNumber, TemplateCode, WabaId } from './cams-fields.ts';

/** Which params each NodeType needs: the node it names must be identifiable. */
const NEEDS: Record<'waba' | 'phone' | 'template', ReadonlyArray<'WabaId' | 'PhoneNumber' | 'TemplateCode' | 'Language'>> = {
  waba: ['WabaId'],
  phone: ['PhoneNumber'],
  template: ['TemplateCode', 'Language'],
};

/** A node whose health CAMS can report: GetWhatsappHealthStatus's params, checked per NodeType. */
export const HealthNode = z
  .strictObject({
    CustSpaceId,
    NodeType,
    WabaId: z.optional(WabaId),
    PhoneNumber: z.optional(PhoneNumber),
    TemplateCode: z.optional(TemplateCode),
    Language: z.optional(Language),
  })
  .check(
    z.superRefine((v, ctx) => {
      for (const field of NEEDS[v.NodeType]) {
        if (v[field] === undefined) {
          ctx.issues.push({ code: 'custom', message: `is required when NodeType is ${v.NodeType}`, path: [field], input: undefined });
        }
      }
    }),
  );

export type HealthNode = z.infer<typeof HealthNode>;
