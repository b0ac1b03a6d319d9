import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { loadWatchList } from '../../../shared/monitor/targets.ts';
import { readActive } from '../../../shared/onboarding/active.ts';
import { runOnboarding, type OnboardingRequest } from '../../../shared/onboarding/onboard.ts';
import { idempotencyKeyFor, onboardingIdFor, type OnboardingPayload } from '../../../shared/onboarding/payload.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import { redriveStalled } from '../../../shared/onboarding/redrive.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { sandboxClient } from '../../support/monitor.ts';
import { sandboxControl, sandboxForFunctions } from '../../support/sandbox-env.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';
import { startTcpProxy, type TcpProxy } from '../store/tcp-proxy.ts';
import { camsCalls, onboardingDeps } from './support.ts';

const redisBin = findOnPath('redis-server');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** FC's async invocation: the first attempt, then 3 retries 1, 2 and 4 s apart; then the event is dropped. */
async function fcAsyncInvoke(run: () => Promise<unknown>): Promise<'ok' | 'dropped'> {
  for (const wait of [0, 1_000, 2_000, 4_000]) {
    await sleep(wait);
    try {
      await run();
      return 'ok';
    } catch {
      // FC retries a failed invocation
    }
  }
  return 'dropped';
}

describe.skipIf(!redisBin)('a store outage longer than FC\'s retries (real redis-server behind a TCP proxy, cut for 15 s)', () => {
  let server: RedisServer;
  let proxy: TcpProxy;
  let sandbox: RunningSandbox;
  let store: Store; // what the function instance uses: through the proxy
  let observer: Store; // the test's own view: straight to redis, never cut

  beforeAll(async () => {
    server = await startRedisServer(redisBin!);
    proxy = await startTcpProxy(server.port);
    sandbox = await sandboxForFunctions();
    const ns = `cut-${randomBytes(3).toString('hex')}:`;
    store = await openStore(`redis://127.0.0.1:${proxy.port}?namespace=${ns}`);
    observer = await openStore(`${server.url}?namespace=${ns}`);
  });
  afterAll(async () => {
    await store?.close();
    await observer?.close();
    await sandbox?.close();
    await proxy?.close();
    await server?.stop();
  });

  it('10 onboardings in flight all end done after the store returns, with one add per number and the targets watched', async () => {
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    // Slow CAMS (1.5 s a call) so the cut lands while calls are out, in different steps.
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { latencyMs: 1_500 });
    const requests: OnboardingRequest[] = Array.from({ length: 10 }, (_, i) => ({
      payload: { WabaId: `36000000000${String(i).padStart(2, '0')}`, Cc: '65', PhoneNumber: `960000${String(i).padStart(2, '0')}`, VerifiedName: 'Acme Shop' },
      event: { source: 'test.store-cut', id: `cut-${i}` },
    }));
    const ids = requests.map((r) => onboardingIdFor(idempotencyKeyFor(r.payload as OnboardingPayload, r.event)));
    const cams = sandboxClient(sandbox);
    const deliveries = requests.map(async (req, i) => {
      await sleep(i * 300); // staggered arrivals
      return fcAsyncInvoke(() => runOnboarding(onboardingDeps({ store, cams, deadline: Date.now() + 4_000 }), req));
    });

    // Every onboarding has its record (it is in progress), then the store goes away for 15 s.
    for (let i = 0; i < 200 && (await Promise.all(ids.map((id) => observer.get(recordKey(id))))).some((r) => !r); i++) await sleep(50);
    await sleep(600);
    proxy.cut('reset');
    const cutAt = Date.now();
    const outcomes = await Promise.all(deliveries);
    // FC's retries (1 + 2 + 4 s) are spent inside the outage: some deliveries were dropped for good.
    expect(outcomes).toContain('dropped');
    const stuck = (await Promise.all(ids.map((id) => observer.get<OnboardingRecord>(recordKey(id))))).filter((r) => r!.value.Status !== 'done');
    expect(stuck.length).toBeGreaterThan(0);
    await sleep(Math.max(0, cutAt + 15_000 - Date.now()));
    proxy.restore();
    await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});

    // The re-drive timer (its FC trigger fires every minute; here every second, with a short grace).
    for (let tick = 0; tick < 30 && Object.keys(await readActive(observer)).length > 0; tick++) {
      await redriveStalled(onboardingDeps({ store, cams, deadline: Date.now() + 60_000 }), { graceMs: 1_000, baseDelayMs: 1_000, reserveMs: 0 }).catch(() => undefined);
      await sleep(1_000);
    }

    const records = await Promise.all(ids.map(async (id) => (await observer.get<OnboardingRecord>(recordKey(id)))!.value));
    expect(records.map((r) => r.Status)).toEqual(ids.map(() => 'done'));
    expect(await readActive(observer)).toEqual({});
    const calls = await camsCalls(sandbox);
    for (const req of requests) {
      const p = req.payload as OnboardingPayload;
      // One number added once: a repeat after the outage met our own number (Phone.Exists), never a second add.
      expect(calls.filter((c) => c.Action === 'AddChatappPhoneNumber' && c.Code === 'OK' && c.Params['PhoneNumber'] === p.PhoneNumber)).toHaveLength(1);
      // A bind repeated after the outage reads back the same space; it creates nothing.
      const binds = calls.filter((c) => c.Action === 'ChatappBindWaba' && c.Params['WabaId'] === p.WabaId);
      expect(binds.length).toBeLessThanOrEqual(2);
    }
    const spaces = new Set(records.map((r) => r.CustSpaceId));
    expect(spaces.size).toBe(10);
    const { targets } = await loadWatchList(observer, []);
    for (const r of records) expect(targets.map((t) => t.id)).toContain(`phone:${r.CustSpaceId}:65${r.Payload.PhoneNumber}`);
  }, 120_000);
});
