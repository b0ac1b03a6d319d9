/**
 * What both FC invoke APIs the host serves (./invoke-api.ts: FC 2.0, ./fc3-invoke-api.ts: FC 3.0) do
 * once the request is authenticated and names a function: the function's state checked, then
 *   - sync (default): 200 with the handler's result (a Buffer or string as is, anything else as
 *     JSON); a handler error is 200 + `x-fc-error-type: UnhandledInvocationError` + `{errorMessage, errorType}`;
 *   - `x-fc-invocation-type: Async`: 202 at once, then run in the background with FC's retries.
 * Errors are written by the caller's `fail`, in its API's own error shape.
 */
import type http from 'node:http';
import type { NonceRegistry } from '../../shared/acs3/index.ts';
import type { FcKey, FcQueries } from './fc-signature.ts';
import type { InvocationOutcome } from './functions.ts';
import { drain, readBody, refuseBody, send, sendJson } from '../http-io.ts';

export interface InvokeApiDeps {
  serviceName: string;
  /** 'missing' when serverless.yml lists it but functions/<name>/handler.ts does not exist. */
  functionState(name: string): 'ready' | 'missing' | 'broken' | undefined;
  lookupKey(accessKeyId: string): FcKey | undefined;
  /** Signature nonces of FC 3.0 (ACS3) requests, each accepted once in its window. */
  nonces: NonceRegistry;
  maxSyncBodyBytes: number;
  maxAsyncBodyBytes: number;
  now: () => number;
  invokeSync(functionName: string, event: Buffer, requestId: string): Promise<InvocationOutcome>;
  invokeAsync(functionName: string, event: Buffer, requestId: string): void;
}

export type Fail = (status: number, code: string, message: string) => string;

export function flatHeaders(req: http.IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

export function queryOf(search: string): FcQueries {
  // No prototype: a key named `constructor` is a query key, not Object's member.
  const out = Object.create(null) as FcQueries;
  for (const [k, v] of new URLSearchParams(search)) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** An invoke request's start, as both APIs take it: its path's match, its invocation type and body. */
export interface InvocationRequest {
  method: string;
  path: RegExpExecArray;
  async: boolean;
  body: Buffer;
}

/**
 * What both invoke APIs check first: a POST to `path`, its body read within the limit of its
 * invocation type (`x-fc-invocation-type: Async` or sync). Otherwise answers through `fail` and
 * returns the code it answered with.
 */
export async function readInvocation(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  rawPath: string,
  path: RegExp,
  deps: InvokeApiDeps,
  fail: Fail,
  notServed = '',
): Promise<InvocationRequest | { answered: string }> {
  const method = (req.method ?? 'GET').toUpperCase();
  const match = path.exec(rawPath);
  if (!match || method !== 'POST') {
    drain(req);
    return { answered: fail(400, 'PathNotSupported', `'${method}' against '${rawPath}' is not supported${notServed}`) };
  }
  const async = (flatHeaders(req)['x-fc-invocation-type'] ?? '').toLowerCase() === 'async';
  const limit = async ? deps.maxAsyncBodyBytes : deps.maxSyncBodyBytes;
  const body = await readBody(req, limit);
  if (body === 'too-large') {
    refuseBody(req, res, () => fail(400, 'EntityTooLarge', `payload size exceeds maximum allowed size (${limit} bytes)`));
    return { answered: 'EntityTooLarge' };
  }
  return { method, path: match, async, body };
}

/** Runs (or queues) `fn` and answers; the returned string is the outcome for the host's log line. */
export async function dispatchInvocation(
  res: http.ServerResponse,
  fn: string,
  body: Buffer,
  async: boolean,
  requestId: string,
  deps: InvokeApiDeps,
  fail: Fail,
  where: string,
): Promise<string> {
  const state = deps.functionState(fn);
  if (state === undefined) return fail(404, 'FunctionNotFound', `function '${fn}' does not exist${where}`);
  if (state === 'broken') return fail(500, 'FunctionLoadError', `function '${fn}' failed to load; the host's start-up output says why`);
  if (state === 'missing') return fail(501, 'FunctionNotImplemented', `function '${fn}' is listed in serverless.yml but functions/${fn}/handler.ts does not exist`);

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
