import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import { stdoutLog, writeLogRecord, type LogWriter } from '../log/log.ts';
import { invocationDeadline, type FcContext } from './context.ts';

export interface EventInvocation {
  /** The invocation bytes, decoded as UTF-8 JSON when they are JSON (timer, CloudEvents), else as text. */
  event: unknown;
  context: FcContext;
  requestId: string;
  deadline: number;
}

interface EventInternal {
  requestId: string;
  startedAt: number;
  summary?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface EventFunctionSpec<R> {
  name: string;
  run: (invocation: EventInvocation) => Promise<R>;
  /** What of the result goes into the invocation's log line. */
  summarize?: (result: R) => Record<string, unknown>;
  write?: LogWriter;
  now?: () => number;
}

type Request = middy.Request<unknown, unknown, Error, FcContext, EventInternal>;

/**
 * For functions fed by timers, EventBridge, MNS or the invoke API: decodes the event and writes one
 * log line per invocation. Errors are logged and rethrown, so FC records the failure and its async
 * retry policy applies.
 */
export function eventFunction<R>(spec: EventFunctionSpec<R>): (event: unknown, context?: FcContext) => Promise<R> {
  const now = spec.now ?? Date.now;
  const write = spec.write ?? stdoutLog;
  const emit = (request: Request, status: 'ok' | 'error') => {
    const record: Record<string, unknown> = {
      level: status === 'ok' ? 'info' : 'error',
      function: spec.name,
      requestId: request.internal.requestId,
      status,
      durationMs: Math.round((now() - request.internal.startedAt) * 100) / 100,
      retryCount: request.context?.retryCount ?? 0,
      ...request.internal.summary,
    };
    if (request.error) record['error'] = { name: request.error.name, message: request.error.message };
    writeLogRecord(write, record);
  };
  const base = async (event: unknown, context: FcContext): Promise<R> => {
    const startedAt = now();
    return spec.run({ event: decodeEvent(event), context, requestId: context.requestId ?? randomUUID(), deadline: invocationDeadline(context, startedAt) });
  };
  const handler = middy<unknown, unknown, Error, FcContext, EventInternal>(base, { timeoutEarlyInMillis: 0 }).use({
    before: (request) => {
      request.internal.requestId = request.context?.requestId ?? randomUUID();
      request.internal.startedAt = now();
    },
    after: (request) => {
      if (spec.summarize) request.internal.summary = spec.summarize(request.response as R);
      emit(request, 'ok');
    },
    onError: (request) => {
      emit(request, 'error');
    },
  });
  return (event, context) => handler(event, context ?? {}) as Promise<R>;
}

export function decodeEvent(raw: unknown): unknown {
  const text = Buffer.isBuffer(raw) || raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : raw;
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
