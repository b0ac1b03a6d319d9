import { describe, expect, it } from 'vitest';
import type { AlertItem, AlertNotification } from '../../../../shared/alerts/model.ts';
import { dingTalkBody } from '../../../../shared/alerts/sinks/dingtalk.ts';
import { DIALECTS, markdown, plain, viewOf } from '../../../../shared/alerts/sinks/format.ts';
import { larkBody } from '../../../../shared/alerts/sinks/lark.ts';
import { slackBody } from '../../../../shared/alerts/sinks/slack.ts';
import { webhookPayload } from '../../../../shared/alerts/sinks/webhook.ts';
import { weComBody } from '../../../../shared/alerts/sinks/wecom.ts';
import type { EntityState } from '../../../../shared/monitor/entity-state.ts';
import { evaluate, type Observation } from '../../../../shared/monitor/rules.ts';
import { BLOCKED_ERROR, notification } from './fixtures.ts';

const T0 = Date.parse('2025-03-01T08:00:00.000Z');
const MIN = 60_000;
const subject = { nodeType: 'phone', custSpaceId: 'cs1', wabaId: '299399', phoneNumber: '8613800000000', entityType: 'PHONE_NUMBER' } as const;
const policy = { minConsecutive: 1, repeatIntervalMs: 4 * 60 * MIN };

/** Drives the real rules through a sequence of (minute, status) observations; returns every item composed. */
function run(steps: Array<[number, Observation['status']]>): AlertItem[] {
  let state: EntityState | undefined;
  for (const [i, [minute, status]] of steps.entries()) {
    state = evaluate(state, { subject: { ...subject }, status, errors: status === 'AVAILABLE' ? [] : [BLOCKED_ERROR] }, {
      now: T0 + minute * MIN,
      round: `r${i}`,
      policy,
      inhibited: false,
      sinks: ['s'],
    });
  }
  return state!.outbox.map((e) => e.item);
}

describe('recovery messages say how long the node was not AVAILABLE', () => {
  it('rules: the resolved item carries the outage from the first bad check, with the worst state', () => {
    const items = run([
      [0, 'AVAILABLE'],
      [10, 'LIMITED'],
      [40, 'BLOCKED'],
      [70, 'LIMITED'],
      [10 + 134, 'AVAILABLE'],
    ]);
    const resolved = items.find((i) => i.reason === 'resolved')!;
    expect(resolved.outage).toEqual({ worst: 'BLOCKED', from: new Date(T0 + 10 * MIN).toISOString(), durationMs: 134 * MIN });
    expect(items.filter((i) => i.reason !== 'resolved').every((i) => i.outage === undefined)).toBe(true);
  });

  it('rules: a second outage is measured on its own', () => {
    const items = run([
      [0, 'BLOCKED'],
      [60, 'AVAILABLE'],
      [100, 'LIMITED'],
      [105, 'AVAILABLE'],
    ]);
    const outages = items.filter((i) => i.reason === 'resolved').map((i) => i.outage);
    expect(outages).toEqual([
      { worst: 'BLOCKED', from: new Date(T0).toISOString(), durationMs: 60 * MIN },
      { worst: 'LIMITED', from: new Date(T0 + 100 * MIN).toISOString(), durationMs: 5 * MIN },
    ]);
  });

  const resolved = run([
    [0, 'BLOCKED'],
    [134, 'AVAILABLE'],
  ]).find((i) => i.reason === 'resolved')!;
  const n: AlertNotification = notification([resolved], { severity: 'info', title: 'WhatsApp health, WABA 299399: 1 resolved' });
  const WANT = 'BLOCKED for 2 h 14 min';

  const bodies: Array<[string, () => unknown]> = [
    ['dingtalk', () => dingTalkBody(n)],
    ['wecom', () => weComBody(n)],
    ['lark card', () => larkBody(n, 'interactive')],
    ['lark text', () => larkBody(n, 'text')],
    ['slack', () => slackBody(n)],
    ['webhook', () => webhookPayload(n)],
    ['plain', () => plain(viewOf(n)).items.join('\n')],
    ...Object.entries(DIALECTS).map(([k, d]) => [`markdown ${k}`, () => markdown(viewOf(n), d).items.join('\n')] as [string, () => unknown]),
  ];
  for (const [name, body] of bodies) {
    it(`${name}: the recovery says "${WANT}"`, () => {
      expect(JSON.stringify(body())).toContain(WANT);
    });
  }

  it('a firing item says no duration', () => {
    const firing = run([[0, 'BLOCKED']])[0]!;
    expect(JSON.stringify(dingTalkBody(notification([firing])))).not.toContain('Was down');
  });
});
