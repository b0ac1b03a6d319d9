/**
 * `npm run call -- --sandbox METHOD ACTION [JSON]`: one CAMS call to the sandbox, signed the way the
 * official SDK signs it (ACS3-HMAC-SHA256; `/` with x-acs-action and x-acs-version, the params in the
 * query string), with the first sandbox key.
 *   - key: the first CAMS_SANDBOX_KEYS pair, else the documented default pair;
 *   - target: CAMS_SANDBOX_URL, else http://127.0.0.1:${CAMS_SANDBOX_PORT:-9100};
 *   - exit code 0 for an HTTP 2xx reply with Code OK, 1 for anything else.
 */
import { STATUS_CODES } from 'node:http';
import { acsEncode, signAcs3Request } from '../../shared/acs3/index.ts';
import { CAMS_ACTIONS, CAMS_VERSION, isCamsAction } from '../../shared/cams/operations.ts';
import { httpRequest } from '../../shared/http/request.ts';
import { DEFAULT_SANDBOX_KEYS, DEFAULT_SANDBOX_PORT, parseSandboxKeys, type SandboxKey } from '../sandbox/config.ts';

export const SANDBOX_USAGE = [
  'usage: npm run call -- --sandbox METHOD ACTION [JSON]',
  '  METHOD  POST or GET',
  `  ACTION  ${CAMS_ACTIONS.join(', ')}`,
  '  JSON    the parameters, a JSON object of strings: \'{"WabaId":"1234567890"}\'',
  'example:',
  `  npm run call -- --sandbox POST ChatappBindWaba '{"WabaId":"1234567890"}'`,
  'environment: CAMS_SANDBOX_URL (default http://127.0.0.1:${CAMS_SANDBOX_PORT:-9100}), CAMS_SANDBOX_KEYS (first pair signs; default the sandbox pair)',
].join('\n');

export interface SandboxCall {
  method: 'GET' | 'POST';
  action: string;
  params: Record<string, string>;
}

export class SandboxUsageError extends Error {}

export function parseSandboxCallArgs(argv: readonly string[]): SandboxCall {
  if (argv.length < 2 || argv.length > 3) throw new SandboxUsageError(`expected METHOD ACTION [JSON] after --sandbox, got ${argv.length} argument(s)`);
  const [rawMethod, action, json] = argv as [string, string, string | undefined];
  const method = rawMethod.toUpperCase();
  if (method !== 'GET' && method !== 'POST') throw new SandboxUsageError(`METHOD must be POST or GET (got "${rawMethod}")`);
  if (!isCamsAction(action)) throw new SandboxUsageError(`ACTION "${action}" is not a CAMS operation the sandbox has; one of ${CAMS_ACTIONS.join(', ')}`);
  const params: Record<string, string> = {};
  if (json !== undefined) {
    let body: unknown;
    try {
      body = JSON.parse(json);
    } catch (e) {
      throw new SandboxUsageError(`JSON is not valid JSON: ${(e as Error).message}`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new SandboxUsageError('JSON must be an object of parameters');
    for (const [k, v] of Object.entries(body)) {
      // CAMS parameters are strings on the wire; a number or boolean is written as it reads.
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') params[k] = String(v);
      else throw new SandboxUsageError(`JSON parameter ${k} must be a string, number or boolean`);
    }
  }
  return { method, action, params };
}

export interface SandboxCallIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export async function runSandboxCall(argv: readonly string[], env: Record<string, string | undefined>, io: SandboxCallIo): Promise<number> {
  let call: SandboxCall;
  let key: SandboxKey;
  let base: URL;
  try {
    call = parseSandboxCallArgs(argv);
    const keys = env['CAMS_SANDBOX_KEYS']?.trim();
    key = (keys ? parseSandboxKeys(keys) : DEFAULT_SANDBOX_KEYS)[0]!;
    const target = env['CAMS_SANDBOX_URL']?.trim() || `http://127.0.0.1:${env['CAMS_SANDBOX_PORT']?.trim() || DEFAULT_SANDBOX_PORT}`;
    try {
      base = new URL(target);
    } catch {
      // Named, not echoed: the URL may carry a password.
      throw new Error('CAMS_SANDBOX_URL: is not a URL (must be an http:// or https:// URL)');
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('CAMS_SANDBOX_URL: must be an http:// or https:// URL');
  } catch (e) {
    io.err(`call: ${(e as Error).message}${e instanceof SandboxUsageError ? `\n${SANDBOX_USAGE}` : ''}`);
    return 1;
  }

  const query = Object.entries(call.params)
    .map(([k, v]) => `${acsEncode(k)}=${acsEncode(v)}`)
    .join('&');
  const headers = signAcs3Request(
    { method: call.method, path: '/', query: call.params, headers: { host: base.host, 'x-acs-action': call.action, 'x-acs-version': CAMS_VERSION, accept: 'application/json' } },
    key,
  );
  const path = `/${query ? `?${query}` : ''}`;
  let res;
  try {
    res = await httpRequest(new URL(path, base.origin), { method: call.method, headers, timeoutMs: 60_000 });
  } catch (e) {
    io.err(`call: no reply from the CAMS sandbox at ${base.origin}: ${(e as Error).message}\n  is it running? (npm run sandbox or npm start; or set CAMS_SANDBOX_URL)`);
    return 1;
  }
  const reason = STATUS_CODES[res.status] ?? '';
  const requestId = res.headers['x-acs-request-id'];
  io.out(`HTTP ${res.status}${reason ? ` ${reason}` : ''}  ${call.method} ${call.action} (key ${key.accessKeyId})${requestId ? `  (x-acs-request-id ${String(requestId)})` : ''}`);
  const text = res.body.toString('utf8');
  let code: unknown;
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    code = json['Code'];
    io.out(JSON.stringify(json, null, 2));
  } catch {
    if (text) io.out(text);
  }
  return res.status >= 200 && res.status < 300 && (code === undefined || code === 'OK') ? 0 : 1;
}
