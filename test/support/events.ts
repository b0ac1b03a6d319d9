import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SignedRouteRequest } from '../../local/client/route-request.ts';

export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)), 'utf8')) as T;
}

export type Trigger = 'fc-http' | 'api-gateway';

/** A signed request wrapped in a real FC 3.0 HTTP trigger or API Gateway event, as FC's Buffer. */
export function httpEvent(req: SignedRouteRequest, trigger: Trigger, opts: { base64?: boolean } = {}): Buffer {
  const body = opts.base64 ? Buffer.from(req.body).toString('base64') : req.body;
  if (trigger === 'fc-http') {
    const e = fixture<Record<string, unknown> & { requestContext: { http: Record<string, string> } }>('fc3-http-event.json');
    e['rawPath'] = req.path;
    e['headers'] = { ...(e['headers'] as object), ...req.headers };
    e['queryParameters'] = req.query;
    e['body'] = body;
    e['isBase64Encoded'] = Boolean(opts.base64);
    e.requestContext.http['method'] = req.method;
    e.requestContext.http['path'] = req.path;
    return Buffer.from(JSON.stringify(e));
  }
  const e = fixture('apigw-event.json');
  e['path'] = req.path;
  e['httpMethod'] = req.method;
  e['headers'] = { ...(e['headers'] as object), ...req.headers };
  e['queryParameters'] = req.query;
  e['body'] = body;
  e['isBase64Encoded'] = Boolean(opts.base64);
  return Buffer.from(JSON.stringify(e));
}

export function fcContext(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...fixture('fc-context.json'), ...overrides };
}

export interface ParsedReply {
  statusCode: number;
  headers: Record<string, string>;
  body: Record<string, unknown> & { RequestId: string; Code: string; Success: boolean; Message?: string; Data?: Record<string, unknown> };
}

export function parseReply(res: { statusCode: number; headers: Record<string, string>; body: string }): ParsedReply {
  return { statusCode: res.statusCode, headers: res.headers, body: JSON.parse(res.body) };
}
