import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HttpRequest } from '../../../shared/http-fn/event.ts';

// timingSafeEqual watched: the token must be compared whatever the length of the guess.
const compared: number[] = [];
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push(a.byteLength);
      return real.timingSafeEqual(a, b);
    },
  };
});

const { checkAccess, cookieValue, COOKIE_NAME } = await import('../../../shared/status-page/access.ts');

const TOKEN = 'a-status-token-of-16+';
const cfg = { token: TOKEN, public: false };

function request(query: Record<string, string>, headers: Record<string, string> = {}): HttpRequest {
  return { method: 'GET', rawPath: '/status', path: '/status', headers: { host: 'status.example.com', ...headers }, query, pathParameters: {}, body: Buffer.alloc(0) };
}

const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { status?: number }).status;
  }
  return undefined;
};

afterEach(() => {
  compared.length = 0;
});

describe('checkAccess: the token', () => {
  it.each([
    ['?token=', (t: string) => request({ token: t }), 'set-cookie'],
    ['Authorization: Bearer', (t: string) => request({}, { authorization: `Bearer ${t}` }), 'allowed'],
  ])('by %s: a guess of any length is compared in constant time, never answered early by its length', (_, req, kind) => {
    for (const guess of ['x', 'a-status-token-of-16', 'a-status-token-of-16+x', 'b-status-token-of-16+']) {
      compared.length = 0;
      expect(refused(() => checkAccess(cfg, req(guess)))).toBe(401);
      expect(compared.length, guess).toBeGreaterThan(0);
    }
    expect(checkAccess(cfg, req(TOKEN)).kind).toBe(kind);
  });
});

describe('checkAccess: ?token= given more than once', () => {
  it('a token that holds a comma itself is compared as given', () => {
    const comma = { token: 'a-status,token-of-16', public: false };
    expect(checkAccess(comma, request({ token: 'a-status,token-of-16' })).kind).toBe('set-cookie');
    expect(refused(() => checkAccess(comma, request({ token: 'a-status,token-of-17' })))).toBe(401);
    expect(refused(() => checkAccess(cfg, request({ token: `${TOKEN},${TOKEN}` })))).toBe(400);
  });
});

describe('checkAccess: the cookie', () => {
  const now = 1_800_000_000_000;
  const good = `${COOKIE_NAME}=${cookieValue(TOKEN, now + 60_000)}`;
  const rotated = `${COOKIE_NAME}=${cookieValue('an-older-token-of-16', now + 60_000)}`;
  const expired = `${COOKIE_NAME}=${cookieValue(TOKEN, now - 1)}`;

  it('opens the page when any cams_status cookie the browser sends is good: one left from a rotated token, first or not, does not hide it', () => {
    for (const header of [`${rotated}; ${good}`, `${good}; ${rotated}`, `${expired},${good}`, `other=1; ${rotated}; ${good}`]) {
      expect(checkAccess(cfg, request({}, { cookie: header }), now).kind, header).toBe('allowed');
    }
  });

  it('opens the page beside an Authorization header of another scheme (Basic, from a proxy in front of the page): only Bearer is the token', () => {
    for (const authorization of ['Basic dXNlcjpwYXNz', 'ACS3-HMAC-SHA256 Credential=x,SignedHeaders=host,Signature=00']) {
      expect(checkAccess(cfg, request({}, { cookie: good, authorization }), now).kind, authorization).toBe('allowed');
      expect(refused(() => checkAccess(cfg, request({}, { authorization }), now)), authorization).toBe(401);
    }
    // A Bearer token is the token, right or wrong, whatever cookie comes beside it.
    expect(refused(() => checkAccess(cfg, request({}, { cookie: good, authorization: `Bearer ${TOKEN}x` }), now))).toBe(401);
    expect(refused(() => checkAccess(cfg, request({}, { cookie: good, authorization: 'Bearer' }), now))).toBe(401);
  });

  it('is 401 when none is good', () => {
    for (const header of [rotated, `${rotated}; ${expired}`, `other=${cookieValue(TOKEN, now + 60_000)}`]) {
      expect(refused(() => checkAccess(cfg, request({}, { cookie: header }), now)), header).toBe(401);
    }
  });
});
