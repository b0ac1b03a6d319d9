import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { httpRequest, HttpTimeoutError, IDLE_KEEP_MS, MAX_SOCKETS_PER_ORIGIN, preconnect, RequestNotSent } from '../../../shared/http/request.ts';
import { REPO, run, TSX } from '../../serverless/support.ts';
import { findOnPath } from '../store/redis-server.ts';
import { failInCIWithout } from '../../support/ci.ts';
import { until } from '../../support/until.ts';
import { makeTlsCert, type TlsCert } from '../../support/tls-front.ts';

let server: http.Server;
let base: string;
/** TCP connections the server has accepted. */
let connections = 0;
/** Requests the server has received. */
let requests = 0;
/** Replies held back by /hold until released. */
const held: Array<() => void> = [];
let holding = 0;
let peakHolding = 0;
let holdRequests = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests += 1;
    if (req.url?.startsWith('/slow')) return void setTimeout(() => res.end('late'), 500);
    if (req.url === '/big') return void res.end(Buffer.alloc(2048, 1));
    if (req.url === '/close') return void res.setHeader('connection', 'close').end('bye');
    if (req.url === '/hint') return void res.setHeader('keep-alive', 'timeout=2').end('hint');
    if (req.url === '/chunked') {
      res.write('one,');
      return void setImmediate(() => res.end('two'));
    }
    if (req.url === '/hang-up') return void req.socket.destroy();
    if (req.url === '/hold') {
      holdRequests += 1;
      holding += 1;
      peakHolding = Math.max(peakHolding, holding);
      return void held.push(() => {
        holding -= 1;
        res.end('held');
      });
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, len: req.headers['content-length'], body: Buffer.concat(chunks).toString() })));
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});
afterEach(() => vi.useRealTimers());


describe('httpRequest', () => {
  it('sends the body with its length and the Host, and returns status, headers and body', async () => {
    const res = await httpRequest(`${base}/echo?a=1&b=%20`, { method: 'POST', body: 'héllo' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBeUndefined();
    expect(JSON.parse(res.body.toString())).toEqual({ method: 'POST', url: '/echo?a=1&b=%20', host: base.slice('http://'.length), len: '6', body: 'héllo' });
    const empty = await httpRequest(`${base}/echo`, { method: 'POST' });
    expect(JSON.parse(empty.body.toString())).toMatchObject({ len: '0', body: '' });
  });

  it('times out with HttpTimeoutError, naming the origin and not the path or query (they may hold a token)', async () => {
    const err = await httpRequest(`${base}/slow?access_token=s3cr3t`, { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpTimeoutError);
    expect((err as Error).message).toBe(`no reply from ${base} within 50 ms`);
    // The server read the request: it may have acted on it.
    expect(err).toMatchObject({ requestSent: true });
  });

  it('a timeout while the TLS handshake is unfinished (a server that accepts TCP and never answers) says the request was not sent', async () => {
    const received: Buffer[] = [];
    const silent = createNetServer((socket) => socket.on('data', (c: Buffer) => received.push(c)));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const origin = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const err = await httpRequest(`${origin}/`, { method: 'POST', body: 'ACTION-BODY', timeoutMs: 150 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpTimeoutError);
      expect(err).toMatchObject({ requestSent: false, code: 'ETIMEDOUT', message: `no connection to ${origin} within 150 ms: the request was not sent` });
      // Only the ClientHello reached it (a TLS handshake record), none of the request.
      const bytes = Buffer.concat(received);
      expect(bytes[0]).toBe(0x16);
      expect(bytes.includes('ACTION-BODY')).toBe(false);
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('a timeout on a server that read the request and never answers, on a new connection or a reused keep-alive one, may have been acted on', async () => {
    let read = '';
    const mute = createNetServer((socket) => socket.on('data', (c: Buffer) => (read += c.toString())));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    try {
      const origin = `http://127.0.0.1:${(mute.address() as AddressInfo).port}`;
      await expect(httpRequest(`${origin}/`, { method: 'POST', body: 'ACTION-BODY', timeoutMs: 150 })).rejects.toMatchObject({ name: 'HttpTimeoutError', requestSent: true });
      expect(read).toContain('ACTION-BODY');
    } finally {
      await new Promise<void>((r) => mute.close(() => r()));
    }
    // A connection left idle by an earlier exchange, taken again.
    await httpRequest(`${base}/echo`);
    const before = connections;
    await expect(httpRequest(`${base}/slow`, { timeoutMs: 50 })).rejects.toMatchObject({ requestSent: true });
    expect(connections).toBe(before);
  });

  it('refuses a reply over maxBodyBytes', async () => {
    await expect(httpRequest(`${base}/big`, { maxBodyBytes: 1024 })).rejects.toThrow(/exceeds 1024 bytes/);
  });

  it('reads a chunked reply', async () => {
    expect((await httpRequest(`${base}/chunked`)).body.toString()).toBe('one,two');
  });

  it('loads https on demand (a closed port gives the network error, not a loader error)', async () => {
    const closed = `https://127.0.0.1:${(server.address() as AddressInfo).port + 1}/`;
    await expect(httpRequest(closed, { timeoutMs: 2000 })).rejects.toMatchObject({ code: expect.stringMatching(/ECONNREFUSED|EPROTO|ECONNRESET/) });
  });

  it('rejects other protocols', async () => {
    await expect(httpRequest('ftp://127.0.0.1/')).rejects.toThrow(/unsupported protocol/);
  });

  it('refuses a header that could split the request, naming it, before connecting', async () => {
    const before = connections;
    await expect(httpRequest(`${base}/echo`, { headers: { 'x-acs-action': 'Bind\r\nX-Evil: 1' } })).rejects.toThrow(/invalid value of header x-acs-action/);
    await expect(httpRequest(`${base}/echo`, { headers: { 'bad name': 'x' } })).rejects.toThrow(/invalid header name "bad name"/);
    await expect(httpRequest(`${base}/echo`, { headers: { 'x-name': '名' } })).rejects.toThrow(/invalid value of header x-name/);
    await expect(httpRequest(`${base}/echo`, { method: 'GET /x HTTP/1.1\r\n' })).rejects.toThrow(/invalid HTTP method/);
    expect(connections).toBe(before);
  });

  it('a server that drops the connection before replying is ECONNRESET, naming the origin', async () => {
    await expect(httpRequest(`${base}/hang-up`)).rejects.toMatchObject({ code: 'ECONNRESET', message: `${base} closed the connection before replying` });
    // and the pool is not left holding the dead socket
    expect((await httpRequest(`${base}/echo`)).status).toBe(200);
  });
});

describe('httpRequest keeps connections', () => {
  it('sends one request after another on one connection', async () => {
    await httpRequest(`${base}/echo`);
    const before = connections;
    for (let i = 0; i < 5; i += 1) expect((await httpRequest(`${base}/echo`, { method: 'POST', body: String(i) })).status).toBe(200);
    expect(connections).toBe(before);
  });

  it('sends nothing when mayStart says no once the request has its socket (RequestNotSent), and leaves the connection to the next request', async () => {
    await httpRequest(`${base}/echo`);
    const [connectionsBefore, requestsBefore] = [connections, requests];
    let asked = 0;
    const err = await httpRequest(`${base}/echo`, { method: 'POST', body: 'late', mayStart: () => (asked++, false) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestNotSent);
    expect(err).toMatchObject({ code: 'ENOTSENT', message: `the request to ${base} was not sent: its time to start had passed` });
    expect(asked).toBe(1);
    expect((await httpRequest(`${base}/echo`, { mayStart: () => true })).status).toBe(200);
    expect([connections - connectionsBefore, requests - requestsBefore]).toEqual([0, 1]);
  });

  it('a mayStart that throws fails its request with that error, sends nothing, and leaves the connection to the next request', async () => {
    await httpRequest(`${base}/echo`);
    const [connectionsBefore, requestsBefore] = [connections, requests];
    const thrown = new Error('no clock');
    const err = await httpRequest(`${base}/echo`, {
      timeoutMs: 1000,
      mayStart: () => {
        throw thrown;
      },
    }).catch((e: unknown) => e);
    expect(err).toBe(thrown);
    expect((await httpRequest(`${base}/echo`)).status).toBe(200);
    expect([connections - connectionsBefore, requests - requestsBefore]).toEqual([0, 1]);
  });

  it("a request that sends nothing (mayStart said no) leaves its connection's Keep-Alive window as the last reply set it", async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    vi.setSystemTime(Date.now() + IDLE_KEEP_MS + 1); // every idle connection past its time
    await httpRequest(`${base}/hint`); // timeout=2: kept 1 s
    const before = connections;
    vi.setSystemTime(Date.now() + 900);
    await expect(httpRequest(`${base}/echo`, { mayStart: () => false })).rejects.toBeInstanceOf(RequestNotSent);
    vi.setSystemTime(Date.now() + 200);
    expect((await httpRequest(`${base}/echo`)).status).toBe(200);
    expect(connections).toBe(before + 1);
  });

  it('opens a new connection after a reply that says Connection: close', async () => {
    await httpRequest(`${base}/echo`);
    const before = connections;
    expect((await httpRequest(`${base}/close`)).body.toString()).toBe('bye');
    expect((await httpRequest(`${base}/echo`)).status).toBe(200);
    expect(connections).toBe(before + 1);
  });

  it(`does not reuse a connection idle for longer than ${IDLE_KEEP_MS} ms, nor past the server's Keep-Alive hint less 1 s (as after FC thaws an instance)`, async () => {
    await httpRequest(`${base}/echo`);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    let before = connections;
    vi.setSystemTime(Date.now() + IDLE_KEEP_MS - 100);
    await httpRequest(`${base}/echo`);
    expect(connections).toBe(before);
    vi.setSystemTime(Date.now() + IDLE_KEEP_MS + 1);
    await httpRequest(`${base}/echo`);
    expect(connections).toBe(before + 1);

    await httpRequest(`${base}/hint`); // timeout=2: kept 1 s
    before = connections;
    vi.setSystemTime(Date.now() + 900);
    await httpRequest(`${base}/hint`);
    expect(connections).toBe(before);
    vi.setSystemTime(Date.now() + 1100);
    await httpRequest(`${base}/echo`);
    expect(connections).toBe(before + 1);
  });

  it(`opens at most ${MAX_SOCKETS_PER_ORIGIN} connections to one origin; the rest wait their turn, and one that times out waiting leaves the queue`, async () => {
    peakHolding = 0;
    holdRequests = 0;
    let answered = 0;
    const hold = () => httpRequest(`${base}/hold`).finally(() => (answered += 1));
    const all = Array.from({ length: MAX_SOCKETS_PER_ORIGIN }, hold);
    await until(() => holding === MAX_SOCKETS_PER_ORIGIN);
    // Still waiting for a socket: nothing of it was sent.
    await expect(httpRequest(`${base}/hold`, { timeoutMs: 30 })).rejects.toMatchObject({ name: 'HttpTimeoutError', requestSent: false });
    // One connection frees: it goes to the one live waiter, not to the one that gave up.
    const live = httpRequest(`${base}/echo`, { timeoutMs: 5000 });
    held.shift()!();
    expect((await live).status).toBe(200);
    all.push(...Array.from({ length: 16 }, hold));
    while (answered < all.length) {
      held.splice(0).forEach((release) => release());
      await new Promise((r) => setImmediate(r));
    }
    const replies = await Promise.all(all);
    expect(replies.map((r) => r.body.toString())).toEqual(Array(all.length).fill('held'));
    expect(peakHolding).toBe(MAX_SOCKETS_PER_ORIGIN);
    // the request that timed out while waiting never reached the server
    expect(holdRequests).toBe(all.length);
  });
});

describe('preconnect', () => {
  /** An HTTP server of its own (a new origin, so a new pool), counting the connections it accepts. */
  async function ownServer(): Promise<{ url: string; accepted: () => number; ended: () => number; close: () => Promise<void> }> {
    let accepted = 0;
    let ended = 0;
    const s = http.createServer((req, res) => res.end(req.url));
    s.on('connection', (socket: Socket) => {
      accepted += 1;
      socket.on('close', () => (ended += 1));
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
      accepted: () => accepted,
      ended: () => ended,
      close: () => {
        s.closeAllConnections();
        return new Promise<void>((r) => s.close(() => r()));
      },
    };
  }

  /** Every TCP socket this process opens (net.connect publishes each, synchronously) while `fn` runs. */
  async function socketsOpenedBy(fn: () => Promise<void>): Promise<number> {
    let opened = 0;
    const count = () => (opened += 1);
    subscribe('net.client.socket', count);
    try {
      await fn();
    } finally {
      unsubscribe('net.client.socket', count);
    }
    return opened;
  }

  it('opens the connection before any request, and the first request goes out on it; no second while one is opening or idle', async () => {
    const srv = await ownServer();
    try {
      const opened = await socketsOpenedBy(async () => {
        preconnect(srv.url);
        preconnect(srv.url); // still opening
        await until(() => srv.accepted() === 1);
        preconnect(`${srv.url}/other/path`); // one is idle: the origin is what counts
        expect((await httpRequest(`${srv.url}/first`)).body.toString()).toBe('/first');
        expect((await httpRequest(`${srv.url}/second`)).body.toString()).toBe('/second');
      });
      expect(opened).toBe(1);
      expect(srv.accepted()).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it(`closes an idle connection past its ${IDLE_KEEP_MS} ms before opening another, so warming never piles them up`, async () => {
    const srv = await ownServer();
    try {
      preconnect(srv.url);
      await until(() => srv.accepted() === 1);
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
      vi.setSystemTime(Date.now() + IDLE_KEEP_MS + 1);
      preconnect(srv.url);
      await until(() => srv.accepted() === 2 && srv.ended() === 1);
      vi.useRealTimers();
      expect((await httpRequest(`${srv.url}/x`)).body.toString()).toBe('/x');
      expect([srv.accepted(), srv.ended()]).toEqual([2, 1]);
    } finally {
      await srv.close();
    }
  });

  it('a request made while the preconnect is still opening waits for that connection instead of opening its own', async () => {
    const srv = await ownServer();
    try {
      const opened = await socketsOpenedBy(async () => {
        preconnect(srv.url);
        expect((await httpRequest(`${srv.url}/at-once`)).body.toString()).toBe('/at-once');
      });
      expect(opened).toBe(1);
      expect(srv.accepted()).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it("a preconnect that fails is left to the request: nothing unhandled, and the request reports the socket's own error", async () => {
    const srv = await ownServer();
    await srv.close(); // nothing listens on its port now
    const opened = await socketsOpenedBy(async () => {
      preconnect(srv.url);
      await expect(httpRequest(`${srv.url}/x`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });
    // the request went out on the preconnected socket and got its refusal: no second attempt hidden here
    // (retrying is the caller's decision: CAMS's retry loop, the alert deliverer)
    expect(opened).toBe(1);
  });

  it('refuses what is not http(s), as a request does', () => {
    expect(() => preconnect('ftp://127.0.0.1/')).toThrow(/unsupported protocol ftp:/);
  });

  it('does not keep a process alive: the preconnected socket waits unreferenced, like an idle one', async () => {
    const srv = await ownServer();
    const dir = mkdtempSync(join(tmpdir(), 'cams-fc-preconnect-'));
    try {
      const file = join(dir, 'preconnect-exit.mts');
      writeFileSync(
        file,
        [
          "import { subscribe } from 'node:diagnostics_channel';",
          `const { preconnect } = await import(${JSON.stringify(`${REPO}/shared/http/request.ts`)});`,
          'let socket;',
          "subscribe('net.client.socket', (m) => (socket = m.socket));",
          `preconnect(${JSON.stringify(srv.url)});`,
          // connected, then nothing is left to do: the process must end by itself
          "await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));",
          "process.stdout.write('CONNECTED\\n');",
        ].join('\n'),
      );
      const child = await run(TSX, [file], { cwd: REPO, env: { PATH: process.env.PATH ?? '' } });
      expect(child.output).toContain('CONNECTED');
      expect(child.code).toBe(0);
      expect(srv.accepted()).toBe(1);
    } finally {
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('httpRequest against raw servers', () => {
  let raw: NetServer;
  let rawBase: string;
  let reply: (sock: Socket, request: string) => void;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    raw = createNetServer((sock) => {
      sockets.add(sock);
      let got = '';
      sock.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.includes('\r\n\r\n')) reply(sock, got);
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    rawBase = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    sockets.forEach((s) => s.destroy());
    return new Promise<void>((r) => raw.close(() => r()));
  });

  it('reads a body that runs until the server closes', async () => {
    reply = (sock) => sock.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end');
    const res = await httpRequest(rawBase);
    expect(res.body.toString()).toBe('to the end');
  });

  it('a reply cut off in the middle is ECONNRESET; a garbled one is a protocol error naming the origin', async () => {
    reply = (sock) => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nnot fifty');
    await expect(httpRequest(rawBase)).rejects.toMatchObject({ code: 'ECONNRESET', message: `${rawBase} closed the connection in the middle of its reply` });
    reply = (sock) => sock.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
    await expect(httpRequest(rawBase)).rejects.toMatchObject({ name: 'HttpProtocolError', message: expect.stringMatching(new RegExp(`^reply from ${rawBase}: bad status line`)) });
  });

  it('never reuses a connection the server said more on than it was asked', async () => {
    let accepted = 0;
    raw.on('connection', () => (accepted += 1));
    reply = (sock) => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    await httpRequest(rawBase);
    await httpRequest(rawBase);
    expect(accepted).toBe(2);
  });

  it('never reuses a connection that got its reply before the whole request was sent', async () => {
    let accepted = 0;
    raw.on('connection', () => (accepted += 1));
    // Replies at the headers and reads no further: 16 MB of body stay on the wire.
    reply = (sock, request) => {
      if (request.startsWith('POST')) sock.pause();
      sock.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n');
    };
    expect((await httpRequest(rawBase, { method: 'POST', body: Buffer.alloc(16 * 1024 * 1024) })).status).toBe(413);
    expect((await httpRequest(rawBase, { timeoutMs: 5000 })).status).toBe(413);
    expect(accepted).toBe(2);
  });
});

// https the way a function meets it on FC: the system's CAs, plus NODE_EXTRA_CA_CERTS for a private one.
describe('httpRequest over TLS', () => {
  const openssl = findOnPath('openssl');
  let tlsCert: TlsCert | undefined;
  let dir: string;
  beforeAll(() => {
    tlsCert = makeTlsCert(openssl, { name: 'localhost', keyType: 'ec' });
    if (tlsCert) dir = tlsCert.dir;
  });
  afterAll(() => tlsCert?.remove());

  failInCIWithout(openssl, 'needs openssl on PATH when CI is set (CI installs it)', 'openssl not found on PATH, and CI is set: the TLS tests cannot make their certificate');

  it.skipIf(!openssl)('verifies the server against NODE_EXTRA_CA_CERTS and its name, keeps the connection, and resumes the TLS session on the next one', async () => {
    const script = [
      "import { readFileSync } from 'node:fs';",
      "import https from 'node:https';",
      `const { httpRequest } = await import(${JSON.stringify(`${REPO}/shared/http/request.ts`)});`,
      `const keyFile = ${JSON.stringify(tlsCert!.keyFile)};`,
      `const certFile = ${JSON.stringify(tlsCert!.caFile)};`,
      "const server = https.createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) }, (req, res) => {",
      "  res.setHeader('connection', req.url === '/close' ? 'close' : 'keep-alive');",
      "  res.end(JSON.stringify({ url: req.url, reused: req.socket.isSessionReused() }));",
      '});',
      'let connections = 0;',
      "server.on('secureConnection', () => (connections += 1));",
      "await new Promise((r) => server.listen(0, '127.0.0.1', r));",
      'const port = server.address().port;',
      'const out = {};',
      'const body = async (url) => { try { const r = await httpRequest(url, { timeoutMs: 5000 }); return JSON.parse(r.body.toString()); } catch (e) { return { error: e.code ?? e.message }; } };',
      "out.first = await body(`https://localhost:${port}/a`);",
      "out.second = await body(`https://localhost:${port}/close`);",
      'out.connectionsAfterTwo = connections;',
      "out.third = await body(`https://localhost:${port}/b`);",
      'out.connections = connections;',
      "out.byAddress = await body(`https://127.0.0.1:${port}/`);",
      "process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n');",
      'server.closeAllConnections(); server.close();',
    ].join('\n');
    const file = join(dir, 'https-check.mts');
    writeFileSync(file, script);
    const env = { PATH: process.env.PATH ?? '' };

    const trusted = await run(TSX, [file], { cwd: REPO, env: { ...env, NODE_EXTRA_CA_CERTS: tlsCert!.caFile } });
    const got = JSON.parse(/RESULT (.*)/.exec(trusted.output)?.[1] ?? 'null') as Record<string, unknown>;
    expect(got, trusted.output).toEqual({
      first: { url: '/a', reused: false },
      second: { url: '/close', reused: false },
      connectionsAfterTwo: 1,
      third: { url: '/b', reused: true },
      connections: 2,
      // the certificate names localhost, not the address
      byAddress: { error: 'ERR_TLS_CERT_ALTNAME_INVALID' },
    });

    const untrusted = await run(TSX, [file], { cwd: REPO, env });
    expect(untrusted.output).toMatch(/"first":\{"error":"(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)"\}/);
  }, 30_000);

  it.skipIf(!openssl)('a preconnect finishes the TLS handshake before any request, and the request goes out on that connection', async () => {
    const script = [
      "import { readFileSync } from 'node:fs';",
      "import https from 'node:https';",
      `const { httpRequest, preconnect } = await import(${JSON.stringify(`${REPO}/shared/http/request.ts`)});`,
      `const server = https.createServer({ key: readFileSync(${JSON.stringify(tlsCert!.keyFile)}), cert: readFileSync(${JSON.stringify(tlsCert!.caFile)}) }, (req, res) => res.end(req.url));`,
      'let handshakes = 0;',
      'let requests = 0;',
      "server.on('request', () => (requests += 1));",
      "const handshake = new Promise((r) => server.once('secureConnection', r)).then(() => (handshakes += 1));",
      "await new Promise((r) => server.listen(0, '127.0.0.1', r));",
      'const url = `https://localhost:${server.address().port}`;',
      // no handshake without a request: end rather than wait for ever
      "setTimeout(() => { process.stdout.write('RESULT {\"handshakes\":0}\\n'); process.exit(1); }, 10_000).unref();",
      'preconnect(url);',
      'await handshake;',
      'const out = { requestsAtHandshake: requests };',
      "server.on('secureConnection', () => (handshakes += 1));",
      "out.reply = (await httpRequest(`${url}/after`, { timeoutMs: 5000 })).body.toString();",
      'out.handshakes = handshakes;',
      "process.stdout.write('RESULT ' + JSON.stringify(out) + '\\n');",
      'server.closeAllConnections(); server.close();',
    ].join('\n');
    const file = join(dir, 'https-preconnect.mts');
    writeFileSync(file, script);
    const res = await run(TSX, [file], { cwd: REPO, env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: tlsCert!.caFile } });
    expect(JSON.parse(/RESULT (.*)/.exec(res.output)?.[1] ?? 'null'), res.output).toEqual({ requestsAtHandshake: 0, reply: '/after', handshakes: 1 });
  }, 30_000);
});
