import { describe, expect, it } from 'vitest';
import { DEFAULT_NONCE_CAPACITY, InMemoryNonceRegistry, signAcs3Request, verifyAcs3Request, type Acs3IncomingRequest, type VerifyOptions } from '../../../shared/acs3/index.ts';

const KEY = { accessKeyId: 'replay-key', accessKeySecret: 'replay-secret' };
const T0 = Date.parse('2026-03-01T12:00:00Z');
const MIN = 60_000;

function signedAt(at: number, nonce: string): Acs3IncomingRequest {
  const req = { method: 'GET', path: '/waba', query: { CustSpaceId: 'cs-1' }, headers: { host: 'fn.example' }, body: '' };
  return { ...req, headers: signAcs3Request(req, KEY, { date: new Date(at), nonce }) };
}

describe('replay of a captured request, with the production registry and more requests than it holds', () => {
  it('is refused after more than 100,000 other validly signed requests; the overflow is refused, not the memory of the nonce', async () => {
    const clock = { t: T0 };
    const opts: VerifyOptions = {
      lookupSecret: (id) => (id === KEY.accessKeyId ? KEY.accessKeySecret : undefined),
      nonces: new InMemoryNonceRegistry(DEFAULT_NONCE_CAPACITY, () => clock.t),
      now: () => clock.t,
      requiredSignedHeaders: ['x-acs-content-sha256'],
    };
    const captured = signedAt(T0, 'captured');
    expect(await verifyAcs3Request(captured, opts)).toMatchObject({ ok: true });

    // 100,500 other callers' requests over the next 10 minutes, each signed at its own time.
    const others = DEFAULT_NONCE_CAPACITY + 500;
    const outcomes = new Map<string, number>();
    for (let i = 0; i < others; i++) {
      clock.t = T0 + Math.floor((i * 10 * MIN) / others);
      const r = await verifyAcs3Request(signedAt(clock.t, `other-${i}`), opts);
      const key = r.ok ? 'ok' : r.code;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    // The cache took as many as it holds, then failed closed for the rest.
    expect(Object.fromEntries(outcomes)).toEqual({ ok: DEFAULT_NONCE_CAPACITY - 1, 'System.NonceCacheFull': 501 });

    clock.t = T0 + 10 * MIN;
    expect(await verifyAcs3Request(captured, opts)).toMatchObject({ ok: false, code: 'SignatureNonceUsed', httpStatus: 400 });
    clock.t = T0 + 15 * MIN;
    expect(await verifyAcs3Request(captured, opts)).toMatchObject({ ok: false, code: 'SignatureNonceUsed' });

    // Past the window the captured request is stale anyway, and expired nonces have made room.
    clock.t = T0 + 16 * MIN + 1000;
    expect(await verifyAcs3Request(captured, opts)).toMatchObject({ ok: false, code: 'InvalidTimeStamp.Expired' });
    expect(await verifyAcs3Request(signedAt(clock.t, 'after-the-window'), opts)).toMatchObject({ ok: true });
  }, 120_000);
});
