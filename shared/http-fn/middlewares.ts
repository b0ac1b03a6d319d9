import { randomUUID } from 'node:crypto';
import type middy from '@middy/core';
import type * as z from '../validation/schema.ts';
import { verifyAcs3Request, type NonceRegistry } from '../acs3/index.ts';
import type { ApiKey } from '../config/env.ts';
import { invocationDeadline, type FcContext } from '../fc/context.ts';
import { HttpError } from './errors.ts';
import { decodeHttpEvent, decodePath, nullProtoMap, type HttpRequest } from './event.ts';
import { writeLogRecord, type LogWriter } from '../log/log.ts';
import { collectParams, validateParams } from './params.ts';
import { callerAuthStatus, errorReply, successReply, type FcHttpResponse } from './reply.ts';
import type { AccessDeniedDetail } from '../cams/errors.ts';

/** What the middlewares hand to the service: the decoded request, its params, who called. */
export interface ParsedHttpEvent<P = unknown> {
  http: HttpRequest;
  /** The route that matched, as declared (e.g. `GET /onboardings/{id}`). */
  route: string;
  params: P;
  callerKeyId?: string;
  requestId: string;
  /** Epoch ms the invocation began (before the request was decoded). */
  startedAt: number;
  /** Epoch ms by which the invocation must answer. */
  deadline: number;
}

/** What a service returns; the envelope middleware turns it into the CAMS-style reply. */
export interface ServiceResult {
  data?: unknown;
  status?: number;
  camsRequestId?: string | undefined;
  /** CAMS's reply body, relayed as CAMS sent it: the route stands for that CAMS operation. */
  cams?: { readonly RequestId?: string | undefined };
  /** What the operator should fix though the caller was answered (the function's own role refused a call it could do without): the log line says it at warn. */
  warning?: { msg: string; code: string };
}

/** Per-invocation state shared between phases. */
export interface HttpInternal {
  requestId: string;
  startedAt: number;
  deadline: number;
  route?: string;
  code?: string;
  camsCode?: string | undefined;
  callerKeyId?: string;
  internalError?: unknown;
  accessDeniedDetail?: AccessDeniedDetail | undefined;
  ownAccessRefused?: boolean;
  warning?: ServiceResult['warning'];
  /** A HEAD request, answered as its GET route with the body left out. */
  head?: boolean;
  [key: string]: unknown;
}

type Request = middy.Request<unknown, FcHttpResponse | ServiceResult, Error, FcContext, HttpInternal>;
export type Middleware = middy.MiddlewareObj<unknown, FcHttpResponse | ServiceResult, Error, FcContext, HttpInternal>;

/** First in, last out: stamps the invocation and writes its one structured log line. */
export function invocationLog(opts: { functionName: string; write: LogWriter; now?: () => number }): Middleware {
  const now = opts.now ?? Date.now;
  const emit = (request: Request) => {
    const res = request.response as FcHttpResponse | undefined;
    const i = request.internal;
    const record: Record<string, unknown> = {
      // RAM refusing the function's own role is the operator's to fix, whatever the caller was told;
      // CAMS does not always say why (no AccessDeniedDetail), so the code alone makes it a warning.
      level: res && res.statusCode >= 500 ? 'error' : i.accessDeniedDetail || i.ownAccessRefused || i.warning ? 'warn' : 'info',
      function: opts.functionName,
      requestId: i.requestId,
      route: i.route ?? null,
      status: res?.statusCode ?? null,
      durationMs: Math.round((now() - i.startedAt) * 100) / 100,
      code: i.code ?? null,
      camsCode: i.camsCode ?? null,
      caller: i.callerKeyId ?? null,
    };
    if (i.accessDeniedDetail) record['accessDeniedDetail'] = i.accessDeniedDetail;
    if (i.warning) record['warning'] = i.warning;
    if (i.internalError) {
      const e = i.internalError as { name?: string; message?: string };
      record['error'] = { name: e.name, message: e.message };
    }
    writeLogRecord(opts.write, record);
  };
  return {
    before: (request) => {
      const startedAt = now();
      request.internal.requestId = request.context?.requestId ?? randomUUID();
      request.internal.startedAt = startedAt;
      request.internal.deadline = invocationDeadline(request.context, startedAt);
    },
    after: emit,
    onError: emit,
  };
}

/** Every reply in the CAMS envelope: success wraps the service result, any error is mapped. */
export function camsEnvelope(): Middleware {
  return {
    after: (request) => {
      const result = (request.response ?? {}) as ServiceResult;
      request.response = successReply(request.internal.requestId, result.data, {
        status: result.status,
        camsRequestId: result.camsRequestId,
        cams: result.cams,
      });
      request.internal.code = 'OK';
      request.internal.camsCode = result.cams || result.camsRequestId ? 'OK' : undefined;
      request.internal.warning = result.warning;
    },
    onError: (request) => {
      const info = errorReply(request.internal.requestId ?? randomUUID(), request.error);
      request.response = info.response;
      request.internal.code = info.code;
      request.internal.camsCode = info.camsCode;
      request.internal.internalError = info.internal;
      request.internal.accessDeniedDetail = info.accessDeniedDetail;
      request.internal.ownAccessRefused = info.ownAccessRefused;
    },
  };
}

export interface Route {
  method: string;
  /** `/onboardings/{id}` style; `{name}` segments become path parameters. */
  path: string;
  /** This route's params, when they differ from the function's schema. */
  schema?: z.Schema<unknown>;
}

/** Decodes the FC / API Gateway event and checks it is for one of this function's routes. */
export function decodeHttpRequest(opts: { routes: readonly Route[]; maxBodyBytes: () => number }): Middleware {
  const matchers = opts.routes.map((r) => ({ ...r, segments: routeSegments(r.path) }));
  return {
    before: (request) => {
      const http = decodeHttpEvent(request.event, opts.maxBodyBytes());
      request.internal.route = `${http.method} ${http.path}`;
      request.internal.head = http.method === 'HEAD';
      const parts = pathSegments(http.rawPath);
      const samePath = matchers.filter((m) => matchRoute(m.segments, parts) !== undefined);
      if (samePath.length === 0) throw parts.includes(undefined) ? notUrlEncoded('(path)') : new HttpError(404, 'NotFound', `no route for ${http.rawPath}`);
      // A bad escape where a route has a parameter: that parameter is named, whatever the method.
      const bad = samePath[0]!.segments.find((seg, i): seg is { param: string } => 'param' in seg && parts[i] === undefined);
      if (bad) throw notUrlEncoded(bad.param);
      const route = samePath.find((m) => m.method.toUpperCase() === http.method) ?? (http.method === 'HEAD' ? samePath.find((m) => m.method.toUpperCase() === 'GET') : undefined);
      if (!route) {
        throw new HttpError(405, 'MethodNotAllowed', `${http.method} is not allowed on ${http.rawPath}`, {
          headers: { allow: allowedMethods(samePath).join(', ') },
        });
      }
      http.pathParameters = Object.assign(nullProtoMap<string>(), matchRoute(route.segments, parts), http.pathParameters);
      request.internal.route = `${route.method.toUpperCase()} ${route.path}`;
      request.internal.routeSchema = route.schema;
      request.event = {
        http,
        route: request.internal.route,
        params: undefined,
        requestId: request.internal.requestId,
        startedAt: request.internal.startedAt,
        deadline: request.internal.deadline,
      } satisfies ParsedHttpEvent;
    },
  };
}

const PATH_NOT_DECODABLE = 'is not valid URL encoding: path escapes are read as UTF-8 (%C3%A9, not %E9), and % starts one';

/**
 * A path that is not valid URL encoding (`/silences/%E9`): 400 naming the route parameter whose
 * segment it is, or `(path)` when no route's other segments match.
 */
function notUrlEncoded(field: string): HttpError {
  return new HttpError(400, 'InvalidParameter', `${field}: ${PATH_NOT_DECODABLE}`, { fields: [{ Field: field, Message: PATH_NOT_DECODABLE }] });
}

/** The methods a path answers; HEAD wherever GET is (RFC 9110 §9.3.2: GET without the body). */
export function allowedMethods(routes: readonly { method: string }[]): string[] {
  const methods = new Set(routes.map((r) => r.method.toUpperCase()));
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods];
}

/**
 * HEAD answers as GET does, headers and status, with no body: uptime checkers probe with it. Last
 * out, so it strips whatever reply the stack built, an error's included.
 */
export function headReplies(): Middleware {
  const strip = (request: Request) => {
    const res = request.response as FcHttpResponse | undefined;
    if (request.internal.head === true && res && typeof res.body === 'string') res.body = '';
  };
  return { after: strip, onError: strip };
}

/** A route's path, segment by segment: `{name}` is a path parameter, anything else a literal. */
type RouteSegment = { param: string } | { literal: string };

function routeSegments(path: string): RouteSegment[] {
  return path.split('/').map((seg) => {
    const name = seg.startsWith('{') && seg.endsWith('}') ? seg.slice(1, -1) : '';
    return name !== '' && IDENTIFIER.test(name) ? { param: name } : { literal: seg };
  });
}
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The raw path's segments (one trailing slash dropped), each decoded on its own, as the local host
 * reads them: a `%2F` stays inside its segment (`/silences/a%2Fb` is the id `a/b`, `/watch-list%2F`
 * no route). Undefined for a segment that is not valid URL encoding.
 */
function pathSegments(rawPath: string): Array<string | undefined> {
  return (rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath).split('/').map(decodePath);
}

/**
 * The path parameters when the path's segments are on the route (a parameter is a non-empty
 * segment; one that did not decode is left undefined, and only a parameter can be one), else
 * undefined. Compared segment by segment rather than with a regular expression per route: each one
 * would be compiled at every cold start.
 */
function matchRoute(segments: readonly RouteSegment[], parts: ReadonlyArray<string | undefined>): Record<string, string> | undefined {
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, seg] of segments.entries()) {
    const part = parts[i];
    if ('literal' in seg) {
      if (part !== seg.literal) return undefined;
    } else if (part === '') return undefined;
    else if (part !== undefined) params[seg.param] = part;
  }
  return params;
}

/**
 * The caller's ACS3 signature, checked with the same verifier as the CAMS sandbox. Our routes require
 * host, x-acs-date, x-acs-signature-nonce, x-acs-content-sha256 and, with a body, content-type signed.
 */
export function verifyCallerSignature(opts: { keys: () => readonly ApiKey[]; nonces: NonceRegistry; now?: () => number }): Middleware {
  return {
    before: async (request) => {
      const { http } = request.event as ParsedHttpEvent;
      const keys = opts.keys();
      const required = ['x-acs-content-sha256', ...(http.body.length > 0 ? ['content-type'] : [])];
      const result = await verifyAcs3Request(
        { method: http.method, path: http.rawPath, query: http.query, headers: http.headers, body: http.body },
        {
          lookupSecret: (id) => keys.find((k) => k.accessKeyId === id)?.accessKeySecret,
          nonces: opts.nonces,
          requiredSignedHeaders: required,
          // FC hands a repeated query key over as one comma-joined value (README, "HTTP routes").
          commaJoinedQuery: true,
          ...(opts.now ? { now: opts.now } : {}),
        },
      );
      if (!result.ok && result.repeated) {
        // The signature holds with these keys read as repeated: a malformed request, not bad credentials.
        request.internal.callerKeyId = result.repeated.accessKeyId;
        throw new HttpError(400, 'InvalidParameter', result.message, {
          fields: result.repeated.keys.map((k) => ({ Field: k, Message: 'given more than once in the query' })),
        });
      }
      if (!result.ok && result.code === 'System.NonceCacheFull') {
        // Fail closed: the replay cache is full of unexpired nonces; room frees up as they expire.
        throw new HttpError(503, result.code, result.message, { headers: { 'retry-after': '1' } });
      }
      if (!result.ok) throw new HttpError(callerAuthStatus(result.code), result.code, result.message);
      request.internal.callerKeyId = result.accessKeyId;
      (request.event as ParsedHttpEvent).callerKeyId = result.accessKeyId;
    },
  };
}

/** Params from query, path and body, validated by the function's zod/mini schema. */
export function validateRequestParams<P>(schema: z.Schema<P>): Middleware {
  return {
    before: (request) => {
      const event = request.event as ParsedHttpEvent;
      const routeSchema = request.internal.routeSchema as z.Schema<unknown> | undefined;
      event.params = validateParams(routeSchema ?? schema, collectParams(event.http));
    },
  };
}
