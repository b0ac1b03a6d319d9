import { describe, expect, it } from 'vitest';
import { QueryWabaParams } from '../../../functions/query-waba/schema.ts';
import { rejectionOf } from '../../support/schema.ts';

describe('query-waba params', () => {
  it('accepts CustSpaceId with an optional IsvCode', () => {
    expect(rejectionOf(QueryWabaParams, { CustSpaceId: 'C0202939293' })).toBeUndefined();
    expect(rejectionOf(QueryWabaParams, { CustSpaceId: 'C0202939293', IsvCode: 'isv_1' })).toBeUndefined();
  });
  it('requires CustSpaceId', () => {
    expect(rejectionOf(QueryWabaParams, {})).toEqual({ code: 'MissingParameter', fields: { CustSpaceId: 'is required' } });
  });
  it('rejects a CustSpaceId with odd characters and a bad IsvCode', () => {
    const r = rejectionOf(QueryWabaParams, { CustSpaceId: 'a b', IsvCode: 'x'.repeat(65) });
    expect(Object.keys(r!.fields).sort()).toEqual(['CustSpaceId', 'IsvCode']);
  });
});
