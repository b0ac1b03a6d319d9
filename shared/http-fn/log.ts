const SECRET_KEY = /secret|password|token|signature|authorization|credential|sign$/i;

/** Drops secret-looking fields at any depth; a log line must never carry a key or a signature. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : redactSecrets(v, depth + 1);
  return out;
}

export type LogWriter = (line: string) => void;

export const stdoutLog: LogWriter = (line) => {
  process.stdout.write(line + '\n');
};

export function writeLogRecord(write: LogWriter, record: Record<string, unknown>): void {
  write(JSON.stringify(redactSecrets(record)));
}
