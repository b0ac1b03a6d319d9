import { beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import { CamsError } from '../../../shared/cams/errors.ts';
import { DELIVER_AGAIN, DELIVERY_LEASE } from '../../../shared/monitor/dispatch.ts';
import { fingerprintOf } from '../../../shared/monitor/entity-state.ts';
import { entityKey } from '../../../shared/monitor/entity-store.ts';
import { monitorSubject } from '../../../shared/monitor/monitor-alert.ts';
import { HealthSweep, SWEEP_LEASE, type HealthSweepOptions } from '../../../shared/monitor/sweep.ts';
import { parseMonitorTargets, registerWatchTarget, type WatchTarget } from '../../../shared/monitor/targets.ts';
import type { Lease, Store } from '../../../shared/store/port.ts';
import { onboardThroughFunctions, RecordingSink, sandboxClient, sandboxPerFileStorePerTest, setHealth } from '../../support/monitor.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';
import { gate, storeWith } from '../../support/store.ts';

const HOUR = 3_600_000;
let sandbox: RunningSandbox;
let store: Store;
let space: string;
let clock: number;

sandboxPerFileStorePerTest((parts) => ({ sandbox, store } = parts), { quiet: true, healthQps: 50 });
beforeEach(async () => {
  space = await onboardThroughFunctions('299399000001', [
    { cc: '86', phone: '13800000001' },
    { cc: '86', phone: '13800000002' },
  ]);
  clock = Date.now();
});

const phone1 = (): WatchTarget => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000001' });
const phone2 = (): WatchTarget => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000002' });
const waba = (): WatchTarget => ({ CustSpaceId: space, NodeType: 'waba', WabaId: '299399000001' });

function sweep(sink: RecordingSink, over: Partial<HealthSweepOptions> = {}) {
  return new HealthSweep({
    store,
    cams: sandboxClient(sandbox, 50),
    sinks: [sink],
    policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR },
    envTargets: [phone1()],
    concurrency: 5,
    deadline: Date.now() + 20_000,
    alertClock: () => clock,
    ...over,
  }).run();
}

/** The store, with every write and the sweep lease's release written to a timeline; one write can be made to throw. */
function recordingStore(inner: Store, timeline: string[], track: <T>(p: Promise<T>) => Promise<T>, failWhen: (value: unknown) => boolean): Store {
  return {
    get: (key) => track(inner.get(key)),
    list: (prefix) => track(inner.list(prefix)),
    reserveSlot: (key, interval, wait) => track(inner.reserveSlot(key, interval, wait)),
    put: (key, value, opts) => {
      timeline.push(`put:${key}`);
      if (failWhen(value)) {
        timeline.push('fail');
        return track(Promise.reject(new Error('injected store failure')));
      }
      return track(inner.put(key, value, opts));
    },
    delete: (key, opts) => {
      timeline.push(`delete:${key}`);
      return track(inner.delete(key, opts));
    },
    acquireLease: async (name, ttl, owner) => {
      const lease = await inner.acquireLease(name, ttl, owner);
      if (!lease || name !== SWEEP_LEASE) return lease;
      return Object.assign(Object.create(lease) as Lease, {
        release: () => {
          timeline.push('release');
          return lease.release();
        },
      });
    },
    close: () => inner.close(),
  };
}

/**
 * The sandbox client, with each health check's start and end written to the timeline. `hold`: a
 * check's reply is handed back only once the promise it returns for that target settles.
 */
class TimelineClient extends CamsClient {
  constructor(
    endpoint: string,
    private readonly timeline: string[],
    private readonly track: <T>(p: Promise<T>) => Promise<T>,
    private readonly hold: (target: WatchTarget) => Promise<unknown> = () => Promise.resolve(),
  ) {
    super({ endpoint, credentials: DEFAULT_SANDBOX_KEYS[0]!, qps: { GetWhatsappHealthStatus: 50 }, budget: new CamsBudget({ qps: { GetWhatsappHealthStatus: 50 } }) });
  }
  override getHealthStatus(...args: Parameters<CamsClient['getHealthStatus']>): ReturnType<CamsClient['getHealthStatus']> {
    this.timeline.push('cams-start');
    const reply = super.getHealthStatus(...args).then(async (r) => (await this.hold(args[0] as WatchTarget), r));
    return this.track(reply.finally(() => this.timeline.push('cams-end')));
  }
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

const blocked = [{ ErrorCode: '141006', ErrorDescription: 'There is an error with the payment method.', PossibleSolution: 'Add a new payment method.' }];

describe('HealthSweep against the sandbox', () => {
  it('BLOCKED → one alert; unchanged → none; recovery → resolved; past the repeat interval → one reminder', async () => {
    const sink = new RecordingSink();
    expect((await sweep(sink)).roundComplete).toBe(true);
    expect(sink.received).toHaveLength(0);

    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: blocked });
    clock += 5 * 60_000;
    await sweep(sink);
    expect(sink.received).toHaveLength(1);
    const [first] = sink.received;
    expect(first!.severity).toBe('critical');
    expect(first!.items).toHaveLength(1);
    expect(first!.items[0]).toMatchObject({ reason: 'new', status: 'BLOCKED', errors: blocked, subject: { entityType: 'PHONE_NUMBER', phoneNumber: '8613800000001' } });

    clock += 5 * 60_000;
    await sweep(sink);
    expect(sink.received).toHaveLength(1);

    clock += 4 * HOUR;
    await sweep(sink);
    expect(sink.received.map((n) => n.items[0]!.reason)).toEqual(['new', 'reminder']);

    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'AVAILABLE' });
    clock += 5 * 60_000;
    await sweep(sink);
    expect(sink.received.map((n) => n.items[0]!.reason)).toEqual(['new', 'reminder', 'resolved']);
    clock += 5 * 60_000;
    await sweep(sink);
    expect(sink.received).toHaveLength(3);
  });

  it('groups one WABA\'s alerts into one message per sweep, and inhibits phones while the WABA is BLOCKED', async () => {
    const sink = new RecordingSink();
    // One flush per sweep: the one at its end. Grouping is per flush (dispatch.ts), and the flush a
    // check schedules FLUSH_DELAY_MS (250 ms) after it took the second phone's finding only when its
    // check ended within that: the checks are 208 ms apart at CAMS's 5 QPS, and on a loaded machine
    // the second one ended later, so each phone had a message of its own.
    const oneFlush = { flushDelayMs: 10 * 60_000 };
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'LIMITED' });
    await setHealth(sandbox, { ...phone2(), CanSendMessage: 'LIMITED' });
    await sweep(sink, { envTargets: [phone1(), phone2()], ...oneFlush });
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]!.group).toBe('waba:299399000001');
    expect(sink.received[0]!.items.map((i) => i.subject.phoneNumber).sort()).toEqual(['8613800000001', '8613800000002']);

    // The WABA goes BLOCKED and a phone changes: only the WABA's alert is sent.
    await setHealth(sandbox, { ...waba(), CanSendMessage: 'BLOCKED', Errors: blocked });
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED' });
    clock += 60_000;
    await sweep(sink, { envTargets: [phone1(), phone2(), waba()], ...oneFlush });
    expect(sink.received).toHaveLength(2);
    expect(sink.received[1]!.items.map((i) => `${i.subject.entityType}:${i.reason}`)).toEqual(['WABA:new']);
  });

  it('continues a watch list that does not fit one invocation from the persisted round, checking each target once', async () => {
    const sink = new RecordingSink();
    const targets: WatchTarget[] = [];
    for (let i = 0; i < 6; i++) targets.push({ CustSpaceId: space, NodeType: 'template', TemplateCode: `tpl_${i}`, Language: 'en_US' });
    // The sandbox, like CAMS, knows only templates the space has.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: targets.map((t) => ({ TemplateCode: t.TemplateCode, Language: t.Language })) });
    for (const t of targets) await registerWatchTarget(store, t, 'test');
    // The invocation's time runs out once two checks have begun: its wall clock then jumps to the
    // deadline. (800 ms of real time fitted a few checks at 5 QPS, and none when a loaded machine
    // spent the first 500 ms before them.) At most the 5 workers' checks are under way by then.
    const cams = sandboxClient(sandbox, 5);
    const check = cams.getHealthStatus.bind(cams);
    let begun = 0;
    cams.getHealthStatus = (...args) => (begun++, check(...args));
    const deadline = Date.now() + 60_000;
    const first = await sweep(sink, { envTargets: [], cams, concurrency: 5, deadline, checkBudgetMs: 300, now: () => (begun >= 2 ? deadline : Date.now()) });
    expect(first.roundComplete).toBe(false);
    expect(first.checked).toBeGreaterThanOrEqual(2);
    expect(first.checked).toBeLessThan(6);
    const second = await sweep(sink, { envTargets: [], cams: sandboxClient(sandbox, 5) });
    expect(second.round).toBe(first.round);
    expect(second.roundComplete).toBe(true);
    expect(first.checked + second.checked).toBe(6);
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Params: Record<string, string> }>;
    const checked = calls.filter((c) => c.Action === 'GetWhatsappHealthStatus').map((c) => c.Params['TemplateCode']);
    expect(checked.sort()).toEqual(targets.map((t) => t.TemplateCode).sort());
  });

  it('keeps two sweeps from overlapping with the lease', async () => {
    const sink = new RecordingSink();
    const [a, b] = await Promise.all([sweep(sink), sweep(sink)]);
    expect([a.skipped, b.skipped].filter(Boolean)).toEqual(['another sweep holds the lease']);
  });

  it('raises the monitor\'s own failures once and resolves them: refused credentials, an invalid target', async () => {
    const sink = new RecordingSink();
    const badKey = { accessKeyId: 'LTAIsandbox0000000001', accessKeySecret: 'wrong-secret-value-000000000000' };
    const problems = [{ where: 'MONITOR_TARGETS[1]', message: 'NodeType: must be one of waba, phone, template' }];
    await sweep(sink, { cams: sandboxClient(sandbox, 50, badKey), targetProblems: problems });
    await sweep(sink, { cams: sandboxClient(sandbox, 50, badKey), targetProblems: problems });
    // Each once, in the monitor's group (the invalid target is found before the checks, the refusal
    // by them: the first sweep may deliver them in one flush or two).
    const firing = sink.received.length;
    expect(sink.received.every((n) => n.group === 'monitor')).toBe(true);
    expect(sink.received.flatMap((n) => n.items).map((i) => `${i.subject.entityType}:${i.errors[0]!.ErrorCode}`).sort()).toEqual([
      'AuthRefused:SignatureDoesNotMatch',
      'InvalidTarget:InvalidTarget',
    ]);
    await sweep(sink);
    expect(sink.received.slice(firing).flatMap((n) => n.items).map((i) => `${i.subject.entityType}:${i.reason}`).sort()).toEqual(['AuthRefused:resolved', 'InvalidTarget:resolved']);
  });

  describe("the role's STS token expired (InvalidSecurityToken.Expired)", () => {
    /** The client of one tick's invocation: FC's context holds the role's token of that moment. */
    const tickCams = (token: string) => new CamsClient({ endpoint: sandbox.url, credentials: { ...DEFAULT_SANDBOX_KEYS[0]!, securityToken: token }, budget: new CamsBudget({ qps: { GetWhatsappHealthStatus: 50 } }) });
    const notified = (sink: RecordingSink) => sink.received.flatMap((n) => n.items).map((i) => `${i.subject.entityType}:${i.reason}:${i.errors[0]?.ErrorCode ?? ''}`);

    it('in one tick, the next one signing with a fresh token: no alert, and a later one-off expiry starts counting afresh', async () => {
      const sink = new RecordingSink();
      await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { expiredTokens: ['STS.tick-1', 'STS.tick-3'] });
      const first = await sweep(sink, { cams: tickCams('STS.tick-1') });
      expect(first.checked).toBe(0);
      const second = await sweep(sink, { cams: tickCams('STS.tick-2') });
      expect(second.checked).toBe(1);
      await sweep(sink, { cams: tickCams('STS.tick-3') });
      expect(notified(sink)).toEqual([]);
    });

    it('in two ticks in a row (a token never renewed): one AuthRefused, resolved once a fresh token is taken', async () => {
      const sink = new RecordingSink();
      await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { expiredTokens: ['STS.stale'] });
      await sweep(sink, { cams: tickCams('STS.stale') });
      expect(notified(sink)).toEqual([]);
      await sweep(sink, { cams: tickCams('STS.stale') });
      expect(notified(sink)).toEqual(['AuthRefused:new:InvalidSecurityToken.Expired']);
      await sweep(sink, { cams: tickCams('STS.renewed') });
      expect(notified(sink)).toEqual(['AuthRefused:new:InvalidSecurityToken.Expired', 'AuthRefused:resolved:InvalidSecurityToken.Expired']);
    });
  });

  it('a disabled access key (Forbidden.AccessKeyDisabled) is the credentials refused: one AuthRefused, not a TargetRejected per node', async () => {
    const sink = new RecordingSink();
    const cams = sandboxClient(sandbox, 50);
    cams.getHealthStatus = async () => {
      throw new CamsError({ Code: 'Forbidden.AccessKeyDisabled', Message: 'The AccessKey is disabled.', httpStatus: 403, retryable: false, action: 'GetWhatsappHealthStatus' });
    };
    await sweep(sink, { cams, envTargets: [phone1(), phone2()] });
    expect(sink.received.flatMap((n) => n.items).map((i) => `${i.subject.entityType}:${i.errors[0]!.ErrorCode}`)).toEqual(['AuthRefused:Forbidden.AccessKeyDisabled']);
  });

  it.each(['NoPermission', 'NotAuthorized', 'Forbidden.NoPermission'])(
    "RAM's %s (the role lacks the grant, as Ram.PermissionDeny says) refuses every check alike: one AuthRefused, not a TargetRejected per node",
    async (code) => {
      const sink = new RecordingSink();
      const cams = sandboxClient(sandbox, 50);
      let calls = 0;
      cams.getHealthStatus = async () => {
        calls++;
        throw new CamsError({ Code: code, Message: 'You are not authorized to do this action.', httpStatus: 403, retryable: false, action: 'GetWhatsappHealthStatus' });
      };
      await sweep(sink, { cams, envTargets: [phone1(), phone2(), waba()], concurrency: 1 });
      expect(sink.received.flatMap((n) => n.items).map((i) => `${i.subject.entityType}:${i.errors[0]!.ErrorCode}`)).toEqual([`AuthRefused:${code}`]);
      // The tick ends at the refusal: the other nodes' checks would be refused alike.
      expect(calls).toBe(1);
    },
  );

  // Keyed by its index, a bad entry's alert moved with the list: reordering MONITOR_TARGETS resolved
  // it and fired it anew (a RESOLVED and a NEW for a target nobody touched), and the same bad entry
  // written twice alerted twice.
  it('a bad MONITOR_TARGETS entry keeps its one InvalidTarget alert when the list is reordered or it is written twice', async () => {
    const sink = new RecordingSink();
    const bad = { CustSpaceId: space, NodeType: 'wab' };
    const good = phone1();
    const run = (list: unknown[]) => sweep(sink, { targetProblems: parseMonitorTargets(JSON.stringify(list)).problems });
    await run([good, bad]);
    const items = () => sink.received.flatMap((n) => n.items).filter((i) => i.subject.entityType === 'InvalidTarget');
    expect(items().map((i) => i.reason)).toEqual(['new']);
    expect(items()[0]!.errors[0]!.ErrorDescription).toMatch(/^MONITOR_TARGETS\[1\]: NodeType/);
    await run([bad, good]);
    await run([phone2(), { NodeType: 'wab', CustSpaceId: space }, good, bad]); // keys in another order: the same entry
    expect(items().map((i) => i.reason)).toEqual(['new']);
    await run([good]);
    expect(items().map((i) => i.reason)).toEqual(['new', 'resolved']);
  });

  it('a target CAMS says is not ours (Unknown.ResourceOwnerId) raises TargetRejected with ownership advice, not network advice', async () => {
    const sink = new RecordingSink();
    const foreign: WatchTarget = { CustSpaceId: 'cs-not-bound-here', NodeType: 'waba', WabaId: '299399000999' };
    const report = await sweep(sink, { envTargets: [phone1(), foreign] });
    expect(report).toMatchObject({ checked: 2, roundComplete: true });
    const items = sink.received.flatMap((n) => n.items);
    expect(items.map((i) => `${i.subject.entityType}:${i.errors[0]?.ErrorCode}`)).toEqual(['TargetRejected:Unknown.ResourceOwnerId']);
    const advice = items[0]!.errors[0]!.PossibleSolution;
    expect(advice).toMatch(/not owned by the account.*remove the target/);
    expect(advice).not.toMatch(/CAMS_ENDPOINT|network/);
  });

  it('a check failing outside CAMS (a store write) stops the sweep only after every worker in flight has finished', async () => {
    const targets: WatchTarget[] = [];
    for (let i = 0; i < 10; i++) targets.push({ CustSpaceId: space, NodeType: 'template', TemplateCode: `tpl_${i}`, Language: 'en_US' });
    const timeline: string[] = [];
    const inflight = new Set<Promise<unknown>>();
    const track = <T>(p: Promise<T>): Promise<T> => {
      inflight.add(p);
      return p.finally(() => inflight.delete(p));
    };
    // The entity write for tpl_3 throws, as a full disk or a dropped store would.
    let failed!: () => void;
    const failure = new Promise<void>((resolve) => (failed = resolve));
    const failing = recordingStore(store, timeline, track, (value) => {
      const fails = (value as { subject?: { templateCode?: string } })?.subject?.templateCode === 'tpl_3';
      if (fails) failed();
      return fails;
    });
    // The other checks' replies wait for that failure, so other workers are surely mid-call when it
    // comes (by timing alone, on a loaded machine, their replies could all be read before it). A
    // wrong sweep that never writes tpl_3 is not held for ever.
    const cams = new TimelineClient(sandbox.url, timeline, track, (t) => (t.TemplateCode === 'tpl_3' ? Promise.resolve() : Promise.race([failure, sleepMs(10_000)])));
    const logs: Array<Record<string, unknown>> = [];
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { latencyMs: 150 });
    try {
      await expect(sweep(new RecordingSink(), { store: failing, cams, envTargets: targets, concurrency: 5, log: (r) => logs.push(r) })).rejects.toThrow('injected store failure');
      // Let anything still running (with a wrong implementation: after the lease went) finish.
      for (let quiet = 0; quiet < 3; ) {
        if (inflight.size === 0) quiet++;
        else quiet = 0;
        await Promise.allSettled([...inflight]);
        await new Promise((r) => setTimeout(r, 0));
      }
    } finally {
      await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
    }
    const failedAt = timeline.indexOf('fail');
    const releasedAt = timeline.indexOf('release');
    expect(failedAt).toBeGreaterThan(-1);
    expect(releasedAt).toBeGreaterThan(failedAt);
    // Other workers were mid-call when the write failed, and their work finished before the release…
    expect(timeline.slice(failedAt, releasedAt).filter((e) => e === 'cams-end').length).toBeGreaterThan(0);
    // …and nothing touched CAMS or the store after it; no new check started after the failure.
    expect(timeline.slice(releasedAt + 1).filter((e) => e.startsWith('cams') || e.startsWith('put') || e.startsWith('delete'))).toEqual([]);
    expect(timeline.slice(failedAt).filter((e) => e === 'cams-start')).toEqual([]);
    expect(logs).toContainEqual(expect.objectContaining({ level: 'error', msg: 'sweep stopped: a check failed outside CAMS', error: 'injected store failure' }));

    // The next tick, with a working store, finishes the round; tpl_3 is checked then.
    const next = await sweep(new RecordingSink(), { envTargets: targets });
    expect(next.roundComplete).toBe(true);
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Params: Record<string, string> }>;
    expect(calls.filter((c) => c.Action === 'GetWhatsappHealthStatus' && c.Params['TemplateCode'] === 'tpl_3')).toHaveLength(2);
  });

  it('an alert found early in a long invocation is delivered while the sweep goes on, once', async () => {
    const targets: WatchTarget[] = [];
    for (let i = 0; i < 10; i++) targets.push({ CustSpaceId: space, NodeType: 'template', TemplateCode: `tpl_${i}`, Language: 'en_US' });
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: targets.map((t) => ({ TemplateCode: t.TemplateCode, Language: t.Language })) });
    await setHealth(sandbox, { ...targets[0]!, CanSendMessage: 'BLOCKED' });
    const timeline: string[] = [];
    const cams = new TimelineClient(sandbox.url, timeline, (p) => p);
    const sink = new (class extends RecordingSink {
      override async send(n: Parameters<RecordingSink['send']>[0]): Promise<void> {
        timeline.push('sent');
        await super.send(n);
      }
    })();
    // 10 checks one at a time at the sandbox's pace with 150 ms each: the first one's alert is owed long before the last starts.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { latencyMs: 150 });
    try {
      const report = await sweep(sink, { envTargets: targets, cams, concurrency: 1, flushDelayMs: 200 });
      expect(report).toMatchObject({ checked: 10, roundComplete: true });
    } finally {
      await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
    }
    const starts = timeline.flatMap((e, i) => (e === 'cams-start' ? [i] : []));
    expect(starts).toHaveLength(10);
    expect(timeline.filter((e) => e === 'sent')).toHaveLength(1);
    expect(timeline.indexOf('sent')).toBeLessThan(starts[starts.length - 1]!);
    expect(sink.received[0]!.items.map((i) => `${i.subject.templateCode}:${i.reason}`)).toEqual(['tpl_0:new']);
  });

  it("a TargetRejected written while a flush reads the outboxes is delivered by the tick's last flush, not left owed", async () => {
    // A space CAMS does not know: its check is refused, a TargetRejected alert (the monitor's own).
    const unknown: WatchTarget = { CustSpaceId: 'C99990000000099', NodeType: 'waba', WabaId: '1' };
    const alertKey = entityKey(fingerprintOf(monitorSubject('TargetRejected', unknown)));
    const delayMs = 20;
    let leases = 0;
    let released = gate();
    const firstFlushDone = gate();
    // The alert's write is slow (a loaded machine): it waits for a flush that starts meanwhile to be
    // done. One the sweep scheduled before the write is due before this wait's own timer (same
    // delay, set later), so it has asked for the delivery lease by then; none asked, none is coming.
    let stalled = false;
    const slow = storeWith(store, {
      acquireLease: async (name, ttl, owner) => {
        const lease = await store.acquireLease(name, ttl, owner);
        if (!lease || name !== DELIVERY_LEASE) return lease;
        leases++;
        const done = released;
        return Object.assign(Object.create(lease) as Lease, { release: async () => (await lease.release(), done.open()) });
      },
      // A deliverer's last store call: the flush is over once it is (its promise chain settles before the next macrotask).
      delete: async (k, o) => {
        const gone = await store.delete(k, o);
        if (k === DELIVER_AGAIN) firstFlushDone.open();
        return gone;
      },
      put: async (k, v, o) => {
        if (k === alertKey && !stalled) {
          stalled = true;
          released = gate();
          const asked = leases;
          await sleepMs(delayMs);
          if (leases > asked) await released.opened;
        }
        return store.put(k, v, o);
      },
    });
    // CAMS's refusal comes once the flush of what earlier sweeps owe (a flush delay after the check
    // began) is over: no flush is running or queued when the alert is written.
    const cams = sandboxClient(sandbox, 50);
    const check = cams.getHealthStatus.bind(cams);
    cams.getHealthStatus = (...args) => check(...args).finally(() => firstFlushDone.opened.then(() => new Promise<void>((r) => setImmediate(r))));
    const sink = new RecordingSink();
    const report = await sweep(sink, { store: slow, envTargets: [unknown], cams, concurrency: 1, flushDelayMs: delayMs });
    expect(report).toMatchObject({ checked: 1, roundComplete: true });
    expect(stalled).toBe(true);
    expect(sink.received.flatMap((n) => n.items).map((i) => `${i.subject.entityType}:${i.subject.custSpaceId}:${i.reason}`)).toEqual(['TargetRejected:C99990000000099:new']);
  });

  it('sends nothing the invocation would cut off (deliverBy): the alert stays owed for the next sweep', async () => {
    const sink = new RecordingSink();
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED', Errors: blocked });
    clock += 5 * 60_000;
    const ending = await sweep(sink, { deliverBy: Date.now() + 2_000 });
    expect(ending.checked).toBe(1);
    expect(sink.received).toHaveLength(0);
    expect(ending.dispatch?.deferred.map((d) => d.reason)).toContain('the invocation ends before a send could be struck off');
    clock += 5 * 60_000;
    await sweep(sink, { deliverBy: Date.now() + 30_000 });
    expect(sink.received.map((n) => n.items[0]!.reason)).toEqual(['new']);
  });

  it('retries a failed delivery at the next sweep, and sends it once', async () => {
    const sink = new RecordingSink();
    sink.failNext = 1;
    await setHealth(sandbox, { ...phone1(), CanSendMessage: 'BLOCKED' });
    const first = await sweep(sink);
    expect(first.dispatch?.failed).toHaveLength(1);
    expect(sink.received).toHaveLength(0);
    await sweep(sink);
    await sweep(sink);
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]!.items[0]!.reason).toBe('new');
  });
});

describe('the sweep as the receipts backstop', () => {
  it('checks a node whose receipt was not followed by a check as an extra check as soon as the risky index is read; the round keeps its order', async () => {
    const { noteTarget } = await import('../../../shared/monitor/target-info.ts');
    const sink = new RecordingSink();
    const targets = [waba(), phone1(), phone2()];
    // A clock that moves on every reading, so each check has its own time.
    const ticking = () => ++clock;
    // Round 1 checks all three in watch-list order (phone1, phone2, waba); phone2 then gets a receipt.
    await sweep(sink, { envTargets: targets, concurrency: 1, alertClock: ticking });
    await noteTarget(store, phone2(), { lastReceiptAt: clock });
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    space = await onboardThroughFunctions('299399000001', [{ cc: '86', phone: '13800000001' }, { cc: '86', phone: '13800000002' }]);
    await sweep(sink, { envTargets: targets, concurrency: 1, alertClock: ticking });
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Params: Record<string, string> }>;
    const order = calls.filter((c) => c.Action === 'GetWhatsappHealthStatus').map((c) => c.Params['PhoneNumber'] ?? c.Params['NodeType']);
    // phone2 (receipt, no check since) as an extra check as soon as the risky index is in: the tick's
    // first check (phone1) does not wait for that listing (a directory here); then the round goes on in
    // the same order as the last.
    expect(order).toEqual(['8613800000001', '8613800000002', '8613800000002', 'waba']);
  });
});

describe("a space's WABA in both forms in one plan", () => {
  it('the form without a WabaId failing transiently while the index learns the WABA elsewhere: the named form is still checked in the round', async () => {
    const { writeWabaSpace, knownWabaOf } = await import('../../../shared/monitor/waba-space.ts');
    const own: WatchTarget = { CustSpaceId: space, NodeType: 'waba' };
    expect(await knownWabaOf(store, space)).toBeUndefined();
    const inner = sandboxClient(sandbox, 50);
    const answered: string[] = [];
    // CAMS throttles every check of the form without a WabaId; meanwhile the index learns the WABA
    // (a receipt's look-up, the round's entity scan), so the plan held both forms.
    const cams = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'getHealthStatus') {
          return async (t: WatchTarget, ...rest: unknown[]) => {
            if (t.NodeType === 'waba' && t.WabaId === undefined) {
              await writeWabaSpace(store, '299399000001', space);
              throw new CamsError({ Code: 'System.LimitControl', Message: 'The system is under flow control.', httpStatus: 400, retryable: true, action: 'GetWhatsappHealthStatus' });
            }
            const r = await (inner.getHealthStatus as (...a: unknown[]) => Promise<unknown>).call(inner, t, ...rest);
            answered.push(`${t.NodeType}:${t.WabaId ?? t.PhoneNumber ?? ''}`);
            return r;
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    await sweep(new RecordingSink(), { cams, envTargets: [own, waba()], concurrency: 1, sleep: async () => {} });
    expect(answered).toContain('waba:299399000001');
  });
});

describe("a space's WABA in both forms in one plan, the round split over ticks between them", () => {
  it('the form checked in the first tick teaches the index: the other, in the next tick of the round, is not checked again', async () => {
    const { knownWabaOf } = await import('../../../shared/monitor/waba-space.ts');
    const own: WatchTarget = { CustSpaceId: space, NodeType: 'waba' };
    expect(await knownWabaOf(store, space)).toBeUndefined();
    const inner = sandboxClient(sandbox, 50);
    const answered: string[] = [];
    let late = false;
    const cams = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'getHealthStatus') {
          return async (t: WatchTarget, ...rest: unknown[]) => {
            const r = await (inner.getHealthStatus as (...a: unknown[]) => Promise<unknown>).call(inner, t, ...rest);
            answered.push(`${t.NodeType}:${t.WabaId ?? ''}`);
            // The tick's time is up after its first check.
            late = true;
            return r;
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const deadline = Date.now() + 20_000;
    const first = await sweep(new RecordingSink(), { cams, envTargets: [own, waba()], concurrency: 1, deadline, checkBudgetMs: 6000, now: () => Date.now() + (late ? 15_000 : 0) });
    expect(first.roundComplete).toBe(false);
    expect(answered).toEqual(['waba:']);
    expect(await knownWabaOf(store, space)).toBe('299399000001');

    const second = await sweep(new RecordingSink(), { cams, envTargets: [own, waba()], concurrency: 1 });
    expect(second).toMatchObject({ round: first.round, roundComplete: true });
    expect(answered).toEqual(['waba:']);
  });

  it('the form checked in the first tick was refused (the index learnt the WABA elsewhere meanwhile): the other is still checked in the next tick', async () => {
    const { writeWabaSpace } = await import('../../../shared/monitor/waba-space.ts');
    const own: WatchTarget = { CustSpaceId: space, NodeType: 'waba' };
    const inner = sandboxClient(sandbox, 50);
    const answered: string[] = [];
    let late = false;
    const cams = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'getHealthStatus') {
          return async (t: WatchTarget, ...rest: unknown[]) => {
            late = true;
            if (t.NodeType === 'waba' && t.WabaId === undefined) {
              await writeWabaSpace(store, '299399000001', space);
              // The node's own refusal (a missing grant would refuse every check: AuthRefused ends the tick).
              throw new CamsError({ Code: 'Unknown.ResourceOwnerId', Message: 'refused', httpStatus: 404, retryable: false, action: 'GetWhatsappHealthStatus' });
            }
            const r = await (inner.getHealthStatus as (...a: unknown[]) => Promise<unknown>).call(inner, t, ...rest);
            answered.push(`${t.NodeType}:${t.WabaId ?? ''}`);
            return r;
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const deadline = Date.now() + 20_000;
    const first = await sweep(new RecordingSink(), { cams, envTargets: [own, waba()], concurrency: 1, deadline, checkBudgetMs: 6000, now: () => Date.now() + (late ? 15_000 : 0) });
    expect(first.roundComplete).toBe(false);
    expect(answered).toEqual([]);
    const second = await sweep(new RecordingSink(), { cams, envTargets: [own, waba()], concurrency: 1 });
    expect(second).toMatchObject({ round: first.round, roundComplete: true });
    expect(answered).toEqual(['waba:299399000001']);
  });
});
