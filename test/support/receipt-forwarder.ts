import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixture } from './events.ts';

/** CAMS's HTTP callback (`POST /cams/receipts?token=`) as FC's HTTP trigger hands it to cams-events. */
export function receiptPushEvent(body: unknown, token: string): Buffer {
  const e = fixture<Record<string, unknown> & { requestContext: { http: Record<string, string> } }>('fc3-http-event.json');
  e['rawPath'] = '/cams/receipts';
  e['headers'] = { 'Content-Type': 'application/json' };
  e['queryParameters'] = { token };
  e['body'] = typeof body === 'string' ? body : JSON.stringify(body);
  e.requestContext.http['method'] = 'POST';
  e.requestContext.http['path'] = '/cams/receipts';
  return Buffer.from(JSON.stringify(e));
}

export interface ForwardedPush {
  receipts: unknown;
  statusCode: number;
  /** The Results of cams-events' reply (Outcome per receipt). */
  results: Array<Record<string, unknown>>;
}

export interface ReceiptForwarder {
  /** Where the sandbox pushes (PUT /__sandbox/receipts {Url}). */
  url: string;
  readonly pushes: ForwardedPush[];
  /** Resolves once `n` pushes in all have been answered (a push the sandbox makes in the background included). */
  handled(n: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * An HTTP trigger in front of an in-process cams-events handler: each push the sandbox makes is one
 * invocation, answered with the handler's status. Tests wait on `handled(n)`, not on time.
 */
export async function startReceiptForwarder(
  handler: (event: unknown, context?: never) => Promise<unknown>,
  token: string,
  context: () => never,
): Promise<ReceiptForwarder> {
  const pushes: ForwardedPush[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      void handler(receiptPushEvent(body, token), context()).then(
        (r) => {
          const reply = r as { statusCode: number; body: string };
          const parsed = JSON.parse(reply.body) as { Data?: { Results?: Array<Record<string, unknown>> } };
          pushes.push({ receipts: JSON.parse(body), statusCode: reply.statusCode, results: parsed.Data?.Results ?? [] });
          res.writeHead(reply.statusCode, { 'content-type': 'application/json' }).end(reply.body);
          for (const w of waiters.splice(0)) {
            if (pushes.length >= w.n) w.resolve();
            else waiters.push(w);
          }
        },
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/cams/receipts?token=${token}`,
    pushes,
    handled: (n) => (pushes.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
