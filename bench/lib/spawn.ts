import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** One whole fresh process: wall time from spawn to exit, and its peak resident memory. */
export interface ProcessSample {
  wallMs: number;
  maxRssKb: number;
  /**
   * Points the child reported itself, in ms since its own start (`process.uptime()`), on one stderr
   * line `__BENCH_MARKS name=ms,name=ms` just before it exits (e.g. loaded, replied).
   */
  marks: Record<string, number>;
}

export interface NodeRun {
  /** Arguments after `node` (e.g. `['-e', '0']` or `[script, arg]`). */
  args: string[];
  /** The child's whole environment besides PATH: nothing of this process leaks in (no NODE_OPTIONS, no tsx loader). */
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

const GNU_TIME = '/usr/bin/time';
const RSS_MARK = '__BENCH_MAXRSS_KB=';
const MARKS = '__BENCH_MARKS ';

export function parseMarks(stderr: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.startsWith(MARKS));
  if (!line) return {};
  const out: Record<string, number> = {};
  for (const part of line.slice(MARKS.length).trim().split(',')) {
    const [k, v] = part.split('=');
    if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
  }
  return out;
}

/**
 * How peak memory is read: GNU time's "Maximum resident set size" (the kernel's ru_maxrss of the
 * child, in KB) when /usr/bin/time exists; otherwise a `--require`d preload that prints
 * `process.resourceUsage().maxRSS` (also KB) at exit. Either way every variant pays the same wrapper.
 * BENCH_MEMORY=resourceUsage forces the second way.
 */
export const memorySource: 'gnu-time' | 'resourceUsage' =
  process.env['BENCH_MEMORY'] !== 'resourceUsage' && existsSync(GNU_TIME) ? 'gnu-time' : 'resourceUsage';

let scratch: string | undefined;
let counter = 0;
function scratchDir(): string {
  if (!scratch) {
    scratch = mkdtempSync(join(tmpdir(), 'cams-fc-bench-spawn-'));
    process.once('exit', removeScratch);
  }
  return scratch;
}

/** Removes timedNode's scratch folder; at exit, or earlier (a test worker may end without an 'exit'). */
export function removeScratch(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

function rssPreload(): string {
  const file = join(scratchDir(), 'report-rss.cjs');
  if (!existsSync(file)) {
    writeFileSync(file, `process.on('exit',()=>{process.stderr.write('\\n${RSS_MARK}'+process.resourceUsage().maxRSS+'\\n')});\n`);
  }
  return file;
}

export function parseGnuTimeMaxRss(report: string): number {
  const m = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(report);
  if (!m) throw new Error(`no "Maximum resident set size" in /usr/bin/time output:\n${report.slice(0, 500)}`);
  return Number(m[1]);
}

/** Runs `node <args>` once in a fresh process and measures it. Throws when it does not exit 0. */
export function timedNode(run: NodeRun): Promise<ProcessSample> {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...run.env };
  let command: string;
  let args: string[];
  let timeFile: string | undefined;
  if (memorySource === 'gnu-time') {
    timeFile = join(scratchDir(), `time-${process.pid}-${++counter}.txt`);
    command = GNU_TIME;
    args = ['-v', '-o', timeFile, process.execPath, ...run.args];
  } else {
    command = process.execPath;
    args = ['--require', rssPreload(), ...run.args];
  }

  return new Promise<ProcessSample>((resolve, reject) => {
    let stderr = '';
    let wallMs = NaN;
    const started = performance.now();
    const child = spawn(command, args, { env, cwd: run.cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    const timer = setTimeout(() => {
      try {
        // The group: GNU time and the node it runs.
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, run.timeoutMs ?? 30_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      stderr = (stderr + s).slice(-8192);
    });
    child.once('exit', () => {
      wallMs = performance.now() - started;
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const report = timeFile && existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
      if (timeFile) rmSync(timeFile, { force: true });
      const childStatus = /Exit status:\s*(\d+)/.exec(report)?.[1];
      if (code !== 0 || signal) {
        const what = signal ? `was killed (${signal})` : `exited ${childStatus ?? code}`;
        reject(new Error(`node ${run.args.join(' ').slice(0, 200)} ${what}:\n${stderr.trim() || '(no stderr)'}`));
        return;
      }
      try {
        let maxRssKb: number;
        if (timeFile) {
          maxRssKb = parseGnuTimeMaxRss(report);
        } else {
          const line = stderr.split('\n').find((l) => l.startsWith(RSS_MARK));
          if (!line) throw new Error(`the child did not report its maxRSS:\n${stderr}`);
          maxRssKb = Number(line.slice(RSS_MARK.length));
        }
        resolve({ wallMs, maxRssKb, marks: parseMarks(stderr) });
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}

export interface Variant {
  name: string;
  /** One fresh process; prepares its own fresh input (nonce, date) each time. */
  run(): Promise<ProcessSample>;
}

export interface AlternateOptions {
  rounds: number;
  /** Whole rounds run first and thrown away (page cache, CPU frequency, the sandbox's own JIT). */
  warmupRounds?: number;
  log?: (line: string) => void;
}

/**
 * The order of round `round` of `n` variants: a shuffle seeded by the round, so runs repeat. A
 * rotation would keep every variant right after the same neighbour (say the SDK always after ours,
 * in a page cache and CPU state ours left); shuffled, each follows different ones.
 */
export function roundOrder(n: number, round: number): number[] {
  // mulberry32
  let a = (round + 0x9e3779b9) >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * Runs every variant once per round, one after the other, so slow drift of the machine hits all of
 * them alike, in an order shuffled each round (roundOrder): no variant always runs first, or always
 * right after the same one.
 */
export async function alternate(variants: readonly Variant[], opts: AlternateOptions): Promise<Record<string, ProcessSample[]>> {
  const out: Record<string, ProcessSample[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
  const warmup = opts.warmupRounds ?? 1;
  for (let r = -warmup; r < opts.rounds; r += 1) {
    const order = roundOrder(variants.length, r).map((i) => variants[i]!);
    for (const v of order) {
      const sample = await v.run();
      if (r >= 0) out[v.name]!.push(sample);
    }
    if (r >= 0 && opts.log && ((r + 1) % 5 === 0 || r + 1 === opts.rounds)) opts.log(`  round ${r + 1}/${opts.rounds}`);
  }
  return out;
}

/** Median over samples of a quantity derived from each sample's marks (NaN when none reported it). */
export function markSpan(samples: readonly ProcessSample[], from: string | undefined, to: string): number[] {
  return samples
    .map((s) => (s.marks[to] ?? NaN) - (from === undefined ? 0 : (s.marks[from] ?? NaN)))
    .filter((v) => Number.isFinite(v));
}
