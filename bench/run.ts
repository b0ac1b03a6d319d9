/**
 * `npm run bench` — every benchmark; `npm run bench -- <name> [<name>...]` — only those.
 *   --list        names and descriptions
 *   --runs N      override each benchmark's number of rounds / iterations (quick checks: --runs 3)
 *   --no-write    do not update bench/results/latest.json
 *
 * Benchmarks compare against a baseline run side by side and print PASS/MISS against each goal;
 * a MISS does not fail the run. The exit code is non-zero only when a benchmark could not run
 * (a build failed, a measured call did not succeed). Results: a table on stdout, progress on
 * stderr, and bench/results/latest.json (per machine, ignored by git).
 *
 * Adding a benchmark: write bench/<name>.ts exporting a `Benchmark` (lib/types.ts) and add it to
 * BENCHMARKS below. Spawn timing, alternation, stats, bundling, sandbox and table helpers are in lib/.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { camsBudget } from './cams-budget.ts';
import { clientColdStart } from './client-cold-start.ts';
import { functionColdStart } from './function-cold-start.ts';
import { httpClient } from './http-client.ts';
import { middlewareOverhead } from './middleware-overhead.ts';
import { monitorScale } from './monitor-scale.ts';
import { monitorSweep } from './monitor-sweep.ts';
import { onboardingThroughput } from './onboarding-throughput.ts';
import { watchList } from './watch-list.ts';
import { statusPage } from './status-page.ts';
import { receiptLatency } from './receipt-latency.ts';
import { redisList } from './redis-list.ts';
import { RESULTS_FILE, writeResults } from './lib/results.ts';
import { formatGoal, renderResult } from './lib/table.ts';
import type { Benchmark, BenchResult } from './lib/types.ts';

/** The registry: run in this order by `npm run bench`. */
export const BENCHMARKS: readonly Benchmark[] = [clientColdStart, functionColdStart, httpClient, middlewareOverhead, monitorScale, monitorSweep, onboardingThroughput, watchList, redisList, statusPage, receiptLatency, camsBudget];

export interface CliArgs {
  names: string[];
  runs?: number;
  list: boolean;
  write: boolean;
  help: boolean;
}

export function parseCliArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = { names: [], list: false, write: true, help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    if (a === '--list') out.list = true;
    else if (a === '--no-write') out.write = false;
    else if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--runs' || a.startsWith('--runs=')) {
      const raw = a === '--runs' ? argv[++i] : a.slice('--runs='.length);
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--runs needs a positive integer, got ${raw ?? '(nothing)'}`);
      out.runs = n;
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a} (use --list, --runs N, --no-write)`);
    else out.names.push(a);
  }
  return out;
}

/** The benchmarks named, in registry order; all of them when none is named. */
export function select(names: readonly string[], registry: readonly Benchmark[] = BENCHMARKS): Benchmark[] {
  if (names.length === 0) return [...registry];
  const unknown = names.filter((n) => !registry.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${registry.map((b) => b.name).join(', ')}`);
  return registry.filter((b) => names.includes(b.name));
}

async function main(): Promise<number> {
  let args: CliArgs;
  let chosen: Benchmark[];
  try {
    args = parseCliArgs(process.argv.slice(2));
    chosen = select(args.names);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  if (args.help) {
    console.log('usage: npm run bench [-- <name>... ] [--runs N] [--no-write] [--list]');
    return 0;
  }
  if (args.list) {
    for (const b of BENCHMARKS) console.log(`${b.name.padEnd(22)} ${b.issue ? `[${b.issue}] ` : ''}${b.description}`);
    return 0;
  }

  const log = (line: string) => process.stderr.write(`${line}\n`);
  const results: BenchResult[] = [];
  const failed: string[] = [];
  for (const b of chosen) {
    log(`-- ${b.name}${b.issue ? ` [${b.issue}]` : ''}`);
    try {
      const result = await b.run({ log: (l) => log(`   ${l}`), ...(args.runs ? { runs: args.runs } : {}) });
      results.push(result);
      process.stdout.write(`\n${renderResult(result)}`);
    } catch (err) {
      failed.push(b.name);
      log(`!! ${b.name} could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }

  if (results.length > 0) {
    const goals = results.flatMap((r) => r.goals.map((g) => ({ name: r.name, g })));
    process.stdout.write('\n== goals\n');
    for (const { name, g } of goals) process.stdout.write(`[${name}] ${formatGoal(g)}\n`);
    const missed = goals.filter(({ g }) => !g.pass).length;
    process.stdout.write(`${goals.length - missed} PASS, ${missed} MISS (a MISS is reported, not failed)\n`);
    if (args.write) {
      writeResults(results);
      process.stdout.write(`results: ${RESULTS_FILE}\n`);
    }
  }
  if (failed.length > 0) {
    log(`benchmark(s) that could not run: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // Explicit exit: bundles loaded in-process keep keep-alive sockets and timers of their own.
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
