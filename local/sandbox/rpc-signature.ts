/**
 * The legacy RPC signature (SignatureVersion 1.0, HMAC-SHA1) that `@alicloud/pop-core` and
 * `@alicloud/openapi-client` with `signatureAlgorithm: 'v2'` still send. Sandbox only: our own
 * routes and client speak ACS3 alone, so this never ships.
 *
 * Everything is in the parameters (query and form body together):
 *   stringToSign = METHOD + "&" + enc("/") + "&" + enc(k1=v1&k2=v2...)   (keys sorted, Signature left out,
 *                                                                       each key and value enc()'d)
 *   Signature    = base64(HMAC-SHA1(secret + "&", stringToSign))
 * where enc is RFC 3986 percent-encoding.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ACS3_ERROR_STATUS, ACS3_WINDOW_MS, acsEncode, POP_MESSAGES, type Acs3ErrorCode, type NonceRegistry, type VerifyResult } from '../../shared/acs3/index.ts';

const RPC_SIGNATURE_PARAMS = ['AccessKeyId', 'Signature', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'Timestamp'] as const;

/** Parameters of the signature protocol itself, kept out of the call log's Params (SecurityToken is a secret). */
export const RPC_AUTH_PARAMS: ReadonlySet<string> = new Set([...RPC_SIGNATURE_PARAMS, 'SecurityToken', 'Format', 'SignatureType', 'BearerToken']);

export interface RpcVerifyOptions {
  lookupSecret: (accessKeyId: string) => string | undefined;
  nonces: NonceRegistry;
  now: () => number;
  windowMs?: number;
}

/** A call signed the RPC way carries its signature as a parameter, and no ACS3 Authorization header. */
export function isRpcSigned(params: Record<string, string>, authorizationHeader: string | undefined): boolean {
  return authorizationHeader === undefined && Object.hasOwn(params, 'Signature');
}

export function rpcStringToSign(method: string, params: Record<string, string>): string {
  const canonical = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${acsEncode(k)}=${acsEncode(params[k]!)}`)
    .join('&');
  return `${method.toUpperCase()}&${acsEncode('/')}&${acsEncode(canonical)}`;
}

export function rpcSignature(method: string, params: Record<string, string>, secret: string): string {
  return createHmac('sha1', secret + '&').update(rpcStringToSign(method, params), 'utf8').digest('base64');
}

const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** Same order of checks as the ACS3 verifier: shape, key, window, signature, then the nonce (spent only by a proven key). */
export async function verifyRpcSignature(method: string, params: Record<string, string>, opts: RpcVerifyOptions): Promise<VerifyResult> {
  for (const name of RPC_SIGNATURE_PARAMS) {
    if (!params[name]) return fail('IncompleteSignature', `The parameter ${name} is required by signature version 1.0.`);
  }
  if (params['SignatureMethod'] !== 'HMAC-SHA1') return fail('IncompleteSignature', 'SignatureMethod must be HMAC-SHA1.');
  if (params['SignatureVersion'] !== '1.0') return fail('IncompleteSignature', 'SignatureVersion must be 1.0.');

  const accessKeyId = params['AccessKeyId']!;
  const secret = opts.lookupSecret(accessKeyId);
  if (secret === undefined) return fail('InvalidAccessKeyId.NotFound', 'Specified access key is not found.');

  const timestamp = params['Timestamp']!;
  const at = TIMESTAMP_RE.test(timestamp) ? Date.parse(timestamp) : NaN;
  if (Number.isNaN(at)) return fail('IncompleteSignature', 'Timestamp must be ISO 8601 UTC, e.g. 2025-01-01T00:00:00Z.');
  const windowMs = opts.windowMs ?? ACS3_WINDOW_MS;
  if (Math.abs(opts.now() - at) > windowMs) {
    return fail('InvalidTimeStamp.Expired', `${POP_MESSAGES.expired} Timestamp ${timestamp} is outside the ${windowMs / 60000}-minute window.`);
  }

  const expected = Buffer.from(rpcSignature(method, params, secret), 'utf8');
  const given = Buffer.from(params['Signature']!, 'utf8');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return fail('SignatureDoesNotMatch', POP_MESSAGES.signatureMismatch);
  }

  const verdict = await opts.nonces.remember(`${accessKeyId}:${params['SignatureNonce']}`, at + windowMs + 1000);
  if (verdict === 'replayed') return fail('SignatureNonceUsed', 'Specified signature nonce was used already.');
  if (verdict === 'full') return fail('System.NonceCacheFull', 'Too many signed requests in the replay window to remember another nonce; retry shortly.');
  return { ok: true, accessKeyId, securityToken: params['SecurityToken'] };
}

function fail(code: Acs3ErrorCode, message: string): VerifyResult {
  return { ok: false, code, message, httpStatus: ACS3_ERROR_STATUS[code] };
}
