/** One CAMS call as `GET /__sandbox/calls` reports it, rejected calls included. */
export interface CallRecord {
  /** ISO time the call arrived. */
  At: string;
  /** The key id from the Authorization header ('' when there was none); unverified on rejected calls. */
  AccessKeyId: string;
  /** The action asked for ('' when none), even an unknown one. */
  Action: string;
  /** Query and form params merged. */
  Params: Record<string, string>;
  HttpStatus: number;
  Code: string;
  RequestId: string;
  /** Present on calls made with an STS token: its first 4 characters and a mask, never the token. */
  SecurityToken?: string;
}

/** A record as the log holds it: numbered in the order it was logged, from 1, never reused (not even after a reset). */
export type LoggedCall = CallRecord & { Seq: number };

/** `GET /__sandbox/stats`: calls per action and code since the start or the last reset, the ones the log no longer holds included. */
export interface CallStats {
  /** The Seq of the last call logged (0 before the first): poll `calls?after=` from here. */
  LastSeq: number;
  Calls: number;
  ByAction: Record<string, Record<string, number>>;
}

/**
 * Bounded so a long-running sandbox under a benchmark does not grow without end. The counters are
 * kept beside it so a poller can learn totals (throttled calls above all) without the whole log:
 * serialising 10,000 records stalls the sandbox's event loop for tens of ms, which bunches the
 * arrival times it stamps and is enough to throttle calls sent on time.
 */
export class CallLog {
  private readonly records: LoggedCall[] = [];
  private seq = 0;
  private calls = 0;
  private byAction = new Map<string, Map<string, number>>();

  constructor(private readonly maxRecords = 10_000) {}

  add(record: CallRecord): void {
    const logged: LoggedCall = Object.assign(record, { Seq: ++this.seq });
    this.records.push(logged);
    if (this.records.length > this.maxRecords) this.records.splice(0, this.records.length - this.maxRecords);
    this.calls++;
    let codes = this.byAction.get(record.Action);
    if (!codes) this.byAction.set(record.Action, (codes = new Map()));
    codes.set(record.Code, (codes.get(record.Code) ?? 0) + 1);
  }

  /** The records held, oldest first; only those after Seq `after` when given (a poller's cursor). */
  list(after = 0): LoggedCall[] {
    // Seq grows with the index: the first record past `after` by binary search, not a scan.
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.records[mid]!.Seq <= after) lo = mid + 1;
      else hi = mid;
    }
    return this.records.slice(lo);
  }

  stats(): CallStats {
    const byAction: Record<string, Record<string, number>> = {};
    for (const [action, codes] of this.byAction) byAction[action] = Object.fromEntries(codes);
    return { LastSeq: this.seq, Calls: this.calls, ByAction: byAction };
  }

  /** Empties the log and its counters; Seq goes on from where it was, so a poller's cursor stays valid. */
  clear(): void {
    this.records.length = 0;
    this.calls = 0;
    this.byAction = new Map();
  }
}

export function maskToken(token: string): string {
  return token.slice(0, 4) + '****';
}
