/**
 * The FC 2.0 API signature, as @alicloud/fc2 computes it (lib/helper.js composeStringToSign and
 * lib/client.js getSignature):
 *
 *   Authorization: FC <AccessKeyID>:base64(HMAC-SHA256(secret, stringToSign))
 *   stringToSign = METHOD \n Content-MD5 \n Content-Type \n Date \n <x-fc-* headers> <path>[\n<queries>]
 *
 * x-fc-* headers: names lower-cased and trimmed, sorted, each `name:value\n` (value as sent).
 * The path is the unescaped API path (`/2016-08-15/services/s/functions/f/invocations`). Queries are
 * signed only for `/proxy/` paths: every `key=value` (one per value of a repeated key), sorted,
 * joined by \n, after a \n.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const FC_API_VERSION = '2016-08-15';
const FC_DATE_WINDOW_MS = 15 * 60 * 1000;

export type FcQueries = Record<string, string | string[]>;

export function fcStringToSign(method: string, path: string, headers: Record<string, string | undefined>, queries: FcQueries | null): string {
  const contentMd5 = headers['content-md5'] || '';
  const contentType = headers['content-type'] || '';
  const date = headers['date'];
  const fcHeaders: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(headers)) {
    const lower = key.toLowerCase().trim();
    if (lower.startsWith('x-fc-')) fcHeaders[lower] = value;
  }
  const canonicalHeaders = Object.keys(fcHeaders)
    .sort()
    .map((k) => `${k}:${fcHeaders[k]}\n`)
    .join('');
  let str = `${method}\n${contentMd5}\n${contentType}\n${date}\n${canonicalHeaders}${path}`;
  if (queries) {
    const params: string[] = [];
    for (const [key, values] of Object.entries(queries)) {
      if (typeof values === 'string') params.push(`${key}=${values}`);
      else if (Array.isArray(values)) for (const v of values) params.push(`${key}=${v}`);
    }
    params.sort();
    str += '\n' + params.join('\n');
  }
  return str;
}

function fcSign(accessKeySecret: string, stringToSign: string): string {
  return createHmac('sha256', accessKeySecret).update(stringToSign, 'utf8').digest('base64');
}

export function fcAuthorization(accessKeyId: string, accessKeySecret: string, stringToSign: string): string {
  return `FC ${accessKeyId}:${fcSign(accessKeySecret, stringToSign)}`;
}

export interface FcKey {
  accessKeySecret: string;
  /** When set, the request must carry the same x-fc-security-token. */
  securityToken?: string | undefined;
}

export interface FcIncomingRequest {
  method: string;
  /** The request path, still URL-encoded as it arrived (without the query). */
  rawPath: string;
  /** Decoded query; repeated keys as arrays. */
  query: FcQueries;
  /** Lower-case names. */
  headers: Record<string, string | undefined>;
  body: Buffer;
}

export type FcAuthResult =
  | { ok: true; accessKeyId: string }
  | { ok: false; status: number; code: string; message: string };

const AUTH_RE = /^FC ([^:\s]+):(\S+)$/;

/** Checks an FC 2.0 API request: Authorization, Date within 15 minutes, Content-MD5 against the body. */
export function verifyFcRequest(
  req: FcIncomingRequest,
  opts: { lookup: (accessKeyId: string) => FcKey | undefined; now?: () => number; windowMs?: number },
): FcAuthResult {
  const fail = (status: number, code: string, message: string): FcAuthResult => ({ ok: false, status, code, message });
  const authorization = req.headers['authorization'];
  if (!authorization) return fail(403, 'AccessDenied', 'required HTTP header authorization was not specified');
  const m = AUTH_RE.exec(authorization.trim());
  if (!m) return fail(403, 'AccessDenied', 'the authorization header must be "FC <AccessKeyID>:<signature>"');
  const [, accessKeyId, signature] = m as unknown as [string, string, string];

  const date = req.headers['date'];
  if (!date) return fail(400, 'MissingRequiredHeader', 'required HTTP header date was not specified');
  const at = Date.parse(date);
  const now = (opts.now ?? Date.now)();
  if (!Number.isFinite(at)) return fail(400, 'InvalidArgument', `the date header "${date}" is not an HTTP date`);
  if (Math.abs(now - at) > (opts.windowMs ?? FC_DATE_WINDOW_MS)) {
    return fail(403, 'RequestTimeTooSkewed', `the difference between the request time ${date} and the server's time is more than 15 minutes`);
  }

  const key = opts.lookup(accessKeyId);
  if (!key) return fail(403, 'InvalidAccessKeyID', `invalid access key ID '${accessKeyId}'`);
  if (key.securityToken && req.headers['x-fc-security-token'] !== key.securityToken) {
    return fail(403, 'InvalidSecurityToken', 'the x-fc-security-token header does not match this access key');
  }

  let path: string;
  try {
    path = decodeURIComponent(req.rawPath);
  } catch {
    return fail(400, 'InvalidArgument', 'the request path is not valid URL encoding');
  }
  const queries = path.startsWith(`/${FC_API_VERSION}/proxy/`) ? req.query : null;
  const expected = fcSign(key.accessKeySecret, fcStringToSign(req.method, path, req.headers, queries));
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    return fail(
      403,
      'SignatureNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your access key and signing method',
    );
  }

  const md5 = req.headers['content-md5'];
  if (md5 && !contentMd5Matches(md5, req.body)) {
    return fail(400, 'InvalidArgument', 'the content-md5 header does not match the body');
  }
  return { ok: true, accessKeyId };
}

/** @alicloud/fc2 sends base64 of the hex digest; RFC 1864 is base64 of the raw digest. Both are accepted. */
function contentMd5Matches(header: string, body: Buffer): boolean {
  const digest = createHash('md5').update(body).digest();
  return header === Buffer.from(digest.toString('hex'), 'utf8').toString('base64') || header === digest.toString('base64');
}
