import { describe, expect, it } from 'vitest';
import { median, overhead, overheadRatio, pairedDifferences, quantile, ratio, round, summarize } from '../../bench/lib/stats.ts';
import { markSpan, parseGnuTimeMaxRss, parseMarks } from '../../bench/lib/spawn.ts';
import { goal } from '../../bench/lib/types.ts';
import { parseCliArgs, select } from '../../bench/run.ts';

describe('bench stats', () => {
  it('median of odd and even counts, unsorted input, input left as it was', () => {
    const xs = [5, 1, 3];
    expect(median(xs)).toBe(3);
    expect(xs).toEqual([5, 1, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('quantiles interpolate between ranks', () => {
    const xs = [10, 20, 30, 40, 50];
    expect(quantile(xs, 0)).toBe(10);
    expect(quantile(xs, 1)).toBe(50);
    expect(quantile(xs, 0.1)).toBeCloseTo(14);
    expect(quantile(xs, 0.9)).toBeCloseTo(46);
    expect(() => quantile(xs, 1.5)).toThrow(RangeError);
  });

  it('refuses empty or non-finite samples rather than reporting a number', () => {
    expect(() => median([])).toThrow(RangeError);
    expect(() => median([1, NaN])).toThrow(RangeError);
    expect(() => summarize([Infinity])).toThrow(RangeError);
  });

  it('ratio is NaN when it has no meaning', () => {
    expect(ratio(1, 4)).toBe(0.25);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(NaN, 2)).toBeNaN();
  });

  it('overhead and overhead ratio subtract the bare floor by medians', () => {
    const bare = [30, 31, 29];
    const ours = [40, 42, 41];
    const theirs = [80, 81, 79];
    expect(overhead(ours, bare)).toBe(11);
    expect(overhead(theirs, bare)).toBe(50);
    expect(overheadRatio(ours, theirs, bare)).toBeCloseTo(0.22);
    // A "theirs" no slower than bare gives no ratio at all.
    expect(overheadRatio(ours, bare, bare)).toBeNaN();
  });

  it('paired differences need paired series', () => {
    expect(pairedDifferences([3, 5], [1, 1])).toEqual([2, 4]);
    expect(() => pairedDifferences([1], [1, 2])).toThrow(RangeError);
  });

  it('summary and rounding', () => {
    expect(summarize([3, 1, 2])).toEqual({ n: 3, median: 2, p10: 1.2, p90: 2.8, min: 1, max: 3 });
    expect(round(0.1 + 0.2, 2)).toBe(0.3);
    expect(round(NaN)).toBeNaN();
  });

  it('goals pass at or under the limit, never on NaN', () => {
    expect(goal('x', 0.2, 0.2, 'x').pass).toBe(true);
    expect(goal('x', 0.21, 0.2, 'x').pass).toBe(false);
    expect(goal('x', NaN, 0.2, 'x').pass).toBe(false);
  });
});

describe('bench child reports', () => {
  it('reads GNU time -v peak memory', () => {
    const report = '\tCommand being timed: "node -e 0"\n\tMaximum resident set size (kbytes): 38400\n\tExit status: 0\n';
    expect(parseGnuTimeMaxRss(report)).toBe(38400);
    expect(() => parseGnuTimeMaxRss('nothing')).toThrow(/Maximum resident set size/);
  });

  it('reads the marks line among other stderr output', () => {
    const marks = parseMarks('warning: x\n__BENCH_MARKS start=12.5,loaded=20,replied=31.25\n');
    expect(marks).toEqual({ start: 12.5, loaded: 20, replied: 31.25 });
    expect(parseMarks('no marks')).toEqual({});
    const samples = [
      { wallMs: 1, maxRssKb: 1, marks },
      { wallMs: 1, maxRssKb: 1, marks: {} },
    ];
    expect(markSpan(samples, 'loaded', 'replied')).toEqual([11.25]);
    expect(markSpan(samples, undefined, 'start')).toEqual([12.5]);
  });
});

describe('bench CLI', () => {
  it('parses names and options', () => {
    expect(parseCliArgs(['client-cold-start', '--runs', '3', '--no-write'])).toEqual({ names: ['client-cold-start'], runs: 3, list: false, write: false, help: false });
    expect(parseCliArgs(['--runs=5']).runs).toBe(5);
    expect(() => parseCliArgs(['--runs', '0'])).toThrow(/positive integer/);
    expect(() => parseCliArgs(['--fast'])).toThrow(/unknown option/);
  });

  it('selects registered benchmarks in registry order and names unknown ones', () => {
    expect(select([]).map((b) => b.name)).toEqual(['client-cold-start', 'function-cold-start', 'http-client', 'middleware-overhead', 'monitor-scale', 'monitor-sweep', 'onboarding-throughput', 'watch-list', 'redis-list', 'status-page', 'receipt-latency', 'cams-budget']);
    expect(select(['middleware-overhead', 'client-cold-start']).map((b) => b.name)).toEqual(['client-cold-start', 'middleware-overhead']);
    expect(() => select(['nope'])).toThrow(/unknown benchmark nope; known: client-cold-start/);
  });
});
