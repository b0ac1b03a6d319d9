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
  it('rejects a WabaId that is not a string (e.g. an inexact JSON number)', () => {
    expect(rejectionOf(BindWabaParams, { WabaId: 1.5 })).toEqual({ code: 'InvalidParameter', fields: { WabaId: 'must be a string' } });
  });
  it('rejects an unknown parameter by name', () => {
    expect(rejectionOf(BindWabaParams, { WabaId: '1', WabaID: '1' })?.fields).toEqual({ WabaID: 'is not a parameter of this operation' });
  });
});
