import { describe, expect, it } from 'vitest';
import { StatusPageParams } from '../../../functions/status-page/schema.ts';
import { COOKIE_NAME, cookieValue } from '../../../shared/status-page/access.ts';
import { pageFunction } from '../../../shared/status-page/page-function.ts';
import { STATUS_PAGE_CSP } from '../../../shared/status-page/render.ts';
import { fcContext, httpEvent } from '../../support/events.ts';

const TOKEN = 'a-status-token-of-16+';
const lines: string[] = [];

function fn(env: Record<string, string>) {
  return pageFunction({
    name: 'status-page',
    path: '/status',
    schema: StatusPageParams,
    env,
    write: (l) => lines.push(l),
    render: async ({ params }) => `<!doctype html><p>page${params.waba ? ` ${params.waba}` : ''}</p>`,
  });
}

async function get(env: Record<string, string>, query: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const event = httpEvent({ method: 'GET', path: '/status', query, headers: { host: 'status.example.com', ...headers }, body: '' } as never, 'fc-http');
  return fn(env)(event, fcContext() as never);
}

describe('GET /status access', () => {
  it('without a token configured and not public: 404, as if there were no page', async () => {
    const res = await get({});
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('page');
  });

  it('public: anyone sees it, with the strict CSP and no caching', async () => {
    const res = await get({ STATUS_PAGE_PUBLIC: 'true' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<p>page</p>');
    expect(res.headers['content-security-policy']).toBe(STATUS_PAGE_CSP);
    expect(STATUS_PAGE_CSP).toMatch(/default-src 'none'.*script-src 'none'/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('HEAD: the status and headers GET would give, no body (uptime checkers probe with it)', async () => {
    const event = (method: string) => httpEvent({ method, path: '/status', query: {}, headers: { host: 'status.example.com' }, body: '' } as never, 'fc-http');
    const head = await fn({ STATUS_PAGE_PUBLIC: 'true' })(event('HEAD'), fcContext() as never);
    expect(head).toMatchObject({ statusCode: 200, body: '' });
    expect(head.headers['content-security-policy']).toBe(STATUS_PAGE_CSP);
    const denied = await fn({ STATUS_PAGE_TOKEN: TOKEN })(event('HEAD'), fcContext() as never);
    expect(denied).toMatchObject({ statusCode: 401, body: '' });
  });

  it('token: Bearer works; a wrong one or none is 401 with WWW-Authenticate', async () => {
    const env = { STATUS_PAGE_TOKEN: TOKEN };
    expect((await get(env, {}, { authorization: `Bearer ${TOKEN}` })).statusCode).toBe(200);
    const wrong = await get(env, {}, { authorization: `Bearer ${TOKEN}x` });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="status"');
    const none = await get(env);
    expect(none.statusCode).toBe(401);
    expect(none.body).toContain('MissingToken');
  });

  it('the cookie stops opening the page when its Max-Age runs out, even if a copy of it is kept', async () => {
    const env = { STATUS_PAGE_TOKEN: TOKEN };
    const pair = (await get(env, { token: TOKEN })).headers['set-cookie']!.split(';')[0]!;
    const maxAge = 2_592_000;
    expect((await get(env, {}, { cookie: pair })).statusCode).toBe(200);
    // The same cookie as the server would have issued a day longer ago than its Max-Age.
    const expired = `${COOKIE_NAME}=${cookieValue(TOKEN, Date.now() - 86_400_000)}`;
    expect((await get(env, {}, { cookie: expired })).statusCode).toBe(401);
    // Its expiry cannot be moved: the HMAC covers it.
    const [exp, mac] = pair.slice(COOKIE_NAME.length + 1).split('.') as [string, string];
    expect(Number(exp) * 1000).toBeGreaterThan(Date.now() + (maxAge - 60) * 1000);
    expect((await get(env, {}, { cookie: `${COOKIE_NAME}=${Number(exp) + 86_400}.${mac}` })).statusCode).toBe(401);
  });

  it('?token= on /status/ sets a cookie that /status gets too (one trailing slash is the same page)', async () => {
    const event = httpEvent({ method: 'GET', path: '/status/', query: { token: TOKEN }, headers: { host: 'status.example.com' }, body: '' } as never, 'fc-http');
    const first = await fn({ STATUS_PAGE_TOKEN: TOKEN })(event, fcContext() as never);
    expect(first.statusCode).toBe(303);
    expect(first.headers['set-cookie']).toContain('; Path=/status;');
  });

  it('?token= with a + pasted unencoded (a base64 token): the URL decoding makes it a space, and the token still opens the page', async () => {
    // TOKEN holds a +; URLSearchParams (the local host's trigger) reads ?token=a-status-token-of-16+ as "…16 ".
    const query = new URLSearchParams(`token=${TOKEN}&waba=123`);
    const res = await get({ STATUS_PAGE_TOKEN: TOKEN }, Object.fromEntries(query));
    expect(res.statusCode).toBe(303);
    expect(res.headers['location']).toBe('/status?waba=123');
    expect((await get({ STATUS_PAGE_TOKEN: TOKEN }, { token: TOKEN.replace('+', '-') })).statusCode).toBe(401);
  });

  it('?token= once: 303 to the page without it and an HttpOnly cookie holding no token; the cookie then works', async () => {
    const env = { STATUS_PAGE_TOKEN: TOKEN };
    const first = await get(env, { token: TOKEN, waba: '123' });
    expect(first.statusCode).toBe(303);
    expect(first.headers['location']).toBe('/status?waba=123');
    const cookie = first.headers['set-cookie']!;
    expect(cookie).toMatch(new RegExp(`^${COOKIE_NAME}=\\d+\\.[\\w-]+; Path=/status; HttpOnly; SameSite=Lax; Max-Age=\\d+; Secure$`));
    expect(cookie).not.toContain(TOKEN);
    const pair = cookie.split(';')[0]!;
    const next = await get(env, { waba: '123' }, { cookie: `other=1; ${pair}` });
    expect(next.statusCode).toBe(200);
    expect(next.body).toContain('page 123');
    // HTTP/2 sends each cookie as its own field; FC's event joins repeated headers with commas.
    expect((await get(env, {}, { cookie: `other=1,${pair}` })).statusCode).toBe(200);
    expect((await get(env, {}, { Cookie: 'other=1', cookie: pair })).statusCode).toBe(200);
    // A cookie made from another token does not open it.
    expect((await get(env, {}, { cookie: `${COOKIE_NAME}=${cookieValue('another-token-000000', Date.now() + 60_000)}` })).statusCode).toBe(401);
    expect((await get(env, { token: 'nope' })).statusCode).toBe(401);
    // The local host (plain HTTP on loopback) gets a cookie a browser keeps there.
    expect((await get(env, { token: TOKEN }, { host: '127.0.0.1:9000', 'X-Forwarded-Proto': 'http' })).headers['set-cookie']).not.toContain('Secure');
  });

  // FC hands `?token=a&token=b` over as one value joined with a comma: it was a plain 401, and is
  // refused as POST /cams/receipts refuses it, whether or not one of the two is right.
  it('token given more than once: 400 naming token, the same whether or not one of them is right', async () => {
    const env = { STATUS_PAGE_TOKEN: TOKEN };
    const replies = await Promise.all([`${TOKEN},${TOKEN}`, `nope,${TOKEN}`, `${TOKEN},nope`, 'nope,nope'].map((token) => get(env, { token })));
    for (const res of replies) {
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.body).toContain('<h1>400 InvalidParameter</h1>');
      expect(res.body).toContain('<li>token: given more than once in the query</li>');
      expect(res.body).not.toContain(TOKEN);
      expect(res.body).toBe(replies[0]!.body);
    }
  });

  it('refuses unknown or bad query parameters by name (400), and never logs the token', async () => {
    const env = { STATUS_PAGE_PUBLIC: 'true' };
    const res = await get(env, { foo: '1' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('foo: is not a parameter of this operation');
    expect((await get(env, { waba: '<script>' })).body).not.toContain('<script>');
    await get({ STATUS_PAGE_TOKEN: TOKEN }, { token: TOKEN });
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('a waba that is not a string (a JSON body) is refused as a bad one is, not with a bare "Invalid input"', async () => {
    const event = httpEvent({ method: 'GET', path: '/status', query: {}, headers: { host: 'status.example.com', 'content-type': 'application/json' }, body: '{"waba":true}' } as never, 'fc-http');
    const res = await fn({ STATUS_PAGE_PUBLIC: 'true' })(event, fcContext() as never);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('waba: must be a WabaId (digits) as the page links it');
  });

  it('a bad STATUS_PAGE_TOKEN or STATUS_PAGE_PUBLIC is a 500 ServiceMisconfigured whose log names the variable', async () => {
    lines.length = 0;
    const res = await get({ STATUS_PAGE_TOKEN: 'short' });
    expect(res.statusCode).toBe(500);
    expect(res.body).toContain('ServiceMisconfigured');
    expect(res.body).not.toContain('short');
    expect(lines.join('\n')).toContain('STATUS_PAGE_TOKEN');
    expect((await get({ STATUS_PAGE_PUBLIC: 'yes' })).statusCode).toBe(500);
  });
});
