// A Lark / Feishu custom bot stand-in: hook id in the path; with signing, timestamp (seconds)
// within 1 h and sign = base64(HMAC-SHA256(key = ts + "\n" + secret, "")), else code 19021; body
// at most 20 KB; msg_type text / interactive / post. Answers {"code":0,...} (or the older
// {"StatusCode":0,...} shape); optional frequency limit answering 11232.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { collectStrings, isObject, MinuteWindow, nonEmptyString, parseJson, startReceiverServer, type HarnessOptions, type Reply, type ReceiverServer } from './harness.ts';

export interface LarkReceiverOptions extends HarnessOptions {
  hookId?: string;
  /** The bot's signing secret; null for a bot without signature verification. */
  secret?: string | null;
  /** Answer success the older way: {"StatusCode":0,"StatusMessage":"success"}. */
  legacyReply?: boolean;
  /** Messages per minute before code 11232 (Lark: 100); off by default. */
  throttlePerMinute?: number;
  maxBytes?: number;
}

export interface LarkReceiver extends ReceiverServer {
  url: string;
  hookId: string;
  secret: string | null;
}

const fail = (code: number, msg: string, reason = msg, status = 200): Reply => ({ status, body: { code, data: {}, msg }, reason });

export async function startLarkReceiver(opts: LarkReceiverOptions = {}): Promise<LarkReceiver> {
  const hookId = opts.hookId ?? '0f3a2b7c-1d4e-4f5a-9b8c-7d6e5f4a3b2c';
  const secret = opts.secret === undefined ? 'lark-test-secret-0001' : opts.secret;
  const maxBytes = opts.maxBytes ?? 20 * 1024;
  const window = opts.throttlePerMinute ? new MinuteWindow(opts.throttlePerMinute) : undefined;
  const path = `/open-apis/bot/v2/hook/${hookId}`;

  const server = await startReceiverServer(
    'lark',
    ({ method, url, raw, now }) => {
      if (method !== 'POST') return { status: 405, body: 'method not allowed', reason: 'not POST' };
      if (url.pathname !== path) return fail(19001, 'param invalid: incoming webhook access token invalid');
      if (raw.length > maxBytes) return fail(9499, `request body too large (${raw.length} > ${maxBytes} bytes)`, 'body too large', 400);
      const parsed = parseJson(raw);
      if (!parsed.ok || !isObject(parsed.value)) return fail(9499, 'Bad Request', 'invalid json', 400);
      const body = parsed.value;
      if (secret) {
        const ts = String(body['timestamp'] ?? '');
        const sign = typeof body['sign'] === 'string' ? body['sign'] : '';
        const bad = fail(19021, 'sign match fail or timestamp is not within one hour from current time');
        if (!/^\d{1,11}$/.test(ts) || Math.abs(now / 1000 - Number(ts)) > 3600) return { ...bad, reason: 'timestamp missing, not seconds or not within 1 h' };
        const want = createHmac('sha256', `${ts}\n${secret}`).update('').digest();
        const got = Buffer.from(sign, 'base64');
        if (got.length !== want.length || !timingSafeEqual(got, want)) return { ...bad, reason: 'bad sign' };
      }
      let text: string;
      const type = body['msg_type'];
      if (type === 'text') {
        const c = body['content'];
        if (!isObject(c) || !nonEmptyString(c['text'])) return fail(9499, 'content.text is required', 'bad text body', 400);
        text = c['text'];
      } else if (type === 'interactive') {
        const card = body['card'];
        if (!isObject(card) || !(Array.isArray(card['elements']) || Array.isArray(card['body']) || isObject(card['i18n_elements']))) {
          return fail(9499, 'card is invalid', 'bad card', 400);
        }
        text = collectStrings(card, new Set(['content'])).join('\n');
      } else if (type === 'post') {
        if (!isObject(body['content'])) return fail(9499, 'content.post is required', 'bad post body', 400);
        text = collectStrings(body['content'], new Set(['text', 'title'])).join('\n');
      } else return fail(9499, 'msg_type invalid', 'bad msg_type', 400);
      if (window) {
        if (window.full(now)) return fail(11232, 'frequency limited psm[lark.oapi.app_platform_runtime]appID[1]');
        window.add(now);
      }
      return { body: opts.legacyReply ? { Extra: null, StatusCode: 0, StatusMessage: 'success' } : { code: 0, data: {}, msg: 'success' }, accept: { body, text } };
    },
    opts,
  );
  return Object.assign(server, { url: `${server.origin}${path}`, hookId, secret });
}
