import * as z from '../validation/schema.ts';
import { targetId, type WatchTarget } from '../monitor/targets.ts';
import { CustSpaceId, WabaId } from '../validation/cams-fields.ts';
import { camsParams } from '../validation/cams-params.ts';
import { HealthNode, targetProblems } from '../validation/health-target.ts';

/** At most this many targets in one POST or DELETE (a 10,000-node list goes in batches). */
const MAX_TARGETS_PER_REQUEST = 1000;

/** `{CustSpaceId, WabaId, Discover: true}`: the WABA and every number and template under it. */
const DiscoverRoot = camsParams(
  z.strictObject({
    CustSpaceId: CustSpaceId(),
    NodeType: z.optional(z.literal('waba', { error: 'must be waba (or left out) on a Discover entry' })),
    WabaId: WabaId(),
    Discover: z.literal(true, { error: 'must be true (leave it out, with a NodeType, to watch one node)' }),
  }),
);

/** One entry of `Targets`: a node, or a WABA with discovery. */
export interface WatchEntry {
  id: string;
  target: WatchTarget;
  discover: boolean;
}

function entryOf(target: WatchTarget, discover: boolean): WatchEntry {
  return { id: targetId(target), target, discover };
}

/**
 * `Targets` validated one by one: every problem is reported with its path (`Targets.3.PhoneNumber`),
 * and an unknown field is named rather than lumped into one message. Duplicates collapse into one.
 */
export const WatchEntries = z.pipe(
  z
    .array(z.unknown(), { error: (iss) => (iss.input === undefined ? 'is required' : 'must be an array of targets') })
    .check(z.minLength(1, 'must hold at least one target'), z.maxLength(MAX_TARGETS_PER_REQUEST, `at most ${MAX_TARGETS_PER_REQUEST} targets per request; send more in batches`)),
  z.transform((list, ctx) => {
    const byId = new Map<string, WatchEntry>();
    list.forEach((raw, i) => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        ctx.issues.push({ code: 'custom', message: 'must be an object: {CustSpaceId, NodeType, …} or {CustSpaceId, WabaId, Discover: true}', path: [i], input: raw });
        return;
      }
      const isRoot = typeof raw === 'object' && raw !== null && Object.hasOwn(raw, 'Discover');
      const r = isRoot ? DiscoverRoot.safeParse(raw) : HealthNode.safeParse(raw);
      if (!r.success) {
        for (const p of targetProblems(r.error.issues)) ctx.issues.push({ code: 'custom', message: p.message, path: [i, ...p.path], input: raw });
        return;
      }
      const entry = isRoot
        ? entryOf({ CustSpaceId: (r.data as { CustSpaceId: string }).CustSpaceId, NodeType: 'waba', WabaId: (r.data as { WabaId: string }).WabaId }, true)
        : entryOf(r.data as WatchTarget, false);
      const seen = byId.get(entry.id);
      byId.set(entry.id, seen ? { ...seen, discover: seen.discover || entry.discover } : entry);
    });
    return [...byId.values()];
  }),
);
