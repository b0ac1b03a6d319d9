import * as z from '../../../shared/validation/schema.ts';
import { describe, expect, it } from 'vitest';
import { camsParams, withoutEmptyValues } from '../../../shared/validation/cams-params.ts';

describe('withoutEmptyValues', () => {
  it('drops empty and blank strings and nulls (the SDK sends no null param), keeps everything else', () => {
    expect(withoutEmptyValues({ a: '', b: '  ', c: 'x', d: ' y ', e: 0, f: null, g: false })).toEqual({ c: 'x', d: ' y ', e: 0, g: false });
  });
  it('leaves a non-object alone for the schema to refuse', () => {
    for (const v of [null, 'x', 1, ['a']]) expect(withoutEmptyValues(v)).toBe(v);
  });
});

describe('camsParams', () => {
  const schema = camsParams(z.strictObject({ Req: z.string({ error: 'is required' }), Opt: z.optional(z.string()) }));
  it('an empty required param is missing, an empty optional one is left out', () => {
    expect(schema.safeParse({ Req: '', Opt: 'o' }).error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['Req', 'is required']]);
    expect(schema.parse({ Req: 'r', Opt: '' })).toEqual({ Req: 'r' });
  });
});
