import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  canonicalQueryString,
  canonicalRequest,
  sha256Hex,
  signAcs3Request,
  stringToSign,
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
  }
});
