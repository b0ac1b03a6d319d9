import { signAcs3Request, type Acs3Credentials } from '../../shared/acs3/index.ts';

export interface RouteRequest {
  method: string;
  /** Path without query, e.g. /waba/bind */
  path: string;
  query?: Record<string, string> | undefined;
  /** Sent as JSON. */
  body?: unknown;
}

export interface SignedRouteRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  /** path + encoded query, ready for node:http */
  url: string;
}

/**
 * Signs a call to one of the function set's HTTP routes the way the routes require: ACS3 with host,
 * x-acs-date, x-acs-signature-nonce, x-acs-content-sha256 and (with a body) content-type signed.
 */
export function signRouteRequest(req: RouteRequest, host: string, key: Acs3Credentials, opts: { date?: Date; nonce?: string } = {}): SignedRouteRequest {
  const body = req.body === undefined ? '' : JSON.stringify(req.body);
  const query = req.query ?? {};
  const base: Record<string, string> = { host, accept: 'application/json' };
  if (body) base['content-type'] = 'application/json';
  const headers = signAcs3Request({ method: req.method, path: req.path, query, headers: base, body }, key, opts);
  const qs = new URLSearchParams(query).toString().replace(/\+/g, '%20');
  return { method: req.method, path: req.path, query, headers, body, url: req.path + (qs ? `?${qs}` : '') };
}
