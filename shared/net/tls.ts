/**
 * A TLS connection for the clients that speak their protocol themselves (shared/http, the redis
 * store). node:tls loads on first use, so a function that never speaks TLS never loads it; the build
 * turns this import() into a require, as main.js runs as a vm.Script. A host name is sent as SNI and
 * checked against the certificate; an address is checked as an address.
 */
import { isIP } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';

let tlsModule: Promise<typeof import('node:tls')> | undefined;

/** `options` go last: they may name another servername, a CA, a session to resume. */
export async function connectTls(host: string, port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  const { connect } = await (tlsModule ??= import('node:tls'));
  return connect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...options });
}
