import { describe, expect, it } from 'vitest';
import { keyOfNextToken, nextTokenOf } from '../../../shared/store/next-token.ts';

describe('NextToken', () => {
  it('names the key it was made of, under the expected prefix only', () => {
    const token = nextTokenOf('watch/phone:C1:86');
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(keyOfNextToken(token, 'watch/')).toBe('watch/phone:C1:86');
    expect(keyOfNextToken(token, 'entity/')).toBeUndefined();
  });

  it('refuses what nextTokenOf would not have written', () => {
    expect(keyOfNextToken('!!', '')).toBeUndefined();
    // The same bytes with padding: a second spelling of one key is not a token.
    expect(keyOfNextToken(`${nextTokenOf('watch/a')}=`, 'watch/')).toBeUndefined();
  });
});
