// The HTTP exchange every sink shares: POST over shared/http/request.ts with a timeout, network
// errors and timeouts as retryable SinkDeliveryErrors (unanswered: the channel is down), HTTP status classification, and redaction:
// webhook URLs carry credentials (DingTalk access_token, WeCom key, the Slack path, Lark's hook id),
// so no error message ever shows a query string, a token-like path segment or a signing secret.
import type { IncomingHttpHeaders } from 'node:http';
import { httpRequest, HttpTimeoutError } from '../../http/request.ts';
import { HttpReplyTooLargeError } from '../../http/response-reader.ts';
import { SinkDeliveryError } from '../model.ts';
import { redactValues } from '../../log/redact.ts';

export const DEFAULT_TIMEOUT_MS = 5000;
/** Chat webhooks answer a few bytes; anything past this is not worth buffering. */
const MAX_REPLY_BYTES = 64 * 1024;

/** What every sink constructor accepts besides its credentials. */
export interface SinkOptions {
  /** Whole-exchange timeout per message (default 5 s). */
  timeoutMs?: number;
  /** Clock for signing timestamps (epoch ms); tests move it. */
  now?: () => number;
}

export interface SinkReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The reply parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/** A path segment that looks like a credential: long, or letters and digits mixed. */
function secretSegment(seg: string, afterServices: boolean): boolean {
  if (seg === '') return false;
  if (afterServices) return true; // hooks.slack.com/services/T…/B…/<secret>
  return seg.length >= 16 || (seg.length >= 8 && /\d/.test(seg) && /[a-z]/i.test(seg));
}

/** The URL with its query, user info and credential-like path segments replaced by ***. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return '<invalid URL>';
  }
  const segs = u.pathname.split('/');
  const services = segs.indexOf('services');
  const path = segs.map((s, i) => (secretSegment(s, services >= 0 && i > services) ? '***' : s)).join('/');
  return `${u.protocol}//${u.host}${path}${u.search ? '?***' : ''}`;
}

/** The strings of a URL that must never appear in a message. */
export function secretsOfUrl(url: string | URL): string[] {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return [String(url)];
  }
  const segs = u.pathname.split('/');
  const services = segs.indexOf('services');
  // The Basic credentials the request carries (basicAuth): a receiver echoing our headers hands them back.
  const basic = basicCredentials(u);
  const out = [u.href, u.search.slice(1), u.username, u.password, ...(basic ? [basic] : []), ...u.searchParams.values()];
  segs.forEach((s, i) => {
    if (secretSegment(s, services >= 0 && i > services)) out.push(s);
  });
  return out.filter((s) => s.length >= 4);
}

/** A short, printable, secret-free excerpt of a reply for an error message. */
export function excerpt(text: string, secrets: readonly string[], max = 200): string {
  const one = redactValues(text.replace(/\s+/g, ' ').trim(), secrets);
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * `https://user:password@host/…` as curl and node:http read it: HTTP Basic credentials. The request
 * line carries only the path, so without this header the receiver never saw them and answered 401
 * to every alert.
 */
function basicAuth(url: URL): Record<string, string> {
  const basic = basicCredentials(url);
  return basic === undefined ? {} : { authorization: `Basic ${basic}` };
}

/** The base64 `user:password` of a URL's user info (percent-decoded), undefined without one. */
function basicCredentials(url: URL): string | undefined {
  if (url.username === '' && url.password === '') return undefined;
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s; // a stray % is taken as written
    }
  };
  return Buffer.from(`${decode(url.username)}:${decode(url.password)}`, 'utf8').toString('base64');
}

export interface PostOptions {
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Strings to keep out of messages besides the URL's own (e.g. the signing secret). */
  secrets?: readonly string[];
}

/**
 * POSTs a JSON body. Only a reply comes back: connection errors and timeouts are thrown as
 * retryable SinkDeliveryErrors naming the redacted URL. A reply whose body is longer than
 * MAX_REPLY_BYTES is still the receiver's answer (a webhook that echoes a large payload with 200
 * has it): it comes back with its status and headers and an empty text, never as a failure to
 * reach the receiver, which would send the message again.
 */
export async function postJson(sink: string, url: URL, body: string, opts: PostOptions): Promise<SinkReply> {
  const where = redactUrl(url);
  const secrets = [...secretsOfUrl(url), ...(opts.secrets ?? [])];
  let res;
  try {
    res = await httpRequest(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json, text/plain, */*', ...basicAuth(url), ...opts.headers },
      body,
      timeoutMs: opts.timeoutMs,
      maxBodyBytes: MAX_REPLY_BYTES,
    });
  } catch (e) {
    if (e instanceof HttpReplyTooLargeError && e.status !== undefined) return { status: e.status, headers: e.headers ?? {}, text: '', json: undefined };
    if (e instanceof HttpTimeoutError) throw new SinkDeliveryError(sink, `no reply from ${where} within ${opts.timeoutMs} ms`, true, undefined, undefined, true);
    const code = (e as { code?: unknown }).code;
    const detail = typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
    throw new SinkDeliveryError(sink, `could not reach ${where}: ${excerpt(detail, secrets)}`, true, undefined, undefined, true);
  }
  const text = res.body.toString('utf8');
  let json: unknown;
  try {
    json = text.trim() === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * The error for a reply whose HTTP status says it failed: 429 and 5xx are retryable (with their
 * Retry-After), any other status is not. Returns undefined for a 2xx.
 */
export function httpStatusFailure(sink: string, url: URL, reply: SinkReply, extraSecrets: readonly string[] = []): SinkDeliveryError | undefined {
  const { status } = reply;
  if (status >= 200 && status < 300) return undefined;
  const secrets = [...secretsOfUrl(url), ...extraSecrets];
  const retryable = status === 429 || status >= 500;
  const wait = retryable ? retryAfterMs(reply.headers['retry-after']) : undefined;
  const what = status === 429 ? 'rate limited' : retryable ? 'server error' : 'rejected';
  const body = excerpt(reply.text, secrets);
  return new SinkDeliveryError(sink, `${what}: HTTP ${status} from ${redactUrl(url)}${body ? `: ${body}` : ''}`, retryable, wait, `HTTP ${status}`);
}

/**
 * A reply whose body's own code the sink does not know: still retryable when its HTTP status says
 * so (429 or 5xx), after the Retry-After it gave, or when the code itself is known to be passing.
 */
export function unknownCodeFailure(sink: string, message: string, reply: SinkReply, retryableCode: boolean, code?: number): SinkDeliveryError {
  const byStatus = reply.status === 429 || reply.status >= 500;
  return new SinkDeliveryError(sink, message, retryableCode || byStatus, byStatus ? retryAfterMs(reply.headers['retry-after']) : undefined, code === undefined ? undefined : String(code));
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
