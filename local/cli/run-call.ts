/**
 * `npm run call -- METHOD PATH [JSON]`: one signed call to a route (`--sandbox METHOD ACTION [JSON]`:
 * a CAMS call to the sandbox instead, see ./sandbox-call.ts) of the local host (or any
 * deployment of the function set), printed as a status line and pretty JSON.
 *   - signs with the first API_KEYS pair (default: the host's default pair) via signRouteRequest;
 *   - target CAMS_FC_URL, default http://127.0.0.1:${PORT:-9000};
 *   - `PATH?a=b&c=d` becomes query parameters; JSON (an object) is the body;
 *   - exit code 0 for a 2xx reply, 1 for anything else (other statuses, bad arguments, no host).
 */
import { STATUS_CODES } from 'node:http';
import { signRouteRequest } from '../client/route-request.ts';
import { ConfigError, parseKeyList } from '../../shared/config/env.ts';
import { httpRequest } from '../../shared/http/request.ts';
import { DEFAULT_API_KEYS, DEFAULT_PORT } from '../host/defaults.ts';
import { runSandboxCall, SANDBOX_USAGE } from './sandbox-call.ts';

export const USAGE = [
  'usage: npm run call -- METHOD PATH [JSON]',
  '  METHOD  GET, HEAD, POST, PUT, PATCH, DELETE',
  '  PATH    a route path, optionally with a query: /waba?CustSpaceId=C24854730574495',
  "  JSON    the request body, a JSON object: '{\"WabaId\":\"1234567890\"}'",
  'examples:',
  `  npm run call -- POST /waba/bind '{"WabaId":"1234567890"}'`,
  '  npm run call -- GET "/health-status?CustSpaceId=C24854730574495&NodeType=waba&WabaId=1234567890"',
  '  (C24854730574495: the CustSpaceId the embedded sandbox gives that bind; use the one it printed)',
  'environment: CAMS_FC_URL (default http://127.0.0.1:${PORT:-9000}), API_KEYS (first pair signs; default the local pair)',
  '',
  SANDBOX_USAGE,
].join('\n');

export interface CallIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface ParsedCall {
  method: string;
  path: string;
  query: Record<string, string>;
  body?: Record<string, unknown>;
}

export class UsageError extends Error {}

export function parseCallArgs(argv: readonly string[]): ParsedCall {
  if (argv.length < 2 || argv.length > 3) throw new UsageError(`expected METHOD PATH [JSON], got ${argv.length} argument(s)`);
  const [rawMethod, target, json] = argv as [string, string, string | undefined];
  const method = rawMethod.toUpperCase();
  if (!/^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/.test(method)) throw new UsageError(`"${rawMethod}" is not an HTTP method`);
  if (!target.startsWith('/')) throw new UsageError(`PATH must start with / (got "${target}")`);
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  // A repeated key joins its values with ','; a Map, so `constructor` or `__proto__` is just a key.
  const values = new Map<string, string>();
  if (q >= 0) for (const [k, v] of new URLSearchParams(target.slice(q + 1))) values.set(k, values.has(k) ? `${values.get(k)},${v}` : v);
  const query: Record<string, string> = Object.fromEntries(values);
  const parsed: ParsedCall = { method, path, query };
  if (json !== undefined) {
    let body: unknown;
    try {
      body = JSON.parse(json);
    } catch (e) {
      throw new UsageError(`JSON is not valid JSON: ${(e as Error).message}`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new UsageError('JSON must be an object, e.g. \'{"WabaId":"1234567890"}\'');
    parsed.body = body as Record<string, unknown>;
  }
  return parsed;
}

/** Runs one call; returns the process exit code. */
export async function runCall(argv: readonly string[], env: Record<string, string | undefined>, io: CallIo): Promise<number> {
  if (argv.length === 1 && (argv[0] === '-h' || argv[0] === '--help')) {
    io.out(USAGE);
    return 0;
  }
  if (argv[0] === '--sandbox') return runSandboxCall(argv.slice(1), env, io);
  let call: ParsedCall;
  let key;
  let base: URL;
  try {
    call = parseCallArgs(argv);
    key = parseKeyList('API_KEYS', env['API_KEYS']?.trim() || DEFAULT_API_KEYS)[0]!;
    const target = env['CAMS_FC_URL']?.trim() || `http://127.0.0.1:${env['PORT']?.trim() || DEFAULT_PORT}`;
    try {
      base = new URL(target);
    } catch {
      // Named, not echoed: a gateway's URL may carry a password.
      throw new ConfigError('CAMS_FC_URL', 'is not a URL (must be an http:// or https:// URL)');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new ConfigError('CAMS_FC_URL', 'must be an http:// or https:// URL');
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`call: ${e.message}\n${USAGE}`);
      return 1;
    }
    if (e instanceof ConfigError) {
      io.err(`call: ${e.message}`);
      return 1;
    }
    throw e;
  }

  // A base URL with a path prefix (a gateway mount point) is kept in front of the route path.
  const prefix = base.pathname.replace(/\/+$/, '');
  const signed = signRouteRequest({ method: call.method, path: prefix + call.path, query: call.query, body: call.body }, base.host, key);
  const url = new URL(signed.url, base.origin);
  let res;
  try {
    res = await httpRequest(url, { method: signed.method, headers: signed.headers, ...(signed.body ? { body: signed.body } : {}), timeoutMs: 60_000 });
  } catch (e) {
    io.err(`call: no reply from ${base.origin}: ${(e as Error).message}\n  is the host running? (npm start; or set CAMS_FC_URL)`);
    return 1;
  }
  const reason = STATUS_CODES[res.status] ?? '';
  io.out(`HTTP ${res.status}${reason ? ` ${reason}` : ''}  ${call.method} ${signed.url}${res.headers['x-fc-request-id'] ? `  (x-fc-request-id ${String(res.headers['x-fc-request-id'])})` : ''}`);
  const text = res.body.toString('utf8');
  if (text) {
    try {
      io.out(JSON.stringify(JSON.parse(text), null, 2));
    } catch {
      io.out(text);
    }
  }
  return res.status >= 200 && res.status < 300 ? 0 : 1;
}
