/**
 * A function's handler, loaded from functions/<name>/handler.ts (the source of dist/<name>/index.js)
 * inside its own worker (./function-worker.ts), and invoked the way FC invokes it: `handler(event:
 * Buffer, context)`, async or callback style, bounded by the function's timeout.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FunctionSpec } from './serverless-config.ts';

export type FcHandler = (event: Buffer, context: FcInvocationContext, callback?: (err: unknown, result?: unknown) => void) => unknown;

export interface FcCredentials {
  accessKeyId?: string;
  accessKeySecret?: string;
  securityToken?: string;
}

/** The context FC passes to a Node handler (../shared/notes/fc-runtime.md). */
export interface FcInvocationContext {
  requestId: string;
  credentials: FcCredentials;
  function: { name: string; handler: string; memory: number; timeout: number };
  /** FC 3.0's has no name (it has no services); FC 2.0's names the function's service. */
  service: { name?: string; logProject: string; logStore: string; qualifier: string; versionId: string };
  region: string;
  accountId: string;
  retryCount: number;
  tracing: Record<string, never>;
  logger: Record<'debug' | 'info' | 'warn' | 'error' | 'log', (...args: unknown[]) => void>;
}

export interface HostedFunction {
  spec: FunctionSpec;
  /** functions/<name>/handler.ts */
  file: string;
  /** Undefined when the file does not exist (listed, not written yet) or failed to load. */
  handler?: FcHandler;
  /** Why the file exists but could not be loaded (an import error, no such export). */
  loadError?: string;
}

export function handlerFile(functionsDir: string, name: string): string {
  return join(functionsDir, name, 'handler.ts');
}

/**
 * Imports a function's handler. Never throws: a missing file (the host answers 501 for it) and a
 * file that fails to load or lacks the export named by `handler: index.<export>` (answered 500,
 * reported at start) leave `handler` unset, so one broken function does not stop the others.
 */
export async function loadFunction(functionsDir: string, spec: FunctionSpec): Promise<HostedFunction> {
  const file = handlerFile(functionsDir, spec.name);
  if (!existsSync(file)) return { spec, file };
  const exportName = spec.handler.slice(spec.handler.indexOf('.') + 1);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    return { spec, file, loadError: `${file} failed to load: ${(e as Error).message}` };
  }
  const handler = mod[exportName];
  if (typeof handler !== 'function') {
    return { spec, file, loadError: `${file} has no exported function "${exportName}" (serverless.yml handler: ${spec.handler})` };
  }
  return { spec, file, handler: handler as FcHandler };
}

/** FC-style request id: `1-<epoch seconds hex>-<24 hex>`. */
export function newRequestId(now = Date.now()): string {
  return `1-${Math.floor(now / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}

export interface ContextInputs {
  /** Undefined as FC 3.0. */
  serviceName: string | undefined;
  region: string;
  accountId: string;
  credentials: FcCredentials;
  log: (line: string) => void;
}

export function buildContext(spec: FunctionSpec, requestId: string, retryCount: number, inputs: ContextInputs): FcInvocationContext {
  const say = (level: string) => (...args: unknown[]) =>
    inputs.log(`${spec.name} ${requestId} [${level}] ${args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' ')}`);
  return {
    requestId,
    credentials: { ...inputs.credentials },
    function: { name: spec.name, handler: spec.handler, memory: spec.memorySize, timeout: spec.timeout },
    service: { ...(inputs.serviceName !== undefined ? { name: inputs.serviceName } : {}), logProject: '', logStore: '', qualifier: 'LATEST', versionId: '' },
    region: inputs.region,
    accountId: inputs.accountId,
    retryCount,
    tracing: {},
    logger: { debug: say('debug'), info: say('info'), warn: say('warn'), error: say('error'), log: say('info') },
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export type InvocationOutcome =
  | { ok: true; result: unknown; durationMs: number }
  | { ok: false; error: { errorType: string; errorMessage: string }; timedOut: boolean; durationMs: number };

/** The errorType of an invocation refused or cut off because the host is stopping (answered 503). */
export const HOST_STOPPING = 'HostStopping';

/**
 * Runs the handler once. Never throws: a thrown error, a rejected promise, a callback error or the
 * function's timeout all come back as `ok: false`.
 */
export function invokeHandler(handler: FcHandler, event: Buffer, context: FcInvocationContext): Promise<InvocationOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  const timeoutMs = context.function.timeout * 1000;

  return new Promise<InvocationOutcome>((resolve) => {
    let settled = false;
    const settle = (o: InvocationOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const failWith = (err: unknown) =>
      settle({ ok: false, error: describeError(err), timedOut: false, durationMs: elapsed() });
    const timer = setTimeout(() => {
      settle({
        ok: false,
        error: { errorType: 'FunctionTimeout', errorMessage: `Function timed out after ${context.function.timeout} seconds` },
        timedOut: true,
        durationMs: elapsed(),
      });
    }, timeoutMs);
    timer.unref?.();

    try {
      if (handler.length >= 3) {
        handler(event, context, (err, result) => (err ? failWith(err) : settle({ ok: true, result, durationMs: elapsed() })));
        return;
      }
      Promise.resolve(handler(event, context)).then(
        (result) => settle({ ok: true, result, durationMs: elapsed() }),
        failWith,
      );
    } catch (err) {
      failWith(err);
    }
  });
}

export function describeError(err: unknown): { errorType: string; errorMessage: string } {
  if (err instanceof Error) return { errorType: err.name || 'Error', errorMessage: err.message };
  return { errorType: 'Error', errorMessage: typeof err === 'string' ? err : safeJson(err) };
}
