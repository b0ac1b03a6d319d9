/**
 * The sweep as the backstop within one round (issue #12): on a fake clock (each CAMS call takes one
 * second of it), a round keeps its order from round to round, so a node's gap between two checks
 * stays within one round however nodes become risky and recover; risky nodes are looked at first,
 * as extra checks that never take more than their share of a round.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seeded } from '../../../local/sandbox/receipts.ts';
import type { AlertSink } from '../../../shared/alerts/model.ts';
import type { CamsClient } from '../../../shared/cams/client.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import type { CanSendMessage } from '../../../shared/cams/operations.ts';
import { noteTarget } from '../../../shared/monitor/target-info.ts';
import { INVALID_PREFIX } from '../../../shared/monitor/entity-store.ts';
import { RISK_BURST, RISK_SHARE, RISKY_PREFIX } from '../../../shared/monitor/risk.ts';
import { RESERVE_CHUNK } from '../../../shared/monitor/round-plan.ts';
import { HealthSweep, ROUND_KEY, type SweepRound } from '../../../shared/monitor/sweep.ts';
import { registerWatchTarget, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { storeWith } from '../../support/store.ts';

const CALL_MS = 1000;
const SPACE = 'cs-order';
let store: Store;
let t: number;
let health: Map<string, CanSendMessage>;
let calls: Array<{ at: number; code: string }>;
/** Told of every CAMS call (a test can let a slow store answer once the first check is under way). */
let onCall: (() => void) | undefined;

/** CAMS on the fake clock: each call takes CALL_MS and answers the node's current health. */
const cams = {
  async getHealthStatus(target: WatchTarget) {
    t += CALL_MS;
    onCall?.();
    const code = target.TemplateCode!;
    calls.push({ at: t, code });
    const s = health.get(code) ?? 'AVAILABLE';
    return { data: { CanSendMessage: s, Entities: [{ EntityType: 'MESSAGE_TEMPLATE', WabaId: '1090', TemplateCode: code, Language: 'en', CanSendMessage: s }] } };
  },
} as unknown as CamsClient;

const node = (i: number): WatchTarget => ({ CustSpaceId: SPACE, NodeType: 'template', TemplateCode: `tpl_${String(i).padStart(2, '0')}`, Language: 'en' });

/** One invocation that starts checks for `checks` seconds of the fake clock, one at a time. */
const tick = (checks: number) =>
  new HealthSweep({
    store,
    cams,
    sinks: [],
    policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 },
    envTargets: [],
    concurrency: 1,
    deadline: t + (checks - 1) * CALL_MS,
    checkBudgetMs: 0,
    now: () => t,
  }).run();

beforeEach(async () => {
  store = await openStore('memory:');
  t = 1_000_000;
  health = new Map();
  calls = [];
  onCall = undefined;
});
afterEach(async () => store.close());

async function watch(n: number): Promise<WatchTarget[]> {
  const nodes = Array.from({ length: n }, (_, i) => node(i));
  for (const x of nodes) await registerWatchTarget(store, x, 'test');
  return nodes;
}

/** Ticks until `rounds` rounds completed; returns each completed round's length (ms). */
async function runRounds(rounds: number, checksPerTick: number, between: () => Promise<void> = async () => {}): Promise<number[]> {
  const lengths = new Map<string, number>();
  for (let i = 0; lengths.size < rounds && i < 1000; i++) {
    await between();
    await tick(checksPerTick);
    const r = (await store.get<SweepRound>(ROUND_KEY))!.value;
    if (r.completedAt !== undefined) lengths.set(r.id, r.completedAt - r.startedAt);
  }
  return [...lengths.values()];
}

/** The store, with `list(prefix)` (default the risky index) answered by `listRisky` instead. */
function slowRiskyIndex(inner: Store, listRisky: (inner: Store) => Promise<Awaited<ReturnType<Store['list']>>>, prefix = RISKY_PREFIX): Store {
  return storeWith(inner, {
    list: <T,>(p: string, o?: Parameters<Store['list']>[1]) => (p === prefix ? (listRisky(inner) as ReturnType<Store['list']>) : inner.list<T>(p, o)),
  } as Partial<Store>);
}

/**
 * Resolves once the next CAMS call is under way, or after a few turns of the event loop if none
 * comes: a slow index read that a sweep waiting for it before its first check would still get.
 */
function firstCallOrFiveTurns(): Promise<void> {
  return new Promise<void>((answer) => {
    onCall = answer;
    let turns = 0;
    const turn = () => (++turns < 5 ? setImmediate(turn) : answer());
    setImmediate(turn);
  });
}

function worstGap(code: string): number {
  const at = calls.filter((c) => c.code === code).map((c) => c.at);
  let worst = 0;
  for (let i = 1; i < at.length; i++) worst = Math.max(worst, at[i]! - at[i - 1]!);
  return worst;
}

describe('the sweep as the backstop within one round', () => {
  // A round is N checks of its own plus the risk checks earned on the way: at most
  // RISK_BURST + RISK_SHARE × N. Between two checks of a node lie N − 1 checks of the rounds and the
  // risk checks earned by those: never more than the longest a round can be.
  const N = 40;
  const longestRound = (N + RISK_BURST + Math.floor(RISK_SHARE * N)) * CALL_MS;

  for (const seed of [1412, 3, 5]) {
    it(`a node's gap between two checks never exceeds one round while nodes become risky and recover (seed ${seed})`, async () => {
      const nodes = await watch(N);
      const random = seeded(seed);
      // Between ticks: a node turns BLOCKED or LIMITED, one recovers, a receipt arrives whose check failed.
      const between = async () => {
        const r = random();
        const x = nodes[Math.floor(random() * nodes.length)]!.TemplateCode!;
        if (r < 0.3) health.set(x, random() < 0.5 ? 'BLOCKED' : 'LIMITED');
        else if (r < 0.6) health.delete([...health.keys()][0] ?? x);
        else if (r < 0.8) await noteTarget(store, node(Number(x.slice(4))), { lastReceiptAt: t });
      };
      const rounds = await runRounds(14, 7, between);
      // Risky nodes were checked on top of the rounds (so the test is about something).
      expect(calls.length).toBeGreaterThan(14 * N + 20);
      expect(Math.max(...rounds)).toBeLessThanOrEqual(longestRound);
      for (const n of nodes) {
        expect(worstGap(n.TemplateCode!), n.TemplateCode).toBeLessThanOrEqual(longestRound);
        expect(calls.filter((c) => c.code === n.TemplateCode).length).toBeGreaterThanOrEqual(13);
      }
    });
  }

  it('risky nodes are checked first in a tick, then the round goes on in the same order as the last one', async () => {
    const nodes = await watch(12);
    await runRounds(1, 5);
    const order = nodes.map((n) => n.TemplateCode!);
    expect(calls.map((c) => c.code)).toEqual(order);
    // Two nodes turn BLOCKED; the next round (one tick) finds them in their places; they become risky.
    health.set('tpl_07', 'BLOCKED');
    health.set('tpl_03', 'BLOCKED');
    calls = [];
    await runRounds(1, 100);
    expect(calls.map((c) => c.code)).toEqual(order);
    // A quarter of a round later they are due: the next tick looks at one first (the burst), the
    // other as soon as the round's checks have earned it, and the round goes on in its order.
    calls = [];
    await tick(8);
    expect(calls.map((c) => c.code)).toEqual(['tpl_03', 'tpl_00', 'tpl_01', 'tpl_02', 'tpl_03', 'tpl_07', 'tpl_04', 'tpl_05']);
    // The rest of the round, unmoved (tpl_07 in its own place too); tpl_03, due again, comes in once
    // the round's checks have earned it.
    calls = [];
    await runRounds(1, 100);
    const rest = calls.map((c) => c.code);
    expect(rest.filter((c) => c !== 'tpl_03')).toEqual(order.slice(6));
    expect(rest.filter((c) => c === 'tpl_03')).toEqual(['tpl_03']);
    expect(rest.indexOf('tpl_03')).toBeGreaterThan(0);
  });

  it("a tick's first check does not wait for the risky index (a store listing, however slow); its nodes come as soon as it is in", async () => {
    const nodes = await watch(6);
    await runRounds(1, 100);
    await noteTarget(store, nodes[3]!, { lastReceiptAt: t });
    store = slowRiskyIndex(store, async (inner) => {
      await firstCallOrFiveTurns();
      return inner.list(RISKY_PREFIX);
    });
    calls = [];
    await runRounds(1, 100);
    // The round's first node went while the index was on its way; the risky one right after it.
    expect(calls.map((c) => c.code)).toEqual(['tpl_00', 'tpl_03', 'tpl_01', 'tpl_02', 'tpl_03', 'tpl_04', 'tpl_05']);
  });

  it("a round's first tick does not wait for the invalid-target index either (listed beside its checks)", async () => {
    await watch(3);
    await runRounds(1, 100);
    // When the index was first asked for (the round's repair of the indexes lists it again later).
    let listedAfter = -1;
    store = slowRiskyIndex(
      store,
      async (inner) => {
        if (listedAfter < 0) listedAfter = calls.length;
        await firstCallOrFiveTurns();
        return inner.list(INVALID_PREFIX);
      },
      INVALID_PREFIX,
    );
    calls = [];
    await runRounds(1, 100);
    expect(calls.map((c) => c.code)).toEqual(['tpl_00', 'tpl_01', 'tpl_02']);
    // Asked for once the first check was under way, not before it.
    expect(listedAfter).toBe(1);
  });

  it('workers start one after another, a turn of the event loop apart, not MONITOR_QPS of them at once', async () => {
    await watch(30);
    // CAMS answering after a turn of the event loop, as a network call does.
    let inFlight = 0;
    let mostInFlight = 0;
    let startedBeforeFirstAnswer = 0;
    let answered = 0;
    const turnCams = {
      async getHealthStatus(target: WatchTarget) {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        if (answered === 0) startedBeforeFirstAnswer++;
        const reply = await cams.getHealthStatus(target);
        await new Promise((r) => setImmediate(r));
        inFlight--;
        answered++;
        return reply;
      },
    } as unknown as CamsClient;
    const report = await new HealthSweep({ store, cams: turnCams, sinks: [], policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, envTargets: [], concurrency: 10, deadline: t + 100 * CALL_MS, checkBudgetMs: 0, now: () => t }).run();
    // All ten did not start in the first turn (reading their jobs together stalled the loop while
    // the budget reserved the first slots); they were still all put to work.
    expect(startedBeforeFirstAnswer).toBeLessThanOrEqual(2);
    expect(mostInFlight).toBeGreaterThan(1);
    expect(report.checked).toBe(30);
    expect(calls.map((c) => c.code)).toEqual(Array.from({ length: 30 }, (_, i) => node(i).TemplateCode));
  });

  it("what earlier sweeps owe is delivered a flush delay after the tick's first check, not amid its first slots", async () => {
    await watch(3);
    health.set('tpl_01', 'BLOCKED');
    const sweepWith = (sink: AlertSink, c: CamsClient = cams) =>
      new HealthSweep({ store, cams: c, sinks: [sink], policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, envTargets: [], concurrency: 1, deadline: t + 100 * CALL_MS, checkBudgetMs: 0, now: () => t, flushDelayMs: 60_000 }).run();
    // Tick 1's delivery fails: the alert stays owed.
    const down = await sweepWith({ name: 'chat', perMinute: 100, send: () => Promise.reject(new Error('channel down')) });
    expect(down.dispatch?.failed).toHaveLength(1);
    // Tick 2, CAMS answering after a turn of the event loop: the owed alert goes once, after the checks
    // (here the flush delay outlasts them, so at the end), not as the first check starts.
    const sentAfter: number[] = [];
    const turnCams = { getHealthStatus: (x: WatchTarget) => cams.getHealthStatus(x).then(async (r) => (await new Promise((d) => setImmediate(d)), r)) } as unknown as CamsClient;
    calls = [];
    await sweepWith({ name: 'chat', perMinute: 100, send: async () => void sentAfter.push(calls.length) }, turnCams);
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(sentAfter).toEqual([calls.length]);
  });

  it('a risky index that cannot be read costs its extra checks this tick, not the round: logged, and read again next tick', async () => {
    await watch(4);
    health.set('tpl_02', 'BLOCKED');
    await runRounds(1, 100);
    const healthy = store;
    store = slowRiskyIndex(healthy, () => Promise.reject(new Error('redis went away')));
    const logs: Array<Record<string, unknown>> = [];
    calls = [];
    const report = await new HealthSweep({ store, cams, sinks: [], policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, envTargets: [], concurrency: 1, deadline: t + 100 * CALL_MS, checkBudgetMs: 0, now: () => t, log: (r) => logs.push(r) }).run();
    expect(report.roundComplete).toBe(true);
    expect(calls.map((c) => c.code)).toEqual(['tpl_00', 'tpl_01', 'tpl_02', 'tpl_03']);
    expect(logs.filter((l) => l['level'] === 'warn').map((l) => l['msg'])).toEqual(['reading the risky index failed; the next tick reads it']);
    // Next tick the index is read again: the BLOCKED node, due, gets its extra check first.
    store = healthy;
    calls = [];
    await tick(1);
    expect(calls.map((c) => c.code)).toEqual(['tpl_02']);
  });

  it('1,000 BLOCKED nodes cannot starve the round: risk checks stay within their share of it', async () => {
    const nodes = await watch(40);
    for (const n of nodes) health.set(n.TemplateCode!, 'BLOCKED');
    await runRounds(1, 7);
    for (let round = 0; round < 3; round++) {
      calls = [];
      await runRounds(1, 7);
      // Every node once for the round, and at most RISK_SHARE of the round's size on top.
      expect(new Set(calls.map((c) => c.code)).size).toBe(40);
      expect(calls.length).toBeGreaterThan(40);
      expect(calls.length).toBeLessThanOrEqual(40 + RISK_BURST + Math.floor(RISK_SHARE * 40));
    }
  });

  it('targets added join the round that lists the watch list at its tail, and keep that place; a removed one is skipped at once', async () => {
    const nodes = await watch(10);
    const codes = nodes.map((n) => n.TemplateCode!);
    await runRounds(1, 100);
    // Added between rounds: the next round lists the watch list beside its first checks and checks it too, last.
    await registerWatchTarget(store, node(10), 'test');
    calls = [];
    await tick(4);
    // Added and removed after that listing: the removed one is not checked again, the added one waits for the next round.
    await registerWatchTarget(store, node(11), 'test');
    await store.delete(`watch/template:${SPACE}:tpl_04/en`);
    await runRounds(1, 100);
    expect(calls.map((c) => c.code)).toEqual([...codes.filter((c) => c !== 'tpl_04'), 'tpl_10']);
    calls = [];
    await runRounds(1, 100);
    expect(calls.map((c) => c.code)).toEqual([...codes.filter((c) => c !== 'tpl_04'), 'tpl_10', 'tpl_11']);
    calls = [];
    await runRounds(1, 100);
    expect(calls.map((c) => c.code)).toEqual([...codes.filter((c) => c !== 'tpl_04'), 'tpl_10', 'tpl_11']);
  });

  it('a target added while every node of the last plan is gone is checked in the tick that lists it, not one tick later', async () => {
    await watch(3);
    await runRounds(1, 100);
    for (let i = 0; i < 3; i++) await store.delete(`watch/template:${SPACE}:tpl_0${i}/en`);
    await registerWatchTarget(store, node(20), 'test');
    calls = [];
    // The followed plan holds nothing to check, so no CAMS call starts the round's listing before
    // the workers run out of plan: the sweep still checks what the listing appends, in this tick.
    const report = await tick(100);
    expect(calls.map((c) => c.code)).toEqual(['tpl_20']);
    expect(report.checked).toBe(1);
    expect(report.roundComplete).toBe(true);
  });

  it('the first round starts from one page of the watch list and checks the rest as the listing appends it', async () => {
    await watch(2300);
    const ids = (await store.list('watch/')).map((e) => e.key.slice('watch/'.length));
    const first = await tick(100);
    expect(first.targets).toBe(2300);
    await runRounds(1, 1000);
    const codes = calls.map((c) => c.code);
    expect(codes).toHaveLength(2300);
    expect(new Set(codes).size).toBe(2300);
    // In the watch list's (key) order: the first page, then the pages the listing appended.
    expect(codes.map((c) => `template:${SPACE}:${c}/en`)).toEqual(ids);
  });

  it("checks a killed tick made count in the round's progress once: the tick after it finds them marked and counts them", async () => {
    await watch(10);
    await runRounds(1, 100);
    // A tick dies after its 6 checks, before it writes its progress (the round record it started is all it wrote there).
    const healthy = store;
    let dead = false;
    const never = new Promise<never>(() => {});
    onCall = () => void (dead = true);
    store = storeWith(healthy, { put: (k, v, o) => (dead && k === ROUND_KEY ? never : healthy.put(k, v, o)) });
    void tick(6);
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    onCall = undefined;
    // The next invocation, once the dead one's lease has run out.
    store = storeWith(healthy, { acquireLease: async (name) => ({ name, owner: 'next', expiresAt: Infinity, renew: async () => true, release: async () => true }) });
    calls = [];
    await tick(3);
    // The 6 it checked are not checked again; the next 3 are.
    expect(calls.map((c) => c.code)).toEqual(['tpl_06', 'tpl_07', 'tpl_08']);
    // Before, 3: the killed tick's checks were in no count (GET /health-report's Round.Checked lagged until the round ended).
    expect((await store.get<SweepRound>(ROUND_KEY))!.value).toMatchObject({ next: 9, checked: 9 });
  });

  it('a check above the cursor counts once the cursor passes it: a tick that dies after writing its progress is not counted twice by the next', async () => {
    await watch(150);
    await runRounds(1, 1000);
    // CAMS never answers tpl_00: the cursor stays at it while the other workers go on to position 100,
    // whose reservation writes the progress; then the tick dies.
    const slow = { getHealthStatus: (x: WatchTarget) => (x.TemplateCode === 'tpl_00' ? new Promise<never>(() => {}) : cams.getHealthStatus(x)) } as unknown as CamsClient;
    const healthy = store;
    let dead = false;
    const never = new Promise<never>(() => {});
    const dying = storeWith(healthy, {
      put: (k, v, o) => {
        if (dead) return never;
        if (k === ROUND_KEY && ((v as SweepRound).reserved ?? 0) > RESERVE_CHUNK) dead = true;
        return healthy.put(k, v, o);
      },
    });
    void new HealthSweep({ store: dying, cams: slow, sinks: [], policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, envTargets: [], concurrency: 3, deadline: t + 1000 * CALL_MS, checkBudgetMs: 0, now: () => t }).run();
    for (let i = 0; i < 2000 && !dead; i++) await new Promise((r) => setImmediate(r));
    expect(dead).toBe(true);
    const written = (await healthy.get<SweepRound>(ROUND_KEY))!.value;
    expect(written.next).toBe(0);
    // The next invocation, once the dead one's lease has run out: position 0, then on past those checked.
    store = storeWith(healthy, { acquireLease: async (name) => ({ name, owner: 'next', expiresAt: Infinity, renew: async () => true, release: async () => true }) });
    await tick(10);
    const r = (await store.get<SweepRound>(ROUND_KEY))!.value;
    expect(r.completedAt).toBeUndefined();
    expect(r.next).toBeGreaterThan(100);
    // Nothing removed: every position below the cursor was checked once.
    expect(r.checked).toBe(r.next);
  });

  it('a target a killed tick left for a retry is counted once: its retry, not its plan position too', async () => {
    await watch(40);
    await runRounds(1, 100);
    // A tick of the next round leaves tpl_01 for a retry (CAMS throttles it; no time for its re-check):
    // the round record says a retry is left.
    const throttle = new Set(['tpl_01']);
    const throttling = {
      getHealthStatus: (x: WatchTarget) => {
        if (!throttle.has(x.TemplateCode!)) return cams.getHealthStatus(x);
        t += CALL_MS;
        return Promise.reject(new CamsError({ Code: 'Throttling.User', Message: 'slow down', httpStatus: 400, retryable: true, action: 'GetWhatsappHealthStatus' }));
      },
    } as unknown as CamsClient;
    const run = (s: Store, checks: number) =>
      new HealthSweep({ store: s, cams: throttling, sinks: [], policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 }, envTargets: [], concurrency: 1, deadline: t + (checks - 1) * CALL_MS, checkBudgetMs: 0, now: () => t }).run();
    await run(store, 3);
    expect((await store.get<SweepRound>(ROUND_KEY))!.value).toMatchObject({ next: 3, checked: 2, retries: 1 });
    // The next tick: tpl_01's retry (throttled again: given up for the round), positions 3 and 4, and
    // tpl_05, throttled (a retry key); then it dies before it writes its progress.
    throttle.add('tpl_05');
    const healthy = store;
    const never = new Promise<never>(() => {});
    void run(storeWith(healthy, { put: (k, v, o) => (k === ROUND_KEY ? never : healthy.put(k, v, o)) }), 6);
    for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
    throttle.clear();
    // The next invocation, once the dead one's lease has run out: tpl_05's retry first, then positions 3 on.
    store = storeWith(healthy, { acquireLease: async (name) => ({ name, owner: 'next', expiresAt: Infinity, renew: async () => true, release: async () => true }) });
    calls = [];
    await tick(4);
    expect(calls.map((c) => c.code)).toEqual(['tpl_05', 'tpl_06', 'tpl_07', 'tpl_08']);
    // Positions 0 to 8 once each but tpl_01 (throttled again, given up for the round): 8 checks. Before,
    // 9: tpl_05 by its retry, and again by its position, found marked by that retry and taken for the
    // dead tick's check.
    expect((await store.get<SweepRound>(ROUND_KEY))!.value).toMatchObject({ next: 9, checked: 8 });
  });

  it("a tick's report counts as pending only the targets left, not the positions of the gap before appended pages", async () => {
    await watch(1500);
    await runRounds(1, 2000);
    // The plan's last page is short (500): the listing appends the new targets from the next page on.
    for (let i = 1500; i < 1510; i++) await registerWatchTarget(store, node(i), 'test');
    const report = await tick(5);
    expect(report.targets).toBe(1510);
    // Before, 2005: the 500 empty positions of the gap counted as targets left.
    expect(report.pending).toBe(1510 - report.checked);
    const rest = await tick(2000);
    expect(rest).toMatchObject({ pending: 0, roundComplete: true, checked: 1510 - report.checked });
  });

  it('a resuming tick reads the round record and its page, not the watch list: O(checks), not O(N)', async () => {
    await watch(2500);
    const ops = { get: 0, listed: 0, lists: 0 };
    const inner = store;
    store = storeWith(inner, {
      get: (k) => (ops.get++, inner.get(k)),
      list: async <T,>(p: string, o?: Parameters<Store['list']>[1]) => {
        ops.lists++;
        const out = await inner.list<T>(p, o);
        ops.listed += out.length;
        return out;
      },
    });
    await runRounds(1, 1000); // round 1: its plan made from the watch list
    await tick(1000); // round 2's first tick lists the watch list beside its checks
    for (const k of Object.keys(ops) as Array<keyof typeof ops>) ops[k] = 0;
    calls = [];
    const report = await tick(300);
    expect(report.checked).toBe(300);
    // No list returned an entry (no risky node, no retry, no invalid target) …
    expect(ops.listed).toBe(0);
    // … and the gets are per check (the watch entry, the entity, the target record), plus a handful per tick.
    expect(ops.get).toBeLessThan(4 * 300 + 20);
  });
});
