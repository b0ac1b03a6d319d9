/**
 * Process hygiene shared by the two local mains (`npm start`, `npm run sandbox`):
 *   - output: every line goes through `out`/`err`, which redact URL credentials and never throw;
 *   - a closed stdout/stderr (EPIPE: `npm start 2>&1 | head -1`) stops the process cleanly, instead
 *     of an uncaughtException handler writing to the closed stream, raising EPIPE again, forever;
 *   - SIGTERM/SIGINT run the main's stop (close servers, stop timers, await in-flight work), capped:
 *     after `hardStopMs` the process exits with the work abandoned; a second signal exits at once,
 *     unless it is the same one fanned out (below).
 */
import { redactUrlCredentials } from '../shared/log/redact.ts';

/** The parts of `process` the lifecycle uses (a fake one in unit tests). */
export interface LifecycleProcess {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  on(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  on(event: 'uncaughtException', listener: (err: Error) => void): unknown;
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  exit(code: number): void;
}

export interface LifecycleOptions {
  /** Prefix of the lifecycle's own lines: `local host`, `cams sandbox`. */
  name: string;
  /** Longest a stop may take before the process exits anyway. Default 4000 (inside a 5 s budget). */
  hardStopMs?: number;
  proc?: LifecycleProcess;
  setTimer?: (fn: () => void, ms: number) => unknown;
  /** Milliseconds, for telling a repeated signal from the same one delivered twice. Default Date.now. */
  now?: () => number;
}

/**
 * One Ctrl-C (or `timeout`'s SIGTERM to the process group) reaches the main more than once: from the
 * terminal, and again from npm, which forwards it to its child, and from tsx's parent, which relays
 * it (1-30 ms apart). A signal within this long of the first is that same one, not a user's second.
 */
export const SIGNAL_ECHO_MS = 500;

export interface ProcessLifecycle {
  /** One line on stdout; dropped once stdout is gone. */
  out(line: string): void;
  /** One line on stderr; dropped once stderr is gone. */
  err(line: string): void;
  /** What stopping means for this main. A stop requested before this exits at once. */
  onStop(stop: () => Promise<void>): void;
  /** Stops as a signal does: runs the stop once, then exits with `exitCode` (1 if the stop fails). */
  stop(reason: string, exitCode?: number): void;
}

export function installProcessLifecycle(opts: LifecycleOptions): ProcessLifecycle {
  const proc = opts.proc ?? process;
  const hardStopMs = opts.hardStopMs ?? 4_000;
  const setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const now = opts.now ?? Date.now;
  let firstSignalAt: number | undefined;
  const gone = { stdout: false, stderr: false };
  let stopFn: (() => Promise<void>) | undefined;
  let stopping = false;

  const write = (which: 'stdout' | 'stderr', line: string): void => {
    if (gone[which]) return;
    try {
      proc[which].write(`${redactUrlCredentials(line)}\n`);
    } catch (e) {
      // A synchronous failure (a destroyed stream): the stream is gone, whatever the code.
      outputGone(which, e);
    }
  };
  const out = (line: string) => write('stdout', line);
  const err = (line: string) => write('stderr', line);

  function outputGone(which: 'stdout' | 'stderr', e: unknown): void {
    if (gone[which]) return;
    gone[which] = true;
    // The other stream may still be there (`2>/dev/null | head`): say why we stop on it.
    const code = (e as { code?: string } | null)?.code ?? 'closed';
    const other = which === 'stdout' ? err : out;
    stop(`${which} closed (${code})`, 0, other);
  }

  function stop(reason: string, exitCode = 0, say: (line: string) => void = out): void {
    if (stopping) return;
    stopping = true;
    if (!stopFn) {
      proc.exit(exitCode);
      return;
    }
    say(`${opts.name}: ${reason}, stopping`);
    setTimer(() => {
      err(`${opts.name}: not stopped after ${hardStopMs} ms; exiting with work unfinished`);
      proc.exit(1);
    }, hardStopMs);
    stopFn().then(
      () => proc.exit(exitCode),
      (e: unknown) => {
        err(`${opts.name}: stopping failed: ${e instanceof Error ? e.message : String(e)}`);
        proc.exit(1);
      },
    );
  }

  // A permanent listener each: an 'error' nobody listens to becomes an uncaughtException.
  proc.stdout.on('error', (e: unknown) => outputGone('stdout', e));
  proc.stderr.on('error', (e: unknown) => outputGone('stderr', e));

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    proc.on(signal, () => {
      if (firstSignalAt !== undefined && now() - firstSignalAt < SIGNAL_ECHO_MS) return;
      if (stopping) {
        // A second signal: the user does not want to wait.
        proc.exit(1);
        return;
      }
      firstSignalAt = now();
      stop(signal);
    });
  }

  // A function's stray rejection or exception (a throw in a timer callback, say) is reported, never
  // fatal: the process keeps serving. The report goes through err(), which never throws or loops.
  proc.on('uncaughtException', (e) => {
    err(`${opts.name}: uncaught exception: ${e.stack ?? e.message}`);
  });
  proc.on('unhandledRejection', (reason) => {
    err(`${opts.name}: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  });

  return {
    out,
    err,
    onStop: (fn) => {
      stopFn = fn;
    },
    stop: (reason, exitCode) => stop(reason, exitCode),
  };
}
