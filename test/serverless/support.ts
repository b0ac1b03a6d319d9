// Helpers for the packaging tests (not a test file itself).
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const TSX = join(REPO, 'node_modules', '.bin', 'tsx');

/** Reads a ZIP (stored or deflated entries, no ZIP64) into name -> bytes, checking each CRC. */
export function readZip(zip: Buffer, crc: (b: Buffer) => number): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip: no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i += 1) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = zip.readUInt16LE(p + 10);
    const expectedCrc = zip.readUInt32LE(p + 16);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const body = zip.subarray(start, start + compressed);
    const data = method === 8 ? inflateRawSync(body) : method === 0 ? Buffer.from(body) : null;
    if (!data) throw new Error(`unsupported compression ${method} for ${name}`);
    if (data.length !== size) throw new Error(`size mismatch for ${name}`);
    if (crc(data) !== expectedCrc) throw new Error(`CRC mismatch for ${name}`);
    out.set(name, data);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/**
 * A throwaway service directory holding copies of this repository's serverless.yml, plugin,
 * dummy credentials and package.json (the plugin is ESM by "type": "module"), with node_modules
 * and shared/ linked. Packaging there leaves the repository's own .serverless/ and dist/ alone.
 */
export function makeServiceDir(prefix = 'cams-fc-pkg-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(join(REPO, 'serverless.yml'), join(dir, 'serverless.yml'));
  cpSync(join(REPO, 'serverless'), join(dir, 'serverless'), { recursive: true });
  cpSync(join(REPO, 'ci'), join(dir, 'ci'), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // the plugin's deploy checks read the functions' settings with the functions' own readers
  symlinkSync(join(REPO, 'shared'), join(dir, 'shared'), 'dir');
  return dir;
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

export interface RunResult {
  code: number;
  output: string;
  /** stderr alone (also in `output`). */
  stderr: string;
}

/** Runs a command, capturing stdout+stderr together, and stderr alone. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
      stderr += d.toString();
    });
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? 1, output, stderr }));
  });
}

/** Fake bundles for tests that exercise serverless.yml validation, not the real functions. */
export function writeFakeDist(dir: string, names: string[]): void {
  for (const name of names) {
    const d = join(dir, 'dist', name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'index.js'), `exports.handler = async () => ${JSON.stringify(name)};\n`);
  }
}
