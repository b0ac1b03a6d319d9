/**
 * A TCP proxy on loopback that holds every chunk for a fixed time each way: a network round trip of
 * 2 × oneWayMs between a client and a loopback server, for what loopback hides (each flight of a TLS
 * handshake, each redis reply waited for). The kernel still completes the TCP connect at once, so a
 * real network's connect round trip is not in it. Both legs set TCP_NODELAY: with Nagle on, a small
 * write held back for the peer's delayed ACK added ~40 ms that no real server pays.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

export async function startDelayProxy(target: { host: string; port: number }, oneWayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    const forward = (from: Socket, to: Socket) => {
      // One delay for every chunk, so timers fire in the order the chunks came.
      from.on('data', (chunk) => setTimeout(() => to.write(chunk), oneWayMs));
      from.on('end', () => setTimeout(() => to.end(), oneWayMs));
      from.on('error', () => to.destroy());
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
