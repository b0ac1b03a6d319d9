// A generic signed-webhook receiver, written the way a user's endpoint would be: verify X-Signature
// over the raw body with verifyWebhookSignature (401 when it fails), check the payload, and
// de-duplicate on X-Alert-Id (a repeat is acknowledged, not recorded twice).
import { verifyWebhookSignature } from '../../../shared/alerts/sinks/webhook.ts';
import { collectStrings, isObject, nonEmptyString, parseJson, startReceiverServer, type HarnessOptions, type ReceiverServer } from './harness.ts';

export interface WebhookReceiverOptions extends HarnessOptions {
  secret?: string;
  path?: string;
  toleranceS?: number;
}

export interface WebhookReceiver extends ReceiverServer {
  url: string;
  secret: string;
  /** Alert ids acknowledged again without being recorded. */
  duplicates: string[];
}

export async function startWebhookReceiver(opts: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
  const secret = opts.secret ?? 'whsec-test-secret-0001';
  const path = opts.path ?? '/hooks/cams-alerts';
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const { refuse, ...harness } = opts;

  const server = await startReceiverServer(
    'webhook',
    ({ method, url, headers, raw, now }) => {
      if (method !== 'POST') return { status: 405, body: { error: 'method not allowed' }, reason: 'not POST' };
      if (url.pathname !== path) return { status: 404, body: { error: 'not found' }, reason: 'unknown path' };
      if (!verifyWebhookSignature(raw, headers['x-signature'], secret, Math.floor(now / 1000), opts.toleranceS)) {
        return { status: 401, body: { error: 'invalid signature' }, reason: 'bad signature' };
      }
      const parsed = parseJson(raw);
      const body = parsed.ok ? parsed.value : undefined;
      if (
        !isObject(body) ||
        !nonEmptyString(body['id']) ||
        !nonEmptyString(body['group']) ||
        !nonEmptyString(body['title']) ||
        !['critical', 'warning', 'info'].includes(String(body['severity'])) ||
        !nonEmptyString(body['createdAt']) ||
        !Array.isArray(body['items'])
      ) {
        return { status: 400, body: { error: 'invalid payload' }, reason: 'bad payload' };
      }
      const alertId = headers['x-alert-id'];
      if (alertId !== body['id']) return { status: 400, body: { error: 'X-Alert-Id does not match the body' }, reason: 'alert id mismatch' };
      const text = [body['title'], ...collectStrings(body['items'], new Set(['node', 'status', 'since', 'reason', 'ErrorCode', 'ErrorDescription', 'PossibleSolution']))].join('\n');
      // Before the de-duplication: a refused message was not taken, and its retry is not a duplicate.
      const refusal = refuse?.(text);
      if (refusal) return refusal;
      if (seen.has(alertId)) {
        duplicates.push(alertId);
        return { status: 200, body: { ok: true, duplicate: true }, reason: 'duplicate' };
      }
      seen.add(alertId);
      return { status: 200, body: { ok: true }, accept: { body, text } };
    },
    harness,
  );
  return Object.assign(server, { url: `${server.origin}${path}`, secret, duplicates });
}
