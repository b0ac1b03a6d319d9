import { timingSafeEqual } from 'node:crypto';
import {
  ACS3_ALGORITHM,
  canonicalRequest,
  groupHeaders,
  hmacSha256Hex,
  sha256Hex,
  stringToSign,
  type HeaderMap,
  type QueryParams,
} from './canonical.ts';
import type { NonceRegistry } from './nonce-cache.ts';
import { isAcsDateForm, parseAcs3Authorization } from './parse.ts';

export const ACS3_WINDOW_MS = 15 * 60 * 1000;

export type Acs3ErrorCode =
  | 'IncompleteSignature'
  | 'SignatureDoesNotMatch'
  | 'InvalidAccessKeyId.NotFound'
  | 'InvalidTimeStamp.Expired'
  | 'SignatureNonceUsed'
  | 'System.NonceCacheFull';

/** HTTP statuses as Alibaba Cloud's gateway answers these codes. */
export const ACS3_ERROR_STATUS: Record<Acs3ErrorCode, number> = {
  IncompleteSignature: 400,
  SignatureDoesNotMatch: 400,
  'InvalidAccessKeyId.NotFound': 404,
  'InvalidTimeStamp.Expired': 400,
  SignatureNonceUsed: 400,
  // Not a gateway code: ours, when the replay cache cannot take another nonce without forgetting one.
  'System.NonceCacheFull': 503,
};

export interface Acs3IncomingRequest {
  method: string;
  /** The path as it arrived (still URL-encoded). */
  path: string;
  /** Decoded query parameters. */
  query: QueryParams;
  headers: HeaderMap;
  body: Uint8Array | string;
}

export interface VerifyOptions {
  /** The secret for an AccessKey id, or undefined when the id is unknown. */
  lookupSecret: (accessKeyId: string) => string | undefined;
  nonces: NonceRegistry;
  /** Headers that must be among the signed ones, beyond host (always required). */
  requiredSignedHeaders?: readonly string[];
  now?: () => number;
  windowMs?: number;
}

export type VerifyResult =
  | { ok: true; accessKeyId: string; securityToken?: string | undefined }
  | { ok: false; code: Acs3ErrorCode; message: string; httpStatus: number };

function fail(code: Acs3ErrorCode, message: string): VerifyResult {
  return { ok: false, code, message, httpStatus: ACS3_ERROR_STATUS[code] };
}

function single(grouped: Map<string, string[]>, name: string): string | undefined {
  const v = grouped.get(name);
  return v && v.length > 0 ? v.join(',') : undefined;
}

/**
 * Checks an ACS3-HMAC-SHA256 request the way Alibaba Cloud's gateway does: the signature over the
 * headers the caller declared signed, the date window, and single use of the nonce inside it.
 */
export async function verifyAcs3Request(req: Acs3IncomingRequest, opts: VerifyOptions): Promise<VerifyResult> {
  const grouped = groupHeaders(req.headers);
  const authorization = single(grouped, 'authorization');
  if (!authorization) return fail('IncompleteSignature', 'The Authorization header is missing.');
  if (!authorization.startsWith(ACS3_ALGORITHM)) {
    return fail('IncompleteSignature', `The Authorization header must use ${ACS3_ALGORITHM}.`);
  }
  const auth = parseAcs3Authorization(authorization);
  if (!auth) {
    return fail('IncompleteSignature', 'The Authorization header must be "ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..".');
  }
  const accessKeyId = auth.credential;
  const signedHeaders = auth.signedHeaders.split(';').filter(Boolean);
  const signature = auth.signature.toLowerCase();

  const sorted = [...signedHeaders].sort();
  if (signedHeaders.some((h, i) => h !== h.toLowerCase() || h !== sorted[i]) || new Set(signedHeaders).size !== signedHeaders.length) {
    return fail('IncompleteSignature', 'SignedHeaders must be lower-case, sorted and unique.');
  }
  const required = ['host', 'x-acs-date', 'x-acs-signature-nonce', ...(opts.requiredSignedHeaders ?? [])];
  for (const name of required) {
    if (!signedHeaders.includes(name)) return fail('IncompleteSignature', `The header ${name} must be signed.`);
  }
  for (const name of signedHeaders) {
    if (!grouped.has(name)) return fail('IncompleteSignature', `The signed header ${name} is missing from the request.`);
  }
  // A signed header that changes the meaning of the request (content-type, the security token) must
  // not be slipped in unsigned.
  for (const name of ['content-type', 'x-acs-security-token', 'x-acs-content-sha256']) {
    if (grouped.has(name) && !signedHeaders.includes(name)) {
      return fail('IncompleteSignature', `The header ${name} is present but not signed.`);
    }
  }

  const secret = opts.lookupSecret(accessKeyId);
  if (secret === undefined) return fail('InvalidAccessKeyId.NotFound', 'Specified access key is not found.');

  const dateHeader = single(grouped, 'x-acs-date')!;
  const dateMs = parseAcsDate(dateHeader);
  if (dateMs === undefined) return fail('IncompleteSignature', 'x-acs-date must be ISO 8601 UTC, e.g. 2025-01-01T00:00:00Z.');
  const now = (opts.now ?? Date.now)();
  const windowMs = opts.windowMs ?? ACS3_WINDOW_MS;
  if (Math.abs(now - dateMs) > windowMs) {
    return fail('InvalidTimeStamp.Expired', `x-acs-date ${dateHeader} is outside the ${windowMs / 60000}-minute window.`);
  }

  const hashedPayload = sha256Hex(req.body);
  const declared = single(grouped, 'x-acs-content-sha256');
  if (declared !== undefined && declared.toLowerCase() !== hashedPayload) {
    return fail('SignatureDoesNotMatch', 'The body does not match x-acs-content-sha256.');
  }

  const canonical = canonicalRequest({
    method: req.method,
    path: req.path,
    query: req.query,
    headers: req.headers,
    signedHeaders,
    hashedPayload,
  });
  const expected = hmacSha256Hex(secret, stringToSign(canonical));
  if (!constantTimeEqualHex(expected, signature)) {
    return fail('SignatureDoesNotMatch', 'The request signature does not conform to Alibaba Cloud standards.');
  }

  // The nonce is spent only by a request that proved the key: a forger cannot burn a victim's nonce.
  const nonce = single(grouped, 'x-acs-signature-nonce')!;
  const verdict = await opts.nonces.remember(`${accessKeyId}:${nonce}`, dateMs + windowMs + 1000);
  if (verdict === 'replayed') return fail('SignatureNonceUsed', 'Specified signature nonce was used already.');
  if (verdict === 'full') {
    return fail('System.NonceCacheFull', 'Too many signed requests in the replay window to remember another nonce; retry shortly.');
  }

  return { ok: true, accessKeyId, securityToken: single(grouped, 'x-acs-security-token') };
}

function constantTimeEqualHex(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}

function parseAcsDate(value: string): number | undefined {
  if (!isAcsDateForm(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
