/**
 * function-cold-start reference (not a goal): the least any HTTP function making one CAMS call can
 * cost in a fresh Node process — parse the FC event, one node:http POST of the params as a form body
 * to CAMS_ENDPOINT with an HMAC-SHA256 over it (node:crypto, as any signed call pays; not a valid
 * ACS3 signature), JSON.parse of whatever comes back (the sandbox answers with a signature error:
 * still one full round trip). No caller check, no client, no schemas.
 * Bundled like the others; it shows how much of a function's overhead over `node -e 0` is Node's
 * own price for loading node:http and making a first request. With an https:// CAMS_ENDPOINT (the
 * "as deployed" rows) it makes the same call through node:https, loaded only then.
 */
import { createHash, createHmac } from 'node:crypto';

interface FcEvent {
  queryParameters?: Record<string, string>;
  body?: string;
}

export function handler(event: Buffer, _context: unknown): Promise<{ statusCode: number; headers: Record<string, string>; body: string; isBase64Encoded: false }> {
  const url = new URL(process.env['CAMS_ENDPOINT'] ?? 'http://127.0.0.1:9100');
  // require, not import(): esbuild leaves an import() of a builtin in CommonJS output, and Node then
  // loads its ESM loader for it, which no function here pays.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { request } = (url.protocol === 'https:' ? require('node:https') : require('node:http')) as typeof import('node:http');
  const e = JSON.parse(event.toString('utf8')) as FcEvent;
  const params = { ...e.queryParameters, ...(e.body ? (JSON.parse(e.body) as Record<string, string>) : {}) };
  const body = new URLSearchParams(params).toString();
  const digest = createHash('sha256').update(body).digest('hex');
  const signature = createHmac('sha256', process.env['ALIBABA_CLOUD_ACCESS_KEY_SECRET'] ?? 'x').update(`POST\n/\n${digest}`).digest('hex');
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), 'x-acs-content-sha256': digest, authorization: `floor ${signature}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const reply = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Code?: unknown };
          if (typeof reply.Code !== 'string') return reject(new Error(`no Code in the reply (${res.statusCode})`));
          // Any CAMS-shaped answer completes the round trip; report it the way the runner expects.
          resolve({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Code: 'OK', CamsCode: reply.Code }), isBase64Encoded: false });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
