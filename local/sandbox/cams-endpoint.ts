import type { IncomingHttpHeaders } from 'node:http';
import { verifyAcs3Request, type NonceRegistry } from '../../shared/acs3/index.ts';
import { CAMS_VERSION, isCamsAction } from '../../shared/cams/operations.ts';
import { runAction, type Params } from './actions.ts';
import { maskToken, type CallLog, type CallRecord } from './calls.ts';
import type { FaultInjector } from './faults.ts';
import type { QpsLimiter } from './limits.ts';
import { errors, gatewayErrorReply, type CamsReply } from './replies.ts';
import { isRpcSigned, RPC_AUTH_PARAMS, verifyRpcSignature } from './rpc-signature.ts';
import type { SandboxState } from './state.ts';

/** A request to `/` as the HTTP layer hands it over: body fully read, query decoded. */
export interface IncomingCall {
  method: string;
  /** The path as it arrived (still URL-encoded), without the query. */
  path: string;
  query: Params;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface CamsEndpointDeps {
  lookupSecret: (accessKeyId: string) => string | undefined;
  nonces: NonceRegistry;
  limiter: QpsLimiter;
  faults: FaultInjector;
  state: SandboxState;
  calls: CallLog;
  now: () => number;
}

/**
 * The gateway and the service in one: signature, version and action, injected faults, the QPS
 * limit, then the operation. Every call, rejected or not, lands in the call log.
 */
export async function handleCamsCall(call: IncomingCall, deps: CamsEndpointDeps): Promise<{ reply: CamsReply; record: CallRecord }> {
  const arrivedAt = deps.now();
  const params = mergedParams(call);
  const rpc = isRpcSigned(params, header(call.headers, 'authorization'));
  // An RPC-signed call's action is the signed parameter; its x-acs-action header (openapi-client v2 sends one) is unsigned.
  const action = (rpc ? params['Action'] : header(call.headers, 'x-acs-action') ?? params['Action']) ?? '';
  const record: CallRecord = {
    At: new Date(arrivedAt).toISOString(),
    AccessKeyId: claimedKeyId(call.headers, params),
    Action: action,
    Params: withoutAuthParams(params),
    HttpStatus: 0,
    Code: '',
    RequestId: '',
  };
  const latencyMs = deps.faults.current.latencyMs;
  if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));

  const reply = await decide(call, params, action, rpc, deps, record);
  record.HttpStatus = reply.httpStatus;
  record.Code = reply.code;
  record.RequestId = reply.requestId;
  deps.calls.add(record);
  return { reply, record };
}

async function decide(call: IncomingCall, params: Params, action: string, rpc: boolean, deps: CamsEndpointDeps, record: CallRecord): Promise<CamsReply> {
  const verified = rpc
    ? await verifyRpcSignature(call.method, params, { lookupSecret: deps.lookupSecret, nonces: deps.nonces, now: deps.now })
    : await verifyAcs3(call, deps);
  if (!verified.ok) return gatewayErrorReply(verified.httpStatus, verified.code, verified.message);
  if (rpc) {
    for (const [name, param] of [['x-acs-action', 'Action'], ['x-acs-version', 'Version']] as const) {
      const sent = header(call.headers, name);
      if (sent !== undefined && sent !== params[param]) {
        return gatewayErrorReply(400, 'IncompleteSignature', `The unsigned header ${name} does not match the signed parameter ${param}.`);
      }
    }
  }

  if (verified.securityToken !== undefined) {
    // Any non-empty token is accepted for a known key (the sandbox has no STS to ask), but one the faults name expired.
    if (verified.securityToken === '') {
      return gatewayErrorReply(400, 'InvalidSecurityToken.Malformed', 'The security token you provided is malformed.');
    }
    record.SecurityToken = maskToken(verified.securityToken);
    // Status, code and wording of Alibaba Cloud's OpenAPI gateway for an STS token past its expiry.
    if (deps.faults.tokenExpired(verified.securityToken)) {
      return gatewayErrorReply(400, 'InvalidSecurityToken.Expired', 'Specified SecurityToken is expired.');
    }
    const tokenKeyId = header(call.headers, 'x-acs-accesskey-id');
    if (tokenKeyId !== undefined && tokenKeyId !== verified.accessKeyId) {
      return gatewayErrorReply(400, 'IncompleteSignature', 'x-acs-accesskey-id does not match the Credential in Authorization.');
    }
  }

  const version = rpc ? params['Version'] : header(call.headers, 'x-acs-version') ?? params['Version'];
  if (version === undefined || version === '') return errors.missingParameter('Version');
  if (version !== CAMS_VERSION) return errors.invalidVersion();
  if (action === '') return errors.missingParameter('Action');
  if (!isCamsAction(action)) return errors.actionNotFound();

  const denied = deps.faults.denial(verified.accessKeyId, action);
  if (denied) return denied === 'Ram.PermissionDeny' ? errors.permissionDeny() : errors.unsubscribed();

  switch (deps.faults.draw()) {
    case 'throttle':
      return errors.limitControl();
    case 'unavailable':
      return errors.serviceUnavailable();
    case 'internal':
      return errors.internalError();
    case undefined:
      break;
  }

  const account = verified.accessKeyId;
  if (!deps.limiter.admit(account, action, deps.now())) return errors.limitControl();
  return runAction(action, account, params, deps.state, deps.now());
}

function verifyAcs3(call: IncomingCall, deps: CamsEndpointDeps) {
  // Action and version may also come as params (older RPC style); then the query or the signed body
  // hash covers them, so only the headers actually sent must be signed.
  const requiredSignedHeaders = ['x-acs-content-sha256'];
  if (header(call.headers, 'x-acs-action') !== undefined) requiredSignedHeaders.push('x-acs-action');
  if (header(call.headers, 'x-acs-version') !== undefined) requiredSignedHeaders.push('x-acs-version');
  return verifyAcs3Request(
    { method: call.method, path: call.path, query: call.query, headers: call.headers, body: call.body },
    { lookupSecret: deps.lookupSecret, nonces: deps.nonces, requiredSignedHeaders, now: deps.now },
  );
}

/** The params as the call log shows them: the signature protocol's own (a token among them) left out. */
function withoutAuthParams(params: Params): Params {
  return Object.fromEntries(Object.entries(params).filter(([k]) => !RPC_AUTH_PARAMS.has(k)));
}

/** Query params, then form-body params on top: the SDK puts them in either place depending on version. */
function mergedParams(call: IncomingCall): Params {
  const params: Params = { ...call.query };
  const contentType = header(call.headers, 'content-type') ?? '';
  if (call.body.length > 0 && contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(call.body.toString('utf8'))) params[k] = v;
  }
  return params;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return (Array.isArray(v) ? v.join(',') : v).trim();
}

/** The log record of a call refused before it could be read (its body was too large). */
export function rejectedCallRecord(headers: IncomingHttpHeaders, query: Params, reply: CamsReply, nowMs: number): CallRecord {
  return {
    At: new Date(nowMs).toISOString(),
    AccessKeyId: claimedKeyId(headers, query),
    Action: header(headers, 'x-acs-action') ?? query['Action'] ?? '',
    Params: withoutAuthParams(query),
    HttpStatus: reply.httpStatus,
    Code: reply.code,
    RequestId: reply.requestId,
  };
}

/** The key id a call claims (ACS3 Authorization header or RPC AccessKeyId), for the log of calls that fail before verification. */
function claimedKeyId(headers: IncomingHttpHeaders, params: Params): string {
  const m = /Credential=([^,\s]+)/.exec(header(headers, 'authorization') ?? '');
  return m ? m[1]! : (params['AccessKeyId'] ?? '');
}
