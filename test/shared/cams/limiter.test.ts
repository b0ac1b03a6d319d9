import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import { intervalForQps } from '../../../shared/cams/limiter.ts';
import { fakeClock, ok, startScriptedCams, TEST_KEY, type ScriptedCams } from './scripted-cams.ts';

describe('intervalForQps', () => {
  it('leaves head-room over the documented QPS', () => {
    expect(intervalForQps(5)).toBe(208);
    expect(intervalForQps(10)).toBe(104);
    // qps + 1 calls always span more than the 1-s window.
    for (const q of [1, 5, 10, 20, 50]) expect(intervalForQps(q) * q).toBeGreaterThan(1000);
    expect(() => intervalForQps(0)).toThrow(RangeError);
  });
});

describe('the client asks the budget before every attempt (real HTTP)', () => {
  let server: ScriptedCams | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('a call with no slot before its deadline gets our own System.LimitControl, and CAMS is not called', async () => {
    server = await startScriptedCams(() => ok({ CanSendMessage: 'AVAILABLE', Entities: [] }));
    const clock = fakeClock(0);
    const c = new CamsClient({ endpoint: server.url, credentials: TEST_KEY, now: clock.now, sleep: clock.sleep, deadlineMarginMs: 100, minAttemptMs: 200 });
    // 5 QPS → slots at 0, 208, 416, 624, 832...; with the deadline at 1000 the last start is 700.
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, () => c.getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' }, { deadline: 1000 })),
    );
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(4);
    const refusals = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as CamsError] : []));
    expect(refusals).toHaveLength(6);
    for (const r of refusals) {
      expect(r).toBeInstanceOf(CamsError);
      expect(r.Code).toBe('System.LimitControl');
      expect(r.budgetRefusal).toBe(true);
      expect(r.attempts).toBe(0);
      expect(r.retryAfterMs).toBeGreaterThan(0);
    }
    expect(server.calls).toHaveLength(4);
    expect(clock.now()).toBeLessThanOrEqual(700);
  });

  it('a slot at the very end of the time, woken up a few ms late, is our own System.LimitControl, not DeadlineExceeded', async () => {
    // The slot fell on the call's latest start and the process woke 10 ms after it (within the
    // slot's tolerance): the budget admitted the call past its latest start, the retry loop found no
    // time left for an attempt and answered DeadlineExceeded, an HTTP 504 "CAMS did not answer",
    // though CAMS was never called and the budget simply had no slot in time (429).
    server = await startScriptedCams(() => ok({ CanSendMessage: 'AVAILABLE', Entities: [] }));
    const clock = fakeClock(0);
    const late = { now: clock.now, sleep: (ms: number) => clock.sleep(ms + 10) };
    const budget = new CamsBudget({ clock: late });
    await budget.acquire({ account: `a@${new URL(server.url).host}`, action: 'GetWhatsappHealthStatus', priority: 'interactive', latestStart: Infinity });
    const c = new CamsClient({ endpoint: server.url, credentials: TEST_KEY, budget, account: 'a', now: clock.now, sleep: late.sleep, deadlineMarginMs: 100, minAttemptMs: 200 });
    // The next slot is at 208, and so is the call's latest start (deadline - margin - minimum attempt).
    const err = await c.getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' }, { deadline: intervalForQps(5) + 300 }).then(
      () => undefined,
      (e: unknown) => e as CamsError,
    );
    expect(err).toBeInstanceOf(CamsError);
    expect({ code: err!.Code, budgetRefusal: err!.budgetRefusal, attempts: err!.attempts }).toEqual({ code: 'System.LimitControl', budgetRefusal: true, attempts: 0 });
    expect(server.calls).toHaveLength(0);
  });

  it('a slot that passed while the request waited for its socket is given up in the turn that would write it, and the call goes in a new slot', async () => {
    // The last check was before the request asked the pool for a socket: a process stalled there
    // (here 50 ms while connecting, on the client's clock) wrote the call 30 ms past its slot's
    // tolerance, too close to the next calls (6 sent in 968 ms at 5 QPS, on a loaded machine).
    server = await startScriptedCams(() => ok({ CanSendMessage: 'AVAILABLE', Entities: [] }));
    const clock = fakeClock(0);
    let stall = 0;
    const stallOnConnect = () => {
      stall = 50;
      unsubscribe('net.client.socket', stallOnConnect);
    };
    subscribe('net.client.socket', stallOnConnect);
    const now = () => clock.now() + stall;
    const budget = new CamsBudget({ clock: { now, sleep: clock.sleep } });
    // Each admission's last moment to send.
    const sendBy: number[] = [];
    const spy = Object.assign(Object.create(budget) as CamsBudget, {
      acquire: async (r: Parameters<CamsBudget['acquire']>[0]) => {
        const a = await budget.acquire(r);
        if (a.ok) sendBy.push(a.sendBy);
        return a;
      },
    });
    const c = new CamsClient({ endpoint: server.url, credentials: TEST_KEY, budget: spy, account: 'a', now, sleep: clock.sleep });
    try {
      await c.getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' });
    } finally {
      unsubscribe('net.client.socket', stallOnConnect);
    }
    // The slot at 0 (send by 20) found at 50 when the socket was there: not sent; the next, at 208, sent.
    expect(sendBy).toEqual([20, intervalForQps(5) + 20]);
    expect(server.calls).toHaveLength(1);
  });

  it("a slot given up in the turn that would write the call, with no time left for another, is our own System.LimitControl, not DeadlineExceeded", async () => {
    // As a slot woken late at the very end of the time: CAMS was never called, and the budget had no
    // slot the call could still use (429), not a deadline CAMS let pass (504 DeadlineExceeded).
    server = await startScriptedCams(() => ok({ CanSendMessage: 'AVAILABLE', Entities: [] }));
    const clock = fakeClock(0);
    let stall = 0;
    const stallOnConnect = () => {
      stall = 50;
      unsubscribe('net.client.socket', stallOnConnect);
    };
    subscribe('net.client.socket', stallOnConnect);
    const now = () => clock.now() + stall;
    const budget = new CamsBudget({ clock: { now, sleep: clock.sleep } });
    const c = new CamsClient({ endpoint: server.url, credentials: TEST_KEY, budget, account: 'a', now, sleep: clock.sleep, deadlineMarginMs: 100, minAttemptMs: 200 });
    let err: CamsError | undefined;
    try {
      // The slot at 0 (send by 20) is found at 50 when the socket is there; the call's latest start is 30.
      err = await c.getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' }, { deadline: 330 }).then(
        () => undefined,
        (e: unknown) => e as CamsError,
      );
    } finally {
      unsubscribe('net.client.socket', stallOnConnect);
    }
    expect(err).toBeInstanceOf(CamsError);
    expect({ code: err!.Code, budgetRefusal: err!.budgetRefusal, attempts: err!.attempts }).toEqual({ code: 'System.LimitControl', budgetRefusal: true, attempts: 0 });
    expect(server.calls).toHaveLength(0);
  });

  it('clients of one account share one budget; another account has its own', async () => {
    server = await startScriptedCams(() => ok({ CanSendMessage: 'AVAILABLE', Entities: [] }));
    const clock = fakeClock(0);
    const budget = new CamsBudget({ clock });
    // When each call was let through (the HTTP round trip afterwards is not on the fake clock).
    const starts: Record<string, number[]> = {};
    const spy = Object.assign(Object.create(budget) as CamsBudget, {
      acquire: async (r: Parameters<CamsBudget['acquire']>[0]) => {
        const a = await budget.acquire(r);
        (starts[r.account.split('@')[0]!] ??= []).push(clock.now());
        return a;
      },
    });
    const make = (account: string) => new CamsClient({ endpoint: server!.url, credentials: TEST_KEY, budget: spy, account, now: clock.now, sleep: clock.sleep });
    const [a, b, other] = [make('acct-1'), make('acct-1'), make('acct-2')];
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' })),
      other.getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' }),
    ]);
    expect(starts['acct-1']!.sort((x, y) => x - y)).toEqual([0, 208, 416, 624, 832, 1040]);
    expect(starts['acct-2']).toEqual([0]);
    expect(server.calls).toHaveLength(7);
  });

  it('the env CAMS_ACCOUNT_ID keys the budget instead of the AccessKey id', async () => {
    server = await startScriptedCams(() => ok({ CanSendMessage: 'AVAILABLE', Entities: [] }));
    const clock = fakeClock(0);
    const budget = new CamsBudget({ clock });
    const seen: string[] = [];
    const spy = Object.assign(Object.create(budget) as CamsBudget, {
      acquire: (req: Parameters<CamsBudget['acquire']>[0]) => (seen.push(req.account), budget.acquire(req)),
    });
    const c = new CamsClient({ endpoint: server.url, credentials: TEST_KEY, budget: spy, env: { CAMS_ACCOUNT_ID: '1234567890' }, now: clock.now, sleep: clock.sleep });
    await c.getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' });
    const d = new CamsClient({ endpoint: server.url, credentials: TEST_KEY, budget: spy, env: {}, now: clock.now, sleep: clock.sleep });
    await d.getHealthStatus({ CustSpaceId: 'CS', NodeType: 'waba' });
    const host = new URL(server.url).host;
    expect(seen).toEqual([`1234567890@${host}`, `${TEST_KEY.accessKeyId}@${host}`]);
  });
});
