import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { setHealth } from '../../support/monitor.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';
import { sandboxPushingReceipts, type ReceiptRig } from '../../support/receipt-rig.ts';

// Phone and template alerts are held back while their WABA is BLOCKED (the WABA's alert covers
// them). When the WABA's hold ends, what it held back is notified then, once, with the WABA's
// recovery, not a sweep round later.
const WABA = '299399000600';
const PHONE = '8613800000001';
const MINUTE = 60_000;
let sandbox: RunningSandbox;
let rig: ReceiptRig;
let clock: number;

beforeEach(() => {
  clock = Date.now();
});
sandboxPushingReceipts(
  {
    token: 'receipt-token-inhibit-0123456789',
    waba: WABA,
    phone: { cc: '86', phone: '13800000001' },
    targets: (space) => [{ CustSpaceId: space, NodeType: 'waba', WabaId: WABA }, { CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: PHONE }],
    alertClock: () => clock,
  },
  (r) => ({ sandbox } = rig = r),
);

const messages = () => rig.messages();

/** A node's health changes in the sandbox a minute later, which pushes its receipt; resolves once cams-events answered it. */
async function change(node: Record<string, unknown>, to: string): Promise<void> {
  clock += MINUTE;
  await rig.pushChange(node, to);
}
const waba = { NodeType: 'waba', WabaId: WABA };
const phone = { NodeType: 'phone', PhoneNumber: PHONE };

const sweep = (at: number) => rig.sweep(at);

describe('alerts held back by a BLOCKED WABA', () => {
  it('WABA BLOCKED, phone LIMITED (held back), WABA AVAILABLE: the phone\'s LIMITED goes out with the WABA\'s recovery, once', async () => {
    await change(waba, 'BLOCKED');
    expect(messages()).toEqual([['WABA BLOCKED new']]);
    await change(phone, 'LIMITED');
    expect(messages()).toHaveLength(1); // held back: the WABA's alert covers it

    await change(waba, 'AVAILABLE');
    expect(messages()).toEqual([['WABA BLOCKED new'], ['WABA RESOLVED resolved', 'phone LIMITED new']]);

    // Nothing of it again: not from the next sweep, not from the phone's next receipt-less check.
    clock += 5 * MINUTE;
    await sweep(clock);
    expect(messages()).toHaveLength(2);
  });

  it('a change held back (a firing phone LIMITED goes BLOCKED under a BLOCKED WABA) goes out as changed when the WABA recovers', async () => {
    await change(phone, 'LIMITED');
    await change(waba, 'BLOCKED');
    await change(phone, 'BLOCKED');
    expect(messages()).toEqual([['phone LIMITED new'], ['WABA BLOCKED new']]);
    await change(waba, 'AVAILABLE');
    expect(messages()).toEqual([['phone LIMITED new'], ['WABA BLOCKED new'], ['WABA RESOLVED resolved', 'phone BLOCKED changed']]);
  });

  it('a held-back phone that recovers while its WABA is BLOCKED: nothing owed when the WABA recovers', async () => {
    await change(waba, 'BLOCKED');
    await change(phone, 'LIMITED');
    await change(phone, 'AVAILABLE');
    await change(waba, 'AVAILABLE');
    expect(messages()).toEqual([['WABA BLOCKED new'], ['WABA RESOLVED resolved']]);
  });

  it('a WABA recovery the sweep sees (its receipt lost) releases the held alert in that sweep', async () => {
    await change(waba, 'BLOCKED');
    await change(phone, 'LIMITED');
    await sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: '' });
    await setHealth(sandbox, { CustSpaceId: rig.space, ...waba, CanSendMessage: 'AVAILABLE' });
    clock += 5 * MINUTE;
    await sweep(clock);
    expect(messages().flat().filter((m) => m.startsWith('phone'))).toEqual(['phone LIMITED new']);
    expect(messages().flat()).toContain('WABA RESOLVED resolved');
  });
});
