import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type * as z from '../validation/schema.ts';
import type { EnvSource } from '../config/env.ts';
import type { FcContext } from '../fc/context.ts';
import { decodeHttpRequest, headReplies, invocationLog, type HttpInternal, type ParsedHttpEvent } from '../http-fn/middlewares.ts';
import { validateParams, collectParams } from '../http-fn/params.ts';
import { errorReply, type FcHttpResponse } from '../http-fn/reply.ts';
import { stdoutLog, type LogWriter } from '../log/log.ts';
import { checkAccess } from './access.ts';
import { loadStatusPageConfig, type StatusPageConfig } from './config.ts';
import { esc, STATUS_PAGE_CSP } from './render.ts';

type Request = middy.Request<unknown, FcHttpResponse, Error, FcContext, HttpInternal>;
type Middleware = middy.MiddlewareObj<unknown, FcHttpResponse, Error, FcContext, HttpInternal>;

/** Headers of every reply: no caching (the token may be in play), no sniffing, no referrer, the strict CSP. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': STATUS_PAGE_CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

function page(status: number, body: string, headers: Record<string, string> = {}): FcHttpResponse {
  return { statusCode: status, headers: { ...PAGE_HEADERS, ...headers }, body, isBase64Encoded: false };
}

/** Errors as a small HTML page with the same status and code a JSON route would give; nothing internal shown. */
function htmlErrors(): Middleware {
  return {
    onError: (request: Request) => {
      const info = errorReply(request.internal.requestId ?? randomUUID(), request.error);
      const parsed = JSON.parse(info.response.body) as { Code: string; Message: string; Fields?: Array<{ Field: string; Message: string }> };
      const fields = (parsed.Fields ?? []).map((f) => `<li>${esc(f.Field)}: ${esc(f.Message)}</li>`).join('');
      const headers = { ...info.response.headers, ...PAGE_HEADERS, 'x-request-id': request.internal.requestId ?? '', ...(info.response.statusCode === 401 ? { 'www-authenticate': 'Bearer realm="status"' } : {}) };
      request.response = page(
        info.response.statusCode,
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(parsed.Code)}</title></head><body><h1>${info.response.statusCode} ${esc(parsed.Code)}</h1><p>${esc(parsed.Message)}</p>${fields ? `<ul>${fields}</ul>` : ''}</body></html>`,
        headers,
      );
      request.internal.code = info.code;
      request.internal.internalError = info.internal;
    },
  };
}

export interface PageFunctionSpec<P> {
  name: string;
  path: string;
  schema: z.Schema<P>;
  render: (input: { params: P; config: StatusPageConfig; now: number }) => Promise<string>;
  env?: EnvSource;
  write?: LogWriter;
}

/**
 * The HTML page's stack, Powertools-style like the JSON routes': log → HEAD → HTML errors → decode →
 * viewer access (token, cookie or public; not ACS3: a browser cannot sign) → query params → render.
 */
export function pageFunction<P>(spec: PageFunctionSpec<P>): (event: unknown, context?: FcContext) => Promise<FcHttpResponse> {
  let config: StatusPageConfig | undefined;
  const loadConfig = () => (config ??= loadStatusPageConfig(spec.env ?? process.env));
  const base = async (event: unknown): Promise<FcHttpResponse> => {
    const { http } = event as ParsedHttpEvent;
    const cfg = loadConfig();
    const access = checkAccess(cfg, http);
    if (access.kind === 'set-cookie') return page(303, '', { location: access.location, 'set-cookie': access.cookie });
    const query = collectParams(http);
    delete query['token'];
    const params = validateParams(spec.schema, query);
    return page(200, await spec.render({ params, config: cfg, now: Date.now() }));
  };
  const handler = middy<unknown, FcHttpResponse, Error, FcContext, HttpInternal>(base, { timeoutEarlyInMillis: 0 })
    .use(invocationLog({ functionName: spec.name, write: spec.write ?? stdoutLog }) as unknown as Middleware)
    .use(headReplies() as unknown as Middleware)
    .use(htmlErrors())
    .use(decodeHttpRequest({ routes: [{ method: 'GET', path: spec.path }], maxBodyBytes: () => 16 * 1024 }) as unknown as Middleware)
    .use({
      after: (r: Request) => {
        r.internal.code = 'OK';
        if (r.response) r.response.headers['x-request-id'] = r.internal.requestId;
      },
    });
  return (event, context) => handler(event, context ?? {});
}
