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

const NODE_FIELDS = ['PhoneNumber', 'TemplateCode', 'Language'] as const;
const OWNER: Record<(typeof NODE_FIELDS)[number], 'phone' | 'template'> = { PhoneNumber: 'phone', TemplateCode: 'template', Language: 'template' };

const NodeParams = z.strictObject({
  CustSpaceId: CustSpaceId(),
  NodeType: NodeType(),
  WabaId: z.optional(WabaId()),
  PhoneNumber: z.optional(FullPhoneNumber()),
  TemplateCode: z.optional(TemplateCode()),
  Language: z.optional(Language()),
});

type NodeParams = z.infer<typeof NodeParams>;

function requireNaming(v: NodeParams, ctx: z.Payload): void {
  for (const field of NEEDS[v.NodeType]) {
    if (v[field] === undefined) {
      ctx.issues.push({ code: 'custom', message: `is required when NodeType is ${v.NodeType}`, path: [field], input: undefined });
    }
  }
}

/**
 * requireNaming runs whenever NodeType is valid, another field's problem or not: a call missing
 * CustSpaceId and PhoneNumber is told both at once, not the second after fixing the first.
 */
const REQUIRE_NAMING = {
  when: (p: z.Payload) => {
    const nodeType = typeof p.value === 'object' && p.value !== null ? (p.value as { NodeType?: unknown }).NodeType : undefined;
    return typeof nodeType === 'string' && Object.hasOwn(NEEDS, nodeType);
  },
};

/**
 * GetWhatsappHealthStatus's params as CAMS takes them, checked per NodeType. A field of another
 * NodeType is left out unchecked (GET /health-status relays the call): CAMS takes and ignores it
 * whatever its form, so checking it would refuse a call CAMS answers.
 */
export const HealthQuery = camsParams(
  z.pipe(z.transform(withoutOtherTypesFields), NodeParams.check(z.superRefine(requireNaming, REQUIRE_NAMING))),
);

/**
 * A node whose health CAMS can report, as the watch list keeps it: HealthQuery, less a field of
 * another NodeType. CAMS would ignore it, but stored it would be shown and sent on every check as if
 * it named the node, so it is refused rather than kept.
 */
export const HealthNode = camsParams(
  NodeParams.check(
    z.superRefine((v, ctx) => {
      requireNaming(v, ctx);
      for (const field of NODE_FIELDS) {
        // A field already refused for its value is not named twice.
        if (ctx.issues.some((issue) => issue.path?.[0] === field)) continue;
        if (v[field] !== undefined && !NEEDS[v.NodeType].includes(field)) {
          ctx.issues.push({ code: 'custom', message: `names a ${OWNER[field]} node: leave it out when NodeType is ${v.NodeType}`, path: [field], input: v[field] });
        }
      }
    }, REQUIRE_NAMING),
  ),
);

export type HealthNode = z.infer<typeof HealthNode>;

/**
 * A target read back from the store, as an earlier version accepted it: a field of another NodeType
 * (which HealthNode now refuses) is dropped rather than making the node unwatchable. Its id never
 * depended on such a field (targetId), so it stays the same node. MONITOR_TARGETS is not read with
 * it: a bad entry there stops start-up and packaging, named (targets.ts parseMonitorTargets).
 */
export function parseStoredNode(raw: unknown): ReturnType<typeof HealthNode.safeParse> {
  return HealthNode.safeParse(withoutOtherTypesFields(raw));
}

/** A stored target without the fields of another NodeType than its own (anything else as it is). */
export function withoutOtherTypesFields<T>(raw: T): T {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const nodeType = (raw as { NodeType?: unknown }).NodeType;
  const needs: readonly string[] | undefined = typeof nodeType === 'string' && Object.hasOwn(NEEDS, nodeType) ? NEEDS[nodeType as keyof typeof NEEDS] : undefined;
  if (!needs) return raw;
  return Object.fromEntries(Object.entries(raw).filter(([k]) => !(NODE_FIELDS as readonly string[]).includes(k) || needs.includes(k))) as T;
}

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
