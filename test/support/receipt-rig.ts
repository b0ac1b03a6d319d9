import { afterEach, beforeEach } from 'vitest';
import type { RunningSandbox } from '../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../local/sandbox/server.ts';
import { sinksFromEnv } from '../../shared/alerts/sinks/index.ts';
import { loadMonitorConfig } from '../../shared/config/monitor.ts';
import { registerWatchTarget, type WatchTarget } from '../../shared/monitor/targets.ts';
import { camsEventsHandler } from '../../shared/services/cams-events.ts';
import { runHealthMonitor } from '../../shared/services/health-monitor.ts';
import type { Store } from '../../shared/store/port.ts';
import { fcContext, fixture } from './events.ts';
import { onboardThroughFunctions, sandboxPerFileStorePerTest, setHealth } from './monitor.ts';
import { startReceiptForwarder, type ReceiptForwarder } from './receipt-forwarder.ts';
import { startReceivers, type Receivers } from './receivers/index.ts';
import { sandboxControl } from './sandbox-env.ts';

/** A watched space whose health changes the sandbox pushes to cams-events as CAMS does, per test. */
export interface ReceiptRig {
  sandbox: RunningSandbox;
  store: Store;
  receivers: Receivers;
  forwarder: ReceiptForwarder;
  space: string;
  /** Sets a node's health in the sandbox, which pushes its receipt; resolves once cams-events answered it. */
  pushChange(node: Record<string, unknown>, to: string): Promise<void>;
  /** One health-monitor invocation, on its timer, at alert time `at`. */
  sweep(at: number): Promise<unknown>;
  /** Each webhook message so far, as its items' `<node kind> <status> <reason>`, sorted. */
  messages(): string[][];
}

export interface ReceiptRigOptions {
  token: string;
  waba: string;
  phone: { cc: string; phone: string };
  /** What is watched, once the space is bound. */
  targets: (space: string) => WatchTarget[];
  alertClock: () => number;
}

const key = DEFAULT_SANDBOX_KEYS[0]!;
const context = () => fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;

/** Each test gets a fresh sandbox store, a webhook receiver and a forwarder into a real cams-events. */
export function sandboxPushingReceipts(opts: ReceiptRigOptions, use: (rig: ReceiptRig) => void): void {
  let parts: { sandbox: RunningSandbox; store: Store; storeUrl: string };
  sandboxPerFileStorePerTest((p) => (parts = p), { quiet: true });
  let rig: ReceiptRig | undefined;
  beforeEach(async () => {
    const { sandbox, store, storeUrl } = parts;
    const receivers = await startReceivers({ kinds: ['webhook'] });
    const space = await onboardThroughFunctions(opts.waba, [opts.phone]);
    for (const t of opts.targets(space)) await registerWatchTarget(store, t, 'test');
    const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...receivers.env };
    const handler = camsEventsHandler({ env: { ...env, CAMS_RECEIPT_TOKEN: opts.token }, write: () => {}, alertClock: opts.alertClock });
    const forwarder = await startReceiptForwarder(handler as never, opts.token, context);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/receipts', { Url: forwarder.url });
    rig = {
      sandbox,
      store,
      receivers,
      forwarder,
      space,
      async pushChange(node, to) {
        const n = forwarder.pushes.length + 1;
        await setHealth(sandbox, { CustSpaceId: space, ...node, CanSendMessage: to });
        await forwarder.handled(n);
      },
      messages: () =>
        receivers.received.webhook.map((m) => (m.body as { items: Array<{ status: string; reason: string; node: string }> }).items.map((i) => `${i.node.split(' ')[0]} ${i.status} ${i.reason}`).sort()),
      sweep(at) {
        const inv = { event: fixture('timer-event.json'), context: context(), requestId: 'tick', deadline: Date.now() + 60_000 };
        return runHealthMonitor(inv, { config: loadMonitorConfig(env), store, sinks: sinksFromEnv(env) }, () => at);
      },
    };
    use(rig);
  });
  afterEach(async () => {
    await rig?.forwarder.close();
    await rig?.receivers.close();
    rig = undefined;
  });
}
