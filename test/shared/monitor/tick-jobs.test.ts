/**
 * What a tick checks next, and the round record's progress it writes (shared/monitor/tick-jobs.ts),
 * on the memory store and a fake clock. The sweep's own tests run it end to end; these pin the
 * order and the bookkeeping one job at a time.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { CamsError } from '../../../shared/cams/errors.ts';
import { RECHECK_BACKOFF_MS } from '../../../shared/monitor/recheck.ts';
import { RISK_BURST, RISK_SHARE, RISKY_PREFIX } from '../../../shared/monitor/risk.ts';
import { RESERVE_CHUNK, retryPrefix, ROUND_KEY, startRound, type SweepRound } from '../../../shared/monitor/round-plan.ts';
import { targetId, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { TickJobs, type CheckOutcome, type Job } from '../../../shared/monitor/tick-jobs.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';

const node = (i: number): WatchTarget => ({ CustSpaceId: 'cs-jobs', NodeType: 'template', TemplateCode: `tpl_${String(i).padStart(3, '0')}`, Language: 'en' });
const TARGETS = Array.from({ length: 250 }, (_, i) => node(i));
const IDS = TARGETS.map(targetId).sort();
const checked: CheckOutcome = { kind: 'checked' };
const throttled: CheckOutcome = { kind: 'transient', cause: 'throttled', error: new CamsError({ Code: 'Throttling.User', Message: 'slow down', httpStatus: 400, retryable: true, action: 'GetWhatsappHealthStatus' }) };
const contended: CheckOutcome = { kind: 'transient', cause: 'contention', error: new Error('conflict') };

let store: Store;
let t: number;
let logs: Array<Record<string, unknown>>;

beforeEach(async () => {
  store = await openStore('memory:');
  t = 1_000_000;
  logs = [];
});

const storedRound = async () => (await store.get<SweepRound>(ROUND_KEY))!.value;

async function open(round?: SweepRound): Promise<TickJobs> {
  const r = round ?? (await startRound(store, TARGETS, undefined, { id: 'r1', now: t }));
  return TickJobs.open({ store, round: r, plan: r.plan!, invalid: 0, now: () => t, clock: () => t, log: (rec) => logs.push(rec) });
}

async function takeAll(jobs: TickJobs, n: number): Promise<Job[]> {
  const out: Job[] = [];
  for (let i = 0; i < n; i++) out.push((await jobs.take())!);
  return out;
}

describe('plan positions', () => {
  it('hands them out in the plan order, reserving RESERVE_CHUNK ahead in the round record', async () => {
    const jobs = await open();
    expect((await storedRound()).reserved).toBe(RESERVE_CHUNK);
    const first = await takeAll(jobs, RESERVE_CHUNK);
    expect(first.map((j) => j.id)).toEqual(IDS.slice(0, RESERVE_CHUNK));
    expect(first.every((j, i) => j.kind === 'plan' && j.pos === i)).toBe(true);
    // Nothing written while the reservation lasts.
    expect((await storedRound()).reserved).toBe(RESERVE_CHUNK);
    await jobs.take();
    const r = await storedRound();
    expect(r.reserved).toBe(2 * RESERVE_CHUNK);
    // Every position handed out is still in flight: the cursor stays at the first of them.
    expect(r.next).toBe(0);
  });

  it('moves the cursor to the lowest position not yet dealt with, and counts the round checks', async () => {
    const jobs = await open();
    const [a, b, c] = await takeAll(jobs, 3);
    await jobs.settle(b!, checked, t + 60_000);
    await jobs.settle(c!, { kind: 'rejected' }, t + 60_000);
    await jobs.persist();
    // Checks above the cursor count once it passes them: a tick that dies now leaves them to the next
    // one, which finds them marked and counts them (before, both did: sweep-order.test.ts).
    expect(await storedRound()).toMatchObject({ next: 0, checked: 0 });
    await jobs.settle(a!, undefined, t + 60_000);
    await jobs.persist();
    expect(await storedRound()).toMatchObject({ next: 3, checked: 2 });
    expect(jobs.checked).toBe(2);
  });

  it('leaves the position of an auth failure to the next tick', async () => {
    const jobs = await open();
    const [a, b] = await takeAll(jobs, 2);
    await jobs.settle(a!, { kind: 'auth', error: new CamsError({ Code: 'Ram.PermissionDeny', Message: 'no', httpStatus: 403, retryable: false, action: 'GetWhatsappHealthStatus' }) }, t + 60_000);
    await jobs.settle(b!, checked, t + 60_000);
    await jobs.persist();
    expect((await storedRound()).next).toBe(0);
    expect(jobs.pending).toBe(TARGETS.length);
  });

  it('is exhausted once every position is dealt with, and not before', async () => {
    const jobs = await open();
    const all = await takeAll(jobs, TARGETS.length);
    expect(await jobs.take()).toBeUndefined();
    expect(jobs.planLeft).toBe(false);
    for (const j of all.slice(1)) await jobs.settle(j, checked, t + 60_000);
    expect(jobs.exhausted).toBe(false);
    expect(jobs.pending).toBe(TARGETS.length);
    await jobs.settle(all[0]!, checked, t + 60_000);
    expect(jobs.exhausted).toBe(true);
    expect(jobs.pending).toBe(0);
  });

  it('hands out nothing more once another tick has replaced the round', async () => {
    const jobs = await open();
    await takeAll(jobs, RESERVE_CHUNK);
    await store.put(ROUND_KEY, { ...(await storedRound()), id: 'r2' });
    // The next position needs a reservation: its write finds another round.
    expect(await jobs.take()).toBeUndefined();
    expect(jobs.lost).toBe(true);
    expect((await storedRound()).id).toBe('r2');
    expect(jobs.exhausted).toBe(false);
  });
});

describe('retries and re-checks', () => {
  it('a transient round check gets a retry key, and a re-check in this tick only when CAMS was at fault', async () => {
    const jobs = await open();
    const [a, b] = await takeAll(jobs, 2);
    await jobs.settle(a!, throttled, t + 60_000);
    await jobs.settle(b!, contended, t + 60_000);
    expect((await store.list(retryPrefix('r1'))).map((e) => e.key.slice(retryPrefix('r1').length)).sort()).toEqual([a!.id, b!.id].sort());
    expect(jobs.recheckWait()).toBe(RECHECK_BACKOFF_MS);
    expect(logs.filter((l) => l['target'] === a!.id)).toHaveLength(1);
    expect(logs.filter((l) => l['target'] === b!.id)).toHaveLength(0);
    // A retry key keeps the round from completing.
    expect(jobs.pending).toBe(TARGETS.length - 2 + 2);
  });

  it('no re-check that could not start before the latest start', async () => {
    const jobs = await open();
    const [a] = await takeAll(jobs, 1);
    await jobs.settle(a!, throttled, t + RECHECK_BACKOFF_MS - 1);
    expect(jobs.recheckWait()).toBeUndefined();
    expect(await store.get(retryPrefix('r1') + a!.id)).toBeDefined();
  });

  it('a due re-check goes before the next position, but never two in a row', async () => {
    const jobs = await open();
    const first = await takeAll(jobs, 3);
    for (const j of first) await jobs.settle(j, throttled, t + 60_000);
    t += RECHECK_BACKOFF_MS;
    const next = await takeAll(jobs, 5);
    expect(next.map((j) => j.kind)).toEqual(['retry', 'plan', 'retry', 'plan', 'retry']);
    expect(next.filter((j) => j.kind === 'retry').map((j) => [j.id, j.n])).toEqual(first.map((j) => [j.id, 1]));
  });

  it('the next tick takes the retries before its positions; a retry checked, or with nothing to check, loses its key', async () => {
    const jobs = await open();
    const [a, b, c] = await takeAll(jobs, 3);
    await jobs.settle(a!, throttled, t);
    await jobs.settle(b!, contended, t);
    await jobs.settle(c!, checked, t);
    await jobs.persist();
    expect((await storedRound()).retries).toBe(2);

    const next = await open(await storedRound());
    const [r1, r2, plan] = await takeAll(next, 3);
    expect([r1, r2].sort((x, y) => (x!.id < y!.id ? -1 : 1))).toEqual([{ kind: 'retry', id: a!.id }, { kind: 'retry', id: b!.id }]);
    expect(plan).toMatchObject({ kind: 'plan', pos: 3 });
    await next.settle(r1!, checked, t);
    // Its target is no longer watched: nothing was checked.
    await next.settle(r2!, undefined, t);
    expect(await store.list(retryPrefix('r1'))).toEqual([]);
    expect(next.pending).toBe(TARGETS.length - 3);
    await next.persist();
    expect((await storedRound()).retries).toBe(0);
  });
});

describe('risk checks', () => {
  it('go first while tokens last; the round checks earn RISK_SHARE each', async () => {
    expect(RISK_BURST).toBe(1);
    for (const i of [5, 6]) await store.put(RISKY_PREFIX + IDS[i]!, 1);
    const jobs = await open();
    await jobs.riskListed;
    const [r1, p1] = await takeAll(jobs, 2);
    expect(r1).toMatchObject({ kind: 'risk', id: IDS[5] });
    expect(p1).toMatchObject({ kind: 'plan', pos: 0 });
    // One token back for every 1 / RISK_SHARE round checks.
    const perToken = 1 / RISK_SHARE;
    const plan = [p1!, ...(await takeAll(jobs, perToken - 1))];
    for (const j of plan.slice(0, -1)) await jobs.settle(j, checked, t + 60_000);
    expect(await jobs.take()).toMatchObject({ kind: 'plan' });
    await jobs.settle(plan.at(-1)!, checked, t + 60_000);
    expect(await jobs.take()).toMatchObject({ kind: 'risk', id: IDS[6] });
    await jobs.persist();
    expect((await storedRound()).riskTokens).toBe(0);
  });

  it('a risk check not spent gives its token back', async () => {
    for (const i of [5, 6]) await store.put(RISKY_PREFIX + IDS[i]!, 1);
    const jobs = await open();
    await jobs.riskListed;
    expect(await jobs.take()).toMatchObject({ kind: 'risk' });
    jobs.refundRisk();
    expect(await jobs.take()).toMatchObject({ kind: 'risk' });
  });

  it('are still handed out after the plan runs out, once the risky index is in', async () => {
    const small = TARGETS.slice(0, 2);
    const round = await startRound(store, small, undefined, { id: 'r1', now: t });
    await store.put(RISKY_PREFIX + targetId(small[1]!), 1);
    // The risky index comes in only after the plan is handed out (a slow scan).
    let indexIn!: () => void;
    const gate = new Promise<void>((resolve) => (indexIn = resolve));
    const slowIndex: Store = Object.create(store, {
      list: { value: async (prefix: string, o?: unknown) => (prefix === RISKY_PREFIX && (await gate), store.list(prefix, o as never)) },
    });
    const jobs = await TickJobs.open({ store: slowIndex, round, plan: round.plan!, invalid: 0, now: () => t, clock: () => t, log: () => {} });
    expect((await takeAll(jobs, 2)).map((j) => j.kind)).toEqual(['plan', 'plan']);
    const third = jobs.take();
    indexIn();
    expect(await third).toMatchObject({ kind: 'risk', id: targetId(small[1]!) });
    expect(await jobs.take()).toBeUndefined();
  });
});
