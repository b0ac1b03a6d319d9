import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_API_KEY } from '../../../local/host/defaults.ts';
import { startHost, type RunningHost } from '../../../local/host/host.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { startReceivers, type Receivers } from '../../support/receivers/index.ts';
import { callRoute, eventually, fc2Client } from './support.ts';

// The configuration that runs on FC: the real serverless.yml and functions, each isolated in its
// own worker with only its own environment. The ALERT_* variables are given to the host's
// environment, and serverless.yml hands them to health-monitor alone; onboarding has no sinks.
let host: RunningHost;
let receivers: Receivers;
let storeDir: string;
const lines: string[] = [];

const WATCHED = { WabaId: '600000000000001', Cc: '86', PhoneNumber: '13800000601', VerifiedName: 'Acme Shop' };
// Another WABA claiming the watched phone: CAMS answers Phone.Exists, a permanent failure.
const CLASHING = { WabaId: '600000000000002', Cc: '86', PhoneNumber: '13800000601', VerifiedName: 'Other Shop' };
const blockedErrors = [{ ErrorCode: '141006', ErrorDescription: 'There is an error with the payment method.', PossibleSolution: 'Add a new payment method to the account.' }];

beforeAll(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-prodcfg-'));
  receivers = await startReceivers({ kinds: ['webhook', 'slack'] });
  host = await startHost({
    port: 0,
    sandbox: { port: 0 },
    timers: false,
    env: { STORE_URL: `file:${storeDir}`, ...receivers.env },
    asyncRetryDelaysMs: [100, 100, 100],
    log: (l) => lines.push(l),
    functionOutput: () => {},
  });
});
afterAll(async () => {
  await host?.close();
  await receivers?.close();
  rmSync(storeDir, { recursive: true, force: true });
});

/** One health-monitor run, as its timer fires it, through the FC invoke API. */
async function sweep(): Promise<void> {
  const event = JSON.stringify({ triggerTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), triggerName: 'sls_timer_health_monitor', payload: '' });
  const res = await fc2Client(host.url, host.accountId, DEFAULT_API_KEY).invokeFunction(host.serviceName, 'health-monitor', event);
  expect(res.headers['x-fc-error-type'], JSON.stringify(res.data)).toBeUndefined();
}

async function onboard(body: typeof WATCHED, status: 'done' | 'failed'): Promise<Record<string, unknown>> {
  const post = await callRoute(host.url, { method: 'POST', path: '/onboardings', body });
  expect(post.status).toBe(202);
  const id = post.json.Data!['OnboardingId'] as string;
  return eventually(async () => {
    const got = await callRoute(host.url, { method: 'GET', path: `/onboardings/${id}` });
    return got.json.Data?.['Status'] === status ? got.json.Data : undefined;
  }, 20_000, `onboarding ${id} ${status}`);
}

const messages = (kind: 'webhook' | 'slack', ...needles: string[]) => receivers.received[kind].filter((m) => needles.every((n) => m.text.includes(n)));

describe('production configuration, end to end', () => {
  it('ALERT_* reach the deliverers only (health-monitor, and cams-events for receipts)', () => {
    for (const [fn, env] of Object.entries(host.environments)) {
      const alertVars = Object.keys(env).filter((k) => k.startsWith('ALERT_'));
      if (fn === 'health-monitor' || fn === 'cams-events') expect(env).toMatchObject(receivers.env);
      else expect(alertVars, fn).toEqual([]);
    }
  });

  it('a BLOCKED phone gives one alert per sink; an onboarding failing at the same time has its alert delivered once, and the monitor still owes what it owed', async () => {
    const watched = await onboard(WATCHED, 'done');
    const space = watched['CustSpaceId'] as string;
    const phone = `${WATCHED.Cc}${WATCHED.PhoneNumber}`;
    await sweep();
    expect(receivers.received.webhook).toHaveLength(0);
    expect(receivers.received.slack).toHaveLength(0);

    // The phone goes BLOCKED while Slack is down: the webhook gets it, Slack is owed it.
    await httpRequest(`${host.sandboxUrl}/__sandbox/health`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: phone, CanSendMessage: 'BLOCKED', Errors: blockedErrors }),
    });
    receivers.failNext('slack', 1_000);
    await sweep();
    expect(messages('webhook', 'BLOCKED', phone)).toHaveLength(1);
    expect(messages('slack', 'BLOCKED', phone)).toHaveLength(0);
    expect(receivers.receivers.slack!.requests).toBeGreaterThan(0);

    // Meanwhile an onboarding fails for good (its phone belongs to the watched WABA).
    const failed = await onboard(CLASHING, 'failed');
    const failedId = failed['OnboardingId'] as string;
    expect(String(failed['FailureReason'])).toContain('Phone.Exists');

    // Slack is back; the monitor's next sweeps deliver what is owed, each message once: the BLOCKED
    // alert to Slack (the onboarding must not have struck it) and the onboarding's alert to both
    // sinks (onboarding only records it; the monitor, which has the sinks, delivers it).
    receivers.failNext('slack', 0);
    await sweep();
    await sweep();
    for (const kind of ['webhook', 'slack'] as const) {
      expect.soft(messages(kind, 'BLOCKED', phone), `${kind}: the BLOCKED alert`).toHaveLength(1);
      expect.soft(messages(kind, failedId), `${kind}: the onboarding's failure alert`).toHaveLength(1);
    }
    expect(receivers.receivers.webhook!.duplicates).toEqual([]);

    // And nothing more on a later sweep.
    const before = { webhook: receivers.received.webhook.length, slack: receivers.received.slack.length };
    await sweep();
    expect({ webhook: receivers.received.webhook.length, slack: receivers.received.slack.length }).toEqual(before);
  }, 120_000);
});
