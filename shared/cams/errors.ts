import { HttpTimeoutError } from '../http/request.ts';
import { redactValues } from '../log/redact.ts';

/**
 * CAMS's AccessDeniedDetail: a string on older gateways, an object on newer ones for a RAM denial
 * ({AuthAction, AuthPrincipalType, AuthPrincipalOwnerId, NoPermissionType, PolicyType,
 * EncodedDiagnosticMessage, ...}). Kept as CAMS sent it, as the official SDK's error carries it
 * (`accessDeniedDetail: any`): RAM's DecodeDiagnosticMessage needs the encoded message verbatim.
 */
export type AccessDeniedDetail = string | Readonly<Record<string, unknown>>;

/** Client-side codes (httpStatus 0): the call never got a CAMS answer. */
export const NETWORK_ERROR = 'NetworkError';
export const REQUEST_TIMEOUT = 'RequestTimeout';
/** The deadline left no room for even a first attempt. */
export const DEADLINE_EXCEEDED = 'DeadlineExceeded';
/** A reply we could not read: not JSON, or not the shape of the operation's reply. */
export const INVALID_RESPONSE = 'InvalidResponse';
/** A non-2xx reply without a CAMS error body (a gateway's HTML page, an empty body). */
export const HTTP_ERROR = 'HttpError';

export interface CamsErrorInit {
  Code: string;
  Message: string;
  RequestId?: string | undefined;
  HostId?: string | undefined;
  Recommend?: string | undefined;
  /** Why RAM refused the call (which action, which policy), when CAMS says; for the operator's log. */
  AccessDeniedDetail?: AccessDeniedDetail | undefined;
  httpStatus: number;
  retryable: boolean;
  action?: string | undefined;
  cause?: unknown;
  /** Our own refusal (the account's budget had no slot in time): when to try again. */
  retryAfterMs?: number | undefined;
  /** A throttle's own Retry-After (a gateway's 429, or CAMS's Throttling* with the header), in whole seconds, bounded. */
  retryAfterS?: number | undefined;
}

/** Every failure of a CAMS call, in CAMS's own field names so it can be relayed as an envelope. */
export class CamsError extends Error {
  readonly Code: string;
  readonly Message: string;
  readonly RequestId: string | undefined;
  readonly HostId: string | undefined;
  readonly Recommend: string | undefined;
  readonly AccessDeniedDetail: AccessDeniedDetail | undefined;
  /** 0 when no HTTP reply arrived (network error, timeout, deadline). */
  readonly httpStatus: number;
  /** Whether trying again later may succeed (throttling, 5xx, network, timeout). */
  readonly retryable: boolean;
  readonly action: string | undefined;
  /** How many attempts the call made before giving up with this error; set by the client. */
  attempts?: number;
  /**
   * An earlier attempt of this same call went out and got no answer, so CAMS may have applied it.
   * A write's owner reads this to tell "already exists" caused by our own lost attempt from a real
   * conflict; set by the retry loop.
   */
  afterAmbiguousAttempt?: boolean;
  /**
   * An earlier attempt of this same call was answered with a 5xx: whether CAMS applied the write
   * before failing is not known, so the call is not "certainly not applied" whatever its last error
   * (a throttle). Not ambiguity for Phone.Exists (see afterAmbiguousAttempt); set by the retry loop.
   */
  afterServerError?: boolean;
  /**
   * Set only on our own System.LimitControl: the account's CAMS budget had no slot within the call's
   * time, so CAMS was not called. Milliseconds until a slot may be free (for Retry-After).
   */
  readonly retryAfterMs: number | undefined;
  /** The wait a throttling gateway asked for (its Retry-After), 1 to THROTTLE_WAIT_MAX_S seconds. */
  readonly retryAfterS: number | undefined;

  constructor(init: CamsErrorInit) {
    super(`${init.action ? init.action + ': ' : ''}${init.Code}: ${init.Message}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'CamsError';
    this.Code = init.Code;
    this.Message = init.Message;
    this.RequestId = init.RequestId;
    this.HostId = init.HostId;
    this.Recommend = init.Recommend;
    this.AccessDeniedDetail = init.AccessDeniedDetail;
    this.httpStatus = init.httpStatus;
    this.retryable = init.retryable;
    this.action = init.action;
    this.retryAfterMs = init.retryAfterMs;
    this.retryAfterS = init.retryAfterS;
  }

  /** True for our own refusal (no CAMS call made), false for anything CAMS or the network said. */
  get budgetRefusal(): boolean {
    return this.retryAfterMs !== undefined;
  }
}

/** Our own System.LimitControl: refused by the account's budget before CAMS was called. */
export function budgetRefusal(action: string | undefined, retryAfterMs: number): CamsError {
  return new CamsError({
    Code: 'System.LimitControl',
    Message: "The account's CAMS rate budget has no free slot within this request's time; CAMS was not called.",
    httpStatus: 0,
    retryable: true,
    action,
    retryAfterMs: Math.max(0, retryAfterMs),
  });
}

/**
 * The same error with the given values (the call's own secret and STS token) replaced by *** in every
 * text CAMS or a proxy wrote: a reply that echoes our request must not carry them on to our caller,
 * a log or a stored record. The error itself when none occurs.
 */
export function redactCamsError(err: CamsError, secrets: readonly (string | undefined)[]): CamsError {
  const clean = (v: string | undefined) => (v === undefined ? v : redactValues(v, secrets));
  const [Message, Recommend, AccessDeniedDetail] = [clean(err.Message)!, clean(err.Recommend), redactDeep(err.AccessDeniedDetail, secrets)];
  if (Message === err.Message && Recommend === err.Recommend && AccessDeniedDetail === err.AccessDeniedDetail) return err;
  return new CamsError({
    Code: err.Code,
    Message,
    RequestId: err.RequestId,
    HostId: err.HostId,
    Recommend,
    AccessDeniedDetail,
    httpStatus: err.httpStatus,
    retryable: err.retryable,
    action: err.action,
    cause: err.cause,
    retryAfterMs: err.retryAfterMs,
    retryAfterS: err.retryAfterS,
  });
}

/** `value` with the secrets replaced in every string of it, keys included; `value` itself when none occurs. */
function redactDeep<T>(value: T, secrets: readonly (string | undefined)[]): T {
  if (typeof value === 'string') return redactValues(value, secrets) as T;
  if (value === null || typeof value !== 'object') return value;
  let changed = false;
  const swap = (v: unknown) => {
    const r = redactDeep(v, secrets);
    if (r !== v) changed = true;
    return r;
  };
  const out = Array.isArray(value)
    ? value.map(swap)
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [swap(k) as string, swap(v)]));
  return changed ? (out as T) : value;
}

export function isCamsError(value: unknown): value is CamsError {
  return value instanceof CamsError;
}

/** Flow control, whatever the transport status: System.LimitControl and the Throttling family. */
export function isThrottlingCode(code: string): boolean {
  return code === 'System.LimitControl' || code.startsWith('Throttling');
}

/**
 * RAM refusing the caller the action (a permission its role lacks), not its credentials or its
 * request: CAMS's Ram.PermissionDeny, and the codes RAM's troubleshooting page names for OpenAPI
 * (Forbidden.RAM, NoPermission, NotAuthorized; Forbidden.NoPermission on some products).
 */
const PERMISSION_REFUSED = new Set(['Ram.PermissionDeny', 'Forbidden.RAM', 'Forbidden.NoPermission', 'NoPermission', 'NotAuthorized']);

export function isPermissionRefusal(code: string): boolean {
  return PERMISSION_REFUSED.has(code);
}

/** CAMS refusing our own call (credentials, signature, request form): the function's fault, not the caller's nor the resource's. */
const OWN_CALL_REFUSED =
  /^(InvalidAccessKeyId|InvalidSecurityToken|SignatureDoesNotMatch|IncompleteSignature|InvalidTimeStamp|SignatureNonceUsed|InvalidVersion|InvalidAction|MissingSecurityToken|Forbidden\.AccessKeyDisabled)\b/;

export function isOwnCallRefusal(code: string): boolean {
  return OWN_CALL_REFUSED.test(code);
}

/**
 * The call's STS token ran out (the gateway's code for it): on FC the role's token in the invocation's
 * context expired between the invocation's start and the call. Trying again in this invocation signs
 * with the same token; the next invocation's context carries a fresh one. The gateway refused the
 * signature, so the operation never ran.
 */
export function isExpiredToken(code: string): boolean {
  return code === 'InvalidSecurityToken.Expired';
}

/**
 * Retry only what is transient: throttling, 5xx, no reply at all, and an expired STS token (later,
 * with a fresh one). Business errors (other 4xx, HTTP 200 with Code != OK) would fail the same way again.
 */
function isRetryableFailure(code: string, httpStatus: number): boolean {
  // Not within the call (retry.ts: the same token again), but by the next invocation.
  if (isThrottlingCode(code) || isExpiredToken(code)) return true;
  if (httpStatus === 0) return code === NETWORK_ERROR || code === REQUEST_TIMEOUT;
  return httpStatus >= 500 || httpStatus === 429;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * CAMS sends `AccessDeniedDetail: "None"` on every reply that RAM did not refuse; a RAM denial's
 * detail is a string or, from newer gateways, an object, kept as sent (an empty one says nothing).
 */
function accessDeniedDetail(v: unknown): AccessDeniedDetail | undefined {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return Object.keys(v).length > 0 ? (v as Record<string, unknown>) : undefined;
  const text = str(v)?.trim();
  return text && text !== 'None' ? text : undefined;
}

/**
 * A field of an error body by its CAMS name, else by its lower-camel one (`Code`, then `code`), as
 * the official SDK reads a 4xx/5xx body (`defaultAny(err["Code"], err["code"])`, and so Message,
 * RequestId, AccessDeniedDetail): a throttle answered `{"code": ...}` must still be one.
 */
function errorField(body: Record<string, unknown>, name: string): string | undefined {
  return str(body[name]) ?? str(body[name.charAt(0).toLowerCase() + name.slice(1)]);
}

/** Error from a reply's fields: the HTTP 4xx/5xx body or an HTTP 200 envelope with Code != OK. */
export function camsErrorFromBody(
  httpStatus: number,
  body: Record<string, unknown>,
  action?: string,
  requestIdHeader?: string | string[],
  retryAfterHeader?: string | string[],
): CamsError {
  const Code = errorField(body, 'Code') ?? HTTP_ERROR;
  // A throttle in CAMS's own body may carry the wait it asks for too: relayed as a gateway page's is.
  const retryAfter = headerValue(retryAfterHeader);
  return new CamsError({
    Code,
    Message: errorField(body, 'Message') ?? `HTTP ${httpStatus}`,
    RequestId: errorField(body, 'RequestId') ?? headerValue(requestIdHeader),
    HostId: errorField(body, 'HostId'),
    Recommend: errorField(body, 'Recommend'),
    AccessDeniedDetail: accessDeniedDetail(body.AccessDeniedDetail ?? body.accessDeniedDetail),
    httpStatus,
    retryable: isRetryableFailure(Code, httpStatus),
    action,
    retryAfterS: isThrottlingCode(Code) && retryAfter !== undefined ? throttleWaitS(retryAfter) : undefined,
  });
}

/** Error for a non-2xx reply, whatever its body holds (JSON envelope, HTML, nothing). */
export function camsErrorFromHttp(
  httpStatus: number,
  body: Buffer,
  action?: string,
  requestIdHeader?: string | string[],
  retryAfterHeader?: string | string[],
): CamsError {
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && errorField(parsed as Record<string, unknown>, 'Code') !== undefined) {
    return camsErrorFromBody(httpStatus, parsed as Record<string, unknown>, action, requestIdHeader, retryAfterHeader);
  }
  const snippet = text.trim().slice(0, 200);
  // A 429 without CAMS's body is a throttle in front of CAMS (a gateway's or proxy's page): the call
  // never reached the operation, and is relayed as the throttle it is, with the wait it asked for.
  const throttled = httpStatus === 429;
  return new CamsError({
    Code: throttled ? GATEWAY_THROTTLING : HTTP_ERROR,
    Message: `HTTP ${httpStatus}${snippet ? ': ' + snippet : ' with an empty body'}`,
    RequestId: headerValue(requestIdHeader),
    httpStatus,
    retryable: isRetryableFailure(HTTP_ERROR, httpStatus),
    action,
    retryAfterS: throttled ? throttleWaitS(headerValue(retryAfterHeader)) : undefined,
  });
}

/** The code for a throttle that sent no code of its own: the OpenAPI gateway's (a `Throttling*`). */
export const GATEWAY_THROTTLING = 'Throttling';
/** The longest wait relayed from a gateway's Retry-After: a caller is not held off longer on its word. */
export const THROTTLE_WAIT_MAX_S = 60;

/** Retry-After (delta-seconds or an HTTP date) as whole seconds in [1, THROTTLE_WAIT_MAX_S]; 1 when absent or unreadable. */
function throttleWaitS(value: string | undefined, now = Date.now()): number {
  const v = value?.trim() ?? '';
  const ms = /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.min(THROTTLE_WAIT_MAX_S, Math.max(1, Math.ceil(ms / 1000))) : 1;
}

/** Socket errors raised before the request could reach CAMS: such an attempt was certainly not applied. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * True when the attempt may have reached CAMS and been applied although we got no answer. A timeout
 * is, unless it fired before any byte of the request could leave (no connection yet, or its TLS
 * handshake unfinished: HttpTimeoutError.requestSent false).
 */
export function mayHaveBeenApplied(err: CamsError): boolean {
  if (err.httpStatus !== 0) return false;
  if (err.Code === REQUEST_TIMEOUT) return !(err.cause instanceof HttpTimeoutError && !err.cause.requestSent);
  if (err.Code !== NETWORK_ERROR) return false;
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return !(typeof code === 'string' && NOT_SENT.has(code));
}

/** No reply: a timeout (ours) or a socket-level failure. Both are worth another try. */
export function camsErrorFromNetwork(err: unknown, action?: string): CamsError {
  const timedOut = err instanceof HttpTimeoutError;
  const message = err instanceof Error ? err.message : String(err);
  return new CamsError({
    Code: timedOut ? REQUEST_TIMEOUT : NETWORK_ERROR,
    Message: message,
    httpStatus: 0,
    retryable: true,
    action,
    cause: err,
  });
}

export function invalidResponse(message: string, httpStatus: number, action?: string, RequestId?: string): CamsError {
  return new CamsError({ Code: INVALID_RESPONSE, Message: message, RequestId, httpStatus, retryable: false, action });
}
