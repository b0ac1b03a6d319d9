import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SinkDeliveryError, type AlertItem, type AlertNotification } from '../../../../shared/alerts/model.ts';

export const BLOCKED_ERROR = {
  ErrorCode: '141006',
  ErrorDescription: 'There is an error with the payment method associated with the WhatsApp Business Account.',
  PossibleSolution: 'Add a valid payment method in Business Manager, then wait for the account to be re-reviewed.',
};

/**
 * CAMS text written in markdown (one line, as every field is once cleaned): it must show as written,
 * and a template code's `_` (order_update) as it is, so that a code copied from the message is right.
 */
export const CAMS_MARKDOWN = '**URGENT** pay *now* `here` _soon_ ~~never~~ ~x~ order_update # heading > quote - item 1. item [a](http://b) <font color="info">x</font>';
/** CAMS_MARKDOWN as DingTalk and WeCom show it. */
export const CAMS_MARKDOWN_SHOWN = '＊＊URGENT＊＊ pay ＊now＊ ｀here｀ ＿soon＿ ～～never～～ ～x～ order_update # heading ＞ quote - item 1. item [a] (http://b) ＜font color="info"＞x＜/font＞';

export function item(over: Partial<AlertItem> = {}): AlertItem {
  return {
    fingerprint: 'fp-0001',
    subject: { nodeType: 'phone', custSpaceId: 'cs1', wabaId: '299399', phoneNumber: '8613800000000', entityType: 'PHONE_NUMBER' },
    node: 'PHONE_NUMBER phone 8613800000000 · WABA 299399 · space cs1',
    status: 'BLOCKED',
    severity: 'critical',
    since: '2025-03-01T08:00:00.000Z',
    errors: [BLOCKED_ERROR],
    reason: 'new',
    ...over,
  };
}

export function notification(items: AlertItem[] = [item()], over: Partial<AlertNotification> = {}): AlertNotification {
  return {
    id: '5f1c0c9a0e2d4b6f8a9b7c6d5e4f3a2b',
    group: 'waba:299399',
    severity: 'critical',
    title: '[CRITICAL] WhatsApp health, WABA 299399: 1 firing',
    items,
    createdAt: '2025-03-01T08:05:00.000Z',
    ...over,
  };
}

/** `n` distinct items whose errors are long and multi-byte (Chinese, emoji), for size limits. */
export function manyItems(n: number, descriptionRepeat = 20): AlertItem[] {
  return Array.from({ length: n }, (_, i) =>
    item({
      fingerprint: `fp-${i}`,
      node: `PHONE_NUMBER phone 86138000${String(i).padStart(5, '0')} · WABA 299399`,
      errors: [
        {
          ErrorCode: String(131000 + i),
          ErrorDescription: `号码 ${i} 被限制发送消息 🚫 `.repeat(descriptionRepeat),
          PossibleSolution: `请在 Business Manager 中申诉 ✅ item-${i}`,
        },
      ],
    }),
  );
}

export const RESOLVED = item({ status: 'RESOLVED', severity: 'info', errors: [], reason: 'resolved', fingerprint: 'fp-r' });

/** The SinkDeliveryError a send rejects with (fails the test when it resolves or throws something else). */
export async function deliveryError(p: Promise<unknown>): Promise<SinkDeliveryError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SinkDeliveryError) return e;
    throw new Error(`expected a SinkDeliveryError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected the send to fail, it succeeded');
}

/** A loopback port nothing listens on any more (connections are refused). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A loopback server that answers every request with one scripted reply (changed through `reply`). */
export async function cannedServer(first: { status: number; headers?: Record<string, string>; body: unknown }) {
  const state = { reply: first };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(state.reply.status, { 'content-type': 'application/json', ...state.reply.headers });
      res.end(JSON.stringify(state.reply.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
