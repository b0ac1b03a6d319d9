/**
 * The sweep at scale (issue #14): children of one WABA checked concurrently on the file store do not
 * fight over the WABA's key, a key that keeps losing races degrades to a transient failure of that
 * target, and a check's store work does not grow with the watch list.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_KEYS, type RunningSandbox } from '../../../local/sandbox/server.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { fingerprintOf, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { entityKey } from '../../../shared/monitor/entity-store.ts';
import { HealthSweep, type HealthSweepOptions } from '../../../shared/monitor/sweep.ts';
import type { WatchTarget } from '../../../shared/monitor/targets.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { onboardThroughFunctions, RecordingSink, setHealth, tempFileStore } from '../../support/monitor.ts';
import { storeWith } from '../../support/store.ts';
import { sandboxControl, sandboxForFile } from '../../support/sandbox-env.ts';

const WABA_ID = '299399001400';
const HOUR = 3_600_000;
let sandbox: RunningSandbox;
let space: string;
let clock: number;

sandboxForFile(400, (s) => (sandbox = s));
beforeEach(async () => {
  await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
  space = await onboardThroughFunctions(WABA_ID, []);
  clock = Date.now();
});

const templates = (n: number): WatchTarget[] =>
  Array.from({ length: n }, (_, i) => ({ CustSpaceId: space, NodeType: 'template' as const, TemplateCode: `tpl_${i}`, Language: 'en' }));

async function knowTemplates(targets: WatchTarget[]): Promise<void> {
  await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: targets.map((t) => ({ TemplateCode: t.TemplateCode, Language: t.Language })) });
}

function sweep(store: Store, sink: RecordingSink, envTargets: WatchTarget[], over: Partial<HealthSweepOptions> = {}) {
  return new HealthSweep({
    store,
    // The sandbox's limit is raised to 400 QPS: so is the account's budget (as CAMS_QPS would).
    cams: new CamsClient({ endpoint: sandbox.url, credentials: DEFAULT_SANDBOX_KEYS[0]!, qps: { GetWhatsappHealthStatus: 400 }, budget: new CamsBudget({ qps: { GetWhatsappHealthStatus: 400 } }) }),
    sinks: [sink],
    policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR },
    envTargets,
    concurrency: envTargets.length,
    deadline: Date.now() + 20_000,
    alertClock: () => clock,
    ...over,
  }).run();
}

/** Counts calls per operation and per key; `losing` keys lose every compare-and-set. */
function countingStore(inner: Store, losing: (key: string) => boolean = () => false) {
  const ops = { get: 0, put: 0, delete: 0, list: 0 };
  const written = { bytes: 0 };
  /** Successful writes per key. */
  const putsTo = new Map<string, number>();
  const store = storeWith(inner, {
    get: (k) => (ops.get++, inner.get(k)),
    put: async (k, v, o) => {
      ops.put++;
      written.bytes += JSON.stringify(v).length;
      if (o?.ifVersion !== undefined && losing(k)) return undefined;
      const version = await inner.put(k, v, o);
      // Writes that took: a compare-and-set that lost a race (the deliverer striking an alert while
      // the sweep writes the same entity's history mark) is retried, and wrote nothing.
      if (version !== undefined) putsTo.set(k, (putsTo.get(k) ?? 0) + 1);
      return version;
    },
    delete: (k, o) => (ops.delete++, inner.delete(k, o)),
    list: (p, o) => (ops.list++, inner.list(p, o)),
  });
  return { store, ops, putsTo, written };
}

const wabaKey = () => entityKey(fingerprintOf({ nodeType: 'waba', custSpaceId: space, wabaId: WABA_ID, entityType: 'WABA' }));

describe('the sweep at scale', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('40 concurrent checks of one WABA\'s templates on the file store: no StoreError, the WABA observed once, its alert right', async () => {
    const temp = await tempFileStore();
    cleanup = temp.cleanup;
    const { store, putsTo } = countingStore(temp.store);
    const targets = templates(40);
    await knowTemplates(targets);
    await setHealth(sandbox, { CustSpaceId: space, NodeType: 'waba', WabaId: WABA_ID, CanSendMessage: 'LIMITED', Errors: [{ ErrorCode: '131042', ErrorDescription: 'Business eligibility payment issue' }] });
    const sink = new RecordingSink();

    const report = await sweep(store, sink, targets);
    expect(report).toMatchObject({ checked: 40, pending: 0, transientFailures: 0, roundComplete: true });
    expect(report.storeContention).toBeUndefined();
    // 40 checks reported the WABA; it was written three times: the observation, its history mark
    // (the state changed, so its history was written), and the deliverer striking its alert.
    expect(putsTo.get(wabaKey())).toBe(3);
    const waba = (await temp.store.get<EntityState>(wabaKey()))!.value;
    expect(waba).toMatchObject({ status: 'LIMITED', consecutiveBad: 1, firing: true, outbox: [] });
    const wabaItems = sink.received.flatMap((n) => n.items).filter((i) => i.subject.entityType === 'WABA');
    expect(wabaItems.map((i) => `${i.status}:${i.reason}`)).toEqual(['LIMITED:new']);

    // Next round the WABA recovers: one resolved, still one observation written for 40 reports (plus history mark and strike).
    await setHealth(sandbox, { CustSpaceId: space, NodeType: 'waba', WabaId: WABA_ID, CanSendMessage: 'AVAILABLE' });
    clock += 60_000;
    putsTo.clear();
    expect(await sweep(store, sink, targets)).toMatchObject({ checked: 40, transientFailures: 0, roundComplete: true });
    expect(putsTo.get(wabaKey())).toBe(3);
    expect(sink.received.flatMap((n) => n.items).filter((i) => i.subject.entityType === 'WABA').map((i) => i.reason)).toEqual(['new', 'resolved']);
  });

  it('a key that keeps losing compare-and-set races: the sweep does not throw, those targets are transient failures re-checked next tick', async () => {
    const inner = await openStore('memory:');
    let contended = true;
    const { store } = countingStore(inner, (k) => contended && k === wabaKey());
    const targets = templates(10);
    await knowTemplates(targets);
    await setHealth(sandbox, { CustSpaceId: space, NodeType: 'waba', WabaId: WABA_ID, CanSendMessage: 'BLOCKED' });
    const sink = new RecordingSink();

    // The WABA's first write creates the key (set-if-absent); every later write is a CAS that loses.
    await inner.put(wabaKey(), (await (async () => {
      const seed = await openStore('memory:');
      await sweep(seed, new RecordingSink(), targets.slice(0, 1));
      return (await seed.get<EntityState>(wabaKey()))!.value;
    })()));
    const first = await sweep(store, sink, targets);
    expect(first.roundComplete).toBe(false);
    expect(first.storeContention).toBeGreaterThan(0);
    expect(first.transientFailures).toBe(first.storeContention);
    expect(first.checked + first.transientFailures).toBe(10);
    expect(first.pending).toBe(first.transientFailures);

    contended = false;
    const second = await sweep(store, sink, targets);
    expect(second).toMatchObject({ round: first.round, checked: first.pending, pending: 0, transientFailures: 0, roundComplete: true });
    expect((await inner.get<EntityState>(wabaKey()))!.value).toMatchObject({ status: 'BLOCKED', firing: true });
  });

  it('a check costs the same store operations and bytes written at 20, 80 and 200 targets', async () => {
    const totals: number[] = [];
    const bytesPerCheck: number[] = [];
    const lists: number[] = [];
    const sizes = [20, 80, 200];
    for (const n of sizes) {
      await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
      space = await onboardThroughFunctions(WABA_ID, []);
      const targets = templates(n);
      await knowTemplates(targets);
      const { store, ops, written } = countingStore(await openStore('memory:'));
      await sweep(store, new RecordingSink(), targets, { concurrency: 10 }); // round 1 creates the entities
      for (const k of Object.keys(ops) as Array<keyof typeof ops>) ops[k] = 0;
      written.bytes = 0;
      clock += 60_000;
      expect(await sweep(store, new RecordingSink(), targets, { concurrency: 10 })).toMatchObject({ checked: n, roundComplete: true });
      totals.push(ops.get + ops.put + ops.delete + ops.list);
      bytesPerCheck.push(written.bytes / n);
      lists.push(ops.list);
    }
    // Listing stays per tick (watch list at the round's start, the indexes, silences, the round's one reindex), not per check.
    expect(lists[1]).toBe(lists[0]);
    expect(lists[2]).toBe(lists[0]);
    expect(lists[0]).toBeLessThan(20);
    // Each added target costs the same operations (the marginal cost is flat, not growing with the list)…
    const marginal = [(totals[1]! - totals[0]!) / (sizes[1]! - sizes[0]!), (totals[2]! - totals[1]!) / (sizes[2]! - sizes[1]!)];
    expect(marginal[1]!).toBeLessThanOrEqual(marginal[0]! * 1.02);
    expect(marginal[0]!).toBeLessThan(8);
    // …over a fixed cost per tick (leases, the round record and its plan page, the indexes, the deliveries).
    const fixed = totals[0]! - marginal[0]! * sizes[0]!;
    expect(fixed).toBeLessThan(40);
    // No record that grows with the list is rewritten per check.
    expect(bytesPerCheck[1]!).toBeLessThanOrEqual(bytesPerCheck[0]! * 1.05);
    expect(bytesPerCheck[2]!).toBeLessThanOrEqual(bytesPerCheck[0]! * 1.05);
  });
});
