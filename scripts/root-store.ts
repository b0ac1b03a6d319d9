/**
 * The TLS root store a function ships: Node's own bundled root certificates (`tls.rootCertificates`
 * of the Node that builds), written as an OpenSSL hashed directory, `<subject hash>.<n>`, one PEM
 * a file.
 *
 * Why: before its first handshake, a Node 20 TLS client parses all ~140 bundled roots into a store,
 * 30–50 ms at every cold start (OpenSSL 3 decodes certificates slowly; a `ca` option does not avoid
 * it). With `--use-openssl-ca`, Node asks OpenSSL's default paths instead, and OpenSSL looks a
 * hashed directory up lazily: a handshake reads the one root its chain needs. serverless.yml sets
 * NODE_OPTIONS=--use-openssl-ca, SSL_CERT_DIR=/code/certs and SSL_CERT_FILE=/code/certs/none.pem (an
 * empty file, so no system bundle is read). The same roots are trusted, only read differently.
 *
 * The file name is what OpenSSL's X509_NAME_hash gives (`openssl x509 -subject_hash`): SHA-1 of the
 * subject name in OpenSSL's canonical form, its first four bytes read little-endian. Build-time
 * code only: nothing here is in a function bundle.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';

/** Where FC puts a function's code (its FC_FUNC_CODE_PATH). */
export const FC_CODE_DIR = '/code';
/** The folder inside dist/<function>/: serverless.yml's SSL_CERT_DIR is FC_CODE_DIR/<this>. */
export const ROOT_STORE_DIR = 'certs';
/** An empty PEM file for SSL_CERT_FILE: OpenSSL then loads no bundle file, only the directory. */
export const NO_CERT_FILE = 'none.pem';

/** The variables that have a Node process read its TLS roots from the directory `dir`, as serverless.yml does. */
export function rootStoreEnv(dir: string): { NODE_OPTIONS: string; SSL_CERT_DIR: string; SSL_CERT_FILE: string } {
  return { NODE_OPTIONS: '--use-openssl-ca', SSL_CERT_DIR: dir, SSL_CERT_FILE: join(dir, NO_CERT_FILE) };
}

interface Tlv {
  tag: number;
  /** The whole element: tag, length and contents. */
  start: number;
  /** Where the contents start and end. */
  body: number;
  end: number;
}

function readTlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error(`DER: element at ${at} runs past its parent`);
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) throw new Error(`DER: multi-byte tag at ${at}`);
  let length = der[at + 1]!;
  let body = at + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 3) throw new Error(`DER: unsupported length form at ${at}`);
    length = 0;
    for (let i = 0; i < octets; i += 1) length = length * 256 + der[body + i]!;
    body += octets;
  }
  const end = body + length;
  if (end > limit) throw new Error(`DER: element at ${at} runs past its parent`);
  return { tag, start: at, body, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end; ) {
    const child = readTlv(der, at, parent.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

/**
 * The subject Name of a DER certificate (Certificate → tbsCertificate → its 6th field, 5th without
 * a version), as its RDNs, each the list of its entries.
 */
export function subjectName(der: Uint8Array): Tlv[][] {
  const cert = readTlv(der, 0, der.length);
  const tbs = children(der, cert)[0];
  if (cert.tag !== 0x30 || !tbs || tbs.tag !== 0x30) throw new Error('DER: not a certificate');
  const fields = children(der, tbs);
  const subject = fields[fields[0]?.tag === 0xa0 ? 5 : 4];
  if (!subject || subject.tag !== 0x30) throw new Error('DER: certificate without a subject name');
  return children(der, subject).map((set) => {
    if (set.tag !== 0x31) throw new Error('DER: a name component is not a SET');
    return children(der, set);
  });
}

function encodeLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

const tlv = (tag: number, contents: Uint8Array): Uint8Array => Uint8Array.from([tag, ...encodeLength(contents.length), ...contents]);

/**
 * String types OpenSSL canonicalises (ASN1_MASK_CANON); any other value is kept as it is. The mask
 * also names VisibleString, but OpenSSL refuses a name that holds one.
 */
const UTF8 = 0x0c;
const LATIN1_TYPES = new Set([0x13 /* Printable */, 0x14 /* T61 */, 0x16 /* IA5 */]);
const BMP = 0x1e;
const UNIVERSAL = 0x1c;

function toUtf8(tag: number, bytes: Uint8Array): Uint8Array | undefined {
  if (tag === UTF8) return bytes;
  let text: string;
  if (LATIN1_TYPES.has(tag)) text = Buffer.from(bytes).toString('latin1');
  else if (tag === BMP) text = Buffer.from(bytes).swap16().toString('utf16le');
  else if (tag === UNIVERSAL) {
    const points: number[] = [];
    for (let i = 0; i + 3 < bytes.length; i += 4) points.push(((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0);
    text = String.fromCodePoint(...points);
  } else return undefined;
  return Buffer.from(text, 'utf8');
}

/** OpenSSL's isspace: space, \t, \n, \v, \f, \r. */
const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);

/** asn1_string_canon: trim, one space for each run of white space, ASCII lower case; other bytes kept. */
function canonicalText(utf8: Uint8Array): Uint8Array {
  let from = 0;
  let to = utf8.length;
  while (from < to && isSpace(utf8[from]!)) from += 1;
  while (to > from && isSpace(utf8[to - 1]!)) to -= 1;
  const out: number[] = [];
  for (let i = from; i < to; ) {
    const b = utf8[i]!;
    if (b >= 0x80) {
      out.push(b);
      i += 1;
    } else if (isSpace(b)) {
      out.push(0x20);
      while (isSpace(utf8[i]!)) i += 1;
    } else {
      out.push(b >= 0x41 && b <= 0x5a ? b + 0x20 : b);
      i += 1;
    }
  }
  return Uint8Array.from(out);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i += 1) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** x509_name_canon + i2d_name_canon: each RDN as a DER SET of canonical entries, concatenated (no outer SEQUENCE). */
function canonicalName(der: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const rdn of subjectName(der)) {
    const entries = rdn.map((atv) => {
      const [type, value] = children(der, atv);
      if (atv.tag !== 0x30 || !type || type.tag !== 0x06 || !value) throw new Error('DER: malformed name entry');
      const utf8 = toUtf8(value.tag, der.subarray(value.body, value.end));
      const canonValue = utf8 === undefined ? der.subarray(value.start, value.end) : tlv(UTF8, canonicalText(utf8));
      return tlv(0x30, Uint8Array.from([...der.subarray(type.start, type.end), ...canonValue]));
    });
    // DER orders a SET OF by the encodings of its members.
    entries.sort(compareBytes);
    parts.push(tlv(0x31, Uint8Array.from(entries.flatMap((e) => [...e]))));
  }
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

/** OpenSSL's X509_NAME_hash of the certificate's subject, as `openssl x509 -subject_hash` prints it. */
export function subjectHash(der: Uint8Array): string {
  const md = createHash('sha1').update(canonicalName(der)).digest();
  return md.readUInt32LE(0).toString(16).padStart(8, '0');
}

export function pemToDer(pem: string): Uint8Array {
  const begin = pem.indexOf('-----BEGIN CERTIFICATE-----');
  const end = pem.indexOf('-----END CERTIFICATE-----');
  if (begin < 0 || end < begin) throw new Error('not a PEM certificate');
  return Buffer.from(pem.slice(begin + 27, end).replace(/\s+/g, ''), 'base64');
}

/**
 * Writes `dir` afresh: each certificate as `<subject hash>.<n>` (n counts certificates whose
 * subjects hash alike, as `openssl rehash` does) and the empty none.pem. Returns the file names.
 */
export function writeRootStore(dir: string, pems: readonly string[] = rootCertificates): string[] {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const seen = new Map<string, number>();
  const names: string[] = [];
  for (const pem of pems) {
    const hash = subjectHash(pemToDer(pem));
    const n = seen.get(hash) ?? 0;
    seen.set(hash, n + 1);
    const name = `${hash}.${n}`;
    writeFileSync(join(dir, name), pem.endsWith('\n') ? pem : `${pem}\n`);
    names.push(name);
  }
  writeFileSync(join(dir, NO_CERT_FILE), '');
  return names;
}
