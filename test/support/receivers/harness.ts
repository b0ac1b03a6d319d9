// The loopback HTTP server every receiver runs on: reads the whole body, lets the test script
// failures (the next N requests answer 500, or never answer), records what was accepted and what
// was refused, and closes cleanly (keep-alive sockets included).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceiverKind = 'dingtalk' | 'lark' | 'wecom' | 'slack' | 'webhook';

export interface IncomingCall {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  /** Receiver clock (epoch ms). */
  now: number;
}

/** An accepted message. */
export interface ReceivedMessage {
  at: number;
  path: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: unknown;
  /** The human-visible content, flattened to one string (title, text, card/blocks texts). */
  text: string;
}

/** A request the receiver refused (or was scripted to fail). */
export interface RejectedCall {
  at: number;
  path: string;
  status: number;
  reply: unknown;
  reason: string;
  /** A scripted failure's request body (what was refused: a message's id and items). */
  raw?: string;
}

export interface Reply {
  status?: number;
  /** An object is sent as JSON, a string as text/plain. */
  body: unknown;
  headers?: Record<string, string>;
  /** Set when the message is accepted (then recorded in `received`). */
  accept?: { body: unknown; text: string };
  /** Why a refusal was made (recorded in `rejected`). */
  reason?: string;
}

export interface ReceiverServer {
  kind: ReceiverKind;
  /** http://127.0.0.1:port */
  origin: string;
  received: ReceivedMessage[];
  rejected: RejectedCall[];
  /** Every request seen, scripted failures included. */
  requests: number;
  /** The next `n` requests answer `status` (default 500) without being looked at. */
  failNext(n: number, status?: number): void;
  /** The next `n` requests never get an answer (the sender must time out). */
  hangNext(n: number): void;
  /** The next `n` requests are answered as usual, `ms` after they arrived (a slow channel). */
  slowNext(n: number, ms: number): void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  now?: () => number;
  /**
   * A message the channel would accept, refused instead when this gives a reply (a robot's keyword
   * filter, an endpoint that refuses some payloads): the test gives the channel's own answer.
   */
  refuse?: (text: string) => Reply | undefined;
}

export async function startReceiverServer(kind: ReceiverKind, handle: (call: IncomingCall) => Reply, opts: HarnessOptions = {}): Promise<ReceiverServer> {
  const now = opts.now ?? Date.now;
  const received: ReceivedMessage[] = [];
  const rejected: RejectedCall[] = [];
  let failing = 0;
  let failStatus = 500;
  let hanging = 0;
  let slow = 0;
  let slowMs = 0;
  let requests = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests += 1;
      const url = new URL(req.url ?? '/', 'http://receiver.local');
      const at = now();
      const delay = slow > 0 ? (slow--, slowMs) : 0;
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        const isText = typeof body === 'string';
        const payload = isText ? body : JSON.stringify(body);
        const answer = () => {
          res.writeHead(status, { 'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8', ...headers });
          res.end(payload);
        };
        if (delay > 0) setTimeout(answer, delay);
        else answer();
      };
      if (hanging > 0) {
        hanging -= 1;
        return; // never answered; close() destroys the socket
      }
      if (failing > 0) {
        failing -= 1;
        rejected.push({ at, path: url.pathname, status: failStatus, reply: 'scripted failure', reason: 'scripted failure', raw: Buffer.concat(chunks).toString('utf8') });
        send(failStatus, failStatus >= 500 ? 'Internal Server Error' : 'scripted failure');
        return;
      }
      const raw = Buffer.concat(chunks);
      let reply: Reply;
      try {
        reply = handle({ method: req.method ?? 'GET', url, headers: req.headers, raw, now: at });
      } catch (e) {
        reply = { status: 500, body: 'receiver crashed', reason: `receiver crashed: ${e instanceof Error ? e.message : String(e)}` };
      }
      if (reply.accept) {
        const refusal = opts.refuse?.(reply.accept.text);
        if (refusal) reply = refusal;
      }
      const status = reply.status ?? 200;
      if (reply.accept) {
        received.push({
          at,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: req.headers,
          raw: raw.toString('utf8'),
          body: reply.accept.body,
          text: reply.accept.text,
        });
      } else {
        rejected.push({ at, path: url.pathname, status, reply: reply.body, reason: reply.reason ?? 'rejected' });
      }
      send(status, reply.body, reply.headers);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    kind,
    origin: `http://127.0.0.1:${port}`,
    received,
    rejected,
    get requests() {
      return requests;
    },
    failNext(n, status = 500) {
      failing = n;
      failStatus = status;
    },
    hangNext(n) {
      hanging = n;
    },
    slowNext(n, ms) {
      slow = n;
      slowMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function parseJson(raw: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== '';
}

/** All strings under the given keys anywhere in a JSON value, in document order. */
export function collectStrings(value: unknown, keys: ReadonlySet<string>, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => collectStrings(v, keys, out));
  else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string' && keys.has(k)) out.push(v);
      else collectStrings(v, keys, out);
    }
  }
  return out;
}

/** A sliding one-minute window of accepted messages, for throttle modes. */
export class MinuteWindow {
  private times: number[] = [];
  constructor(readonly perMinute: number) {}
  /** True when one more message would exceed the limit. */
  full(now: number): boolean {
    this.times = this.times.filter((t) => now - t < 60_000);
    return this.times.length >= this.perMinute;
  }
  add(now: number): void {
    this.times.push(now);
  }
}

/** Lone UTF-16 surrogates: what a cut through a character leaves behind. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when the bytes are well-formed UTF-8 (a cut inside a sequence is not). */
export function isWellFormedUtf8(buf: Buffer): boolean {
  return Buffer.from(buf.toString('utf8'), 'utf8').equals(buf);
}
