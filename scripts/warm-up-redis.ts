/**
 * A loopback stand-in for redis, for the build's warm-up request only (scripts/warm-up.ts). On FC
 * every HTTP function runs with `STORE_URL=redis://`, so its first request also opens the redis
 * connection, stores the caller's nonce and reserves a CAMS budget slot. Warmed up through this
 * stand-in, main.js.cache also holds that code: measured under callgrind, bind-waba's and
 * get-health-status's first requests on redis execute 5.3-5.8 M fewer instructions (~1.7 ms), at
 * 0.6-1.0 M more without a store (a bigger cache to read).
 *
 * It answers only what that request sends, the way redis does: PING, EVALSHA (NOSCRIPT, so the
 * fallback is warmed too), then EVAL of the store's put script (a new version) and of its slot
 * script (granted now). Anything else is an error reply, which fails the warm-up and so the build:
 * a stand-in that answered wrongly would cache an error path. Nothing it answers is kept.
 */
import { createServer, type Socket } from 'node:net';
import { ReplyReader, type Reply } from '../shared/store/redis-connection.ts';

export interface RedisStandIn {
  /** `redis://127.0.0.1:<port>?namespace=build-warm-up:` */
  url: string;
  /** Every command received, by name (EVAL with the kind of key it touched: `EVAL kv`, `EVAL slot`). */
  commands: string[];
  close(): Promise<void>;
}

const NAMESPACE = 'build-warm-up:';

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

function answer(args: string[], commands: string[]): string {
  const name = (args[0] ?? '').toUpperCase();
  if (name === 'PING') {
    commands.push(name);
    return '+PONG\r\n';
  }
  if (name === 'EVALSHA') {
    commands.push(name);
    return '-NOSCRIPT No matching script. Please use EVAL.\r\n';
  }
  if (name === 'EVAL') {
    const key = args[3] ?? '';
    // put names its data key, then its bucket's index keys (redis-scripts.ts); a slot, its one key
    if (args[2] === '4' && key.startsWith(`${NAMESPACE}kv:`)) {
      commands.push('EVAL kv');
      return bulk(`1.${Date.now().toString(36)}`);
    }
    if (args[2] === '1' && key.startsWith(`${NAMESPACE}slot:`)) {
      commands.push('EVAL slot');
      return `*3\r\n:1\r\n:0\r\n:${Date.now()}\r\n`;
    }
  }
  commands.push(`unexpected ${name}`);
  return `-ERR the build's redis stand-in does not answer ${name} (scripts/warm-up-redis.ts)\r\n`;
}

export async function startRedisStandIn(): Promise<RedisStandIn> {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new ReplyReader();
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      try {
        for (let cmd: Reply | undefined = reader.next(); cmd !== undefined; cmd = reader.next()) {
          const args = Array.isArray(cmd) && cmd.every((a) => typeof a === 'string') ? (cmd as string[]) : [];
          socket.write(answer(args, commands));
        }
      } catch {
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}?namespace=${NAMESPACE}`,
    commands,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
