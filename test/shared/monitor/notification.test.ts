import { describe, expect, it } from 'vitest';
import type { AlertSubject } from '../../../shared/alerts/model.ts';
import type { EntityState, OutboxEntry } from '../../../shared/monitor/entity-state.ts';
import { notificationFor, sendOrder } from '../../../shared/monitor/notification.ts';
import { evaluate } from '../../../shared/monitor/rules.ts';

const policy = { minConsecutive: 1, repeatIntervalMs: 1e9 };
const subject = (n: string): AlertSubject => ({ nodeType: 'phone', custSpaceId: 'cs', wabaId: '7', phoneNumber: `867${n}`, entityType: 'PHONE_NUMBER' });

/** What a node owes the sink after `statuses`, observed one per ms from `at` (a sink that was down meanwhile: they wait together). */
function owed(n: string, statuses: ReadonlyArray<'BLOCKED' | 'LIMITED' | 'AVAILABLE'>, at = 1000): OutboxEntry[] {
  let state: EntityState | undefined;
  statuses.forEach((status, i) => (state = evaluate(state, { subject: subject(n), status, errors: [] }, { now: at + i, round: `r${i}`, policy, inhibited: false, sinks: ['s'] })));
  return state!.outbox;
}

describe('a message to a sink', () => {
  it('its title counts alerts as they stand, not items: a node owed NEW then CHANGED is 1 firing, NEW then RESOLVED 1 resolved', () => {
    const first = [...owed('1', ['BLOCKED', 'LIMITED']), ...owed('2', ['LIMITED'])].sort(sendOrder);
    const n = notificationFor('s', 'waba:7', first, 0);
    expect([n.title, n.items.length]).toEqual(['[WARNING] WhatsApp health, WABA 7: 2 firing', 3]);
    expect(notificationFor('s', 'waba:7', owed('3', ['BLOCKED', 'AVAILABLE']), 0).title).toBe('[INFO] WhatsApp health, WABA 7: 1 resolved');
  });

  it("lists one node's entries decided in the same ms by their sequence as a number (.9 before .10)", () => {
    // Nine notifications before, so the two owed now are .9 and .10; both decided at one instant.
    let state: EntityState | undefined;
    const statuses = ['BLOCKED', 'AVAILABLE', 'BLOCKED', 'AVAILABLE', 'BLOCKED', 'AVAILABLE', 'BLOCKED', 'AVAILABLE', 'BLOCKED', 'AVAILABLE'] as const;
    statuses.forEach((status, i) => {
      state = evaluate(state, { subject: subject('9'), status, errors: [] }, { now: i < 8 ? 1000 + i : 2000, round: `r${i}`, policy, inhibited: false, sinks: ['s'] });
      if (i < 8) state = { ...state!, outbox: [] };
    });
    const entries = [...state!.outbox].reverse();
    expect(entries.map((e) => e.id.split('.')[1])).toEqual(['10', '9']);
    expect(entries.sort(sendOrder).map((e) => e.item.reason)).toEqual(['new', 'resolved']);
  });

  it('has the same id for the same entries, whatever their order, and another for another sink', () => {
    const entries = [...owed('1', ['BLOCKED', 'LIMITED']), ...owed('2', ['LIMITED'])];
    const id = notificationFor('s', 'waba:7', entries, 0).id;
    expect(notificationFor('s', 'waba:7', [...entries].reverse(), 5000).id).toBe(id);
    expect(notificationFor('t', 'waba:7', entries, 0).id).not.toBe(id);
    expect(notificationFor('s', 'waba:7', entries.slice(1), 0).id).not.toBe(id);
  });
});
