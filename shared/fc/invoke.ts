/**
 * FC 3.0's InvokeFunction (API 2023-03-30, ROA style, signed ACS3-HMAC-SHA256), sent the way
 * @alicloud/fc20230330's invokeFunctionWithOptions sends it, over ../http/request.ts: no SDK to load.
 *
 *   POST {endpoint}/2023-03-30/functions/{functionName}/invocations[?qualifier=…]
 *   x-acs-action: InvokeFunction, x-acs-version: 2023-03-30, x-fc-invocation-type: Async | Sync
 *   content-type: application/octet-stream, the payload as the body
 *
 * endpoint: https://{accountId}.{region}.fc.aliyuncs.com (FC's public endpoint). Async answers 202
 * with x-fc-request-id; an error answers {Code, Message, RequestId}.
 */
import { acsEncode, signAcs3Request, type Acs3Credentials } from '../acs3/index.ts';
import { httpRequest } from '../http/request.ts';

export const FC3_API_VERSION = '2023-03-30';

export function fc3Endpoint(accountId: string, region: string): string {
  return `https://${accountId}.${region}.fc.aliyuncs.com`;
}

export function fc3InvocationsPath(functionName: string): string {
  return `/${FC3_API_VERSION}/functions/${acsEncode(functionName)}/invocations`;
}

export interface Fc3InvokeRequest {
  /** With or without scheme (the SDK's form, `123.cn-hangzhou.fc.aliyuncs.com`, means https). */
  endpoint: string;
  functionName: string;
  qualifier?: string | undefined;
  payload: string | Uint8Array;
  async: boolean;
  credentials: Acs3Credentials;
  timeoutMs?: number;
}

export interface Fc3InvokeResult {
  status: number;
  requestId: string | undefined;
  body: Buffer;
}

/** FC answered with an error: its status, Code and Message (never a credential). */
export class FcInvokeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(`FC InvokeFunction answered ${status} ${code}: ${message}`);
    this.name = 'FcInvokeError';
  }
}

const MAX_REPLY_BYTES = 1024 * 1024;

export async function invokeFc3(req: Fc3InvokeRequest): Promise<Fc3InvokeResult> {
  const base = /^https?:\/\//i.test(req.endpoint) ? req.endpoint : `https://${req.endpoint}`;
  const url = new URL(fc3InvocationsPath(req.functionName), base);
  const query = req.qualifier ? { qualifier: req.qualifier } : undefined;
  if (req.qualifier) url.search = `qualifier=${acsEncode(req.qualifier)}`;
  // Signed per call: every request needs its own nonce and date.
  const headers = signAcs3Request(
    {
      method: 'POST',
      path: url.pathname,
      query,
      headers: {
        host: url.host,
        'x-acs-action': 'InvokeFunction',
        'x-acs-version': FC3_API_VERSION,
        'x-fc-invocation-type': req.async ? 'Async' : 'Sync',
        accept: 'application/json',
        'content-type': 'application/octet-stream',
        'user-agent': 'cams-fc',
      },
      body: req.payload,
    },
    req.credentials,
  );
  const res = await httpRequest(url, { method: 'POST', headers, body: req.payload, timeoutMs: req.timeoutMs ?? 10_000, maxBodyBytes: MAX_REPLY_BYTES });
  const rid = res.headers['x-fc-request-id'];
  const requestId = typeof rid === 'string' ? rid : undefined;
  if (res.status >= 200 && res.status < 300) return { status: res.status, requestId, body: res.body };
  let code = `HTTP${res.status}`;
  let message = res.body.toString('utf8').slice(0, 500) || 'no body';
  try {
    const e = JSON.parse(res.body.toString('utf8')) as { Code?: unknown; Message?: unknown; RequestId?: unknown };
    if (typeof e.Code === 'string') code = e.Code;
    if (typeof e.Message === 'string') message = e.Message;
  } catch {
    // not JSON: the text (cut short) is the message
  }
  throw new FcInvokeError(res.status, code, message, requestId);
}
