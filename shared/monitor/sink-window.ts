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
  /** When (the holding deliverer's clock) it asked: a reader whose clock is behind shifts the hold by the difference. */
  heldAt?: number;
  /**
   * Wall-clock time (epoch ms) the last send was to go out, whichever delivery made it: a channel's
   * per-second limit counts every flush's messages, not one flush's.
   */
  lastSendAt?: number;
  /** Set (before the alert is) when the sink refused a message: its SinkRejected alert may be firing (a deliverer without the sink resolves it). */
  refusing?: boolean;
}

/** A minute: the per-minute budget's window. */
const WINDOW_MS = 60_000;

/**
 * The longest a sink's channel is held: DingTalk's throttles, the longest wait a sink sets itself; a
 * Retry-After beyond it is tried again then (one message, answered with another wait at worst).
 */
export const SINK_HOLD_MAX_MS = 10 * 60_000;

/**
 * The window as a deliverer at `now` sees it, bounded for clocks that differ (deliverers on several
 * instances share it): a send stamped after `now` is counted from `now` (else it stayed counted, and
 * could fill the budget, until this clock caught up with the sender's, minutes for one running ahead),
 * a hold asked at a later time than `now` is shifted back by the difference, and none lasts more than
 * SINK_HOLD_MAX_MS from `now`. `changed` when such a bound applied: it is written back, so each lasts
 * its time from when a deliverer first saw it, not from each reading.
 */
function bounded(w: SinkWindow, now: number): { window: SinkWindow; changed: boolean } {
  let changed = w.sent.some((t) => t > now);
  const sent = w.sent.map((t) => Math.min(t, now)).filter((t) => now - t < WINDOW_MS);
  const { holdUntil, heldAt, ...rest } = w;
  const window: SinkWindow = { ...rest, sent };
  if (holdUntil !== undefined) {
    const ahead = Math.max(0, (heldAt ?? now) - now);
    const until = Math.min(holdUntil - ahead, now + SINK_HOLD_MAX_MS);
    if (until !== holdUntil) changed = true;
    if (until > now) Object.assign(window, { holdUntil: until, heldAt: Math.min(heldAt ?? now, now) });
  }
  return { window, changed };
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
    const { window: w, changed } = bounded(current ?? { sent: [] }, now);
    const { sent } = w;
    if (w.holdUntil !== undefined) {
      verdict = `the channel asked to wait until ${new Date(w.holdUntil).toISOString()}`;
      return changed ? w : undefined;
    }
    if (sent.length >= sink.perMinute) {
      verdict = `${sink.perMinute} messages/min reached`;
      return changed ? w : undefined;
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

/** The channel asked to wait `waitMs` (at most SINK_HOLD_MAX_MS) from `now`. */
export async function holdSink(store: Store, sink: string, now: number, waitMs: number): Promise<void> {
  const holdUntil = now + Math.min(waitMs, SINK_HOLD_MAX_MS);
  await update<SinkWindow>(store, SINK_RATE_PREFIX + sink, (current) => ({ ...current, sent: current?.sent ?? [], holdUntil, heldAt: now }));
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
