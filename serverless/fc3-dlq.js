// Where FC 3.0 puts what it gives up on, so that nothing is dropped silently (README "Deploying",
// "Nothing dropped"). Without these, a queue message or an async invocation that fails through every
// retry (the store down for that long, say) is discarded:
// - an MNS queue trigger (EventBridge-based) pushes a message to the function with its retry
//   strategy, then to its dead-letter queue (`runOptions.deadLetterQueue`), here `<queue>-dlq`;
//   https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/api-fc-2023-03-30-struct-runoptions
// - a function invoked asynchronously (a trigger with asyncInvocationType, or another function's
//   `*_FUNCTION`) is retried by FC, then its invocation goes to the async failure destination
//   (`asyncInvokeConfig.destinationConfig.onFailure`), here the queue `<service>-<stage>-<key>-failed`,
//   sent with the function's own role (so its policy gets mns:SendMessage on that queue alone).
//   https://www.alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-putasyncinvokeconfiginput
import { fitName } from './templates.js';

/** MNS queue names: letters, digits, `-`; at most 120 here (serverless.yml's queues are checked to it). */
const QUEUE_NAME_MAX = 120;

/** The dead-letter queue of the MNS trigger on `queueName`. */
export const deadLetterQueueName = (queueName) => fitName(`${queueName}-dlq`, QUEUE_NAME_MAX);

/** The queue a function's failed async invocations go to. */
export const asyncFailureQueueName = (service, stage, key) => fitName(`${service}-${stage}-${key}-failed`, QUEUE_NAME_MAX);

/** `${config('AccountID')}` is filled in by `s deploy` from the access it deploys with, as for `role`. */
const ACCOUNT = "${config('AccountID')}";

/**
 * An MNS trigger's runOptions: one message per invocation (event-driven); a push FC refuses is
 * retried with exponential decay (176 times over a day, the longest EventBridge offers), then, as
 * errors are tolerated (`ALL`: the queue is not blocked behind it), sent to its dead-letter queue.
 */
export function mnsRunOptions(queueName, region) {
  return {
    mode: 'event-driven',
    retryStrategy: { PushRetryStrategy: 'EXPONENTIAL_DECAY_RETRY' },
    errorsTolerance: 'ALL',
    deadLetterQueue: { Arn: `acs:mns:${region}:${ACCOUNT}:/queues/${deadLetterQueueName(queueName)}` },
  };
}

/** FC's async retries after a failed invocation (its default, and the 3 attempts cams-events counts before it sets a message aside). */
export const ASYNC_RETRY_ATTEMPTS = 3;
/** How long FC keeps trying an async event: a day, past any store outage the re-drive timer does not cover. */
export const ASYNC_EVENT_AGE_SECONDS = 86400;

/** Whether `key` is invoked asynchronously: by a trigger that says so, or by another function (`X_FUNCTION: key`). */
export function invokedAsync(key, functions) {
  const fn = functions[key];
  const byTrigger = (fn.events ?? []).some((e) => (e.mns ?? e.eventbridge)?.asyncInvocationType === true);
  const byFunction = Object.entries(functions).some(([k, f]) => k !== key && Object.entries(f.environment ?? {}).some(([n, v]) => n.endsWith('_FUNCTION') && v === key));
  return byTrigger || byFunction;
}

/** The asyncInvokeConfig of a function invoked asynchronously: its retries, then its failure queue. */
export function asyncInvokeConfig(queueName, region) {
  return {
    maxAsyncRetryAttempts: ASYNC_RETRY_ATTEMPTS,
    maxAsyncEventAgeInSeconds: ASYNC_EVENT_AGE_SECONDS,
    destinationConfig: { onFailure: { destination: `acs:mns:${region}:${ACCOUNT}:/queues/${queueName}/messages` } },
  };
}

/** What the function's role needs to send there: mns:SendMessage on that queue's messages alone. */
export function sendToQueueStatement(queueName, region) {
  return { Effect: 'Allow', Action: ['mns:SendMessage'], Resource: [`acs:mns:${region}:*:/queues/${queueName}/messages`] };
}
