import { stringify as toFormString } from 'node:querystring';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signAcs3Request, sha256Hex } from '../../../shared/acs3/index.ts';
import { OpenApiUtil } from '../../support/official-sdk.ts';

// Param names are CAMS-style identifiers (the SDK signs keys unencoded, as CAMS names never need it);
// values are where the encoding rules bite, so they range over all of unicode and the RFC 3986 oddities.
const paramName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,19}$/);
const awkward = fc.constantFrom('', ' ', '*()!~\'', 'a b*(c)~', '+&=?/#%', '%20', 'é中文🙂', '\u0000\t\n');
const paramValue = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 2, arbitrary: awkward },
);
const params = fc.dictionary(paramName, paramValue, { maxKeys: 8 });
const headerValue = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_.:/=;,*()!~\''.split('')), maxLength: 30 });

const request = fc.record({
  method: fc.constantFrom('POST', 'GET'),
  action: fc.constantFrom('ChatappBindWaba', 'QueryChatappBindWaba', 'AddChatappPhoneNumber', 'GetWhatsappHealthStatus'),
  query: params,
  form: fc.option(params, { nil: undefined }),
  extraAcsHeaders: fc.dictionary(fc.stringMatching(/^x-acs-[a-z]{1,10}$/), headerValue, { maxKeys: 3 }),
  accessKeyId: fc.stringMatching(/^[A-Za-z0-9]{8,24}$/),
  accessKeySecret: fc.string({ minLength: 1, maxLength: 40 }),
  securityToken: fc.option(fc.string({ unit: fc.constantFrom(...'ABCdef0123456789+/='.split('')), minLength: 1, maxLength: 60 }), { nil: undefined }),
  date: fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2035-01-01T00:00:00Z'), noInvalidDate: true }),
  nonce: fc.stringMatching(/^[0-9a-f]{32}$/),
});

describe('our ACS3 signer against @alicloud/openapi-util', () => {
  it('produces the byte-identical Authorization for 1,500 random requests', () => {
    let withBody = 0;
    let withSts = 0;
    fc.assert(
      fc.property(request, (r) => {
        const body = r.form === undefined ? '' : toFormString(r.form);
        const headers: Record<string, string> = {
          ...r.extraAcsHeaders,
          host: 'cams.ap-southeast-1.aliyuncs.com',
          'x-acs-action': r.action,
          'x-acs-version': '2020-06-06',
          'user-agent': 'AlibabaCloud (linux; x64) Node.js/v20 Core/1.0.1 TeaDSL/1',
          accept: 'application/json',
        };
        if (r.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
        const creds = { accessKeyId: r.accessKeyId, accessKeySecret: r.accessKeySecret, securityToken: r.securityToken };

        const ours = signAcs3Request({ method: r.method, path: '/', query: r.query, headers, body }, creds, {
          date: r.date,
          nonce: r.nonce,
        });

        // The official path: the same headers the SDK would hold before it signs, then getAuthorization.
        const officialHeaders = { ...ours };
        delete officialHeaders['Authorization'];
        const hashed = OpenApiUtil.hexEncode(OpenApiUtil.hash(Buffer.from(body), 'ACS3-HMAC-SHA256'));
        expect(hashed).toBe(sha256Hex(body));
        const theirs = OpenApiUtil.getAuthorization(
          { method: r.method, pathname: '/', query: r.query, headers: officialHeaders },
          'ACS3-HMAC-SHA256',
          hashed,
          r.accessKeyId,
          r.accessKeySecret,
        );
        expect(ours['Authorization']).toBe(theirs);
        if (body) withBody++;
        if (r.securityToken) withSts++;
      }),
      { numRuns: 1500 },
    );
    // The generator really covered both shapes.
    expect(withBody).toBeGreaterThan(300);
    expect(withSts).toBeGreaterThan(300);
  });

  it('encodes form bodies exactly as the SDK does', () => {
    fc.assert(
      fc.property(params, (p) => {
        const plain = { ...p };
        expect(toFormString(plain)).toBe(OpenApiUtil.toForm(plain));
      }),
      { numRuns: 500 },
    );
  });
});
