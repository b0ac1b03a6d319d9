/**
 * One connection to a redis server speaking RESP2: commands are pipelined on one socket and their
 * replies come back in order. This is all the redis store needs (GET, SET, DEL, SCAN, MGET, EVAL,
 * EVALSHA, AUTH, SELECT, PING, QUIT, INFO), in place of ioredis: in a fresh process ioredis took 30-45 ms
 * of CPU to load and 12-18 ms more for its first command, on every HTTP function's first request
 * with `STORE_URL=redis://`; with this module the store's whole part of that request (connect,
 * the caller's nonce, a CAMS budget slot) is 2-4 ms (`npm run bench -- function-cold-start`, the
 * "on redis" rows).
 *
 * A connection is ready only once the server has answered (AUTH / SELECT / PING), so a server that
 * accepts connections but never answers fails within the connect timeout. It never reconnects and
 * never queues a command while not ready: a lost connection fails its pending commands, and the
 * owner opens a new one for the next.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { connectTls } from '../net/tls.ts';

/** An error reply from the server (`-ERR ...`, `-NOSCRIPT ...`, `-WRONGPASS ...`). */
export class ReplyError extends Error {
  override readonly name = 'ReplyError';
}

export type Reply = string | number | null | ReplyError | Reply[];

export interface RedisConnectionOptions {
  host: string;
  port: number;
  /** Connect over TLS (rediss://) with these options; servername defaults to a host name. */
  tls?: ConnectionOptions;
  username?: string;
  password?: string;
  /** SELECT this database after connecting (0: none sent). */
  db?: number;
  /** TCP (and TLS) connect plus the first answer within this long. */
  connectTimeoutMs: number;
  /** A command fails, and the connection with it, when its reply takes longer. */
  commandTimeoutMs: number;
}

interface Pending {
  resolve(r: Reply): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

const CRLF = 0x0d;

/** A RESP2 command: an array of bulk strings. */
export function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

/**
 * Reads RESP2 replies from a byte stream fed in chunks of any size. `next()` returns one complete
 * reply, or `undefined` until enough bytes have arrived. A protocol violation throws.
 */
export class ReplyReader {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  push(chunk: Buffer): void {
    this.buf = this.pos >= this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
  }

  next(): Reply | undefined {
    const start = this.pos;
    const r = this.read();
    if (r === INCOMPLETE) {
      this.pos = start;
      return undefined;
    }
    return r;
  }

  private line(): string | typeof INCOMPLETE {
    const end = this.buf.indexOf(CRLF, this.pos);
    if (end < 0 || end + 1 >= this.buf.length) return INCOMPLETE;
    if (this.buf[end + 1] !== 0x0a) throw new Error('redis protocol error: CR without LF');
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 2;
    return s;
  }

  private int(s: string): number {
    const n = Number(s);
    if (s === '' || !Number.isSafeInteger(n)) throw new Error(`redis protocol error: bad length or integer ${JSON.stringify(s.slice(0, 40))}`);
    return n;
  }

  private read(): Reply | typeof INCOMPLETE {
    if (this.pos >= this.buf.length) return INCOMPLETE;
    const type = this.buf[this.pos++];
    const l = this.line();
    if (l === INCOMPLETE) return INCOMPLETE;
    switch (type) {
      case 0x2b: // +
        return l;
      case 0x2d: // -
        return new ReplyError(l);
      case 0x3a: // :
        return this.int(l);
      case 0x24: {
        // $
        const len = this.int(l);
        if (len < 0) return null;
        if (this.pos + len + 2 > this.buf.length) return INCOMPLETE;
        const s = this.buf.toString('utf8', this.pos, this.pos + len);
        if (this.buf[this.pos + len] !== CRLF || this.buf[this.pos + len + 1] !== 0x0a) throw new Error('redis protocol error: bulk string without CRLF');
        this.pos += len + 2;
        return s;
      }
      case 0x2a: {
        // *
        const n = this.int(l);
        if (n < 0) return null;
        const out: Reply[] = [];
        for (let i = 0; i < n; i += 1) {
          const item = this.read();
          if (item === INCOMPLETE) return INCOMPLETE;
          out.push(item);
        }
        return out;
      }
      default:
        throw new Error(`redis protocol error: unexpected reply type ${JSON.stringify(String.fromCharCode(type ?? 0))}`);
    }
  }
}

const INCOMPLETE = Symbol('incomplete');

export class RedisConnection {
  private readonly reader = new ReplyReader();
  private readonly pending: Pending[] = [];
  private closedWith: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    // The connect bound while the handshake runs, then the command bound.
    private commandTimeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e: Error) => this.destroy(e));
    // The server's end of the connection (a restart, a failover, CLIENT KILL, its idle `timeout`):
    // closed at once, not at 'close' a few turns later. A process frozen between invocations (FC)
    // reads the end first thing after the thaw, and its next command then connects again instead of
    // being written to the dead socket (which fails it, with redis up).
    socket.on('end', () => this.destroy(new Error('Connection is closed by the server.')));
    socket.on('close', () => this.destroy(new Error('Connection is closed.')));
  }

  /** Connect, authenticate, select the database and hear from the server, within connectTimeoutMs. */
  static async open(o: RedisConnectionOptions): Promise<RedisConnection> {
    const socket = o.tls ? await connectTls(o.host, o.port, o.tls) : netConnect({ host: o.host, port: o.port });
    socket.setNoDelay(true);
    const conn = new RedisConnection(socket, o.connectTimeoutMs);
    const timer = setTimeout(() => conn.destroy(new Error(`no connection within ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
    try {
      // Written at once: node buffers them until the socket connects. Each answers in turn.
      const steps: Array<Promise<Reply>> = [];
      if (o.password !== undefined) steps.push(conn.command(o.username ? ['AUTH', o.username, o.password] : ['AUTH', o.password]));
      if (o.db) steps.push(conn.command(['SELECT', String(o.db)]));
      steps.push(conn.command(['PING']));
      // Every step is awaited, so none is left rejected and unheard when an earlier one fails.
      const settled = await Promise.allSettled(steps);
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
    } catch (e) {
      conn.destroy(e as Error);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    conn.commandTimeoutMs = o.commandTimeoutMs;
    return conn;
  }

  /** False once the connection failed or was closed; it is never usable again. */
  get isOpen(): boolean {
    return this.closedWith === undefined;
  }

  /** Send one command. An error reply rejects with ReplyError; a lost connection with its cause. */
  command(args: readonly string[]): Promise<Reply> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<Reply>((resolve, reject) => {
      const ms = this.commandTimeoutMs;
      const timer = setTimeout(() => this.destroy(new Error(`Command timed out after ${ms} ms`)), ms);
      this.pending.push({ resolve, reject, timer });
      this.socket.write(encodeCommand(args));
    });
  }

  /** QUIT and wait for the server to close, at most `ms`; then the socket is destroyed regardless. */
  async quit(ms = 1000): Promise<void> {
    if (this.closedWith) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    const bound = new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
    this.command(['QUIT']).catch(() => undefined);
    await Promise.race([closed, bound]);
    this.destroy(new Error('Connection is closed.'));
  }

  /** Fail every pending command with `err` and drop the socket. */
  destroy(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    this.socket.destroy();
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    for (;;) {
      let reply: Reply | undefined;
      try {
        reply = this.reader.next();
      } catch (e) {
        this.destroy(e as Error);
        return;
      }
      if (reply === undefined) return;
      const p = this.pending.shift();
      if (!p) {
        this.destroy(new Error('redis protocol error: a reply nobody asked for'));
        return;
      }
      clearTimeout(p.timer);
      if (reply instanceof ReplyError) p.reject(reply);
      else p.resolve(reply);
    }
  }
}
