import { describe, expect, it } from 'vitest';
import { budgetQps } from '../../../../shared/cams/budget/qps.ts';
import { CAMS_QPS } from '../../../../shared/cams/operations.ts';

describe('budgetQps (CAMS_QPS)', () => {
  it('defaults to the documented limits', () => {
    expect(budgetQps({})).toEqual(CAMS_QPS);
    expect(budgetQps({}).GetWhatsappHealthStatus).toBe(5);
  });
  it('overrides per operation', () => {
    const q = budgetQps({ CAMS_QPS: 'GetWhatsappHealthStatus=100, ChatappBindWaba=2.5' });
    expect(q.GetWhatsappHealthStatus).toBe(100);
    expect(q.ChatappBindWaba).toBe(2.5);
    expect(q.AddChatappPhoneNumber).toBe(CAMS_QPS.AddChatappPhoneNumber);
  });
  it('names CAMS_QPS and the bad entry', () => {
    expect(() => budgetQps({ CAMS_QPS: 'Nope=1' })).toThrow(/CAMS_QPS: unknown operation "Nope"/);
    expect(() => budgetQps({ CAMS_QPS: 'GetWhatsappHealthStatus' })).toThrow(/CAMS_QPS: entry "GetWhatsappHealthStatus"/);
    expect(() => budgetQps({ CAMS_QPS: 'GetWhatsappHealthStatus=0' })).toThrow(/CAMS_QPS: GetWhatsappHealthStatus must be/);
    expect(() => budgetQps({ CAMS_QPS: 'toString=1' })).toThrow(/unknown operation/);
  });
  it('refuses an operation given twice, naming it: the last one silently won (a typo for another operation went unnoticed)', () => {
    expect(() => budgetQps({ CAMS_QPS: 'GetWhatsappHealthStatus=100,GetWhatsappHealthStatus=5' })).toThrow(/CAMS_QPS: GetWhatsappHealthStatus is given twice/);
  });
  it('says what a value must be and what an empty entry is, rather than that the entry is not Operation=number', () => {
    expect(() => budgetQps({ CAMS_QPS: 'GetWhatsappHealthStatus=-1' })).toThrow(/CAMS_QPS: GetWhatsappHealthStatus must be a number of calls per second above 0 and at most 1000 \(got "-1"\)/);
    expect(() => budgetQps({ CAMS_QPS: 'GetWhatsappHealthStatus=0' })).toThrow(/CAMS_QPS: GetWhatsappHealthStatus must be a number of calls per second above 0 and at most 1000 \(got "0"\)/);
    expect(() => budgetQps({ CAMS_QPS: 'GetWhatsappHealthStatus=1e2' })).toThrow(/GetWhatsappHealthStatus must be a number .*\(got "1e2"\)/);
    expect(() => budgetQps({ CAMS_QPS: 'GetWhatsappHealthStatus=5,' })).toThrow(/CAMS_QPS: entry 2 is empty \(a comma too many\)/);
  });
});
