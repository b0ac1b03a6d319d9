import { describe, expect, it } from 'vitest';
import { AddPhoneNumberParams } from '../../../functions/add-phone-number/schema.ts';
import { validateParams } from '../../../shared/http-fn/params.ts';
import { rejectionOf } from '../../support/schema.ts';

const ok = { CustSpaceId: 'C01', Cc: '86', PhoneNumber: '13800000000', VerifiedName: 'Acme Shop' };

describe('add-phone-number params', () => {
  it('accepts a well-formed number', () => {
    expect(rejectionOf(AddPhoneNumberParams, ok)).toBeUndefined();
  });
  it('names every missing field', () => {
    const r = rejectionOf(AddPhoneNumberParams, {});
    expect(r?.code).toBe('MissingParameter');
    expect(Object.keys(r!.fields).sort()).toEqual(['Cc', 'CustSpaceId', 'PhoneNumber', 'VerifiedName']);
  });
  it.each([[''], ['  ']])('counts an empty value (%j) as missing: MissingParameter', (empty) => {
    expect(rejectionOf(AddPhoneNumberParams, { ...ok, Cc: empty })).toEqual({ code: 'MissingParameter', fields: { Cc: 'is required' } });
    expect(rejectionOf(AddPhoneNumberParams, { ...ok, VerifiedName: empty })).toEqual({ code: 'MissingParameter', fields: { VerifiedName: 'is required' } });
  });
  it('takes the optional, deprecated PreValidateId, and drops it when empty', () => {
    expect(validateParams(AddPhoneNumberParams, { ...ok, PreValidateId: '1020123' })).toEqual({ ...ok, PreValidateId: '1020123' });
    expect(validateParams(AddPhoneNumberParams, { ...ok, PreValidateId: '' })).toEqual(ok);
    expect(validateParams(AddPhoneNumberParams, { ...ok, PreValidateId: null })).toEqual(ok);
  });
  it.each([['\uD800x'], ['a\uDC00'], ['\uDBFF']])('refuses a PreValidateId %j that cannot be sent as given (an unpaired surrogate)', (PreValidateId) => {
    expect(rejectionOf(AddPhoneNumberParams, { ...ok, PreValidateId })).toEqual({ code: 'InvalidParameter', fields: { PreValidateId: 'must be well-formed text (no unpaired surrogate)' } });
    // Control: any well-formed text, astral characters included, is passed on.
    expect(validateParams(AddPhoneNumberParams, { ...ok, PreValidateId: 'a\uD83D\uDE00&b=c' })).toEqual({ ...ok, PreValidateId: 'a\uD83D\uDE00&b=c' });
  });
  it('refuses a parameter the operation does not take, by name', () => {
    expect(rejectionOf(AddPhoneNumberParams, { ...ok, Foo: '1' })).toEqual({ code: 'InvalidParameter', fields: { Foo: 'is not a parameter of this operation' } });
  });
  it.each([['+86'], ['0086'], ['1234'], ['8a']])('rejects Cc %j: 1-3 digits', (Cc) => {
    expect(rejectionOf(AddPhoneNumberParams, { ...ok, Cc })?.fields['Cc']).toContain('1-3 digits');
  });
  it.each([['138-0000-0000'], ['+8613800000000'], ['138 0000 0000'], ['123']])('rejects PhoneNumber %j: digits only', (PhoneNumber) => {
    expect(rejectionOf(AddPhoneNumberParams, { ...ok, PhoneNumber })?.fields['PhoneNumber']).toContain('digits');
  });
  it('rejects Cc + PhoneNumber over 15 digits (E.164)', () => {
    expect(rejectionOf(AddPhoneNumberParams, { ...ok, Cc: '852', PhoneNumber: '1234567890123' })?.fields['PhoneNumber']).toContain('E.164');
  });
  it('rejects a VerifiedName that breaks a display-name rule, saying which', () => {
    expect(rejectionOf(AddPhoneNumberParams, { ...ok, VerifiedName: 'BEST SHOP EVER' })?.fields['VerifiedName']).toContain('all capitals');
  });
});
