import { describe, expect, it } from 'vitest';
import { NextToken, PageSize, unknownNextToken } from '../../../shared/validation/page-params.ts';

describe('page params', () => {
  it('PageSize is a whole number from 1 to its maximum, given as a query string', () => {
    const size = PageSize(500);
    expect(size.safeParse('500')).toMatchObject({ success: true, data: 500 });
    expect(size.safeParse(undefined)).toMatchObject({ success: true, data: undefined });
    // A JSON body's true, 1.5 or object too: not the bare "Invalid input".
    for (const bad of ['0', '501', '1.5', '-1', 'x', '12345', true, 1.5, {}, []]) {
      expect(size.safeParse(bad).error?.issues[0]?.message).toBe('must be a whole number from 1 to 500');
    }
  });

  it('NextToken is the base64url token of the previous page', () => {
    expect(NextToken().safeParse('d2F0Y2gvYQ')).toMatchObject({ success: true, data: 'd2F0Y2gvYQ' });
    for (const bad of ['a b', 'a+b/', '', 'x'.repeat(2049), true, 7.5, {}]) {
      expect(NextToken().safeParse(bad).error?.issues[0]?.message).toBe('must be the NextToken of the previous page');
    }
  });

  it('a well-formed NextToken that names no page is refused as a malformed one is', () => {
    expect(unknownNextToken()).toMatchObject({ status: 400, code: 'InvalidParameter', message: 'NextToken: must be the NextToken of the previous page', extra: { fields: [{ Field: 'NextToken', Message: 'must be the NextToken of the previous page' }] } });
  });
});
