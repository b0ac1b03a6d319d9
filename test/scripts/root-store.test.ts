// scripts/root-store.ts: the hashed root directory a function ships. Its file names must be what
// OpenSSL's own lookup computes, or a handshake under a root would fail on FC; checked against the
// openssl command on every root Node bundles, on names made to stress the canonical form, and
// end to end through a Node process started with --use-openssl-ca.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, rootCertificates, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { NO_CERT_FILE, pemToDer, rootStoreEnv, subjectHash, subjectName, writeRootStore } from '../../scripts/root-store.ts';
import { failInCIWithout } from '../support/ci.ts';
import { makeTlsCert, type TlsCert } from '../support/tls-front.ts';
import { findOnPath } from '../shared/store/redis-server.ts';

const openssl = findOnPath('openssl');
failInCIWithout(openssl, 'root store: openssl is installed in CI', 'openssl is not on PATH: .ci/run must install it');

const dirs: string[] = [];
const certs: TlsCert[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cams-fc-roots-'));
  dirs.push(dir);
  return dir;
}
function cert(name?: string): TlsCert {
  const c = makeTlsCert(openssl, { keyType: 'ec', ...(name ? { name } : {}) })!;
  certs.push(c);
  return c;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const c of certs) c.remove();
});

// A DER encoder of the test's own, independent of the one under test.
function der(tag: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}
/** Header length and contents length of the element at `at`. */
function header(buf: Buffer, at: number): [number, number] {
  const first = buf[at + 1]!;
  if (!(first & 0x80)) return [2, first];
  let len = 0;
  for (let i = 0; i < (first & 0x7f); i += 1) len = len * 256 + buf[at + 2 + i]!;
  return [2 + (first & 0x7f), len];
}
function elements(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; ) {
    const [head, len] = header(buf, at);
    out.push(buf.subarray(at, at + head + len));
    at += head + len;
  }
  return out;
}
const contents = (el: Buffer): Buffer => el.subarray(header(el, 0)[0]);

/** The certificate with its subject replaced (the signature no longer matches; hashing does not care). */
function withSubject(certDer: Buffer, name: Buffer): Buffer {
  const [tbs, ...rest] = elements(contents(certDer));
  const fields = elements(contents(tbs!));
  fields[fields[0]![0] === 0xa0 ? 5 : 4] = name;
  return der(0x30, der(0x30, ...fields), ...rest);
}

const OIDS: Record<string, Buffer> = {
  CN: Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]),
  O: Buffer.from([0x06, 0x03, 0x55, 0x04, 0x0a]),
  OU: Buffer.from([0x06, 0x03, 0x55, 0x04, 0x0b]),
  C: Buffer.from([0x06, 0x03, 0x55, 0x04, 0x06]),
  L: Buffer.from([0x06, 0x03, 0x55, 0x04, 0x07]),
  email: Buffer.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
};
// VisibleString is left out: OpenSSL refuses a name that holds one (not in B_ASN1_PRINTABLE).
type StringType = 'utf8' | 'printable' | 't61' | 'ia5' | 'bmp' | 'universal' | 'numeric';
const TAGS: Record<StringType, number> = { utf8: 0x0c, printable: 0x13, t61: 0x14, ia5: 0x16, bmp: 0x1e, universal: 0x1c, numeric: 0x12 };
function encodeValue(type: StringType, text: string): Buffer {
  if (type === 'utf8') return der(TAGS.utf8, Buffer.from(text, 'utf8'));
  if (type === 'bmp') return der(TAGS.bmp, Buffer.from(text, 'utf16le').swap16());
  if (type === 'universal') {
    const points = [...text].map((ch) => ch.codePointAt(0)!);
    const b = Buffer.alloc(points.length * 4);
    points.forEach((p, i) => b.writeUInt32BE(p, i * 4));
    return der(TAGS.universal, b);
  }
  return der(TAGS[type], Buffer.from(text, 'latin1'));
}
interface Atv {
  oid: keyof typeof OIDS;
  type: StringType;
  text: string;
}
const nameOf = (rdns: Atv[][]): Buffer => der(0x30, ...rdns.map((rdn) => der(0x31, ...rdn.map((a) => der(0x30, OIDS[a.oid]!, encodeValue(a.type, a.text))))));

/** `openssl x509 -subject_hash` of each certificate, in one shell. */
function opensslHashes(ders: Buffer[]): string[] {
  const dir = tempDir();
  ders.forEach((d, i) => writeFileSync(join(dir, `${i}.der`), d));
  const script = `for i in $(seq 0 ${ders.length - 1}); do "$0" x509 -inform DER -noout -subject_hash -in "${dir}/$i.der" 2>&1 || echo FAILED; done`;
  return execFileSync('sh', ['-c', script, openssl!], { encoding: 'utf8' }).trim().split('\n');
}

const CASES: [string, Atv[][]][] = [
  ['upper case, runs of spaces and tabs, spaces at both ends', [[{ oid: 'CN', type: 'printable', text: '  Hello \t  WORLD\n ' }], [{ oid: 'O', type: 'utf8', text: 'ACME\u000bCorp' }]]],
  ['Latin-1 in a T61String, non-ASCII in a UTF8String', [[{ oid: 'L', type: 't61', text: 'Müller ÉTÉ' }], [{ oid: 'O', type: 'utf8', text: 'Ünïcödé ÄÖ' }]]],
  ['BMPString and UniversalString, upper case inside', [[{ oid: 'O', type: 'bmp', text: '東京 TOWER' }], [{ oid: 'CN', type: 'universal', text: 'ROOT 𝔸 CA' }]]],
  ['a multi-valued RDN, its members out of DER order', [[{ oid: 'OU', type: 'utf8', text: 'Zed' }, { oid: 'CN', type: 'printable', text: 'Alpha' }, { oid: 'O', type: 'ia5', text: 'Mid' }], [{ oid: 'C', type: 'printable', text: 'DE' }]]],
  ['a type OpenSSL does not canonicalise (NumericString) stays as it is', [[{ oid: 'CN', type: 'numeric', text: '  12  34 ' }]]],
  ['an IA5String e-mail address', [[{ oid: 'email', type: 'ia5', text: ' Ops@Example.COM' }], [{ oid: 'CN', type: 'utf8', text: 'Ops  Desk' }]]],
  ['only white space', [[{ oid: 'CN', type: 'utf8', text: ' \t ' }]]],
  ['an empty name', []],
];

describe.skipIf(!openssl)('subjectHash: what openssl x509 -subject_hash prints', () => {
  it('for every root certificate Node bundles', () => {
    const ders = rootCertificates.map((pem) => Buffer.from(pemToDer(pem)));
    expect(ders.length).toBeGreaterThan(100);
    expect(ders.map((d) => subjectHash(d))).toEqual(opensslHashes(ders));
  });

  it('for names that exercise the canonical form', () => {
    const base = pemToDer(cert().cert.toString());
    const ders = CASES.map(([, rdns]) => withSubject(Buffer.from(base), nameOf(rdns)));
    const want = opensslHashes(ders);
    expect(want).not.toContain('FAILED');
    expect(CASES.map(([title], i) => [title, subjectHash(ders[i]!)])).toEqual(CASES.map(([title], i) => [title, want[i]]));
  });

  it('for generated names: any mix of string types, cases, white space and RDN sizes', () => {
    const base = Buffer.from(pemToDer(cert().cert.toString()));
    // any code point up to `max` but surrogates, which no string type can hold
    const point = (max: number) => fc.integer({ min: 0x20, max }).filter((c) => c < 0xd800 || c > 0xdfff);
    const char = (max: number) => fc.oneof(fc.constantFrom(' ', '\t', '\n', '\r', 'A', 'Z', 'a', 'z', '0', '-', '.'), point(max).map((c) => String.fromCodePoint(c)));
    const textFor: Record<StringType, fc.Arbitrary<string>> = {
      utf8: fc.array(char(0x2ffff), { maxLength: 12 }).map((a) => a.join('')),
      universal: fc.array(char(0x2ffff), { maxLength: 12 }).map((a) => a.join('')),
      bmp: fc.array(char(0xd7ff), { maxLength: 12 }).map((a) => a.join('')),
      printable: fc.array(char(0xff), { maxLength: 12 }).map((a) => a.join('')),
      t61: fc.array(char(0xff), { maxLength: 12 }).map((a) => a.join('')),
      ia5: fc.array(char(0x7e), { maxLength: 12 }).map((a) => a.join('')),
      numeric: fc.array(fc.constantFrom('0', '1', '9', ' '), { maxLength: 8 }).map((a) => a.join('')),
    };
    const atv: fc.Arbitrary<Atv> = fc
      .record({ oid: fc.constantFrom(...(Object.keys(OIDS) as (keyof typeof OIDS)[])), type: fc.constantFrom(...(Object.keys(TAGS) as StringType[])) })
      .chain(({ oid, type }) => textFor[type].map((text) => ({ oid, type, text })));
    const names = fc.sample(fc.array(fc.array(atv, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }), { numRuns: 60, seed: 20261201 });
    const ders = names.map((rdns) => withSubject(base, nameOf(rdns)));
    const want = opensslHashes(ders);
    expect(want).not.toContain('FAILED');
    const got = ders.map((d) => subjectHash(d));
    const wrong = got.flatMap((h, i) => (h === want[i] ? [] : [{ name: names[i], ours: h, openssl: want[i] }]));
    expect(wrong).toEqual([]);
  });

  it('names what is wrong with input that is not a certificate', () => {
    expect(() => pemToDer('not a certificate')).toThrow('not a PEM certificate');
    const der = Buffer.from(pemToDer(cert().cert.toString()));
    expect(() => subjectName(der.subarray(0, 40))).toThrow(/^DER: /);
    expect(() => subjectName(Buffer.from([0x04, 0x00]))).toThrow('DER: not a certificate');
  });
});

describe.skipIf(!openssl)('writeRootStore', () => {
  it("writes every root Node bundles where OpenSSL's own lookup finds it", () => {
    const dir = tempDir();
    const names = writeRootStore(dir);
    expect(names).toHaveLength(rootCertificates.length);
    expect(readdirSync(dir).sort()).toEqual([...names, NO_CERT_FILE].sort());
    expect(readFileSync(join(dir, NO_CERT_FILE), 'utf8')).toBe('');
    // A root verifies only when the lookup finds it by its subject hash (-no-CAfile -no-CAstore:
    // this directory is the only place to look).
    const out = execFileSync(openssl!, ['verify', '-no-CAfile', '-no-CAstore', '-CApath', dir, '-no_check_time', ...names.map((n) => join(dir, n))], { encoding: 'utf8' });
    expect(out.trim().split('\n').filter((l) => l.endsWith(': OK'))).toHaveLength(names.length);
  });

  it('numbers subjects that hash alike .0, .1, … and OpenSSL finds each', () => {
    const a = cert('same.example');
    const b = cert('same.example');
    const dir = tempDir();
    const names = writeRootStore(dir, [a.cert.toString(), b.cert.toString()]);
    const hash = subjectHash(pemToDer(a.cert.toString()));
    expect(names).toEqual([`${hash}.0`, `${hash}.1`]);
    const out = execFileSync(openssl!, ['verify', '-no-CAfile', '-no-CAstore', '-CApath', dir, a.caFile, b.caFile], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual([`${a.caFile}: OK`, `${b.caFile}: OK`]);
  });
});

describe.skipIf(!openssl)('a Node process with --use-openssl-ca and the written directory', () => {
  let server: Server | undefined;
  afterAll(() => server?.close());

  /** Connects from a fresh `node` with only these variables; resolves with `authorized` or the error code. */
  function handshake(port: number, env: Record<string, string>): Promise<string> {
    const script = `const s=require('tls').connect({host:'127.0.0.1',port:${port},servername:'localhost'},()=>{console.log(s.authorized?'authorized':'unauthorized');s.destroy()});s.on('error',e=>console.log(e.code||e.message))`;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(out.trim()));
    });
  }

  it('trusts a root the directory holds, and refuses one it does not', async () => {
    const trusted = cert('localhost');
    server = createServer({ key: trusted.key, cert: trusted.cert });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const withIt = tempDir();
    writeRootStore(withIt, [...rootCertificates.slice(0, 5), trusted.cert.toString()]);
    const without = tempDir();
    writeRootStore(without, [...rootCertificates.slice(0, 5), cert('localhost').cert.toString()]);
    expect(await handshake(port, rootStoreEnv(withIt))).toBe('authorized');
    // a certificate with the same subject but another key is not the one the server presents
    expect(await handshake(port, rootStoreEnv(without))).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    // NODE_EXTRA_CA_CERTS still adds to the directory's roots (README: a private CA for rediss://)
    expect(await handshake(port, { ...rootStoreEnv(without), NODE_EXTRA_CA_CERTS: trusted.caFile })).toBe('authorized');
    // and without the flag Node keeps its bundled roots, where the test's certificate is not
    expect(await handshake(port, { SSL_CERT_DIR: withIt, SSL_CERT_FILE: join(withIt, NO_CERT_FILE) })).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});
