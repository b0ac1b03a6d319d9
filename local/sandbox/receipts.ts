import { httpRequest } from '../../shared/http/request.ts';
import type { NodeHealth, NodeRef, OwedPush, ReceiptFormat, Space } from './state.ts';

/** A receipt URL carries its receiver's secret as ?token=: never shown or logged. */
export function redactToken(text: string): string {
  return text.replace(/([?&]token=)[^&\s"']+/gi, '$1***');
}

/**
 * When a refused push is tried again, after each failed attempt in turn: 1 and 5 minutes, then no
 * more (3 pushes in all), as CAMS's ChatAppAudit HTTP-callback page says (its Chinese version,
 * "重新推送").
 */
export const RETRY_DELAYS_MS: readonly number[] = [60_000, 5 * 60_000];
/**
 * That page counts a push as received only when answered HTTP 200 with a JSON body whose `code` is
 * a number (`{"code": 0, "msg": "..."}`): any other answer, no answer, or a timeout is a failure.
 */
const DELIVERED_STATUS = 200;
/**
 * A queue's acceptance: CAMS's SMQ route puts the receipts in a queue, and the local host's queue
 * (`/__mns/queues/<name>/messages`, as MNS's SendMessage) answers 201 `{MessageId}`; that is a delivery too.
 * Only at a queue's URL: a callback URL answering so has not received the push by CAMS's rule.
 */
const QUEUED_STATUS = 201;
/** The path of a queue's SendMessage (MNS's `/queues/<name>/messages`, the local host's under `/__mns`). */
const QUEUE_PATH = /\/queues\/[^/]+\/messages$/;
/** Not documented by CAMS: an attempt with no full reply by then has failed (CAMS's ChatAppStatus page asks for one within 3 s). */
const PUSH_TIMEOUT_MS = 10_000;

/** Why a 200 (or a queue's 201) is still not a delivery, or undefined when it is one. */
function notAnAck(status: number, body: Buffer): string | undefined {
  const [field, expected] = status === QUEUED_STATUS ? ['MessageId', '{"MessageId": "..."}'] : ['code', '{"code": 0, "msg": "..."}'];
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return `answered ${status} without a JSON body (${expected} expected)`;
  }
  const value = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>)[field] : undefined;
  if (status === QUEUED_STATUS) return typeof value === 'string' && value !== '' ? undefined : `answered 201 without a MessageId (${expected} expected)`;
  return typeof value === 'number' ? undefined : `answered 200 without a numeric "code" (${expected} expected)`;
}

const delivers = (status: number | undefined) => status === DELIVERED_STATUS || status === QUEUED_STATUS;

/** Why an answer that may be a delivery is not one (undefined when it is one, or is plainly a failure). */
function notDelivered(url: string, status: number, body: Buffer): string | undefined {
  if (!delivers(status)) return undefined;
  if (status === QUEUED_STATUS && !QUEUE_PATH.test(new URL(url).pathname)) return 'answered 201 at a callback URL, not a queue\'s (200 {"code": 0, "msg": "..."} expected)';
  return notAnAck(status, body);
}


/** How retries wait; injected so tests move time on by hand. A callback's promise is the retry's. */
export interface RetryTimers {
  set(fn: () => Promise<unknown>, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Real timers that never keep the process alive: a sandbox that stops keeps what it owes on disk. */
const realRetryTimers: RetryTimers = {
  set: (fn, ms) => setTimeout(() => void fn(), ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface ReceiptPusherOptions {
  log?: (line: string) => void;
  random?: () => number;
  now?: () => number;
  timers?: RetryTimers;
  /** Called with every push still owed a retry each time that list changes (the owner saves it). */
  onOwedChange?: (owed: readonly OwedPush[]) => void;
}

export type { ReceiptFormat };
export const RECEIPT_FORMATS: readonly ReceiptFormat[] = ['V1', 'V2'];

export interface PushResult {
  status?: number;
  dropped?: boolean;
  error?: string;
  /** The attempt failed and a retry is owed. */
  retrying?: boolean;
}

/**
 * Where the sandbox pushes ChatAppAudit receipts, as CAMS does once UpdateAccountWebhook has set a
 * callback URL: a JSON array of receipts per change. A push the receiver does not answer with 200
 * and a numeric `code` is retried on RETRY_DELAYS_MS, to the URL set at the time. `dropRate` loses that share of pushes
 * on purpose, as if never sent, so not retried (benches: the sweep must still catch what a lost
 * receipt did not say).
 */
export class ReceiptPusher {
  url: string | undefined;
  dropRate = 0;
  format: ReceiptFormat = 'V2';
  readonly stats = { pushed: 0, dropped: 0, failed: 0, retried: 0, gaveUp: 0 };
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly owed = new Map<OwedPush, unknown>();
  /** Bumped when pushing is turned off: an attempt in flight then owes nothing. */
  private epoch = 0;
  private readonly log: (line: string) => void;
  private random: () => number;
  private readonly now: () => number;
  private readonly timers: RetryTimers;
  private readonly onOwedChange: (owed: readonly OwedPush[]) => void;

  constructor(opts: ReceiptPusherOptions = {}) {
    this.log = opts.log ?? (() => {});
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.timers = opts.timers ?? realRetryTimers;
    this.onOwedChange = opts.onOwedChange ?? (() => {});
  }

  /** Sets the callback. Retries owed stay owed (to the new URL) unless pushing is turned off. */
  configure(url: string | undefined, dropRate = 0, seed?: number, format: ReceiptFormat = 'V2'): void {
    this.url = url;
    this.dropRate = dropRate;
    this.format = format;
    if (seed !== undefined) this.random = seeded(seed);
    for (const k of Object.keys(this.stats) as Array<keyof typeof this.stats>) this.stats[k] = 0;
    if (!url) {
      this.epoch++;
      if (this.owed.size > 0) {
        this.cancelTimers();
        this.owed.clear();
        this.onOwedChange([]);
      }
    }
  }

  /** Takes up the retries a previous run owed (from the saved state), each at its due time. */
  restore(owed: readonly OwedPush[]): void {
    for (const o of owed) this.owe({ receipts: o.receipts, retry: o.retry, dueAtMs: o.dueAtMs });
  }

  /** Pushes one array of receipts; resolves with the receiver's status (never rejects). */
  async push(receipts: readonly unknown[]): Promise<PushResult> {
    if (!this.url) return { error: 'no receipt URL is set (PUT /__sandbox/receipts {Url})' };
    if (this.dropRate > 0 && this.random() < this.dropRate) {
      this.stats.dropped++;
      return { dropped: true };
    }
    return this.attempt([...receipts], 0, undefined);
  }

  /** A health change, pushed in the background (the control call does not wait for the receiver). */
  notifyHealthChange(space: Space, node: NodeRef, before: NodeHealth, after: NodeHealth): void {
    if (!this.url || sameHealth(before, after)) return;
    this.pushChange(receiptFor(space, node, after));
  }

  /** A template's review state changed (PUT /__sandbox/templates): CAMS pushes a `template` receipt. */
  notifyTemplateReview(space: Space, templateCode: string, language: string, auditStatus: string, reason: string | undefined): void {
    if (!this.url) return;
    this.pushChange({ Type: 'template', WabaId: space.wabaId, TemplateCode: templateCode, Language: language, AuditStatus: auditStatus, ...(reason ? { Reason: reason } : {}) });
  }

  /** A number's quality rating changed (PUT /__sandbox/phone): CAMS pushes a `phoneQualityUpdate` receipt. */
  notifyQualityChange(space: Space, phoneNumber: string, rating: string): void {
    if (!this.url) return;
    this.pushChange({ Type: 'phoneQualityUpdate', WabaId: space.wabaId, PhoneNumber: phoneNumber, Status: rating });
  }

  /**
   * A WABA's review status changed (PUT /__sandbox/waba, /own-waba): CAMS pushes `wabaReviewUpdate`,
   * with no PhoneNumber. Its Status table is not published: the sandbox sends the new
   * AccountReviewStatus (Meta's account_review_update says APPROVED, REJECTED, PENDING, ...).
   */
  notifyReviewChange(wabaId: string, status: string): void {
    if (!this.url) return;
    this.pushChange({ Type: 'wabaReviewUpdate', WabaId: wabaId, Status: status });
  }

  /** A change's receipt, in the account's form: V1 carries template reviews only, with no Type. */
  private pushChange(receipt: Record<string, string>): void {
    if (this.format === 'V1') {
      if (receipt['Type'] !== 'template') return;
      receipt = { ...receipt };
      delete receipt['Type'];
    }
    void this.push([receipt]);
  }

  get pending(): number {
    return this.inFlight.size;
  }

  /** Pushes owed a retry. */
  get retrying(): number {
    return this.owed.size;
  }

  /** Stops the retry timers (the sandbox closes); what is owed stays in the saved state. */
  stop(): void {
    this.epoch++;
    this.cancelTimers();
  }

  /** Attempt `retry` (0: the first push) of `receipts`; `owedAs` is the saved entry a retry replaces. */
  private attempt(receipts: unknown[], retry: number, owedAs: OwedPush | undefined): Promise<PushResult> {
    const url = this.url!;
    const epoch = this.epoch;
    if (retry > 0) this.stats.retried++;
    const p = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(receipts), timeoutMs: PUSH_TIMEOUT_MS }).then(
      (res): PushResult => {
        this.stats.pushed++;
        const refused = notDelivered(url, res.status, res.body);
        return { status: res.status, ...(refused ? { error: refused } : {}) };
      },
      (e: unknown): PushResult => {
        this.stats.failed++;
        return { error: redactToken(e instanceof Error ? e.message : String(e)) };
      },
    ).then((result) => this.settle(receipts, retry, owedAs, epoch, result));
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  private settle(receipts: unknown[], retry: number, owedAs: OwedPush | undefined, epoch: number, result: PushResult): PushResult {
    if (epoch !== this.epoch) return result; // turned off or stopped meanwhile
    if (owedAs) this.owed.delete(owedAs);
    const how = result.error !== undefined ? `failed: ${result.error}` : `answered ${result.status}`;
    if (delivers(result.status) && result.error === undefined) {
      if (owedAs) this.onOwedChange([...this.owed.keys()]);
      return result;
    }
    const delay = RETRY_DELAYS_MS[retry];
    if (delay === undefined) {
      this.stats.gaveUp++;
      this.log(`receipts: push ${how}; given up after ${retry} retries`);
      if (owedAs) this.onOwedChange([...this.owed.keys()]);
      return result;
    }
    this.log(`receipts: push ${how}; retry ${retry + 1} of ${RETRY_DELAYS_MS.length} in ${delay / 1000} s`);
    this.owe({ receipts, retry: retry + 1, dueAtMs: this.now() + delay });
    this.onOwedChange([...this.owed.keys()]);
    return { ...result, retrying: true };
  }

  private owe(o: OwedPush): void {
    const handle = this.timers.set(() => this.fire(o), Math.max(0, o.dueAtMs - this.now()));
    this.owed.set(o, handle);
  }

  /** A retry falls due: pushed to the URL set now (still owed while in flight, so a restart repeats it). */
  private fire(o: OwedPush): Promise<PushResult> {
    if (!this.owed.has(o) || !this.url) return Promise.resolve({ error: 'no longer owed' });
    return this.attempt(o.receipts, o.retry, o);
  }

  private cancelTimers(): void {
    for (const handle of this.owed.values()) this.timers.clear(handle);
  }
}

/**
 * The receipt a change makes. CAMS's Status tables for wabaAccountUpdate are not published, so the
 * sandbox sends the node's CanSendMessage there; a template's state becomes its AuditStatus
 * (LIMITED → paused, BLOCKED → disabled) with the first error's description as the Reason.
 */
function receiptFor(space: Space, node: NodeRef, h: NodeHealth): Record<string, string> {
  const reason = h.Errors?.[0]?.ErrorDescription;
  switch (node.type) {
    case 'template':
      return {
        Type: 'template',
        WabaId: space.wabaId,
        TemplateCode: node.templateCode,
        Language: node.language,
        AuditStatus: h.CanSendMessage === 'AVAILABLE' ? 'pass' : h.CanSendMessage === 'LIMITED' ? 'paused' : 'disabled',
        ...(reason ? { Reason: reason } : {}),
      };
    case 'phone':
      return { Type: 'wabaAccountUpdate', WabaId: space.wabaId, PhoneNumber: node.phoneNumber, Status: h.CanSendMessage, ...(reason ? { Reason: reason } : {}) };
    case 'waba':
      return { Type: 'wabaAccountUpdate', WabaId: space.wabaId, Status: h.CanSendMessage, ...(reason ? { Reason: reason } : {}) };
  }
}

function sameHealth(a: NodeHealth, b: NodeHealth): boolean {
  return a.CanSendMessage === b.CanSendMessage && JSON.stringify(a.Errors ?? []) === JSON.stringify(b.Errors ?? []);
}

/** A seeded xorshift PRNG: the same sequence every run (drop decisions here, the bench's moments). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}
