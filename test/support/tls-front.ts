/**
 * TLS in front of a loopback TCP server (the sandbox, a redis stand-in), for running a function as
 * it is deployed: on FC, CAMS is https and redis may be rediss. A certificate for 127.0.0.1 is made
 * with openssl; a process trusts it through NODE_EXTRA_CA_CERTS, as a function on FC would trust a
 * private CA. TLS ends here, in this process; bytes go on to the server unchanged.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, isIP, type AddressInfo } from 'node:net';
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

/** A key and a self-signed certificate, in files under `dir` (which a test may also write to). */
export interface TlsCert {
  key: Buffer;
  cert: Buffer;
  keyFile: string;
  /** The certificate's file: what a process names in NODE_EXTRA_CA_CERTS. */
  caFile: string;
  dir: string;
  /** Removes `dir`. */
  remove(): void;
}

export interface TlsCertOptions {
  /** The name it is for: an IP address or a DNS name. Default 127.0.0.1. */
  name?: string;
  /** Default rsa (RSA 2048, as public endpoints mostly still present). */
  keyType?: 'rsa' | 'ec';
}

/** Undefined when openssl is not there to make one. */
export function makeTlsCert(openssl: string | undefined, opts: TlsCertOptions = {}): TlsCert | undefined {
  if (!openssl) return undefined;
  const name = opts.name ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'cams-fc-tls-'));
  const keyFile = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  const key = opts.keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  const san = isIP(name) ? `IP:${name}` : `DNS:${name}`;
  execFileSync(openssl, ['req', '-x509', ...key, '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`], { stdio: 'ignore' });
  return { key: readFileSync(keyFile), cert: readFileSync(caFile), keyFile, caFile, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
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
