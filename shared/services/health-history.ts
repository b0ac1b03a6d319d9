import { retained, type NodeHistory } from '../history/history.ts';
import { historyKeyIn, listHistories } from '../history/record.ts';
import { TARGET_INFO_PREFIX, type TargetInfo } from '../monitor/check.ts';
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

/**
 * The histories that may be of the node: for a phone or template, those of the entities its target's
 * record says it reached (its checks, receipts and discovery), read one by one, so the cost is the
 * node's, not its space's (10,000 nodes). For a WABA, or without such a record (a node watched through
 * another target, a record from before records named their entities), every history of the space.
 */
async function candidates(store: Store, p: HealthNode): Promise<NodeHistory[]> {
  // A WABA's entities are reported by its numbers' and templates' checks as well, some by them alone
  // (CAMS's reply for a WABA names WABA and BUSINESS, not APP): its own record does not name them all.
  if (p.NodeType === 'waba') return listHistories(store, p.CustSpaceId);
  const reach = (await store.get<TargetInfo>(TARGET_INFO_PREFIX + targetId(p)))?.value.reach;
  if (!reach?.length) return listHistories(store, p.CustSpaceId);
  const found = await Promise.all(reach.map((fp) => store.get<NodeHistory>(historyKeyIn(p.CustSpaceId, fp))));
  return found.flatMap((h) => (h ? [h.value] : []));
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
        FirstSeen: { At: iso(h.firstSeen.at), Status: h.firstSeen.status },
        Transitions: h.transitions.map((t) => ({ At: iso(t.at), From: t.from, To: t.to, Errors: t.errors, ...(t.quality ? { Quality: t.quality } : {}) })),
        Days: h.days.map((d) => ({ Day: d.day, Worst: d.worst })),
      })),
  };
}
