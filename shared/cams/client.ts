import { stringify } from 'node:querystring';
import { signAcs3Request } from '../acs3/index.ts';
import { httpRequest, type HttpResponse } from '../http/request.ts';
import { credentialsFrom, resolveCredentials, type Acs3Credentials, type CredentialsProvider } from './credentials.ts';
import { camsErrorFromBody, camsErrorFromHttp, camsErrorFromNetwork, invalidResponse } from './errors.ts';
import { LimiterRegistry, realClock, sharedLimiters, type Clock } from './limiter.ts';
import { CAMS_DEFAULT_ENDPOINT, CAMS_QPS, CAMS_VERSION, type CamsAction, type CamsEnvelope, type CamsParams, type CamsResult } from './operations.ts';
import { AttemptNotStarted, resolveRetryPolicy, withRetry, type AttemptBudget, type RetryPolicy } from './retry.ts';
import { parseEnvelope, parseReplyData } from './schemas.ts';

/** Epoch ms (on the client's clock), or a function giving the remaining ms (e.g. of an FC invocation). */
export type Deadline = number | (() => number);

export const DEFAULT_TIMEOUT_MS = 5000;
/** Kept free before a deadline so the function can still answer after the client gives up. */
export const DEFAULT_DEADLINE_MARGIN_MS = 100;
/** An attempt that would get less time than this is not started. */
export const DEFAULT_MIN_ATTEMPT_MS = 200;

export interface CamsClientOptions {
  /** Default: env CAMS_ENDPOINT, else CAMS_DEFAULT_ENDPOINT. A bare host means https. */
  endpoint?: string;
  /** Static keys or a provider asked before every attempt. Default: credentialsFrom(undefined, env). */
  credentials?: Acs3Credentials | CredentialsProvider;
  /** Per HTTP request (one attempt). */
  timeoutMs?: number;
  /** Default deadline for every call; a call's own option wins. */
  deadline?: Deadline;
  deadlineMarginMs?: number;
  minAttemptMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Per-operation client-side rate, default CAMS_QPS. */
  qps?: Partial<Record<CamsAction, number>>;
  /** Where limiters are shared; default the process-wide registry. */
  limiters?: LimiterRegistry;
  random?: () => number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Read for CAMS_ENDPOINT and the default credentials. Default process.env. */
  env?: Record<string, string | undefined>;
}

export interface CamsCallOptions {
  deadline?: Deadline;
  timeoutMs?: number;
  /** E.g. `{ maxAttempts: 1 }` for a call that must not be repeated after a timeout. */
  retry?: Partial<RetryPolicy>;
}

/** A bare host (as the SDK takes it) means https; a URL keeps its scheme (http for the sandbox). */
export function resolveEndpoint(raw: string): URL {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`CAMS endpoint must be http(s), got ${raw}`);
  return new URL('/', url);
}

/** The form body as the official SDK writes it: undefined/null dropped, then querystring.stringify. */
export function encodeForm(params: object): string {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null) flat[k] = String(v);
  }
  return stringify(flat);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turns one HTTP reply into the call's result, or the CamsError it stands for. */
export function readCamsReply<A extends CamsAction>(action: A, res: HttpResponse): CamsResult<A> {
  const requestIdHeader = res.headers['x-acs-request-id'];
  if (res.status < 200 || res.status >= 300) throw camsErrorFromHttp(res.status, res.body, action, requestIdHeader);
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    const snippet = res.body.toString('utf8').trim().slice(0, 200);
    throw invalidResponse(`reply is not JSON: ${snippet || '(empty body)'}`, res.status, action);
  }
  // A business failure needs only a Code to be reported as one.
  if (isRecord(json) && typeof json.Code === 'string' && json.Code !== 'OK') {
    throw camsErrorFromBody(res.status, json, action, requestIdHeader);
  }
  const envelope = parseEnvelope(json);
  if (!envelope.ok) throw invalidResponse(envelope.message, res.status, action);
  const data = parseReplyData(action, envelope.value);
  if (!data.ok) throw invalidResponse(data.message, res.status, action, envelope.value.RequestId);
  return { data: data.value, requestId: envelope.value.RequestId, body: json as CamsEnvelope };
}

/**
 * The four CAMS operations over ACS3-signed RPC calls, with a per-account client-side rate limit,
 * retries with full-jitter backoff on transient failures, and deadline awareness for FC.
 */
export class CamsClient {
  readonly endpoint: URL;
  private readonly credentials: Acs3Credentials | CredentialsProvider;
  private readonly timeoutMs: number;
  private readonly deadline: Deadline | undefined;
  private readonly marginMs: number;
  private readonly minAttemptMs: number;
  private readonly retry: Partial<RetryPolicy> | undefined;
  private readonly qps: Record<CamsAction, number>;
  private readonly limiters: LimiterRegistry;
  private readonly random: () => number;
  private readonly clock: Clock;

  constructor(opts: CamsClientOptions = {}) {
    const env = opts.env ?? process.env;
    this.endpoint = resolveEndpoint(opts.endpoint ?? (env.CAMS_ENDPOINT || CAMS_DEFAULT_ENDPOINT));
    // Resolved lazily: a missing key fails the call that needs it, with a message naming the env vars.
    this.credentials = opts.credentials ?? (() => credentialsFrom(undefined, env));
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.deadline = opts.deadline;
    this.marginMs = opts.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
    this.minAttemptMs = opts.minAttemptMs ?? DEFAULT_MIN_ATTEMPT_MS;
    this.retry = opts.retry;
    resolveRetryPolicy(opts.retry); // fail fast on a bad policy
    this.qps = { ...CAMS_QPS, ...opts.qps };
    this.limiters = opts.limiters ?? sharedLimiters;
    this.random = opts.random ?? Math.random;
    this.clock = { now: opts.now ?? realClock.now, sleep: opts.sleep ?? realClock.sleep };
  }

  bindWaba(params: CamsParams['ChatappBindWaba'], opts?: CamsCallOptions): Promise<CamsResult<'ChatappBindWaba'>> {
    return this.call('ChatappBindWaba', params, opts);
  }

  queryBindWaba(params: CamsParams['QueryChatappBindWaba'] = {}, opts?: CamsCallOptions): Promise<CamsResult<'QueryChatappBindWaba'>> {
    return this.call('QueryChatappBindWaba', params, opts);
  }

  addPhoneNumber(params: CamsParams['AddChatappPhoneNumber'], opts?: CamsCallOptions): Promise<CamsResult<'AddChatappPhoneNumber'>> {
    return this.call('AddChatappPhoneNumber', params, opts);
  }

  getHealthStatus(params: CamsParams['GetWhatsappHealthStatus'], opts?: CamsCallOptions): Promise<CamsResult<'GetWhatsappHealthStatus'>> {
    return this.call('GetWhatsappHealthStatus', params, opts);
  }

  queryPhoneNumbers(params: CamsParams['QueryChatappPhoneNumbers'], opts?: CamsCallOptions): Promise<CamsResult<'QueryChatappPhoneNumbers'>> {
    return this.call('QueryChatappPhoneNumbers', params, opts);
  }

  listTemplates(params: CamsParams['ListChatappTemplate'], opts?: CamsCallOptions): Promise<CamsResult<'ListChatappTemplate'>> {
    return this.call('ListChatappTemplate', params, opts);
  }

  /** Any operation by name. Throws CamsError (with `attempts`) for every CAMS or transport failure. */
  call<A extends CamsAction>(action: A, params: CamsParams[A], opts: CamsCallOptions = {}): Promise<CamsResult<A>> {
    const body = encodeForm(params);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return withRetry((budget) => this.attempt(action, body, timeoutMs, budget), {
      policy: resolveRetryPolicy(this.retry, opts.retry),
      random: this.random,
      clock: this.clock,
      deadlineAt: this.deadlineAt(opts.deadline ?? this.deadline),
      marginMs: this.marginMs,
      minAttemptMs: this.minAttemptMs,
      action,
    });
  }

  private deadlineAt(deadline: Deadline | undefined): number {
    if (deadline === undefined) return Infinity;
    return typeof deadline === 'function' ? this.clock.now() + deadline() : deadline;
  }

  private async attempt<A extends CamsAction>(action: A, body: string, timeoutMs: number, budget: AttemptBudget): Promise<CamsResult<A>> {
    const creds = await resolveCredentials(this.credentials);
    const limiter = this.limiters.get(this.endpoint.origin, creds.accessKeyId, action, this.qps[action], this.clock);
    if (!(await limiter.acquire(budget.latestStart))) {
      throw new AttemptNotStarted('the rate limiter queue is longer than the deadline allows');
    }
    const remaining = budget.endBy - this.clock.now();
    if (remaining < this.minAttemptMs) throw new AttemptNotStarted('too little time left before the deadline');

    // Signed per attempt: every attempt needs a fresh nonce and date.
    const headers = signAcs3Request(
      {
        method: 'POST',
        path: '/',
        headers: {
          host: this.endpoint.host,
          'x-acs-action': action,
          'x-acs-version': CAMS_VERSION,
          accept: 'application/json',
          'content-type': 'application/x-www-form-urlencoded',
          'user-agent': 'cams-fc',
        },
        body,
      },
      creds,
    );
    let res: HttpResponse;
    try {
      res = await httpRequest(this.endpoint, { method: 'POST', headers, body, timeoutMs: Math.min(timeoutMs, remaining) });
    } catch (err) {
      throw camsErrorFromNetwork(err, action);
    }
    return readCamsReply(action, res);
  }
}
