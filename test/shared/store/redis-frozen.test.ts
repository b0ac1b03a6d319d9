// An FC instance is frozen between invocations. If redis closes its connection meanwhile (a restart
// or failover, CLIENT KILL, the server's idle `timeout`), the instance reads that end first thing
// after the thaw, beside the invocation's request. Its first command must then connect again, not
// be written to the dead socket: with redis up, that failed the invocation (HTTP: 503) on every
// warm instance after each redis restart. Frozen here with SIGSTOP, the request written while frozen.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOnPath, rawCommand, startRedisServer, type RedisServer } from './redis-server.ts';

const redisBin = findOnPath('redis-server');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every normal client but this one (SKIPME is the default): the child's connection. */
const killClients = (port: number): Promise<string> => rawCommand(port, 'CLIENT', 'KILL', 'TYPE', 'normal');

describe.skipIf(!redisBin)('a frozen instance whose redis connection was closed meanwhile', () => {
  let server: RedisServer;
  let child: ChildProcessWithoutNullStreams;
  let ask: (line: string, whileFrozen?: () => Promise<void>) => Promise<Record<string, unknown>>;
  beforeAll(async () => {
    server = await startRedisServer(redisBin!);
    child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/store-child.ts'], {
      env: { PATH: process.env['PATH'], STORE_URL: `${server.url}?namespace=frozen:` },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const waiting: Array<(v: Record<string, unknown>) => void> = [];
    createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()?.(JSON.parse(l) as Record<string, unknown>));
    const next = () => new Promise<Record<string, unknown>>((resolve) => waiting.push(resolve));
    const ready = await Promise.race([next(), sleep(20_000).then(() => ({ stderr }))]);
    expect(ready).toEqual({ ready: true });
    ask = async (line, whileFrozen) => {
      const answer = next();
      if (whileFrozen) process.kill(child.pid!, 'SIGSTOP');
      try {
        await whileFrozen?.();
        child.stdin.write(line + '\n');
        await sleep(100); // the request waits for the thaw, as FC's does
      } finally {
        if (whileFrozen) process.kill(child.pid!, 'SIGCONT');
      }
      return answer;
    };
  }, 30_000);
  afterAll(async () => {
    child?.kill('SIGKILL');
    await server?.stop();
  });

  it('CLIENT KILL or a restart of redis while frozen: the first command after the thaw succeeds, every time', async () => {
    const port = server.port;
    for (let i = 0; i < 6; i++) {
      expect(await ask(`put warm/${i}`)).toEqual({ ok: true });
      const restart = i % 2 === 1;
      const answer = await ask(`put thawed/${i}`, async () => {
        if (!restart) {
          expect(await killClients(port)).toMatch(/^:\d+\r\n$/);
        } else {
          await server.stop();
          server = await startRedisServer(redisBin!, port);
        }
        await sleep(100); // the end of the connection reaches the frozen process's socket
      });
      expect(answer, `${restart ? 'restart' : 'CLIENT KILL'} #${i}`).toEqual({ ok: true });
    }
  }, 60_000);
});
