/**
 * The host's HTTP server: FC invoke API paths go to ./invoke-api.ts, local MNS queues to
 * ./mns-queue.ts, everything else is matched
 * against serverless.yml's HTTP events and run as an FC 3.0 HTTP trigger event. Requests that
 * arrive before the functions are loaded wait for them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { drain, readBody, refuseBody, send, sendJson } from '../http-io.ts';
import { answerClientError } from './client-error.ts';
import type { FunctionState } from './function-runtime.ts';
import { HOST_STOPPING, newRequestId, type InvocationOutcome } from './functions.ts';
import { buildHttpTriggerEvent, replyFromResult, splitUrl } from './http-trigger.ts';
import { handleInvokeApi, isInvokeApiPath, type InvokeApiDeps } from './invoke-api.ts';
import { handleMnsSend, MNS_PREFIX, type MnsDeps } from './mns-queue.ts';
import type { RouteTable } from './routes.ts';
import type { FunctionSpec } from './serverless-config.ts';

export interface ServerDeps {
  table: RouteTable;
  spec(name: string): FunctionSpec;
  state(name: string): FunctionState | undefined;
  run(name: string, event: Buffer, requestId: string): Promise<InvocationOutcome>;
  invokeApi: InvokeApiDeps;
  mns: MnsDeps;
  accountId: string;
  /** Each HTTP function's body limit (./body-limit.ts), checked while reading. */
  bodyLimits: ReadonlyMap<string, number>;
  /** Resolves true when the functions are loaded, false when the host failed to start. */
  ready: Promise<boolean>;
  log: (line: string) => void;
}

export interface HostServer {
  url: string;
  port: number;
  /** Stops accepting and closes idle connections; resolves when the last connection has closed. */
  stopAccepting(): Promise<void>;
  /** Closes every connection still open, a reply under way included. */
  closeConnections(): void;
}

function envelope(requestId: string, code: string, message: string): Record<string, unknown> {
  return { RequestId: requestId, Code: code, Message: message, Success: false };
}

async function handleHttpRoute(req: http.IncomingMessage, res: http.ServerResponse, rawPath: string, requestId: string, deps: ServerDeps): Promise<string> {
  const method = (req.method ?? 'GET').toUpperCase();
  const match = deps.table.match(method, rawPath);
  if (match.kind === 'not-found') {
    drain(req);
    sendJson(res, 404, envelope(requestId, 'NotFound', `No function serves ${method} ${rawPath}.`));
    return '404';
  }
  if (match.kind === 'method-not-allowed') {
    drain(req);
    sendJson(res, 405, envelope(requestId, 'MethodNotAllowed', `${method} is not allowed on ${rawPath}.`), { allow: match.allow.join(', ') });
    return '405';
  }
  const name = match.route.functionName;
  const spec = deps.spec(name);
  const state = deps.state(name);
  if (state === 'broken') {
    drain(req);
    sendJson(res, 500, envelope(requestId, 'FunctionLoadError', `Function ${name} failed to load; the host's start-up output says why.`));
    return `500 ${name}`;
  }
  if (state !== 'ready') {
    drain(req);
    sendJson(
      res,
      501,
      envelope(requestId, 'FunctionNotImplemented', `Function ${name} (${match.route.method} ${match.route.path}) is listed in serverless.yml but functions/${name}/handler.ts does not exist.`),
    );
    return `501 ${name}`;
  }
  const limit = deps.bodyLimits.get(name)!;
  const body = await readBody(req, limit);
  if (body === 'too-large') {
    refuseBody(req, res, () => sendJson(res, 413, envelope(requestId, 'RequestEntityTooLarge', `The request body exceeds ${limit} bytes.`)));
    return '413';
  }
  const event = buildHttpTriggerEvent(req, body, { requestId, accountId: deps.accountId, functionName: name, now: Date.now() });
  const outcome = await deps.run(name, Buffer.from(JSON.stringify(event), 'utf8'), requestId);
  if (!outcome.ok) {
    deps.log(`${name} ${requestId}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
    if (outcome.error.errorType === HOST_STOPPING) {
      res.setHeader('connection', 'close');
      sendJson(res, 503, envelope(requestId, 'ServiceUnavailable', 'The local host is stopping.'));
      return `503 ${name}`;
    }
    const code = outcome.timedOut ? 'FunctionTimeout' : 'FunctionError';
    const msg = outcome.timedOut ? `Function ${name} timed out after ${spec.timeout} seconds.` : `Function ${name} failed: ${outcome.error.errorType}.`;
    sendJson(res, 502, envelope(requestId, code, msg));
    return `502 ${name}`;
  }
  let reply;
  try {
    reply = replyFromResult(outcome.result);
  } catch (e) {
    deps.log(`${name} ${requestId}: bad reply: ${(e as Error).message}`);
    sendJson(res, 502, envelope(requestId, 'FunctionError', `Function ${name} returned an invalid HTTP reply.`));
    return `502 ${name}`;
  }
  send(res, reply.status, reply.headers, reply.body, method === 'HEAD');
  return `${reply.status} ${name}`;
}

export async function startServer(host: string, port: number, deps: ServerDeps): Promise<HostServer> {
  const { log } = deps;
  const server = http.createServer((req, res) => {
    const requestId = newRequestId();
    res.setHeader('x-fc-request-id', requestId);
    const started = performance.now();
    const url = splitUrl(req.url ?? '/');
    const work = (async () => {
      if (!(await deps.ready)) {
        drain(req);
        sendJson(res, 503, envelope(requestId, 'ServiceUnavailable', 'The host failed to start.'));
        return '503';
      }
      if (isInvokeApiPath(url.rawPath)) return `invoke ${await handleInvokeApi(req, res, url, requestId, deps.invokeApi)}`;
      if (url.rawPath.startsWith(MNS_PREFIX)) return `mns ${await handleMnsSend(req, res, url.rawPath, requestId, deps.mns)}`;
      return handleHttpRoute(req, res, url.rawPath, requestId, deps);
    })();
    work.then(
      (outcome) => log(`${req.method} ${url.rawPath} -> ${outcome} (${Math.round(performance.now() - started)} ms) ${requestId}`),
      (err: unknown) => {
        // A host bug costs one request, never the process.
        log(`${req.method} ${url.rawPath} -> host error ${requestId}: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) sendJson(res, 500, envelope(requestId, 'InternalError', 'The local host failed to process the request.'));
        else res.destroy();
      },
    );
  });
  server.on('clientError', (err, socket) => answerClientError(err, socket, newRequestId()));

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    throw new Error(`the host cannot listen on ${host}:${port} (${(e as Error).message}); set PORT (0: any free port) or HOST`, { cause: e });
  }
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    stopAccepting: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
    closeConnections: () => server.closeAllConnections(),
  };
}
