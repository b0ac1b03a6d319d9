import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { drain, readBody, sendJson } from '../http-io.ts';

/**
 * The local stand-in for an SMQ/MNS queue with an MNS trigger: `POST /__mns/queues/{queue}/messages`
 * takes one message body (as CAMS would enqueue a receipt batch) and delivers it to the function
 * whose `mns` trigger names that queue, as the trigger does: an async invocation (FC's retries)
 * with the CloudEvent EventBridge builds, `data.messageBody` holding the body as sent.
 */
export const MNS_PREFIX = '/__mns/queues/';

export interface MnsDeps {
  /** queueName → function name, from serverless.yml's mns triggers. */
  queues: ReadonlyMap<string, string>;
  accountId: string;
  region: string;
  maxBodyBytes: number;
  invokeAsync: (fn: string, event: Buffer, requestId: string) => void;
}

export async function handleMnsSend(req: http.IncomingMessage, res: http.ServerResponse, rawPath: string, requestId: string, deps: MnsDeps): Promise<string> {
  const m = /^\/__mns\/queues\/([A-Za-z0-9-]{1,120})\/messages$/.exec(rawPath);
  const queue = m?.[1];
  const fn = queue ? deps.queues.get(queue) : undefined;
  if (!queue || !fn) {
    drain(req);
    sendJson(res, 404, { Code: 'QueueNotExist', Message: `No function has an mns trigger on ${queue ?? rawPath}. Known: ${[...deps.queues.keys()].join(', ') || '(none)'}.`, RequestId: requestId });
    return '404';
  }
  if ((req.method ?? '').toUpperCase() !== 'POST') {
    drain(req);
    sendJson(res, 405, { Code: 'MethodNotAllowed', Message: 'POST a message body.', RequestId: requestId }, { allow: 'POST' });
    return '405';
  }
  const body = await readBody(req, deps.maxBodyBytes);
  if (body === 'too-large') {
    drain(req);
    sendJson(res, 413, { Code: 'MessageBodyTooLarge', Message: `A message is at most ${deps.maxBodyBytes} bytes.`, RequestId: requestId });
    return '413';
  }
  const messageId = randomUUID().replace(/-/g, '').toUpperCase();
  deps.invokeAsync(fn, Buffer.from(JSON.stringify(mnsCloudEvent(queue, body.toString('utf8'), messageId, deps)), 'utf8'), requestId);
  sendJson(res, 201, { MessageId: messageId, RequestId: requestId });
  return `201 ${fn}`;
}

/**
 * What the MNS trigger (through EventBridge) hands the function (test/fixtures/mns-queue-event.json):
 * one CloudEvent, not an array. The shape follows the trigger's RunOptions.mode (FC 3.0 API
 * "RunOptions", help.aliyun.com/zh/functioncompute/fc/developer-reference/api-fc-2023-03-30-struct-runoptions):
 * `event-driven` passes a single message as the event, a CloudEvent, with no batching;
 * `event-streaming` pushes a JSON array of one or more (the array sample on FC 3.0's "触发器高级功能"
 * page, help.aliyun.com/document_detail/2513567.html, is that mode's batch push). serverless/
 * deploys every mns trigger with `runOptions: {mode: 'event-driven'}` (templates.js
 * mnsTriggerConfig, on FC 2.0 and 3.0 alike), so one object is what FC sends this project. The
 * functions take an array too (queueMessagesOf, onboardingRequestsFrom), should the mode change.
 */
function mnsCloudEvent(queue: string, messageBody: string, messageId: string, where: { accountId: string; region: string }): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    source: 'acs:mns',
    specversion: '1.0',
    type: 'mns:Queue:SendMessage',
    datacontenttype: 'application/json; charset=utf-8',
    subject: `acs:mns:${where.region}:${where.accountId}:queues/${queue}`,
    time: now,
    aliyunaccountid: where.accountId,
    aliyunpublishtime: now,
    aliyunoriginalaccountid: where.accountId,
    aliyuneventbusname: `MNS-${queue}`,
    aliyunregionid: where.region,
    data: { requestId: randomUUID().toUpperCase(), messageId, messageBody },
  };
}
