import type { OnboardingPayload } from './payload.ts';

const ONBOARDING_PREFIX = 'onboarding/';
export const STEPS = ['bind', 'addPhone', 'query', 'health', 'watch'] as const;
export type StepName = (typeof STEPS)[number];

export interface StepResult {
  at: string;
  [key: string]: unknown;
}

export interface OnboardingError {
  at: string;
  step: StepName | 'validate' | 'redrive';
  Code: string;
  Message: string;
  permanent: boolean;
}

/** Everything about one onboarding; written after each step so a redelivery resumes, never repeats. */
export interface OnboardingRecord {
  OnboardingId: string;
  IdempotencyKey: string;
  Status: 'accepted' | 'running' | 'done' | 'failed';
  Payload: OnboardingPayload;
  CustSpaceId?: string;
  /** As CAMS reported it (a value it added since included). */
  AccountReviewStatus?: string;
  /** As CAMS reported it (a value it added since included). */
  CanSendMessage?: string;
  Steps: Partial<Record<StepName, StepResult>>;
  /** A step whose CAMS call went out but whose result was not recorded (a crash in between). */
  StepInFlight?: StepName;
  Attempts: number;
  /** While a run holds the record's lease: when that lease runs out. A `running` record past it is stalled. */
  LeaseExpiresAt?: string;
  Errors: OnboardingError[];
  FailureReason?: string;
  WatchTargets?: string[];
  Source?: string;
  CreatedAt: string;
  UpdatedAt: string;
}

/** True when no run holds the record: it is waiting to be (re)started. */
export function isStalled(record: OnboardingRecord, nowMs: number): boolean {
  if (record.Status === 'accepted') return true;
  if (record.Status !== 'running') return false;
  return !record.LeaseExpiresAt || Date.parse(record.LeaseExpiresAt) <= nowMs;
}

export function recordKey(onboardingId: string): string {
  return ONBOARDING_PREFIX + onboardingId;
}
