import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemoryNonceRegistry } from '../../shared/acs3/index.ts';
import type { CamsAction } from '../../shared/cams/operations.ts';
import { CallLog, type CallRecord } from './calls.ts';
import { handleCamsCall, rejectedCallRecord, type CamsEndpointDeps } from './cams-endpoint.ts';
import { DEFAULT_SANDBOX_HOST, DEFAULT_SANDBOX_KEYS, DEFAULT_SANDBOX_PORT, type SandboxKey } from './config.ts';
import { CONTROL_PREFIX, handleControl, type ControlDeps, type ControlReply } from './control.ts';
import { FaultInjector } from './faults.ts';
import { QpsLimiter } from './limits.ts';
import { ReceiptPusher, type RetryTimers } from './receipts.ts';
import { errors, type CamsReply } from './replies.ts';
import { StateFile } from './persistence.ts';
import { SandboxState } from './state.ts';
import { readBody } from '../http-io.ts';

export { DEFAULT_SANDBOX_KEYS, parseSandboxKeys, parseSandboxQps, type SandboxKey } from './config.ts';
export { hostSandboxDataDir } from './persistence.ts';

export interface SandboxOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 9100; 0 picks a free port. */
  port?: number;
  /** Default DEFAULT_SANDBOX_KEYS. Each key is its own account. */
  keys?: SandboxKey[];
  /** Per-operation QPS overrides of CAMS_QPS. */
  qps?: Partial<Record<CamsAction, number>>;
  /** Clock for signature windows, QPS windows, the call log and receipt retries' due times. */
  now?: () => number;
  /** How receipt retries wait (tests move time on by hand). Default: real timers that do not hold the process. */
  timers?: RetryTimers;
  /** One line per CAMS call (never a secret or token). Silent when unset. */
  log?: (line: string) => void;
  /** Larger request bodies are answered 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * Keep the state (spaces, phones, health, templates, own WABAs) in `<dataDir>/sandbox.json`:
   * loaded at start, saved before the reply to every call that changes it. Default: memory only.
   */
  dataDir?: string;
}

export interface RunningSandbox {
  url: string;
  port: number;
  /** `<dataDir>/sandbox.json` when the state is kept on disk. */
  stateFile?: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;

/**
 * The sandbox's state, kept in `<dataDir>/sandbox.json` when a data directory is given: loaded now,
 * saved after every change (a failed save is logged; the call still succeeds in memory).
 */
function openState(dataDir: string | undefined, log: (line: string) => void): { state: SandboxState; file: StateFile | undefined } {
  const file = dataDir === undefined ? undefined : new StateFile(dataDir);
  file?.lock();
  const state = new SandboxState(() => {
    if (!file) return;
    try {
      file.save(state.snapshot());
    } catch (e) {
      log(`sandbox: cannot save ${file.path}: ${(e as Error).message}`);
    }
  });
  try {
    const saved = file?.load();
    if (saved) state.restore(saved);
  } catch (e) {
    file?.unlock();
    throw e;
  }
  return { state, file };
}

type SandboxDeps = CamsEndpointDeps & ControlDeps;

/** Routes one request: the control API under /__sandbox/, the CAMS operations on `/`; every CAMS call is logged. */
function sandboxRouter(deps: SandboxDeps, maxBodyBytes: number, log: (line: string) => void) {
  const logCall = (record: CallRecord): void => {
    log(
      `${record.At} ${printable(record.Action) || '-'} key=${printable(record.AccessKeyId) || '-'}` +
        `${record.SecurityToken ? ' sts' : ''} -> ${record.HttpStatus} ${record.Code}`,
    );
  };
  return async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = Object.fromEntries(new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)));

    if (path.startsWith(CONTROL_PREFIX)) {
      const body = await readBody(req, maxBodyBytes);
      if (body === 'too-large') return sendTooLarge(res, () => sendJson(res, 413, { Code: 'RequestEntityTooLarge', Message: `The body exceeds ${maxBodyBytes} bytes.` }));
      return sendControl(res, await handleControl(method, path, body, deps, query));
    }
    if (path !== '/' || (method !== 'POST' && method !== 'GET')) {
      req.resume();
      return sendCams(res, errors.actionNotFound());
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === 'too-large') {
      const reply = errors.tooLarge(maxBodyBytes);
      const record = rejectedCallRecord(req.headers, query, reply, deps.now());
      deps.calls.add(record);
      logCall(record);
      return sendTooLarge(res, () => sendCams(res, reply));
    }
    const { reply, record } = await handleCamsCall({ method, path, query, headers: req.headers, body }, deps);
    logCall(record);
    sendCams(res, reply);
  };
}

/** Starts the CAMS sandbox: the CAMS operations (CAMS_ACTIONS) on `/`, the control API under /__sandbox/. */
export function startSandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  const keys = opts.keys ?? DEFAULT_SANDBOX_KEYS;
  if (keys.length === 0) return Promise.reject(new Error('the CAMS sandbox needs at least one key'));
  const secrets = new Map(keys.map((k) => [k.accessKeyId, k.accessKeySecret]));
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => {});

  let opened: ReturnType<typeof openState>;
  try {
    opened = openState(opts.dataDir, log);
  } catch (e) {
    return Promise.reject(e as Error);
  }
  const { state, file } = opened;

  const deps: SandboxDeps = {
    accounts: keys.map((k) => k.accessKeyId),
    lookupSecret: (id) => secrets.get(id),
    nonces: new InMemoryNonceRegistry(100_000, now),
    limiter: new QpsLimiter(opts.qps),
    faults: new FaultInjector(),
    state,
    calls: new CallLog(),
    // The pusher owns the retries; the state saves what it owes, as it saves the callback.
    receipts: new ReceiptPusher({ log, now, ...(opts.timers ? { timers: opts.timers } : {}), onOwedChange: (owed) => state.setReceiptRetries(owed) }),
    now,
  };
  if (state.receipts) {
    deps.receipts.configure(state.receipts.url, state.receipts.dropRate, undefined, state.receipts.format);
    deps.receipts.restore(state.receiptRetries);
  }
  const route = sandboxRouter(deps, opts.maxBodyBytes ?? DEFAULT_MAX_BODY, log);
  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      // A bug must cost one request, not the process.
      log(`sandbox: internal error: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) sendCams(res, errors.internalError());
      else res.destroy();
    });
  });

  return new Promise<RunningSandbox>((resolve, reject) => {
    const host = opts.host ?? DEFAULT_SANDBOX_HOST;
    const failed = (e: Error) => {
      deps.receipts.stop();
      file?.unlock();
      reject(e);
    };
    server.once('error', failed);
    server.listen(opts.port ?? DEFAULT_SANDBOX_PORT, host, () => {
      server.off('error', failed);
      const port = (server.address() as AddressInfo).port;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shownHost}:${port}`,
        port,
        ...(file ? { stateFile: file.path } : {}),
        close: () =>
          new Promise<void>((done) => {
            deps.receipts.stop();
            server.close(() => {
              file?.unlock();
              done();
            });
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Answers 413 and closes the connection; the rest of the body is read and dropped so the client sees the reply. */
function sendTooLarge(res: http.ServerResponse, send: () => void): void {
  res.setHeader('connection', 'close');
  send();
  res.req.resume();
}

/** Caller-supplied text in a log line: one line, bounded, no control characters. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
}

function sendCams(res: http.ServerResponse, reply: CamsReply): void {
  res.setHeader('x-acs-request-id', reply.requestId);
  sendJson(res, reply.httpStatus, reply.body);
}

function sendControl(res: http.ServerResponse, reply: ControlReply): void {
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  sendJson(res, reply.status, reply.body);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
