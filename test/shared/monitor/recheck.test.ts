/**
 * A round check that CAMS throttled (after the client's own attempts) is checked again in the same
 * tick after a backoff, a bounded number of times, without starving the round's positions (issue
 * #12's backstop bound). On a fake clock: each CAMS call takes CALL_MS of it, a backoff moves it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CamsClient } from '../../../shared/cams/client.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { RECHECK_BACKOFF_MS, RECHECKS_PER_TICK, RecheckQueue, recheckDelay } from '../../../shared/monitor/recheck.ts';
import { retryPrefix } from '../../../shared/monitor/round-plan.ts';
import { HealthSweep, ROUND_KEY, type SweepRound } from '../../../shared/monitor/sweep.ts';
import { registerWatchTarget, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';

const CALL_MS = 200;
const SPACE = 'cs-recheck';
let store: Store;
let t: number;
let calls: Array<{ at: number; code: string; ok: boolean }>;
/** How many more calls for a template CAMS throttles (Infinity: every one). */
let throttle: Map<string, number>;
/** What CAMS answers every call with, when set (for the template it names; undefined: it answers). */
let failAll: ((code: string) => CamsError | undefined) | undefined;
let slept: number[];

const limitControl = () => new CamsError({ Code: 'System.LimitControl', Message: 'The system is under flow control.', httpStatus: 400, retryable: true, action: 'GetWhatsappHealthStatus' });
const unreachable = () => new CamsError({ Code: 'NetworkError', Message: 'connect ECONNREFUSED', httpStatus: 0, retryable: true, action: 'GetWhatsappHealthStatus' });

/** CAMS as the sweep's client sees it: a throttled call is what the client throws once its own attempts are spent. */
const cams = {
  async getHealthStatus(target: WatchTarget) {
    t += CALL_MS;
    const code = target.TemplateCode!;
    const left = throttle.get(code) ?? 0;
    const failure = failAll?.(code) ?? (left > 0 ? limitControl() : undefined);
    calls.push({ at: t, code, ok: !failure });
    if (failure) {
      throttle.set(code, left - 1);
      throw failure;
    }
    return { data: { CanSendMessage: 'AVAILABLE', Entities: [{ EntityType: 'MESSAGE_TEMPLATE', WabaId: '1090', TemplateCode: code, Language: 'en', CanSendMessage: 'AVAILABLE' }] } };
  },
} as unknown as CamsClient;

const node = (i: number): WatchTarget => ({ CustSpaceId: SPACE, NodeType: 'template', TemplateCode: `tpl_${String(i).padStart(2, '0')}`, Language: 'en' });

/** One invocation that may start checks for `startMs` of the fake clock. */
const tick = (startMs: number, log?: (r: Record<string, unknown>) => void) =>
  new HealthSweep({
    store,
    cams,
    sinks: [],
    policy: { minConsecutive: 1, repeatIntervalMs: 4 * 3_600_000 },
    envTargets: [],
    concurrency: 1,
    deadline: t + startMs,
    checkBudgetMs: 0,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
    ...(log ? { log } : {}),
  }).run();

beforeEach(async () => {
  store = await openStore('memory:');
  t = 1_000_000;
  calls = [];
  throttle = new Map();
  failAll = undefined;
  slept = [];
});
afterEach(async () => store.close());

async function watch(n: number): Promise<string[]> {
  const nodes = Array.from({ length: n }, (_, i) => node(i));
  for (const x of nodes) await registerWatchTarget(store, x, 'test');
  return nodes.map((x) => x.TemplateCode!);
}

const retryKeys = async () => (await store.list(retryPrefix((await store.get<SweepRound>(ROUND_KEY))!.value.id))).map((e) => e.key);
const of = (code: string) => calls.filter((c) => c.code === code);
/** The TargetRejected entity of a template, if any. */
const rejection = async (code: string) =>
  (await store.list<EntityState>('monitor/entity/')).map((e) => e.value).find((v) => JSON.stringify(v).includes('TargetRejected') && JSON.stringify(v).includes(code));

describe('a throttled round check is checked again in the same tick', () => {
  it('throttled once: re-checked after the backoff in this tick, and the round completes in it', async () => {
    const codes = await watch(6);
    throttle.set('tpl_02', 1);
    const logs: Array<Record<string, unknown>> = [];
    const report = await tick(60_000, (r) => logs.push(r));

    expect(of('tpl_02').map((c) => c.ok)).toEqual([false, true]);
    const [first, second] = of('tpl_02');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(RECHECK_BACKOFF_MS);
    // Every other target once, in order; the re-check came as soon as its backoff was over.
    expect(calls.filter((c) => c.code !== 'tpl_02').map((c) => c.code)).toEqual(codes.filter((c) => c !== 'tpl_02'));
    expect(report).toMatchObject({ checked: 6, transientFailures: 1, pending: 0, roundComplete: true });
    expect(await retryKeys()).toEqual([]);
    expect(logs.some((l) => l['target'] === 'template:cs-recheck:tpl_02/en' && l['recheck'] === 1)).toBe(true);
  });

  it('not reachable once: re-checked in this tick too', async () => {
    await watch(3);
    let failures = 1;
    failAll = () => (calls.length === 0 && failures-- > 0 ? unreachable() : (undefined as unknown as CamsError));
    const report = await tick(60_000);
    expect(of('tpl_00').map((c) => c.ok)).toEqual([false, true]);
    expect(report).toMatchObject({ checked: 3, pending: 0, roundComplete: true });
  });

  it('a CAMS that keeps throttling one target: RECHECKS_PER_TICK re-checks with growing backoff, then it waits for the next tick', async () => {
    const codes = await watch(4);
    throttle.set('tpl_01', Infinity);
    const first = await tick(60_000);

    const tries = of('tpl_01');
    expect(tries).toHaveLength(1 + RECHECKS_PER_TICK);
    for (let n = 1; n <= RECHECKS_PER_TICK; n++) expect(tries[n]!.at - tries[n - 1]!.at).toBeGreaterThanOrEqual(recheckDelay(n));
    expect(recheckDelay(2)).toBeGreaterThan(recheckDelay(1));
    // The others were checked once each; the round waits for the throttled one, whose retry key is kept.
    for (const c of codes.filter((c) => c !== 'tpl_01')) expect(of(c)).toHaveLength(1);
    expect(first).toMatchObject({ checked: 3, pending: 1, roundComplete: false });
    expect(await retryKeys()).toHaveLength(1);

    // CAMS answers again: the next tick checks it first and the round completes.
    throttle.delete('tpl_01');
    calls = [];
    const second = await tick(60_000);
    expect(calls.map((c) => c.code)).toEqual(['tpl_01']);
    expect(second).toMatchObject({ checked: 1, pending: 0, roundComplete: true });
    expect(await retryKeys()).toEqual([]);
  });

  it('a target CAMS fails in every tick (a node it answers 5xx for): given up for the round after its retry tick, so the round completes and the next one checks every target again', async () => {
    const codes = await watch(4);
    const serverError = () => new CamsError({ Code: 'ServiceUnavailable', Message: 'The request has failed due to a temporary failure of the server.', httpStatus: 503, retryable: true, action: 'GetWhatsappHealthStatus' });
    failAll = (code) => (code === 'tpl_01' ? serverError() : undefined);
    const logs: Array<Record<string, unknown>> = [];
    expect(await tick(60_000)).toMatchObject({ checked: 3, pending: 1, roundComplete: false });

    // Its retry in the next tick fails too (with its re-checks): the round does not wait for it any longer.
    calls = [];
    expect(await tick(60_000, (r) => logs.push(r))).toMatchObject({ checked: 0, pending: 0, roundComplete: true });
    expect(calls.map((c) => c.code)).toEqual(Array(1 + RECHECKS_PER_TICK).fill('tpl_01'));
    expect(await store.list('monitor/round/')).toSatisfy((keys: Array<{ key: string }>) => keys.every((k) => !k.key.includes('/retry/')));
    expect(logs.some((l) => l['level'] === 'warn' && l['target'] === 'template:cs-recheck:tpl_01/en')).toBe(true);

    // CAMS answered the other checks: the node is an alert of its own, not a log line only.
    expect(await rejection('tpl_01')).toMatchObject({ firing: true });
    expect(JSON.stringify(await rejection('tpl_01'))).toContain('ServiceUnavailable');

    // The next round checks every target, that one in its place.
    calls = [];
    expect(await tick(60_000)).toMatchObject({ checked: 3, pending: 1 });
    expect(calls.filter((c) => c.ok).map((c) => c.code)).toEqual(codes.filter((c) => c !== 'tpl_01'));

    // Once CAMS answers for it, its alert is resolved.
    failAll = undefined;
    await tick(60_000);
    expect(await rejection('tpl_01')).toMatchObject({ firing: false });
  });

  it('a retry the invocation\'s end cut short (DeadlineExceeded) is given up without an alert: it says nothing of the node', async () => {
    await watch(4);
    const cutShort = () => new CamsError({ Code: 'DeadlineExceeded', Message: 'the invocation ends before CAMS answered', httpStatus: 0, retryable: false, action: 'GetWhatsappHealthStatus' });
    failAll = (code) => (code === 'tpl_01' ? cutShort() : undefined);
    await tick(60_000);
    await tick(60_000);
    expect(await rejection('tpl_01')).toBeUndefined();
  });

  it('CAMS failing every check (an outage): the targets given up are no alerts each (CamsUnreachable tells it)', async () => {
    await watch(6);
    // Three answered, then CAMS goes away for the rest of the round.
    failAll = () => (calls.filter((c) => c.ok).length >= 2 ? unreachable() : undefined);
    await tick(60_000);
    await tick(60_000);
    expect(await store.list('monitor/entity/')).toSatisfy((es: Array<{ value: unknown }>) => es.every((e) => !JSON.stringify(e.value).includes('TargetRejected')));
  });

  it('CAMS gone in the tick after one that answered: the retry given up in it is no alert of its own, the tick says CamsUnreachable', async () => {
    await watch(8);
    failAll = (code) => (code === 'tpl_01' ? unreachable() : undefined);
    // A short tick: tpl_01 left for a retry, the others answered, positions left for the next tick.
    expect(await tick(2 * CALL_MS + RECHECK_BACKOFF_MS / 2)).toMatchObject({ checked: 4, pending: 4, roundComplete: false });
    expect(await retryKeys()).toHaveLength(1);
    failAll = unreachable;
    await tick(60_000);
    const firing = (await store.list<EntityState>('monitor/entity/')).map((e) => e.value).filter((v) => v.subject.nodeType === 'monitor' && v.firing);
    expect(firing.map((v) => v.subject.entityType)).toEqual(['CamsUnreachable']);
  });

  it("a tick whose only checks are the retries of one node CAMS keeps failing does not say CAMS is unreachable: the node's failure may be its own", async () => {
    await watch(4);
    failAll = (code) => (code === 'tpl_01' ? unreachable() : undefined);
    await tick(60_000);
    calls = [];
    await tick(60_000);
    expect(calls.map((c) => c.code)).toEqual(Array(1 + RECHECKS_PER_TICK).fill('tpl_01'));
    const monitor = (await store.list<EntityState>('monitor/entity/')).map((e) => e.value).filter((v) => v.subject.nodeType === 'monitor');
    // The node's own alert, not CamsUnreachable.
    expect(monitor.filter((v) => v.firing).map((v) => `${v.subject.entityType}:${v.subject.templateCode}`)).toEqual(['TargetRejected:tpl_01']);

    // CAMS answering none of a tick's own checks still is.
    failAll = unreachable;
    await tick(60_000);
    const firing = (await store.list<EntityState>('monitor/entity/')).map((e) => e.value).filter((v) => v.subject.nodeType === 'monitor' && v.firing);
    expect(firing.map((v) => v.subject.entityType).sort()).toEqual(['CamsUnreachable', 'TargetRejected']);
  });

  it('CAMS back, refusing every watched node: a refusal is an answer, so CamsUnreachable and AuthRefused resolve (each node is its own TargetRejected)', async () => {
    await watch(2);
    const firingMonitor = async () =>
      (await store.list<EntityState>('monitor/entity/')).map((e) => e.value).filter((v) => v.subject.nodeType === 'monitor' && v.firing).map((v) => v.subject.entityType).sort();
    const refused = () => new CamsError({ Code: 'InvalidParameter', Message: 'The template does not exist.', httpStatus: 400, retryable: false, action: 'GetWhatsappHealthStatus' });
    const denied = () => new CamsError({ Code: 'Ram.PermissionDeny', Message: 'no permission', httpStatus: 403, retryable: false, action: 'GetWhatsappHealthStatus' });
    const proxy = () => new CamsError({ Code: 'HttpError', Message: 'HTTP 403: <html>blocked</html>', httpStatus: 403, retryable: false, action: 'GetWhatsappHealthStatus' });
    failAll = unreachable;
    await tick(60_000);
    expect(await firingMonitor()).toEqual(['CamsUnreachable']);
    // A reply no CAMS wrote (a proxy's page) is no answer of CAMS's.
    failAll = proxy;
    await tick(60_000);
    expect(await firingMonitor()).toEqual(['CamsUnreachable', 'TargetRejected', 'TargetRejected']);
    // Before, only a node CAMS found healthy resolved it: with every node refused it fired (and was
    // reminded, and the status page said "monitoring impaired") for as long as they stayed watched.
    failAll = refused;
    await tick(60_000);
    expect(await firingMonitor()).toEqual(['TargetRejected', 'TargetRejected']);

    failAll = denied;
    await tick(60_000);
    expect(await firingMonitor()).toEqual(['AuthRefused', 'TargetRejected', 'TargetRejected']);
    failAll = refused;
    await tick(60_000);
    expect(await firingMonitor()).toEqual(['TargetRejected', 'TargetRejected']);
  });

  it('CamsUnreachable firing when the last watched node is removed: resolved once a round has nothing to check, not reminded of for ever', async () => {
    const codes = await watch(2);
    failAll = unreachable;
    await tick(60_000);
    const firing = async () => (await store.list<EntityState>('monitor/entity/')).map((e) => e.value).filter((v) => v.subject.nodeType === 'monitor' && v.firing).map((v) => v.subject.entityType);
    expect(await firing()).toEqual(['CamsUnreachable']);
    for (const c of codes) await store.delete(`watch/template:${SPACE}:${c}/en`);
    // The round that finds them gone, then one with nothing in its plan.
    for (let i = 0; i < 3; i++) await tick(60_000);
    expect(await firing()).toEqual([]);
  });

  it('every call throttled: the tick ends, each target checked at most 1 + RECHECKS_PER_TICK times, never two re-checks in a row while positions are left', async () => {
    const codes = await watch(12);
    failAll = limitControl;
    const report = await tick(60_000);

    for (const c of codes) {
      expect(of(c).length).toBeGreaterThanOrEqual(1);
      expect(of(c).length).toBeLessThanOrEqual(1 + RECHECKS_PER_TICK);
    }
    // Every position was reached; until the last one, a re-check was always followed by a position.
    const firstTries = codes.map((c) => calls.findIndex((x) => x.code === c));
    const lastPosition = Math.max(...firstTries);
    const isFirstTry = (i: number) => firstTries.includes(i);
    for (let i = 1; i < lastPosition; i++) expect(isFirstTry(i - 1) || isFirstTry(i), `calls ${i - 1} and ${i}`).toBe(true);
    expect(report).toMatchObject({ checked: 0, pending: 12, roundComplete: false });
    expect(await retryKeys()).toHaveLength(12);
  });

  it('no re-check that could not start before the deadline: the target goes to the next tick', async () => {
    await watch(2);
    throttle.set('tpl_01', 1);
    // Time for the two checks and less than one backoff.
    const report = await tick(2 * CALL_MS + RECHECK_BACKOFF_MS / 2);
    expect(of('tpl_01').map((c) => c.ok)).toEqual([false]);
    expect(slept).toEqual([]);
    expect(report).toMatchObject({ checked: 1, pending: 1, roundComplete: false });
    expect(await retryKeys()).toHaveLength(1);
  });
});

describe('RecheckQueue', () => {
  it('orders by due time, bounds re-checks per target, and refuses one due after the latest start', () => {
    const q = new RecheckQueue();
    expect(q.add('a', 0, 0, 10_000)).toBe(true); // due 1000
    expect(q.add('b', 1, 0, 10_000)).toBe(true); // due 2000
    expect(q.add('c', 0, 500, 10_000)).toBe(true); // due 1500
    expect(q.add('d', RECHECKS_PER_TICK, 0, 10_000)).toBe(false);
    expect(q.add('e', 0, 9_500, 10_000)).toBe(false);
    expect(q.dueIn(0)).toBe(1000);
    expect(q.takeDue(999)).toBeUndefined();
    expect([q.takeDue(5000)?.id, q.takeDue(5000)?.id, q.takeDue(5000)?.id, q.takeDue(5000)]).toEqual(['a', 'c', 'b', undefined]);
    expect(q.dueIn(5000)).toBeUndefined();
  });
});
