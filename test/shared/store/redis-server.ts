/** Start and stop a throw-away redis-server for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) done(got.startsWith('+PONG') || got.startsWith('-NOAUTH'));
    });
  });
}

export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * The pid of the redis-server answering on `port` (INFO server's process_id, after AUTH when it has
 * a password), or undefined when it will not say (INFO renamed away).
 */
function answeringPid(port: number, password: string | undefined): Promise<number | undefined> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (pid: number | undefined) => {
      sock.destroy();
      resolve(pid);
    };
    sock.setTimeout(2000, () => done(undefined));
    sock.once('error', () => done(undefined));
    sock.on('connect', () => sock.write(`${password === undefined ? '' : `AUTH ${password}\r\n`}INFO server\r\n`));
    sock.on('data', (d) => {
      got += d.toString();
      const pid = /\r\nprocess_id:(\d+)\r\n/.exec(got);
      if (pid) done(Number(pid[1]));
      else if (/^-ERR unknown command/m.test(got)) done(undefined);
    });
  });
}

/**
 * `extra`: more redis-server arguments (`--requirepass`, `--tls-port` ...); the plain port stays open.
 * Without a `port`, a free one is picked, and picked again if another server took it between the
 * pick and the start (test files run in parallel, each with its own servers): the server that
 * answers must be this one (its pid), or a test would run on another file's redis, which that
 * file's teardown then kills.
 */
export async function startRedisServer(bin: string, port?: number, extra: string[] = []): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const p = port ?? (await freePort());
    const server = await startOn(bin, p, extra);
    if (server) return server;
    if (port !== undefined || attempt >= 5) throw new Error(`redis-server: port ${p} was taken by another server (attempt ${attempt})`);
  }
}

/** The server started on `p`, or undefined when another one answers there. */
async function startOn(bin: string, p: number, extra: string[]): Promise<RedisServer | undefined> {
  const proc: ChildProcess = spawn(
    bin,
    ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  };
  const deadline = Date.now() + 10_000;
  while (!(await ping(p))) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not answer PING on port ${p} within 10 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const password = extra[extra.indexOf('--requirepass') + 1];
  const pid = await answeringPid(p, extra.includes('--requirepass') ? password : undefined);
  if (pid !== undefined && pid !== proc.pid) {
    await stop();
    return undefined;
  }
  return { port: p, url: `redis://127.0.0.1:${p}`, stop };
}

/** Connections the server has accepted since it started (INFO stats), read through `client`. */
export async function connectionsReceived(client: { info(section: string): Promise<string> }): Promise<number> {
  return Number(/total_connections_received:(\d+)/.exec(await client.info('stats'))?.[1]);
}

/**
 * One command sent raw on its own connection (no client library: the server may be refusing
 * commands, or a test may be killing every client connection), its first reply line back as sent.
 */
export function rawCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    sock.on('error', reject);
    sock.on('data', (d) => {
      got += d.toString();
      if (got.endsWith('\r\n')) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}
