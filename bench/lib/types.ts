/**
 * What a benchmark is and what it hands back. To add one: write `bench/<name>.ts` exporting a
 * `Benchmark`, and list it in `bench/run.ts`. Benchmarks never fail on a timing: they report values
 * against goals (PASS/MISS) and throw only when the thing measured did not work (a call failed).
 */

export interface RunOptions {
  /** Override of the benchmark's own number of measured rounds / iterations (`--runs N`). */
  runs?: number;
  /** Progress lines (stderr); results are printed by the runner. */
  log: (line: string) => void;
}

export interface Benchmark {
  name: string;
  /** One line: what is measured against what. */
  description: string;
  /** Issue / area the benchmark belongs to (shown in the table header). */
  issue?: string;
  run(opts: RunOptions): Promise<BenchResult>;
}

/** A value checked against an upper bound: `value <= limit` passes. */
export interface Goal {
  label: string;
  value: number;
  limit: number;
  /** Unit for display: 'ms', 'MB', 'KB', 'x' (ratio). */
  unit: string;
  pass: boolean;
  /** Why the value is what it is, when that needs saying (e.g. a MISS analysis). */
  note?: string;
  /** Decimals to show value and limit with (default: the table's, 2 below 100); for ratios near their limit. */
  digits?: number;
}

export interface Table {
  title?: string;
  columns: string[];
  rows: (string | number)[][];
}

export interface BenchResult {
  name: string;
  description: string;
  /** ISO time the benchmark started. */
  startedAt: string;
  durationMs: number;
  tables: Table[];
  goals: Goal[];
  notes: string[];
  /** Machine-readable summary (medians etc.) kept in latest.json. */
  data: Record<string, unknown>;
}

export function goal(label: string, value: number, limit: number, unit: string, note?: string, digits?: number): Goal {
  return { label, value, limit, unit, pass: Number.isFinite(value) && value <= limit, ...(note ? { note } : {}), ...(digits !== undefined ? { digits } : {}) };
}
