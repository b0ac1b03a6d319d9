import type { NodeHistory } from '../../shared/history/history.ts';
import { historyKey } from '../../shared/history/record.ts';
import { describeNode, fingerprintOf, groupOf, type EntityState, type ObservedStatus } from '../../shared/monitor/entity-state.ts';
import type { AlertSubject } from '../../shared/alerts/model.ts';

const DAY = 86_400_000;

/**
 * A monitor state of `nodes` nodes for the status page: WABAs of 20 nodes (the WABA, 15 phones, 4
 * templates), 1 % of them LIMITED or BLOCKED now (half each) with errors, and 90 days of history in which 2 %
 * had a bad day. Deterministic (no randomness), so runs compare.
 */
export function statusFixture(nodes: number, now: number): { entities: EntityState[]; histories: Map<string, NodeHistory> } {
  const entities: EntityState[] = [];
  const histories = new Map<string, NodeHistory>();
  const perWaba = 20;
  for (let i = 0; i < nodes; i++) {
    const w = Math.floor(i / perWaba);
    const k = i % perWaba;
    const wabaId = String(109000000000000 + w);
    const space = `C${String(20000000000000 + w)}`;
    const subject: AlertSubject =
      k === 0
        ? { nodeType: 'waba', custSpaceId: space, wabaId, entityType: 'WABA' }
        : k <= 15
          ? { nodeType: 'phone', custSpaceId: space, wabaId, entityType: 'PHONE_NUMBER', phoneNumber: `86138${String(i).padStart(8, '0')}` }
          : { nodeType: 'template', custSpaceId: space, wabaId, entityType: 'MESSAGE_TEMPLATE', templateCode: `order_update_${k}`, language: 'en_US' };
    const status: ObservedStatus = i % 200 === 7 ? 'LIMITED' : i % 200 === 107 ? 'BLOCKED' : 'AVAILABLE';
    const fingerprint = fingerprintOf(subject);
    const state: EntityState = {
      fingerprint,
      subject,
      node: describeNode(subject),
      group: groupOf(subject),
      status,
      since: now - 3 * 3_600_000,
      errors: status === 'AVAILABLE' ? [] : [{ ErrorCode: '131048', ErrorDescription: 'Message failed to send because there are restrictions on how many messages can be sent from this phone number.', PossibleSolution: 'Check your quality status in WhatsApp Manager and see the Quality-Based Rate Limits documentation.' }],
      consecutiveBad: status === 'AVAILABLE' ? 0 : 1,
      lastCheckedAt: now - 60_000,
      firing: status !== 'AVAILABLE',
      seq: 1,
      outbox: [],
    };
    entities.push(state);
    const days = Array.from({ length: 90 }, (_, d) => ({ day: new Date(now - (89 - d) * DAY).toISOString().slice(0, 10), worst: 'AVAILABLE' as ObservedStatus }));
    if (i % 50 === 3) days[40] = { ...days[40]!, worst: 'LIMITED' };
    if (status !== 'AVAILABLE') days[89] = { ...days[89]!, worst: status };
    histories.set(historyKey(state), { fingerprint, subject, node: state.node, firstSeen: { at: now - 90 * DAY, status: 'AVAILABLE' }, transitions: [], days });
  }
  return { entities, histories };
}
