import {
  ACS3_ALGORITHM,
  canonicalQueryPairs,
  canonicalRequest,
  hmacSha256Hex,
  sha256Hex,
  signAcs3Request,
  stringToSign,
  type Acs3Credentials,
} from '../../shared/acs3/index.ts';
import type { SignedRouteRequest } from '../../local/client/route-request.ts';

/**
 * A GET whose query gives keys more than once (`PageSize=10&PageSize=20`), signed over those pairs as
 * a hand-written ACS3 client signs them (sorted by key, one key's values in the order given), and
 * with its query as FC's HTTP trigger hands it over: each key once, its values joined with commas.
 */
export function signedRepeatedQuery(
  path: string,
  pairs: ReadonlyArray<readonly [string, string]>,
  host: string,
  key: Acs3Credentials,
  opts: { nonce: string; date?: Date },
): SignedRouteRequest {
  const headers = signAcs3Request({ method: 'GET', path, headers: { host, accept: 'application/json' }, body: '' }, key, opts);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(headers['Authorization']!)![1]!.split(';');
  const canonical = canonicalRequest({
    method: 'GET',
    path,
    query: undefined,
    canonicalQuery: canonicalQueryPairs(pairs),
    headers,
    signedHeaders,
    hashedPayload: sha256Hex(''),
  });
  const signature = hmacSha256Hex(key.accessKeySecret, stringToSign(canonical));
  headers['Authorization'] = `${ACS3_ALGORITHM} Credential=${key.accessKeyId},SignedHeaders=${signedHeaders.join(';')},Signature=${signature}`;
  const query: Record<string, string> = {};
  for (const [k, v] of pairs) query[k] = k in query ? `${query[k]},${v}` : v;
  const qs = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return { method: 'GET', path, query, headers, body: '', url: `${path}?${qs}` };
}
