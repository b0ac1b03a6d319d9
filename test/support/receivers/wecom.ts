// A WeCom group robot stand-in: `key` in the URL is the credential (else 93000); markdown content
// at most 4096 bytes (else 40058) and well-formed UTF-8; optional rate limit answering 45009.
import { isObject, isWellFormedUtf8, LONE_SURROGATE, MinuteWindow, parseJson, startReceiverServer, type HarnessOptions, type Reply, type ReceiverServer } from './harness.ts';

export interface WeComReceiverOptions extends HarnessOptions {
  key?: string;
  /** Messages per minute before errcode 45009 (WeCom: 20); off by default. */
  throttlePerMinute?: number;
}

export interface WeComReceiver extends ReceiverServer {
  url: string;
  key: string;
}

export const WECOM_MARKDOWN_MAX_BYTES = 4096;
const fail = (errcode: number, errmsg: string, reason = errmsg): Reply => ({ body: { errcode, errmsg }, reason });

export async function startWeComReceiver(opts: WeComReceiverOptions = {}): Promise<WeComReceiver> {
  const key = opts.key ?? '693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa';
  const window = opts.throttlePerMinute ? new MinuteWindow(opts.throttlePerMinute) : undefined;

  const server = await startReceiverServer(
    'wecom',
    ({ method, url, raw, now }) => {
      if (method !== 'POST') return { status: 405, body: 'method not allowed', reason: 'not POST' };
      if (url.pathname !== '/cgi-bin/webhook/send') return { status: 404, body: 'not found', reason: 'unknown path' };
      if (url.searchParams.get('key') !== key) return fail(93000, 'invalid webhook url, hint: [1700000000_1_test], from ip: 127.0.0.1');
      if (!isWellFormedUtf8(raw)) return fail(40035, 'invalid parameter: body is not valid utf-8', 'bad utf-8 bytes');
      const parsed = parseJson(raw);
      if (!parsed.ok || !isObject(parsed.value)) return fail(40035, 'invalid parameter');
      const body = parsed.value;
      let text: string;
      if (body['msgtype'] === 'markdown') {
        const md = body['markdown'];
        if (!isObject(md) || typeof md['content'] !== 'string' || md['content'] === '') return fail(40035, 'markdown.content is required');
        if (LONE_SURROGATE.test(md['content'])) return fail(40035, 'invalid parameter: content is not valid utf-8', 'character cut in half');
        const bytes = Buffer.byteLength(md['content'], 'utf8');
        if (bytes > WECOM_MARKDOWN_MAX_BYTES) return fail(40058, `markdown.content exceed max length ${WECOM_MARKDOWN_MAX_BYTES}`, `content is ${bytes} bytes`);
        text = md['content'];
      } else if (body['msgtype'] === 'text') {
        const t = body['text'];
        if (!isObject(t) || typeof t['content'] !== 'string' || t['content'] === '') return fail(40035, 'text.content is required');
        if (Buffer.byteLength(t['content'], 'utf8') > 2048) return fail(40058, 'text.content exceed max length 2048');
        text = t['content'];
      } else return fail(40008, 'invalid message type');
      if (window) {
        if (window.full(now)) return fail(45009, 'api freq out of limit');
        window.add(now);
      }
      return { body: { errcode: 0, errmsg: 'ok' }, accept: { body, text } };
    },
    opts,
  );
  return Object.assign(server, { url: `${server.origin}/cgi-bin/webhook/send?key=${key}`, key });
}
