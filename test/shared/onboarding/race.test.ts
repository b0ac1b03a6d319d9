import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { openStore } from '../../../shared/store/index.ts';
import type { Store } from '../../../shared/store/port.ts';
import { readActive } from '../../../shared/onboarding/active.ts';
import { runOnboarding, type OnboardingOutcome } from '../../../shared/onboarding/onboard.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import { onboardingIdFor } from '../../../shared/onboarding/payload.ts';
import { fixture } from '../../support/events.ts';
import { sandboxClient } from '../../support/monitor.ts';
import { sandboxControl, sandboxForFunctions } from '../../support/sandbox-env.ts';
import { gate, stallAfterFirst, storeWith } from '../../support/store.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../store/redis-server.ts';
import { camsCalls, okCalls } from './support.ts';

const bin = findOnPath('redis-server') ?? '/usr/bin/redis-server';
let redis: RedisServer;
let sandbox: RunningSandbox;
let store: Store;

beforeAll(async () => {
  redis = await startRedisServer(bin);
  sandbox = await sandboxForFunctions();
  store = await openStore(redis.url);
});
afterAll(async () => {
  await store?.close();
  await sandbox?.close();
  await redis?.stop();
});

function invoke(event: unknown, startAt: number, env: Record<string, string> = {}): Promise<{ ok: boolean; name?: string; out?: { status: string; duplicate?: boolean } }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/onboarding-race-child.ts'], {
      env: { ...process.env, STORE_URL: redis.url, CAMS_ENDPOINT: sandbox.url, LOG_LEVEL: 'silent', ONBOARDING_EVENT: JSON.stringify(event), START_AT: String(startAt), ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.on('error', reject);
    p.on('close', () => {
      const line = stdout.trim().split('\n').filter((l) => l.startsWith('{"ok"')).at(-1);
      resolve(line ? JSON.parse(line) : { ok: false, name: `no output: ${stdout}` });
    });
  });
}

describe('the same onboarding from three processes on one redis at the same instant', () => {
  it('POST /onboardings\' invoke, an MNS message and an EventBridge event with one IdempotencyKey: one bind, one add, one done record', async () => {
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    const payload = { WabaId: '3700000000001', Cc: '65', PhoneNumber: '97000001', VerifiedName: 'Acme Shop', IdempotencyKey: 'race-1' };
    const id = onboardingIdFor('key:race-1');
    const mns = { id: 'mns-1', source: 'acs:mns', type: 'mns:Queue:SendMessage', specversion: '1.0', data: { messageBody: JSON.stringify(payload) } };
    const eb = { ...fixture('eventbridge-event.json'), id: 'eb-1', data: payload };
    const startAt = Date.now() + 2500;
    const outs = await Promise.all([invoke({ OnboardingId: id, Payload: payload }, startAt), invoke(mns, startAt), invoke(eb, startAt)]);
    expect(await okCalls(sandbox, 'ChatappBindWaba')).toHaveLength(1);
    expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
    expect((await camsCalls(sandbox)).filter((c) => c.Action === 'AddChatappPhoneNumber')).toHaveLength(1);
    const rec = (await store.get<OnboardingRecord>(recordKey(id)))!.value;
    expect(rec.Status).toBe('done');
    expect(outs.filter((o) => o.ok && o.out?.status === 'done' && !o.out.duplicate)).toHaveLength(1);
    expect(outs.filter((o) => !o.ok).every((o) => o.name === 'OnboardingInProgressError')).toBe(true);
    expect(await readActive(store)).toEqual({});
  }, 60_000);
});

/** The store as one delivery sees it: its lease release waits for `resume`, once it has called `reached`. */
function releaseStalled(s: Store, reached: () => void, resume: Promise<void>): Store {
  return storeWith(s, {
    acquireLease: async (...args) => {
      const lease = await s.acquireLease(...args);
      if (!lease) return lease;
      return new Proxy(lease, {
        get: (l, p) =>
          p === 'release'
            ? async () => {
                reached();
                await resume;
                return l.release();
              }
            : Reflect.get(l, p, l),
      });
    },
  });
}

describe('a delivery that read no record, then stalled while another one ran the onboarding to its end', () => {
  let n = 0;
  const next = () => {
    n++;
    const payload = { WabaId: `37100000000${n}`, Cc: '65', PhoneNumber: `9710000${n}`, VerifiedName: 'Acme Shop', IdempotencyKey: `stall-${n}` };
    return { payload, id: onboardingIdFor(`key:stall-${n}`) };
  };
  const deps = (s: Store) => ({ store: s, cams: sandboxClient(sandbox), deadline: Date.now() + 20_000 });

  it('resumed after that run is over: answered from the done record, and its index entry does not stay behind', async () => {
    const { payload, id } = next();
    // Its first read of the record, then a stall (a process descheduled right after it, as on a loaded machine).
    const late = stallAfterFirst(store, 'get', (k) => k === recordKey(id));
    const lateRun = runOnboarding(deps(late.store), { payload });
    await late.reached;
    expect(await runOnboarding(deps(store), { payload })).toMatchObject({ status: 'done', duplicate: false });
    expect(await readActive(store)).toEqual({});
    late.resume();
    expect(await lateRun).toMatchObject({ status: 'done', duplicate: true });
    expect(await readActive(store)).toEqual({});
  }, 30_000);

  it('resumed while that run, its index entry gone, still holds the lease: answered from the done record, no index entry left', async () => {
    const { payload, id } = next();
    // Its first read of the record, then a stall (a process descheduled right after it, as on a loaded machine).
    const late = stallAfterFirst(store, 'get', (k) => k === recordKey(id));
    const lateRun = runOnboarding(deps(late.store), { payload });
    await late.reached;
    const releasing = gate();
    const resumeRelease = gate();
    const first = releaseStalled(store, releasing.open, resumeRelease.opened);
    const firstRun = runOnboarding(deps(first), { payload });
    await releasing.opened;
    late.resume();
    const lateOut: OnboardingOutcome | Error = await lateRun.catch((e: Error) => e);
    resumeRelease.open();
    expect(await firstRun).toMatchObject({ status: 'done', duplicate: false });
    expect(await readActive(store)).toEqual({});
    // Not OnboardingInProgressError: nothing is in progress any more, so no FC retry is needed.
    expect(lateOut).toMatchObject({ status: 'done', duplicate: true });
  }, 30_000);
});
