import { describe, expect, it } from 'vitest';
import { bucketOf, bucketsHolding, isFixedBucket } from '../../../shared/store/buckets.ts';

describe('buckets', () => {
  it('a key is in the bucket of its leading namespace words, at most two', () => {
    expect(bucketOf('monitor/owed/WABA:1')).toBe('monitor/owed/');
    expect(bucketOf('watch/template:C1:t/en')).toBe('watch/');
    expect(bucketOf('acs3-nonce/abc')).toBe(''); // a digit: not a word
    expect(bucketOf('plain')).toBe('');
    expect(isFixedBucket('monitor/owed/')).toBe(true);
    expect(isFixedBucket('watch/')).toBe(false);
  });

  it('bucketsHolding names every bucket that holds a key with the prefix (checked against every key and prefix of a sample)', () => {
    const parts = ['a', 'ab', 'a-b', 'A', '1', 'x:y', ''];
    const keys = new Set<string>();
    for (const p of parts) for (const q of parts) for (const r of parts) {
      const k = [p, q, r].join('/');
      if (k.length > 0) keys.add(k);
      if (p.length > 0) keys.add(p);
      keys.add(`${p}/${q}`);
    }
    const known = new Set([...keys].map(bucketOf));
    let checked = 0;
    for (const key of keys) {
      for (let end = 0; end <= key.length; end += 1) {
        const prefix = key.slice(0, end);
        const holding = bucketsHolding(prefix, known);
        expect(holding, `prefix ${JSON.stringify(prefix)} of ${JSON.stringify(key)}`).toContain(bucketOf(key));
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(1_000);
    // and no more than it must: a fixed bucket is alone, and '' is left out where no key can be in it
    expect(bucketsHolding('monitor/owed/x', known)).toEqual(['monitor/owed/']);
    expect(bucketsHolding('a/', ['', 'a/', 'a/ab/', 'ab/'])).toEqual(['a/', 'a/ab/']);
    expect(bucketsHolding('a', ['', 'a/', 'ab/', 'b/'])).toEqual(['', 'a/', 'ab/']);
  });
});
