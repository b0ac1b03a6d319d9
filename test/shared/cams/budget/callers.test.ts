// Which priority each caller draws the account's CAMS budget at. The priority is the caller's
// lookahead (budget.ts): an HTTP call waits up to its deadline, onboarding and a receipt's check at
// most 2 s, the sweep one slot, discovery only a free slot. A caller at the wrong one either starves
// the others (a sweep at 'interactive' would queue ahead of every HTTP caller) or starves itself, and
// nothing else would show it: every call still succeeds on an idle account. So each entry point runs
// here as FC runs it, and the budget's requests are recorded.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunningSandbox } from '../../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../../local/sandbox/server.ts';
import { signRouteRequest } from '../../../../local/client/route-request.ts';
import { handler as getHealthStatus } from '../../../../functions/get-health-status/handler.ts';
import { CamsBudget, type SlotRequest } from '../../../../shared/cams/budget/budget.ts';
import { registerWatchTarget } from '../../../../shared/monitor/targets.ts';
import { WatchEntries } from '../../../../shared/watch-list/entry.ts';
import { addWatchEntries } from '../../../../shared/watch-list/store.ts';
import { camsEventsHandler } from '../../../../shared/services/cams-events.ts';
import { monitorRuntime, runHealthMonitor } from '../../../../shared/services/health-monitor.ts';
import { handleOnboardingEvent, onboardingRuntime } from '../../../../shared/services/onboarding.ts';
import type { Store } from '../../../../shared/store/port.ts';
import { fcContext, fixture, httpEvent, parseReply } from '../../../support/events.ts';
import { onboardThroughFunctions, RecordingSink, sandboxPerFileStorePerTest } from '../../../support/monitor.ts';
import { CALLER_KEY } from '../../../support/sandbox-env.ts';

const WABA = '299399000700';
const PHONE = '8613800000700';
const TOKEN = 'receipt-token-0123456789abcdef';
let sandbox: RunningSandbox;
let store: Store;
let storeUrl: string;

sandboxPerFileStorePerTest((parts) => ({ sandbox, store, storeUrl } = parts), { quiet: true });

const account = DEFAULT_SANDBOX_KEYS[0]!;
const context = () => fcContext({ credentials: { accessKeyId: account.accessKeyId, accessKeySecret: account.accessKeySecret } }) as never;
const invocation = (event: unknown, requestId: string) => ({ event, context: context(), requestId, deadline: Date.now() + 30_000 });

let asked: SlotRequest[];
beforeEach(() => {
  asked = [];
  const acquire = CamsBudget.prototype.acquire;
  vi.spyOn(CamsBudget.prototype, 'acquire').mockImplementation(function (this: CamsBudget, req) {
    asked.push(req);
    return acquire.call(this, req);
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The (action, priority) pairs drawn since the last call, once each, sorted. */
function drawn(): string[] {
  const pairs = [...new Set(asked.map((r) => `${r.action}@${r.priority}`))].sort();
  asked = [];
  return pairs;
}

describe('the priority each caller draws the CAMS budget at', () => {
  it('HTTP functions are interactive; onboarding and receipts background; the sweep sweep; discovery discovery', async () => {
    // The HTTP functions: bind, add a number, read a node's health.
    const space = await onboardThroughFunctions(WABA, [{ cc: '86', phone: '13800000700' }]);
    const req = signRouteRequest({ method: 'GET', path: '/health-status', query: { CustSpaceId: space, NodeType: 'phone', PhoneNumber: PHONE } }, 'h', CALLER_KEY, { nonce: `callers-${process.pid}` });
    expect(parseReply(await getHealthStatus(httpEvent(req, 'fc-http'), fcContext() as never)).statusCode).toBe(200);
    expect(drawn()).toEqual(['AddChatappPhoneNumber@interactive', 'ChatappBindWaba@interactive', 'GetWhatsappHealthStatus@interactive']);

    // Onboarding from an event: a WABA of its own, so it binds and adds a number again.
    const onboarding = await onboardingRuntime({ STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url })();
    const event = { ...fixture<Record<string, unknown>>('eventbridge-event.json'), id: 'evt-callers', data: { WabaId: '299399000701', Cc: '86', PhoneNumber: '13800000701', VerifiedName: 'Acme Shop' } };
    expect((await handleOnboardingEvent(invocation(event, 'onb'), onboarding)).status).toBe('done');
    expect(drawn()).toEqual(['AddChatappPhoneNumber@background', 'ChatappBindWaba@background', 'GetWhatsappHealthStatus@background', 'QueryChatappBindWaba@background']);

    // A receipt's check.
    await registerWatchTarget(store, { CustSpaceId: space, NodeType: 'phone', WabaId: WABA, PhoneNumber: PHONE }, 'test');
    const push = fixture<Record<string, unknown> & { requestContext: { http: Record<string, string> } }>('fc3-http-event.json');
    Object.assign(push, { rawPath: '/cams/receipts', headers: { 'Content-Type': 'application/json' }, queryParameters: { token: TOKEN } });
    push['body'] = JSON.stringify([{ Type: 'phoneQualityUpdate', WabaId: WABA, PhoneNumber: PHONE, Status: 'YELLOW' }]);
    Object.assign(push.requestContext.http, { method: 'POST', path: '/cams/receipts' });
    const receipts = camsEventsHandler({ env: { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, CAMS_RECEIPT_TOKEN: TOKEN }, write: () => {} });
    expect(((await receipts(Buffer.from(JSON.stringify(push)), context())) as { statusCode: number }).statusCode).toBe(200);
    expect(drawn()).toEqual(['GetWhatsappHealthStatus@background']);

    // The sweep, with a WABA watched with Discover: the listing runs below the checks.
    await addWatchEntries(store, WatchEntries.parse([{ CustSpaceId: space, WabaId: WABA, Discover: true }]), 'test');
    const monitor = await monitorRuntime({ STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url })();
    const report = await runHealthMonitor(invocation(fixture('timer-event.json'), 'tick'), { ...monitor, sinks: [new RecordingSink()] }, () => Date.now());
    expect(report.checked).toBeGreaterThan(0);
    expect(drawn()).toEqual(['GetWhatsappHealthStatus@sweep', 'ListChatappTemplate@discovery', 'QueryChatappBindWaba@discovery', 'QueryChatappPhoneNumbers@discovery']);
  });
});
