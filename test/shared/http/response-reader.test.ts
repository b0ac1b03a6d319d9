import { get, type IncomingHttpHeaders } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpProtocolError, HttpReplyTooLargeError, ResponseReader, type ParsedResponse } from '../../../shared/http/response-reader.ts';

const ORIGIN = 'http://cams.test';

/** Feeds `bytes` in the given chunk sizes (cycled); `end` then tells the reader the connection closed. */
function read(bytes: Buffer, sizes: number[] = [], opts: { maxBodyBytes?: number; noBody?: boolean; end?: boolean } = {}): { r: ParsedResponse | undefined; leftover: number; started: boolean } {
  const reader = new ResponseReader({ maxBodyBytes: opts.maxBodyBytes ?? 1 << 20, noBody: opts.noBody, origin: ORIGIN });
  let r: ParsedResponse | undefined;
  let at = 0;
  for (let i = 0; at < bytes.length && !r; i += 1) {
    const n = Math.max(1, sizes.length ? sizes[i % sizes.length]! : bytes.length);
    reader.push(bytes.subarray(at, at + n));
    at = Math.min(bytes.length, at + n);
    r = reader.next();
  }
  if (!r && opts.end) r = reader.end();
  return { r, leftover: reader.leftover + (bytes.length - at), started: reader.started };
}

const raw = (...lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');

describe('ResponseReader', () => {
  it('reads a Content-Length body, whole or a byte at a time, and keeps the connection', () => {
    const bytes = raw('HTTP/1.1 200 OK', 'Content-Type: application/json', 'X-Acs-Request-Id: 1F2E', 'Content-Length: 13', '', '{"Code":"OK"}');
    for (const sizes of [[], [1], [2], [5, 1, 30]]) {
      const { r } = read(bytes, sizes);
      expect(r).toMatchObject({ status: 200, keepAlive: true, headers: { 'content-type': 'application/json', 'x-acs-request-id': '1F2E', 'content-length': '13' } });
      expect(r!.body.toString()).toBe('{"Code":"OK"}');
    }
  });

  it('reads a chunked body with extensions and trailers; what follows it is counted as leftover', () => {
    const bytes = raw('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '5;name=x', 'hello', '1', ' ', 'A', 'chunk body', '0', 'X-Trailer: yes', '', 'HTTP/1.1 200');
    for (const sizes of [[], [1], [3]]) {
      const { r, leftover } = read(bytes, sizes);
      expect(r!.body.toString()).toBe('hello chunk body');
      expect(r!.keepAlive).toBe(true);
      expect(r!.headers['x-trailer']).toBeUndefined();
      expect(leftover).toBe('HTTP/1.1 200'.length);
    }
  });

  it('reads a body without length until the connection closes, and then does not keep it', () => {
    const bytes = raw('HTTP/1.1 200 OK', 'Content-Type: text/plain', '', 'all of it');
    expect(read(bytes, [4]).r).toBeUndefined();
    const { r } = read(bytes, [4], { end: true });
    expect(r).toMatchObject({ status: 200, keepAlive: false });
    expect(r!.body.toString()).toBe('all of it');
  });

  it('a reply cut short is not a reply: end() gives nothing, and started says whether any byte came', () => {
    expect(read(raw('HTTP/1.1 200 OK', 'Content-Length: 10', '', 'short'), [], { end: true }).r).toBeUndefined();
    expect(read(raw('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '5', 'hel'), [], { end: true }).r).toBeUndefined();
    expect(read(Buffer.from('HTTP/1.1 2'), [], { end: true })).toMatchObject({ r: undefined, started: true });
    expect(read(Buffer.alloc(0), [], { end: true })).toMatchObject({ r: undefined, started: false });
  });

  it('skips interim 1xx replies and reads the final one', () => {
    const { r } = read(raw('HTTP/1.1 100 Continue', '', 'HTTP/1.1 103 Early Hints', 'Link: </a>', '', 'HTTP/1.1 201 Created', 'Content-Length: 2', '', 'ok'), [7]);
    expect(r).toMatchObject({ status: 201, headers: { 'content-length': '2' } });
    expect(r!.headers['link']).toBeUndefined();
  });

  it('204, 304 and a reply to HEAD have no body, whatever their headers say', () => {
    for (const status of [204, 304]) expect(read(raw(`HTTP/1.1 ${status} X`, 'Content-Length: 5', '', '')).r).toMatchObject({ status, keepAlive: true });
    expect(read(raw('HTTP/1.1 200 OK', 'Content-Length: 5', '', ''), [], { noBody: true }).r!.body.length).toBe(0);
  });

  it('Connection: close, HTTP/1.0 and Transfer-Encoding with Content-Length end the connection; Keep-Alive: timeout is read', () => {
    expect(read(raw('HTTP/1.1 200 OK', 'Connection: Close', 'Content-Length: 0', '', '')).r!.keepAlive).toBe(false);
    expect(read(raw('HTTP/1.1 200 OK', 'Connection: upgrade, close', 'Content-Length: 0', '', '')).r!.keepAlive).toBe(false);
    expect(read(raw('HTTP/1.0 200 OK', 'Content-Length: 0', '', '')).r!.keepAlive).toBe(false);
    expect(read(raw('HTTP/1.0 200 OK', 'Connection: keep-alive', 'Content-Length: 0', '', '')).r!.keepAlive).toBe(true);
    expect(read(raw('HTTP/1.1 200 OK', 'Content-Length: 3', 'Transfer-Encoding: chunked', '', '0', '', '')).r).toMatchObject({ keepAlive: false, body: Buffer.alloc(0) });
    expect(read(raw('HTTP/1.1 200 OK', 'Keep-Alive: timeout=5, max=100', 'Content-Length: 0', '', '')).r!.keepAliveMs).toBe(5000);
    expect(read(raw('HTTP/1.1 200 OK', 'Keep-Alive: max=100,Timeout = 7', 'Content-Length: 0', '', '')).r!.keepAliveMs).toBe(7000);
    expect(read(raw('HTTP/1.1 200 OK', 'Keep-Alive: timeout=soon', 'Content-Length: 0', '', '')).r!.keepAliveMs).toBeUndefined();
    expect(read(raw('HTTP/1.1 200 OK', 'Content-Length: 0', '', '')).r!.keepAliveMs).toBeUndefined();
  });

  it('repeated headers as node:http gives them: set-cookie a list, single ones the first, others joined', () => {
    const { r } = read(raw('HTTP/1.1 200 OK', 'Set-Cookie: a=1', 'set-cookie: b=2', 'Content-Type: text/plain', 'Content-Type: text/html', 'Vary: a', 'Vary: b', 'Content-Length: 0', '', ''));
    expect(r!.headers).toMatchObject({ 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain', vary: 'a, b' });
  });

  it('a header named like an Object property (__proto__, constructor) is a header like any other', () => {
    const { r } = read(raw('HTTP/1.1 200 OK', '__proto__: x', 'Constructor: y', 'toString: z', 'Content-Length: 2', '', 'ok'));
    expect(r!.status).toBe(200);
    expect(r!.body.toString()).toBe('ok');
    expect(Object.getOwnPropertyDescriptor(r!.headers, '__proto__')?.value).toBe('x');
    expect(r!.headers['constructor']).toBe('y');
    expect(r!.headers['tostring']).toBe('z');
  });

  it('refuses what is not HTTP/1.1, naming the origin and what is wrong', () => {
    const bad: Array<[Buffer, RegExp]> = [
      [raw('HTTP/2 200', '', ''), /bad status line "HTTP\/2 200"/],
      [raw('HTTP/1.1 20x OK', '', ''), /bad status line/],
      [raw('HTTP/1.1 2000', '', ''), /bad status line/],
      [raw('HTTP/1.2 200 OK', '', ''), /bad status line/],
      [raw('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '1000000000000', ''), /bad chunk size/],
      [raw('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '5 x', ''), /bad chunk size/],
      [raw('SSH-2.0-OpenSSH', '', ''), /bad status line/],
      [raw('HTTP/1.1 200 OK', 'no colon here', '', ''), /bad header line "no colon here"/],
      [raw('HTTP/1.1 200 OK', 'Bad Name: x', '', ''), /bad header name "bad name"/],
      [raw('HTTP/1.1 200 OK', 'Content-Length: 1, 2', '', 'x'), /bad content-length "1, 2"/],
      [raw('HTTP/1.1 200 OK', 'Content-Length: -1', '', ''), /bad content-length/],
      [raw('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', 'zz', ''), /bad chunk size "zz"/],
      [raw('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '2', 'abc', ''), /chunk data not followed by CRLF/],
      [raw('HTTP/1.1 101 Switching Protocols', '', ''), /101 Switching Protocols was not asked for/],
    ];
    for (const [bytes, message] of bad) {
      const attempt = () => read(bytes, [], { end: true });
      expect(attempt).toThrow(HttpProtocolError);
      expect(attempt).toThrow(message);
      expect(attempt).toThrow(/^reply from http:\/\/cams\.test/);
    }
    // A status line without a reason is one; so is a chunk size with spaces before its extension.
    expect(read(raw('HTTP/1.1 204', '', '')).r!.status).toBe(204);
    expect(read(raw('HTTP/1.1 200 OK', 'Transfer-Encoding: chunked', '', '2 \t;ext', 'ok', '0', '', '')).r!.body.toString()).toBe('ok');
    // The same Content-Length twice is one length.
    expect(read(raw('HTTP/1.1 200 OK', 'Content-Length: 2', 'Content-Length: 2', '', 'ok')).r!.body.toString()).toBe('ok');
  });

  it('stops at the bounds: a body over maxBodyBytes (any framing) and headers over 64 KB', () => {
    const big = (framing: string[], body: string[]) => () => read(raw('HTTP/1.1 200 OK', ...framing, '', ...body), [3], { maxBodyBytes: 8, end: true });
    expect(big(['Content-Length: 9'], ['123456789'])).toThrow(HttpReplyTooLargeError);
    expect(big(['Content-Length: 9'], ['123456789'])).toThrow(/exceeds 8 bytes/);
    expect(big(['Transfer-Encoding: chunked'], ['5', '12345', '4', '1234', '0', '', ''])).toThrow(/exceeds 8 bytes/);
    expect(big([], ['123456789'])).toThrow(/exceeds 8 bytes/);
    expect(read(raw('HTTP/1.1 200 OK', 'Content-Length: 8', '', '12345678'), [], { maxBodyBytes: 8 }).r!.body.length).toBe(8);
    expect(() => read(raw('HTTP/1.1 200 OK', `X-Big: ${'a'.repeat(70_000)}`, '', ''), [4096])).toThrow(/headers exceed 65536 bytes/);
  });
});

// A reply as a server could frame it; the reader must give back its status, headers and body.
interface Shape {
  status: number;
  headers: Array<[string, string]>;
  body: Buffer;
  framing: 'length' | 'chunked' | 'close';
  chunks: number[];
}

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/).filter((n) => !['content-length', 'transfer-encoding', 'connection', 'set-cookie', 'keep-alive'].includes(n));
const shapeArb: fc.Arbitrary<Shape> = fc.record({
  status: fc.constantFrom(200, 201, 400, 403, 404, 429, 500, 503),
  headers: fc.uniqueArray(fc.tuple(token, fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/)), { selector: ([n]) => n, maxLength: 5 }),
  body: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  framing: fc.constantFrom('length' as const, 'chunked' as const, 'close' as const),
  chunks: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 }),
});

function serialize(s: Shape): Buffer {
  const lines = [`HTTP/1.1 ${s.status} Whatever`, ...s.headers.map(([n, v]) => `${n}: ${v}`)];
  if (s.framing === 'length') lines.push(`Content-Length: ${s.body.length}`);
  if (s.framing === 'chunked') lines.push('Transfer-Encoding: chunked');
  if (s.framing === 'close') lines.push('Connection: close');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  if (s.framing !== 'chunked') return Buffer.concat([head, s.body]);
  const parts: Buffer[] = [head];
  for (let at = 0, i = 0; at < s.body.length; i += 1) {
    const n = Math.min(s.chunks[i % s.chunks.length]!, s.body.length - at);
    parts.push(Buffer.from(`${n.toString(16)}\r\n`), s.body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('ResponseReader against what a server frames', () => {
  it('any reply, framed any way and split anywhere, reads back as it was', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }), (s, sizes) => {
        const { r, leftover } = read(serialize(s), sizes, { end: true });
        expect(r!.status).toBe(s.status);
        expect(r!.body.equals(s.body)).toBe(true);
        for (const [n, v] of s.headers) expect(r!.headers[n]).toBe(v);
        expect(r!.keepAlive).toBe(s.framing !== 'close');
        expect(leftover).toBe(0);
      }),
      { numRuns: 400 },
    );
  });

  // The same bytes, read by node:http's own parser (llhttp) from a raw TCP server: both must agree.
  let server: Server;
  let port = 0;
  let next: Buffer = Buffer.alloc(0);
  beforeAll(async () => {
    server = createServer((sock) => {
      sock.once('data', () => sock.end(next));
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  function viaNode(bytes: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    next = bytes;
    return new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      }).on('error', reject);
    });
  }

  it('agrees with node:http on status, headers and body (60 replies, repeated headers among them)', async () => {
    const samples = fc.sample(
      fc.tuple(
        shapeArb,
        // repeated headers, and values with what node trims (spaces, tabs) and what it keeps (Latin-1, NBSP)
        fc.array(fc.tuple(fc.constantFrom('vary', 'content-type', 'set-cookie', 'x-acs-request-id', 'retry-after', 'x-note'), fc.stringMatching(/^[ \t]?[a-z0-9=;\xa0\xe9]{1,12}[ \t\xa0]?$/)), { maxLength: 4 }),
      ),
      { numRuns: 60, seed: 11 },
    );
    for (const [shape, repeats] of samples) {
      const s = { ...shape, headers: [...shape.headers, ...repeats] };
      const bytes = serialize(s);
      const theirs = await viaNode(bytes);
      const { r } = read(bytes, [7], { end: true });
      expect(r!.status).toBe(theirs.status);
      expect(r!.body.equals(theirs.body)).toBe(true);
      expect(r!.headers).toEqual(theirs.headers);
    }
  });
});
