/**
 * A sink's send window is shared by deliverers on several instances, whose clocks differ: one running
 * minutes ahead must not hold the sink's per-minute budget, or a wait its channel asked for, for every
 * other deliverer until their clocks catch up with it. Two deliverers (two store connections) on
 * injected clocks, on the file store and on a real redis-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SinkDeliveryError, type AlertNotification, type AlertSink, type AlertSubject } from '../../../shared/alerts/model.ts';
import { deliverOwed } from '../../../shared/monitor/dispatch.ts';
import { fingerprintOf } from '../../../shared/monitor/entity-state.ts';
import { updateEntity } from '../../../shared/monitor/entity-store.ts';
import { evaluate } from '../../../shared/monitor/rules.ts';
import { SINK_HOLD_MAX_MS } from '../../../shared/monitor/sink-window.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';

const redisBin = findOnPath('redis-server');
let redis: RedisServer | undefined;
afterAll(async () => {
  await redis?.stop();
});

type Kind = 'file' | 'redis';
const kinds: Kind[] = ['file', ...(redisBin || process.env['CI'] === 'true' ? (['redis'] as const) : [])];

const MINUTE = 60_000;
const AHEAD = 5 * MINUTE;
const noLog = () => {};

class Sink implements AlertSink {
  readonly sent: string[] = [];
  waitAsked: number | undefined;
  constructor(readonly perMinute: number, readonly name = 'chat') {}
  async send(n: AlertNotification) {
    if (this.waitAsked !== undefined) throw new SinkDeliveryError(this.name, 'rate limited', true, this.waitAsked);
    this.sent.push(n.group);
  }
}

/** A BLOCKED alert about a phone of `wabaId`, owed to the sink. */
async function owe(store: Store, wabaId: string): Promise<void> {
  const subject: AlertSubject = { nodeType: 'phone', custSpaceId: 'cs', wabaId, phoneNumber: `86${wabaId}`, entityType: 'PHONE_NUMBER' };
  const state = evaluate(undefined, { subject, status: 'BLOCKED', errors: [] }, { now: Date.now(), round: 'r', policy: { minConsecutive: 1, repeatIntervalMs: 1e9 }, inhibited: false, sinks: ['chat'] });
  await updateEntity(store, fingerprintOf(subject), () => state);
}

describe.each(kinds)('a sink window shared by deliverers whose clocks differ (%s store)', (kind) => {
  let ahead: Store;
  let right: Store;
  let done: () => Promise<void>;
  let ns = 0;
  /** The right clock; the other deliverer's runs AHEAD of it. */
  let clock: number;

  beforeAll(async () => {
    if (kind === 'redis' && !redis) redis = await startRedisServer(redisBin!);
  });
  beforeEach(async () => {
    clock = Date.parse('2026-12-01T00:00:00Z');
    if (kind === 'file') {
      const dir = mkdtempSync(join(tmpdir(), 'cams-fc-sink-window-'));
      [ahead, right] = [await openStore(`file:${dir}`), await openStore(`file:${dir}`)];
      done = async () => {
        await Promise.all([ahead.close(), right.close()]);
        rmSync(dir, { recursive: true, force: true });
      };
    } else {
      const url = `${redis!.url}?namespace=sink-window-${process.pid}-${++ns}`;
      [ahead, right] = [await openStore(url), await openStore(url)];
      done = () => Promise.all([ahead.close(), right.close()]).then(() => undefined);
    }
  });
  afterEach(async () => {
    await done();
  });

  const deliverAhead = (sink: Sink) => deliverOwed(ahead, [sink], () => clock + AHEAD, noLog);
  const deliverRight = (sink: Sink) => deliverOwed(right, [sink], () => clock, noLog);

  it("counts a send stamped minutes ahead for a minute from when it is seen, not until this clock reaches the sender's", async () => {
    const sink = new Sink(1);
    await owe(right, '1');
    expect((await deliverAhead(sink)).delivered).toHaveLength(1);
    await owe(right, '2');
    // The budget is one a minute and that send was just now, whatever its stamp says.
    expect((await deliverRight(sink)).deferred.map((d) => d.reason)).toEqual(['1 messages/min reached']);
    clock += 30_000;
    expect((await deliverRight(sink)).delivered).toEqual([]);
    clock += 30_000;
    expect((await deliverRight(sink)).delivered.map((d) => d.group)).toEqual(['waba:2']);
    expect(sink.sent).toEqual(['waba:1', 'waba:2']);
  });

  it('holds the sink for the wait its channel asked, from when it asked, on a clock running ahead too', async () => {
    const sink = new Sink(100);
    await owe(right, '1');
    sink.waitAsked = MINUTE;
    expect((await deliverAhead(sink)).failed).toHaveLength(1);
    sink.waitAsked = undefined;
    expect((await deliverRight(sink)).deferred[0]?.reason).toMatch(/^the channel asked to wait until /);
    clock += MINUTE - 1;
    expect((await deliverRight(sink)).delivered).toEqual([]);
    clock += 1;
    expect((await deliverRight(sink)).delivered.map((d) => d.group)).toEqual(['waba:1']);
  });

  it(`holds a sink at most ${SINK_HOLD_MAX_MS / MINUTE} minutes, whatever wait its channel asked`, async () => {
    const sink = new Sink(100);
    await owe(right, '1');
    sink.waitAsked = 24 * 60 * MINUTE;
    expect((await deliverRight(sink)).failed).toHaveLength(1);
    sink.waitAsked = undefined;
    clock += SINK_HOLD_MAX_MS - 1;
    expect((await deliverRight(sink)).delivered).toEqual([]);
    clock += 1;
    expect((await deliverRight(sink)).delivered.map((d) => d.group)).toEqual(['waba:1']);
  });
});
