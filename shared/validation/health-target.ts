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

/**
 * A target's problems, field by field: an unknown key is named with its own path ("Colour: is not a
 * field of a watch target"), where the schema says only "Invalid input" for the object.
 */
export function targetProblems(issues: readonly z.Issue[]): Array<{ path: PropertyKey[]; message: string }> {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? (issue.keys ?? []).map((key) => ({ path: [...issue.path, key], message: 'is not a field of a watch target' }))
      : issue.path.length === 0 && issue.code === 'invalid_type'
        ? [{ path: [], message: 'must be an object {CustSpaceId, NodeType, WabaId?, PhoneNumber?, TemplateCode?, Language?}' }]
        : [{ path: issue.path, message: issue.message }],
  );
}
