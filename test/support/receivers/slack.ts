// A Slack incoming-webhook stand-in: the path after /services/ is the credential (wrong token 403
// invalid_token, unknown 404 no_service); the body needs `text` (else 400 no_text); blocks are held
// to Block Kit's limits (else 400 invalid_blocks); success is 200 "ok". Scripted 429s carry
// Retry-After.
import { collectStrings, isObject, nonEmptyString, parseJson, startReceiverServer, type HarnessOptions, type Reply, type ReceiverServer } from './harness.ts';

export interface SlackReceiverOptions extends HarnessOptions {
  /** T…/B…/token */
  hookPath?: string;
}

export interface SlackReceiver extends ReceiverServer {
  url: string;
  hookPath: string;
  /** The next `n` requests answer 429 with Retry-After: retryAfterS. */
  rateLimitNext(n: number, retryAfterS?: number): void;
}

const fail = (status: number, body: string, reason = body): Reply => ({ status, body, reason });

function blocksProblem(blocks: unknown): string | undefined {
  if (!Array.isArray(blocks)) return 'blocks is not an array';
  if (blocks.length > 50) return `${blocks.length} blocks (max 50)`;
  for (const [i, b] of blocks.entries()) {
    if (!isObject(b) || typeof b['type'] !== 'string') return `block ${i} has no type`;
    const t = isObject(b['text']) ? b['text']['text'] : undefined;
    if (b['type'] === 'header' && (typeof t !== 'string' || t.length > 150)) return `header ${i} text missing or over 150 characters`;
    if (b['type'] === 'section' && (typeof t !== 'string' || t.length > 3000)) return `section ${i} text missing or over 3000 characters`;
  }
  return undefined;
}

export async function startSlackReceiver(opts: SlackReceiverOptions = {}): Promise<SlackReceiver> {
  const hookPath = opts.hookPath ?? 'T0TESTTEAM/B0TESTHOOK/s3cr3tSlackWebhookToken42';
  const [team, hook] = hookPath.split('/');
  let limited = 0;
  let retryAfter = 30;

  const server = await startReceiverServer(
    'slack',
    ({ method, url, raw }) => {
      if (limited > 0) {
        limited -= 1;
        return { status: 429, body: 'rate_limited', headers: { 'retry-after': String(retryAfter) }, reason: 'scripted 429' };
      }
      if (method !== 'POST') return fail(405, 'invalid_method');
      if (url.pathname !== `/services/${hookPath}`) {
        return url.pathname.startsWith(`/services/${team}/${hook}/`) ? fail(403, 'invalid_token') : fail(404, 'no_service');
      }
      const parsed = parseJson(raw);
      if (!parsed.ok || !isObject(parsed.value)) return fail(400, 'invalid_payload');
      const body = parsed.value;
      if (!nonEmptyString(body['text'])) return fail(400, 'no_text');
      if (body['blocks'] !== undefined) {
        const problem = blocksProblem(body['blocks']);
        if (problem) return fail(400, 'invalid_blocks', problem);
      }
      const text = [body['text'], ...collectStrings(body['blocks'] ?? [], new Set(['text']))].join('\n');
      return { status: 200, body: 'ok', accept: { body, text } };
    },
    opts,
  );
  return Object.assign(server, {
    url: `${server.origin}/services/${hookPath}`,
    hookPath,
    rateLimitNext(n: number, retryAfterS = 30) {
      limited = n;
      retryAfter = retryAfterS;
    },
  });
}
