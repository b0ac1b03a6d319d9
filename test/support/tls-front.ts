/**
 * TLS in front of a loopback TCP server (the sandbox, a redis stand-in), for running a function as
 * it is deployed: on FC, CAMS is https and redis may be rediss. A certificate for 127.0.0.1 is made
 * with openssl; a process trusts it through NODE_EXTRA_CA_CERTS, as a function on FC would trust a
 * private CA. TLS ends here, in this process; bytes go on to the server unchanged.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';

export interface TlsFront {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  /** The certificate to name in NODE_EXTRA_CA_CERTS. */
  caFile: string;
  close(): Promise<void>;
}

/** A key and a certificate for 127.0.0.1, and the file a process names in NODE_EXTRA_CA_CERTS. */
export interface TlsCert {
  key: Buffer;
  cert: Buffer;
  caFile: string;
  /** Removes the files. */
  remove(): void;
}

/** Undefined when openssl is not there to make one. */
export function makeTlsCert(openssl: string | undefined): TlsCert | undefined {
  if (!openssl) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'cams-fc-tls-'));
  // RSA 2048, as public endpoints mostly still present.
  execFileSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), caFile: join(dir, 'cert.pem'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Undefined when openssl is not there to make a certificate. With `shared`, the front presents that
 * certificate (several fronts, one CA file) and leaves its files alone.
 */
export async function startTlsFront(openssl: string | undefined, target: { host: string; port: number }, shared?: TlsCert): Promise<TlsFront | undefined> {
  const pem = shared ?? makeTlsCert(openssl);
  if (!pem) return undefined;
  // No Nagle on either leg: with it, small writes wait for delayed ACKs, ~40 ms each on loopback.
  const server = createServer({ key: pem.key, cert: pem.cert, noDelay: true }, (client) => {
    client.setNoDelay(true);
    const upstream = connect({ port: target.port, host: target.host, noDelay: true });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    caFile: pem.caFile,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if (!shared) pem.remove();
      }),
  };
}
