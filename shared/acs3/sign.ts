import { randomBytes } from 'node:crypto';
import {
  ACS3_ALGORITHM,
  canonicalRequest,
  groupHeaders,
  hmacSha256Hex,
  isSignableHeader,
  sha256Hex,
  stringToSign,
  type QueryParams,
} from './canonical.ts';

export interface Acs3Credentials {
  accessKeyId: string;
  accessKeySecret: string;
  /** STS token: signed as x-acs-security-token, with x-acs-accesskey-id beside it. */
  securityToken?: string | undefined;
}

export interface Acs3OutgoingRequest {
  method: string;
  path: string;
  query?: QueryParams | undefined;
  /** Must hold `host`; `content-type` too when there is a body. */
  headers: Record<string, string>;
  body?: string | Uint8Array | undefined;
}

export interface SignOptions {
  /** Fixed clock and nonce, for vectors and tests. */
  date?: Date;
  nonce?: string;
}

/** ISO-8601 UTC to the second, as the SDK writes x-acs-date. */
export function acsTimestamp(date: Date): string {
  const iso = date.toISOString(); // ...T12:34:56.789Z: drop the milliseconds
  return `${iso.slice(0, -5)}Z`;
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/**
 * Signs a request in place of the official SDK: adds x-acs-date, x-acs-signature-nonce,
 * x-acs-content-sha256 (and the STS headers), then Authorization. Returns the headers to send.
 */
export function signAcs3Request(
  req: Acs3OutgoingRequest,
  creds: Acs3Credentials,
  opts: SignOptions = {},
): Record<string, string> {
  const headers: Record<string, string> = { ...req.headers };
  const hashedPayload = sha256Hex(req.body ?? '');
  setDefault(headers, 'x-acs-date', acsTimestamp(opts.date ?? new Date()));
  setDefault(headers, 'x-acs-signature-nonce', opts.nonce ?? newNonce());
  headers['x-acs-content-sha256'] = hashedPayload;
  if (creds.securityToken) {
    headers['x-acs-accesskey-id'] = creds.accessKeyId;
    headers['x-acs-security-token'] = creds.securityToken;
  }
  const signedHeaders = [...groupHeaders(headers).keys()].filter(isSignableHeader).sort();
  const canonical = canonicalRequest({
    method: req.method,
    path: req.path,
    query: req.query,
    headers,
    signedHeaders,
    hashedPayload,
  });
  const signature = hmacSha256Hex(creds.accessKeySecret, stringToSign(canonical));
  headers['Authorization'] =
    `${ACS3_ALGORITHM} Credential=${creds.accessKeyId},SignedHeaders=${signedHeaders.join(';')},Signature=${signature}`;
  return headers;
}

function setDefault(headers: Record<string, string>, name: string, value: string): void {
  const present = Object.keys(headers).some((k) => k.toLowerCase() === name);
  if (!present) headers[name] = value;
}
