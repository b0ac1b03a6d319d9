/**
 * A redis STORE_URL read without connecting (`redis://[user:pass@]host:port[/db][?namespace=…]`,
 * `rediss://` for TLS): what the redis store connects with, or a StoreError CONFIG naming
 * STORE_URL (its password shown as ***). parseStoreUrl checks it this way too, so the local host
 * and packaging refuse a bad one before anything starts.
 */
import { StoreError } from './port.ts';
import { isDigits, isRegExpSpace } from '../text/chars.ts';

export interface RedisUrl {
  host: string;
  port: number;
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
  /** From `?namespace=`. */
  namespace?: string;
  /** The URL as messages show it: its password as ***. */
  shown: string;
}

/** The URL's query parameters the store reads; any other is refused rather than ignored. */
const URL_PARAMS = ['namespace'];

/**
 * The userinfo as written (before the authority's last `@`), or undefined without one. Read from the
 * text, not the parsed URL: the parser percent-encodes a space or a `"` and drops a tab.
 */
function rawUserinfo(url: string): string | undefined {
  const scheme = url.indexOf('://');
  if (scheme < 0) return undefined;
  const from = scheme + 3;
  let end = from;
  while (end < url.length && !'/?#'.includes(url[end]!)) end += 1;
  const at = url.lastIndexOf('@', end - 1);
  return at >= from ? url.slice(from, at) : undefined;
}

/** White space or a `"` (what ends a URL's userinfo for the log's redaction), with string operations. */
function unmaskable(userinfo: string): boolean {
  for (let i = 0; i < userinfo.length; i += 1) {
    const c = userinfo.charCodeAt(i);
    if (c === 0x22 || isRegExpSpace(c)) return true;
  }
  return false;
}

/** The URL without its password, for messages. */
function redact(url: URL): string {
  const u = new URL(url.href);
  if (u.password) u.password = '***';
  return u.href;
}

export function parseRedisUrl(url: string): RedisUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (e) {
    throw new StoreError('CONFIG', `STORE_URL is not a valid redis URL: ${(e as Error).message}`, { cause: e });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new StoreError('CONFIG', `STORE_URL: redis store needs redis:// or rediss://, got ${parsed.protocol}`);
  }
  const shown = redact(parsed);
  // Log lines and the banner mask a URL's userinfo up to white space or a `"` (shared/log/redact.ts):
  // past one of those the rest of the password would be printed. Written percent-encoded, it is not.
  const userinfo = rawUserinfo(url);
  if (userinfo !== undefined && unmaskable(userinfo)) {
    throw new StoreError('CONFIG', `STORE_URL ${shown}: the user or password holds white space or a '"'; write it percent-encoded (%20 for a space, %22 for '"')`);
  }
  // Read with string operations: this runs in a function's first request (see shared/text/chars.ts).
  const hostname = parsed.hostname;
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (!host) throw new StoreError('CONFIG', `STORE_URL ${shown} names no host`);
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const dbPath = parsed.pathname.startsWith('/') ? parsed.pathname.slice(1) : parsed.pathname;
  const db = dbPath === '' ? 0 : Number(dbPath);
  if (!(dbPath === '' || (dbPath.length <= 5 && isDigits(dbPath))) || !Number.isSafeInteger(db)) {
    throw new StoreError('CONFIG', `STORE_URL ${shown}: the path must be a database number (/0, /1, ...), got /${dbPath}`);
  }
  for (const name of parsed.searchParams.keys()) {
    if (!URL_PARAMS.includes(name)) throw new StoreError('CONFIG', `STORE_URL ${shown}: unknown parameter ${JSON.stringify(name)} (known: ${URL_PARAMS.join(', ')})`);
  }
  // Given twice, which one was meant is a guess (a namespace is whose keys these are): refused.
  if (parsed.searchParams.getAll('namespace').length > 1) throw new StoreError('CONFIG', `STORE_URL ${shown}: parameter "namespace" is given more than once`);
  const namespace = parsed.searchParams.get('namespace') ?? undefined;
  return {
    host,
    port,
    db,
    tls: parsed.protocol === 'rediss:',
    shown,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(parsed.password ? { password: decodeCredential(parsed.password, 'password', shown) } : {}),
    ...(parsed.password && parsed.username ? { username: decodeCredential(parsed.username, 'user name', shown) } : {}),
  };
}

/**
 * A user name or password as the URL writes it. A `%` not followed by two hex digits (Alibaba Cloud
 * allows % in redis passwords) threw a bare URIError, "URI malformed", that named no variable.
 */
function decodeCredential(text: string, what: string, shown: string): string {
  try {
    return decodeURIComponent(text);
  } catch (e) {
    throw new StoreError('CONFIG', `STORE_URL ${shown}: the ${what} is not valid percent-encoding (write a % in it as %25)`, { cause: e });
  }
}
