import { afterEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { bind, call, control, KEY_A, KEY_B, prepareCall, send, start } from './helpers.ts';

let sb: RunningSandbox | undefined;
afterEach(async () => {
  await sb?.close();
  sb = undefined;
});

async function burst(s: RunningSandbox, n: number, space: string, key = KEY_A) {
  // Sign everything first, then send all at once, so the burst lands inside one second.
  const prepared = Array.from({ length: n }, () =>
    prepareCall(s, { action: 'GetWhatsappHealthStatus', params: { CustSpaceId: space, NodeType: 'waba' }, key }),
  );
  const started = Date.now();
  const replies = await Promise.all(prepared.map(send));
  return { replies, elapsedMs: Date.now() - started };
}

describe('per-account, per-operation QPS limits', () => {
  it('50 concurrent GetWhatsappHealthStatus calls: at most 5 pass, the rest are System.LimitControl (400)', async () => {
    sb = await start();
    const space = await bind(sb, '900001');
    const { replies, elapsedMs } = await burst(sb, 50, space);
    const ok = replies.filter((r) => r.status === 200 && r.json['Code'] === 'OK');
    const throttled = replies.filter((r) => r.status === 400 && r.json['Code'] === 'System.LimitControl');
    expect(ok.length + throttled.length).toBe(50);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(elapsedMs < 1000 ? 5 : 10);
    expect(throttled.length).toBeGreaterThanOrEqual(40);
    expect(throttled[0]!.json['Message']).toBe('The system is under flow control.');

    // Throttled calls are in the log too.
    const log = (await control(sb, 'GET', '/__sandbox/calls')).json as CallRecord[];
    const health = log.filter((c) => c.Action === 'GetWhatsappHealthStatus');
    expect(health.length).toBe(50);
    expect(health.filter((c) => c.Code === 'System.LimitControl' && c.HttpStatus === 400).length).toBe(throttled.length);

    // The limit is per operation and per account: other operations and the other account still pass.
    expect((await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: space } })).json['Code']).toBe('OK');
    const spaceB = await bind(sb, '900002', KEY_B);
    expect((await call(sb, { action: 'GetWhatsappHealthStatus', params: { CustSpaceId: spaceB, NodeType: 'waba' }, key: KEY_B })).json['Code']).toBe(
      'OK',
    );
  });

  it('the qps option overrides a documented limit', async () => {
    sb = await start({ qps: { GetWhatsappHealthStatus: 20 } });
    const space = await bind(sb, '900003');
    const { replies, elapsedMs } = await burst(sb, 50, space);
    const ok = replies.filter((r) => r.json['Code'] === 'OK').length;
    if (elapsedMs < 1000) expect(ok).toBe(20);
    else expect(ok).toBeGreaterThanOrEqual(20);
    expect(replies.filter((r) => r.json['Code'] === 'System.LimitControl').length).toBe(50 - ok);
  });

  it('the window slides: a slot frees exactly 1000 ms after the call that took it (injected clock)', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    sb = await start({ now: () => now, qps: { QueryChatappBindWaba: 2 } });
    const s = sb;
    const space = await bindAt(s, now);
    const query = () => call(s, { action: 'QueryChatappBindWaba', params: { CustSpaceId: space }, date: new Date(now) }).then((r) => r.json['Code']);

    expect(await query()).toBe('OK'); // t=0
    now += 400;
    expect(await query()).toBe('OK'); // t=400
    expect(await query()).toBe('System.LimitControl');
    now += 599; // t=999: both still inside the window
    expect(await query()).toBe('System.LimitControl');
    now += 1; // t=1000: the t=0 slot has left
    expect(await query()).toBe('OK');
    expect(await query()).toBe('System.LimitControl');
    now += 400; // t=1400: the t=400 slot has left
    expect(await query()).toBe('OK');
  });
});

async function bindAt(s: RunningSandbox, now: number): Promise<string> {
  const r = await call(s, { action: 'ChatappBindWaba', params: { WabaId: '900004' }, date: new Date(now) });
  expect(r.json['Code']).toBe('OK');
  return (r.json['Data'] as { CustSpaceId: string }).CustSpaceId;
}
