// Small node:http helpers shared by the local host and the CAMS sandbox.
import type http from 'node:http';

/** The whole body, or 'too-large' as soon as it passes the limit (chunked bodies included). */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (v: Buffer | 'too-large') => {
      if (done) return;
      done = true;
      resolve(v);
    };
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) return finish('too-large');
      chunks.push(c);
    });
    req.on('end', () => finish(Buffer.concat(chunks)));
    // A client that goes away mid-body: the reply goes nowhere, but nothing hangs or throws.
    req.on('error', () => finish(Buffer.concat(chunks)));
    req.on('aborted', () => finish(Buffer.concat(chunks)));
  });
}

/** Reads and drops whatever body is left, so the client sees the reply rather than a reset. */
export function drain(req: http.IncomingMessage): void {
  req.on('error', () => {});
  req.resume();
}

export function send(res: http.ServerResponse, status: number, headers: Record<string, string | string[]>, body: Buffer, headOnly = false): void {
  if (res.headersSent || res.destroyed) return;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('content-length', body.length);
  res.statusCode = status;
  res.end(headOnly ? undefined : body);
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  send(res, status, { 'content-type': 'application/json; charset=utf-8', ...headers }, Buffer.from(JSON.stringify(body), 'utf8'));
}

/**
 * Answers (`reply`) and closes the connection without reading the rest of the body: the request
 * stays paused, so an oversized upload waits in the kernel's socket buffer, not in this process.
 * Node would destroy a `connection: close` socket right after the reply, and a client still sending
 * then often gets a reset instead of the reply; so the socket is half-closed and given `lingerMs`
 * to read the reply before it is destroyed.
 */
export function refuseBody(req: http.IncomingMessage, res: http.ServerResponse, reply: () => void, lingerMs = 1_000): void {
  const socket = req.socket;
  req.removeAllListeners('data');
  req.on('error', () => {});
  req.pause();
  // Marks the body as consumed, or Node would read and discard all of it after the reply (req._dump).
  req.read(0);
  Object.defineProperty(socket, 'destroySoon', {
    configurable: true,
    value: () => {
      socket.end();
      const t = setTimeout(() => socket.destroy(), lingerMs);
      t.unref();
      socket.once('close', () => clearTimeout(t));
    },
  });
  res.setHeader('connection', 'close');
  reply();
}
