import { describe, expect, it } from 'vitest';
import { dailyBars, HISTORY_DAYS, historyMark, MAX_TRANSITIONS, syncHistory, type NodeHistory, type NodeNow } from '../../../shared/history/history.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2025-03-01T08:00:00.000Z');
const node = (status: NodeNow['status'], since: number): NodeNow => ({
  fingerprint: 'fp1',
  subject: { nodeType: 'phone', custSpaceId: 'cs1', wabaId: '1', phoneNumber: '8613800000000', entityType: 'PHONE_NUMBER' },
  node: 'PHONE_NUMBER phone 8613800000000',
  status,
  since,
  errors: status === 'AVAILABLE' ? [] : [{ ErrorCode: '141006', PossibleSolution: 'Add a payment method' }],
});

/** Applies observations in order, as the recorder does; returns the history. */
function replay(steps: Array<[number, NodeNow]>): NodeHistory | undefined {
  let h: NodeHistory | undefined;
  for (const [now, n] of steps) h = syncHistory(h, n, now) ?? h;
  return h;
}

describe('node history', () => {
  it('BLOCKED → AVAILABLE in one day: two transitions, and the day shows BLOCKED', () => {
    const h = replay([
      [T0, node('AVAILABLE', T0)],
      [T0 + 5 * 60_000, node('BLOCKED', T0 + 5 * 60_000)],
      [T0 + 10 * 60_000, node('BLOCKED', T0 + 5 * 60_000)],
      [T0 + 60 * 60_000, node('AVAILABLE', T0 + 60 * 60_000)],
    ])!;
    expect(h.transitions.map((t) => [t.from, t.to, t.at])).toEqual([
      ['AVAILABLE', 'BLOCKED', T0 + 5 * 60_000],
      ['BLOCKED', 'AVAILABLE', T0 + 60 * 60_000],
    ]);
    expect(h.transitions[0]!.errors[0]!.PossibleSolution).toBe('Add a payment method');
    expect(h.days).toEqual([{ day: '2025-03-01', worst: 'BLOCKED' }]);
    const bars = dailyBars(h, T0 + 60 * 60_000);
    expect(bars).toHaveLength(HISTORY_DAYS);
    expect(bars.at(-1)).toEqual({ day: '2025-03-01', worst: 'BLOCKED' });
    expect(bars.at(-2)).toEqual({ day: '2025-02-28' });
  });

  it('records a state once however often it is synced (a retried write does not double it)', () => {
    const h = replay([[T0, node('AVAILABLE', T0)], [T0 + 1, node('LIMITED', T0 + 1)]])!;
    expect(syncHistory(h, node('LIMITED', T0 + 1), T0 + 2)).toBeUndefined();
    expect(h.transitions).toHaveLength(1);
  });

  it('a new day gets its own bucket; a better state later in the day does not lower it', () => {
    const h = replay([
      [T0, node('LIMITED', T0)],
      [T0 + DAY, node('LIMITED', T0)],
      [T0 + DAY + 1000, node('AVAILABLE', T0 + DAY + 1000)],
    ])!;
    expect(h.days).toEqual([
      { day: '2025-03-01', worst: 'LIMITED' },
      { day: '2025-03-02', worst: 'LIMITED' },
    ]);
  });

  it(`keeps ${HISTORY_DAYS} days and at most ${MAX_TRANSITIONS} transitions per node`, () => {
    const steps: Array<[number, NodeNow]> = [];
    for (let d = 0; d < 200; d++) {
      const at = T0 + d * DAY;
      // five LIMITED spells a day: 10 transitions a day, far over the cap within 90 days
      for (let k = 0; k < 5; k++) steps.push([at + k * 2000 + 1000, node('LIMITED', at + k * 2000 + 1000)], [at + k * 2000 + 2000, node('AVAILABLE', at + k * 2000 + 2000)]);
    }
    const last = T0 + 199 * DAY;
    const h = replay(steps)!;
    expect(h.transitions.length).toBe(MAX_TRANSITIONS);
    expect(h.transitions.at(-1)!.at).toBe(last + 10_000);
    expect(h.days.length).toBe(HISTORY_DAYS);
    expect(h.days[0]!.day).toBe(new Date(last - (HISTORY_DAYS - 1) * DAY).toISOString().slice(0, 10));

    // Transitions older than 90 days go even under the cap.
    const sparse = replay([
      [T0, node('AVAILABLE', T0)],
      [T0 + 1000, node('BLOCKED', T0 + 1000)],
      [T0 + 100 * DAY, node('AVAILABLE', T0 + 100 * DAY)],
    ])!;
    expect(sparse.transitions.map((t) => t.to)).toEqual(['AVAILABLE']);
  });

  it('a state held longer than 90 days keeps the transition into it: its recovery is recorded, with the right from', () => {
    let h: NodeHistory | undefined;
    const sync = (now: number, n: NodeNow) => (h = syncHistory(h, n, now) ?? h);
    sync(T0, node('AVAILABLE', T0));
    sync(T0 + 1000, node('BLOCKED', T0 + 1000));
    // checked every day (a new day's bucket is a write) for 95 days, BLOCKED all along
    for (let d = 1; d <= 95; d++) sync(T0 + d * DAY, node('BLOCKED', T0 + 1000));
    // what the report says (BLOCKED since T0 + 1 s) is what history says
    expect(h!.transitions.map((t) => [t.from, t.to, t.at])).toEqual([['AVAILABLE', 'BLOCKED', T0 + 1000]]);
    sync(T0 + 96 * DAY, node('LIMITED', T0 + 96 * DAY));
    sync(T0 + 96 * DAY + 1000, node('AVAILABLE', T0 + 96 * DAY + 1000));
    expect(h!.transitions.map((t) => [t.from, t.to, t.at])).toEqual([
      ['BLOCKED', 'LIMITED', T0 + 96 * DAY],
      ['LIMITED', 'AVAILABLE', T0 + 96 * DAY + 1000],
    ]);
  });

  it('transitions are kept for the same 90 UTC days as the daily buckets: day 90 back stays, day 91 goes', () => {
    const now = Date.parse('2026-06-01T12:00:00.000Z');
    const day91 = Date.parse('2026-03-03T13:00:00.000Z'); // less than 90 × 24 h ago, but on the 91st UTC day back
    const day90 = Date.parse('2026-03-04T00:00:00.000Z');
    const h = replay([
      [day91 - 1000, node('AVAILABLE', day91 - 1000)],
      [day91, node('LIMITED', day91)],
      [day91 + 1000, node('AVAILABLE', day91 + 1000)],
      [day90, node('BLOCKED', day90)],
      [day90 + 1000, node('AVAILABLE', day90 + 1000)],
      [now, node('AVAILABLE', day90 + 1000)],
    ])!;
    const firstDay = dailyBars(h, now)[0]!.day;
    expect(firstDay).toBe('2026-03-04');
    expect(h.days.map((d) => d.day)).toEqual(['2026-03-04', '2026-06-01']);
    expect(h.transitions.map((t) => [new Date(t.at).toISOString().slice(0, 10), t.to])).toEqual([
      ['2026-03-04', 'BLOCKED'],
      ['2026-03-04', 'AVAILABLE'],
    ]);
  });

  it('a transition caught up on a later day (its history write failed) counts on the day it began too', () => {
    const late = Date.parse('2025-03-01T23:58:00.000Z');
    const h = replay([
      [T0, node('AVAILABLE', T0)],
      // the check at `late` decided BLOCKED, but its history write failed; the next check, after midnight, catches it up
      [late + 5 * 60_000, node('BLOCKED', late)],
    ])!;
    expect(h.transitions.map((t) => [t.to, t.at])).toEqual([['BLOCKED', late]]);
    expect(h.days).toEqual([
      { day: '2025-03-01', worst: 'BLOCKED' },
      { day: '2025-03-02', worst: 'BLOCKED' },
    ]);
    // a day with no recorded check gets its bucket
    const gap = replay([
      [T0, node('AVAILABLE', T0)],
      [T0 + 3 * DAY, node('LIMITED', T0 + DAY)],
    ])!;
    expect(gap.days.map((d) => `${d.day} ${d.worst}`)).toEqual(['2025-03-01 AVAILABLE', '2025-03-02 LIMITED', '2025-03-04 LIMITED']);
  });

  it("a write decided just before midnight and applied after one of the next day (two instances, a compare-and-set retried) counts on its own day: that day's worst is kept", () => {
    const beforeMidnight = Date.parse('2025-03-01T23:59:59.990Z');
    const afterMidnight = Date.parse('2025-03-02T00:00:00.010Z');
    const h = replay([
      [T0, node('BLOCKED', T0)],
      [T0 + 60 * 60_000, node('AVAILABLE', T0 + 60 * 60_000)],
      [afterMidnight, node('AVAILABLE', T0 + 60 * 60_000)],
      // the receipts' check read its clock at 23:59:59.990, lost the entity's race to the sweep's, and writes now
      [beforeMidnight, node('AVAILABLE', T0 + 60 * 60_000)],
    ])!;
    expect(h.days).toEqual([
      { day: '2025-03-01', worst: 'BLOCKED' },
      { day: '2025-03-02', worst: 'AVAILABLE' },
    ]);
    const bars = dailyBars(h, afterMidnight);
    expect(bars.at(-2)).toEqual({ day: '2025-03-01', worst: 'BLOCKED' });
    // the next day's next check adds to its own bucket, not a second one
    const later = syncHistory(h, node('LIMITED', afterMidnight + 60_000), afterMidnight + 60_000)!;
    expect(later.days).toEqual([
      { day: '2025-03-01', worst: 'BLOCKED' },
      { day: '2025-03-02', worst: 'LIMITED' },
    ]);
  });

  it('the mark changes with the state and with the day, not with every check', () => {
    expect(historyMark(node('BLOCKED', T0), T0 + 1)).toBe(historyMark(node('BLOCKED', T0), T0 + 60_000));
    expect(historyMark(node('BLOCKED', T0), T0)).not.toBe(historyMark(node('AVAILABLE', T0 + 5), T0 + 5));
    expect(historyMark(node('BLOCKED', T0), T0)).not.toBe(historyMark(node('BLOCKED', T0), T0 + DAY));
  });

  it("a number's quality changing within LIMITED (YELLOW → GREEN, its tier still dropped → YELLOW) is a transition each time; firstSeen has the rating", () => {
    const rated = (quality: string): NodeNow => ({ ...node('LIMITED', T0), quality });
    const h = replay([
      [T0, rated('YELLOW')],
      [T0 + 60_000, rated('GREEN')],
      [T0 + 90_000, rated('GREEN')], // the same rating again: nothing new
      [T0 + 120_000, rated('YELLOW')],
    ])!;
    expect(h.firstSeen).toEqual({ at: T0, status: 'LIMITED', quality: 'YELLOW' });
    expect(h.transitions.map((t) => [t.from, t.to, t.quality, t.at])).toEqual([
      ['LIMITED', 'LIMITED', 'GREEN', T0 + 60_000],
      ['LIMITED', 'LIMITED', 'YELLOW', T0 + 120_000],
    ]);
    expect(syncHistory(h, rated('YELLOW'), T0 + 180_000)).toBeUndefined();
    // The mark says the rating too: a changed one is written, the same one is not.
    expect(historyMark(rated('GREEN'), T0)).not.toBe(historyMark(rated('YELLOW'), T0));
    expect(historyMark(rated('GREEN'), T0)).toBe(historyMark(rated('GREEN'), T0 + 1));
    // A node with no rating keeps the mark it had.
    expect(historyMark(node('LIMITED', T0), T0)).toBe('2025-03-01|LIMITED|' + T0);
  });

  it('a rating changed within a state held longer than 90 days keeps the transition into that state too (since when it is in it)', () => {
    let h: NodeHistory | undefined;
    const rated = (quality: string): NodeNow => ({ ...node('LIMITED', T0 + 1000), quality });
    const sync = (now: number, n: NodeNow) => (h = syncHistory(h, n, now) ?? h);
    sync(T0, { ...node('AVAILABLE', T0), quality: 'GREEN' });
    sync(T0 + 1000, rated('YELLOW'));
    for (let d = 1; d <= 95; d++) sync(T0 + d * DAY, rated(d < 94 ? 'YELLOW' : 'GREEN'));
    expect(h!.transitions.map((t) => [t.from, t.to, t.quality, t.at])).toEqual([
      ['AVAILABLE', 'LIMITED', 'YELLOW', T0 + 1000],
      ['LIMITED', 'LIMITED', 'GREEN', T0 + 94 * DAY],
    ]);
  });
});

describe('node history from a store an earlier version wrote (no rating kept in it)', () => {
  const rated = (status: NodeNow['status'], quality: string): NodeNow => ({ ...node(status, T0), quality });
  // As an earlier version wrote it: firstSeen without a rating, no transition since.
  const before = (status: NodeNow['status']): NodeHistory => {
    const n = node(status, T0);
    return { fingerprint: n.fingerprint, subject: n.subject, node: n.node, firstSeen: { at: T0, status }, transitions: [], days: [{ day: '2025-03-01', worst: status }] };
  };

  it('a rating it did not keep is no transition (the number did not change): a steady number adds nothing to its history at the upgrade', () => {
    const h = syncHistory(before('AVAILABLE'), rated('AVAILABLE', 'GREEN'), T0 + 60_000) ?? before('AVAILABLE');
    expect(h.transitions).toEqual([]);
    // Once learnt it is not learnt again.
    expect(syncHistory(h, rated('AVAILABLE', 'GREEN'), T0 + 120_000)).toBeUndefined();
  });

  it('a rating changing after it was learnt is a transition, as in a new history', () => {
    let h: NodeHistory | undefined = before('LIMITED');
    h = syncHistory(h, rated('LIMITED', 'YELLOW'), T0 + 60_000) ?? h;
    h = syncHistory(h, rated('LIMITED', 'GREEN'), T0 + 120_000) ?? h;
    h = syncHistory(h, rated('LIMITED', 'GREEN'), T0 + 180_000) ?? h;
    expect(h.transitions.map((t) => [t.from, t.to, t.quality, t.at])).toEqual([['LIMITED', 'LIMITED', 'GREEN', T0 + 120_000]]);
    expect(h.firstSeen).toEqual({ at: T0, status: 'LIMITED' });
  });
});
