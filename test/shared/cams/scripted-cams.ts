// A loopback CAMS stand-in for client tests: verifies every request's ACS3 signature with our
// verifier (so signing is proven end to end), records it, and answers what the test scripts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import { expect } from 'vitest';
import { InMemoryNonceRegistry, verifyAcs3Request, type VerifyResult } from '../../../shared/acs3/index.ts';
import { CamsError } from '../../../shared/cams/errors.ts';

export const TEST_KEY = { accessKeyId: 'LTAItestkey0001', accessKeySecret: 'test-secret-0001' };

export interface RecordedCall {
  n: number;
  /** performance.now() when the request's body had arrived. */
  at: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  params: Record<string, string>;
  action: string | undefined;
  verify: VerifyResult;
}

export interface ScriptedReply {
  status?: number;
  /** An object is sent as JSON; a string as is. */
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Never answer (the client must time out). */
  hang?: boolean;
  /** Drop the connection without an answer (the client sees a network error). */
  destroy?: boolean;
}

export type Script = (call: RecordedCall) => ScriptedReply;

export function ok(Data?: unknown, RequestId = 'REQ-OK'): ScriptedReply {
  return { status: 200, body: { RequestId, Code: 'OK', Message: 'None', Success: true, ...(Data === undefined ? {} : { Data }) } };
}

export function gatewayError(status: number, Code: string, Message = Code, RequestId = 'REQ-ERR'): ScriptedReply {
  return { status, body: { RequestId, HostId: 'cams.ap-southeast-1.aliyuncs.com', Code, Message, Recommend: 'https://api.aliyun.com/troubleshoot' } };
}

export const LIMIT_CONTROL = gatewayError(400, 'System.LimitControl', 'The system is under flow control.');

export interface ScriptedCams {
  url: string;
  calls: RecordedCall[];
  /** TCP connections accepted so far. */
  connections(): number;
  setScript(script: Script): void;
  close(): Promise<void>;
}

export async function startScriptedCams(
  script: Script,
  keys: Record<string, string> = { [TEST_KEY.accessKeyId]: TEST_KEY.accessKeySecret },
): Promise<ScriptedCams> {
  const calls: RecordedCall[] = [];
  const nonces = new InMemoryNonceRegistry();
  let current = script;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const at = performance.now();
        const rawBody = Buffer.concat(chunks).toString('utf8');
        const url = new URL(req.url ?? '/', 'http://x');
        const verify = await verifyAcs3Request(
          {
            method: req.method ?? 'GET',
            path: url.pathname,
            query: Object.fromEntries(url.searchParams),
            headers: req.headers,
            body: rawBody,
          },
          { lookupSecret: (id) => keys[id], nonces, requiredSignedHeaders: ['x-acs-action', 'x-acs-version', 'content-type'] },
        );
        const call: RecordedCall = {
          n: calls.length,
          at,
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          rawBody,
          params: parseQuery(rawBody) as Record<string, string>,
          action: req.headers['x-acs-action'] as string | undefined,
          verify,
        };
        calls.push(call);
        const reply: ScriptedReply = verify.ok
          ? current(call)
          : { status: verify.httpStatus, body: { RequestId: 'REQ-SIG', Code: verify.code, Message: verify.message } };
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        if (reply.hang) return;
        if (reply.destroy) {
          req.socket.destroy();
          return;
        }
        const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
        res.writeHead(reply.status ?? 200, {
          'content-type': typeof reply.body === 'string' ? 'text/html' : 'application/json;charset=utf-8',
          ...reply.headers,
        });
        res.end(body);
      })();
    });
  });
  let connections = 0;
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    connections: () => connections,
    setScript: (s) => {
      current = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A clock that only moves when slept on: retry and budget logic without real waiting. Sleepers wake in
 * order of their due time, one per macrotask (as real timers do), so work already queued runs
 * "before" time moves and concurrent sleepers do not add up.
 */
export function fakeClock(start = 1_700_000_000_000) {
  let t = start;
  const sleeps: number[] = [];
  const timers: Array<{ due: number; seq: number; resolve: () => void }> = [];
  let seq = 0;
  let scheduled = false;
  const schedule = () => {
    if (scheduled || timers.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      timers.sort((a, b) => a.due - b.due || a.seq - b.seq);
      const next = timers.shift()!;
      t = Math.max(t, next.due);
      next.resolve();
      schedule();
    });
  };
  return {
    sleeps,
    now: () => t,
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        sleeps.push(ms);
        timers.push({ due: t + Math.max(0, ms), seq: seq++, resolve });
        schedule();
      }),
    advance: (ms: number) => {
      t += ms;
    },
  };
}

/** The CamsError a call fails with; fails the test when the call succeeds. */
export async function expectCamsError(p: Promise<unknown>): Promise<CamsError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CamsError);
    return err as CamsError;
  }
  throw new Error('expected the call to fail');
}
