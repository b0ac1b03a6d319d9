import { escape } from 'node:querystring';
import { signAcs3Request } from '../acs3/index.ts';
import { httpRequest, RequestNotSent, type HttpResponse } from '../http/request.ts';
import { credentialsFrom, resolveCredentials, type Acs3Credentials, type CredentialsProvider } from './credentials.ts';
import { camsErrorFromBody, camsErrorFromHttp, camsErrorFromNetwork, invalidResponse, isCamsError, redactCamsError } from './errors.ts';
import { CamsBudget, processBudget, type Admission, type Priority } from './budget/budget.ts';
import { realClock, type Clock } from './limiter.ts';
import { CAMS_DEFAULT_ENDPOINT, CAMS_VERSION, type CamsAction, type CamsEnvelope, type CamsParams, type CamsResult } from './operations.ts';
import { resolveRetryPolicy, SlotMissed, withRetry, type AttemptBudget, type RetryPolicy } from './retry.ts';
import { parseEnvelope, parseReplyData } from './schemas.ts';
import { isAsciiLetter, isDigit } from '../text/chars.ts';

/** Epoch ms (on the client's clock), or a function giving the remaining ms (e.g. of an FC invocation). */
export type Deadline = number | (() => number);

const DEFAULT_TIMEOUT_MS = 5000;
/** Kept free before a deadline so the function can still answer after the client gives up. */
const DEFAULT_DEADLINE_MARGIN_MS = 100;
/** An attempt that would get less time than this is not started. */
const DEFAULT_MIN_ATTEMPT_MS = 200;

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
  /**
   * The account's CAMS budget (store-backed to share it across instances). Default: one budget for
   * this process, at the documented limits.
   */
  budget?: CamsBudget;
  /** Whose call this is; see budget.ts. Default interactive. */
  priority?: Priority;
  /** The budget's account. Default: env CAMS_ACCOUNT_ID, else the AccessKey id of the credentials. */
  account?: string;
  /** This client's own share per operation, below the budget (the sweep's MONITOR_QPS), per instance. */
  qps?: Partial<Record<CamsAction, number>>;
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
  /** This call's place in the account's budget, when not the client's (e.g. discovery below the sweep). */
  priority?: Priority;
}

/** A bare host (as the SDK takes it) means https; a URL keeps its scheme (http for the sandbox). */
export function resolveEndpoint(raw: string): URL {
  const url = new URL(hasScheme(raw) ? raw : `https://${raw}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`CAMS endpoint must be http(s), got ${raw}`);
  return new URL('/', url);
}

/** Whether `raw` starts with `scheme://` (/^[a-z][a-z0-9+.-]*:\/\//i, not compiled at every cold start). */
export function hasScheme(raw: string): boolean {
  if (!isAsciiLetter(raw.charCodeAt(0))) return false;
  let i = 1;
  for (let c = raw.charCodeAt(i); isAsciiLetter(c) || isDigit(c) || c === 0x2b || c === 0x2e || c === 0x2d; c = raw.charCodeAt(i)) i += 1;
  return raw.startsWith('://', i);
}

/**
 * The form body as the official SDK writes it: undefined/null dropped, then querystring.stringify,
 * which for string values is querystring.escape of each name and value. That is encodeURIComponent
 * (the same characters left alone) except on a lone surrogate, where encodeURIComponent throws and
 * escape does its own thing: only then is escape called. stringify's first run costs ~0.15 ms of a
 * cold start.
 */
export function encodeForm(params: object): string {
  let out = '';
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    out += `${out === '' ? '' : '&'}${formEscape(k)}=${formEscape(String(v))}`;
  }
  return out;
}

function formEscape(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return escape(text);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turns one HTTP reply into the call's result, or the CamsError it stands for. */
function readCamsReply<A extends CamsAction>(action: A, res: HttpResponse): CamsResult<A> {
  const requestIdHeader = res.headers['x-acs-request-id'];
  if (res.status < 200 || res.status >= 300) throw camsErrorFromHttp(res.status, res.body, action, requestIdHeader, res.headers['retry-after']);
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    const snippet = res.body.toString('utf8').trim().slice(0, 200);
    throw invalidResponse(`reply is not JSON: ${snippet || '(empty body)'}`, res.status, action);
  }
  // A business failure needs only a Code to be reported as one.
  if (isRecord(json) && typeof json.Code === 'string' && json.Code !== 'OK') {
    throw camsErrorFromBody(res.status, json, action, requestIdHeader, res.headers['retry-after']);
  }
  const envelope = parseEnvelope(json);
  if (!envelope.ok) throw invalidResponse(envelope.message, res.status, action);
  const data = parseReplyData(action, envelope.value);
  if (!data.ok) throw invalidResponse(data.message, res.status, action, envelope.value.RequestId);
  return { data: data.value, requestId: envelope.value.RequestId, body: json as CamsEnvelope };
}

/**
 * The CAMS operations (CAMS_ACTIONS) over ACS3-signed RPC calls, with a per-account client-side rate limit,
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
  private readonly share: Partial<Record<CamsAction, number>>;
  private readonly budget: CamsBudget;
  private readonly priority: Priority;
  private readonly account: string | undefined;
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
    this.share = { ...opts.qps };
    this.random = opts.random ?? Math.random;
    this.clock = { now: opts.now ?? realClock.now, sleep: opts.sleep ?? realClock.sleep };
    // A client on an injected clock needs a budget on the same clock.
    this.budget = opts.budget ?? (opts.now || opts.sleep ? new CamsBudget({ clock: this.clock }) : processBudget());
    this.priority = opts.priority ?? 'interactive';
    this.account = opts.account ?? (env.CAMS_ACCOUNT_ID || undefined);
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
    return withRetry((budget) => this.send(action, body, timeoutMs, budget), {
      policy: resolveRetryPolicy(this.retry, opts.retry),
      random: this.random,
      clock: this.clock,
      deadlineAt: this.deadlineAt(opts.deadline ?? this.deadline),
      marginMs: this.marginMs,
      minAttemptMs: this.minAttemptMs,
      action,
      admit: (latestStart) => this.admit(action, latestStart, opts.priority ?? this.priority),
    });
  }

  /** A slot of the account's budget for this operation, on this endpoint (CAMS limits per region). */
  private async admit(action: CamsAction, latestStart: number, priority: Priority): Promise<Admission> {
    const account = this.account ?? (await resolveCredentials(this.credentials)).accessKeyId;
    return this.budget.acquire({ account: `${account}@${this.endpoint.host}`, action, priority, latestStart, shareQps: this.share[action] });
  }

  private deadlineAt(deadline: Deadline | undefined): number {
    if (deadline === undefined) return Infinity;
    return typeof deadline === 'function' ? this.clock.now() + deadline() : deadline;
  }

  /** One attempt: sign, send, read. Retry decided that it may start now and how long it may take. */
  private async send<A extends CamsAction>(action: A, body: string, timeoutMs: number, budget: AttemptBudget): Promise<CamsResult<A>> {
    const creds = await resolveCredentials(this.credentials);
    const remaining = budget.endBy - this.clock.now();

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
    // Checked in the turn that writes the request, not before the wait for a socket: a process
    // stalled past its slot would land too close to the next ones.
    const sendBy = budget.sendBy;
    const mayStart = sendBy === undefined ? {} : { mayStart: () => this.clock.now() <= sendBy };
    let res: HttpResponse;
    try {
      res = await httpRequest(this.endpoint, { method: 'POST', headers, body, timeoutMs: Math.min(timeoutMs, remaining), ...mayStart });
    } catch (err) {
      if (err instanceof RequestNotSent) throw new SlotMissed();
      throw camsErrorFromNetwork(err, action);
    }
    try {
      return readCamsReply(action, res);
    } catch (err) {
      // A reply may echo the request it refused (a signature error, a proxy's page): never our secrets.
      throw isCamsError(err) ? redactCamsError(err, [creds.accessKeySecret, creds.securityToken]) : err;
    }
  }
}
