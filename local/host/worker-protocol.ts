/** The messages between the host and a function's worker thread (./function-runtime.ts, ./function-worker.ts). */
import type { FcCredentials, InvocationOutcome } from './functions.ts';
import type { FunctionSpec } from './serverless-config.ts';

/** workerData: what stays the same for every invocation of the function. */
export interface WorkerInit {
  functionsDir: string;
  spec: FunctionSpec;
  /** Undefined when the host runs the functions as FC 3.0 (no service). */
  serviceName: string | undefined;
  region: string;
  accountId: string;
  credentials: FcCredentials;
  /** The function's NODE_OPTIONS, which a Worker will not take in its env (./function-runtime.ts). */
  nodeOptions?: string;
}

export type HostToWorker = { type: 'invoke'; id: number; event: Uint8Array; requestId: string; retryCount: number };

export type WorkerToHost =
  | { type: 'loaded'; loadError?: string }
  | { type: 'outcome'; id: number; outcome: InvocationOutcome }
  | { type: 'log'; line: string };
