/**
 * Reads one HTTP/1.1 response from a byte stream fed in chunks of any size: the status line, the
 * headers, and a body framed by Content-Length, by chunked transfer coding, or by the connection's
 * close. `next()` gives the response once it is whole (or `end()`, for a body read until close), and
 * `undefined` until then. A violation of the protocol or of a size bound throws HttpProtocolError.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { isDigit, isDigits, isHexDigit, isToken } from '../text/chars.ts';

export interface ParsedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Whether the connection may carry another request: HTTP/1.1, no `Connection: close`, framed body. */
  keepAlive: boolean;
  /** The server's `Keep-Alive: timeout=N` hint, in ms, when it gave one. */
  keepAliveMs: number | undefined;
}

export class HttpProtocolError extends Error {
  override readonly name = 'HttpProtocolError';
  readonly code = 'HPE_INVALID';
}

/**
 * A bound the reply broke (body or header size); the message says which. A body over its bound
 * comes with the status and headers already read: the reply was given, only not kept whole.
 */
export class HttpReplyTooLargeError extends HttpProtocolError {
  constructor(
    message: string,
    readonly status?: number,
    readonly headers?: IncomingHttpHeaders,
  ) {
    super(message);
  }
}

export interface ResponseReaderOptions {
  maxBodyBytes: number;
  /** Status line and headers together. */
  maxHeaderBytes?: number;
  /** A HEAD request: the reply has headers only, whatever they say of a body. */
  noBody?: boolean;
  /** Names the other side in errors (`reply from https://host`). */
  origin: string;
}

const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;
const CR = 0x0d;
const LF = 0x0a;

// Headers node keeps the first of when a reply repeats them (as http.IncomingMessage does); set-cookie
// is a list; any other repeated header is joined with ", ".
const SINGLE = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent']);

type Framing = { kind: 'length'; remaining: number } | { kind: 'chunked'; state: 'size' | 'data' | 'data-end' | 'trailer'; remaining: number } | { kind: 'close' } | { kind: 'none' };

export class ResponseReader {
  private buf: Buffer = Buffer.alloc(0);
  private head: { status: number; headers: IncomingHttpHeaders; keepAlive: boolean; keepAliveMs: number | undefined } | undefined;
  private framing: Framing | undefined;
  private readonly body: Buffer[] = [];
  private bodyBytes = 0;
  private done: ParsedResponse | undefined;
  private readonly maxHeaderBytes: number;

  constructor(private readonly o: ResponseReaderOptions) {
    this.maxHeaderBytes = o.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  }

  /** Bytes that came after a whole response (a server that says more than it was asked). */
  get leftover(): number {
    return this.done ? this.buf.length : 0;
  }

  /** Whether any byte of a reply has arrived: a connection lost before then never answered. */
  get started(): boolean {
    return this.head !== undefined || this.buf.length > 0;
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** The whole response once it has arrived, else undefined. */
  next(): ParsedResponse | undefined {
    if (this.done) return this.done;
    while (!this.head) {
      if (this.readHead() === 'incomplete') return undefined;
    }
    if (this.readBody()) this.finish(this.head.keepAlive && this.framing!.kind !== 'close');
    return this.done;
  }

  /** The connection closed: a body read until close is whole now; anything else was cut short. */
  end(): ParsedResponse | undefined {
    const r = this.next();
    if (r) return r;
    if (this.head && this.framing?.kind === 'close') {
      this.finish(false);
      return this.done;
    }
    return undefined;
  }

  private finish(keepAlive: boolean): void {
    const h = this.head!;
    this.done = { status: h.status, headers: h.headers, body: this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body), keepAlive, keepAliveMs: h.keepAliveMs };
  }

  private fail(what: string): never {
    throw new HttpProtocolError(`reply from ${this.o.origin}: ${what}`);
  }

  /** Reads one status line and its headers, once they have all arrived; an interim (1xx) reply is skipped. */
  private readHead(): 'incomplete' | 'interim' | 'final' {
    const end = this.buf.indexOf('\r\n\r\n', 0, 'latin1');
    if (end < 0) {
      if (this.buf.length > this.maxHeaderBytes) throw new HttpReplyTooLargeError(`reply from ${this.o.origin}: headers exceed ${this.maxHeaderBytes} bytes`);
      return 'incomplete';
    }
    if (end > this.maxHeaderBytes) throw new HttpReplyTooLargeError(`reply from ${this.o.origin}: headers exceed ${this.maxHeaderBytes} bytes`);
    const lines = this.buf.toString('latin1', 0, end).split('\r\n');
    this.buf = this.buf.subarray(end + 4);
    const statusLine = lines[0]!;
    const status = statusOf(statusLine);
    if (status === undefined) this.fail(`bad status line ${JSON.stringify(statusLine.slice(0, 60))}`);
    // Null-prototype maps, as node:http's: a header named `__proto__` or `constructor` is just a header.
    const headers: IncomingHttpHeaders = Object.create(null) as IncomingHttpHeaders;
    const raw: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
    for (let i = 1; i < lines.length; i += 1) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) this.fail(`bad header line ${JSON.stringify(line.slice(0, 60))}`);
      const name = line.slice(0, colon).toLowerCase();
      if (!isToken(name)) this.fail(`bad header name ${JSON.stringify(name.slice(0, 60))}`);
      const value = trimOws(line.slice(colon + 1));
      if (value.includes('\r') || value.includes('\n') || value.includes('\0')) this.fail(`bad value of header ${name}`);
      (raw[name] ??= []).push(value);
      if (name === 'set-cookie') (headers['set-cookie'] ??= []).push(value);
      else if (headers[name] === undefined) headers[name] = value;
      else if (!SINGLE.has(name)) headers[name] = `${headers[name] as string}, ${value}`;
    }
    // 1xx: an interim reply (100 Continue, 103 Early Hints); the real one follows. 101 would switch
    // protocols, which nothing here asks for.
    if (status >= 100 && status < 200) {
      if (status === 101) this.fail('101 Switching Protocols was not asked for');
      return 'interim';
    }
    const connection = listOf(raw['connection']);
    // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only when told to keep it.
    const keepAlive = statusLine.charCodeAt(7) === 0x31 ? !connection.includes('close') : connection.includes('keep-alive');
    let seconds = '';
    for (const param of listOf(raw['keep-alive'])) {
      const eq = param.indexOf('=');
      if (eq > 0 && trimOws(param.slice(0, eq)) === 'timeout') seconds = trimOws(param.slice(eq + 1));
    }
    this.head = { status, headers, keepAlive, keepAliveMs: isDigits(seconds) ? Number(seconds) * 1000 : undefined };
    this.framing = this.framingOf(status, raw);
    return 'final';
  }

  private framingOf(status: number, raw: Record<string, string[]>): Framing {
    if (this.o.noBody || status === 204 || status === 304) return { kind: 'none' };
    const te = raw['transfer-encoding'];
    if (te) {
      // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3); anything but a final chunked
      // coding runs until the connection closes.
      const codings = listOf(te);
      if (codings[codings.length - 1] === 'chunked') {
        this.head!.keepAlive &&= raw['content-length'] === undefined;
        return { kind: 'chunked', state: 'size', remaining: 0 };
      }
      return { kind: 'close' };
    }
    const cl = raw['content-length'];
    if (cl) {
      const values = new Set(listOf(cl));
      const [only] = values;
      if (values.size !== 1 || !isDigits(only!) || only!.length > 15) this.fail(`bad content-length ${JSON.stringify(cl.join(',').slice(0, 60))}`);
      const n = Number(only);
      if (n > this.o.maxBodyBytes) this.tooLarge();
      return { kind: 'length', remaining: n };
    }
    return { kind: 'close' };
  }

  private tooLarge(): never {
    throw new HttpReplyTooLargeError(`reply from ${this.o.origin} exceeds ${this.o.maxBodyBytes} bytes`, this.head?.status, this.head?.headers);
  }

  private take(n: number): void {
    this.bodyBytes += n;
    if (this.bodyBytes > this.o.maxBodyBytes) this.tooLarge();
    this.body.push(this.buf.subarray(0, n));
    this.buf = this.buf.subarray(n);
  }

  /** Consumes body bytes; true once the body is whole (never for a body read until close). */
  private readBody(): boolean {
    const f = this.framing!;
    switch (f.kind) {
      case 'none':
        return true;
      case 'close':
        if (this.buf.length > 0) this.take(this.buf.length);
        return false;
      case 'length': {
        const n = Math.min(f.remaining, this.buf.length);
        if (n > 0) this.take(n);
        f.remaining -= n;
        return f.remaining === 0;
      }
      case 'chunked':
        return this.readChunks(f);
    }
  }

  private readChunks(f: Extract<Framing, { kind: 'chunked' }>): boolean {
    for (;;) {
      if (f.state === 'size') {
        const eol = this.lineEnd();
        if (eol < 0) return false;
        const line = this.buf.toString('latin1', 0, eol);
        const size = chunkSizeOf(line);
        if (size === undefined) this.fail(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
        this.buf = this.buf.subarray(eol + 2);
        f.remaining = size;
        if (this.bodyBytes + f.remaining > this.o.maxBodyBytes) this.tooLarge();
        f.state = f.remaining === 0 ? 'trailer' : 'data';
      } else if (f.state === 'data') {
        const n = Math.min(f.remaining, this.buf.length);
        if (n > 0) this.take(n);
        f.remaining -= n;
        if (f.remaining > 0) return false;
        f.state = 'data-end';
      } else if (f.state === 'data-end') {
        if (this.buf.length < 2) return false;
        if (this.buf[0] !== CR || this.buf[1] !== LF) this.fail('chunk data not followed by CRLF');
        this.buf = this.buf.subarray(2);
        f.state = 'size';
      } else {
        // Trailer fields, ignored, up to the empty line that ends the message.
        const eol = this.lineEnd();
        if (eol < 0) return false;
        this.buf = this.buf.subarray(eol + 2);
        if (eol === 0) return true;
      }
    }
  }

  /** Index of the next CRLF, -1 until it has arrived; a line longer than the header bound throws. */
  private lineEnd(): number {
    const i = this.buf.indexOf('\r\n', 0, 'latin1');
    if (i < 0 && this.buf.length > this.maxHeaderBytes) this.fail(`a chunk line longer than ${this.maxHeaderBytes} bytes`);
    return i;
  }
}

// Parsers written with string operations: a regular expression costs its compilation at its first
// use in every fresh instance (see shared/text/chars.ts).

/** The status code of `HTTP/1.0 NNN reason` or `HTTP/1.1 NNN reason` (the reason may be empty). */
function statusOf(line: string): number | undefined {
  if (!line.startsWith('HTTP/1.') || (line[7] !== '0' && line[7] !== '1') || line[8] !== ' ') return undefined;
  for (let i = 9; i < 12; i += 1) if (!isDigit(line.charCodeAt(i))) return undefined;
  if (line.length > 12 && line[12] !== ' ') return undefined;
  return Number(line.slice(9, 12));
}

/** A chunk-size line: hex digits, then optional spaces or tabs, then an optional `;extension`. */
function chunkSizeOf(line: string): number | undefined {
  let i = 0;
  while (i < line.length && isHexDigit(line.charCodeAt(i))) i += 1;
  if (i === 0 || i > 12) return undefined;
  let j = i;
  while (line[j] === ' ' || line[j] === '\t') j += 1;
  if (j < line.length && line[j] !== ';') return undefined;
  return parseInt(line.slice(0, i), 16);
}

/** Leading and trailing spaces and tabs off (optional whitespace, as HTTP has it; not String#trim). */
function trimOws(v: string): string {
  let a = 0;
  let b = v.length;
  while (a < b && (v[a] === ' ' || v[a] === '\t')) a += 1;
  while (b > a && (v[b - 1] === ' ' || v[b - 1] === '\t')) b -= 1;
  return v.slice(a, b);
}

/** The items of a comma-separated header (all its lines), trimmed, lower-cased, empty ones dropped. */
function listOf(values: string[] | undefined): string[] {
  const out: string[] = [];
  for (const v of values ?? []) {
    for (const item of v.split(',')) {
      const t = trimOws(item).toLowerCase();
      if (t) out.push(t);
    }
  }
  return out;
}
