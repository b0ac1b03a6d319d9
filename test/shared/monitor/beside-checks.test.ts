import { describe, expect, it } from 'vitest';
import { BesideChecks } from '../../../shared/monitor/beside-checks.ts';

describe('BesideChecks', () => {
  it('starts nothing before kickoff; at kickoff runs onKickoff first, then each added job once', async () => {
    const order: string[] = [];
    const beside = new BesideChecks('r1', () => {}, () => order.push('kickoff'));
    beside.add('a', async () => void order.push('a'));
    beside.add('b', async () => void order.push('b'));
    await Promise.resolve();
    expect(order).toEqual([]);
    beside.kickoff();
    beside.kickoff();
    await beside.settled();
    expect(order).toEqual(['kickoff', 'a', 'b']);
    // added after kickoff: started at once
    beside.add('c', async () => void order.push('c'));
    await beside.settled();
    expect(order).toEqual(['kickoff', 'a', 'b', 'c']);
  });

  it('a failure is logged with what it was and the round, and settles; the others still run', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const beside = new BesideChecks('r7', (r) => logs.push(r), () => {});
    let ran = false;
    beside.add('listing the watch list', () => Promise.reject(new Error('store gone')));
    beside.add('repairing the indexes', async () => void (ran = true));
    beside.kickoff();
    await expect(beside.settled()).resolves.toBeDefined();
    expect(ran).toBe(true);
    expect(logs).toEqual([{ level: 'warn', msg: 'listing the watch list failed; the next tick does it', round: 'r7', error: 'store gone' }]);
  });

  it('settled waits for tracked work and for jobs still running', async () => {
    let release!: () => void;
    const tracked = new Promise<void>((r) => (release = r));
    const beside = new BesideChecks('r1', () => {}, () => {});
    beside.track(tracked);
    let done = false;
    beside.add('slow', () => new Promise<void>((r) => setImmediate(() => ((done = true), r()))));
    beside.kickoff();
    let settled = false;
    const waiting = beside.settled().then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(true);
    expect(settled).toBe(false);
    release();
    await waiting;
    expect(settled).toBe(true);
  });
});
