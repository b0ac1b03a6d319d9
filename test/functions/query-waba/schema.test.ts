import { describe, expect, it } from 'vitest';
import { QueryWabaParams } from '../../../functions/query-waba/schema.ts';
import { validateParams } from '../../../shared/http-fn/params.ts';
import { rejectionOf } from '../../support/schema.ts';

describe('query-waba params (seed: CustSpaceId and IsvCode both optional)', () => {
  it('takes neither, either or both', () => {
    expect(validateParams(QueryWabaParams, {})).toEqual({});
    expect(validateParams(QueryWabaParams, { CustSpaceId: 'C0202939293' })).toEqual({ CustSpaceId: 'C0202939293' });
    expect(validateParams(QueryWabaParams, { IsvCode: 'aksik93kdkkxmwol93939' })).toEqual({ IsvCode: 'aksik93kdkkxmwol93939' });
    expect(validateParams(QueryWabaParams, { CustSpaceId: 'C0202939293', IsvCode: 'isv_1' })).toEqual({ CustSpaceId: 'C0202939293', IsvCode: 'isv_1' });
  });
  it('leaves out an empty value, as CAMS reads it (missing)', () => {
    expect(validateParams(QueryWabaParams, { CustSpaceId: '', IsvCode: ' ' })).toEqual({});
  });
  it('rejects a CustSpaceId with odd characters and a bad IsvCode', () => {
    const r = rejectionOf(QueryWabaParams, { CustSpaceId: 'a b', IsvCode: 'x'.repeat(65) });
    expect(r?.code).toBe('InvalidParameter');
    expect(Object.keys(r!.fields).sort()).toEqual(['CustSpaceId', 'IsvCode']);
  });
});
