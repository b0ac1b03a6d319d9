/**
 * FC's invoke APIs, so that a function (onboarding-api) or a tool can invoke another function on the
 * host as on FC:
 *   - FC 3.0: `POST /2023-03-30/functions/{fn}/invocations`, ACS3-signed (./fc3-invoke-api.ts);
 *   - FC 2.0: `POST /2016-08-15/services/{service}/functions/{fn}/invocations`, so that
 *     `@alicloud/fc2` pointed at the host (`endpoint: 'http://127.0.0.1:9000'`) works unchanged: the
 *     signature checked as fc2 computes it (./fc-signature.ts); errors as FC 2.0 answers them,
 *     `{ErrorCode, ErrorMessage}` + x-fc-request-id.
 * Both check the signature against API_KEYS and the functions' credentials, whichever mode the host
 * runs the functions in; what happens next is the same (./invoke-dispatch.ts).
 */
import type http from 'node:http';
import { verifyFcRequest, FC_API_VERSION } from './fc-signature.ts';
import { FC3_INVOKE_PREFIX, handleFc3InvokeApi } from './fc3-invoke-api.ts';
import { dispatchInvocation, flatHeaders, queryOf, readInvocation, type InvokeApiDeps } from './invoke-dispatch.ts';
import { sendJson } from '../http-io.ts';

export type { InvokeApiDeps } from './invoke-dispatch.ts';

const FC2_INVOKE_PREFIX = `/${FC_API_VERSION}/`;
const INVOKE_PATH = new RegExp(`^/${FC_API_VERSION}/services/([^/]+)/functions/([^/]+)/invocations/?$`);

/** Whether a request path belongs to one of FC's invoke APIs rather than to an HTTP route. */
export function isInvokeApiPath(rawPath: string): boolean {
  return rawPath.startsWith(FC2_INVOKE_PREFIX) || rawPath.startsWith(FC3_INVOKE_PREFIX);
}

export function handleInvokeApi(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: { rawPath: string; search: string },
  requestId: string,
  deps: InvokeApiDeps,
): Promise<string> {
  if (url.rawPath.startsWith(FC3_INVOKE_PREFIX)) return handleFc3InvokeApi(req, res, url, requestId, deps);
  return handleFc2InvokeApi(req, res, url, requestId, deps);
}

async function handleFc2InvokeApi(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: { rawPath: string; search: string },
  requestId: string,
  deps: InvokeApiDeps,
): Promise<string> {
  const fail = (status: number, code: string, message: string): string => {
    sendJson(res, status, { ErrorCode: code, ErrorMessage: message });
    return code;
  };
  const read = await readInvocation(req, res, url.rawPath, INVOKE_PATH, deps, fail);
  if ('answered' in read) return read.answered;
  const { method, path: m, body } = read;
  const headers = flatHeaders(req);

  const auth = verifyFcRequest(
    { method, rawPath: url.rawPath, query: queryOf(url.search), headers, body },
    { lookup: deps.lookupKey, now: deps.now },
  );
  if (!auth.ok) return fail(auth.status, auth.code, auth.message);

  let service: string;
  let fn: string;
  try {
    service = decodeURIComponent(m[1]!);
    fn = decodeURIComponent(m[2]!);
  } catch {
    return fail(400, 'InvalidArgument', 'the service or function name is not valid URL encoding');
  }
  const dot = service.indexOf('.');
  const serviceName = dot < 0 ? service : service.slice(0, dot);
  const qualifier = dot < 0 ? undefined : service.slice(dot + 1);
  if (serviceName !== deps.serviceName) {
    return fail(404, 'ServiceNotFound', `service '${serviceName}' does not exist (the local host serves '${deps.serviceName}')`);
  }
  if (qualifier !== undefined && qualifier !== 'LATEST') {
    return fail(404, 'AliasNotFound', `alias '${qualifier}' of service '${serviceName}' does not exist (the local host serves LATEST only)`);
  }
  return dispatchInvocation(res, fn, body, read.async, requestId, deps, fail, ` in service '${serviceName}'`);
}
