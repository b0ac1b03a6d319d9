import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  canonicalQueryString,
  canonicalRequest,
  InMemoryNonceRegistry,
  sha256Hex,
  signAcs3Request,
  stringToSign,
  verifyAcs3Request,
} from '../../../shared/acs3/index.ts';

interface Vector {
  name: string;
  accessKeyId: string;
  accessKeySecret: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  expected: { hashedPayload: string; canonicalQuery: string; signedHeaders: string; stringToSign: string; signature: string };
}

// The repo keeps a copy of the team's vectors; when the shared folder sits beside the checkout (as in
// CI), its current vectors are checked too, so a vector added there is never silently skipped.
const load = (url: URL): Vector[] => (JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as { vectors: Vector[] }).vectors;
const sharedVectors = new URL('../../../../shared/vectors/acs3.json', import.meta.url);
const vectors = [
  ...load(new URL('../../fixtures/acs3-vectors.json', import.meta.url)),
  ...(existsSync(fileURLToPath(sharedVectors)) ? load(sharedVectors) : []),
];

describe('ACS3 vectors (test/fixtures/acs3-vectors.json and ../shared/vectors/acs3.json)', () => {
  it('has at least one vector', () => {
    expect(vectors.length).toBeGreaterThan(0);
  });

  for (const [i, v] of vectors.entries()) {
    it(`${i}: ${v.name}`, () => {
      const headers = signAcs3Request(
        { method: v.method, path: v.path, query: v.query, headers: v.headers, body: v.body },
        { accessKeyId: v.accessKeyId, accessKeySecret: v.accessKeySecret },
      );
      expect(headers['x-acs-content-sha256']).toBe(v.expected.hashedPayload);
      expect(sha256Hex(v.body)).toBe(v.expected.hashedPayload);
      expect(canonicalQueryString(v.query)).toBe(v.expected.canonicalQuery);
      const signedHeaders = v.expected.signedHeaders.split(';');
      const canonical = canonicalRequest({
        method: v.method,
        path: v.path,
        query: v.query,
        headers,
        signedHeaders,
        hashedPayload: v.expected.hashedPayload,
      });
      expect(stringToSign(canonical)).toBe(v.expected.stringToSign);
      expect(headers['Authorization']).toBe(
        `ACS3-HMAC-SHA256 Credential=${v.accessKeyId},SignedHeaders=${v.expected.signedHeaders},Signature=${v.expected.signature}`,
      );
    });

    // The verifier the sandbox and the routes use takes the vector's request as sent, and only that.
    it(`${i}: ${v.name}: verified as sent; one hex digit of the signature changed is SignatureDoesNotMatch`, async () => {
      const now = () => Date.parse(v.headers['x-acs-date']!);
      const verify = (signature: string) =>
        verifyAcs3Request(
          {
            method: v.method,
            path: v.path,
            query: v.query,
            headers: {
              ...v.headers,
              'x-acs-content-sha256': v.expected.hashedPayload,
              authorization: `ACS3-HMAC-SHA256 Credential=${v.accessKeyId},SignedHeaders=${v.expected.signedHeaders},Signature=${signature}`,
            },
            body: v.body,
          },
          { lookupSecret: (id) => (id === v.accessKeyId ? v.accessKeySecret : undefined), nonces: new InMemoryNonceRegistry(10, now), requiredSignedHeaders: ['x-acs-content-sha256'], now },
        );
      expect(await verify(v.expected.signature)).toEqual({ ok: true, accessKeyId: v.accessKeyId, securityToken: undefined });
      const last = v.expected.signature.slice(-1) === '0' ? '1' : '0';
      expect(await verify(v.expected.signature.slice(0, -1) + last)).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    });
  }
});
