/** Small, dependency-free statistics for benchmark samples. Every helper ignores no value silently. */

function checked(samples: readonly number[], what: string): number[] {
  if (samples.length === 0) throw new RangeError(`${what} of no samples`);
  for (const v of samples) {
    if (!Number.isFinite(v)) throw new RangeError(`${what}: sample ${v} is not a finite number`);
  }
  return [...samples].sort((a, b) => a - b);
}

/** Quantile by linear interpolation between closest ranks (q in [0, 1]; 0.5 is the median). */
export function quantile(samples: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
  const s = checked(samples, 'quantile');
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/** Median: the middle sample, or the mean of the two middle ones. */
export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/** a / b; NaN when b is 0 or either side is not finite (a ratio with no meaning is not a number). */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return a / b;
}

/** What a process costs on top of the floor: median(process) − median(bare). */
export function overhead(processSamples: readonly number[], bareSamples: readonly number[]): number {
  return median(processSamples) - median(bareSamples);
}

/**
 * Overhead ratio of two variants measured against the same floor:
 * (median(ours) − median(bare)) / (median(theirs) − median(bare)).
 */
export function overheadRatio(ours: readonly number[], theirs: readonly number[], bare: readonly number[]): number {
  return ratio(overhead(ours, bare), overhead(theirs, bare));
}

/** Element-wise a[i] − b[i] of two equally long, paired series (alternating runs). */
export function pairedDifferences(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new RangeError(`paired series differ in length: ${a.length} vs ${b.length}`);
  return a.map((v, i) => v - b[i]!);
}

export interface Summary {
  n: number;
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
}

/** A summary with every value rounded (for JSON output). */
export function roundSummary(s: Summary, digits = 3): Summary {
  return { n: s.n, median: round(s.median, digits), p10: round(s.p10, digits), p90: round(s.p90, digits), min: round(s.min, digits), max: round(s.max, digits) };
}

export function summarize(samples: readonly number[]): Summary {
  const s = checked(samples, 'summary');
  return {
    n: s.length,
    median: quantile(s, 0.5),
    p10: quantile(s, 0.1),
    p90: quantile(s, 0.9),
    min: s[0]!,
    max: s[s.length - 1]!,
  };
}

/** Rounds for display and JSON: keeps `digits` decimals, no trailing float noise. */
export function round(v: number, digits = 2): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
