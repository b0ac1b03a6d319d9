import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import type { CamsClient } from '../../../shared/cams/client.ts';
import { CreateOnboardingParams, GetOnboardingParams } from '../../../functions/onboarding-api/schema.ts';
import { httpFunction } from '../../../shared/http-fn/http-function.ts';
import { readActive } from '../../../shared/onboarding/active.ts';
import { runOnboarding } from '../../../shared/onboarding/onboard.ts';
import { recordKey, type OnboardingRecord } from '../../../shared/onboarding/record.ts';
import { onboardingApi } from '../../../shared/services/onboarding-api.ts';
import type { Store } from '../../../shared/store/port.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';
import { tempFileStore } from '../../support/monitor.ts';
import { CALLER_KEY } from '../../support/sandbox-env.ts';
import { onboardingDeps } from '../../shared/onboarding/support.ts';

let store: Store;
let storeUrl: string;
let cleanup: () => Promise<void>;
let t: number;
let invokes: Array<{ OnboardingId: string }>;
let nonce = 0;

function api() {
  const env = { API_KEYS: `${CALLER_KEY.accessKeyId}:${CALLER_KEY.accessKeySecret}`, STORE_URL: storeUrl };
  return httpFunction<unknown>({
    name: 'onboarding-api',
    routes: [
      { method: 'POST', path: '/onboardings', schema: CreateOnboardingParams },
      { method: 'GET', path: '/onboardings/{id}', schema: GetOnboardingParams },
    ],
    schema: CreateOnboardingParams,
    env,
    service: onboardingApi(env, {
      now: () => t,
      invoke: async (_ctx, _env, body) => {
        invokes.push(JSON.parse(body) as { OnboardingId: string });
        return `inv-${invokes.length}`;
      },
    }),
  });
}

async function post(body: Record<string, unknown>) {
  const signed = signRouteRequest({ method: 'POST', path: '/onboardings', body }, 'h', CALLER_KEY, { nonce: `ob-api-${process.pid}-${++nonce}` });
  return parseReply(await api()(httpEvent(signed, 'fc-http'), fcContext() as never));
}

beforeEach(async () => {
  ({ store, url: storeUrl, cleanup } = await tempFileStore());
  t = Date.now();
  invokes = [];
});
afterEach(async () => cleanup());

const payload = { WabaId: '3500000000001', Cc: '65', PhoneNumber: '95000001', VerifiedName: 'Acme Shop', IdempotencyKey: 'order-42' };

describe('POST /onboardings', () => {
  it('accepts, indexes and invokes once; the same key and payload again answers the first record', async () => {
    const first = await post(payload);
    expect(first.statusCode).toBe(202);
    const id = first.body.Data!['OnboardingId'] as string;
    expect(invokes).toEqual([expect.objectContaining({ OnboardingId: id })]);
    expect(Object.keys(await readActive(store))).toEqual([id]);
    // Picked up and finished by the onboarding function (here: marked done directly).
    const rec = (await store.get<OnboardingRecord>(recordKey(id)))!.value;
    await store.put(recordKey(id), { ...rec, Status: 'done' });
    const again = await post({ ...payload });
    expect(again.statusCode).toBe(202);
    expect(again.body.Data).toMatchObject({ OnboardingId: id, Status: 'done' });
    expect(invokes).toHaveLength(1);
  });

  it('a function with no credentials to invoke onboarding with is misconfigured: 500 ServiceMisconfigured, the setting named in the log only', async () => {
    const lines: string[] = [];
    // The real invoke: no role in the FC context, no ALIBABA_CLOUD_ACCESS_KEY_* in the environment.
    const env = { API_KEYS: `${CALLER_KEY.accessKeyId}:${CALLER_KEY.accessKeySecret}`, STORE_URL: storeUrl };
    const fn = httpFunction<unknown>({ name: 'onboarding-api', routes: [{ method: 'POST', path: '/onboardings', schema: CreateOnboardingParams }], schema: CreateOnboardingParams, env, write: (l) => lines.push(l), service: onboardingApi(env, { now: () => t }) });
    const signed = signRouteRequest({ method: 'POST', path: '/onboardings', body: payload }, 'h', CALLER_KEY, { nonce: `ob-api-${process.pid}-${++nonce}` });
    const res = parseReply(await fn(httpEvent(signed, 'fc-http'), fcContext({ service: {} }) as never));
    expect(res.statusCode).toBe(500);
    expect(res.body.Code).toBe('ServiceMisconfigured');
    expect(JSON.stringify(res.body)).not.toContain('ALIBABA_CLOUD');
    expect(lines.join('\n')).toContain('ALIBABA_CLOUD_ACCESS_KEY_ID');
  });

  it('an invoke refused by a reply that quotes the request: 502 InvokeFailed without the role\'s secret or STS token, FC 3.0 and 2.0 alike', async () => {
    // A gateway's page (or FC's own refusal) that echoes the request it refused, headers and all.
    const server = createServer((req, res) => {
      req.resume();
      const echo = `refused: ${JSON.stringify(req.headers)} ${req.url ?? ''}`;
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ Code: 'SignatureDoesNotMatch', Message: echo, ErrorCode: 'SignatureNotMatch', ErrorMessage: echo }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const env = { API_KEYS: `${CALLER_KEY.accessKeyId}:${CALLER_KEY.accessKeySecret}`, STORE_URL: storeUrl, FC_ENDPOINT: endpoint };
      const credentials = { accessKeyId: 'STS.role-key' /* STS: @alicloud/fc2 sends the token only for such an id */, accessKeySecret: 'role-secret-0123456789', securityToken: 'CAIS-sts-token/of+the=role' };
      // FC 3.0 (no service name), then FC 2.0 (@alicloud/fc2, which sends the token as x-fc-security-token).
      for (const [i, service] of [{}, { name: 'cams-fc-dev' }].entries()) {
        const fn = httpFunction<unknown>({ name: 'onboarding-api', routes: [{ method: 'POST', path: '/onboardings', schema: CreateOnboardingParams }], schema: CreateOnboardingParams, env, service: onboardingApi(env, { now: () => t }) });
        const signed = signRouteRequest({ method: 'POST', path: '/onboardings', body: { ...payload, IdempotencyKey: `echo-${i}` } }, 'h', CALLER_KEY, { nonce: `ob-api-${process.pid}-${++nonce}` });
        const res = parseReply(await fn(httpEvent(signed, 'fc-http'), fcContext({ service, credentials }) as never));
        expect(res.statusCode).toBe(502);
        expect(res.body.Code).toBe('InvokeFailed');
        // The echo reached the caller (it says what FC answered), with the secrets masked.
        expect(res.body.Message).toContain('refused');
        expect(res.body.Message).toContain('***');
        for (const secret of [credentials.accessKeySecret, credentials.securityToken, encodeURIComponent(credentials.securityToken)]) expect(JSON.stringify(res.body)).not.toContain(secret);
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("an invoke FC refused for the role's expired STS token: 503 with Retry-After and FC's code, as the CAMS routes answer it (the record is stored; POST again)", async () => {
    // FC 3.0 answers in the gateway's envelope (Code), FC 2.0 in its own (ErrorCode, read by @alicloud/fc2).
    const expired = { Code: 'InvalidSecurityToken.Expired', Message: 'Specified SecurityToken is expired.', ErrorCode: 'InvalidSecurityToken.Expired', ErrorMessage: 'Specified SecurityToken is expired.' };
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify(expired));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const env = { API_KEYS: `${CALLER_KEY.accessKeyId}:${CALLER_KEY.accessKeySecret}`, STORE_URL: storeUrl, FC_ENDPOINT: endpoint };
      const credentials = { accessKeyId: 'STS.role-key', accessKeySecret: 'role-secret-0123456789', securityToken: 'CAIS-sts-token' };
      for (const [i, service] of [{}, { name: 'cams-fc-dev' }].entries()) {
        const fn = httpFunction<unknown>({ name: 'onboarding-api', routes: [{ method: 'POST', path: '/onboardings', schema: CreateOnboardingParams }], schema: CreateOnboardingParams, env, service: onboardingApi(env, { now: () => t }) });
        const signed = signRouteRequest({ method: 'POST', path: '/onboardings', body: { ...payload, IdempotencyKey: `expired-${i}` } }, 'h', CALLER_KEY, { nonce: `ob-api-${process.pid}-${++nonce}` });
        const res = parseReply(await fn(httpEvent(signed, 'fc-http'), fcContext({ service, credentials }) as never));
        expect([i, res.statusCode, res.body.Code, res.headers['retry-after']]).toEqual([i, 503, 'InvalidSecurityToken.Expired', '1']);
        expect(res.body.Message).toContain('POST again');
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a JSON null (or empty) optional field is no value, as on the CAMS routes: accepted, and left out of the record', async () => {
    const res = await post({ ...payload, IdempotencyKey: 'nulls-1', IsvCode: null, Templates: null });
    expect([res.statusCode, res.body.Code]).toEqual([202, 'OK']);
    const rec = (await store.get<OnboardingRecord>(recordKey(res.body.Data!['OnboardingId'] as string)))!.value;
    expect(rec.Payload).toEqual({ ...payload, IdempotencyKey: 'nulls-1' });
    // The same onboarding as without them: not another payload under the key.
    expect((await post({ ...payload, IdempotencyKey: 'nulls-1', IsvCode: '' })).statusCode).toBe(202);
    // A required one given null is missing, named as such.
    const missing = await post({ ...payload, IdempotencyKey: 'nulls-2', WabaId: null });
    expect([missing.statusCode, missing.body.Code, missing.body['Fields']]).toEqual([400, 'MissingParameter', [{ Field: 'WabaId', Message: 'is required' }]]);
  });

  it('a bad Templates list is a 400 naming each field by its full path and saying what is expected', async () => {
    const fields = async (Templates: unknown) => {
      const res = await post({ ...payload, Templates });
      expect(res.statusCode).toBe(400);
      return res.body['Fields'];
    };
    expect(await fields([{ TemplateCode: 't1', Language: 'en', Colour: 1 }])).toEqual([{ Field: 'Templates.0.Colour', Message: 'is not a field here' }]);
    expect(await fields('x')).toEqual([{ Field: 'Templates', Message: 'must be a list of {TemplateCode, Language}' }]);
    expect(await fields({})).toEqual([{ Field: 'Templates', Message: 'must be a list of {TemplateCode, Language}' }]);
    expect(await fields([null])).toEqual([{ Field: 'Templates.0', Message: 'must be an object {TemplateCode, Language}' }]);
    expect(invokes).toEqual([]);
  });

  it('an IdempotencyKey that is not a string is a 400 saying so, not zod\'s bare "Invalid input"', async () => {
    for (const IdempotencyKey of [true, {}, [], 1.5]) {
      const res = await post({ ...payload, IdempotencyKey });
      expect(res.statusCode).toBe(400);
      expect(res.body['Fields']).toEqual([{ Field: 'IdempotencyKey', Message: 'must be a string' }]);
    }
    expect(invokes).toEqual([]);
  });

  it('the same IdempotencyKey with another payload: 409 IdempotencyKeyMismatch naming the key, first record untouched', async () => {
    const first = await post(payload);
    const id = first.body.Data!['OnboardingId'] as string;
    const before = await store.get<OnboardingRecord>(recordKey(id));
    const other = await post({ ...payload, PhoneNumber: '95000002' });
    expect(other.statusCode).toBe(409);
    expect(other.body).toMatchObject({ Code: 'IdempotencyKeyMismatch', Success: false });
    expect(other.body.Message).toContain('"order-42"');
    expect(await store.get<OnboardingRecord>(recordKey(id))).toEqual(before);
    expect(invokes).toHaveLength(1);
  });

  it('a running record whose lease expired is invoked again on re-POST; one whose run is alive is not', async () => {
    const first = await post(payload);
    const id = first.body.Data!['OnboardingId'] as string;
    const rec = (await store.get<OnboardingRecord>(recordKey(id)))!.value;
    await store.put(recordKey(id), { ...rec, Status: 'running', Attempts: 1, LeaseExpiresAt: new Date(t + 60_000).toISOString() });

    const live = await post(payload);
    expect(live.body.Data).toMatchObject({ OnboardingId: id, Status: 'running' });
    expect(live.body.Data).not.toHaveProperty('InvocationId');
    expect(invokes).toHaveLength(1);

    t += 61_000; // the run died; its lease ran out
    const stalled = await post(payload);
    expect(stalled.statusCode).toBe(202);
    expect(stalled.body.Data).toMatchObject({ OnboardingId: id, Status: 'running', InvocationId: 'inv-2' });
    expect(invokes.map((i) => i.OnboardingId)).toEqual([id, id]);
  });
});

describe('the event path with a reused key', () => {
  it('another payload under the same IdempotencyKey is refused and logged; the first record is untouched', async () => {
    const first = await post(payload);
    const id = first.body.Data!['OnboardingId'] as string;
    const before = await store.get<OnboardingRecord>(recordKey(id));
    const logs: Array<Record<string, unknown>> = [];
    const noCams = {} as CamsClient; // never reached
    const out = await runOnboarding(onboardingDeps({ store, cams: noCams, deadline: Date.now() + 10_000, log: (r) => logs.push(r) }), {
      payload: { ...payload, VerifiedName: 'Other Shop' },
      event: { source: 'test', id: 'e-1' },
    });
    expect(out).toMatchObject({ status: 'refused', code: 'IdempotencyKeyMismatch', onboardingId: id, reason: expect.stringContaining('"order-42"') });
    expect(logs).toEqual([expect.objectContaining({ level: 'warn', code: 'IdempotencyKeyMismatch' })]);
    expect(await store.get<OnboardingRecord>(recordKey(id))).toEqual(before);
  });
});
