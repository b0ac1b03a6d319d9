import {
  DEADLINE_EXCEEDED,
  HTTP_ERROR,
  INVALID_RESPONSE,
  isCamsError,
  isExpiredToken,
  isOwnCallRefusal,
  isPermissionRefusal,
  isThrottlingCode,
  NETWORK_ERROR,
  REQUEST_TIMEOUT,
  type AccessDeniedDetail,
  type CamsError,
} from '../cams/errors.ts';
import type { Acs3ErrorCode } from '../acs3/verify.ts';
import { MissingCredentialsError } from '../cams/credentials.ts';
import { ConfigError } from '../config/env.ts';
import { StoreError } from '../store/port.ts';
import { HttpError } from './errors.ts';

export interface FcHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded: false;
}

function jsonReply(status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): FcHttpResponse {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': String(body['RequestId'] ?? ''), ...headers },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

/**
 * A success in the CAMS envelope. A route standing for a CAMS operation relays CAMS's body as CAMS
 * sent it (Code, Message, AccessDeniedDetail, Data or none); only the ids are ours to name:
 * `RequestId` is this invocation's, `CamsRequestId` CAMS's. `Success` is ours too: true iff Code is
 * OK, as in every reply we give, where CAMS may send `Success: false` beside `Code: "OK"` (the
 * AddChatappPhoneNumber page's example) and the client goes by Code. Other routes answer in the same shape.
 */
export function successReply(
  requestId: string,
  data: unknown,
  opts: { status?: number | undefined; camsRequestId?: string | undefined; cams?: { readonly RequestId?: string | undefined } | undefined } = {},
): FcHttpResponse {
  if (opts.cams) {
    const { RequestId: camsRequestId, ...rest } = opts.cams as Record<string, unknown>;
    // Left out when CAMS gave none (as every other reply does), never quoted as an empty id.
    return jsonReply(opts.status ?? 200, { RequestId: requestId, ...rest, Success: rest['Code'] === 'OK', ...(camsRequestId ? { CamsRequestId: camsRequestId } : {}) });
  }
  const body: Record<string, unknown> = { RequestId: requestId, Code: 'OK', Message: 'OK', Success: true };
  if (opts.camsRequestId) body['CamsRequestId'] = opts.camsRequestId;
  if (data !== undefined) body['Data'] = data;
  return jsonReply(opts.status ?? 200, body);
}

/**
 * Caller authentication: 401 when the caller is not identified (no or bad key, stale or replayed
 * request), 403 when a known key's signature does not hold.
 */
export function callerAuthStatus(code: Acs3ErrorCode): number {
  return code === 'SignatureDoesNotMatch' ? 403 : 401;
}

/** Our CAMS client's codes for a call that got no usable reply. */
const NO_USABLE_REPLY = new Set([NETWORK_ERROR, INVALID_RESPONSE, HTTP_ERROR]);

/**
 * Where a CAMS failure lands for our caller (README, "Status codes"). The caller's mistakes are 4xx;
 * 502 only when CAMS failed (5xx), could not be reached or sent a reply we cannot read.
 */
export function camsErrorStatus(err: CamsError): number {
  const code = err.Code;
  if (isThrottlingCode(code)) return 429;
  if (code === REQUEST_TIMEOUT || code === DEADLINE_EXCEEDED) return 504;
  if (err.httpStatus >= 500 || NO_USABLE_REPLY.has(code)) return 502;
  // The role's STS token ran out during this invocation: the next one signs with a fresh token, so
  // the request may be sent again at once; nothing is misconfigured.
  if (isExpiredToken(code)) return 503;
  // CAMS refusing our own call (credentials, signature, request form): the function's fault, not the caller's.
  if (isOwnCallRefusal(code)) return 500;
  // RAM's own codes too (NoPermission, NotAuthorized: isPermissionRefusal): the role lacks a grant, not the caller's bad request.
  if (code === 'Product.Unsubscript' || code.startsWith('Ram.') || code.startsWith('Forbidden') || isPermissionRefusal(code)) return 403;
  if (code === 'Unknown.ResourceOwnerId' || /(NotFound|NotExist|NotExists)$/.test(code)) return 404;
  if (/(\.Exists?|AlreadyExists?|Conflict|Duplicate\w*)$/.test(code)) return 409;
  return 400;
}

export interface ErrorReplyInfo {
  response: FcHttpResponse;
  code: string;
  camsCode?: string | undefined;
  internal?: unknown;
  /** CAMS's AccessDeniedDetail: it describes the function's own role, so it goes to the log, not the caller. */
  accessDeniedDetail?: AccessDeniedDetail | undefined;
  /** CAMS refused the function's own role or account (a 403 code), with or without a detail. */
  ownAccessRefused?: boolean;
}

/** Turns any error into the CAMS-style envelope; nothing internal leaks into the body. */
export function errorReply(requestId: string, err: unknown): ErrorReplyInfo {
  if (err instanceof HttpError) {
    const body: Record<string, unknown> = { RequestId: requestId, Code: err.code, Message: err.message, Success: false };
    if (err.extra.fields) body['Fields'] = err.extra.fields;
    return { response: jsonReply(err.status, body, err.extra.headers), code: err.code };
  }
  if (isCamsError(err)) {
    const status = camsErrorStatus(err);
    const body: Record<string, unknown> = { RequestId: requestId, Code: err.Code, Message: err.Message, Success: false };
    if (err.RequestId) body['CamsRequestId'] = err.RequestId;
    if (err.Recommend) body['Recommend'] = err.Recommend;
    // Our own refusal (the account's budget had no slot in time; CAMS was not called) says when a slot
    // frees up; a gateway's throttle, what it asked for (bounded).
    const retryAfterS = err.retryAfterMs === undefined ? (err.retryAfterS ?? 1) : Math.max(1, Math.ceil(err.retryAfterMs / 1000));
    const headers: Record<string, string> = status === 429 || status === 503 ? { 'retry-after': String(retryAfterS) } : {};
    return {
      response: jsonReply(status, body, headers),
      code: err.Code,
      camsCode: err.budgetRefusal ? undefined : err.Code,
      accessDeniedDetail: err.AccessDeniedDetail,
      ownAccessRefused: status === 403,
    };
  }
  if (err instanceof StoreError && (err.code === 'UNAVAILABLE' || err.code === 'LOCK_TIMEOUT')) {
    return {
      response: jsonReply(503, { RequestId: requestId, Code: 'StoreUnavailable', Message: 'The state store is unavailable; try again shortly.', Success: false }, { 'retry-after': '5' }),
      code: 'StoreUnavailable',
      internal: err,
    };
  }
  if (err instanceof StoreError && err.code === 'CONFLICT') {
    // One key too busy for now (a burst of onboardings on the active index): the request may succeed
    // in a moment, and is not the caller's mistake nor a fault of ours that needs a look.
    return {
      response: jsonReply(503, { RequestId: requestId, Code: 'StoreUnavailable', Message: 'The state store is busy; try again shortly.', Success: false }, { 'retry-after': '1' }),
      code: 'StoreUnavailable',
      internal: err,
    };
  }
  if (err instanceof ConfigError || err instanceof MissingCredentialsError || (err instanceof StoreError && err.code === 'CONFIG')) {
    // The variable's name goes to the log (internal), not to the caller.
    return {
      response: jsonReply(500, { RequestId: requestId, Code: 'ServiceMisconfigured', Message: 'The function is misconfigured; its log names the setting.', Success: false }),
      code: 'ServiceMisconfigured',
      internal: err,
    };
  }
  return {
    response: jsonReply(500, { RequestId: requestId, Code: 'InternalError', Message: 'The request processing has failed due to some unknown error.', Success: false }),
    code: 'InternalError',
    internal: err,
  };
}

