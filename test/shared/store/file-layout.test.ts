import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeKey, keyFile } from '../../../shared/store/file-layout.ts';

describe('file store layout', () => {
  it('encodeKey is injective on tricky keys and keeps prefixes as prefixes', () => {
    const keys = ['A', 'a', '%41', '%', 'a%', '~', 'a~', 'é', 'e\u0301', '.', '..', '/', '\\'];
    expect(new Set(keys.map(encodeKey)).size).toBe(keys.length);
    expect(encodeKey('node/waba/1').startsWith(encodeKey('node/waba/'))).toBe(true);
    expect(encodeKey('你好/1').startsWith(encodeKey('你'))).toBe(true);
  });

  it('keys live in buckets: their first two segments that are namespace words, else the root bucket', () => {
    const at = (bucket: string, rest: string) => join(`${encodeKey(bucket)}.d`, `${encodeKey(rest)}.json`);
    expect(keyFile('monitor/owed/WABA:1')).toBe(at('monitor/owed/', 'WABA:1'));
    expect(keyFile('monitor/round/r1/retry/x')).toBe(at('monitor/round/', 'r1/retry/x'));
    expect(keyFile('receipts/space-waba/C1')).toBe(at('receipts/space-waba/', 'C1'));
    // Ids are not words: every watch entry shares `watch/`, whatever its id holds.
    expect(keyFile('watch/template:C6818:tpl_0/en')).toBe(at('watch/', 'template:C6818:tpl_0/en'));
    expect(keyFile('watch/t1')).toBe(at('watch/', 't1'));
    expect(keyFile('history/C6818/fp')).toBe(at('history/', 'C6818/fp'));
    expect(keyFile('history/-/fp')).toBe(at('history/', '-/fp'));
    expect(keyFile('a/b/')).toBe(at('a/b/', ''));
    expect(keyFile('plain')).toBe(join('_root.d', 'plain.json'));
    expect(keyFile('Upper/x')).toBe(join('_root.d', `${encodeKey('Upper/x')}.json`));
    expect(keyFile(`${'w'.repeat(33)}/x`)).toBe(join('_root.d', `${encodeKey(`${'w'.repeat(33)}/x`)}.json`));
  });
});
