import { HttpError } from './errors.ts';
import { isAsciiLetter, isWellFormedText } from '../text/chars.ts';

/** One HTTP request, whichever trigger delivered it. Header names are lower-case. */
export interface HttpRequest {
  method: string;
  /** The path as sent (URL-encoded): what the caller signed. */
  rawPath: string;
  /**
   * rawPath decoded whole, for showing it; rawPath itself when it is not valid URL encoding. Routes
   * match rawPath's segments decoded one by one (a `%2F` is no `/`).
   */
  path: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  pathParameters: Record<string, string>;
  body: Buffer;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A map with no prototype: a key named `__proto__` or `constructor` is just a key. */
export function nullProtoMap<V>(): Record<string, V> {
  return Object.create(null) as Record<string, V>;
}

function stringMap(v: unknown, what: string): Record<string, string> {
  const out = nullProtoMap<string>();
  if (v === undefined || v === null) return out;
  if (!isObject(v)) throw new HttpError(400, 'InvalidEvent', `${what} must be an object`);
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined || val === null) continue;
    // FC joins repeated headers and query keys with commas; API Gateway may send arrays.
    out[k] = Array.isArray(val) ? val.map(String).join(',') : String(val);
  }
  return out;
}

function lowerKeys(m: Record<string, string>): Record<string, string> {
  const out = nullProtoMap<string>();
  for (const [k, v] of Object.entries(m)) {
    const lk = k.toLowerCase();
    out[lk] = out[lk] === undefined ? v : `${out[lk]},${v}`;
  }
  return out;
}

/** A path (or one segment of it) decoded, or undefined when it is not valid URL encoding (a caller's mistake, named by the route). */
export function decodePath(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * Decodes the invocation bytes of an FC 3.0 HTTP trigger or an API Gateway → FC event. A body over
 * maxBodyBytes is refused before it is decoded.
 */
export function decodeHttpEvent(raw: unknown, maxBodyBytes: number): HttpRequest {
  let event: unknown = raw;
  if (Buffer.isBuffer(raw) || raw instanceof Uint8Array || typeof raw === 'string') {
    // An event this large cannot hold a body within the limit, however it is escaped: refuse it
    // before parsing 32 MB of JSON.
    if (raw.length > maxEventBytes(maxBodyBytes)) throw tooLarge(maxBodyBytes);
    try {
      event = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
    } catch {
      throw new HttpError(400, 'InvalidEvent', 'the invocation payload is not JSON: expected an FC HTTP trigger or API Gateway event');
    }
  }
  if (!isObject(event)) throw new HttpError(400, 'InvalidEvent', 'the invocation payload must be a JSON object');

  let method: unknown;
  let rawPath: unknown;
  const ctx = isObject(event['requestContext']) ? event['requestContext'] : undefined;
  if (typeof event['rawPath'] === 'string' || (ctx && isObject(ctx['http']))) {
    // FC 3.0 HTTP trigger
    const http = ctx && isObject(ctx['http']) ? ctx['http'] : {};
    method = http['method'];
    rawPath = event['rawPath'] ?? http['path'];
  } else if (typeof event['httpMethod'] === 'string' || typeof event['path'] === 'string') {
    // API Gateway
    method = event['httpMethod'];
    rawPath = event['path'];
  } else {
    throw new HttpError(400, 'InvalidEvent', 'not an HTTP event: expected rawPath/requestContext.http (FC 3.0) or path/httpMethod (API Gateway)');
  }
  if (typeof method !== 'string' || !isMethodName(method)) {
    throw new HttpError(400, 'InvalidEvent', 'the event has no valid HTTP method');
  }
  if (typeof rawPath !== 'string' || !rawPath.startsWith('/')) {
    throw new HttpError(400, 'InvalidEvent', 'the event has no valid path');
  }

  const body = decodeBody(event['body'], event['isBase64Encoded'] === true || event['isBase64Encoded'] === 'true', maxBodyBytes);
  return {
    method: method.toUpperCase(),
    rawPath,
    path: decodePath(rawPath) ?? rawPath,
    headers: lowerKeys(stringMap(event['headers'], 'headers')),
    query: wellFormedQuery(stringMap(event['queryParameters'] ?? event['queryStringParameters'], 'queryParameters')),
    pathParameters: stringMap(event['pathParameters'], 'pathParameters'),
    body,
  };
}

/**
 * The query, refusing a name or value with an unpaired UTF-16 surrogate (the event's JSON can carry
 * `\ud800`): no URL encoding holds one, so it cannot be signed, and the signature check's encoder
 * threw on it, a 500 for the caller's mistake. Refused too: U+FFFD, what a URL decoder makes of an
 * escape that is not UTF-8 (`%E9`), and all a JSON event can carry in its place: the bytes signed are
 * lost, so the signature could only fail, a 403 for a malformed parameter. A U+FFFD sent as such
 * (`%EF%BF%BD`) cannot be told from it; no parameter holds one.
 */
function wellFormedQuery(query: Record<string, string>): Record<string, string> {
  for (const [k, v] of Object.entries(query)) {
    if (!isWellFormedText(k) || !isWellFormedText(v)) {
      throw new HttpError(400, 'InvalidParameter', `${k}: holds an unpaired UTF-16 surrogate, which no URL can carry`, {
        fields: [{ Field: k, Message: 'holds an unpaired UTF-16 surrogate, which no URL can carry' }],
      });
    }
    if (k.includes('\uFFFD') || v.includes('\uFFFD')) {
      const message = 'is not valid UTF-8: query escapes are read as UTF-8 (%C3%A9, not %E9)';
      throw new HttpError(400, 'InvalidParameter', `${k}: ${message}`, { fields: [{ Field: k, Message: message }] });
    }
  }
  return query;
}

/**
 * The largest invocation payload that can carry a body of max bytes: JSON escapes a byte as at most
 * 6 characters (`\u0000`), plus room for headers, query and the event's own fields.
 */
function maxEventBytes(max: number): number {
  return 6 * max + 1024 * 1024;
}

/** The body's size is checked from its length before anything is decoded or copied. */
function decodeBody(body: unknown, base64: boolean, max: number): Buffer {
  if (body === undefined || body === null || body === '') return Buffer.alloc(0);
  if (typeof body !== 'string') throw new HttpError(400, 'InvalidEvent', 'the event body must be a string');
  if (base64) {
    if (base64DecodedLength(body) > max) throw tooLarge(max);
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(body)) {
      throw new HttpError(400, 'InvalidEvent', 'the event body is flagged base64 but is not base64');
    }
    return Buffer.from(body, 'base64');
  }
  // UTF-8 needs at least one byte per UTF-16 unit, so a longer string is over the limit outright.
  if (body.length > max || Buffer.byteLength(body, 'utf8') > max) throw tooLarge(max);
  return Buffer.from(body, 'utf8');
}

/** Bytes that a base64 (or base64url) text decodes to, from its length and padding alone. */
function base64DecodedLength(text: string): number {
  let pad = 0;
  while (pad < 2 && text.charCodeAt(text.length - 1 - pad) === 61 /* = */) pad++;
  return Math.floor(((text.length - pad) * 3) / 4);
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, 'RequestEntityTooLarge', `the request body exceeds ${max} bytes`);
}

/** 3 to 7 ASCII letters (/^[A-Za-z]{3,7}$/, without compiling it at every cold start). */
export function isMethodName(method: string): boolean {
  if (method.length < 3 || method.length > 7) return false;
  for (let i = 0; i < method.length; i += 1) if (!isAsciiLetter(method.charCodeAt(i))) return false;
  return true;
}
