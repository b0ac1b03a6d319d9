import { cpus } from 'node:os';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './bundle.ts';
import { memorySource } from './spawn.ts';
import type { BenchResult } from './types.ts';

/** bench/results/ is ignored by git (bench/results/.gitignore): results are per machine. */
export const RESULTS_FILE = join(REPO_ROOT, 'bench', 'results', 'latest.json');

export interface ResultsFile {
  updatedAt: string;
  machine: { node: string; platform: string; arch: string; cpus: number; cpuModel: string; memorySource: string };
  /** Latest result per benchmark; running one benchmark replaces only its own entry. */
  results: Record<string, BenchResult>;
}

export function machineInfo(): ResultsFile['machine'] {
  const c = cpus();
  return { node: process.version, platform: process.platform, arch: process.arch, cpus: c.length, cpuModel: c[0]?.model ?? 'unknown', memorySource };
}

export function writeResults(results: BenchResult[], file = RESULTS_FILE): ResultsFile {
  let previous: ResultsFile['results'] = {};
  if (existsSync(file)) {
    try {
      previous = (JSON.parse(readFileSync(file, 'utf8')) as ResultsFile).results ?? {};
    } catch {
      previous = {};
    }
  }
  const out: ResultsFile = {
    updatedAt: new Date().toISOString(),
    machine: machineInfo(),
    results: { ...previous, ...Object.fromEntries(results.map((r) => [r.name, r])) },
  };
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(out, null, 2) + '\n');
  renameSync(tmp, file);
  return out;
}
