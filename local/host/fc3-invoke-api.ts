/**
 * FC 3.0's InvokeFunction on the host: `POST /2023-03-30/functions/{fn}/invocations[?qualifier=LATEST]`,
 * what onboarding-api sends under FC 3.0 (../../shared/fc/invoke.ts) and what @alicloud/fc20230330
 * sends. The ACS3-HMAC-SHA256 signature is checked as the gateway checks it (../../shared/acs3:
 * signature, 15-minute window, each nonce once) against API_KEYS and the functions' credentials
 * (their STS token too, when they have one). Errors as FC 3.0 answers them: `{Code, Message, RequestId}`.
 *
 * `{fn}` is the function's name in serverless.yml (`onboarding`) or its FC 3.0 name in dist/s.yaml
 * (`<service>-<stage>-onboarding`), so either ONBOARDING_FUNCTION works here.
 */
import type http from 'node:http';
import { verifyAcs3Request, type Acs3ErrorCode, type QueryParams } from '../../shared/acs3/index.ts';
import { FC3_API_VERSION } from '../../shared/fc/invoke.ts';
import { dispatchInvocation, queryOf, readInvocation, type InvokeApiDeps } from './invoke-dispatch.ts';
import { sendJson } from '../http-io.ts';

export const FC3_INVOKE_PREFIX = `/${FC3_API_VERSION}/`;
const INVOKE_PATH = new RegExp(`^/${FC3_API_VERSION}/functions/([^/]+)/invocations/?$`);

/** The ACS3 verdicts in FC's own codes, where FC has one (its error-code table: 403 for each). */
const FC_CODES: Partial<Record<Acs3ErrorCode, string>> = {
  SignatureDoesNotMatch: 'SignatureNotMatch',
  'InvalidAccessKeyId.NotFound': 'InvalidAccessKeyID',
  IncompleteSignature: 'AccessDenied',
  'InvalidTimeStamp.Expired': 'RequestTimeTooSkewed',
};

export async function handleFc3InvokeApi(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: { rawPath: string; search: string },
  requestId: string,
  deps: InvokeApiDeps,
): Promise<string> {
  const fail = (status: number, code: string, message: string): string => {
    sendJson(res, status, { Code: code, Message: message, RequestId: requestId });
    return code;
  };
  const read = await readInvocation(req, res, url.rawPath, INVOKE_PATH, deps, fail, ' (the local host serves InvokeFunction only)');
  if ('answered' in read) return read.answered;
  const { method, path: m, async, body } = read;

  const query = queryOf(url.search);
  const signedQuery: QueryParams = Object.create(null) as QueryParams;
  for (const [k, v] of Object.entries(query)) {
    if (Array.isArray(v)) return fail(400, 'InvalidArgument', `the query parameter '${k}' is given more than once`);
    signedQuery[k] = v;
  }
  const auth = await verifyAcs3Request(
    { method, path: url.rawPath, query: signedQuery, headers: req.headers, body },
    { lookupSecret: (id) => deps.lookupKey(id)?.accessKeySecret, nonces: deps.nonces, now: deps.now },
  );
  if (!auth.ok) {
    const code = FC_CODES[auth.code];
    return code ? fail(403, code, auth.message) : fail(auth.httpStatus, auth.code, auth.message);
  }
  const key = deps.lookupKey(auth.accessKeyId)!;
  if (key.securityToken && auth.securityToken !== key.securityToken) {
    return fail(403, 'InvalidSecurityToken', 'the x-acs-security-token header does not match this access key');
  }

  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    return fail(400, 'InvalidArgument', 'the function name is not valid URL encoding');
  }
  const qualifier = signedQuery['qualifier'];
  if (qualifier && qualifier !== 'LATEST') {
    return fail(404, 'AliasNotFound', `alias '${qualifier}' of function '${name}' does not exist (the local host serves LATEST only)`);
  }
  // dist/s.yaml names each function <service>-<stage>-<name>; the host knows them by <name>.
  const prefix = `${deps.serviceName}-`;
  const fn = deps.functionState(name) === undefined && name.startsWith(prefix) ? name.slice(prefix.length) : name;
  return dispatchInvocation(res, fn, body, async, requestId, deps, fail, '');
}
