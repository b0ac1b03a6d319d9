// Spawns a local main (`npm start`'s local/host/main.ts, `npm run sandbox`'s local/sandbox/main.ts) as
// the real child process: node with tsx's loader, so the pid is the process that serves (no tsx
// wrapper in between) and its RSS and signals are its own.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import http from 'node:http';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface MainProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match of `re` in the output. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (null when killed by a signal) and how long after the call it came. */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }>;
  /** VmRSS of the child, in MiB. */
  rssMiB(): number;
  kill(): void;
}

export function spawnMain(main: 'local/host/main.ts' | 'local/sandbox/main.ts', env: Record<string, string>): MainProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    cwd: REPO,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    text += d.toString('utf8');
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.stdout.on('error', () => {});
  child.stderr.on('error', () => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );

  return {
    child,
    output: () => text,
    waitFor: (re, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(text);
          if (!m) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no ${re} in the output within ${timeoutMs} ms; output so far:\n${text}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    exited: async () => {
      const from = performance.now();
      const e = await exit;
      return { code: e.code, signal: e.signal, afterMs: e.at - from };
    },
    rssMiB: () => Number(/VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Resolves when the process exits, or rejects after `ms` (then the caller's afterEach kills it). */
export async function exitWithin(p: MainProcess, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMs: number }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${ms} ms later; output:\n${p.output()}`)), ms);
  });
  try {
    return await Promise.race([p.exited(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** True once process `pid` has an established TCP connection to or on `port` (a CAMS call in flight, say). */
export function connectionOpenTo(pid: number, port: number): boolean {
  // The process's sockets, by inode: the test's own connections to the same port do not count.
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let table: string;
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address and rem_address are ADDR:PORT, st 01 is ESTABLISHED, the 10th column the inode.
      const onPort = cols[1]?.endsWith(`:${hex}`) || cols[2]?.endsWith(`:${hex}`);
      if (onPort && cols[3] === '01' && inodes.has(cols[9]!)) return true;
    }
  }
  return false;
}

/**
 * Sets the sandbox's faults on a connection of its own, closed before this resolves: no kept-alive
 * test connection is left to be mistaken for a call in flight by connectionOpenTo.
 */
export function putSandboxFaults(sandboxUrl: string, faults: Record<string, number>): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(faults);
    const req = http.request(`${sandboxUrl}/__sandbox/faults`, {
      method: 'PUT',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close' },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.socket.once('close', () => resolve(res.statusCode!));
    });
    req.end(body);
  });
}
