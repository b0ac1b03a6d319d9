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

/** Bounded so a long-running sandbox under a benchmark does not grow without end. */
export class CallLog {
  private readonly records: CallRecord[] = [];

  constructor(private readonly maxRecords = 10_000) {}

  add(record: CallRecord): void {
    this.records.push(record);
    if (this.records.length > this.maxRecords) this.records.splice(0, this.records.length - this.maxRecords);
  }

  list(): CallRecord[] {
    return [...this.records];
  }

  clear(): void {
    this.records.length = 0;
  }
}

export function maskToken(token: string): string {
  return token.slice(0, 4) + '****';
}
