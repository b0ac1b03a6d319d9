import type { AlertSink } from '../alerts/model.ts';
import { update, type Store } from '../store/port.ts';

/**
 * `monitor/sink/<sink>`: one sink's send window, shared by every deliverer (its rate limits count
 * every flush's messages) and the mark that it refused a message, which SinkRejected rests on.
 */
const SINK_RATE_PREFIX = 'monitor/sink/';

export interface SinkWindow {
  /** Send times in the last minute. */
  sent: number[];
  /** The channel asked us to wait until then. */
  holdUntil?: number;
  /**
   * Wall-clock time (epoch ms) the last send was to go out, whichever delivery made it: a channel's
   * per-second limit counts every flush's messages, not one flush's.
   */
  lastSendAt?: number;
  /** Set (before the alert is) when the sink refused a message: its SinkRejected alert may be firing (a deliverer without the sink resolves it). */
  refusing?: boolean;
}

/** Every sink's window, one per sink ever configured, by the sink's name. */
export async function listSinkWindows(store: Store): Promise<Array<{ sink: string; window: SinkWindow }>> {
  return (await store.list<SinkWindow>(SINK_RATE_PREFIX)).map((w) => ({ sink: w.key.slice(SINK_RATE_PREFIX.length), window: w.value }));
}

/**
 * A send slot in the sink's window (or why there is none), and how long to wait before using it: a
 * channel with a per-second limit gets its minIntervalMs after the last send of any delivery.
 */
export async function takeSendSlot(store: Store, sink: AlertSink, now: number): Promise<{ waitMs: number; refusing: boolean } | string> {
  let verdict: { waitMs: number; refusing: boolean } | string = { waitMs: 0, refusing: false };
  await update<SinkWindow>(store, SINK_RATE_PREFIX + sink.name, (current) => {
    const w: SinkWindow = current ?? { sent: [] };
    const sent = w.sent.filter((t) => now - t < 60_000);
    if (w.holdUntil && w.holdUntil > now) {
      verdict = `the channel asked to wait until ${new Date(w.holdUntil).toISOString()}`;
      return undefined;
    }
    if (sent.length >= sink.perMinute) {
      verdict = `${sink.perMinute} messages/min reached`;
      return undefined;
    }
    const interval = sink.minIntervalMs ?? 0;
    const wall = Date.now();
    // Capped at one interval: a deliverer whose clock ran ahead cannot hold this one up for longer.
    const sendAt = Math.min(wall + interval, Math.max(wall, (w.lastSendAt ?? 0) + interval));
    verdict = { waitMs: sendAt - wall, refusing: !!w.refusing };
    return { ...w, sent: [...sent, now], lastSendAt: sendAt };
  });
  return verdict;
}

/**
 * The longest a channel is held: DingTalk's throttle wait, the longest any sink sets itself. A
 * receiver's Retry-After beyond it (a day, a typo) is tried again then, one message answered with
 * another wait at worst, rather than holding every alert of the sink for as long as it said.
 */
export const SINK_HOLD_MAX_MS = 10 * 60_000;

/** The channel asked to wait `waitMs` from `now`: held at most SINK_HOLD_MAX_MS. */
export async function holdSink(store: Store, sink: string, now: number, waitMs: number): Promise<void> {
  const holdUntil = now + Math.min(waitMs, SINK_HOLD_MAX_MS);
  await update<SinkWindow>(store, SINK_RATE_PREFIX + sink, (current) => ({ ...current, sent: current?.sent ?? [], holdUntil }));
}

/** Whether the sink's window carries the refusing mark. */
export async function isRefusing(store: Store, sink: string): Promise<boolean> {
  return !!(await store.get<SinkWindow>(SINK_RATE_PREFIX + sink))?.value.refusing;
}

export async function markRefusing(store: Store, sink: string, refusing: boolean): Promise<void> {
  await update<SinkWindow>(store, SINK_RATE_PREFIX + sink, (current) => {
    const next: SinkWindow = { ...current, sent: current?.sent ?? [] };
    if (refusing) next.refusing = true;
    else delete next.refusing;
    return next;
  });
}
