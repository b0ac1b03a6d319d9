import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseKeyList, parseKeyPair, positiveInt, readEnv } from '../../../shared/config/env.ts';

// The expression parseKeyPair replaces: its verdict and its groups must be the same on any input.
const KEY_PAIR = /^([A-Za-z0-9._-]{3,128}):(\S{8,256})$/;
const viaRegExp = (v: string) => {
  const m = KEY_PAIR.exec(v);
  return m ? { accessKeyId: m[1], accessKeySecret: m[2] } : undefined;
};

describe('parseKeyPair', () => {
  it.each([
    'abc:12345678',
    'ab:12345678',
    'abc:1234567',
    `${'a'.repeat(128)}:12345678`,
    `${'a'.repeat(129)}:12345678`,
    `abc:${'s'.repeat(256)}`,
    `abc:${'s'.repeat(257)}`,
    'a.b_c-D9:sec:ret:with:colons',
    'a b:12345678',
    'abc:1234 5678',
    'abc:1234\u00a05678',
    'abc:1234\u20285678',
    'ab\u00e9:12345678',
    ':12345678',
    'abc:',
    'abc',
    '',
  ])('agrees with the expression on %j', (v) => {
    expect(parseKeyPair(v)).toEqual(viaRegExp(v));
  });

  it('agrees with the expression on generated pairs', () => {
    const ch = fc.constantFrom('a', 'Z', '0', '.', '_', '-', ':', ' ', '\t', '\u00a0', '\ufeff', 'é', '/', '@', '\u2028');
    const run = (min: number, max: number) => fc.array(ch, { minLength: min, maxLength: max }).map((a) => a.join(''));
    fc.assert(
      fc.property(run(0, 12), run(0, 14), (id, secret) => {
        const v = `${id}:${secret}`;
        expect(parseKeyPair(v)).toEqual(viaRegExp(v));
        expect(parseKeyPair(id + secret)).toEqual(viaRegExp(id + secret));
      }),
      { numRuns: 30_000 },
    );
  });

  it('parseKeyList still names the variable and the entry', () => {
    expect(parseKeyList('API_KEYS', ' k-1:secret-one-1 , k-2:secret-two-2')).toEqual([
      { accessKeyId: 'k-1', accessKeySecret: 'secret-one-1' },
      { accessKeyId: 'k-2', accessKeySecret: 'secret-two-2' },
    ]);
    expect(() => parseKeyList('API_KEYS', 'k-1:secret-one-1,k 2:secret-two-2')).toThrow(/^API_KEYS: entry 2 must be "id:secret"/);
    expect(() => parseKeyList('API_KEYS', 'k-1:secret-one-1,k-1:secret-two-2')).toThrow(ConfigError);
  });
});

describe('positiveInt', () => {
  it.each([
    ['42', 42],
    ['007', 7],
  ])('reads %j', (v, n) => expect(readEnv({ X: v }, 'X', positiveInt)).toBe(n));

  it.each(['0', '-1', '1.5', '1e3', ' 1', '\u0661', 'abc'])('refuses %j, naming the variable', (v) => {
    expect(() => readEnv({ X: v }, 'X', positiveInt)).toThrow(/^X: must be (a whole number|greater than 0)$/);
  });
});
