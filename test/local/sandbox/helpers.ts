import { acsEncode, signAcs3Request } from '../../../shared/acs3/index.ts';
import { CAMS_VERSION } from '../../../shared/cams/operations.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { DEFAULT_SANDBOX_KEYS, startSandbox, type RunningSandbox, type SandboxKey, type SandboxOptions } from '../../../local/sandbox/server.ts';

export const KEY_A: SandboxKey = DEFAULT_SANDBOX_KEYS[0]!;
export const KEY_B: SandboxKey = DEFAULT_SANDBOX_KEYS[1]!;

export function start(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  return startSandbox({ host: '127.0.0.1', port: 0, ...opts });
}

export interface SignedCallOptions {
  action: string;
  params?: Record<string, string>;
  key?: SandboxKey;
  /** Where the params go: the query string (default) or a form body. */
  where?: 'query' | 'body';
  securityToken?: string;
  version?: string;
  date?: Date;
  nonce?: string;
}

export interface PreparedCall {
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

export function formString(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${acsEncode(k)}=${acsEncode(v)}`)
    .join('&');
}

/** A request signed with our ACS3 signer, as the official SDK would build it. */
export function prepareCall(sb: RunningSandbox, o: SignedCallOptions): PreparedCall {
  const params = o.params ?? {};
  const where = o.where ?? 'query';
  const query = where === 'query' ? params : {};
  const body = where === 'body' ? formString(params) : undefined;
  const headers: Record<string, string> = {
    host: `127.0.0.1:${sb.port}`,
    'x-acs-action': o.action,
    'x-acs-version': o.version ?? CAMS_VERSION,
    accept: 'application/json',
  };
  if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const key = o.key ?? KEY_A;
  const signed = signAcs3Request(
    { method: 'POST', path: '/', query, headers, body },
    { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret, securityToken: o.securityToken },
    { ...(o.date ? { date: o.date } : {}), ...(o.nonce ? { nonce: o.nonce } : {}) },
  );
  const qs = formString(query);
  return { url: `${sb.url}/${qs ? '?' + qs : ''}`, headers: signed, body };
}

export async function send(p: PreparedCall): Promise<Reply> {
  const res = await httpRequest(p.url, { method: 'POST', headers: p.headers, ...(p.body !== undefined ? { body: p.body } : {}), timeoutMs: 10_000 });
  return { status: res.status, headers: res.headers, json: JSON.parse(res.body.toString('utf8')) as Record<string, unknown> };
}

export function call(sb: RunningSandbox, o: SignedCallOptions): Promise<Reply> {
  return send(prepareCall(sb, o));
}

/** Calls the unsigned control API; `body` is sent as given when a string, else as JSON. */
export async function control(sb: RunningSandbox, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const res = await httpRequest(`${sb.url}${path}`, {
    method,
    headers: text === undefined ? {} : { 'content-type': 'application/json' },
    ...(text !== undefined ? { body: text } : {}),
    timeoutMs: 10_000,
  });
  return { status: res.status, json: JSON.parse(res.body.toString('utf8')) as unknown };
}

/** Binds a WABA for the key and returns its CustSpaceId. */
export async function bind(sb: RunningSandbox, wabaId: string, key: SandboxKey = KEY_A): Promise<string> {
  const r = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: wabaId }, key });
  if (r.json['Code'] !== 'OK') throw new Error(`bind failed: ${JSON.stringify(r.json)}`);
  return (r.json['Data'] as { CustSpaceId: string }).CustSpaceId;
}

export const UUID_UPPER = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;
