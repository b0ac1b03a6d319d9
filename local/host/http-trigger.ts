/**
 * FC 3.0 HTTP trigger emulation: an incoming request becomes the trigger's event JSON (as FC's
 * Buffer), and the handler's `{statusCode, headers, body, isBase64Encoded}` becomes the reply.
 */
import type http from 'node:http';

export interface Fc3HttpEvent {
  version: 'v1';
  rawPath: string;
  body: string;
  isBase64Encoded: boolean;
  headers: Record<string, string>;
  queryParameters: Record<string, string>;
  requestContext: {
    accountId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    time: string;
    timeEpoch: string;
  };
}

/**
 * A map with no prototype: a caller's key named like an Object member (`constructor`, `__proto__`)
 * is an ordinary key, passed to the function verbatim (which refuses such names itself).
 */
function bareMap(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** Headers as sent (first spelling of each name kept), repeated ones comma-joined as FC does. */
export function joinedHeaders(rawHeaders: string[]): Record<string, string> {
  const out = bareMap();
  const spelling = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    const key = spelling.get(lower);
    if (key === undefined) {
      spelling.set(lower, name);
      out[name] = value;
    } else {
      out[key] = `${out[key]},${value}`;
    }
  }
  return out;
}

/** Decoded query parameters, repeated keys comma-joined as FC does. */
export function joinedQuery(search: string): Record<string, string> {
  const out = bareMap();
  for (const [k, v] of new URLSearchParams(search)) out[k] = Object.hasOwn(out, k) ? `${out[k]},${v}` : v;
  return out;
}

export function splitUrl(rawUrl: string): { rawPath: string; search: string } {
  const q = rawUrl.indexOf('?');
  return q < 0 ? { rawPath: rawUrl, search: '' } : { rawPath: rawUrl.slice(0, q), search: rawUrl.slice(q + 1) };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(buf: Buffer): boolean {
  try {
    utf8.decode(buf);
    return true;
  } catch {
    return false;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `2023-09-05T06:41:11Z`: FC's trigger timestamps have no milliseconds. */
export function fcTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function buildHttpTriggerEvent(
  req: http.IncomingMessage,
  body: Buffer,
  info: { requestId: string; accountId: string; functionName: string; now: number },
): Fc3HttpEvent {
  const { rawPath, search } = splitUrl(req.url ?? '/');
  const headers = joinedHeaders(req.rawHeaders);
  const hostHeader = req.headers.host ?? '';
  const domainName = hostHeader.replace(/:\d+$/, '');
  const text = body.length === 0 || isUtf8(body);
  return {
    version: 'v1',
    rawPath,
    body: text ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !text,
    headers,
    queryParameters: joinedQuery(search),
    requestContext: {
      accountId: info.accountId,
      domainName,
      domainPrefix: info.functionName,
      http: {
        method: (req.method ?? 'GET').toUpperCase(),
        path: safeDecode(rawPath),
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: info.requestId,
      time: fcTime(info.now),
      timeEpoch: String(info.now),
    },
  };
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

const DROPPED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

/**
 * What FC's HTTP trigger does with a handler result: `{statusCode, headers, body, isBase64Encoded}`
 * is the reply; anything else (a string, a Buffer, another object) is a 200 body.
 */
export function replyFromResult(result: unknown): HttpReply {
  if (Buffer.isBuffer(result) || result instanceof Uint8Array) return { status: 200, headers: {}, body: Buffer.from(result) };
  if (typeof result === 'string') return { status: 200, headers: {}, body: Buffer.from(result, 'utf8') };
  if (result === undefined || result === null) return { status: 200, headers: {}, body: Buffer.alloc(0) };
  if (typeof result === 'object' && 'statusCode' in result) {
    const r = result as { statusCode?: unknown; headers?: unknown; body?: unknown; isBase64Encoded?: unknown };
    const status = Number(r.statusCode);
    if (!Number.isInteger(status) || status < 100 || status > 599) throw new Error(`the handler returned statusCode ${String(r.statusCode)}`);
    const headers: Record<string, string | string[]> = {};
    if (r.headers && typeof r.headers === 'object') {
      for (const [k, v] of Object.entries(r.headers as Record<string, unknown>)) {
        if (v === undefined || v === null || DROPPED.has(k.toLowerCase())) continue;
        headers[k] = Array.isArray(v) ? v.map(String) : String(v);
      }
    }
    let body: Buffer;
    if (r.body === undefined || r.body === null) body = Buffer.alloc(0);
    else if (typeof r.body === 'string') body = Buffer.from(r.body, r.isBase64Encoded === true ? 'base64' : 'utf8');
    else if (Buffer.isBuffer(r.body)) body = r.body;
    else body = Buffer.from(JSON.stringify(r.body), 'utf8');
    return { status, headers, body };
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(result), 'utf8') };
}
