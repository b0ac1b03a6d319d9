// A DingTalk custom robot stand-in: checks what the real robot checks (access_token; with "加签",
// timestamp within 1 h and the HMAC sign; the body shape and size) and answers the way it does:
// HTTP 200 with {"errcode", "errmsg"}. Optional throttle mode: over N messages a minute the robot
// answers 130101 for 10 minutes.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isObject, MinuteWindow, nonEmptyString, parseJson, startReceiverServer, type HarnessOptions, type Reply, type ReceiverServer } from './harness.ts';

export interface DingTalkReceiverOptions extends HarnessOptions {
  accessToken?: string;
  /** The robot's "加签" secret; null for a robot without signing (keyword / IP security only). */
  secret?: string | null;
  /** Messages per minute before throttling (DingTalk: 20); off by default. */
  throttlePerMinute?: number;
  /** How long a throttled robot stays throttled (DingTalk: 10 minutes). */
  throttleMs?: number;
}

export interface DingTalkReceiver extends ReceiverServer {
  /** The webhook URL to configure (with access_token). */
  url: string;
  accessToken: string;
  secret: string | null;
}

const ok = { errcode: 0, errmsg: 'ok' };
const err = (errcode: number, errmsg: string, reason = errmsg): Reply => ({ body: { errcode, errmsg }, reason });

function expectedSign(secret: string, timestamp: string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest();
}

export async function startDingTalkReceiver(opts: DingTalkReceiverOptions = {}): Promise<DingTalkReceiver> {
  const accessToken = opts.accessToken ?? 'dt0123456789abcdef0123456789abcdef';
  const secret = opts.secret === undefined ? 'SECdingtalk-test-secret-0001' : opts.secret;
  const window = opts.throttlePerMinute ? new MinuteWindow(opts.throttlePerMinute) : undefined;
  const throttleMs = opts.throttleMs ?? 10 * 60_000;
  let throttledUntil = 0;

  const server = await startReceiverServer(
    'dingtalk',
    ({ method, url, raw, now }) => {
      if (method !== 'POST') return { status: 405, body: 'method not allowed', reason: 'not POST' };
      if (url.pathname !== '/robot/send') return { status: 404, body: 'not found', reason: 'unknown path' };
      if (url.searchParams.get('access_token') !== accessToken) return err(300001, 'token is not exist');
      if (secret) {
        const ts = url.searchParams.get('timestamp') ?? '';
        const sign = url.searchParams.get('sign') ?? '';
        if (!/^\d{13}$/.test(ts) || Math.abs(now - Number(ts)) > 3_600_000) return err(310000, 'sign not match, timestamp is invalid', 'timestamp missing or not within 1 h');
        const got = Buffer.from(sign, 'base64');
        const want = expectedSign(secret, ts);
        if (got.length !== want.length || !timingSafeEqual(got, want)) return err(310000, 'sign not match', 'bad sign');
      }
      if (raw.length > 20_000) return err(460101, 'message too long, exceed 20000 bytes');
      const parsed = parseJson(raw);
      if (!parsed.ok || !isObject(parsed.value)) return err(40035, 'invalid json');
      const body = parsed.value;
      let text: string;
      if (body['msgtype'] === 'markdown') {
        const md = body['markdown'];
        if (!isObject(md) || !nonEmptyString(md['title']) || !nonEmptyString(md['text'])) return err(40035, 'markdown.title and markdown.text are required');
        text = `${md['title']}\n${md['text']}`;
      } else if (body['msgtype'] === 'text') {
        const t = body['text'];
        if (!isObject(t) || !nonEmptyString(t['content'])) return err(40035, 'text.content is required');
        text = t['content'];
      } else return err(40035, 'unsupported msgtype');
      if (window) {
        if (now < throttledUntil) return err(130101, 'send too fast, exceed 20 times per minute');
        if (window.full(now)) {
          throttledUntil = now + throttleMs;
          return err(130101, 'send too fast, exceed 20 times per minute');
        }
        window.add(now);
      }
      return { body: ok, accept: { body, text } };
    },
    opts,
  );
  return Object.assign(server, { url: `${server.origin}/robot/send?access_token=${accessToken}`, accessToken, secret });
}
