import { describe, expect, it } from 'vitest';
import type { AlertSubject } from '../../../shared/alerts/model.ts';
import type { EntityState, ObservedStatus } from '../../../shared/monitor/entity-state.ts';
import { evaluate, releaseHold, remindUnobserved, unwatch, type AlertPolicy } from '../../../shared/monitor/rules.ts';

const HOUR = 3_600_000;
const phone: AlertSubject = { nodeType: 'phone', custSpaceId: 'cs1', wabaId: '299399', phoneNumber: '8613800000000', entityType: 'PHONE_NUMBER' };
const policy: AlertPolicy = { minConsecutive: 1, repeatIntervalMs: 4 * HOUR };
const err = (code: string) => ({ ErrorCode: code, ErrorDescription: `d${code}`, PossibleSolution: `s${code}` });

/**
 * Runs a sequence of (round, status, codes, time) observations; returns the reasons notified. With
 * `delivered`, each notification is taken as delivered (struck from the outbox) before the next step.
 */
function run(steps: Array<{ status: ObservedStatus; codes?: string[]; at: number; round?: string; inhibited?: boolean }>, p = policy, opts: { delivered?: boolean } = {}) {
  let state: EntityState | undefined;
  const reasons: string[] = [];
  steps.forEach((s, i) => {
    const before = state?.seq ?? 0;
    state = evaluate(state, { subject: phone, status: s.status, errors: (s.codes ?? []).map(err) }, {
      now: s.at,
      round: s.round ?? `r${i}`,
      policy: p,
      inhibited: s.inhibited ?? false,
      sinks: ['dingtalk', 'slack'],
    });
    if (state.seq > before) reasons.push(`${s.at}:${state.outbox.at(-1)!.item.reason}:${state.outbox.at(-1)!.item.status}`);
    if (opts.delivered) state = { ...state, outbox: [] };
  });
  return { reasons, state: state! };
}

describe('alert rules', () => {
  it('notifies AVAILABLE → BLOCKED once (critical), stays quiet while unchanged, resolves once', () => {
    const { reasons, state } = run([
      { status: 'AVAILABLE', at: 0 },
      { status: 'BLOCKED', codes: ['141006'], at: 1 },
      { status: 'BLOCKED', codes: ['141006'], at: 2 },
      { status: 'AVAILABLE', at: 3 },
      { status: 'AVAILABLE', at: 4 },
    ]);
    expect(reasons).toEqual(['1:new:BLOCKED', '3:resolved:RESOLVED']);
    expect(state.outbox.map((o) => o.item.severity)).toEqual(['critical', 'info']);
    expect(state.outbox[0]!.pendingSinks).toEqual(['dingtalk', 'slack']);
    expect(state.outbox[0]!.item.errors[0]).toEqual(err('141006'));
  });

  it('LIMITED is a warning; LIMITED → BLOCKED and a changed error set are notified as changes', () => {
    const { reasons, state } = run([
      { status: 'LIMITED', codes: ['131042'], at: 1 },
      { status: 'BLOCKED', codes: ['131042'], at: 2 },
      { status: 'BLOCKED', codes: ['131042', '141006'], at: 3 },
      { status: 'BLOCKED', codes: ['141006', '131042'], at: 4 },
    ]);
    expect(reasons).toEqual(['1:new:LIMITED', '2:changed:BLOCKED', '3:changed:BLOCKED']);
    expect(state.outbox[0]!.item.severity).toBe('warning');
  });

  it('repeats a firing alert after the repeat interval, and not before', () => {
    const { reasons } = run(
      [
        { status: 'BLOCKED', at: 0 },
        { status: 'BLOCKED', at: 4 * HOUR - 1 },
        { status: 'BLOCKED', at: 4 * HOUR },
        { status: 'BLOCKED', at: 5 * HOUR },
        { status: 'BLOCKED', at: 8 * HOUR },
      ],
      policy,
      { delivered: true },
    );
    expect(reasons).toEqual(['0:new:BLOCKED', `${4 * HOUR}:reminder:BLOCKED`, `${8 * HOUR}:reminder:BLOCKED`]);
  });

  it('no reminder queues behind a notification of the alert a sink has not had yet (it was down): one message, not the node again and again', () => {
    // Neither sink took the NEW for 9 hours: no reminder is added behind it; the next comes an interval after the last one due.
    const { reasons, state } = run([
      { status: 'BLOCKED', at: 0 },
      { status: 'BLOCKED', at: 4 * HOUR },
      { status: 'BLOCKED', at: 8 * HOUR },
    ]);
    expect(reasons).toEqual(['0:new:BLOCKED']);
    expect(state.lastNotifiedAt).toBe(8 * HOUR);
    // Only slack is still owed it: dingtalk, which had it, is reminded; slack is not.
    const partly = { ...state, outbox: state.outbox.map((e) => ({ ...e, pendingSinks: ['slack'] })), lastNotifiedAt: 0 };
    const next = evaluate(partly, { subject: phone, status: 'BLOCKED', errors: [] }, { now: 9 * HOUR, round: 'r9', policy, inhibited: false, sinks: ['dingtalk', 'slack'] });
    expect(next.outbox.map((e) => [e.item.reason, e.pendingSinks])).toEqual([['new', ['slack']], ['reminder', ['dingtalk']]]);
    // A change is news, owed behind it all the same.
    const changed = evaluate(state, { subject: phone, status: 'LIMITED', errors: [] }, { now: 9 * HOUR, round: 'r9', policy, inhibited: false, sinks: ['dingtalk', 'slack'] });
    expect(changed.outbox.map((e) => e.item.reason)).toEqual(['new', 'changed']);
  });

  it('a sink with its own reminder clock (remindFrom: a silence ended owing it nothing) is reminded from it; the others keep theirs', () => {
    // dingtalk last heard the alert at 0 (what was composed since, at 2 h, was struck); slack counts from 2 h.
    const { state } = run([{ status: 'BLOCKED', at: 0 }], policy, { delivered: true });
    const s = { ...state, lastNotifiedAt: 2 * HOUR, remindFrom: { dingtalk: 0 } };
    const at = (now: number, from: EntityState) => evaluate(from, { subject: phone, status: 'BLOCKED', errors: [] }, { now, round: `r${now}`, policy, inhibited: false, sinks: ['dingtalk', 'slack'] });
    expect(at(4 * HOUR - 1, s).outbox).toEqual([]);
    const first = at(4 * HOUR, s);
    expect(first.outbox.map((e) => [e.item.reason, e.pendingSinks])).toEqual([['reminder', ['dingtalk']]]);
    // dingtalk's clock is now the reminder's (lastNotifiedAt); slack's stays 2 h.
    expect(first).toMatchObject({ lastNotifiedAt: 4 * HOUR, remindFrom: { slack: 2 * HOUR } });
    const second = at(6 * HOUR, { ...first, outbox: [] });
    expect(second.outbox.map((e) => [e.item.reason, e.pendingSinks])).toEqual([['reminder', ['slack']]]);
    expect(second).toMatchObject({ lastNotifiedAt: 6 * HOUR, remindFrom: { dingtalk: 4 * HOUR } });
    // Each on its own clock from then on, until something else is composed for both.
    expect(at(8 * HOUR, { ...second, outbox: [] }).outbox.map((e) => e.pendingSinks)).toEqual([['dingtalk']]);
    const changed = at(7 * HOUR, { ...second, outbox: [], notifiedStatus: 'LIMITED' });
    expect(changed.outbox.map((e) => [e.item.reason, e.pendingSinks])).toEqual([['changed', ['dingtalk', 'slack']]]);
    expect(changed.remindFrom).toBeUndefined();
    // An unobserved alert's reminder is due by the same clocks; a resolution ends them.
    expect(remindUnobserved(s, { now: 4 * HOUR, policy, sinks: ['dingtalk', 'slack'] })!.outbox.map((e) => e.pendingSinks)).toEqual([['dingtalk']]);
    expect(evaluate(s, { subject: phone, status: 'AVAILABLE', errors: [] }, { now: HOUR, round: 'rr', policy, inhibited: false, sinks: ['dingtalk', 'slack'] }).remindFrom).toBeUndefined();
  });

  it('waits for ALERT_MIN_CONSECUTIVE bad rounds, counting a round once', () => {
    const p = { ...policy, minConsecutive: 3 };
    const { reasons } = run(
      [
        { status: 'LIMITED', at: 1, round: 'a' },
        { status: 'LIMITED', at: 2, round: 'a' },
        { status: 'LIMITED', at: 3, round: 'b' },
        { status: 'AVAILABLE', at: 4, round: 'c' },
        { status: 'LIMITED', at: 5, round: 'd' },
        { status: 'LIMITED', at: 6, round: 'e' },
        { status: 'LIMITED', at: 7, round: 'f' },
      ],
      p,
    );
    // A blip that recovered before the third round never notified, and needs no resolution.
    expect(reasons).toEqual(['7:new:LIMITED']);
  });

  it('inhibited entities notify nothing, then fire as new when the inhibition lifts', () => {
    const { reasons } = run([
      { status: 'BLOCKED', at: 1, inhibited: true },
      { status: 'BLOCKED', at: 2, inhibited: true },
      { status: 'BLOCKED', at: 3, inhibited: false },
    ]);
    expect(reasons).toEqual(['3:new:BLOCKED']);
  });

  it('an inhibited notification is remembered as held; the end of the hold sends it once, in the round it was counted in', () => {
    const { state: held } = run([
      { status: 'LIMITED', at: 1, inhibited: true },
      { status: 'LIMITED', at: 2, inhibited: true },
    ]);
    expect(held).toMatchObject({ held: 1, firing: false, seq: 0, consecutiveBad: 2, lastRound: 'r1', lastCheckedAt: 2 });
    const released = releaseHold(held, { now: 5, policy, sinks: ['dingtalk'] });
    expect(released.outbox.map((e) => [e.item.reason, e.item.status, e.item.since])).toEqual([['new', 'LIMITED', new Date(1).toISOString()]]);
    expect(released).toMatchObject({ firing: true, consecutiveBad: 2, lastRound: 'r1', lastCheckedAt: 2, lastNotifiedAt: 5 });
    expect(released.held).toBeUndefined();
    expect(releaseHold(released, { now: 6, policy, sinks: ['dingtalk'] })).toBe(released);
    // Below ALERT_MIN_CONSECUTIVE nothing is held: not the hold's to release.
    expect(run([{ status: 'LIMITED', at: 1, inhibited: true }], { ...policy, minConsecutive: 2 }).state.held).toBeUndefined();
    // Recovered while held: nothing is held any more, nothing was notified.
    expect(run([{ status: 'LIMITED', at: 1, inhibited: true }, { status: 'AVAILABLE', at: 2, inhibited: true }]).state.held).toBeUndefined();
  });

  it('keeps `since` from when the status began', () => {
    const { state } = run([
      { status: 'LIMITED', at: 10 },
      { status: 'LIMITED', at: 20 },
      { status: 'BLOCKED', at: 30 },
    ]);
    expect(state.since).toBe(30);
    expect(state.outbox.at(-1)!.item.since).toBe(new Date(30).toISOString());
  });

  it('owes nothing when no sink is configured, but still records the decision', () => {
    const s = evaluate(undefined, { subject: phone, status: 'BLOCKED', errors: [] }, { now: 1, round: 'r', policy, inhibited: false, sinks: [] });
    expect(s.firing).toBe(true);
    expect(s.outbox).toEqual([]);
  });
});

describe('unwatch: a node no watched target reaches any more', () => {
  it('a firing alert is closed out once, calmly (RESOLVED, info, how long it was down), after what was still owed', () => {
    const { state } = run([
      { status: 'LIMITED', codes: ['131042'], at: 0 },
      { status: 'BLOCKED', codes: ['141006'], at: HOUR },
    ]);
    const silenced = { ...state, silenced: { silenceId: 'sil-1', at: HOUR, item: state.outbox[1]!.item } };
    const next = unwatch(silenced, { now: 3 * HOUR, sinks: ['dingtalk'] });
    expect(next).toMatchObject({ unwatchedAt: 3 * HOUR, firing: false, seq: state.seq + 1 });
    expect(next.silenced).toBeUndefined();
    expect(next.outbox.map((o) => o.item.reason)).toEqual(['new', 'changed', 'unwatched']);
    expect(next.outbox.at(-1)).toMatchObject({
      pendingSinks: ['dingtalk'],
      item: { reason: 'unwatched', status: 'RESOLVED', severity: 'info', errors: [err('141006')], outage: { worst: 'BLOCKED', from: new Date(0).toISOString(), durationMs: 3 * HOUR } },
    });
  });

  it("a held notification of a node no longer watched is dropped: the WABA's recovery does not send it", () => {
    const { state: held } = run([{ status: 'LIMITED', at: 1, inhibited: true }]);
    expect(held.held).toBe(1);
    const gone = unwatch(held, { now: 2, sinks: ['s'] });
    expect(gone.held).toBeUndefined();
    expect(gone.outbox).toEqual([]);
    expect(releaseHold({ ...gone, held: 1 }, { now: 3, policy, sinks: ['s'] }).outbox).toEqual([]);
  });

  it('nothing is composed for a node that was not firing, or with no sink to tell', () => {
    const quiet = run([{ status: 'AVAILABLE', at: 0 }]).state;
    expect(unwatch(quiet, { now: 1, sinks: ['s'] })).toMatchObject({ unwatchedAt: 1, outbox: [] });
    const firing = run([{ status: 'BLOCKED', at: 0 }]).state;
    expect(unwatch({ ...firing, outbox: [] }, { now: 1, sinks: [] })).toMatchObject({ unwatchedAt: 1, firing: false, outbox: [] });
  });

  it('observed again, it starts afresh: a bad state is new again; what was owed stays owed', () => {
    const { state } = run([{ status: 'BLOCKED', codes: ['141006'], at: 0 }]);
    const gone = unwatch(state, { now: HOUR, sinks: ['s'] });
    const back = evaluate(gone, { subject: phone, status: 'BLOCKED', errors: [err('141006')] }, { now: 2 * HOUR, round: 'r9', policy: { ...policy, minConsecutive: 2 }, inhibited: false, sinks: ['s'] });
    // A first bad round of a fresh start: under minConsecutive 2, nothing new yet.
    expect(back).toMatchObject({ firing: false, consecutiveBad: 1, since: 2 * HOUR, badSince: 2 * HOUR, seq: gone.seq });
    expect(back.unwatchedAt).toBeUndefined();
    expect(back.outbox.map((o) => o.item.reason)).toEqual(['new', 'unwatched']);
    const again = evaluate(back, { subject: phone, status: 'BLOCKED', errors: [err('141006')] }, { now: 3 * HOUR, round: 'r10', policy: { ...policy, minConsecutive: 2 }, inhibited: false, sinks: ['s'] });
    expect(again.outbox.map((o) => o.item.reason)).toEqual(['new', 'unwatched', 'new']);
  });
});

describe('remindUnobserved: a firing alert no check observes (a template review, TEMPLATE_STATUS)', () => {
  const review: AlertSubject = { nodeType: 'template', custSpaceId: 'cs1', wabaId: '299399', templateCode: 't1', language: 'en', entityType: 'TEMPLATE_STATUS' };
  const ctx = (now: number) => ({ now, policy, sinks: ['dingtalk', 'slack'] });
  const paused = () =>
    evaluate(undefined, { subject: review, status: 'LIMITED', errors: [err('Template.Paused')] }, { ...ctx(0), round: 'receipt', inhibited: false });

  it('says nothing (no write) before the repeat interval, or for an alert not firing', () => {
    const fired = { ...paused(), outbox: [] };
    expect(remindUnobserved(fired, ctx(4 * HOUR - 1))).toBeUndefined();
    const resolved = evaluate(fired, { subject: review, status: 'AVAILABLE', errors: [] }, { ...ctx(HOUR), round: 'receipt-2', inhibited: false });
    expect(remindUnobserved({ ...resolved, outbox: [] }, ctx(10 * HOUR))).toBeUndefined();
  });

  it('after it, a reminder of the same state, keeping when it was last checked and its round count', () => {
    const fired = { ...paused(), outbox: [] };
    const next = remindUnobserved(fired, ctx(4 * HOUR))!;
    expect(next.outbox.map((e) => [e.item.reason, e.item.status, e.pendingSinks])).toEqual([['reminder', 'LIMITED', ['dingtalk', 'slack']]]);
    expect(next).toMatchObject({ lastCheckedAt: 0, lastRound: 'receipt', consecutiveBad: 1, since: 0, lastNotifiedAt: 4 * HOUR, firing: true });
    // The next one is an interval after this one.
    expect(remindUnobserved({ ...next, outbox: [] }, ctx(8 * HOUR - 1))).toBeUndefined();
    expect(remindUnobserved({ ...next, outbox: [] }, ctx(8 * HOUR))!.outbox).toHaveLength(1);
  });

  it('a sink still owed the first notification gets no reminder queued behind it', () => {
    const owed = paused();
    const next = remindUnobserved(owed, ctx(4 * HOUR))!;
    expect(next.outbox).toEqual(owed.outbox);
  });
});
