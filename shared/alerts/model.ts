import type { CanSendMessage, HealthError } from '../cams/operations.ts';

export type Severity = 'critical' | 'warning' | 'info';

/** What an alert is about; the fingerprint is derived from it (Alertmanager's model). */
export interface AlertSubject {
  /** waba | phone | template | monitor */
  nodeType: 'waba' | 'phone' | 'template' | 'monitor';
  custSpaceId?: string;
  wabaId?: string;
  phoneNumber?: string;
  templateCode?: string;
  language?: string;
  /** The CAMS entity type (WABA, BUSINESS, PHONE_NUMBER, MESSAGE_TEMPLATE, APP) or the monitor's failure kind. */
  entityType: string;
  /** For the monitor's own failures: what they refer to, e.g. `MONITOR_TARGETS[2]`. */
  ref?: string;
}

/** One alert inside a notification. */
export interface AlertItem {
  fingerprint: string;
  subject: AlertSubject;
  /** A readable name of the node, e.g. "phone +86 13800000000 (WABA 299399)". */
  node: string;
  status: CanSendMessage | 'ERROR' | 'RESOLVED';
  severity: Severity;
  /** ISO time the current status began. */
  since: string;
  errors: HealthError[];
  /**
   * Why this item is in the message. `unwatched`: the node left the watch list while its alert fired;
   * the alert is closed (status RESOLVED, severity info), and `outage` is how long it had been down.
   */
  reason: 'new' | 'changed' | 'reminder' | 'resolved' | 'unwatched';
  /** On a resolution (or a close-out): how long the node was not AVAILABLE, and the worst state it was in meanwhile. */
  outage?: Outage;
}

/** A span during which a node was not AVAILABLE (a recovery reports it: "BLOCKED for 2 h 14 min"). */
export interface Outage {
  /** The worst state seen during the span (BLOCKED/ERROR over LIMITED). */
  worst: CanSendMessage | 'ERROR';
  /** ISO time the node stopped being AVAILABLE. */
  from: string;
  durationMs: number;
}

/** One message to one sink: all the alerts of one group (a WABA, or the monitor itself) in one sweep. */
export interface AlertNotification {
  /** Stable id of the notification: sinks that support it use it to de-duplicate. */
  id: string;
  group: string;
  severity: Severity;
  title: string;
  items: AlertItem[];
  /** ISO time the notification was composed. */
  createdAt: string;
}

/** A delivery failure; retryable ones are tried again at the next sweep. */
export class SinkDeliveryError extends Error {
  constructor(
    readonly sink: string,
    message: string,
    readonly retryable: boolean,
    /** When the channel asked us to wait (Retry-After, or a documented throttle period). */
    readonly retryAfterMs?: number,
    /** The channel's own code for a refusal (DingTalk's errcode, Lark's code, `HTTP 400`), which a SinkRejected alert names. */
    readonly code?: string,
    /** No answer came (a timeout, a connection refused or reset): the channel is down, not this message refused. */
    readonly unanswered = false,
  ) {
    super(`${sink}: ${message}`);
    this.name = 'SinkDeliveryError';
  }
}

/** A chat or webhook channel. */
export interface AlertSink {
  readonly name: string;
  /** Messages per minute the channel accepts (DingTalk 20, WeCom 20, Lark 100, Slack ~60). */
  readonly perMinute: number;
  /** Shortest gap between two messages, for channels with a per-second limit (Lark 5/s, Slack ~1/s). */
  readonly minIntervalMs?: number;
  /** Longest one send may take (its whole-exchange timeout); the deliverer's lease must outlast it. */
  readonly timeoutMs?: number;
  send(notification: AlertNotification): Promise<void>;
}
