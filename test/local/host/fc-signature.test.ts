import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcAuthorization, fcStringToSign, verifyFcRequest, type FcQueries } from '../../../local/host/fc-signature.ts';

const require = createRequire(import.meta.url);
// The official SDK's own signing code, as the reference.
const helper = require('@alicloud/fc2/lib/helper.js') as { composeStringToSign(m: string, p: string, h: Record<string, string>, q: FcQueries | null): string };
const FC = require('@alicloud/fc2') as { getSignature(id: string, secret: string, m: string, p: string, h: Record<string, string>, q: FcQueries | null): string };

const token = fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/);
const headerValue = fc.stringMatching(/^[ -~]{0,24}$/).map((s) => s.trim());

describe('FC signature: byte-equal with @alicloud/fc2', () => {
  it('string to sign and Authorization for random requests', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        fc.array(token, { minLength: 1, maxLength: 4 }),
        fc.dictionary(token.map((t) => `x-fc-${t.toLowerCase()}`), headerValue, { maxKeys: 4 }),
        fc.option(fc.dictionary(token, fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 })), { maxKeys: 4 }), { nil: null }),
        fc.boolean(),
        token,
        token,
        (method, segments, fcHeaders, queries, withBody, id, secret) => {
          const headers: Record<string, string> = { accept: 'application/json', date: new Date(1_700_000_000_000).toUTCString(), host: 'h', ...fcHeaders };
          if (withBody) {
            headers['content-type'] = 'application/octet-stream';
            headers['content-md5'] = Buffer.from(createHash('md5').update(segments.join('')).digest('hex')).toString('base64');
          }
          const path = `/2016-08-15/${segments.join('/')}`;
          expect(fcStringToSign(method, path, headers, queries)).toBe(helper.composeStringToSign(method, path, { ...headers }, queries && { ...queries }));
          expect(fcAuthorization(id, secret, fcStringToSign(method, path, headers, queries))).toBe(FC.getSignature(id, secret, method, path, { ...headers }, queries && { ...queries }));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('verifyFcRequest', () => {
  const now = Date.parse('2024-01-01T00:00:00Z');
  const key = { accessKeySecret: 'the-secret-0001' };
  const path = '/2016-08-15/services/s-dev/functions/f/invocations';
  const body = Buffer.from('{"x":1}');
  const signed = (over: Record<string, string> = {}, secret = key.accessKeySecret, id = 'AK1') => {
    const headers: Record<string, string> = {
      date: new Date(now).toUTCString(),
      'content-type': 'application/octet-stream',
      'content-md5': Buffer.from(createHash('md5').update(body).digest('hex')).toString('base64'),
      'x-fc-account-id': '123',
      ...over,
    };
    headers['authorization'] = FC.getSignature(id, secret, 'POST', path, headers, null);
    return headers;
  };
  const verify = (headers: Record<string, string>, b = body, lookup = (id: string) => (id === 'AK1' ? key : undefined)) =>
    verifyFcRequest({ method: 'POST', rawPath: path, query: {}, headers, body: b }, { lookup, now: () => now });

  it('accepts what fc2 signs', () => {
    expect(verify(signed())).toEqual({ ok: true, accessKeyId: 'AK1' });
  });

  it('rejects a wrong secret, an unknown key, a missing or malformed Authorization', () => {
    expect(verify(signed({}, 'wrong-secret'))).toMatchObject({ ok: false, status: 403, code: 'SignatureNotMatch' });
    expect(verify(signed({}, 'x', 'AK9'))).toMatchObject({ ok: false, status: 403, code: 'InvalidAccessKeyID' });
    const { authorization: _a, ...unsigned } = signed();
    expect(verify(unsigned)).toMatchObject({ ok: false, status: 403, code: 'AccessDenied' });
    expect(verify({ ...signed(), authorization: 'ACS3-HMAC-SHA256 x' })).toMatchObject({ ok: false, code: 'AccessDenied' });
  });

  it('rejects a tampered x-fc header and a body that does not match Content-MD5', () => {
    expect(verify({ ...signed(), 'x-fc-invocation-type': 'Async' })).toMatchObject({ code: 'SignatureNotMatch' });
    expect(verify(signed(), Buffer.from('{"x":2}'))).toMatchObject({ ok: false, status: 400, code: 'InvalidArgument' });
  });

  it('enforces the 15-minute Date window', () => {
    const old = new Date(now - 16 * 60_000).toUTCString();
    expect(verify(signed({ date: old }))).toMatchObject({ ok: false, status: 403, code: 'RequestTimeTooSkewed' });
    expect(verify(signed({ date: new Date(now + 14 * 60_000).toUTCString() }))).toMatchObject({ ok: true });
    const { date: _d, ...noDate } = signed();
    expect(verify(noDate)).toMatchObject({ ok: false, code: 'MissingRequiredHeader' });
  });

  it('requires the security token of an STS key', () => {
    const lookup = () => ({ accessKeySecret: key.accessKeySecret, securityToken: 'tok' });
    expect(verify(signed({ 'x-fc-security-token': 'tok' }), body, lookup)).toMatchObject({ ok: true });
    expect(verify(signed({ 'x-fc-security-token': 'other' }), body, lookup)).toMatchObject({ ok: false, code: 'InvalidSecurityToken' });
    expect(verify(signed(), body, lookup)).toMatchObject({ ok: false, code: 'InvalidSecurityToken' });
  });
});
