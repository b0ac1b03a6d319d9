import { beforeEach, describe, expect, it } from 'vitest';
import type { AlertSubject } from '../../../shared/alerts/model.ts';
import { EVERY_SINK, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { entityKey } from '../../../shared/monitor/entity-store.ts';
import { evaluate } from '../../../shared/monitor/rules.ts';
import { applySilences } from '../../../shared/silences/apply.ts';
import { createSilence, expireSilence } from '../../../shared/silences/store.ts';
import { MemoryStore } from '../../../shared/store/memory-store.ts';
import { sandboxPushingReceipts, type ReceiptRig } from '../../support/receipt-rig.ts';

// When a silence ends, the alert it kept back is notified if it still fires, but not while its
// WABA is BLOCKED (the WABA's alert covers it, as it would with no silence), not behind a newer
// notification of the same alert, and never a resolution of an incident nobody was told of.
// Through cams-events (the sandbox pushes a receipt per change; each is checked and delivered at once).
const WABA = '299399000700';
const PHONE = '8613800000007';
const MINUTE = 60_000;
let rig: ReceiptRig;
let clock: number;

beforeEach(() => {
  clock = Date.now();
});
sandboxPushingReceipts(
  {
    token: 'receipt-token-silence-0123456789',
    waba: WABA,
    phone: { cc: '86', phone: '13800000007' },
    targets: (space) => [{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, { CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: PHONE }],
    alertClock: () => clock,
  },
  (r) => (rig = r),
);

const messages = () => rig.messages();

async function change(node: Record<string, unknown>, to: string): Promise<void> {
  clock += MINUTE;
  await rig.pushChange(node, to);
}
const waba = { NodeType: 'waba', WabaId: WABA };
const phone = { NodeType: 'phone', PhoneNumber: PHONE };

/** Silences the phone from now on; returns a function that ends the silence (as DELETE /silences/{id} does). */
async function silencePhone(minutes = 60): Promise<() => Promise<unknown>> {
  const s = await createSilence(rig.store, { Matchers: [{ Name: 'PhoneNumber', Value: PHONE }], StartsAt: clock - 1000, EndsAt: clock + minutes * MINUTE, CreatedBy: 'ops', Comment: 'known' }, clock);
  return () => expireSilence(rig.store, s.SilenceId, clock);
}

describe('a silence ends', () => {
  it('while the WABA is BLOCKED: the phone\'s alert waits for the WABA\'s recovery and goes out with it, once', async () => {
    const unsilence = await silencePhone();
    await change(phone, 'BLOCKED');
    expect(messages()).toEqual([]);
    await change(waba, 'BLOCKED');
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['WABA BLOCKED new']]);

    await change(waba, 'AVAILABLE');
    expect(messages()).toEqual([['WABA BLOCKED new'], ['WABA RESOLVED resolved', 'phone BLOCKED new']]);
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toHaveLength(2);
  });

  it('as a newer notification of the alert is owed: that one goes out, not the one the silence kept', async () => {
    const unsilence = await silencePhone();
    await change(phone, 'LIMITED');
    await unsilence();
    await change(phone, 'BLOCKED');
    // Its first news for the sink, which never had the LIMITED: new, not "changed".
    expect(messages()).toEqual([['phone BLOCKED new']]);
  });

  it('after a change or a reminder it struck: the alert goes out as new, the first the sink hears of it', async () => {
    const s = await createSilence(rig.store, { Matchers: [{ Name: 'PhoneNumber', Value: PHONE }], StartsAt: clock - 1000, EndsAt: clock + 600 * MINUTE, CreatedBy: 'ops', Comment: 'known' }, clock);
    await change(phone, 'LIMITED');
    await change(phone, 'BLOCKED'); // struck: changed
    clock += 5 * 60 * MINUTE;
    await rig.sweep(clock); // struck: a reminder
    expect(messages()).toEqual([]);
    await expireSilence(rig.store, s.SilenceId, clock);
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone BLOCKED new']]);
  });

  it('the alert sent at its end is a notification like any other: its reminder comes ALERT_REPEAT_INTERVAL (4 h) after it, not after what was struck', async () => {
    const s = await createSilence(rig.store, { Matchers: [{ Name: 'PhoneNumber', Value: PHONE }], StartsAt: clock - 1000, EndsAt: clock + 600 * MINUTE, CreatedBy: 'ops', Comment: 'known' }, clock);
    await change(phone, 'BLOCKED'); // struck
    clock += 230 * MINUTE;
    await expireSilence(rig.store, s.SilenceId, clock);
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone BLOCKED new']]);
    clock += 10 * MINUTE; // 4 h after the struck one, 10 min after the one sent
    await rig.sweep(clock);
    expect(messages()).toHaveLength(1);
    clock += 4 * 60 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone BLOCKED new'], ['phone BLOCKED reminder']]);
  });

  it('after a change it struck of an alert the sink had before the silence: the change goes out as a change', async () => {
    await change(phone, 'LIMITED');
    const unsilence = await silencePhone();
    await change(phone, 'BLOCKED');
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone LIMITED new'], ['phone BLOCKED changed']]);
  });

  it('after a change there and back under it, to what the sink last heard: nothing goes out (it heard the alert as it is)', async () => {
    await change(phone, 'LIMITED');
    const unsilence = await silencePhone();
    await change(phone, 'BLOCKED'); // struck
    await change(phone, 'LIMITED'); // struck: what the sink heard before the silence
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    // Before, 'phone LIMITED changed' again: the struck item was owed whatever the sink had heard.
    expect(messages()).toEqual([['phone LIMITED new']]);
    // The alert fires on: it is reminded an interval after what the sink last heard.
    clock += 4 * 60 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone LIMITED new'], ['phone LIMITED reminder']]);
  });

  it('after a change there and back under it, nothing owed at its end: the reminder comes 4 h after what the sink last heard, not after what was struck', async () => {
    await change(phone, 'LIMITED'); // heard now
    const heardAt = clock;
    const unsilence = await silencePhone(600);
    clock += 60 * MINUTE;
    await change(phone, 'BLOCKED'); // struck
    clock += 60 * MINUTE;
    await change(phone, 'LIMITED'); // struck: composed 2 h after what the sink heard
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone LIMITED new']]);
    clock = heardAt + 4 * 60 * MINUTE - MINUTE;
    await rig.sweep(clock);
    expect(messages()).toHaveLength(1);
    // Before, nothing until 4 h after the struck change back: 6 h of silence for the sink.
    clock = heardAt + 4 * 60 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone LIMITED new'], ['phone LIMITED reminder']]);
    // And the next one 4 h after that reminder (before, 4 h after the struck change back: 2 h after it).
    clock = heardAt + 6 * 60 * MINUTE + MINUTE;
    await rig.sweep(clock);
    expect(messages()).toHaveLength(2);
    clock = heardAt + 8 * 60 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toHaveLength(3);
  });

  it('after a change of error codes there and back under it: nothing goes out; a change of codes that stays goes out as a change', async () => {
    const codes = (...c: string[]) => ({ ...phone, Errors: c.map((ErrorCode) => ({ ErrorCode, ErrorDescription: ErrorCode, PossibleSolution: '-' })) });
    await change(codes('A'), 'LIMITED');
    let unsilence = await silencePhone();
    await change(codes('B'), 'LIMITED'); // struck
    await change(codes('A'), 'LIMITED'); // struck: what the sink heard
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone LIMITED new']]);

    unsilence = await silencePhone();
    await change(codes('B'), 'LIMITED'); // struck, and so it stays
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone LIMITED new'], ['phone LIMITED changed']]);
  });

  it('after a change it struck and one back once it ended: the one back is nothing to the sink, which never heard the first', async () => {
    await change(phone, 'LIMITED');
    const unsilence = await silencePhone();
    await change(phone, 'BLOCKED'); // struck
    await unsilence();
    await change(phone, 'LIMITED'); // composed after the silence's end, before any delivery lifted it
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone LIMITED new']]);
  });

  it('after a change it struck and one back once it ended: the sink is reminded 4 h after what it last heard, not after the one back', async () => {
    await change(phone, 'LIMITED'); // heard now
    const heardAt = clock;
    const unsilence = await silencePhone(600);
    clock += 60 * MINUTE;
    await change(phone, 'BLOCKED'); // struck
    clock += 60 * MINUTE;
    await unsilence();
    await change(phone, 'LIMITED'); // composed 2 h after what the sink heard, nothing to it
    expect(messages()).toEqual([['phone LIMITED new']]);
    clock = heardAt + 4 * 60 * MINUTE - MINUTE;
    await rig.sweep(clock);
    expect(messages()).toHaveLength(1);
    clock = heardAt + 4 * 60 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone LIMITED new'], ['phone LIMITED reminder']]);
  });

  it('after a change and then a reminder of it, both struck: the change goes out as a change (the sink never heard it, so no reminder of it)', async () => {
    await change(phone, 'LIMITED');
    const unsilence = await silencePhone(600);
    await change(phone, 'BLOCKED'); // struck: changed
    clock += 4 * 60 * MINUTE;
    await rig.sweep(clock); // struck: a reminder of BLOCKED
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone LIMITED new'], ['phone BLOCKED changed']]);
  });

  it('after a change it struck, ended as its reminder fell due: the reminder composed since goes out as a change (the sink never heard what it reminds of)', async () => {
    await change(phone, 'LIMITED');
    const unsilence = await silencePhone(600);
    await change(phone, 'BLOCKED'); // struck: changed
    clock += 4 * 60 * MINUTE;
    await unsilence();
    await rig.sweep(clock); // a reminder of BLOCKED, composed after the end, before any delivery lifted it
    // Before, 'phone BLOCKED reminder': a reminder of what the sink never heard.
    expect(messages()).toEqual([['phone LIMITED new'], ['phone BLOCKED changed']]);
  });

  it('after only a reminder it struck: the reminder goes out, as the sink heard the alert an interval ago', async () => {
    await change(phone, 'BLOCKED');
    const unsilence = await silencePhone(600);
    clock += 4 * 60 * MINUTE;
    await rig.sweep(clock); // struck: a reminder
    expect(messages()).toEqual([['phone BLOCKED new']]);
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone BLOCKED new'], ['phone BLOCKED reminder']]);
  });

  it('as the alert resolves: nothing goes out, neither the kept alert nor the resolution of an incident nobody was told of', async () => {
    const unsilence = await silencePhone();
    await change(phone, 'BLOCKED');
    await unsilence();
    await change(phone, 'AVAILABLE');
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([]);
  });

  it('after the alert, told before the silence, resolved under it: the resolution goes out then, once, so the incident is closed', async () => {
    await change(phone, 'BLOCKED');
    expect(messages()).toEqual([['phone BLOCKED new']]);
    const unsilence = await silencePhone();
    await change(phone, 'AVAILABLE');
    expect(messages()).toHaveLength(1); // held back while the silence lasts
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toEqual([['phone BLOCKED new'], ['phone RESOLVED resolved']]);
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    expect(messages()).toHaveLength(2);
  });

  it('after the alert, told before the silence, resolved and fired again under it: the resolution goes out before the new incident, not lost behind it', async () => {
    await change(phone, 'BLOCKED');
    const unsilence = await silencePhone();
    await change(phone, 'AVAILABLE');
    await change(phone, 'BLOCKED');
    expect(messages()).toHaveLength(1);
    await unsilence();
    clock += 5 * MINUTE;
    await rig.sweep(clock);
    // Before, 'phone BLOCKED new' twice: the first incident was never closed.
    expect(messages()).toEqual([['phone BLOCKED new'], ['phone BLOCKED new', 'phone RESOLVED resolved']]);
    // The close first, so the message stands for the node as it is: firing.
    const last = rig.receivers.received.webhook.at(-1)!.body as { title: string; items: Array<{ reason: string }> };
    expect(last.items.map((i) => i.reason)).toEqual(['resolved', 'new']);
    expect(last.title).toContain('1 firing');
  });

  it('after the alert, told before the silence, resolved under it and fired again once it ended: the resolution goes out before the new incident', async () => {
    await change(phone, 'BLOCKED');
    const unsilence = await silencePhone();
    await change(phone, 'AVAILABLE');
    await unsilence();
    // Firing again before anything lifted the kept resolution: both are owed at the next delivery.
    await change(phone, 'BLOCKED');
    expect(messages()).toEqual([['phone BLOCKED new'], ['phone BLOCKED new', 'phone RESOLVED resolved']]);
    // The close first, so the message stands for the node as it is: firing.
    const last = rig.receivers.received.webhook.at(-1)!.body as { title: string; items: Array<{ reason: string }> };
    expect(last.items.map((i) => i.reason)).toEqual(['resolved', 'new']);
    expect(last.title).toContain('1 firing');
  });

  it('as the alert, told before the silence, resolves right after it: its resolution goes out, to the sinks that heard of it', async () => {
    await change(phone, 'LIMITED');
    const unsilence = await silencePhone();
    await change(phone, 'BLOCKED');
    await unsilence();
    await change(phone, 'AVAILABLE');
    expect(messages()).toEqual([['phone LIMITED new'], ['phone RESOLVED resolved']]);
  });
});

describe('a silence ends, its record naming every sink', () => {
  it('a reminder owed since to one sink by name stands for it: nothing more is owed to "every sink" (which would reach that sink twice)', async () => {
    // As the onboarding function records an alert (to every sink, which the deliverer resolves): a
    // record of "every sink", and a reminder owed since to sink a by name.
    const store = new MemoryStore();
    const subject: AlertSubject = { nodeType: 'phone', custSpaceId: 'cs1', wabaId: WABA, phoneNumber: PHONE, entityType: 'PHONE_NUMBER' };
    const ctx = { round: 'r', policy: { minConsecutive: 1, repeatIntervalMs: 4 * 60 * MINUTE }, inhibited: false, sinks: ['a'] };
    const fired = evaluate(undefined, { subject, status: 'BLOCKED', errors: [] }, { ...ctx, now: 0 });
    const reminded = evaluate({ ...fired, outbox: [] }, { subject, status: 'BLOCKED', errors: [] }, { ...ctx, now: 5 * 60 * MINUTE });
    const entity: EntityState = { ...reminded, silenced: { silenceId: 's', at: MINUTE, item: { ...fired.outbox[0]!.item, reason: 'reminder' }, sinks: [EVERY_SINK] } };
    await store.put(entityKey(entity.fingerprint), entity);
    await applySilences(store, [{ key: entityKey(entity.fingerprint), value: entity }], 5 * 60 * MINUTE, () => {}, { repeatIntervalMs: 4 * 60 * MINUTE });
    const after = (await store.get<EntityState>(entityKey(entity.fingerprint)))!.value;
    expect(after.silenced).toBeUndefined();
    expect(after.outbox.map((e) => [e.item.reason, e.pendingSinks])).toEqual([['reminder', ['a']]]);
  });
});
