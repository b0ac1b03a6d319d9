import { createHash, createHmac } from 'node:crypto';

/** The only algorithm we speak; the SM3 and RSA variants are not used by CAMS callers. */
export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';

export type QueryParams = Record<string, string | undefined | null>;
export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * RFC 3986 encoding as Alibaba Cloud applies it: encodeURIComponent leaves `!'()*` alone, ACS3 does not.
 */
export function acsEncode(value: string): string {
  const encoded = encodeURIComponent(value);
  // Most values hold none of the five: they skip the regular expression (compiled at its first use).
  for (let i = 0; i < encoded.length; i += 1) {
    const c = encoded.charCodeAt(i);
    if (c === 0x21 || c === 0x27 || c === 0x28 || c === 0x29 || c === 0x2a) {
      return encoded.replace(/[!'()*]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase());
    }
  }
  return encoded;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmacSha256Hex(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data).digest('hex');
}

/**
 * Keys sorted by code unit before encoding (as the spec and the official SDK sort them); names and
 * values RFC 3986-encoded; a null/undefined value signs as `key=`. @alicloud/openapi-util 0.3.3 signs
 * names unencoded: the same for every name of unreserved characters (all CAMS names), different for
 * others, where its form is ambiguous (name `a=1&b`, value `2` reads as a=1, b=2), so it is not accepted.
 */
export function canonicalQueryString(query: QueryParams | undefined): string {
  if (!query) return '';
  return Object.keys(query)
    .sort()
    .map((key) => {
      const value = query[key];
      return acsEncode(key) + '=' + (value === undefined || value === null ? '' : acsEncode(String(value)));
    })
    .join('&');
}

/**
 * The canonical query of pairs where a key may come more than once: sorted by key (a stable sort,
 * so one key's values keep the order given), each pair encoded as canonicalQueryString encodes it.
 */
export function canonicalQueryPairs(pairs: ReadonlyArray<readonly [string, string]>): string {
  return [...pairs]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([key, value]) => acsEncode(key) + '=' + acsEncode(value))
    .join('&');
}

/** Whether a header takes part in the signature: host, content-type and every x-acs-*. */
export function isSignableHeader(lowerName: string): boolean {
  return lowerName === 'host' || lowerName === 'content-type' || lowerName.startsWith('x-acs-');
}

/**
 * Canonical headers for the given lower-case names. Values are trimmed; a header that arrives
 * several times (or comma-joined by FC) keeps its parts sorted, joined with ','.
 */
export function canonicalHeaders(headers: HeaderMap, names: readonly string[]): string {
  const grouped = groupHeaders(headers);
  let out = '';
  for (const name of names) {
    const values = grouped.get(name) ?? [];
    out += name + ':' + [...values].sort().join(',') + '\n';
  }
  return out;
}

export function groupHeaders(headers: HeaderMap): Map<string, string[]> {
  const grouped = new Map<string, string[]>();
  for (const [rawName, rawValue] of Object.entries(headers)) {
    if (rawValue === undefined) continue;
    const name = rawName.toLowerCase();
    const list = grouped.get(name) ?? [];
    for (const v of Array.isArray(rawValue) ? rawValue : [rawValue]) list.push(String(v).trim());
    grouped.set(name, list);
  }
  return grouped;
}

/**
 * The path as sent (already percent-encoded), brought to RFC 3986 form: every `+` is `%20`, every `*`
 * `%2A`, every `%7E` `~` (the spec's fix-up after a form encoder). @alicloud/openapi-util 0.3.3 fixes
 * only the first of each (String.replace with a string); that quirk is not followed here, so a path
 * holding two of them signs differently there (README, "Authentication"). SDK-built paths never hold
 * them: its getEncodePath leaves none.
 */
export function canonicalPath(path: string): string {
  // replaceAll with a string: no regular expression to compile at a cold start.
  return (path || '/').replaceAll('+', '%20').replaceAll('*', '%2A').replaceAll('%7E', '~');
}

export interface CanonicalParts {
  method: string;
  path: string;
  query: QueryParams | undefined;
  /** The canonical query already built (a reading of repeated keys), in place of query. */
  canonicalQuery?: string | undefined;
  headers: HeaderMap;
  signedHeaders: readonly string[];
  hashedPayload: string;
}

export function canonicalRequest(p: CanonicalParts): string {
  return [
    p.method.toUpperCase(),
    canonicalPath(p.path),
    p.canonicalQuery ?? canonicalQueryString(p.query),
    canonicalHeaders(p.headers, p.signedHeaders),
    p.signedHeaders.join(';'),
    p.hashedPayload,
  ].join('\n');
}

export function stringToSign(canonical: string): string {
  return ACS3_ALGORITHM + '\n' + sha256Hex(canonical);
}
