/**
 * One function, isolated as on FC: a warm worker thread (./function-worker.ts) whose process.env is
 * exactly the function's environment (./function-env.ts), so no function sees another's variables.
 *
 * Worker threads, not child processes: `env` gives each its own process.env at a fraction of a
 * process's memory and start-up time, and a hung or crashed function still cannot touch the host
 * (its worker is terminated and replaced). The worker starts with the host (load errors show in the
 * banner, and the first request is warm); an invocation past the function's timeout recycles the
 * worker, as FC recycles an instance, and the next invocation starts a fresh one.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { handlerFile, HOST_STOPPING, type InvocationOutcome } from './functions.ts';
import type { FunctionSpec } from './serverless-config.ts';
import type { HostToWorker, WorkerInit, WorkerToHost } from './worker-protocol.ts';

const BOOT = new URL('./worker-boot.mjs', import.meta.url);
/** Past the timeout, how long a worker gets to report the timeout itself before it is stopped. */
const TIMEOUT_GRACE_MS = 500;

export type FunctionState = 'ready' | 'missing' | 'broken';

export interface IsolatedFunctionOptions {
  init: WorkerInit;
  /** The function's whole process.env. */
  env: Record<string, string>;
  /** Host log lines (the functions' context.logger and crashes). */
  log: (line: string) => void;
  /** Where the function's stdout/stderr go; default the host's own. */
  output?: (stream: 'stdout' | 'stderr', text: string) => void;
}

interface Pending {
  resolve: (o: InvocationOutcome) => void;
  timer: ReturnType<typeof setTimeout>;
  started: number;
}

export class IsolatedFunction {
  readonly spec: FunctionSpec;
  state: FunctionState = 'missing';
  loadError?: string;
  private worker?: Worker;
  private loaded?: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly opts: IsolatedFunctionOptions) {
    this.spec = opts.init.spec;
  }

  /** Starts the warm worker; resolves when the handler is loaded (or known missing / broken). Never throws. */
  async start(): Promise<void> {
    if (!existsSync(handlerFile(this.opts.init.functionsDir, this.spec.name))) {
      this.state = 'missing';
      return;
    }
    await this.ensureWorker();
    this.state = this.loadError ? 'broken' : 'ready';
    if (this.loadError) this.stopWorker();
  }

  /** One invocation. Never throws: every failure is an `ok: false` outcome. */
  async invoke(event: Buffer, requestId: string, retryCount = 0): Promise<InvocationOutcome> {
    const failed = (errorType: string, errorMessage: string): InvocationOutcome => ({ ok: false, error: { errorType, errorMessage }, timedOut: false, durationMs: 0 });
    if (this.closed) return failed(HOST_STOPPING, 'the local host is stopping');
    const worker = await this.ensureWorker();
    if (this.closed) return failed(HOST_STOPPING, 'the local host is stopping');
    if (this.loadError) return failed('FunctionLoadError', this.loadError);
    if (this.worker !== worker) return failed('FunctionInstanceExited', "the function's instance exited before the invocation started");
    const id = this.nextId++;
    const started = performance.now();
    return new Promise<InvocationOutcome>((resolve) => {
      // The worker enforces the timeout itself; this catches a worker too busy to say so.
      const timer = setTimeout(() => {
        this.settle(id, {
          ok: false,
          error: { errorType: 'FunctionTimeout', errorMessage: `Function timed out after ${this.spec.timeout} seconds` },
          timedOut: true,
          durationMs: Math.round(performance.now() - started),
        });
      }, this.spec.timeout * 1000 + TIMEOUT_GRACE_MS);
      timer.unref();
      this.pending.set(id, { resolve, timer, started });
      const copy = new Uint8Array(event); // its own buffer, moved to the worker
      const msg: HostToWorker = { type: 'invoke', id, event: copy, requestId, retryCount };
      worker.postMessage(msg, [copy.buffer]);
    });
  }

  /** Stops the worker now (as FC stops an instance); invocations still running fail with HostStopping. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    this.loaded = undefined;
    this.failPending(HOST_STOPPING, 'the local host stopped');
    await w?.terminate();
  }

  private ensureWorker(): Promise<Worker> {
    if (this.worker && this.loaded) {
      const w = this.worker;
      return this.loaded.then(() => w);
    }
    // A Worker refuses a process flag in its env (serverless.yml's NODE_OPTIONS=--use-openssl-ca,
    // for FC): the worker puts it in its process.env itself. It sets no flag in a thread.
    const { NODE_OPTIONS: nodeOptions, ...env } = this.opts.env;
    const init: WorkerInit = nodeOptions === undefined ? this.opts.init : { ...this.opts.init, nodeOptions };
    const worker = new Worker(BOOT, {
      env,
      workerData: init,
      stdout: this.opts.output !== undefined,
      stderr: this.opts.output !== undefined,
      name: `fc:${this.spec.name}`,
      // The function's memorySize bounds its heap, as FC bounds an instance: past it the worker
      // dies (ERR_WORKER_OUT_OF_MEMORY) and the invocation fails, the host does not.
      resourceLimits: { maxOldGenerationSizeMb: this.spec.memorySize },
    });
    if (this.opts.output) {
      const out = this.opts.output;
      worker.stdout.on('data', (c: Buffer) => out('stdout', c.toString('utf8')));
      worker.stderr.on('data', (c: Buffer) => out('stderr', c.toString('utf8')));
    }
    this.worker = worker;
    this.loadError = undefined;
    let didLoad = false;
    this.loaded = new Promise<void>((resolve) => {
      worker.on('message', (m: WorkerToHost) => {
        if (m.type === 'log') this.opts.log(m.line);
        else if (m.type === 'loaded') {
          didLoad = true;
          if (m.loadError) this.loadError = m.loadError;
          resolve();
        } else if (m.type === 'outcome') {
          this.settle(m.id, m.outcome);
        }
      });
      worker.on('error', (err) => {
        // The worker failed to start, or died (out of memory); the function's own errors are caught inside it.
        if (this.worker !== worker) return;
        if (!didLoad) this.loadError ??= `${this.spec.name}: the worker failed: ${err.message}`;
        else this.opts.log(`${this.spec.name}: instance failed: ${err.message}`);
        resolve();
      });
      worker.on('exit', (code) => {
        // A worker stopped on purpose (closed, recycled) still releases whoever waits for it to load.
        if (this.worker !== worker) return resolve();
        this.opts.log(`${this.spec.name}: instance exited (code ${code}); the next invocation starts a new one`);
        if (!didLoad) this.loadError ??= `${handlerFile(this.opts.init.functionsDir, this.spec.name)} exited (code ${code}) while loading`;
        this.worker = undefined;
        this.loaded = undefined;
        this.failPending('FunctionInstanceExited', `the function's instance exited with code ${code}`);
        resolve();
      });
    });
    return this.loaded.then(() => worker);
  }

  private settle(id: number, outcome: InvocationOutcome): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    const result = outcome.ok && outcome.result instanceof Uint8Array ? Buffer.from(outcome.result) : outcome.ok ? outcome.result : undefined;
    p.resolve(outcome.ok ? { ...outcome, result } : outcome);
    if (!outcome.ok && outcome.timedOut && !this.closed) {
      // As FC does with an instance that ran past its timeout: it is gone, whatever it was doing.
      this.opts.log(`${this.spec.name}: instance recycled after a timeout`);
      this.stopWorker('another invocation of this instance timed out');
    }
  }

  private stopWorker(why = 'the instance was stopped'): void {
    const w = this.worker;
    this.worker = undefined;
    this.loaded = undefined;
    this.failPending('FunctionInstanceRecycled', why);
    void w?.terminate();
  }

  private failPending(errorType: string, errorMessage: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve({ ok: false, error: { errorType, errorMessage }, timedOut: false, durationMs: Math.round(performance.now() - p.started) });
    }
  }
}
