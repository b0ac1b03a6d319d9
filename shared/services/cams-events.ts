import middy from '@middy/core';
import type { AlertSink } from '../alerts/model.ts';
import { budgetAccount, sharedBudget } from '../cams/budget/shared-budget.ts';
import { CamsClient } from '../cams/client.ts';
import { realClock, type Clock } from '../cams/limiter.ts';
import { credentialsFrom } from '../cams/credentials.ts';
import { positiveInt, readEnv, type EnvSource } from '../config/env.ts';
import { FUNCTION_DEFAULT_MAX_BODY_BYTES } from '../config/http-function.ts';
import type { FcContext } from '../fc/context.ts';
import { decodeEvent, eventFunction, type EventInvocation } from '../fc/event-function.ts';
import { readMessageBody } from '../fc/mns-body.ts';
import { HttpError, validationCode, type FieldProblem } from '../http-fn/errors.ts';
import { camsEnvelope, decodeHttpRequest, invocationLog, type Middleware, type ParsedHttpEvent, type ServiceResult } from '../http-fn/middlewares.ts';
import type { FcHttpResponse } from '../http-fn/reply.ts';
import { stdoutLog, writeLogRecord, type LogWriter } from '../log/log.ts';
import { DELIVER_AGAIN, deliverOwed, invocationReserveMs, type DispatchReport } from '../monitor/dispatch.ts';
import { EVERY_SINK } from '../monitor/entity-state.ts';
import { applyReceipts, type ReceiptResult } from '../receipts/apply.ts';
import { countReceipts } from '../receipts/dedup.ts';
import { parseBatch } from '../receipts/parse.ts';
import { countAttempt, isDone, isSetAside, markDone, MAX_QUEUE_ATTEMPTS, queueMessagesOf, setAside } from '../receipts/queue.ts';
import { receiptToken, receiptTokenValue } from '../receipts/token.ts';
import { monitorRuntime, type MonitorRuntime } from './health-monitor.ts';
import { utf8Text } from '../text/chars.ts';

const RECEIPTS_ROUTE = { method: 'POST', path: '/cams/receipts' } as const;
const NAME = 'cams-events';

export interface CamsEventsOptions {
  env?: EnvSource;
  write?: LogWriter;
  /** Clock for alert decisions (tests move it); default Date.now. */
  alertClock?: () => number;
  /**
   * Wall clock and timer of the invocation's time: its start and deadline, a push's reply budget, the
   * checks' deadline and the wait for the delivery lease (tests move it); default the real ones.
   */
  clock?: Clock;
  /** The instance's store, sinks and config; default: from env, opened on first use. */
  runtime?: () => Promise<MonitorRuntime>;
}

/** What one receipt push did: per-receipt outcomes, field errors, and what was delivered. */
export interface ReceiptsReport {
  Received: number;
  Results: ReceiptResult[];
  Errors: Array<{ Index: number; Fields: FieldProblem[] }>;
  /** Malformed receipts past the first MAX_LISTED_ERRORS: counted, not listed. */
  ErrorsNotListed?: number;
  Delivered: number;
}

export interface QueueReport {
  messages: number;
  setAside: string[];
  skipped: string[];
  /** Messages acted on at an earlier delivery of their batch (redelivered for another's failure): passed over. */
  alreadyActedOn: string[];
  receipts: number;
  invalid: number;
  /** Elements of the batch that are no readable message and have no id to set them aside by (logged). */
  unreadable: number;
  delivered: number;
  ignored?: string;
}

/**
 * cams-events: CAMS's ChatAppAudit receipts, by HTTP callback (`POST /cams/receipts?token=`) or
 * from an SMQ/MNS queue trigger (a CloudEvent with data.messageBody). One handler, two entry
 * stacks, chosen by the event's shape; both act on receipts the same way and then deliver.
 */
export function camsEventsHandler(opts: CamsEventsOptions = {}): (event: unknown, context?: FcContext) => Promise<unknown> {
  const env = opts.env ?? process.env;
  const write = opts.write ?? stdoutLog;
  const runtime = opts.runtime ?? monitorRuntime(env);
  const clock = opts.clock ?? realClock;
  let token: string | undefined;
  let maxBody: number | undefined;
  const logFor = (requestId: string) => (rec: Record<string, unknown>) => writeLogRecord(write, { function: NAME, requestId, ...rec });

  const http = middy<unknown, FcHttpResponse | ServiceResult, Error, FcContext>(
    async (event: unknown, context: FcContext): Promise<ServiceResult> => {
      const req = event as ParsedHttpEvent;
      const rt = await runtime();
      return { data: await receiveHttp(req, context ?? {}, rt, clock, opts.alertClock ?? Date.now, logFor(req.requestId)) };
    },
    { timeoutEarlyInMillis: 0 },
  )
    .use(invocationLog({ functionName: NAME, write, now: clock.now }))
    .use(receiptAck())
    .use(camsEnvelope())
    .use(decodeHttpRequest({ routes: [RECEIPTS_ROUTE], maxBodyBytes: () => (maxBody ??= readEnv(env, 'MAX_BODY_BYTES', positiveInt, String(FUNCTION_DEFAULT_MAX_BODY_BYTES))) }))
    .use(receiptToken({ token: () => (token ??= readEnv(env, 'CAMS_RECEIPT_TOKEN', receiptTokenValue)) }));

  const queue = eventFunction<QueueReport>({
    name: NAME,
    write,
    now: clock.now,
    run: async (inv) => receiveQueue(inv, await runtime(), clock, opts.alertClock ?? Date.now, logFor(inv.requestId)),
    summarize: (r) => ({ ...r }),
  });

  return (event, context) => (isHttpEvent(decodeEvent(event)) ? http(event, context ?? {}) : queue(event, context));
}

/**
 * CAMS takes a push as received only when it is answered HTTP 200 with a JSON body whose `code` is a
 * number (`{"code": 0, "msg": "..."}`, its ChatAppAudit HTTP-callback page); any other answer is a
 * failed push, pushed again. So a 200 leads with those two, and drops the envelope's string `Code`
 * and `Message`: a reader that matches keys ignoring case could take `"Code": "OK"` for the numeric
 * `code` and fail the push. Other statuses keep the CAMS error envelope (CAMS retries them anyway).
 */
export const RECEIPT_ACK = { code: 0, msg: 'received' } as const;
function receiptAck(): Middleware {
  return {
    after: (request) => {
      const res = request.response as FcHttpResponse | undefined;
      if (!res || res.statusCode !== 200 || typeof res.body !== 'string') return;
      const { Code: _code, Message: _message, ...rest } = JSON.parse(res.body) as Record<string, unknown>;
      res.body = JSON.stringify({ ...RECEIPT_ACK, ...rest });
    },
  };
}

function isHttpEvent(e: unknown): boolean {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return false;
  const o = e as Record<string, unknown>;
  return typeof o['rawPath'] === 'string' || typeof o['httpMethod'] === 'string' || (typeof o['requestContext'] === 'object' && o['requestContext'] !== null && 'http' in o['requestContext']);
}

/** How many malformed receipts of one push (or queue message) the reply and the log name field by field. */
const MAX_LISTED_ERRORS = 100;

async function receiveHttp(req: ParsedHttpEvent, context: FcContext, rt: MonitorRuntime, clock: Clock, now: () => number, log: (r: Record<string, unknown>) => void): Promise<ReceiptsReport> {
  const text = utf8Text(req.http.body);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    const message = 'is not valid JSON: it must be a JSON array of receipts';
    throw new HttpError(400, 'InvalidParameter', `(body): ${message}`, { fields: [{ Field: '(body)', Message: message }] });
  }
  if (typeof body !== 'object' || body === null) {
    throw new HttpError(400, 'InvalidParameter', '(body): must be a JSON array of receipts', { fields: [{ Field: '(body)', Message: 'must be a JSON array of receipts' }] });
  }
  const { receipts, errors } = parseBatch(body, text);
  // The reply and the log name the first MAX_LISTED_ERRORS malformed receipts' fields and count the
  // rest: a 256 KB push of 100,000 `1`s would otherwise be answered with megabytes of field errors.
  const listed = errors.slice(0, MAX_LISTED_ERRORS);
  const unlisted = errors.length - listed.length;
  const fields = listed.flatMap((e) => e.fields);
  if (errors.length > 0) log({ level: 'warn', msg: 'malformed receipts refused', fields, ...(unlisted > 0 ? { unlisted } : {}) });
  // Nothing valid: the whole push is the caller's mistake, and answered as one even while the store
  // is away (a 5xx would have CAMS retry what can never succeed); the count is best-effort then.
  if (receipts.length === 0) {
    if (errors.length === 0) throw new HttpError(400, 'InvalidParameter', '(body): holds no receipt', { fields: [{ Field: '(body)', Message: 'holds no receipt' }] });
    await countReceipts(rt.store, { received: errors.length, invalid: errors.length }).catch((e: unknown) =>
      log({ level: 'warn', msg: 'malformed receipts not counted: the store failed', error: e instanceof Error ? e.message : String(e) }),
    );
    const more = unlisted > 0 ? `; and ${unlisted} more malformed receipts` : '';
    throw new HttpError(400, validationCode(errors.flatMap((e) => e.fields)), fields.map((f) => `${f.Field}: ${f.Message}`).join('; ') + more, { fields });
  }
  // Otherwise the valid ones are acted on (they need the store: its failure is a 503 CAMS retries),
  // the malformed ones counted with them.
  // Answered by replyBy, so CAMS does not take the push for failed and push it again (REPLY_BUDGET_MS).
  const replyBy = Math.min(req.startedAt + REPLY_BUDGET_MS, req.deadline);
  const results = await applyReceipts(receipts, receiptDeps(rt, context, req.deadline, clock, now, log, replyBy), errors.length);
  const dispatch = await deliver(rt, { deadline: req.deadline, waitUntil: replyBy }, clock, now, log);
  return {
    Received: receipts.length + errors.length,
    Results: results,
    Errors: listed.map((e) => ({ Index: e.index, Fields: e.fields })),
    ...(unlisted > 0 ? { ErrorsNotListed: unlisted } : {}),
    Delivered: delivered(dispatch),
  };
}

async function receiveQueue(inv: EventInvocation, rt: MonitorRuntime, clock: Clock, now: () => number, log: (r: Record<string, unknown>) => void): Promise<QueueReport> {
  const report: QueueReport = { messages: 0, setAside: [], skipped: [], alreadyActedOn: [], receipts: 0, invalid: 0, unreadable: 0, delivered: 0 };
  const delivery = queueMessagesOf(inv.event);
  if (!delivery) {
    // Not retried: a delivery of the wrong shape never becomes right.
    report.ignored = 'not a receipt delivery: expected POST /cams/receipts or an MNS CloudEvent with data.messageBody';
    log({ level: 'error', msg: report.ignored });
    return report;
  }
  report.messages = delivery.elements;
  const sinkCtx = { now: now(), policy: policyOf(rt), sinks: sinkNames(rt.sinks) };
  // An element that is no readable message never becomes one: kept by its id (one alert), else only
  // logged; the batch's messages are acted on either way, not redelivered for it.
  for (const bad of delivery.unreadable) {
    if (bad.messageId === undefined) {
      report.unreadable += 1;
      log({ level: 'error', msg: 'queue batch element unreadable: it has no messageId to set it aside by', index: bad.index, why: bad.why });
      continue;
    }
    if (await isSetAside(rt.store, bad.messageId, sinkCtx)) {
      report.skipped.push(bad.messageId);
      continue;
    }
    await setAside(rt.store, { messageId: bad.messageId, body: JSON.stringify(bad.element) }, bad.why, 1, sinkCtx);
    report.setAside.push(bad.messageId);
    log({ level: 'error', msg: `queue message set aside: ${bad.why}`, messageId: bad.messageId, index: bad.index });
  }
  let failure: unknown;
  for (const msg of delivery.messages) {
    if (await isSetAside(rt.store, msg.messageId, sinkCtx)) {
      report.skipped.push(msg.messageId);
      continue;
    }
    // Its batch redelivered for another message's failure: acting on it again counted an attempt
    // that was no failure (a failure on the third set it aside, acted on as it was) and its receipts again.
    if (await isDone(rt.store, msg.messageId)) {
      report.alreadyActedOn.push(msg.messageId);
      continue;
    }
    const attempts = await countAttempt(rt.store, msg.messageId);
    let read: { value: unknown; text: string };
    try {
      read = readMessageBody(msg.body);
    } catch {
      await setAside(rt.store, msg, 'messageBody is not JSON', attempts, sinkCtx);
      report.setAside.push(msg.messageId);
      log({ level: 'error', msg: 'queue message set aside: messageBody is not JSON', messageId: msg.messageId });
      continue;
    }
    // A receipt holding a key twice is malformed here as in POST /cams/receipts.
    const { receipts, errors } = parseBatch(read.value, read.text);
    report.receipts += receipts.length;
    if (errors.length > 0) {
      // A malformed receipt never becomes valid: logged, not redelivered; counted with the message's
      // other receipts once they are acted on (not at an attempt that fails: a retry reads it again).
      report.invalid += errors.length;
      // Named up to MAX_LISTED_ERRORS, as a push's are: a 64 KB message of `1`s would be a log line of megabytes.
      const unlisted = errors.length - MAX_LISTED_ERRORS;
      const fields = errors.slice(0, MAX_LISTED_ERRORS).flatMap((e) => e.fields);
      log({ level: 'warn', msg: 'malformed receipts in a queue message', messageId: msg.messageId, fields, ...(unlisted > 0 ? { unlisted } : {}) });
    }
    try {
      await applyReceipts(receipts, receiptDeps(rt, inv.context, inv.deadline, clock, now, log), errors.length);
    } catch (e) {
      const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      if (attempts >= MAX_QUEUE_ATTEMPTS) {
        await setAside(rt.store, msg, why, attempts, sinkCtx);
        report.setAside.push(msg.messageId);
        log({ level: 'error', msg: 'queue message set aside after repeated failures', messageId: msg.messageId, attempts, error: why });
      } else {
        log({ level: 'warn', msg: 'queue message failed; it will be redelivered', messageId: msg.messageId, attempts, error: why });
        failure ??= e;
      }
      continue;
    }
    // Acted on: the mark's failure is not the message's. Taken for one, it was redelivered (acted on
    // again) and set aside, acted on as it was, at its third attempt; without the mark a redelivery
    // only acts on it again, which its receipts' dedup makes harmless.
    await markDone(rt.store, msg.messageId, now()).catch((e: unknown) =>
      log({ level: 'warn', msg: 'queue message acted on; its done mark not written', messageId: msg.messageId, error: e instanceof Error ? e.message : String(e) }),
    );
  }
  // No caller times a queue message's answer: its wait for the lease is DELIVER_WAIT_MS, as before.
  report.delivered = delivered(await deliver(rt, { deadline: inv.deadline, waitUntil: clock.now() + DELIVER_WAIT_MS }, clock, now, log));
  // Rethrown after the others were handled: FC's retry redelivers, and the dedup keys make that safe.
  if (failure) throw failure;
  return report;
}

function policyOf(rt: MonitorRuntime) {
  return { minConsecutive: rt.config.minConsecutive, repeatIntervalMs: rt.config.repeatIntervalMs };
}

/** Without ALERT_* here, alerts are owed to every sink the deliverer has (as onboarding does). */
function sinkNames(sinks: readonly AlertSink[]): string[] {
  return sinks.length > 0 ? sinks.map((s) => s.name) : [EVERY_SINK];
}

function receiptDeps(rt: MonitorRuntime, context: FcContext, invocationDeadline: number, clock: Clock, now: () => number, log: (r: Record<string, unknown>) => void, replyBy?: number) {
  // The checks stop in time for the delivery after them: a big batch, or a slow CAMS, used the whole
  // invocation, and what the batch found (its early warnings too) waited for the next sweep tick.
  // A push's checks stop in time for its answer too; the nodes not checked by then are the sweep's.
  const deadline = Math.min(
    invocationDeadline - 2000 - (rt.sinks.length > 0 ? invocationReserveMs(rt.sinks) : 0),
    replyBy === undefined ? Infinity : replyBy - REPLY_DELIVERY_MS,
  );
  return {
    store: rt.store,
    // A receipt's check runs above the sweep in the account's shared budget (#10).
    cams: new CamsClient({
      endpoint: rt.config.camsEndpoint,
      credentials: () => credentialsFrom(context),
      deadline,
      budget: sharedBudget(rt.store),
      priority: 'background',
      account: budgetAccount(context.accountId),
      // The checks' deadline is on the invocation's clock, so the client reads that one. The account's
      // budget keeps the real clock: a test's clock starts at the real time.
      now: clock.now,
      sleep: clock.sleep,
    }),
    policy: policyOf(rt),
    sinks: sinkNames(rt.sinks),
    envTargets: rt.config.targets,
    now,
    deadline,
    log,
  };
}

/**
 * How long after its invocation began an HTTP push is answered by. CAMS's ChatAppStatus receipt page
 * asks a receipt endpoint to answer within 3 s, and takes a later answer for a failed push (pushed
 * again); the 0.5 s left is for the network and FC's own hops. It bounds the checks and the wait for
 * the delivery lease (a queue message's DELIVER_WAIT_MS would take a push past it).
 */
export const REPLY_BUDGET_MS = 2500;
/**
 * A push's checks stop this long before its answer is due: the batch's own writes and a send to a
 * channel that answers as channels do (0.1-0.5 s) fit in it.
 */
const REPLY_DELIVERY_MS = 1000;

/**
 * How long a queue message's turned-away instance waits for the ask to be taken on or the lease to
 * free up. A lease a crashed deliverer left lasts 30 s or more: past this the alert is the next
 * deliverer's (the sweep's tick at the latest).
 */
const DELIVER_WAIT_MS = 10_000;

/**
 * Sends what is owed now, through the one deliverer (deliverOwed, under the delivery lease). Being
 * turned away asks the holder to look again once it is done (DELIVER_AGAIN), so this receipt's alert
 * goes out then. A holder that cannot (its last pass, or its invocation ending) lets go and leaves
 * the ask: so this waits, until `waitUntil` while the invocation lasts, until the ask is taken on or
 * the lease is its own. Past it the ask and the owed alert stay, for the holder or the next deliverer.
 * A send once started is not cut short (it may reach the channel unstruck, and go out twice): a push
 * that is the deliverer answers once its sends to a slow channel end.
 */
async function deliver(rt: MonitorRuntime, { deadline, waitUntil }: { deadline: number; waitUntil: number }, clock: Clock, now: () => number, log: (r: Record<string, unknown>) => void): Promise<DispatchReport | undefined> {
  if (rt.sinks.length === 0) return undefined;
  for (let i = 0; ; i++) {
    const report = await deliverOwed(rt.store, rt.sinks, now, log, { deadline, policy: policyOf(rt) });
    if (!report.skipped) return report;
    if (clock.now() + 1000 > Math.min(waitUntil, deadline - 1000)) {
      log({ level: 'info', msg: 'the delivery lease is still taken: what is owed stays, asked of its holder or left to the next deliverer' });
      return report;
    }
    await clock.sleep(Math.min(1000, 200 + 200 * i));
    // Looked at before asking again (deliverOwed writes the ask): gone, the holder took it on.
    if ((await rt.store.get(DELIVER_AGAIN)) === undefined) return report;
  }
}

function delivered(d: DispatchReport | undefined): number {
  return d ? d.delivered.reduce((n, x) => n + x.items, 0) : 0;
}
