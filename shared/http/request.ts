/**
 * HTTP/1.1 requests over node:net (node:tls for https), with a keep-alive pool per origin reused
 * across warm invocations of the same instance. Every outbound call goes through here: CAMS, FC's
 * InvokeFunction, the alert sinks.
 *
 * Not node:http: in a fresh process its first request costs about 8 ms more CPU than the same
 * exchange over node:net (about 4 ms even when the module is already loaded), and node:https about
 * 10 ms more than node:tls; that is most of what the HTTP functions' first request paid above the
 * floor (`npm run bench -- function-cold-start`). Not fetch either: on Node 20 its first call costs
 * ~150 ms and ~40 MB (../shared/notes/cold-start.md). What a reply may be is read by
 * ./response-reader.ts.
 *
 * Retries are not decided here: a request that fails is reported to its caller (CAMS's retry loop,
 * the alert deliverer), with the socket's own error code (ECONNREFUSED, ECONNRESET, ...).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { connectTls } from '../net/tls.ts';
import { isFieldValue, isToken } from '../text/chars.ts';
import { ResponseReader, type ParsedResponse } from './response-reader.ts';

/** Sockets open at once to one origin; more requests wait for one to be free. */
export const MAX_SOCKETS_PER_ORIGIN = 64;
/**
 * An idle socket is used again only this long after its last reply (or less, when the server's
 * Keep-Alive hint says so): a server that closes it meanwhile would reset the next request. Wall
 * time, so that an instance FC froze for longer never reuses what the server has since dropped.
 */
export const IDLE_KEEP_MS = 4000;
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Whole-exchange timeout (wait for a socket, connect, send, receive the full body). */
  timeoutMs?: number;
  /** Replies larger than this are cut off with an error rather than buffered without end. */
  maxBodyBytes?: number;
  /**
   * Asked in the turn that hands the request to its socket, once it has one: false sends nothing
   * (RequestNotSent; the connection stays in the pool). For a request that must leave by a moment:
   * a check before calling here leaves the awaits for a socket (a pool's turn, node:tls's loading)
   * after it, where a loaded machine can stall the process past that moment. A new connection's
   * connect and TLS handshake still come after it: the request waits in the socket for them.
   */
  mayStart?: () => boolean;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request that did not get a reply in time: distinct from a network error so callers can map it.
 * It names the origin only: a path or query may carry a webhook's token. `requestSent` false: no
 * byte of the request can have left (it waited for a socket, or its connection was still connecting
 * or in its TLS handshake), so the server certainly never saw it; true when it may have.
 */
export class HttpTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly timeoutMs: number, origin: string, readonly requestSent = true) {
    super(requestSent ? `no reply from ${origin} within ${timeoutMs} ms` : `no connection to ${origin} within ${timeoutMs} ms: the request was not sent`);
    this.name = 'HttpTimeoutError';
  }
}

/** The request's mayStart said no when it had a socket: nothing was sent. */
export class RequestNotSent extends Error {
  readonly code = 'ENOTSENT';
  constructor(origin: string) {
    super(`the request to ${origin} was not sent: its time to start had passed`);
    this.name = 'RequestNotSent';
  }
}

/** The connection closed before the reply was whole (node's "socket hang up"). */
function hangUp(origin: string, started: boolean): Error {
  return Object.assign(new Error(`${origin} closed the connection ${started ? 'in the middle of its reply' : 'before replying'}`), { code: 'ECONNRESET' });
}

export async function httpRequest(url: string | URL, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  const target = typeof url === 'string' ? new URL(url) : url;
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`unsupported protocol ${target.protocol}`);
  const method = opts.method ?? 'GET';
  const head = requestHead(method, target, opts.headers, opts.body);
  const message = opts.body === undefined || Buffer.byteLength(opts.body) === 0 ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body]);
  const pool = poolFor(target);
  const reader = new ResponseReader({ maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, noBody: method === 'HEAD', origin: target.origin });

  return new Promise<HttpResponse>((resolve, reject) => {
    let conn: Connection | undefined;
    let waiting: (() => void) | undefined;
    let settled = false;
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => fail(new HttpTimeoutError(opts.timeoutMs!, target.origin, conn?.open ?? false)), Math.max(0, opts.timeoutMs))
        : undefined;
    const settle = () => {
      settled = true;
      if (timer) clearTimeout(timer);
      if (waiting) pool.cancelWait(waiting);
    };
    function fail(err: Error): void {
      if (settled) return;
      settle();
      // A socket with a reply half read (or none yet) can never carry another request.
      conn?.destroy();
      reject(err);
    }
    const exchange: Exchange = {
      onData(chunk) {
        let r: ParsedResponse | undefined;
        try {
          reader.push(chunk);
          r = reader.next();
        } catch (e) {
          return fail(e as Error);
        }
        if (r) done(r);
      },
      onEnd() {
        let r: ParsedResponse | undefined;
        try {
          r = reader.end();
        } catch (e) {
          return fail(e as Error);
        }
        if (r) done(r);
        else fail(hangUp(target.origin, reader.started));
      },
      onError: fail,
    };
    function done(r: ParsedResponse): void {
      if (settled) return;
      settle();
      conn!.release(r.keepAlive && reader.leftover === 0 ? r.keepAliveMs : null);
      resolve({ status: r.status, headers: r.headers, body: r.body });
    }
    const start = () => {
      waiting = undefined;
      if (settled) return;
      pool.acquire().then(
        (c) => {
          if (settled) return void c?.putBack();
          if (!c) {
            waiting = start;
            pool.wait(start);
            return;
          }
          let may: boolean;
          try {
            may = opts.mayStart?.() ?? true;
          } catch (e) {
            // Thrown in this callback it would be an unhandled rejection, the connection held for good.
            c.putBack();
            return fail(e as Error);
          }
          if (!may) {
            settle();
            c.putBack();
            return reject(new RequestNotSent(target.origin));
          }
          conn = c;
          c.send(message, exchange);
        },
        (e: Error) => fail(e),
      );
    };
    start();
  });
}

/** The request line and headers; a header that could split the message is refused, naming it. */
function requestHead(method: string, target: URL, headers: Record<string, string> | undefined, body: string | Uint8Array | undefined): string {
  if (!isToken(method)) throw new TypeError(`invalid HTTP method ${JSON.stringify(method)}`);
  let head = `${method} ${target.pathname}${target.search} HTTP/1.1\r\n`;
  let hasHost = false;
  let hasLength = false;
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!isToken(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    // What node:http accepts in a value: tab, visible ASCII and space, obs-text; never CR, LF or NUL.
    if (!isFieldValue(value)) throw new TypeError(`invalid value of header ${name}: a control or non-Latin-1 character`);
    const lower = name.toLowerCase();
    if (lower === 'host') hasHost = true;
    else if (lower === 'content-length') hasLength = true;
    else if (lower === 'connection' || lower === 'transfer-encoding') throw new TypeError(`header ${name} is set by the client itself`);
    head += `${name}: ${value}\r\n`;
  }
  if (!hasHost) head += `host: ${target.host}\r\n`;
  if (!hasLength && (body !== undefined || method === 'POST' || method === 'PUT' || method === 'PATCH')) head += `content-length: ${body === undefined ? 0 : Buffer.byteLength(body)}\r\n`;
  return `${head}connection: keep-alive\r\n\r\n`;
}

interface Exchange {
  onData(chunk: Buffer): void;
  /** The server closed its side. */
  onEnd(): void;
  onError(err: Error): void;
}

/** One socket: one exchange at a time, then back to its pool's idle list or closed. */
class Connection {
  private exchange: Exchange | undefined;
  private idleUntil = 0;
  /** The last request is wholly handed to the kernel (a server may reply before it has read it all). */
  private sent = true;
  /**
   * Connected, and past the TLS handshake: until then a request written here waits in the socket
   * (node holds it while connecting; TLS holds the plaintext until the handshake ends), so none of
   * it can have reached the server. Once open, some of it may have, whatever the write's callback says.
   */
  open = false;
  closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly pool: OriginPool,
    tls: boolean,
  ) {
    // Listeners added before any request is written: they run before node flushes what waits.
    socket.once(tls ? 'secureConnect' : 'connect', () => (this.open = true));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.exchange) this.exchange.onData(chunk);
      // Bytes nobody asked for: the socket's state is unknown, so it is never used again.
      else this.destroy();
    });
    socket.on('end', () => {
      this.exchange?.onEnd();
      this.destroy();
    });
    socket.on('error', (e: Error) => {
      this.exchange?.onError(e);
      this.destroy();
    });
    socket.on('close', () => {
      this.exchange?.onEnd();
      this.destroy();
    });
  }

  /** Usable for another request: open, and not idle for longer than the server keeps it. */
  get reusable(): boolean {
    return !this.closed && !this.socket.destroyed && Date.now() < this.idleUntil;
  }

  send(message: Buffer, exchange: Exchange): void {
    this.exchange = exchange;
    this.sent = false;
    this.socket.ref();
    this.socket.write(message, () => (this.sent = true));
  }

  /** The exchange is over: keep the socket for `keepMs` (the server's hint; undefined: ours), or close it (null). */
  release(keepMs: number | null | undefined): void {
    this.exchange = undefined;
    // A reply that came before the whole request was sent leaves the rest of it on the wire.
    if (keepMs === null || this.closed || !this.sent) return this.destroy();
    // A hint of N s is taken as N − 1: a request sent at the edge would cross the server's close.
    this.idleUntil = Date.now() + Math.min(IDLE_KEEP_MS, keepMs === undefined ? IDLE_KEEP_MS : keepMs - 1000);
    // An idle socket must not keep a process (a CLI, a test) from exiting.
    this.socket.unref();
    this.pool.idle(this);
  }

  /**
   * Back to the idle list with nothing sent on it (its request gave up or was not to start): the time
   * the last reply left it (the server's Keep-Alive hint) still holds; release would give it ours
   * anew, and a request sent past the server's close would be reset.
   */
  putBack(): void {
    // Never used yet (a new connection): its time starts now.
    if (this.idleUntil === 0 || this.closed) return this.release(undefined);
    this.socket.unref();
    this.pool.idle(this);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.exchange = undefined;
    this.socket.destroy();
    this.pool.closed(this);
  }
}

/** The sockets to one origin (scheme, host, port). */
class OriginPool {
  private readonly free: Connection[] = [];
  private readonly waiters: Array<() => void> = [];
  private open = 0;
  /** The last TLS session, offered to the next connection so it can skip a full handshake. */
  private session: Buffer | undefined;
  private warming: Promise<void> | undefined;

  constructor(
    private readonly tls: boolean,
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** An open connection: an idle one, else a new one; undefined when the origin is at its limit. */
  async acquire(): Promise<Connection | undefined> {
    // A connection preconnect() is opening is as good as an idle one.
    if (this.warming) await this.warming;
    for (let c = this.free.pop(); c; c = this.free.pop()) {
      if (c.reusable) return c;
      c.destroy();
    }
    if (this.open >= MAX_SOCKETS_PER_ORIGIN) return undefined;
    return this.connect();
  }

  /** Opens one connection into the idle list when none is idle or opening (preconnect). */
  warm(): void {
    // Idle connections past their time are closed here too, so repeated warming never piles them up.
    for (let i = this.free.length - 1; i >= 0; i -= 1) if (!this.free[i]!.reusable) this.free[i]!.destroy();
    if (this.warming || this.free.length > 0 || this.open >= MAX_SOCKETS_PER_ORIGIN) return;
    const warming = this.connect().then(
      (c) => c.release(undefined),
      () => undefined,
    );
    this.warming = warming;
    void warming.finally(() => {
      if (this.warming === warming) this.warming = undefined;
    });
  }

  private async connect(): Promise<Connection> {
    this.open += 1;
    try {
      // The socket's listeners go on in the same turn it is made, before it can emit anything.
      return new Connection(this.tls ? await this.connectTls() : netConnect({ host: this.host, port: this.port }), this, this.tls);
    } catch (e) {
      this.open -= 1;
      throw e;
    }
  }

  private async connectTls(): Promise<TLSSocket> {
    const socket = await connectTls(this.host, this.port, this.session ? { session: this.session } : {});
    socket.on('session', (s: Buffer) => (this.session = s));
    return socket;
  }

  wait(start: () => void): void {
    this.waiters.push(start);
  }

  cancelWait(start: () => void): void {
    const i = this.waiters.indexOf(start);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  idle(c: Connection): void {
    this.free.push(c);
    this.waiters.shift()?.();
  }

  closed(c: Connection): void {
    const i = this.free.indexOf(c);
    if (i >= 0) this.free.splice(i, 1);
    this.open -= 1;
    this.waiters.shift()?.();
  }
}

const pools = new Map<string, OriginPool>();

/**
 * Opens a connection to `url`'s origin ahead of its first request, unless one is idle there or
 * already opening, so the connect (DNS, TCP, TLS handshake) runs while the caller does other work.
 * It waits in the pool like any idle connection; a failure is left to the request that would use it.
 */
export function preconnect(url: string | URL): void {
  const target = typeof url === 'string' ? new URL(url) : url;
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`unsupported protocol ${target.protocol}`);
  poolFor(target).warm();
}

function poolFor(target: URL): OriginPool {
  const tls = target.protocol === 'https:';
  const key = `${target.protocol}//${target.host}`;
  let pool = pools.get(key);
  if (!pool) {
    // URL keeps an IPv6 literal in brackets; a socket wants it bare.
    const host = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
    pool = new OriginPool(tls, host, target.port ? Number(target.port) : tls ? 443 : 80);
    pools.set(key, pool);
  }
  return pool;
}
