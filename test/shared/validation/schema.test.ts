import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as zod from 'zod/mini';
import * as kit from '../../../shared/validation/schema.ts';

/**
 * The schema kit against zod/mini, side by side: every schema shape the functions use is built with
 * both (the same builder, handed one library or the other) and must give the same result on the same
 * input: success, output value, and each issue's code, path, message and details.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Lib = any;

const requiredString = (z: Lib) => z.string({ error: (iss: { input: unknown }) => (iss.input === undefined ? 'is required' : 'must be a string') });
const NEEDS: Record<string, string[]> = { waba: ['WabaId'], phone: ['PhoneNumber'], template: ['WabaId', 'TemplateCode', 'Language'] };

function withoutEmptyValues(params: unknown): unknown {
  if (typeof params !== 'object' || params === null) return params;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) if (!(typeof v === 'string' && v.trim() === '')) out[k] = v;
  return out;
}

/** One of each shape in shared/ and functions/ (names say where it comes from). */
function build(z: Lib): Record<string, { parse: (v: unknown) => unknown }> {
  const digits = requiredString(z).check(z.regex(/^\d{1,32}$/, 'must be digits'));
  const cust = requiredString(z).check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an id'));
  const nodeType = z.enum(['waba', 'phone', 'template'], { error: (iss: { input: unknown }) => (iss.input === undefined ? 'is required' : 'must be one of waba, phone, template') });
  const healthFields = () =>
    z.strictObject({ CustSpaceId: cust, NodeType: nodeType, WabaId: z.optional(digits), PhoneNumber: z.optional(digits), TemplateCode: z.optional(cust), Language: z.optional(requiredString(z).check(z.regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'must be a language'))) });
  const healthTarget = healthFields().check(
      z.superRefine((v: Record<string, unknown>, ctx: { issues: unknown[] }) => {
        for (const field of NEEDS[v['NodeType'] as string] ?? []) if (v[field] === undefined) ctx.issues.push({ code: 'custom', message: `is required when NodeType is ${String(v['NodeType'])}`, path: [field], input: undefined });
      }),
    );
  // shared/validation/health-target.ts: the NodeType's fields required whenever NodeType is valid, another field's problem or not (superRefine's `when`).
  const healthTargetWhen = healthFields().check(
    z.superRefine(
      (v: Record<string, unknown>, ctx: { issues: unknown[] }) => {
        for (const field of NEEDS[v['NodeType'] as string] ?? []) if (v[field] === undefined) ctx.issues.push({ code: 'custom', message: `needed for ${String(v['NodeType'])}`, path: [field], input: undefined });
      },
      { when: (p: { value: unknown }) => typeof p.value === 'object' && p.value !== null && typeof (p.value as Record<string, unknown>)['NodeType'] === 'string' && Object.hasOwn(NEEDS, (p.value as Record<string, string>)['NodeType']!) },
    ),
  );
  const positiveInt = z.pipe(z.string().check(z.regex(/^\d+$/, 'must be a whole number')), z.transform((v: string) => Number(v))).check(z.refine((n: number) => n > 0, 'must be greater than 0'));
  const optionalString = z.optional(z.string());
  const entity = z.looseObject({ EntityType: z.string(), CanSendMessage: z.enum(['AVAILABLE', 'LIMITED', 'BLOCKED']), Errors: z.optional(z.array(z.looseObject({ ErrorCode: z.string(), ErrorDescription: optionalString }))) });
  const reply = z.looseObject({
    Code: z.string(),
    Success: z.optional(z.boolean()),
    Data: z.optional(z.unknown()),
    Total: z.optional(z.number()),
    Extra: z.optional(z.record(z.string(), z.unknown())),
    List: z._default(z.array(z.looseObject({ TemplateCode: z.string(), LastUpdateTime: z.optional(z.number()) })), []),
    Entities: z.optional(z.array(entity)),
  });
  const text = requiredString(z).check(z.trim(), z.minLength(1, 'is required'), z.maxLength(5, 'must be at most 5 characters'));
  const list = z.pipe(
    z.array(z.unknown(), { error: (iss: { input: unknown }) => (iss.input === undefined ? 'is required' : 'must be an array of targets') }).check(z.minLength(1, 'must hold at least one target'), z.maxLength(3, 'at most 3')),
    z.transform((items: unknown[], ctx: { issues: unknown[] }) => {
      items.forEach((item, i) => {
        if (typeof item !== 'string') ctx.issues.push({ code: 'custom', message: 'must be a string', path: [i], input: item });
      });
      return items.length;
    }),
  );
  const discover = z.strictObject({ NodeType: z.optional(z.literal('waba', { error: 'must be waba' })), Discover: z.literal(true, { error: 'must be true' }) });
  const named = requiredString(z).check(z.refine((v: string) => !/[<>]/.test(v), { error: (iss: { input: unknown }) => `"${String(iss.input)}" has < or >` }));
  const pathRefine = z.looseObject({ A: z.optional(z.string()), B: z.optional(z.string()) }).check(z.refine((v: Record<string, unknown>) => v['A'] === undefined || v['B'] !== undefined, { message: 'B goes with A', path: ['B'] }));
  const params = z.pipe(z.transform(withoutEmptyValues), z.strictObject({ WabaId: digits, IsvCode: z.optional(cust) }));
  const pageSize = z.strictObject({ PageSize: z.optional(z.pipe(z.string().check(z.regex(/^\d{1,4}$/, 'must be 1-9999')), z.transform((v: string) => Number(v))).check(z.refine((n: number) => n >= 1 && n <= 500, 'must be 1-500'))) });
  const bool = z.pipe(z.enum(['true', 'false'], { error: 'must be true or false' }), z.transform((v: string) => v === 'true'));
  // functions/silences: an object schema's own error for a non-object; a check that aborts the refinements after it.
  const matchers = z.array(
    z.strictObject({ Name: requiredString(z), Value: requiredString(z) }, { error: (iss: { code: string }) => (iss.code === 'invalid_type' ? 'must be an object {Name, Value}' : undefined) }),
  );
  const time = requiredString(z).check(z.regex(/^\d{4}-\d{2}$/, { error: 'must be YYYY-MM', abort: true }), z.refine((v: string) => Number(v.slice(5)) <= 12, 'is not a valid month'));
  return { digits, healthTarget, healthTargetWhen, positiveInt, reply, text, list, discover, named, pathRefine, params, pageSize, bool, entity, matchers, time };
}

const ours = build(kit);
const theirs = build(zod);

function outcome(schema: { parse: (v: unknown) => unknown }, value: unknown): unknown {
  const r = (schema as unknown as zod.ZodMiniType).safeParse(value);
  if (r.success) return { ok: true, data: r.data };
  return { ok: false, issues: r.error.issues.map((i) => ({ ...i })) };
}

const strings = fc.oneof(
  fc.constantFrom('', ' ', '  x  ', '123', '0', '007', '12345678901234567890123456789012345', 'abc', 'a_b-C', 'en', 'en_US', 'EN', 'zh_CN_X', 'true', 'false', '<b>', '😀😀😀', 'ab😀cd', 'waba', 'phone', 'template', 'AVAILABLE', 'BLOCKED'),
  fc.string({ maxLength: 8 }),
);
const scalars = fc.oneof(strings, fc.integer(), fc.double(), fc.constantFrom(NaN, Infinity, -1, 0, 1, true, false, null, undefined));
const keys = fc.constantFrom('CustSpaceId', 'NodeType', 'WabaId', 'PhoneNumber', 'TemplateCode', 'Language', 'Code', 'Success', 'Data', 'Total', 'Extra', 'List', 'Entities', 'EntityType', 'CanSendMessage', 'Errors', 'ErrorCode', 'Discover', 'A', 'B', 'IsvCode', 'PageSize', 'LastUpdateTime', 'Other', 'constructor');
const values: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalars, scalars, tie('object'), tie('array')),
  object: fc.dictionary(keys, tie('value'), { maxKeys: 6 }),
  array: fc.array(tie('value'), { maxLength: 4 }),
})).value;

describe('schema kit ≡ zod/mini', () => {
  for (const name of Object.keys(ours)) {
    it(`${name}: same result as zod/mini on generated input`, () => {
      fc.assert(
        fc.property(values, (value) => {
          expect(outcome(ours[name]!, value)).toEqual(outcome(theirs[name]!, value));
        }),
        { numRuns: 400 },
      );
    });
  }

  it('agrees on the inputs each shape is about (valid ones included)', () => {
    const cases: Array<[string, unknown]> = [
      ['healthTarget', { CustSpaceId: 'cs1', NodeType: 'template', WabaId: '1', TemplateCode: 't', Language: 'en' }],
      ['healthTarget', { CustSpaceId: 'cs1', NodeType: 'phone', WabaId: 'x' }],
      ['healthTarget', { NodeType: 'phone' }],
      ['healthTargetWhen', { NodeType: 'phone' }],
      ['healthTargetWhen', { CustSpaceId: 'cs1!', NodeType: 'template', WabaId: 'x' }],
      ['healthTargetWhen', { CustSpaceId: 'cs1', NodeType: 'nope' }],
      ['healthTargetWhen', 'not an object'],
      ['healthTarget', { CustSpaceId: 'cs1', NodeType: 'waba', WabaId: '1', Stray: 1 }],
      ['positiveInt', '0'],
      ['positiveInt', '12'],
      ['positiveInt', 'x'],
      ['reply', { Code: 'OK', List: [{ TemplateCode: 'a', LastUpdateTime: 1 }], Extra: { a: 1 }, Entities: [{ EntityType: 'WABA', CanSendMessage: 'BLOCKED', Errors: [{ ErrorCode: '1' }] }], More: 'kept' }],
      ['reply', { Code: 'OK', Extra: [], List: undefined }],
      ['text', '   '],
      ['text', ' abcdef '],
      ['text', ' abc '],
      ['list', []],
      ['list', ['a', 1, 'b']],
      ['list', ['a', 'b', 'c', 'd']],
      ['list', undefined],
      ['discover', { Discover: true }],
      ['discover', { Discover: 'true', NodeType: 'phone', X: 1 }],
      ['named', 'a<b'],
      ['pathRefine', { A: 'x' }],
      ['params', { WabaId: ' ', IsvCode: '' }],
      ['params', { WabaId: '12', Extra: 'x' }],
      ['pageSize', { PageSize: '0' }],
      ['pageSize', { PageSize: '20' }],
      ['pageSize', {}],
      ['bool', 'true'],
      ['bool', 'yes'],
      ['matchers', [null, 'x', { Name: 'a', Value: 'b' }, { Name: 'a' }, {}]],
      ['matchers', [{ Name: 'a', Value: 'b' }]],
      ['time', 'tomorrow'],
      ['time', '2030-13'],
      ['time', '2030-12'],
    ];
    for (const [name, value] of cases) expect(outcome(ours[name]!, value), `${name} ${JSON.stringify(value)}`).toEqual(outcome(theirs[name]!, value));
    // and the cases do reach both branches
    expect(cases.filter(([n, v]) => (outcome(ours[n]!, v) as { ok: boolean }).ok).length).toBeGreaterThan(5);
    expect(cases.filter(([n, v]) => !(outcome(ours[n]!, v) as { ok: boolean }).ok).length).toBeGreaterThan(10);
  });

  it('builds no code at run time and throws a SchemaError naming the path from parse()', () => {
    const s = kit.strictObject({ A: kit.string() });
    expect(() => s.parse({ A: 1 })).toThrow(/A: Invalid input/);
    expect(() => s.parse({ A: 'x' })).not.toThrow();
  });
});
