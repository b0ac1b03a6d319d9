import { redactUrlCredentials } from './redact.ts';

/**
 * A secret-looking key (lower-cased): /secret|password|token|signature|authorization|credential|sign$/
 * with string operations, which a cold start does not have to compile.
 */
export function isSecretKey(lower: string): boolean {
  return (
    lower.includes('secret') ||
    lower.includes('password') ||
    lower.includes('token') ||
    lower.includes('signature') ||
    lower.includes('authorization') ||
    lower.includes('credential') ||
    lower.endsWith('sign')
  );
}

/** Drops secret-looking fields at any depth, and URL credentials in any string: a log line must never carry a key or a signature. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrlCredentials(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k.toLowerCase()) ? '[redacted]' : redactSecrets(v, depth + 1);
  return out;
}

export type LogWriter = (line: string) => void;

/**
 * Lines to a process stream (stdout or stderr, where FC collects a function's logs). A stream that
 * goes away (EPIPE: the collector closed its end) must not take the function down with every
 * invocation in flight, as the stream's unhandled 'error' event would: its lines are dropped from
 * then on, and the function goes on answering.
 */
export function processStreamLog(stream: () => NodeJS.WritableStream): LogWriter {
  let broken = false;
  let out: NodeJS.WritableStream | undefined;
  return (line) => {
    if (broken) return;
    if (!out) {
      // process.stdout is made on first use: a function that never logs never makes it
      out = stream();
      out.on('error', () => {
        broken = true;
      });
    }
    out.write(line + '\n');
  };
}

export const stdoutLog: LogWriter = processStreamLog(() => process.stdout);
export const stderrLog: LogWriter = processStreamLog(() => process.stderr);

/** LOG_LEVEL's values, from the most to the least said. */
export const LEVELS: Record<string, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** LOG_LEVEL (debug, info, warn, error, silent; default info) is read per line: it is one lookup. */
export function writeLogRecord(write: LogWriter, record: Record<string, unknown>, env: Record<string, string | undefined> = process.env): void {
  const threshold = LEVELS[env['LOG_LEVEL'] ?? 'info'] ?? LEVELS['info']!;
  if ((LEVELS[String(record['level'])] ?? LEVELS['info']!) < threshold) return;
  write(JSON.stringify(redactSecrets(record)));
}
