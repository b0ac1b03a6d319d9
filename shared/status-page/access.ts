import { createHmac, timingSafeEqual } from 'node:crypto';
import { HttpError } from '../http-fn/errors.ts';
import { refuseRepeatedQuerySecret, secretEquals } from '../http-fn/secret-equal.ts';
import type { HttpRequest } from '../http-fn/event.ts';
import { isDigits } from '../text/chars.ts';
import type { StatusPageConfig } from './config.ts';

export const COOKIE_NAME = 'cams_status';

/** How long the cookie opens the page: its Max-Age, held by the server too (a kept copy expires with it). */
const COOKIE_MAX_AGE_S = 30 * 24 * 3600;

/**
 * `<expiry in unix seconds>.<HMAC>`: a value derived from the token, never the token itself (a new
 * token voids old cookies), over its expiry (which cannot be moved).
 */
export function cookieValue(token: string, expiresAtMs: number): string {
  const exp = String(Math.floor(expiresAtMs / 1000));
  return `${exp}.${createHmac('sha256', token).update(`cams-fc status page cookie v2 ${exp}`).digest('base64url')}`;
}

/** Whether a cookie value is one cookieValue gave for this token and has not expired. */
function validCookie(value: string, token: string, nowMs: number): boolean {
  const dot = value.indexOf('.');
  const exp = value.slice(0, dot);
  if (dot < 1 || dot > 12 || !isDigits(exp) || Number(exp) * 1000 <= nowMs) return false;
  return same(value, cookieValue(token, Number(exp) * 1000));
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A cookie's values. HTTP/2 browsers send each cookie as its own header field, which FC joins with
 * commas (`a=1,cams_status=…`) rather than `; `; a cookie value never holds a comma (RFC 6265). A
 * browser sends every cookie of the name whose Path and Domain match, so one left from a rotated
 * token, or one for another path or subdomain, must not hide the good one: any may open the page.
 */
function cookiesOf(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  for (const part of (header ?? '').split(/[;,]/)) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) values.push(v.join('='));
  }
  return values;
}

export type Access =
  | { kind: 'allowed' }
  /** `?token=` was right: set the cookie and send the viewer to the same page without the token in its URL. */
  | { kind: 'set-cookie'; location: string; cookie: string };

const loopback = (host: string | undefined) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(host ?? '');

/**
 * Who may see the page: anyone when STATUS_PAGE_PUBLIC=true; with STATUS_PAGE_TOKEN, a viewer with
 * `Authorization: Bearer <token>`, the cookie, or `?token=<token>` (once: answered with the cookie
 * and a redirect). With neither configured the page does not exist (404).
 */
export function checkAccess(cfg: Pick<StatusPageConfig, 'token' | 'public'>, http: HttpRequest, nowMs = Date.now()): Access {
  // A token holds no space (config.ts): a space here is a `+` of the token pasted into the URL as is,
  // which the query's form decoding turned into a space (a base64 token, say).
  const given = http.query['token']?.replaceAll(' ', '+');
  if (cfg.public && given === undefined) return { kind: 'allowed' };
  if (!cfg.token) {
    if (cfg.public) return { kind: 'allowed' };
    throw new HttpError(404, 'NotFound', `no route for ${http.path}`);
  }
  const token = cfg.token;
  if (given !== undefined) {
    // `?token=a&token=b`: 400 whether or not one of them is right, as POST /cams/receipts answers it.
    refuseRepeatedQuerySecret(given, token, 'token');
    if (!secretEquals(given, token)) throw new HttpError(401, 'InvalidToken', 'the token is not right');
    const rest = Object.entries(http.query).filter(([k]) => k !== 'token');
    const location = http.path + (rest.length ? `?${new URLSearchParams(rest).toString()}` : '');
    // Secure everywhere but plain-HTTP loopback (the local host), where a browser would drop it.
    // SameSite=Lax, not Strict: a ?token= link opened from another site (a chat message, a wiki) is a
    // cross-site navigation, and a browser withholds a Strict cookie from it and from the redirect
    // that follows, so the viewer met 401 however often they reloaded. The page is a read-only GET
    // that cannot be framed: with Lax another site can at most open it for the viewer, never read it.
    const secure = loopback(http.headers['host']) && http.headers['x-forwarded-proto'] !== 'https' ? '' : '; Secure';
    // The route answers with one trailing slash too: Path=/status covers /status/, not the other way round.
    const path = http.path.length > 1 && http.path.endsWith('/') ? http.path.slice(0, -1) : http.path;
    return {
      kind: 'set-cookie',
      location,
      cookie: `${COOKIE_NAME}=${cookieValue(token, nowMs + COOKIE_MAX_AGE_S * 1000)}; Path=${path}; HttpOnly; SameSite=Lax; Max-Age=${COOKIE_MAX_AGE_S}${secure}`,
    };
  }
  const auth = http.headers['authorization'];
  // Another scheme (Basic from a proxy in front of the page, say) is not ours: the cookie still opens it.
  if (auth !== undefined && /^Bearer(\s|$)/i.test(auth)) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (m && secretEquals(m[1]!, token)) return { kind: 'allowed' };
    throw new HttpError(401, 'InvalidToken', 'the Bearer token is not right');
  }
  // At most a few: a header stuffed with thousands is not worth an HMAC each.
  if (cookiesOf(http.headers['cookie'], COOKIE_NAME).slice(0, 4).some((c) => validCookie(c, token, nowMs))) return { kind: 'allowed' };
  throw new HttpError(401, 'MissingToken', 'this page needs the status page token: Authorization: Bearer <token>, or ?token=<token> once');
}
