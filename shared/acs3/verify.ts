import { timingSafeEqual } from 'node:crypto';
import {
  ACS3_ALGORITHM,
  acsEncode,
  canonicalQueryPairs,
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
  | 'System.NonceCacheFull'
  | 'RepeatedQueryKey';

/** HTTP statuses as Alibaba Cloud's gateway answers these codes. */
export const ACS3_ERROR_STATUS: Record<Acs3ErrorCode, number> = {
  IncompleteSignature: 400,
  SignatureDoesNotMatch: 400,
  'InvalidAccessKeyId.NotFound': 404,
  'InvalidTimeStamp.Expired': 400,
  SignatureNonceUsed: 400,
  // Not a gateway code: ours, when the replay cache cannot take another nonce without forgetting one.
  'System.NonceCacheFull': 503,
  // Ours too: a request signed right whose query gives a key more than once (commaJoinedQuery).
  RepeatedQueryKey: 400,
};

/**
 * The gateway's own wording of its common errors (Alibaba Cloud's OpenAPI common error codes page);
 * where we add a detail, it follows the gateway's sentence. "does not conform to ... standards" is
 * IncompleteSignature's wording there, not SignatureDoesNotMatch's.
 */
export const POP_MESSAGES = {
  signatureMismatch: 'Specified signature is not matched with our calculation.',
  expired: 'Specified time stamp or date value is expired.',
} as const;

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
  /**
   * The query came from an FC event, where a key sent more than once is one value, its values joined
   * with commas (FC 3.0's HTTP trigger; API Gateway's arrays are joined the same way when decoded).
   * A request whose signature holds only with such a key read as repeated is then RepeatedQueryKey,
   * naming the keys: signed right, but malformed, not a credentials problem.
   */
  commaJoinedQuery?: boolean;
}

export type VerifyResult =
  | { ok: true; accessKeyId: string; securityToken?: string | undefined }
  | { ok: false; code: Acs3ErrorCode; message: string; httpStatus: number; repeated?: { keys: string[]; accessKeyId: string } };

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
    return fail('InvalidTimeStamp.Expired', `${POP_MESSAGES.expired} x-acs-date ${dateHeader} is outside the ${windowMs / 60000}-minute window.`);
  }

  const hashedPayload = sha256Hex(req.body);
  const declared = single(grouped, 'x-acs-content-sha256');
  if (declared !== undefined && declared.toLowerCase() !== hashedPayload) {
    return fail('SignatureDoesNotMatch', `${POP_MESSAGES.signatureMismatch} The body does not match x-acs-content-sha256.`);
  }

  // canonicalQuery: a reading of the query with repeated keys, in place of the query as given.
  const signs = (canonicalQuery?: string) => {
    const canonical = canonicalRequest({
      method: req.method,
      path: req.path,
      query: req.query,
      canonicalQuery,
      headers: req.headers,
      signedHeaders,
      hashedPayload,
    });
    return constantTimeEqualHex(hmacSha256Hex(secret, stringToSign(canonical)), signature);
  };
  let repeated: string[] | undefined;
  if (!signs()) {
    // Only the caller's own signature can name a repeated key: anyone else learns nothing here.
    repeated = opts.commaJoinedQuery ? repeatedKeyReadings(req.query).find((r) => signs(r.canonicalQuery))?.keys : undefined;
    if (!repeated) return fail('SignatureDoesNotMatch', POP_MESSAGES.signatureMismatch);
  }

  // The nonce is spent only by a request that proved the key: a forger cannot burn a victim's nonce.
  const nonce = single(grouped, 'x-acs-signature-nonce')!;
  const verdict = await opts.nonces.remember(`${accessKeyId}:${nonce}`, dateMs + windowMs + 1000);
  if (verdict === 'replayed') return fail('SignatureNonceUsed', 'Specified signature nonce was used already.');
  if (verdict === 'full') {
    return fail('System.NonceCacheFull', 'Too many signed requests in the replay window to remember another nonce; retry shortly.');
  }
  if (repeated) {
    const list = repeated.join(', ');
    const message = `The query gives ${list} more than once: give each parameter once.`;
    return { ok: false, code: 'RepeatedQueryKey', message, httpStatus: ACS3_ERROR_STATUS.RepeatedQueryKey, repeated: { keys: repeated, accessKeyId } };
  }

  return { ok: true, accessKeyId, securityToken: single(grouped, 'x-acs-security-token') };
}

function byEncoded(a: string, b: string): number {
  const [ea, eb] = [acsEncode(a), acsEncode(b)];
  return ea < eb ? -1 : ea > eb ? 1 : 0;
}

/** Past this many comma-holding keys no reading is tried: 2^n subsets, each an HMAC or two. */
const MAX_JOINED_KEYS = 4;

/**
 * The ways a comma-joined query may have been sent with repeated keys: for each set of the keys whose
 * value holds a comma, those keys split at every comma, their values in the order sent and, as a
 * signer may sort one key's values, sorted. A value that itself held a comma (`%2C`) is not recovered.
 */
export function repeatedKeyReadings(query: QueryParams): Array<{ keys: string[]; canonicalQuery: string }> {
  const joined = Object.keys(query).filter((k) => String(query[k] ?? '').includes(',')).sort();
  if (joined.length === 0 || joined.length > MAX_JOINED_KEYS) return [];
  const out: Array<{ keys: string[]; canonicalQuery: string }> = [];
  const seen = new Set<string>();
  for (let mask = 1; mask < 1 << joined.length; mask += 1) {
    const keys = joined.filter((_, i) => (mask & (1 << i)) !== 0);
    for (const sorted of [false, true]) {
      const pairs: Array<[string, string]> = [];
      for (const key of Object.keys(query)) {
        const value = String(query[key] ?? '');
        if (!keys.includes(key)) pairs.push([key, value]);
        else {
          const parts = value.split(',');
          if (sorted) parts.sort(byEncoded);
          for (const part of parts) pairs.push([key, part]);
        }
      }
      const canonicalQuery = canonicalQueryPairs(pairs);
      if (!seen.has(canonicalQuery)) {
        seen.add(canonicalQuery);
        out.push({ keys, canonicalQuery });
      }
    }
  }
  return out;
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
