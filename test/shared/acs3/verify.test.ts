import { stringify as toFormString } from 'node:querystring';
import { describe, expect, it } from 'vitest';
import {
  canonicalQueryPairs,
  canonicalRequest,
  hmacSha256Hex,
  InMemoryNonceRegistry,
  repeatedKeyReadings,
  sha256Hex,
  signAcs3Request,
  stringToSign,
  verifyAcs3Request,
  type Acs3IncomingRequest,
  type VerifyOptions,
} from '../../../shared/acs3/index.ts';

const KEY = { accessKeyId: 'LTAItestkey0001', accessKeySecret: 'secret-0001' };
const NOW = Date.parse('2026-03-01T12:00:00Z');

function options(overrides: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    lookupSecret: (id) => (id === KEY.accessKeyId ? KEY.accessKeySecret : undefined),
    nonces: new InMemoryNonceRegistry(1000, () => NOW),
    now: () => NOW,
    requiredSignedHeaders: ['x-acs-content-sha256'],
    ...overrides,
  };
}

function signed(opts: { sts?: string; date?: Date; nonce?: string; secret?: string } = {}): Acs3IncomingRequest {
  const query = { CustSpaceId: 'cs-1', NodeType: 'phone' };
  const body = toFormString({ PhoneNumber: '8613800000000', VerifiedName: 'Acme *(Shop)!' });
  const headers = signAcs3Request(
    {
      method: 'POST',
      path: '/',
      query,
      headers: {
        host: 'cams.example.test',
        'content-type': 'application/x-www-form-urlencoded',
        'x-acs-action': 'GetWhatsappHealthStatus',
        'x-acs-version': '2020-06-06',
      },
      body,
    },
    { accessKeyId: KEY.accessKeyId, accessKeySecret: opts.secret ?? KEY.accessKeySecret, securityToken: opts.sts },
    { date: opts.date ?? new Date(NOW), nonce: opts.nonce ?? 'nonce-1' },
  );
  return { method: 'POST', path: '/', query, headers, body: Buffer.from(body) };
}

function flipByte(s: string, at: number): string {
  const c = s.charCodeAt(at);
  return s.slice(0, at) + String.fromCharCode(c === 0x41 ? 0x42 : 0x41) + s.slice(at + 1);
}

describe('verifyAcs3Request', () => {
  it('accepts a request signed with the known key, and reports the key and STS token', async () => {
    expect(await verifyAcs3Request(signed(), options())).toEqual({ ok: true, accessKeyId: KEY.accessKeyId, securityToken: undefined });
    const sts = await verifyAcs3Request(signed({ sts: 'CAES-token', nonce: 'n2' }), options());
    expect(sts).toEqual({ ok: true, accessKeyId: KEY.accessKeyId, securityToken: 'CAES-token' });
  });

  it('accepts headers as FC delivers them: any case, repeated values comma-joined', async () => {
    const req = signed();
    const upper = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect((await verifyAcs3Request({ ...req, headers: upper }, options())).ok).toBe(true);
  });

  describe('one changed byte is rejected with SignatureDoesNotMatch', () => {
    const cases: Array<[string, (r: Acs3IncomingRequest) => Acs3IncomingRequest]> = [
      ['in the body', (r) => ({ ...r, body: Buffer.from(flipByte(Buffer.from(r.body).toString(), 5)) })],
      ['in a query value', (r) => ({ ...r, query: { ...r.query, CustSpaceId: 'cs-2' } })],
      ['as an added query param', (r) => ({ ...r, query: { ...r.query, Extra: '' } })],
      ['in the method', (r) => ({ ...r, method: 'PUT' })],
      ['in the path', (r) => ({ ...r, path: '/x' })],
      ['in a signed header (x-acs-action)', (r) => ({ ...r, headers: { ...r.headers, 'x-acs-action': 'ChatappBindWaba' } })],
      ['in a signed header (host)', (r) => ({ ...r, headers: { ...r.headers, host: 'cams.example.tesu' } })],
      ['in the signature itself', (r) => {
        const auth = String(r.headers['Authorization']);
        const last = auth.at(-1) === '0' ? '1' : '0';
        return { ...r, headers: { ...r.headers, Authorization: auth.slice(0, -1) + last } };
      }],
    ];
    for (const [name, tamper] of cases) {
      it(name, async () => {
        const result = await verifyAcs3Request(tamper(signed()), options());
        expect(result).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch', httpStatus: 400 });
      });
    }

    it('when the secret differs by one byte', async () => {
      const result = await verifyAcs3Request(signed({ secret: flipByte(KEY.accessKeySecret, 0) }), options());
      expect(result).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    });

    it('when the body changes but x-acs-content-sha256 is kept', async () => {
      const r = signed();
      const result = await verifyAcs3Request({ ...r, body: Buffer.concat([Buffer.from(r.body), Buffer.from('&x=1')]) }, options());
      expect(result).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch', message: expect.stringMatching(/^Specified signature is not matched with our calculation\. The body does not match x-acs-content-sha256\.$/) });
    });
  });

  it('rejects an unknown AccessKey id with InvalidAccessKeyId.NotFound (404)', async () => {
    const r = signed();
    const auth = String(r.headers['Authorization']).replace(KEY.accessKeyId, 'LTAIunknown');
    expect(await verifyAcs3Request({ ...r, headers: { ...r.headers, Authorization: auth } }, options())).toMatchObject({
      ok: false,
      code: 'InvalidAccessKeyId.NotFound',
      httpStatus: 404,
    });
  });

  it('rejects a date outside the 15-minute window, on both sides, and accepts one just inside', async () => {
    const stale = await verifyAcs3Request(signed({ date: new Date(NOW - 15 * 60_000 - 1000) }), options());
    expect(stale).toMatchObject({ ok: false, code: 'InvalidTimeStamp.Expired', message: expect.stringMatching(/^Specified time stamp or date value is expired\. x-acs-date /) });
    const future = await verifyAcs3Request(signed({ date: new Date(NOW + 16 * 60_000) }), options());
    expect(future).toMatchObject({ ok: false, code: 'InvalidTimeStamp.Expired' });
    const inside = await verifyAcs3Request(signed({ date: new Date(NOW - 14 * 60_000) }), options());
    expect(inside.ok).toBe(true);
  });

  it('rejects a replayed nonce inside the window, per key, and only after the signature held', async () => {
    const opts = options();
    expect((await verifyAcs3Request(signed(), opts)).ok).toBe(true);
    expect(await verifyAcs3Request(signed(), opts)).toMatchObject({ ok: false, code: 'SignatureNonceUsed' });
    // A forged request with a fresh nonce must not burn that nonce for the real key holder.
    const forged = await verifyAcs3Request(signed({ nonce: 'nonce-3', secret: 'wrong' }), opts);
    expect(forged).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch', message: 'Specified signature is not matched with our calculation.' });
    expect((await verifyAcs3Request(signed({ nonce: 'nonce-3' }), opts)).ok).toBe(true);
  });

  it('names what is missing with IncompleteSignature', async () => {
    const r = signed();
    const noAuth = { ...r.headers };
    delete noAuth['Authorization'];
    expect(await verifyAcs3Request({ ...r, headers: noAuth }, options())).toMatchObject({ code: 'IncompleteSignature', message: expect.stringContaining('Authorization') });

    const garbled = { ...r.headers, Authorization: 'ACS3-HMAC-SHA256 Credential=x' };
    expect(await verifyAcs3Request({ ...r, headers: garbled }, options())).toMatchObject({ code: 'IncompleteSignature' });

    const v2 = { ...r.headers, Authorization: 'acs LTAI:abc' };
    expect(await verifyAcs3Request({ ...r, headers: v2 }, options())).toMatchObject({ code: 'IncompleteSignature', message: expect.stringContaining('ACS3-HMAC-SHA256') });

    // Signed-header list without the nonce: the replay guard could be bypassed, so it is refused.
    const auth = String(r.headers['Authorization']).replace(';x-acs-signature-nonce', '');
    expect(await verifyAcs3Request({ ...r, headers: { ...r.headers, Authorization: auth } }, options())).toMatchObject({
      code: 'IncompleteSignature',
      message: expect.stringContaining('x-acs-signature-nonce'),
    });

    const unsignedType = await verifyAcs3Request(
      { ...r, headers: { ...r.headers, Authorization: String(r.headers['Authorization']).replace('content-type;', '') } },
      options(),
    );
    expect(unsignedType).toMatchObject({ code: 'IncompleteSignature', message: expect.stringContaining('content-type') });

    const badDate = signed();
    badDate.headers['x-acs-date'] = 'yesterday';
    expect(await verifyAcs3Request(badDate, options())).toMatchObject({ code: 'IncompleteSignature', message: expect.stringContaining('x-acs-date') });
  });
});

describe('a query key given more than once (FC joins its values with commas)', () => {
  /** Signed over the pairs as sent; the query as FC hands it over, each key once, comma-joined. */
  function repeatedRequest(pairs: Array<[string, string]>, nonce = 'rep-1'): Acs3IncomingRequest {
    const headers = signAcs3Request({ method: 'GET', path: '/x', headers: { host: 'fn.example' }, body: '' }, KEY, { date: new Date(NOW), nonce });
    const signedHeaders = /SignedHeaders=([^,]+)/.exec(headers['Authorization']!)![1]!.split(';');
    const canonical = canonicalRequest({ method: 'GET', path: '/x', query: undefined, canonicalQuery: canonicalQueryPairs(pairs), headers, signedHeaders, hashedPayload: sha256Hex('') });
    headers['Authorization'] = `ACS3-HMAC-SHA256 Credential=${KEY.accessKeyId},SignedHeaders=${signedHeaders.join(';')},Signature=${hmacSha256Hex(KEY.accessKeySecret, stringToSign(canonical))}`;
    const query: Record<string, string> = {};
    for (const [k, v] of pairs) query[k] = k in query ? `${query[k]},${v}` : v;
    return { method: 'GET', path: '/x', query, headers, body: '' };
  }

  it('is SignatureDoesNotMatch unless the caller says the query is comma-joined (the sandbox, the invoke API)', async () => {
    const req = repeatedRequest([['PageSize', '10'], ['PageSize', '20']]);
    expect(await verifyAcs3Request(req, options())).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
  });

  it('with commaJoinedQuery, a signature that holds with the key repeated is RepeatedQueryKey naming it, and spends the nonce', async () => {
    const opts = options({ commaJoinedQuery: true });
    const req = repeatedRequest([['PageSize', '10'], ['PageSize', '20']]);
    expect(await verifyAcs3Request(req, opts)).toEqual({
      ok: false,
      code: 'RepeatedQueryKey',
      httpStatus: 400,
      message: expect.stringContaining('PageSize'),
      repeated: { keys: ['PageSize'], accessKeyId: KEY.accessKeyId },
    });
    expect(await verifyAcs3Request(req, opts)).toMatchObject({ code: 'SignatureNonceUsed' });
  });

  it('names only the repeated keys, beside a value that holds a comma of its own', async () => {
    const req = repeatedRequest([['Name', 'Acme, Inc'], ['CustSpaceId', 'C1'], ['NodeType', 'waba'], ['CustSpaceId', 'C2']]);
    expect(req.query['Name']).toBe('Acme, Inc');
    expect(await verifyAcs3Request(req, options({ commaJoinedQuery: true }))).toMatchObject({ code: 'RepeatedQueryKey', repeated: { keys: ['CustSpaceId'] } });
  });

  it('another key\'s signature, or values other than those signed, stay SignatureDoesNotMatch', async () => {
    const req = repeatedRequest([['PageSize', '10'], ['PageSize', '20']]);
    const forged = { ...req, query: { PageSize: '10,30' } };
    expect(await verifyAcs3Request(forged, options({ commaJoinedQuery: true }))).toMatchObject({ code: 'SignatureDoesNotMatch' });
    const other = options({ commaJoinedQuery: true, lookupSecret: () => 'another-secret' });
    expect(await verifyAcs3Request(req, other)).toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(await verifyAcs3Request(req, other)).not.toHaveProperty('repeated');
  });

  it('readings are bounded: past 4 comma-holding keys none is tried', () => {
    expect(repeatedKeyReadings({ a: '1,2', b: 'x' }).map((r) => r.canonicalQuery)).toEqual(['a=1&a=2&b=x']); // sorted as sent: one reading
    expect(repeatedKeyReadings({ a: 'x' })).toEqual([]);
    expect(repeatedKeyReadings({ a: '2,1' }).map((r) => r.canonicalQuery)).toEqual(['a=2&a=1', 'a=1&a=2']);
    expect(repeatedKeyReadings({ a: '1,2', b: '1,2', c: '1,2', d: '1,2' }).length).toBeLessThanOrEqual(30);
    expect(repeatedKeyReadings({ a: '1,2', b: '1,2', c: '1,2', d: '1,2', e: '1,2' })).toEqual([]);
  });
});
