import { describe, expect, it } from 'vitest';
import { BindWabaParams } from '../../../functions/bind-waba/schema.ts';
import { rejectionOf } from '../../support/schema.ts';

describe('bind-waba params', () => {
  it('accepts a digit WabaId', () => {
    expect(rejectionOf(BindWabaParams, { WabaId: '299399000001' })).toBeUndefined();
  });
  it('names a missing WabaId as MissingParameter', () => {
    expect(rejectionOf(BindWabaParams, {})).toEqual({ code: 'MissingParameter', fields: { WabaId: 'is required' } });
  });
  it.each([[''], [' '], [null]])('counts an empty WabaId (%j) as missing', (WabaId) => {
    expect(rejectionOf(BindWabaParams, { WabaId })).toEqual({ code: 'MissingParameter', fields: { WabaId: 'is required' } });
  });
  it.each([['12ab'], ['1'.repeat(33)], ['-1']])('rejects WabaId %j: digits only', (WabaId) => {
    expect(rejectionOf(BindWabaParams, { WabaId })?.fields['WabaId']).toContain('digits');
  });
  it('rejects a WabaId that is not a string, saying why a JSON number was not taken', () => {
    expect(rejectionOf(BindWabaParams, { WabaId: 1.5 })).toEqual({ code: 'InvalidParameter', fields: { WabaId: 'is a negative or fractional number: send the value as a string' } });
    expect(rejectionOf(BindWabaParams, { WabaId: 2 ** 60 })).toEqual({ code: 'InvalidParameter', fields: { WabaId: 'is a number too large to be exact: send it as a string' } });
    expect(rejectionOf(BindWabaParams, { WabaId: true })).toEqual({ code: 'InvalidParameter', fields: { WabaId: 'must be a string' } });
  });
  it('rejects an unknown parameter by name', () => {
    expect(rejectionOf(BindWabaParams, { WabaId: '1', WabaID: '1' })?.fields).toEqual({ WabaID: 'is not a parameter of this operation' });
  });
});
