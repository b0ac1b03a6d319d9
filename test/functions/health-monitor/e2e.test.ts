import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { sinksFromEnv } from '../../../shared/alerts/sinks/index.ts';
import { loadMonitorConfig } from '../../../shared/config/monitor.ts';
import { runHealthMonitor } from '../../../shared/services/health-monitor.ts';
import { HealthSweep } from '../../../shared/monitor/sweep.ts';
import { registerWatchTarget, type WatchTarget } from '../../../shared/monitor/targets.ts';
import type { Store } from '../../../shared/store/port.ts';
import { handler as healthMonitor } from '../../../functions/health-monitor/handler.ts';
import { fcContext, fixture } from '../../support/events.ts';
import { onboardThroughFunctions, sandboxClient, sandboxPerFileStorePerTest, setHealth } from '../../support/monitor.ts';
import { RECEIVER_KINDS, startReceivers, type Receivers } from '../../support/receivers/index.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';

const HOUR = 3_600_000;
let sandbox: RunningSandbox;
let receivers: Receivers;
let store: Store;
let storeUrl: string;
let space: string;

const blockedErrors = [
  { ErrorCode: '141006', ErrorDescription: 'There is an error with the payment method.', PossibleSolution: 'Add a new payment method to the account.' },
];

sandboxPerFileStorePerTest((parts) => ({ sandbox, store, storeUrl } = parts), { quiet: true });
beforeEach(async () => {
  receivers = await startReceivers();
  space = await onboardThroughFunctions('299399000100', [{ cc: '86', phone: '13800000100' }]);
});
afterEach(async () => {
  await receivers.close();
});

const phone = (): WatchTarget => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000100' });

function counts(): Record<string, number> {
  return Object.fromEntries(RECEIVER_KINDS.map((k) => [k, receivers.received[k].length]));
}
const each = (n: number) => Object.fromEntries(RECEIVER_KINDS.map((k) => [k, n]));

/** One health-monitor invocation in its own process (test/fixtures/sweep-child.ts), as FC runs it, to be killed. */
function spawnSweep(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/sweep-child.ts'], {
    env: {
      ...process.env,
      ...receivers.env,
      STORE_URL: storeUrl,
      CAMS_ENDPOINT: sandbox.url,
      ALIBABA_CLOUD_ACCESS_KEY_ID: DEFAULT_SANDBOX_KEYS[0]!.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: DEFAULT_SANDBOX_KEYS[0]!.accessKeySecret,
      MONITOR_QPS: '5',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const closed = new Promise((r) => child.on('close', r));
  return { child, output: () => out, closed };
}

/** Ticks until one runs (a killed sweep's lease runs out after its budget + 5 s), and its report. */
async function nextTickThatRuns() {
  for (let i = 0; ; i++) {
    const report = await new HealthSweep({
      store,
      cams: sandboxClient(sandbox, 5),
      sinks: sinksFromEnv(receivers.env),
      policy: { minConsecutive: 1, repeatIntervalMs: 4 * HOUR },
      envTargets: [],
      concurrency: 5,
      deadline: Date.now() + 20_000,
    }).run();
    if (!report.skipped || i >= 79) return report;
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('health monitor end to end: sandbox → sweep → every sink, checked as the real services check', () => {
  it('BLOCKED → one alert per sink; unchanged → none; past the repeat interval → one reminder; recovery → one resolved', async () => {
    const env = { ...receivers.env, STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, MONITOR_TARGETS: JSON.stringify([phone()]) };
    let clock = Date.now();
    const runtime = { config: loadMonitorConfig(env), store, sinks: sinksFromEnv(env) };
    expect(runtime.sinks.map((s) => s.name).sort()).toEqual([...RECEIVER_KINDS].sort());
    const tick = async (advanceMs: number) => {
      clock += advanceMs;
      const inv = { event: fixture('timer-event.json'), context: fcContext({ credentials: { accessKeyId: DEFAULT_SANDBOX_KEYS[0]!.accessKeyId, accessKeySecret: DEFAULT_SANDBOX_KEYS[0]!.accessKeySecret } }) as never, requestId: 'tick', deadline: Date.now() + 30_000 };
      return runHealthMonitor(inv, runtime, () => clock);
    };

    await tick(0);
    expect(counts()).toEqual(each(0));

    await setHealth(sandbox, { ...phone(), CanSendMessage: 'BLOCKED', Errors: blockedErrors });
    await tick(5 * 60_000);
    expect(counts()).toEqual(each(1));
    for (const k of RECEIVER_KINDS) {
      const text = receivers.received[k][0]!.text;
      for (const needle of ['BLOCKED', '8613800000100', '141006', 'There is an error with the payment method.', 'Add a new payment method to the account.']) {
        expect(text, `${k} message shows ${needle}`).toContain(needle);
      }
    }

    await tick(5 * 60_000);
    expect(counts()).toEqual(each(1));

    await tick(4 * HOUR);
    expect(counts()).toEqual(each(2));
    for (const k of RECEIVER_KINDS) expect(receivers.received[k][1]!.text.toLowerCase()).toContain('reminder');

    await setHealth(sandbox, { ...phone(), CanSendMessage: 'AVAILABLE' });
    await tick(5 * 60_000);
    expect(counts()).toEqual(each(3));
    for (const k of RECEIVER_KINDS) expect(receivers.received[k][2]!.text.toLowerCase()).toContain('resolved');

    await tick(5 * 60_000);
    expect(counts()).toEqual(each(3));
  });

  it('the deployed handler: a timer event sweeps and alerts', async () => {
    Object.assign(process.env, receivers.env, { STORE_URL: storeUrl, MONITOR_TARGETS: JSON.stringify([phone()]) });
    try {
      await setHealth(sandbox, { ...phone(), CanSendMessage: 'LIMITED' });
      const report = await healthMonitor(Buffer.from(JSON.stringify(fixture('timer-event.json'))), fcContext() as never);
      expect(report).toMatchObject({ targets: 1, checked: 1, roundComplete: true });
      expect(counts()).toEqual(each(1));
    } finally {
      for (const k of [...Object.keys(receivers.env), 'MONITOR_TARGETS']) delete process.env[k];
    }
  });

  it('a sweep killed half-way: the next completes the list, no alert lost or doubled', async () => {
    const targets: WatchTarget[] = [];
    for (let i = 0; i < 20; i++) targets.push({ CustSpaceId: space, NodeType: 'template', TemplateCode: `tpl_${String(i).padStart(2, '0')}`, Language: 'en' });
    // The sandbox, like CAMS, knows only templates the space has.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: targets.map((t) => ({ TemplateCode: t.TemplateCode, Language: t.Language })) });
    for (const t of targets) await registerWatchTarget(store, t, 'test');
    const blocked = targets.filter((_, i) => i % 3 === 0);
    for (const t of blocked) await setHealth(sandbox, { ...t, CanSendMessage: 'LIMITED' });

    const { child, output, closed } = spawnSweep({
      SWEEP_BUDGET_MS: '12000',
      // Killed in its checks, not in a send: a kill between a sink's answer and the strike re-sends
      // that one message (at least once, by design of the deliverer).
      SWEEP_FLUSH_MS: '60000',
    });
    // Kill it once it is under way but far from done (20 targets at 5 QPS take ~4 s).
    const started = Date.now();
    for (;;) {
      const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string }>;
      if (calls.filter((c) => c.Action === 'GetWhatsappHealthStatus').length >= 6 || Date.now() - started > 20_000) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await closed;
    expect(output()).not.toContain('"finished":true');
    const before = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string }>;
    const checkedBefore = before.filter((c) => c.Action === 'GetWhatsappHealthStatus').length;
    expect(checkedBefore).toBeGreaterThan(0);
    expect(checkedBefore).toBeLessThan(20);

    // The dead sweep's lease runs out (its budget + 5 s); then the next tick takes over.
    const report = await nextTickThatRuns();
    expect(report).toMatchObject({ roundComplete: true });
    const after = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Params: Record<string, string> }>;
    const checked = after.filter((c) => c.Action === 'GetWhatsappHealthStatus').map((c) => c.Params['TemplateCode']);
    // Every target checked; the ones the dead sweep finished are not checked again (at most the ones in flight).
    expect(new Set(checked)).toEqual(new Set(targets.map((t) => t.TemplateCode)));
    expect(checked.length).toBeLessThanOrEqual(20 + 5);

    // Each blocked template alerted exactly once on every sink, whichever sweep found it.
    for (const k of RECEIVER_KINDS) {
      for (const t of blocked) {
        expect(receivers.received[k].filter((m) => m.text.includes(t.TemplateCode!)), `${k}: ${t.TemplateCode}`).toHaveLength(1);
      }
    }
    const webhookItems = receivers.received.webhook.flatMap((m) => (m.body as { items: Array<{ fingerprint: string }> }).items.map((i) => i.fingerprint));
    expect(webhookItems).toHaveLength(blocked.length);
    expect(new Set(webhookItems).size).toBe(blocked.length);
  }, 120_000);

  it('a sweep killed while throttled checks wait for their re-check in the tick: the next tick checks them, each one alert', async () => {
    const targets: WatchTarget[] = [0, 1, 2].map((i) => ({ CustSpaceId: space, NodeType: 'template', TemplateCode: `tpl_r${i}`, Language: 'en' }));
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: targets.map((t) => ({ TemplateCode: t.TemplateCode, Language: t.Language })) });
    for (const t of targets) await registerWatchTarget(store, t, 'test');
    await setHealth(sandbox, { ...targets[1]!, CanSendMessage: 'LIMITED' });
    // CAMS throttles every call: each check ends transient after the client's attempts and waits for its re-check.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { throttleRate: 1 });

    const { child, output, closed } = spawnSweep({
      // Room for a re-check before the deadline minus the 6 s a check may need, even when the first
      // check's own attempts are slow (a loaded machine: at 9 s the child once ended without one).
      SWEEP_BUDGET_MS: '15000',
    });
    let waiting: () => void = () => {};
    const rechecking = new Promise<void>((r) => (waiting = r));
    child.stdout.on('data', () => {
      if (output().includes('re-checked in this tick after a backoff')) waiting();
    });
    await Promise.race([rechecking, closed]);
    child.kill('SIGKILL');
    await closed;
    expect(output()).toContain('re-checked in this tick after a backoff');
    expect(output()).not.toContain('"finished":true');
    const throttled = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Code: string }>;
    expect(throttled.filter((c) => c.Action === 'GetWhatsappHealthStatus' && c.Code === 'OK')).toHaveLength(0);

    // CAMS answers again; once the dead sweep's lease runs out, the next tick checks what it left.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
    const report = await nextTickThatRuns();
    expect(report).toMatchObject({ roundComplete: true, transientFailures: 0 });
    const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Action: string; Code: string; Params: Record<string, string> }>;
    const ok = calls.filter((c) => c.Action === 'GetWhatsappHealthStatus' && c.Code === 'OK').map((c) => c.Params['TemplateCode']);
    expect(ok.sort()).toEqual(targets.map((t) => t.TemplateCode));
    // No retry key is left behind, and the LIMITED template alerted exactly once on every sink.
    expect((await store.list('monitor/round/')).filter((e) => e.key.includes('/retry/'))).toEqual([]);
    for (const k of RECEIVER_KINDS) expect(receivers.received[k].filter((m) => m.text.includes('tpl_r1')), k).toHaveLength(1);
  }, 120_000);
});
