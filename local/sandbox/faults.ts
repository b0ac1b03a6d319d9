/** Injected faults, applied to every signed CAMS call before the QPS limiter and the operation. */
export interface FaultSettings {
  /** Share of calls answered HTTP 400 System.LimitControl regardless of the real limit. */
  throttleRate: number;
  /** Share of calls answered HTTP 503 ServiceUnavailable or 500 InternalError. */
  errorRate: number;
  /** Delay before every CAMS reply, in ms. */
  latencyMs: number;
  /** Seed of the generator that draws the rates: the same seed and call order give the same faults. */
  seed: number;
  /** Calls refused as CAMS refuses a RAM user without the permission, or an account without the product. */
  denials?: Denial[];
  /** STS tokens answered as expired (STS has no clock here: a test names the token that ran out). */
  expiredTokens?: string[];
}

/** The two refusals every seed page lists besides throttling and ownership (HTTP 400 there). */
export type DenialCode = 'Ram.PermissionDeny' | 'Product.Unsubscript';

/** One refusal: a key's calls (every key's when absent) to an action (every action when absent). */
export interface Denial {
  code: DenialCode;
  accessKeyId?: string;
  action?: string;
}

export type FaultOutcome = 'throttle' | 'unavailable' | 'internal' | undefined;

export const NO_FAULTS: FaultSettings = { throttleRate: 0, errorRate: 0, latencyMs: 0, seed: 1 };

/**
 * Rates of 0 and 1 are exact (no draw can change them); rates in between come from mulberry32 seeded
 * with `seed`, re-seeded on every PUT so a test can replay a sequence.
 */
export class FaultInjector {
  private settings: FaultSettings = { ...NO_FAULTS };
  private state = NO_FAULTS.seed >>> 0;

  get current(): FaultSettings {
    return { ...this.settings, ...(this.settings.denials ? { denials: this.settings.denials.map((d) => ({ ...d })) } : {}), ...(this.settings.expiredTokens ? { expiredTokens: [...this.settings.expiredTokens] } : {}) };
  }

  set(settings: FaultSettings): void {
    this.settings = { ...settings, ...(settings.denials ? { denials: settings.denials.map((d) => ({ ...d })) } : {}), ...(settings.expiredTokens ? { expiredTokens: [...settings.expiredTokens] } : {}) };
    this.state = settings.seed >>> 0;
  }

  reset(): void {
    this.set(NO_FAULTS);
  }

  /** The refusal owed to this key's call to this action, if any (the first denial that matches). */
  denial(accessKeyId: string, action: string): DenialCode | undefined {
    return this.settings.denials?.find((d) => (d.accessKeyId ?? accessKeyId) === accessKeyId && (d.action ?? action) === action)?.code;
  }

  /** Whether this STS token is to be answered as expired. */
  tokenExpired(token: string): boolean {
    return this.settings.expiredTokens?.includes(token) ?? false;
  }

  /** Decides the fault for one call. Draws are taken in a fixed order so sequences are replayable. */
  draw(): FaultOutcome {
    const { throttleRate, errorRate } = this.settings;
    if (throttleRate > 0 && this.next() < throttleRate) return 'throttle';
    if (errorRate > 0 && this.next() < errorRate) return this.next() < 0.5 ? 'unavailable' : 'internal';
    return undefined;
  }

  private next(): number {
    // mulberry32: tiny, fast, good enough to spread faults evenly.
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
