import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_API_KEY } from '../../../local/host/defaults.ts';
import { startHost, type RunningHost } from '../../../local/host/host.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { callRoute, eventually, fc2Client } from '../host/support.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../../support/receivers/index.ts';

// Issue #8: the host's records (./.data) survived a restart of `npm start`, the sandbox's world did
// not, so every watched target got Unknown.ResourceOwnerId and a false TargetRejected alert. Now
// the sandbox keeps its state beside the records; a restart on the same data sees the same CAMS.
let storeDir: string;
let receiver: WebhookReceiver;
const lines: string[] = [];

beforeAll(async () => {
  process.env['LOG_LEVEL'] = 'warn';
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-restart-'));
  receiver = await startWebhookReceiver();
});
afterAll(async () => {
  delete process.env['LOG_LEVEL'];
  await receiver?.close();
  rmSync(storeDir, { recursive: true, force: true });
});

function hostEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { STORE_URL: `file:${storeDir}`, ALERT_WEBHOOK_URL: receiver.url, ALERT_WEBHOOK_SECRET: receiver.secret, ...extra };
}

/** `sandboxPort`: a restart listens where the first run did, as `npm start` does on 9100 (and the functions' CAMS clients, module-level in this one process, keep their endpoint). */
function startOn(env: Record<string, string>, sandboxPort = 0): Promise<RunningHost> {
  return startHost({ port: 0, sandbox: { port: sandboxPort }, timers: false, env, log: (l) => lines.push(l) });
}

/** One health-monitor tick, as FC's timer fires it (synchronously, through the invoke API). */
interface SweepReport {
  checked: number;
  transientFailures: number;
  roundComplete: boolean;
  dispatch: { delivered: unknown[] };
}

async function sweep(host: RunningHost): Promise<SweepReport> {
  const event = readFileSync(new URL('../../fixtures/timer-event.json', import.meta.url), 'utf8');
  const res = await fc2Client(host.url, host.accountId, DEFAULT_API_KEY).invokeFunction(host.serviceName, 'health-monitor', event);
  return res.data as SweepReport;
}

async function healthCalls(host: RunningHost): Promise<Array<{ Action: string; Code: string; Params: Record<string, string> }>> {
  const res = await httpRequest(`${host.sandboxUrl}/__sandbox/calls`);
  return (JSON.parse(res.body.toString()) as Array<{ Action: string; Code: string; Params: Record<string, string> }>).filter((c) => c.Action === 'GetWhatsappHealthStatus');
}

describe('the local host restarted on the same data', () => {
  it('targets watched before the restart (onboarding and MONITOR_TARGETS) raise no false alert after it', async () => {
    // Before: an onboarding puts a WABA and its phone under watch; a sweep sees them AVAILABLE.
    let host = await startOn(hostEnv());
    const sandboxPort = Number(new URL(host.sandboxUrl!).port);
    let space: string;
    try {
      expect(host.sandboxUrl).toBeDefined();
      const post = await callRoute(host.url, { method: 'POST', path: '/onboardings', body: { WabaId: '310000000000001', Cc: '65', PhoneNumber: '91110001', VerifiedName: 'Acme Shop' } });
      expect(post.status).toBe(202);
      const id = post.json.Data!['OnboardingId'] as string;
      const done = await eventually(async () => {
        const got = await callRoute(host.url, { method: 'GET', path: `/onboardings/${id}` });
        return got.json.Data?.['Status'] === 'done' ? got.json.Data : undefined;
      }, 20_000, 'the onboarding');
      space = done['CustSpaceId'] as string;
      expect(await sweep(host)).toMatchObject({ checked: 2, transientFailures: 0, roundComplete: true, dispatch: { delivered: [] } });
      expect((await healthCalls(host)).map((c) => c.Code)).toContain('OK');
      expect(receiver.received).toEqual([]);
    } finally {
      await host.close();
    }

    // After: the same store (hence the same sandbox state), plus the same phone named in MONITOR_TARGETS.
    const targets = [{ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '6591110001' }];
    host = await startOn(hostEnv({ MONITOR_TARGETS: JSON.stringify(targets) }), sandboxPort);
    try {
      expect(await sweep(host)).toMatchObject({ checked: 2, transientFailures: 0, roundComplete: true, dispatch: { delivered: [] } });
      const calls = await healthCalls(host);
      expect(calls.length).toBeGreaterThanOrEqual(2);
      expect(calls.filter((c) => c.Code !== 'OK')).toEqual([]);
      expect(calls.every((c) => c.Params['CustSpaceId'] === space)).toBe(true);
      expect(receiver.received).toEqual([]);
      expect(receiver.rejected).toEqual([]);
      const report = await callRoute(host.url, { method: 'GET', path: '/health-report' });
      expect(report.status).toBe(200);
      const nodes = report.json.Data!['Nodes'] as Array<{ Firing?: boolean; CanSendMessage?: string }>;
      expect(nodes.length).toBeGreaterThan(0);
      expect(nodes.filter((n) => n.Firing)).toEqual([]);
    } finally {
      await host.close();
    }
  }, 90_000);
});
