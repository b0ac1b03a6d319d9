import { describe, expect, it } from 'vitest';
import { CallLog, type CallRecord } from '../../../local/sandbox/calls.ts';

const record = (Action: string, Code: string, i: number): CallRecord => ({ At: new Date(1_000 + i).toISOString(), AccessKeyId: 'k', Action, Params: {}, HttpStatus: Code === 'OK' ? 200 : 400, Code, RequestId: `r${i}` });

describe('CallLog', () => {
  it('counts every call, also those the bounded log no longer holds', () => {
    const log = new CallLog(5);
    const codes = ['OK', 'OK', 'System.LimitControl', 'OK', 'Throttling.User', 'OK', 'System.LimitControl', 'OK'];
    codes.forEach((c, i) => log.add(record('GetWhatsappHealthStatus', c, i)));
    log.add(record('ChatappBindWaba', 'OK', 99));
    expect(log.list()).toHaveLength(5);
    expect(log.stats()).toEqual({
      LastSeq: 9,
      Calls: 9,
      ByAction: { GetWhatsappHealthStatus: { OK: 5, 'System.LimitControl': 2, 'Throttling.User': 1 }, ChatappBindWaba: { OK: 1 } },
    });
  });

  it('numbers records and lists only those after a cursor, at every boundary', () => {
    const log = new CallLog(4);
    for (let i = 0; i < 7; i++) log.add(record('A', 'OK', i));
    // held: Seq 4..7
    expect(log.list().map((r) => r.Seq)).toEqual([4, 5, 6, 7]);
    for (let after = 0; after <= 8; after++) {
      expect(log.list(after).map((r) => r.Seq)).toEqual([4, 5, 6, 7].filter((s) => s > after));
    }
  });

  it('a reset empties the log and the counters, and Seq goes on so a cursor stays valid', () => {
    const log = new CallLog();
    log.add(record('A', 'OK', 1));
    log.add(record('A', 'OK', 2));
    const cursor = log.stats().LastSeq;
    log.clear();
    expect(log.stats()).toEqual({ LastSeq: 2, Calls: 0, ByAction: {} });
    log.add(record('A', 'System.LimitControl', 3));
    expect(log.list(cursor).map((r) => [r.Seq, r.Code])).toEqual([[3, 'System.LimitControl']]);
  });
});
