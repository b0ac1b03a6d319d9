import { createRequire } from 'node:module';
import { signRouteRequest, type RouteRequest } from '../../../local/client/route-request.ts';
import { DEFAULT_API_KEY } from '../../../local/host/defaults.ts';
import { httpRequest, type HttpResponse } from '../../../shared/http/request.ts';

const require = createRequire(import.meta.url);

export interface Fc2Client {
  invokeFunction(service: string, fn: string, event: string | Buffer, headers?: Record<string, string>, qualifier?: string): Promise<{ headers: Record<string, string>; data: unknown }>;
}
type Fc2Ctor = new (accountId: string, config: Record<string, unknown>) => Fc2Client;

/** The real @alicloud/fc2 client, pointed at a local host. */
export function fc2Client(url: string, accountId: string, key: { accessKeyId: string; accessKeySecret: string }): Fc2Client {
  const FC = require('@alicloud/fc2') as Fc2Ctor;
  return new FC(accountId, { accessKeyID: key.accessKeyId, accessKeySecret: key.accessKeySecret, region: 'ap-southeast-1', endpoint: url, timeout: 20_000 });
}

let nonce = 0;

export interface RouteReply {
  status: number;
  headers: HttpResponse['headers'];
  json: Record<string, unknown> & { RequestId?: string; Code?: string; Success?: boolean; Data?: Record<string, unknown> };
  text: string;
}

/** A route call signed as callers must sign them (ACS3, signRouteRequest), sent over HTTP. */
export async function callRoute(url: string, req: RouteRequest, key: { accessKeyId: string; accessKeySecret: string } = DEFAULT_API_KEY): Promise<RouteReply> {
  const base = new URL(url);
  const signed = signRouteRequest(req, base.host, key, { nonce: `host-test-${process.pid}-${++nonce}-${Date.now()}` });
  const res = await httpRequest(new URL(signed.url, base), { method: signed.method, headers: signed.headers, ...(signed.body ? { body: signed.body } : {}), timeoutMs: 20_000 });
  const text = res.body.toString('utf8');
  let json = {};
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** Polls until `check` returns a value (not undefined / false), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The JSON of an FC 3.0 HTTP trigger event carrying a signed route call (what a caller of the invoke API sends). */
export function httpTriggerEvent(accountId: string, path: string, body: unknown): string {
  const hostHeader = 'cams-fc-dev.ap-southeast-1.fcapp.run';
  const signed = signRouteRequest({ method: 'POST', path, body }, hostHeader, DEFAULT_API_KEY, { nonce: `invoke-${Math.random()}` });
  return JSON.stringify({
    version: 'v1',
    rawPath: path,
    body: signed.body,
    isBase64Encoded: false,
    headers: signed.headers,
    queryParameters: {},
    requestContext: {
      accountId,
      domainName: hostHeader,
      domainPrefix: 'bind-waba',
      http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'r-1',
      time: '2024-01-01T00:00:00Z',
      timeEpoch: '1704067200000',
    },
  });
}
