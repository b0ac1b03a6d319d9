import * as z from './schema.ts';
import { CustSpaceId, FullPhoneNumber, Language, NodeType, TemplateCode, WabaId } from './cams-fields.ts';
import { camsParams } from './cams-params.ts';

/**
 * Which params each NodeType needs to name its node. CAMS marks them optional because each applies to
 * one NodeType only; without them the node is unnamed and CAMS refuses the call. A waba node without
 * WabaId is the space's own WABA.
 */
const NEEDS: Record<'waba' | 'phone' | 'template', ReadonlyArray<'PhoneNumber' | 'TemplateCode' | 'Language'>> = {
  waba: [],
  phone: ['PhoneNumber'],
  template: ['TemplateCode', 'Language'],
};

/** A node whose health CAMS can report: GetWhatsappHealthStatus's params, checked per NodeType. */
export const HealthNode = camsParams(
  z
    .strictObject({
      CustSpaceId: CustSpaceId(),
      NodeType: NodeType(),
      WabaId: z.optional(WabaId()),
      PhoneNumber: z.optional(FullPhoneNumber()),
      TemplateCode: z.optional(TemplateCode()),
      Language: z.optional(Language()),
    })
    .check(
      z.superRefine((v, ctx) => {
        for (const field of NEEDS[v.NodeType]) {
          if (v[field] === undefined) {
            ctx.issues.push({ code: 'custom', message: `is required when NodeType is ${v.NodeType}`, path: [field], input: undefined });
          }
        }
      }),
    ),
);

export type HealthNode = z.infer<typeof HealthNode>;
