import { credentialsFrom, MissingCredentialsError, type Acs3Credentials } from '../cams/credentials.ts';
import { isExpiredToken } from '../cams/errors.ts';
import type { FcContext } from '../fc/context.ts';
import { fc3Endpoint, invokeFc3 } from '../fc/invoke.ts';
import { HttpError } from '../http-fn/errors.ts';
import type { ServiceInput } from '../http-fn/http-function.ts';
import type { ServiceResult } from '../http-fn/middlewares.ts';
import { trackActive } from '../onboarding/active.ts';
import { describeKey, newOnboardingRecord } from '../onboarding/onboard.ts';
import { idempotencyKeyFor, onboardingIdFor, samePayload, type OnboardingPayload } from '../onboarding/payload.ts';
import { isStalled, recordKey, type OnboardingRecord } from '../onboarding/record.ts';
import { redactValues } from '../log/redact.ts';
import { openSharedStore } from '../store/index.ts';

type Env = Record<string, string | undefined>;

/**
 * Where the onboarding function is and who may invoke it: FC's context first, env to override.
 * FC 2.0 runs every function in a service and says which (context.service.name); FC 3.0 has no
 * services (its context.service carries no name), so a function there is addressed by name alone.
 * ONBOARDING_SERVICE forces FC 2.0's API.
 */
export type InvokeTarget =
  | { api: 'fc3'; accountId: string; region: string; fn: string; endpoint: string }
  | { api: 'fc2'; accountId: string; region: string; service: string; fn: string; endpoint: string | undefined };

export function invokeTarget(context: FcContext, env: Env): InvokeTarget {
  const accountId = env['FC_ACCOUNT_ID'] || context.accountId;
  const region = env['FC_REGION'] || context.region || 'ap-southeast-1';
  const service = env['ONBOARDING_SERVICE'] || context.service?.name;
  const fn = env['ONBOARDING_FUNCTION'] || 'onboarding';
  if (!accountId) throw new HttpError(500, 'ServiceMisconfigured', 'The function does not know its account id (FC_ACCOUNT_ID).');
  if (service) return { api: 'fc2', accountId, region, service, fn, endpoint: env['FC_ENDPOINT'] || undefined };
  return { api: 'fc3', accountId, region, fn, endpoint: env['FC_ENDPOINT'] || fc3Endpoint(accountId, region) };
}

/**
 * Async invoke of `onboarding` (`x-fc-invocation-type: Async`), answering FC's request id.
 * FC 3.0: InvokeFunction over ../http/request.ts, ACS3-signed (../fc/invoke.ts). FC 2.0: @alicloud/fc2, which
 * costs ~185 ms and 31 MB to load, so it is imported on that path only, never at cold start.
 */
async function invokeOnboardingAsync(context: FcContext, env: Env, body: string): Promise<string | undefined> {
  const target = invokeTarget(context, env);
  const creds = credentialsFrom(context, env);
  try {
    return await invokeWith(target, creds, body);
  } catch (e) {
    // A refusal (FC's, or a gateway's page) may quote the request it refused, the role's STS token
    // and signature headers with it; the message goes on to the caller: masked as the CAMS client masks its replies.
    if (!(e instanceof Error)) throw e;
    const message = redactValues(e.message, [creds.accessKeySecret, creds.securityToken]);
    // Its code kept: FC's (FcInvokeError, @alicloud/fc2's ErrorCode) tells an expired token.
    throw message === e.message ? e : Object.assign(new Error(message), { name: e.name, code: (e as { code?: unknown }).code });
  }
}

async function invokeWith(target: InvokeTarget, creds: Acs3Credentials, body: string): Promise<string | undefined> {
  if (target.api === 'fc3') {
    const res = await invokeFc3({ endpoint: target.endpoint, functionName: target.fn, payload: body, async: true, credentials: creds, timeoutMs: 10_000 });
    return res.requestId;
  }
  const mod = (await import('@alicloud/fc2')) as unknown as { default?: FcClientCtor } & FcClientCtor;
  const FC = (mod.default ?? mod) as FcClientCtor;
  const client = new FC(target.accountId, {
    accessKeyID: creds.accessKeyId,
    accessKeySecret: creds.accessKeySecret,
    ...(creds.securityToken ? { securityToken: creds.securityToken } : {}),
    region: target.region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    timeout: 10_000,
  });
  const res = await client.invokeFunction(target.service, target.fn, body, { 'x-fc-invocation-type': 'Async' });
  return res.headers?.['x-fc-request-id'];
}

type FcClientCtor = new (
  accountId: string,
  config: Record<string, unknown>,
) => { invokeFunction(service: string, fn: string, event: string, headers: Record<string, string>): Promise<{ headers?: Record<string, string> }> };

export interface OnboardingApiOptions {
  now?: () => number;
  /** The async invoke of `onboarding` (tests count calls); default invokeOnboardingAsync. */
  invoke?: (context: FcContext, env: Env, body: string) => Promise<string | undefined>;
}

export function onboardingApi(env: Env = process.env, opts: OnboardingApiOptions = {}) {
  const now = opts.now ?? Date.now;
  const invoke = opts.invoke ?? invokeOnboardingAsync;
  return async function service(input: ServiceInput<unknown>): Promise<ServiceResult> {
    const s = await openSharedStore(input.config.storeUrl);
    if (input.route === 'GET /onboardings/{id}') {
      const { id } = input.params as { id: string };
      const found = await s.get<OnboardingRecord>(recordKey(id));
      if (!found) throw new HttpError(404, 'OnboardingNotFound', `no onboarding ${id}`);
      return { data: found.value };
    }
    const payload = input.params as OnboardingPayload;
    const key = idempotencyKeyFor(payload);
    const id = onboardingIdFor(key);
    let current = (await s.get<OnboardingRecord>(recordKey(id)))?.value;
    if (!current) {
      // Indexed first, so the re-drive timer finds it even if the invoke below is lost.
      await trackActive(s, id, now());
      await s.put<OnboardingRecord>(recordKey(id), newOnboardingRecord(payload, key, now(), `POST /onboardings by ${input.callerKeyId ?? '?'}`), { ifAbsent: true });
      current = (await s.get<OnboardingRecord>(recordKey(id)))!.value;
    }
    if (!samePayload(current.Payload, payload)) {
      throw new HttpError(409, 'IdempotencyKeyMismatch', `${describeKey(key)} is already used by onboarding ${id} with another payload; use a new IdempotencyKey`);
    }
    // A record no run holds (never picked up, or its run died and its lease ran out) is (re)sent:
    // a lost invoke or a stalled run is repaired by posting again.
    let invocation: string | undefined;
    if (isStalled(current, now())) {
      try {
        invocation = await invoke(input.context, env, JSON.stringify({ OnboardingId: id, Payload: payload }));
      } catch (e) {
        // No credentials to invoke with is this function's misconfiguration (500, the log names the
        // setting), not a failed queueing for the caller to retry.
        if (e instanceof HttpError || e instanceof MissingCredentialsError) throw e;
        // The role's STS token ran out during this invocation: the next one has a fresh token, so the
        // same POST may be sent again at once (503 + Retry-After, as a CAMS route answers it).
        const code = (e as { code?: unknown }).code;
        if (typeof code === 'string' && isExpiredToken(code)) {
          throw new HttpError(503, code, "the function's STS token expired before the onboarding could be queued; the record is stored: POST again", { headers: { 'retry-after': '1' } });
        }
        throw new HttpError(502, 'InvokeFailed', `the onboarding could not be queued (${e instanceof Error ? e.message : String(e)}); POST again to retry`);
      }
    }
    return { status: 202, data: { OnboardingId: id, Status: current.Status, ...(invocation ? { InvocationId: invocation } : {}) } };
  };
}
