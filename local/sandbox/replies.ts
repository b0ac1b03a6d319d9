import { randomUUID } from 'node:crypto';

/** A reply the sandbox sends: status, JSON body, and the CAMS code for the call log. */
export interface CamsReply {
  httpStatus: number;
  code: string;
  requestId: string;
  body: Record<string, unknown>;
}

/** The HostId Alibaba Cloud's gateway puts in error replies: the product endpoint. */
const SANDBOX_HOST_ID = 'cams.ap-southeast-1.aliyuncs.com';

/** RequestIds look like the real ones: an upper-case UUID. */
function newRequestId(): string {
  return randomUUID().toUpperCase();
}

/**
 * HTTP 200, Code OK. `data` undefined means the operation has no Data (AddChatappPhoneNumber).
 * `message` is what each operation's seed page shows: "SUCCESS" for QueryChatappBindWaba, "None" elsewhere.
 */
export function okReply(data: unknown, message: 'SUCCESS' | 'None'): CamsReply {
  const requestId = newRequestId();
  const body: Record<string, unknown> = {
    RequestId: requestId,
    Code: 'OK',
    Message: message,
    AccessDeniedDetail: 'None',
    Success: true,
  };
  if (data !== undefined) body['Data'] = data;
  return { httpStatus: 200, code: 'OK', requestId, body };
}

/** A success whose payload sits beside Code instead of under Data (QueryChatappPhoneNumbers, ListChatappTemplate). */
export function okTopLevelReply(fields: Record<string, unknown>, message: 'SUCCESS' | 'None'): CamsReply {
  const reply = okReply(undefined, message);
  Object.assign(reply.body, fields);
  return reply;
}

/** HTTP 200 with Code != OK: a business failure the SDK hands back without throwing. */
export function businessErrorReply(code: string, message: string): CamsReply {
  const requestId = newRequestId();
  return {
    httpStatus: 200,
    code,
    requestId,
    body: { RequestId: requestId, Code: code, Message: message, AccessDeniedDetail: 'None', Success: false },
  };
}

/** HTTP 4xx/5xx in the gateway's shape, which the SDK turns into an exception with err.code = Code. */
export function gatewayErrorReply(httpStatus: number, code: string, message: string): CamsReply {
  const requestId = newRequestId();
  return {
    httpStatus,
    code,
    requestId,
    body: {
      RequestId: requestId,
      HostId: SANDBOX_HOST_ID,
      Code: code,
      Message: message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(code)}&product=cams&requestId=${requestId}`,
    },
  };
}

/** The gateway errors the sandbox gives, so every call site uses the same status and wording. */
export const errors = {
  missingParameter: (name: string) =>
    gatewayErrorReply(400, 'MissingParameter', `The input parameter "${name}" that is mandatory for processing this request is not supplied.`),
  invalidParameter: (name: string, why: string) =>
    gatewayErrorReply(400, 'InvalidParameter', `The specified parameter "${name}" is not valid: ${why}`),
  resourceOwner: () => gatewayErrorReply(400, 'Unknown.ResourceOwnerId', 'The resource does not belong to the current user.'),
  limitControl: () => gatewayErrorReply(400, 'System.LimitControl', 'The system is under flow control.'),
  // Status and wording as the seed pages' error tables give them.
  permissionDeny: () => gatewayErrorReply(400, 'Ram.PermissionDeny', 'You are not authorized to perform the operation.'),
  unsubscribed: () => gatewayErrorReply(400, 'Product.Unsubscript', 'You have not subscribed to the specified product.'),
  actionNotFound: () =>
    gatewayErrorReply(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.'),
  invalidVersion: () => gatewayErrorReply(400, 'InvalidVersion', 'Specified parameter Version is not valid.'),
  tooLarge: (limit: number) =>
    gatewayErrorReply(413, 'RequestEntityTooLarge', `The request body exceeds ${limit} bytes.`),
  serviceUnavailable: () =>
    gatewayErrorReply(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.'),
  internalError: () =>
    gatewayErrorReply(500, 'InternalError', 'The request processing has failed due to some unknown error, exception or failure.'),
};
