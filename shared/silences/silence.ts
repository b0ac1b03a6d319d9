import type { AlertSubject } from '../alerts/model.ts';

/** What a matcher can name, and where each is read from an alert. */
const MATCHER_FIELDS = {
  CustSpaceId: (s: AlertSubject) => s.custSpaceId,
  WabaId: (s: AlertSubject) => s.wabaId,
  PhoneNumber: (s: AlertSubject) => s.phoneNumber,
  TemplateCode: (s: AlertSubject) => s.templateCode,
  Language: (s: AlertSubject) => s.language,
  NodeType: (s: AlertSubject) => s.nodeType,
  /** The alert's name: its CAMS entity type (WABA, PHONE_NUMBER, …) or the monitor's failure (AuthRefused, …). */
  AlertName: (s: AlertSubject) => s.entityType,
} as const;

export type MatcherName = keyof typeof MATCHER_FIELDS;

/**
 * Every alert name the monitor gives (an AlertName matcher must be one): the CAMS entity types a
 * health check reports, the early warnings receipts and discovery add, and the monitor's own.
 * test/shared/silences/alert-names.test.ts fails when the code gives one that is not here.
 */
export const ALERT_NAMES = [
  'WABA', 'PHONE_NUMBER', 'MESSAGE_TEMPLATE', 'BUSINESS', 'APP',
  'PHONE_QUALITY', 'TEMPLATE_STATUS', 'WABA_REVIEW',
  'AuthRefused', 'CamsUnreachable', 'TargetRejected', 'InvalidTarget', 'DiscoveryFailed', 'OnboardingFailed', 'ReceiptMessageSetAside', 'SinkRejected',
  'StoreEvicting',
] as const;

/** NodeType matcher values: the node types of the health routes, and the monitor's own alerts. */
export const MATCHER_NODE_TYPES = ['waba', 'phone', 'template', 'monitor'] as const;
export const MATCHER_NAMES = Object.keys(MATCHER_FIELDS) as MatcherName[];

export interface Matcher {
  Name: MatcherName;
  Value: string;
}

/** An Alertmanager-style silence: alerts matching every matcher are recorded, not sent, while it is active. */
export interface Silence {
  SilenceId: string;
  Matchers: Matcher[];
  /** Epoch ms. */
  StartsAt: number;
  EndsAt: number;
  CreatedBy: string;
  Comment: string;
  CreatedAt: number;
  /** Set when it was ended early (DELETE). */
  ExpiredAt?: number;
}

/** An ended silence stays listed this long. */
export const EXPIRED_LISTED_MS = 7 * 86_400_000;

export type SilenceState = 'pending' | 'active' | 'expired';

export function silenceState(s: Silence, now: number): SilenceState {
  if (now >= s.EndsAt) return 'expired';
  return now < s.StartsAt ? 'pending' : 'active';
}

/** Every matcher holds (equality). A WABA's phones and templates carry its WabaId, so a WABA silence covers them. */
export function matches(s: Pick<Silence, 'Matchers'>, subject: AlertSubject): boolean {
  return s.Matchers.every((m) => MATCHER_FIELDS[m.Name](subject) === m.Value);
}

/** The first active silence that matches, if any. */
export function silencing(silences: readonly Silence[], subject: AlertSubject, now: number): Silence | undefined {
  return silences.find((s) => silenceState(s, now) === 'active' && matches(s, subject));
}
