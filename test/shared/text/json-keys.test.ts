/**
 * The repeated-key scan on the JSON texts a hostile or odd client sends (the routes' refusal by path
 * is in test/shared/http-fn/input.test.ts, a queued onboarding's in test/shared/onboarding/event.test.ts): escapes that end or do not end a string, keys spelled two ways, nesting
 * deeper than a recursive walk survives, and a body at MAX_BODY_BYTES.
 */
import { describe, expect, it } from 'vitest';
import { repeatedJsonKey, repeatedJsonKeys } from '../../../shared/text/json-keys.ts';

describe('repeatedJsonKey', () => {
  it('a string ends at the first quote after an even run of backslashes, however long', () => {
    expect(repeatedJsonKey('{"a\\\\":1,"a\\\\":2}')).toBe('a\\');
    expect(repeatedJsonKey('{"a":"\\\\","a":1}')).toBe('a');
    expect(repeatedJsonKey('{"a":"\\\\\\"a\\":1,","b":1}')).toBeUndefined();
    // Many escaped quotes each after a long run: still one pass.
    const value = `${'\\\\'.repeat(1000)}\\"`.repeat(50);
    expect(repeatedJsonKey(`{"k":"${value}","k":1}`)).toBe('k');
  });

  it('keys are compared as decoded: \\u escapes in any case, lone surrogates, the empty key', () => {
    expect(repeatedJsonKey('{"\\u0041":1,"A":2}')).toBe('A');
    expect(repeatedJsonKey('{"\\ud800":1,"\\uD800":2}')).toBe('\ud800');
    expect(repeatedJsonKey('{"\\ud800":1,"\\udc00":2}')).toBeUndefined();
    expect(repeatedJsonKey('{"":1,"":2}')).toBe('');
  });

  it('only keys of one object count: not values, not sibling objects, not an object after an empty one', () => {
    expect(repeatedJsonKey('{"a":"a","b":{"a":1},"c":[{"a":1},{"a":2}]}')).toBeUndefined();
    expect(repeatedJsonKey('{"a":{},"b":[{}],"c":{"d":[]},"a":1}')).toBe('a');
    expect(repeatedJsonKey(' { "x" : [ 1 , { "y" : 1 , "y" : 2 } ] } ')).toBe('x.1.y');
  });

  it('nesting 100,000 deep and a 256 KiB object of 12,000 keys are scanned without recursion, in one pass', () => {
    const deep = `${'{"a":['.repeat(50_000)}{"b":1,"b":2}${']}'.repeat(50_000)}`;
    expect(repeatedJsonKey(deep)).toBe(`${'a.0.'.repeat(50_000)}b`);
    const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 12_000 }, (_, i) => [`k${i}`, 'v'.repeat(10)])));
    expect(wide.length).toBeGreaterThan(250_000);
    const started = performance.now();
    expect(repeatedJsonKey(wide)).toBeUndefined();
    expect(repeatedJsonKey(`${wide.slice(0, -1)},"k11999":0}`)).toBe('k11999');
    // ~10 ms here; a quadratic scan would take seconds.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('repeatedJsonKeys', () => {
  it('every repeat in text order, with the first segment of its path, and the path when asked for', () => {
    const repeats = [...repeatedJsonKeys('[{"a":1,"a":2,"a":3},{"b":{"c":1,"c":2}}]')].map((r) => r.first);
    expect(repeats).toEqual(['0', '0', '1']);
    const paths: string[] = [];
    for (const r of repeatedJsonKeys('{"x":1,"x":2,"y":{"z":[{"w":1,"w":2}]}}')) paths.push(r.path().join('.'));
    expect(paths).toEqual(['x', 'y.z.0.w']);
  });
});
