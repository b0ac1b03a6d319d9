import { describe, expect, it } from 'vitest';
import { MAX_RECEIPT_DEPTH, parseBatch, parseReceipt, RECEIPT_TYPES } from '../../../shared/receipts/parse.ts';
import { receiptKey } from '../../../shared/receipts/dedup.ts';
import { receiptObservation } from '../../../shared/receipts/observation.ts';
import { HealthNode } from '../../../shared/validation/health-target.ts';

const W = '1234567890';
const examples: Record<string, Record<string, unknown>> = {
  template: { Type: 'template', WabaId: W, TemplateCode: 'welcome', Language: 'en_US', AuditStatus: 'fail', Reason: 'INVALID_FORMAT' },
  phoneNameUpdate: { Type: 'phoneNameUpdate', WabaId: W, PhoneNumber: '8613800000000', Status: 'APPROVED' },
  phoneQualityUpdate: { Type: 'phoneQualityUpdate', WabaId: W, PhoneNumber: '+8613800000000', Status: 'RED' },
  wabaReviewUpdate: { Type: 'wabaReviewUpdate', WabaId: W, Status: 'APPROVED' },
  wabaAccountUpdate: { Type: 'wabaAccountUpdate', WabaId: W, PhoneNumber: '8613800000000', Status: 'ACCOUNT_RESTRICTION' },
  templateCategoryUpdate: { Type: 'templateCategoryUpdate', WabaId: W, TemplateCode: 'welcome', Language: 'en', Status: 'MARKETING' },
  templateQualityUpdate: { Type: 'templateQualityUpdate', WabaId: W, TemplateCode: 'welcome', Language: 'en', Status: 'YELLOW' },
};

describe('receipt parsing', () => {
  it('parses every receipt type of the notes as known', () => {
    expect(Object.keys(examples).sort()).toEqual([...RECEIPT_TYPES].sort());
    for (const [type, raw] of Object.entries(examples)) {
      const r = parseReceipt(raw);
      expect(r.ok, type).toBe(true);
      if (r.ok) expect(r.receipt).toMatchObject({ type, wabaId: W, known: true });
    }
    const q = parseReceipt(examples['phoneQualityUpdate']);
    expect(q.ok && q.receipt.phoneNumber).toBe('8613800000000');
  });

  it("a Language in another casing (en-us, EN_us) names the template a watch target spells en_US, so its node can be watched", () => {
    for (const [given, spelt] of [['en-us', 'en_US'], ['EN_us', 'en_US'], ['FIL', 'fil'], ['zh_CN', 'zh_CN']] as const) {
      const r = parseReceipt({ ...examples['template'], Language: given });
      expect(r.ok && r.receipt.language, given).toBe(spelt);
      expect(HealthNode.safeParse({ CustSpaceId: 'C1', NodeType: 'template', TemplateCode: 'welcome', Language: r.ok ? r.receipt.language : '' }).success).toBe(true);
    }
  });

  it('an unknown Type or Status is data (known: false), not an error', () => {
    const t = parseReceipt({ Type: 'accountAlerts', WabaId: W, Status: 'X' });
    expect(t.ok && t.receipt.known).toBe(false);
    const s = parseReceipt({ ...examples['phoneQualityUpdate'], Status: 'ORANGE' });
    expect(s.ok && s.receipt.known).toBe(false);
    const a = parseReceipt({ ...examples['template'], AuditStatus: 'archived' });
    expect(a.ok && a.receipt.known).toBe(false);
  });

  it("ChatAppAudit's V1 form (no Type: its HTTP page's sample) is a template receipt, the same as V2's, its dedup content V2's", () => {
    // The chatappaudit-1 page's sample push, its masked ids made digits and letters.
    const sample = { WabaId: '9099999990000', TemplateCode: '744c4b5c79c9432497a075bdfca30000', Language: 'en_US', AuditStatus: 'unaudit', Reason: '' };
    const v1 = parseReceipt(sample);
    const v2 = parseReceipt({ ...sample, Type: 'template' });
    expect(v1.ok && v2.ok).toBe(true);
    if (!v1.ok || !v2.ok) return;
    expect(v1.receipt).toEqual({ ...v2.receipt, raw: sample });
    expect(v1.receipt).toMatchObject({ type: 'template', wabaId: '9099999990000', templateCode: sample.TemplateCode, language: 'en_US', auditStatus: 'unaudit', known: true });
    expect(receiptKey(v1.receipt.content)).toBe(receiptKey(v2.receipt.content));
    // Kept as sent: no Type is added to what is stored and shown.
    expect(v1.receipt.raw).not.toHaveProperty('Type');
    // As strict as V2's: a review state not in the notes is data, a language spelt otherwise is normalised.
    expect(parseReceipt({ ...sample, AuditStatus: 'archived' })).toMatchObject({ ok: true, receipt: { type: 'template', known: false } });
    expect(parseReceipt({ ...sample, Language: 'en-us', Type: null })).toMatchObject({ ok: true, receipt: { type: 'template', language: 'en_US' } });
  });

  it('a V1 receipt missing a field, or holding a bad one, is refused alone naming it; one with no Type nor any V1 field names Type', () => {
    const { receipts, errors } = parseBatch([
      { WabaId: W, TemplateCode: 'welcome', Language: 'en_US' },
      { ...examples['template'] },
      { WabaId: W, TemplateCode: 'a b', AuditStatus: 'pass', Language: 'en_US' },
      { WabaId: W, PhoneNumber: '8613800000000', Status: 'RED' },
      { WabaId: W, TemplateCode: 'welcome', Language: 'en_US', AuditStatus: 'pass' },
    ]);
    expect(receipts.map((r) => [r.index, r.receipt.type])).toEqual([
      [1, 'template'],
      [4, 'template'],
    ]);
    expect(errors).toEqual([
      { index: 0, fields: [{ Field: '[0].AuditStatus', Message: 'is required (a receipt without Type is read as a V1 template receipt)' }] },
      { index: 2, fields: [{ Field: '[2].TemplateCode', Message: 'must be 1-128 letters, digits, _ or -' }] },
      { index: 3, fields: [{ Field: '[3].Type', Message: 'is required' }] },
    ]);
    expect(parseReceipt({ TemplateCode: 'welcome' }, '[0]')).toEqual({
      ok: false,
      fields: [
        { Field: '[0].WabaId', Message: 'is required' },
        { Field: '[0].Language', Message: 'is required (a receipt without Type is read as a V1 template receipt)' },
        { Field: '[0].AuditStatus', Message: 'is required (a receipt without Type is read as a V1 template receipt)' },
      ],
    });
  });

  it('a Reason that is not a string (an object, a number) is data: the receipt is kept, the Reason as its JSON text, capped as a string is', () => {
    for (const [given, kept] of [
      [{ code: 131_049, detail: 'policy' }, '{"code":131049,"detail":"policy"}'],
      [-1.5, '-1.5'],
      [42, '42'],
      [true, 'true'],
      [['a', 'b'], '["a","b"]'],
    ] as const) {
      const r = parseReceipt({ ...examples['template'], Reason: given });
      expect(r.ok, JSON.stringify(given)).toBe(true);
      expect(r.ok && r.receipt).toMatchObject({ type: 'template', known: true, reason: kept });
    }
    const long = parseReceipt({ ...examples['template'], Reason: { text: 'x'.repeat(5_000) } });
    expect(long.ok && long.receipt.reason).toBe(`{"text":"${'x'.repeat(1_000 - 9)}`);
    // Absent, null or empty: no reason, as before.
    for (const Reason of [undefined, null, '']) {
      const r = parseReceipt({ ...examples['template'], Reason });
      expect(r.ok && r.receipt.reason).toBeUndefined();
    }
  });

  it('names every bad field, per receipt, with its index in the batch', () => {
    const { receipts, errors } = parseBatch([examples['template'], { Type: 'template', WabaId: 12.5, TemplateCode: 'a b' }, null]);
    expect(receipts.map((r) => r.index)).toEqual([0]);
    expect(errors).toEqual([
      {
        index: 1,
        fields: [
          { Field: '[1].WabaId', Message: 'must be a string' },
          { Field: '[1].TemplateCode', Message: 'must be 1-128 letters, digits, _ or -' },
          { Field: '[1].Language', Message: 'is required' },
          { Field: '[1].AuditStatus', Message: 'is required' },
        ],
      },
      { index: 2, fields: [{ Field: '[2]', Message: 'must be a JSON object (a ChatAppAudit receipt)' }] },
    ]);
  });

  it('an id holding U+FFFD (a byte of the push that was not UTF-8) is refused, saying so; the Reason keeps it as text', () => {
    const r = parseReceipt({ Type: 'phoneQualityUpdate', WabaId: `12\uFFFD34`, PhoneNumber: '86138\uFFFD0000000', Status: 'RED', Reason: 'caf\uFFFD' }, '[0]');
    expect(r).toEqual({
      ok: false,
      fields: [
        { Field: '[0].WabaId', Message: 'must be the WABA id: 1-32 digits: it holds a byte that is not UTF-8 (read as U+FFFD)' },
        { Field: '[0].PhoneNumber', Message: 'must be the phone number with its country code (E.164 digits, "+" optional): it holds a byte that is not UTF-8 (read as U+FFFD)' },
      ],
    });
    expect(parseReceipt({ ...examples['wabaReviewUpdate'], Reason: 'caf\uFFFD' })).toMatchObject({ ok: true, receipt: { reason: 'caf\uFFFD' } });
  });

  it('with its JSON text: a receipt that gives a key twice is malformed, named by the path of its first, beside its other problems; the others are kept', () => {
    const text = '[{"Type":"wabaReviewUpdate","WabaId":"1","Status":"A","Status":"B","Status":"C"},{"Type":"wabaReviewUpdate","WabaId":"2"},{"Type":"phoneQualityUpdate","WabaId":"3","WabaId":"x","Reason":{"a":1,"a":2}},{"Reason":{"Type":1},"Type":"wabaReviewUpdate","WabaId":"4"}]';
    const { receipts, errors } = parseBatch(JSON.parse(text), text);
    expect(receipts.map((r) => [r.index, r.receipt.wabaId])).toEqual([[1, '2'], [3, '4']]);
    expect(errors).toEqual([
      { index: 0, fields: [{ Field: '[0].Status', Message: 'is given more than once' }] },
      {
        index: 2,
        fields: [
          { Field: '[2].WabaId', Message: 'is given more than once' },
          { Field: '[2].WabaId', Message: 'must be the WABA id: 1-32 digits' },
          { Field: '[2].PhoneNumber', Message: 'is required' },
          { Field: '[2].Status', Message: 'is required' },
        ],
      },
    ]);
    // One receipt, not in an array: it is [0], as its other problems are named.
    const one = '{"Type":"wabaReviewUpdate","WabaId":"1","Reason":{"x":{"y":1,"y":1}}}';
    expect(parseBatch(JSON.parse(one), one).errors).toEqual([{ index: 0, fields: [{ Field: '[0].Reason.x.y', Message: 'is given more than once' }] }]);
    // Without the text, what JSON.parse kept is all there is to check.
    expect(parseBatch(JSON.parse(text)).errors.map((e) => e.index)).toEqual([2]);
  });

  it('a receipt nested deeper than MAX_RECEIPT_DEPTH is a field error, not a stack overflow later (dedup key, store)', () => {
    const nest = (levels: number, inner: unknown = 1): unknown => {
      let v = inner;
      for (let i = 0; i < levels; i++) v = i % 2 ? { a: v } : [v];
      return v;
    };
    // 60,000 levels: JSON.parse takes it; a recursive walk of it does not.
    const deep = JSON.parse(JSON.stringify(examples['template']).slice(0, -1) + ',"Extra":' + '['.repeat(60_000) + ']'.repeat(60_000) + '}') as unknown;
    const { receipts, errors } = parseBatch([examples['template'], deep]);
    expect(receipts.map((r) => r.index)).toEqual([0]);
    expect(errors).toEqual([{ index: 1, fields: [{ Field: '[1]', Message: `must not nest more than ${MAX_RECEIPT_DEPTH} levels deep` }] }]);
    // The receipt is level 1: a value may nest MAX_RECEIPT_DEPTH - 1 levels below it, and no more.
    const fits = parseReceipt({ ...examples['template'], Extra: nest(MAX_RECEIPT_DEPTH - 1) });
    expect(fits.ok).toBe(true);
    if (fits.ok) expect(() => receiptKey(fits.receipt.raw)).not.toThrow();
    expect(parseReceipt({ ...examples['template'], Extra: nest(MAX_RECEIPT_DEPTH) }).ok).toBe(false);
  });

  it('the dedup key ignores field order and sees any difference', () => {
    expect(receiptKey({ a: 1, b: 2 })).toBe(receiptKey({ b: 2, a: 1 }));
    expect(receiptKey({ a: 1, b: 2 })).not.toBe(receiptKey({ a: 1, b: 3 }));
  });

  it('early warnings: quality YELLOW/RED → LIMITED, GREEN → AVAILABLE, UNKNOWN → none; template paused/disabled/fail with the Reason', () => {
    const obs = (raw: Record<string, unknown>) => {
      const r = parseReceipt(raw);
      if (!r.ok) throw new Error('bad');
      return receiptObservation(r.receipt, 'C1');
    };
    const q = examples['phoneQualityUpdate']!;
    expect(obs({ ...q, Status: 'YELLOW' })?.status).toBe('LIMITED');
    expect(obs({ ...q, Status: 'RED' })?.errors[0]?.ErrorCode).toBe('QualityRating.RED');
    expect(obs({ ...q, Status: 'GREEN' })?.status).toBe('AVAILABLE');
    expect(obs({ ...q, Status: 'UNKNOWN' })).toBeUndefined();
    const t = examples['template']!;
    expect(obs({ ...t, AuditStatus: 'paused' })?.status).toBe('LIMITED');
    expect(obs({ ...t, AuditStatus: 'disabled' })?.status).toBe('BLOCKED');
    const rejected = obs(t)!;
    expect([rejected.status, rejected.errors[0]!.ErrorCode, rejected.errors[0]!.ErrorDescription]).toEqual(['BLOCKED', 'Template.Rejected', 'The template was rejected: INVALID_FORMAT']);
    expect(obs({ ...t, AuditStatus: 'pass' })?.status).toBe('AVAILABLE');
    expect(obs({ ...t, AuditStatus: 'auditing' })).toBeUndefined();
    expect(obs(examples['wabaAccountUpdate']!)).toBeUndefined();
  });

  it("a wabaReviewUpdate's review status is whichever of Status and AuditStatus is a review word; Status when both are; data when neither is", () => {
    const read = (fields: Record<string, unknown>) => {
      const r = parseReceipt({ Type: 'wabaReviewUpdate', WabaId: W, ...fields });
      if (!r.ok) throw new Error('bad');
      return { known: r.receipt.known, code: receiptObservation(r.receipt, 'C1')?.errors[0]?.ErrorCode ?? null };
    };
    // A Status that is not a review word no longer hides an AuditStatus that is one (any casing).
    expect(read({ Status: 'ACCOUNT_RESTRICTION', AuditStatus: 'rejected' })).toEqual({ known: true, code: 'Waba.Rejected' });
    expect(read({ Status: 'whatever', AuditStatus: 'DISABLED' })).toEqual({ known: true, code: 'Waba.Disabled' });
    // Both review words and differing: Status wins.
    expect(read({ Status: 'disabled', AuditStatus: 'REJECTED' })).toEqual({ known: true, code: 'Waba.Disabled' });
    expect(read({ Status: 'APPROVED', AuditStatus: 'REJECTED' })).toEqual({ known: true, code: null });
    // Only AuditStatus a review word, Status absent: as before.
    expect(read({ AuditStatus: 'rejected' })).toEqual({ known: true, code: 'Waba.Rejected' });
    // Neither a review word: data, as before (unknown-type), alerting nothing.
    expect(read({ Status: 'ACCOUNT_RESTRICTION', AuditStatus: 'paused' })).toEqual({ known: false, code: null });
  });
});
