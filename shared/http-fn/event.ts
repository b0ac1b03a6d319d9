import { HttpError } from './errors.ts';

/** One HTTP request, whichever trigger delivered it. Header names are lower-case. */
export interface HttpRequest {
  trigger: 'fc-http' | 'api-gateway';
  method: string;
  /** The path as sent (URL-encoded): what the caller signed. */
  rawPath: string;
  path: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  pathParameters: Record<string, string>;
  body: Buffer;
  sourceIp?: string | undefined;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new HttpError(400, 'InvalidEvent', `${what} must be an object`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined || val === null) continue;
    // FC joins repeated headers and query keys with commas; API Gateway may send arrays.
    out[k] = Array.isArray(val) ? val.map(String).join(',') : String(val);
  }
  return out;
}

function lowerKeys(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    const lk = k.toLowerCase();
    out[lk] = out[lk] === undefined ? v : `${out[lk]},${v}`;
  }
  return out;
}

function safeDecodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'InvalidEvent', 'the request path is not valid URL encoding');
  }
}

/**
 * Decodes the invocation bytes of an FC 3.0 HTTP trigger or an API Gateway → FC event. A body over
 * maxBodyBytes is refused before it is decoded.
 */
export function decodeHttpEvent(raw: unknown, maxBodyBytes: number): HttpRequest {
  let event: unknown = raw;
  if (Buffer.isBuffer(raw) || raw instanceof Uint8Array) {
    try {
      event = JSON.parse(Buffer.from(raw).toString('utf8'));
    } catch {
      throw new HttpError(400, 'InvalidEvent', 'the invocation payload is not JSON: expected an FC HTTP trigger or API Gateway event');
    }
  } else if (typeof raw === 'string') {
    try {
      event = JSON.parse(raw);
    } catch {
      throw new HttpError(400, 'InvalidEvent', 'the invocation payload is not JSON: expected an FC HTTP trigger or API Gateway event');
    }
  }
  if (!isObject(event)) throw new HttpError(400, 'InvalidEvent', 'the invocation payload must be a JSON object');

  let trigger: HttpRequest['trigger'];
  let method: unknown;
  let rawPath: unknown;
  let sourceIp: string | undefined;
  const ctx = isObject(event['requestContext']) ? event['requestContext'] : undefined;
  if (typeof event['rawPath'] === 'string' || (ctx && isObject(ctx['http']))) {
    trigger = 'fc-http';
    const http = ctx && isObject(ctx['http']) ? ctx['http'] : {};
    method = http['method'];
    rawPath = event['rawPath'] ?? http['path'];
    sourceIp = typeof http['sourceIp'] === 'string' ? http['sourceIp'] : undefined;
  } else if (typeof event['httpMethod'] === 'string' || typeof event['path'] === 'string') {
    trigger = 'api-gateway';
    method = event['httpMethod'];
    rawPath = event['path'];
  } else {
    throw new HttpError(400, 'InvalidEvent', 'not an HTTP event: expected rawPath/requestContext.http (FC 3.0) or path/httpMethod (API Gateway)');
  }
  if (typeof method !== 'string' || !/^[A-Za-z]{3,7}$/.test(method)) {
    throw new HttpError(400, 'InvalidEvent', 'the event has no valid HTTP method');
  }
  if (typeof rawPath !== 'string' || !rawPath.startsWith('/')) {
    throw new HttpError(400, 'InvalidEvent', 'the event has no valid path');
  }

  const body = decodeBody(event['body'], event['isBase64Encoded'] === true || event['isBase64Encoded'] === 'true', maxBodyBytes);
  return {
    trigger,
    method: method.toUpperCase(),
    rawPath,
    path: safeDecodePath(rawPath),
    headers: lowerKeys(stringMap(event['headers'], 'headers')),
    query: stringMap(event['queryParameters'] ?? event['queryStringParameters'], 'queryParameters'),
    pathParameters: stringMap(event['pathParameters'], 'pathParameters'),
    body,
    sourceIp,
  };
}

function decodeBody(body: unknown, base64: boolean, max: number): Buffer {
  if (body === undefined || body === null || body === '') return Buffer.alloc(0);
  if (typeof body !== 'string') throw new HttpError(400, 'InvalidEvent', 'the event body must be a string');
  const estimate = base64 ? Math.floor((body.length * 3) / 4) : Buffer.byteLength(body);
  if (estimate > max + 3) throw tooLarge(max);
  if (base64 && !/^[A-Za-z0-9+/_-]*={0,2}$/.test(body)) {
    throw new HttpError(400, 'InvalidEvent', 'the event body is flagged base64 but is not base64');
  }
  const buf = base64 ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  if (buf.length > max) throw tooLarge(max);
  return buf;
}

function tooLarge(max: number): HttpError {
  return new HttpError(413, 'RequestEntityTooLarge', `the request body exceeds ${max} bytes`);
}
