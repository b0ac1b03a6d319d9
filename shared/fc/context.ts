/** The parts of FC's invocation context this project reads (../shared/notes/fc-runtime.md). */
export interface FcContext {
  requestId?: string;
  credentials?: { accessKeyId?: string; accessKeySecret?: string; securityToken?: string };
  function?: { name?: string; handler?: string; memory?: number; timeout?: number };
  service?: { name?: string; qualifier?: string };
  region?: string;
  accountId?: string;
  retryCount?: number;
}

const DEFAULT_TIMEOUT_S = 60;

/** When this invocation must have answered by (epoch ms), from the function's configured timeout. */
export function invocationDeadline(context: FcContext | undefined, startedAt: number): number {
  const timeoutS = context?.function?.timeout;
  return startedAt + (typeof timeoutS === 'number' && timeoutS > 0 ? timeoutS : DEFAULT_TIMEOUT_S) * 1000;
}
