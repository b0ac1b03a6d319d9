import { isCamsError, isThrottlingCode, type CamsError } from '../cams/errors.ts';
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

export function jsonReply(status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): FcHttpResponse {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': String(body['RequestId'] ?? ''), ...headers },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

export function successReply(requestId: string, data: unknown, opts: { status?: number; camsRequestId?: string | undefined } = {}): FcHttpResponse {
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

const CAMS_FORBIDDEN = new Set(['Ram.PermissionDeny', 'Product.Unsubscript', 'Forbidden.RAM', 'Forbidden']);

/** Where a CAMS failure lands for our caller (README, "Status codes"). */
export function camsErrorStatus(err: CamsError): number {
  if (isThrottlingCode(err.Code)) return 429;
  if (CAMS_FORBIDDEN.has(err.Code) || err.Code.startsWith('Ram.')) return 403;
  if (err.Code === 'Unknown.ResourceOwnerId') return 404;
  if (err.Code === 'RequestTimeout' || err.Code === 'DeadlineExceeded') return 504;
  return 502;
}

export interface ErrorReplyInfo {
  response: FcHttpResponse;
  code: string;
  camsCode?: string | undefined;
  internal?: unknown;
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
    // Our own refusal (the account's budget had no slot in time; CAMS was not called) says when a slot frees up.
    const retryAfterS = err.retryAfterMs === undefined ? 1 : Math.max(1, Math.ceil(err.retryAfterMs / 1000));
    const headers: Record<string, string> = status === 429 ? { 'retry-after': String(retryAfterS) } : {};
    return { response: jsonReply(status, body, headers), code: err.Code, camsCode: err.budgetRefusal ? undefined : err.Code };
  }
  if (err instanceof StoreError && (err.code === 'UNAVAILABLE' || err.code === 'LOCK_TIMEOUT')) {
    return {
      response: jsonReply(503, { RequestId: requestId, Code: 'StoreUnavailable', Message: 'The state store is unavailable; try again shortly.', Success: false }, { 'retry-after': '5' }),
      code: 'StoreUnavailable',
      internal: err,
    };
  }
  if (err instanceof ConfigError || err instanceof MissingCredentialsError) {
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

