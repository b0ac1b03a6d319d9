// Generic signed webhook: the notification as JSON, signed the way Stripe-style webhooks are:
//   X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>
//   X-Alert-Id:  <notification.id>   (the same owed alerts always make the same id: de-duplicate on it)
// 2xx is success; 429 and 5xx (and network errors) are retryable; other 4xx are not.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AlertItem, AlertNotification, AlertSink, Outage } from '../model.ts';
import { outageText } from './format.ts';
import { DEFAULT_TIMEOUT_MS, httpStatusFailure, postJson, type SinkOptions } from './deliver.ts';

const SIGNATURE_HEADER = 'X-Signature';
const ALERT_ID_HEADER = 'X-Alert-Id';
const DEFAULT_TOLERANCE_S = 300;

/** The body the webhook receives. */
export interface WebhookPayload {
  id: string;
  group: string;
  severity: AlertNotification['severity'];
  title: string;
  /** The items; a recovery's outage also carries its text ("BLOCKED for 2 h 14 min (since …)"). */
  items: Array<Omit<AlertItem, 'outage'> & { outage?: Outage & { text: string } }>;
  createdAt: string;
}

export function webhookPayload(n: AlertNotification): WebhookPayload {
  const items = n.items.map(({ outage, ...i }) => (outage ? { ...i, outage: { ...outage, text: outageText(outage) } } : i));
  return { id: n.id, group: n.group, severity: n.severity, title: n.title, items, createdAt: n.createdAt };
}

function hmacHex(secret: string, t: number | string, rawBody: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${t}.`, 'utf8').update(rawBody).digest('hex');
}

/** The X-Signature value for a raw body at unix time `tSeconds`. */
export function signWebhookBody(rawBody: string | Uint8Array, secret: string, tSeconds: number): string {
  return `t=${tSeconds},v1=${hmacHex(secret, tSeconds, rawBody)}`;
}

/**
 * Checks an X-Signature header against the raw body as received (before any JSON parsing): the
 * timestamp must be within `toleranceS` of `nowSeconds` (either way: a replay older than 5 minutes
 * is refused, and so is a clock far ahead), and one of the v1 signatures must match, compared in
 * constant time. Several v1 entries are allowed (secret rotation).
 */
export function verifyWebhookSignature(
  rawBody: string | Uint8Array,
  header: string | string[] | null | undefined,
  secret: string,
  nowSeconds: number,
  toleranceS = DEFAULT_TOLERANCE_S,
): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || !secret) return false;
  let t: string | undefined;
  const candidates: string[] = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't') {
      if (t !== undefined) return false; // two timestamps: ambiguous
      t = v;
    } else if (k === 'v1') candidates.push(v);
  }
  if (t === undefined || !/^\d{1,12}$/.test(t) || candidates.length === 0) return false;
  if (Math.abs(nowSeconds - Number(t)) > toleranceS) return false;
  const expected = Buffer.from(hmacHex(secret, t, rawBody), 'hex');
  let ok = false;
  for (const c of candidates) {
    if (!/^[0-9a-f]{64}$/i.test(c)) continue;
    // Every candidate is compared (no early exit), each comparison in constant time.
    if (timingSafeEqual(expected, Buffer.from(c, 'hex'))) ok = true;
  }
  return ok;
}

export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  readonly perMinute = 60;
  readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly url: string,
    private readonly secret: string,
    opts: SinkOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  async send(notification: AlertNotification): Promise<void> {
    const url = new URL(this.url);
    const raw = JSON.stringify(webhookPayload(notification));
    const t = Math.floor(this.now() / 1000);
    const reply = await postJson(this.name, url, raw, {
      timeoutMs: this.timeoutMs,
      secrets: [this.secret],
      headers: { [SIGNATURE_HEADER]: signWebhookBody(raw, this.secret, t), [ALERT_ID_HEADER]: encodeURIComponent(notification.id), 'user-agent': 'cams-fc-alerts/1' },
    });
    const failure = httpStatusFailure(this.name, url, reply, [this.secret]);
    if (failure) throw failure;
  }
}
