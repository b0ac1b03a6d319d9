import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { assertNoDynamicImport, IMPORT_META_URL_SHIM } from '../../scripts/bundle-output.ts';
import { builtinImportsAsRequire } from '../../scripts/esbuild-plugins.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A temp directory removed when this process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `cams-fc-bench-${prefix}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Bundles one entry the way scripts/build.ts bundles a function (esbuild, platform node, node20,
 * CommonJS, minified, everything inlined), so what is measured is what a function would ship.
 * Returns the output file and its size.
 */
export async function bundleCjs(entry: string, outFile: string, opts: { external?: string[] } = {}): Promise<{ file: string; bytes: number }> {
  const result = await build({
    ...(opts.external ? { external: opts.external } : {}),
    absWorkingDir: REPO_ROOT,
    entryPoints: [resolve(REPO_ROOT, entry)],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'error',
    // As scripts/build.ts does: CommonJS output has no import.meta.url of its own.
    banner: { js: IMPORT_META_URL_SHIM },
    define: { 'import.meta.url': '__import_meta_url' },
    metafile: true,
    plugins: [builtinImportsAsRequire()],
  });
  assertNoDynamicImport(entry, outFile, result.metafile, "which would load Node's ESM loader, as no function does");
  return { file: outFile, bytes: statSync(outFile).size };
}

export interface BuiltFunction {
  name: string;
  file: string;
  bytes: number;
}

export interface DistStatus {
  built: BuiltFunction[];
  /** Function names asked for whose bundle could not be found even after a build. */
  missing: string[];
  /** Whether this run had to (re)build dist/. */
  rebuilt: boolean;
}

/** Why dist/<fn> cannot be used as it is, or undefined when it is current. */
export function staleReason(fn: string, root = REPO_ROOT): string | undefined {
  const dir = join(root, 'dist', fn);
  const out = join(dir, 'index.js');
  if (!existsSync(out)) return 'not built';
  const metaFile = join(dir, 'meta.json');
  if (!existsSync(metaFile)) return 'no meta.json to check its inputs against';
  const builtAt = statSync(out).mtimeMs;
  let inputs: string[];
  try {
    inputs = Object.keys((JSON.parse(readFileSync(metaFile, 'utf8')) as { inputs: Record<string, unknown> }).inputs);
  } catch {
    return 'unreadable meta.json';
  }
  for (const input of inputs) {
    // Plugin-made modules (`namespace:path`, e.g. lazy-builtin:node:stream) have no file to date.
    if (/^[a-z][a-z-]+:/.test(input)) continue;
    const file = resolve(root, input);
    if (!existsSync(file)) return `input ${input} is gone`;
    if (statSync(file).mtimeMs > builtAt) return `${input} changed since the build`;
  }
  return undefined;
}

function runBuild(log: (line: string) => void): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn('npm', ['run', '--silent', 'build', '--', '--allow-missing'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (b: Buffer) => {
      output += b.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', fail);
    child.once('close', (code) => {
      for (const line of output.split('\n')) {
        if (line.trim() && !/^npm warn/i.test(line)) log(`  ${line}`);
      }
      if (code === 0) done();
      else fail(new Error(`npm run build exited ${code}`));
    });
  });
}

/**
 * dist/<fn>/index.js for each function, running `npm run build -- --allow-missing` first when one
 * of them is missing or older than any of its inputs (esbuild's metafile lists them). When the build
 * fails (say another function in serverless.yml does not compile right now), the benchmark goes on
 * with the bundles that are current and lists the others as missing, with the reason.
 */
export async function ensureBuilt(functions: readonly string[], log: (line: string) => void): Promise<DistStatus> {
  const reasons = functions.map((fn) => [fn, staleReason(fn)] as const).filter(([, r]) => r !== undefined);
  let rebuilt = false;
  let buildError: string | undefined;
  if (reasons.length > 0) {
    log(`building dist/ (${reasons.map(([fn, r]) => `${fn}: ${r}`).join('; ')})`);
    try {
      await runBuild(log);
      rebuilt = true;
    } catch (err) {
      buildError = (err as Error).message;
      log(`build failed (${buildError}); going on with the bundles that are current`);
    }
  }
  const built: BuiltFunction[] = [];
  const missing: string[] = [];
  for (const fn of functions) {
    const file = join(REPO_ROOT, 'dist', fn, 'index.js');
    const reason = staleReason(fn);
    // eager size: the loader index.js + main.js (the bundle); lazy/ files load on first use only
    const main = join(REPO_ROOT, 'dist', fn, 'main.js');
    if (reason === undefined) built.push({ name: fn, file, bytes: statSync(file).size + (existsSync(main) ? statSync(main).size : 0) });
    else missing.push(buildError ? `${fn} (${reason}; ${buildError})` : `${fn} (${reason})`);
  }
  return { built, missing, rebuilt };
}
