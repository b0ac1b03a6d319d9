/**
 * http-client baseline: shared/http/request.ts as it was before it spoke HTTP/1.1 itself (node:http
 * with a keep-alive Agent, 64 sockets per origin), kept to measure the new client against side by side.
 */
import { Agent, request } from 'node:http';
import type https from 'node:https';
// The same options, reply and timeout error as the client it is measured against.
import { HttpTimeoutError, type HttpRequestOptions, type HttpResponse } from '../../shared/http/request.ts';

const httpAgent = new Agent({ keepAlive: true, maxSockets: 64 });
/** What exchange() needs of node:http or node:https. */
type HttpLib = { request: typeof request } | typeof https;
const httpLib: HttpLib = { request };
let httpsLib: Promise<{ lib: typeof https; agent: https.Agent }> | undefined;

function loadHttps(): Promise<{ lib: typeof https; agent: https.Agent }> {
  return (httpsLib ??= import('node:https').then((m) => {
    const lib = (m as { default?: typeof https }).default ?? (m as unknown as typeof https);
    return { lib, agent: new lib.Agent({ keepAlive: true, maxSockets: 64 }) };
  }));
}

export async function httpRequest(url: string | URL, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = typeof url === 'string' ? new URL(url) : url;
  if (target.protocol === 'https:') {
    const { lib, agent } = await loadHttps();
    return exchange(lib, agent, target, opts);
  }
  if (target.protocol !== 'http:') throw new Error(`unsupported protocol ${target.protocol}`);
  return exchange(httpLib, httpAgent, target, opts);
}

function exchange(lib: HttpLib, agent: Agent, target: URL, opts: HttpRequestOptions): Promise<HttpResponse> {
  const maxBody = opts.maxBodyBytes ?? 16 * 1024 * 1024;

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const done = (err: Error | null, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (err) reject(err);
      else resolve(res!);
    };
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-length')) {
      headers['content-length'] = Buffer.byteLength(opts.body);
    }
    const req = lib.request(target, { method: opts.method ?? 'GET', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBody) {
          // Settle first, then drop the connection without an error event nobody listens to.
          done(new Error(`reply from ${target.origin} exceeds ${maxBody} bytes`));
          res.destroy();
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => done(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => done(e));
      res.on('aborted', () => done(new Error(`reply from ${target.origin} was aborted`)));
    });
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            const err = new HttpTimeoutError(opts.timeoutMs!, target.origin);
            done(err);
            req.destroy(err);
          }, Math.max(0, opts.timeoutMs))
        : undefined;
    req.on('error', (e) => done(e));
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}
