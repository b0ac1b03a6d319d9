/**
 * FC 2.0 invoke API: `POST /2016-08-15/services/{service}/functions/{fn}/invocations`, so that
 * `@alicloud/fc2` pointed at the host (`endpoint: 'http://127.0.0.1:9000'`) works unchanged.
 *   - signature checked as fc2 computes it (./fc-signature.ts), against API_KEYS and the functions'
 *     credentials; errors as FC answers them: `{ErrorCode, ErrorMessage}` + x-fc-request-id;
 *   - sync (default): the raw body is the event; 200 with the handler's result (a Buffer or string
 *     as is, anything else as JSON); a handler error is 200 + `x-fc-error-type: UnhandledInvocationError`
 *     + `{errorMessage, errorType}`;
 *   - `x-fc-invocation-type: Async`: 202 at once, then run in the background with FC's retries.
 */
import type http from 'node:http';
import { verifyFcRequest, FC_API_VERSION, type FcKey, type FcQueries } from './fc-signature.ts';
import type { InvocationOutcome } from './functions.ts';
import { drain, readBody, refuseBody, send, sendJson } from '../http-io.ts';

export const INVOKE_PREFIX = `/${FC_API_VERSION}/`;
const INVOKE_PATH = new RegExp(`^/${FC_API_VERSION}/services/([^/]+)/functions/([^/]+)/invocations/?$`);

export interface InvokeApiDeps {
  serviceName: string;
  /** 'missing' when serverless.yml lists it but functions/<name>/handler.ts does not exist. */
  functionState(name: string): 'ready' | 'missing' | 'broken' | undefined;
  lookupKey(accessKeyId: string): FcKey | undefined;
  maxSyncBodyBytes: number;
  maxAsyncBodyBytes: number;
  now: () => number;
  invokeSync(functionName: string, event: Buffer, requestId: string): Promise<InvocationOutcome>;
  invokeAsync(functionName: string, event: Buffer, requestId: string): void;
  log: (line: string) => void;
}

function fcError(res: http.ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { ErrorCode: code, ErrorMessage: message });
}

function flatHeaders(req: http.IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

function queryOf(search: string): FcQueries {
  // No prototype: a key named `constructor` is a query key, not Object's member.
  const out = Object.create(null) as FcQueries;
  for (const [k, v] of new URLSearchParams(search)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export async function handleInvokeApi(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: { rawPath: string; search: string },
  requestId: string,
  deps: InvokeApiDeps,
): Promise<string> {
  const method = (req.method ?? 'GET').toUpperCase();
  const m = INVOKE_PATH.exec(url.rawPath);
  if (!m || method !== 'POST') {
    drain(req);
    fcError(res, 400, 'PathNotSupported', `'${method}' against '${url.rawPath}' is not supported`);
    return 'PathNotSupported';
  }
  const headers = flatHeaders(req);
  const async = (headers['x-fc-invocation-type'] ?? '').toLowerCase() === 'async';
  const limit = async ? deps.maxAsyncBodyBytes : deps.maxSyncBodyBytes;
  const body = await readBody(req, limit);
  if (body === 'too-large') {
    refuseBody(req, res, () => fcError(res, 400, 'EntityTooLarge', `payload size exceeds maximum allowed size (${limit} bytes)`));
    return 'EntityTooLarge';
  }

  const auth = verifyFcRequest(
    { method, rawPath: url.rawPath, query: queryOf(url.search), headers, body },
    { lookup: deps.lookupKey, now: deps.now },
  );
  if (!auth.ok) {
    fcError(res, auth.status, auth.code, auth.message);
    return auth.code;
  }

  let service: string;
  let fn: string;
  try {
    service = decodeURIComponent(m[1]!);
    fn = decodeURIComponent(m[2]!);
  } catch {
    fcError(res, 400, 'InvalidArgument', 'the service or function name is not valid URL encoding');
    return 'InvalidArgument';
  }
  const dot = service.indexOf('.');
  const serviceName = dot < 0 ? service : service.slice(0, dot);
  const qualifier = dot < 0 ? undefined : service.slice(dot + 1);
  if (serviceName !== deps.serviceName) {
    fcError(res, 404, 'ServiceNotFound', `service '${serviceName}' does not exist (the local host serves '${deps.serviceName}')`);
    return 'ServiceNotFound';
  }
  if (qualifier !== undefined && qualifier !== 'LATEST') {
    fcError(res, 404, 'AliasNotFound', `alias '${qualifier}' of service '${serviceName}' does not exist (the local host serves LATEST only)`);
    return 'AliasNotFound';
  }
  const state = deps.functionState(fn);
  if (state === undefined) {
    fcError(res, 404, 'FunctionNotFound', `function '${fn}' does not exist in service '${serviceName}'`);
    return 'FunctionNotFound';
  }
  if (state === 'broken') {
    fcError(res, 500, 'FunctionLoadError', `function '${fn}' failed to load; the host's start-up output says why`);
    return 'FunctionLoadError';
  }
  if (state === 'missing') {
    fcError(res, 501, 'FunctionNotImplemented', `function '${fn}' is listed in serverless.yml but functions/${fn}/handler.ts does not exist`);
    return 'FunctionNotImplemented';
  }

  if (async) {
    send(res, 202, {}, Buffer.alloc(0));
    deps.invokeAsync(fn, body, requestId);
    return 'Async';
  }

  const outcome = await deps.invokeSync(fn, body, requestId);
  if (!outcome.ok) {
    sendJson(res, 200, { errorMessage: outcome.error.errorMessage, errorType: outcome.error.errorType }, { 'x-fc-error-type': 'UnhandledInvocationError' });
    return 'UnhandledInvocationError';
  }
  const { result } = outcome;
  if (Buffer.isBuffer(result) || result instanceof Uint8Array) {
    send(res, 200, { 'content-type': 'application/octet-stream' }, Buffer.from(result));
  } else if (typeof result === 'string') {
    send(res, 200, { 'content-type': 'application/octet-stream' }, Buffer.from(result, 'utf8'));
  } else if (result === undefined || result === null) {
    send(res, 200, { 'content-type': 'application/octet-stream' }, Buffer.alloc(0));
  } else {
    let text: string;
    try {
      text = JSON.stringify(result);
    } catch (e) {
      sendJson(res, 200, { errorMessage: `the result is not JSON-serialisable: ${(e as Error).message}`, errorType: 'TypeError' }, { 'x-fc-error-type': 'UnhandledInvocationError' });
      return 'UnhandledInvocationError';
    }
    send(res, 200, { 'content-type': 'application/json' }, Buffer.from(text, 'utf8'));
  }
  return 'OK';
}
