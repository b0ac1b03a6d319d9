import { retained, type NodeHistory } from '../history/history.ts';
import { historyKeyIn, listHistories } from '../history/record.ts';
import { TARGET_INFO_PREFIX, type TargetInfo } from '../monitor/target-info.ts';
import { fingerprintOf } from '../monitor/entity-state.ts';
import { targetId } from '../monitor/targets.ts';
import type { Store } from '../store/port.ts';
import type { HealthNode } from '../validation/health-target.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** Whether a stored history is of the node the params name (GetWhatsappHealthStatus's params). */
function isOf(h: NodeHistory, p: HealthNode): boolean {
  const s = h.subject;
  if (p.WabaId && s.wabaId !== p.WabaId) return false;
  // A phone or template node is what CAMS reports of it and its early warning (PHONE_QUALITY,
  // TEMPLATE_STATUS), as the status page draws them.
  if (p.NodeType === 'phone') return s.nodeType === 'phone' && s.phoneNumber === p.PhoneNumber;
  if (p.NodeType === 'template') return s.nodeType === 'template' && s.templateCode === p.TemplateCode && s.language === p.Language;
  // A waba node is the WABA and what CAMS reports above it (BUSINESS, APP).
  return s.nodeType === 'waba';
}

/** The entities CAMS reports at and above a WABA (WABA, BUSINESS and APP, its own check's and its numbers' and templates'). */
const WABA_ENTITY_TYPES = ['WABA', 'BUSINESS', 'APP'] as const;

const readHistories = async (store: Store, custSpaceId: string, fingerprints: Iterable<string>) =>
  (await Promise.all([...new Set(fingerprints)].map((fp) => store.get<NodeHistory>(historyKeyIn(custSpaceId, fp))))).flatMap((h) => (h ? [h.value] : []));

/**
 * The histories that may be of the node, read one by one, so the cost is the node's, not its space's
 * (10,000 nodes). A phone or template: the entities its target's record says it reached (its checks,
 * receipts and discovery). A WABA: its WABA, BUSINESS and APP, whose keys follow from the space and
 * WabaId (derived too: a record from before its own check reported APP does not name it), and
 * what its record names; without a WabaId, the WabaId its record's WABA entity has. Failing that (a
 * node watched through another target, a record from before records named their entities), every
 * history of the space.
 */
async function candidates(store: Store, p: HealthNode): Promise<NodeHistory[]> {
  const reach = (await store.get<TargetInfo>(TARGET_INFO_PREFIX + targetId(p)))?.value.reach ?? [];
  const reached = await readHistories(store, p.CustSpaceId, reach);
  // The fallbacks walk the space a page at a time and keep only the node's (isOf): not every 90-day
  // history of the space in memory at once for a mistyped number.
  if (p.NodeType !== 'waba') return reach.length ? reached : listHistories(store, p.CustSpaceId, (h) => isOf(h, p));
  const wabaIds = p.WabaId ? [p.WabaId] : [...new Set(reached.flatMap((h) => (h.subject.nodeType === 'waba' && h.subject.wabaId ? [h.subject.wabaId] : [])))];
  if (wabaIds.length === 0) return listHistories(store, p.CustSpaceId, (h) => isOf(h, p));
  const known = new Set(reached.map((h) => h.fingerprint));
  const derived = wabaIds.flatMap((wabaId) => WABA_ENTITY_TYPES.map((entityType) => fingerprintOf({ nodeType: 'waba', entityType, custSpaceId: p.CustSpaceId, wabaId })));
  return [...reached, ...(await readHistories(store, p.CustSpaceId, derived.filter((fp) => !known.has(fp))))];
}

/** `GET /health-report/history`: the stored transitions and daily worst states of the node(s) named. */
export async function healthHistory(store: Store, p: HealthNode, now = Date.now()): Promise<Record<string, unknown>> {
  // Retention as of now: a node no check reached lately (CAMS refusing it, say) was not rewritten since.
  const histories = (await candidates(store, p)).filter((h) => isOf(h, p)).map((h) => ({ ...h, ...retained(h, now) }));
  return {
    Nodes: histories
      .sort((a, b) => (a.node < b.node ? -1 : 1))
      .map((h) => ({
        Node: h.node,
        EntityType: h.subject.entityType,
        ...(h.subject.wabaId ? { WabaId: h.subject.wabaId } : {}),
        FirstSeen: { At: iso(h.firstSeen.at), Status: h.firstSeen.status, ...(h.firstSeen.quality ? { Quality: h.firstSeen.quality } : {}) },
        Transitions: h.transitions.map((t) => ({ At: iso(t.at), From: t.from, To: t.to, Errors: t.errors, ...(t.quality ? { Quality: t.quality } : {}) })),
        Days: h.days.map((d) => ({ Day: d.day, Worst: d.worst })),
      })),
  };
}
