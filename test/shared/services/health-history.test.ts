import { describe, expect, it } from 'vitest';
import type { NodeHistory } from '../../../shared/history/history.ts';
import { HISTORY_PREFIX } from '../../../shared/history/record.ts';
import { healthHistory } from '../../../shared/services/health-history.ts';
import { openStore } from '../../../shared/store/index.ts';

const DAY = 86_400_000;

describe('GET /health-report/history', () => {
  it('shows 90 UTC days as of now, also of a node no check reached lately (its history was not rewritten since)', async () => {
    const store = await openStore('memory:');
    const lastWrite = Date.parse('2026-01-10T12:00:00.000Z');
    const at = (day: string, time = '08:00:00') => Date.parse(`${day}T${time}.000Z`);
    const h: NodeHistory = {
      fingerprint: 'fp1',
      subject: { nodeType: 'phone', custSpaceId: 'C1', wabaId: '111', entityType: 'PHONE_NUMBER', phoneNumber: '8613800000001' },
      node: 'phone 8613800000001 · WABA 111 · space C1',
      firstSeen: { at: at('2025-12-01'), status: 'AVAILABLE' },
      transitions: [
        { at: at('2025-12-02'), from: 'AVAILABLE', to: 'BLOCKED', errors: [] },
        { at: at('2025-12-03'), from: 'BLOCKED', to: 'AVAILABLE', errors: [] },
        { at: at('2026-01-10'), from: 'AVAILABLE', to: 'LIMITED', errors: [] },
      ],
      days: [
        { day: '2025-12-02', worst: 'BLOCKED' },
        { day: '2025-12-03', worst: 'BLOCKED' },
        { day: '2026-01-10', worst: 'LIMITED' },
      ],
    };
    await store.put(`${HISTORY_PREFIX}C1/fp1`, h);
    const ask = async (now: number) =>
      ((await healthHistory(store, { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber: '8613800000001' }, now)) as { Nodes: Array<{ Transitions: Array<{ At: string; To: string }>; Days: Array<{ Day: string }> }> }).Nodes[0]!;

    // 2026-03-02's 90 days begin on 2025-12-03
    const first = await ask(lastWrite + 51 * DAY);
    expect(first.Days.map((d) => d.Day)).toEqual(['2025-12-03', '2026-01-10']);
    expect(first.Transitions.map((t) => t.To)).toEqual(['AVAILABLE', 'LIMITED']);
    // long after: no day left, and the transition into the state it is in (LIMITED) is still said
    const later = await ask(lastWrite + 200 * DAY);
    expect(later.Days).toEqual([]);
    expect(later.Transitions.map((t) => [t.At, t.To])).toEqual([['2026-01-10T08:00:00.000Z', 'LIMITED']]);
  });
});
