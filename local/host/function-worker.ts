/**
 * Runs inside a function's worker thread: loads functions/<name>/handler.ts once (the warm
 * instance), then runs each invocation the host posts, as FC would (./functions.ts). Its
 * process.env is exactly the environment the host gave the worker (./function-env.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildContext, describeError, invokeHandler, loadFunction, type InvocationOutcome } from './functions.ts';
import type { HostToWorker, WorkerInit, WorkerToHost } from './worker-protocol.ts';

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (m: WorkerToHost) => port.postMessage(m);
const log = (line: string) => post({ type: 'log', line });

// A stray throw in a timer callback costs a log line, not the instance (as the in-process host did).
process.on('uncaughtException', (err) => log(`${init.spec.name}: uncaught exception: ${err.stack ?? err.message}`));
process.on('unhandledRejection', (reason) => log(`${init.spec.name}: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`));

if (init.nodeOptions !== undefined) process.env['NODE_OPTIONS'] = init.nodeOptions;
const loaded = await loadFunction(init.functionsDir, init.spec);
const contextInputs = { serviceName: init.serviceName, region: init.region, accountId: init.accountId, credentials: init.credentials, log };

/** FC serialises a result that is not bytes or text as JSON; so does the hop back to the host. */
function portable(outcome: InvocationOutcome): InvocationOutcome {
  if (!outcome.ok) return outcome;
  const r = outcome.result;
  if (r === undefined || r === null || typeof r === 'string' || r instanceof Uint8Array) return outcome;
  try {
    const text = JSON.stringify(r);
    return { ...outcome, result: text === undefined ? undefined : JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: { errorType: 'TypeError', errorMessage: `the result is not JSON-serialisable: ${(e as Error).message}` }, timedOut: false, durationMs: outcome.durationMs };
  }
}

port.on('message', (m: HostToWorker) => {
  if (m.type !== 'invoke') return;
  const event = Buffer.from(m.event.buffer, m.event.byteOffset, m.event.byteLength);
  const run = loaded.handler
    ? invokeHandler(loaded.handler, event, buildContext(init.spec, m.requestId, m.retryCount, contextInputs))
    : Promise.resolve<InvocationOutcome>({ ok: false, error: { errorType: 'FunctionLoadError', errorMessage: loaded.loadError ?? 'no handler' }, timedOut: false, durationMs: 0 });
  void run.then(
    (outcome) => post({ type: 'outcome', id: m.id, outcome: portable(outcome) }),
    (err: unknown) => post({ type: 'outcome', id: m.id, outcome: { ok: false, error: describeError(err), timedOut: false, durationMs: 0 } }),
  );
});

post({ type: 'loaded', ...(loaded.loadError ? { loadError: loaded.loadError } : {}) });
