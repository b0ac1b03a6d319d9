import { readMessageBody } from '../fc/mns-body.ts';
import { repeatedJsonKey } from '../text/json-keys.ts';
import type { OnboardingRequest } from './onboard.ts';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The payload a JSON text (a queue message's body) holds. A key it gives twice is a problem named by
 * its path, as POST /onboardings names it: JSON.parse keeps the last silently, and which WABA to bind
 * must not be a guess.
 */
function parseJson(text: string): Pick<OnboardingRequest, 'payload' | 'problems'> {
  let read: { value: unknown; text: string };
  try {
    read = readMessageBody(text);
  } catch {
    return { payload: text }; // left for the payload schema to reject with a clear message
  }
  const repeated = repeatedJsonKey(read.text);
  return { payload: read.value, ...(repeated === undefined ? {} : { problems: [{ Field: repeated || '(payload)', Message: 'is given more than once in the message body' }] }) };
}

/**
 * What can arrive: an EventBridge CloudEvent whose `data` is the payload (keyed by its source + id);
 * an MNS queue CloudEvent whose `data.messageBody` is the payload as JSON text; a direct invocation from POST /onboardings
 * (`{OnboardingId, Payload}`); or a bare payload (the FC invoke API).
 */
export function onboardingRequestFrom(event: unknown): OnboardingRequest {
  if (isCloudEvent(event)) {
    const data = event['data'];
    const ref = { source: event['source'], id: event['id'] };
    if (isObject(data) && typeof data['messageBody'] === 'string') {
      // A queue message has no id its sender chose (each send is a new message, a new event id), so
      // it is keyed as POST /onboardings is: its IdempotencyKey, else its payload. The same body sent
      // twice, or redelivered, is one onboarding.
      const messageId = typeof data['messageId'] === 'string' && data['messageId'] ? data['messageId'] : event['id'];
      return { ...parseJson(data['messageBody']), source: `${event['source']} ${event['type'] ?? ''}`.trim(), messageId };
    }
    return { ...(typeof data === 'string' ? parseJson(data) : { payload: data }), event: ref, source: `${event['source']} ${event['type'] ?? ''}`.trim() };
  }
  if (isObject(event) && typeof event['OnboardingId'] === 'string' && 'Payload' in event) {
    return { payload: event['Payload'], onboardingId: event['OnboardingId'], source: 'POST /onboardings' };
  }
  return { payload: event, source: 'invoke' };
}

/**
 * The requests of a batch: EventBridge's event-stream push (an MNS queue trigger in event-streaming
 * mode; the deploy sets event-driven, one CloudEvent per invocation, so this is for a trigger set up
 * otherwise) delivers a JSON array of CloudEvents. Any non-empty array is a batch (no payload is an array): one
 * element that is not a CloudEvent is rejected on its own, never taking the others down with it.
 * Undefined when the event is not an array.
 */
export function onboardingRequestsFrom(event: unknown): OnboardingRequest[] | undefined {
  if (!Array.isArray(event) || event.length === 0) return undefined;
  return event.map(onboardingRequestFrom);
}

/** `data` is optional in a CloudEvent (an event published without one); `specversion` never is. */
function isCloudEvent(v: unknown): v is Record<string, unknown> & { source: string; id: string } {
  return isObject(v) && typeof v['source'] === 'string' && typeof v['id'] === 'string' && ('data' in v || 'specversion' in v);
}

/** An FC timer trigger's event (`{triggerTime, triggerName, payload}`), which starts a re-drive tick. */
export function isTimerEvent(event: unknown): boolean {
  return isObject(event) && typeof event['triggerTime'] === 'string' && !('source' in event) && !('OnboardingId' in event);
}
